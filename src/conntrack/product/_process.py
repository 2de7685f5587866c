"""Starting and stopping the product under test: one process group, a log, a tail.

The harness runs the product file's ``start.command`` once per scenario. The product is
someone else's program, so this module assumes nothing of it:

- it runs in a **process group of its own** (``start_new_session=True``), so stopping it
  stops whatever it started too (a reloader, workers, a shell's children): ``SIGTERM`` to
  the group, ``stop_timeout`` to finish, then ``SIGKILL`` to whatever is left;
- its stdout and stderr go to **one log file** (in the run's data folder), whose last
  lines are shown when it fails to start;
- it is **ready** when its ready URL answers anything below 500 (a 404 is a server that
  is up); :meth:`ProductProcess.wait_ready` polls it with httpx (which runs under trio)
  and fails fast, with its exit status and log tail, if the process exits first.

A product that does not start is the user's problem to fix, not a scenario's failure:
:class:`ProductStartError` is an :class:`~conntrack.InputError` (the CLI exits 2).

Always stopped: use it as a context manager, ``with ProductProcess(...) as product:`` or
``async with`` (whose exit waits without blocking trio and is shielded from
cancellation, so Ctrl-C still stops the product). :meth:`~ProductProcess.stop` is
idempotent. The harness writes ``async with ProductProcess.from_file(file, env=env):``,
which starts the product file's command with its placeholders filled, returns once it is
ready, and stops it on the way out (also when it never became ready). A ``SIGTERM`` to
conntrack stops it too: the harness runs inside :func:`until_sigterm`, which turns the
signal into a cancellation (so every ``finally`` runs), then :class:`Terminated`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

import httpx
import trio

from .._exceptions import InputError
from ._interface import ProductError

if TYPE_CHECKING:
    from ._file import ProductFile

T = TypeVar("T")

LOG_NAME = "product.log"
"""The product's log, in its data folder unless the harness says otherwise."""
TAIL_LINES = 30
"""How many lines of the product's log a start failure shows."""
_TAIL_BYTES = 64_000
_POLL = 0.05
"""Seconds between two polls of the ready URL (and of a stopping process)."""


class ProductStartError(InputError):
    """The product did not start: the command could not run, it exited before it was
    ready, or it did not answer its ready URL in time. The message has its exit status
    (when it exited) and the tail of its log."""

    def __init__(self, message: str, *, status: int | None = None, log_tail: str = "") -> None:
        self.status = status
        self.log_tail = log_tail
        super().__init__(message)


def describe_status(code: int) -> str:
    """``exited with status 3`` or ``was killed by signal SIGKILL``."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"was killed by signal {name}"
    return f"exited with status {code}"


class ProductProcess:
    """The product's process (see the module docstring).

    ``command`` runs in ``cwd`` with ``os.environ`` plus ``env``; its output goes to
    ``log`` (created, with its folder). ``stop_timeout`` is how long a ``SIGTERM`` has
    before the ``SIGKILL``. With a ``ready_url``, ``async with`` also waits until it is
    ready (``ready_timeout`` seconds), stopping it if it is not; :meth:`from_file` makes
    one from a product file. ``where`` (``file:line`` of the command in the product
    file) starts the message of a command that cannot run.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        log: str | os.PathLike[str],
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        stop_timeout: float = 5.0,
        ready_url: str | None = None,
        ready_timeout: float = 30.0,
        where: str = "",
    ) -> None:
        if not command:
            raise ValueError("a product command needs at least the program")
        self.command = [str(part) for part in command]
        self.cwd = Path(cwd) if cwd is not None else None
        self.env = dict(env or {})
        self.log = Path(log)
        self.stop_timeout = stop_timeout
        self.ready_url = ready_url
        self.ready_timeout = ready_timeout
        self.where = where
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._stopped = False

    @classmethod
    def from_file(
        cls,
        file: ProductFile,
        *,
        env: Mapping[str, str],
        port: int | None = None,
        log: str | os.PathLike[str] | None = None,
    ) -> ProductProcess:
        """The product of ``file``, started with ``env`` (the harness's ``CONNTRACK_*``
        variables) plus the file's own ``start.env``. The file's placeholders are filled
        from ``env``: ``{port}`` from ``CONNTRACK_PRODUCT_PORT`` (or ``port``),
        ``{data}`` from ``CONNTRACK_DATA_DIR``, ``{fakes}`` from ``CONNTRACK_FAKES_URL``,
        ``{smtp_port}`` from ``CONNTRACK_SMTP_PORT``; ``{python}`` is this interpreter.
        The log is ``log``, by default ``product.log`` in the data folder."""
        values = {
            "port": port if port is not None else env.get("CONNTRACK_PRODUCT_PORT", ""),
            "data": env.get("CONNTRACK_DATA_DIR", ""),
            "fakes": env.get("CONNTRACK_FAKES_URL", ""),
            "smtp_port": env.get("CONNTRACK_SMTP_PORT", ""),
        }
        missing = [k for k, v in values.items() if v == ""]
        if missing:
            raise ValueError(f"from_file needs the CONNTRACK_* values of {', '.join(missing)}")
        values["python"] = sys.executable
        if log is None:
            log = Path(str(values["data"])) / LOG_NAME
        return cls(
            file.command(**values),
            log=log,
            cwd=file.start.cwd,
            env={**env, **file.env(**values)},
            stop_timeout=file.start.stop_timeout.total_seconds(),
            ready_url=file.ready_url(**values),
            ready_timeout=file.start.ready_timeout.total_seconds(),
            where=file.start.where,
        )

    # -- starting ----------------------------------------------------------------------

    def start(self) -> ProductProcess:
        """Start the command (once); :class:`ProductStartError` if it cannot run."""
        if self._popen is not None or self._stopped:
            return self
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log, "wb")  # noqa: SIM115 - closed by stop()
        try:
            self._popen = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as e:
            self._close_log()
            self._stopped = True
            where = f" in {self.cwd}" if self.cwd is not None else ""
            raise ProductStartError(
                (f"{self.where}: " if self.where else "")
                + f"cannot start the product: {_shell(self.command)}{where}: "
                f"{e.strerror or e}; check 'start: command' (and 'cwd') in the product file"
            ) from None
        return self

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def returncode(self) -> int | None:
        """Its exit status once it exited (negative: killed by that signal), else
        ``None``."""
        return self._popen.poll() if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines of the product's log (``""`` if none)."""
        try:
            with open(self.log, "rb") as stream:
                stream.seek(0, os.SEEK_END)
                size = stream.tell()
                stream.seek(max(0, size - _TAIL_BYTES))
                data = stream.read()
        except OSError:
            return ""
        text = data.decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def _failure(self, what: str) -> ProductStartError:
        code = self.returncode
        tail = self.log_tail()
        parts = [f"the product ({_shell(self.command)}) {what}"]
        count = len(tail.splitlines())
        if not tail:
            parts.append(f"its log ({self.log}) is empty")
        elif count < TAIL_LINES:
            parts.append(f"its log ({self.log}):")
        else:
            parts.append(f"its log ({self.log}), last {TAIL_LINES} lines:")
        if tail:
            parts.append("\n".join(f"  | {line}" for line in tail.splitlines()))
        return ProductStartError("\n".join(parts), status=code, log_tail=tail)

    async def wait_ready(
        self, url: str, timeout: float, *, verify: Any = True, request_timeout: float = 2.0
    ) -> None:
        """Poll ``url`` until it answers below 500; :class:`ProductStartError` if the
        process exits first (with its status and log tail) or after ``timeout`` seconds
        (``did not answer {url} within {timeout}``)."""
        if self._popen is None:
            self.start()
        deadline = trio.current_time() + timeout
        last = "no answer yet"
        async with httpx.AsyncClient(trust_env=False, verify=verify) as client:
            while True:
                code = self.returncode
                if code is not None:
                    raise self._failure(f"{describe_status(code)} before it was ready")
                left = deadline - trio.current_time()
                if left <= 0:
                    break
                try:
                    answer = await client.get(url, timeout=max(0.1, min(request_timeout, left)))
                except httpx.HTTPError as e:
                    last = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                else:
                    if answer.status_code < 500:
                        return
                    last = f"HTTP {answer.status_code}"
                await trio.sleep(min(_POLL, max(0.0, deadline - trio.current_time())))
        code = self.returncode
        if code is not None:
            raise self._failure(f"{describe_status(code)} before it was ready")
        raise self._failure(
            f"did not answer {url} within {timeout:g}s (last: {last}); it is still "
            "running and will be stopped. Check 'start: ready' in the product file (url, "
            "timeout)"
        )

    async def explain(self, error: ProductError) -> ProductError:
        """``error``, saying also that the product exited (its status and the tail of its
        log) when it did: "could not reach the product" alone leaves the user to guess
        that it crashed. A crash is seen a moment after its socket closes, hence the
        wait."""
        with trio.move_on_after(0.3):
            while self.returncode is None:
                await trio.sleep(0.02)
        code = self.returncode
        if code is None:
            return self._still_running(error)
        tail = self.log_tail(10)
        lines = [str(error).split("\n")[0], f"the product {describe_status(code)} during the run"]
        lines.append(
            "the end of its log:\n" + "\n".join(f"  | {line}" for line in tail.splitlines())
            if tail
            else "its log is empty"
        )
        return ProductError("\n".join(lines), request=error.request, answer=error.answer)

    def _still_running(self, error: ProductError) -> ProductError:
        """``error`` with the tail of the log of a product that is still running, when
        it dropped the connection or failed with a server error: a handler's traceback
        is then in its log, and "Server disconnected" or "HTTP 500" alone says nothing
        of where. Any other error is returned as it is."""
        message = str(error).split("\n")[0]
        dropped = message.startswith("could not reach the product") and not error.answer
        if not dropped and not error.answer.startswith("HTTP 5"):
            return error
        tail = self.log_tail(10)
        if not tail:
            return error
        lines = "\n".join(f"  | {line}" for line in tail.splitlines())
        return ProductError(
            f"{message}\nthe product is still running; the end of its log:\n{lines}",
            request=error.request,
            answer=error.answer,
        )

    # -- stopping ----------------------------------------------------------------------

    def _signal(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the product's group; ``False`` when nothing is left in it."""
        if self._popen is None:
            return False
        try:
            os.killpg(self._popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _group_alive(self) -> bool:
        """Whether a process of the group still runs (a zombie does not count)."""
        if self._popen is None:
            return False
        self._popen.poll()  # reap the leader, so its zombie does not count
        try:
            os.killpg(self._popen.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return _runs_in_group(self._popen.pid)

    def stop(self) -> int | None:
        """SIGTERM to the group, wait ``stop_timeout``, then SIGKILL; answers the exit
        status (``None`` if it never started). Idempotent; blocks at most about
        ``stop_timeout`` plus a moment."""
        if self._popen is None:
            self._stopped = True
            self._close_log()
            return None
        if not self._stopped:
            self._stopped = True
            try:
                self._signal(signal.SIGTERM)
                deadline = time.monotonic() + self.stop_timeout
                while self._group_alive() and time.monotonic() < deadline:
                    time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
            finally:  # also on a KeyboardInterrupt while it waits
                self._kill()
        return self._popen.returncode

    async def aclose(self) -> int | None:
        """:meth:`stop` without blocking trio, shielded from cancellation."""
        if self._popen is None or self._stopped:
            return self.stop()
        self._stopped = True
        try:
            with trio.CancelScope(shield=True):
                self._signal(signal.SIGTERM)
                deadline = trio.current_time() + self.stop_timeout
                while self._group_alive() and trio.current_time() < deadline:
                    await trio.sleep(_POLL)
        finally:  # also on a KeyboardInterrupt while it waits
            self._kill()
        return self._popen.returncode

    def _kill(self) -> None:
        assert self._popen is not None
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=5)
        self._close_log()

    def _close_log(self) -> None:
        log, self._log_file = self._log_file, None
        if log is not None:
            log.close()

    # -- context managers --------------------------------------------------------------

    def __enter__(self) -> ProductProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> ProductProcess:
        self.start()
        if self.ready_url is not None:
            try:
                await self.wait_ready(self.ready_url, self.ready_timeout)
            except BaseException:
                await self.aclose()
                raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # A last resort for a caller that forgot to stop it: never leave it running.
        popen = getattr(self, "_popen", None)
        if popen is not None and not getattr(self, "_stopped", True):
            with contextlib.suppress(Exception):
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=1)
            with contextlib.suppress(Exception):
                self._close_log()


class Terminated(BaseException):
    """The run was ended by a ``SIGTERM``: everything it started (the product's process
    group, the SMTP capture, the fakes) was stopped first (:func:`until_sigterm`). A
    ``BaseException``, as ``KeyboardInterrupt`` is, so that no ``except Exception``
    swallows it."""

    def __init__(self) -> None:
        super().__init__("terminated (SIGTERM)")


async def until_sigterm(run: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``await run(*args)``, but a ``SIGTERM`` cancels it and raises :class:`Terminated`
    once it has unwound. Python runs no cleanup on a ``SIGTERM`` (it just dies), so
    without this a product's process would outlive a ``kill`` of conntrack; trio's
    ``SIGINT`` (Ctrl-C) already unwinds as a ``KeyboardInterrupt``. Only the main thread
    can receive signals: elsewhere ``run`` runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        return await run(*args)
    terminated = False
    result: T | None = None
    try:
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:

                async def watch() -> None:
                    nonlocal terminated
                    async for _ in signals:
                        terminated = True
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(watch)
                result = await run(*args)
                nursery.cancel_scope.cancel()
    except BaseException:
        if terminated:
            raise Terminated() from None
        raise
    if terminated:
        raise Terminated()
    return cast(T, result)


def _runs_in_group(pgid: int) -> bool:
    """Whether a process of group ``pgid`` runs, zombies aside. The product's children
    that outlive it are reparented to PID 1, which in a container may reap them seconds
    later: counted, they would make every stop wait its whole ``stop_timeout``. Read
    from ``/proc`` (Linux); elsewhere any member counts."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stream:
                stat = stream.read()
        except OSError:  # it ended while we looked
            continue
        fields = stat.rsplit(b")", 1)[-1].split()  # state, ppid, pgrp, ... after "(comm)"
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _shell(command: Sequence[str]) -> str:
    return shlex.join(command)
