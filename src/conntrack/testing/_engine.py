"""The fakes' own trio loop, in a thread of its own, answering requests from any thread.

The fake providers are a QuartTrio app: they run on trio. The code under test runs on
whatever it runs on: plain threads (requests, urllib3, sync httpx), asyncio (async
httpx in an asyncio test), or trio (async httpx in a pytest-trio test). So the app does
not run in the caller's loop: :class:`Engine` starts one trio loop in a daemon thread
and every request is handed to it (``TrioToken.run_sync_soon``, thread-safe) and
answered through a :class:`concurrent.futures.Future`:

- a sync caller blocks on the future (:meth:`Engine.call`);
- an async caller awaits it without blocking its loop (:meth:`Engine.acall`): asyncio
  wraps the future, trio waits for an event the future's callback sets.

Each request runs in the engine's nursery through ``httpx.ASGITransport``, as the
scenario runner talks to the fakes, and is answered with its whole body (the fakes'
bodies are small). A request the fakes hold longer than its timeout (a ``delay_ms``
fault; :data:`DEFAULT_TIMEOUT` when the client gave none) ends in :class:`AnswerTimeout`
on the engine's real clock (:class:`RealClock`), whatever clock the caller's loop runs
on and whether or not a test froze time.

A caller that gives up (an asyncio task cancelled, a trio cancel scope ending) cancels
its request in the engine too, as a server's handler is cancelled when the client hangs
up: nothing keeps running for it, and its next request is answered as usual. An
exception that escapes the app (a bug of the fakes: the providers' own error hooks answer
a handler's crash in their 500 shape) is answered as a server answers it, a bare HTTP 500
that names the error, never a hang.

One engine serves a whole test session (:func:`shared_engine`); worlds come and go
over it, each its own app (``_fakes``). A request under way when the loop stops ends in
:class:`EngineStopped` (the interceptors make it the library's own "server hung up"
error). Stopped while a world is still active, the engine starts again on the next
request; only the interpreter's exit stops it for good.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import http
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import sniffio
import trio

#: How long a request may take when its client gave no timeout, in seconds.
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Call:
    """One HTTP request, as the interceptors hand it over: a whole body, raw headers."""

    method: str
    url: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    #: Seconds the caller waits for the answer (None: :data:`DEFAULT_TIMEOUT`).
    timeout: float | None = None


@dataclass(frozen=True)
class Answer:
    """The fakes' answer: status, raw headers (repeated ones kept), whole body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    reason: str = ""


class AnswerTimeout(TimeoutError):
    """The fakes did not answer within the request's timeout."""


class EngineStopped(RuntimeError):
    """The engine's loop is not running (stopped, or never started)."""


class RealClock(trio.abc.Clock):
    """Trio's clock on the machine's monotonic clock, read where time-freezing libraries
    do not reach: freezegun replaces ``perf_counter`` and ``monotonic`` in every loaded
    module (trio's own clock reads ``perf_counter``), which would hold every delay and
    timeout of the fakes for ever. A real server in its own process is not frozen; nor
    is this loop. (The fakes' *wall* clock does follow a frozen or travelled ``datetime``,
    on purpose: ``_fakes``.)"""

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return _monotonic()

    def deadline_to_sleep_time(self, deadline: float) -> float:
        return deadline - self.current_time()


def _monotonic() -> float:
    # clock_gettime is left alone by freezegun, and time-machine only moves its
    # CLOCK_REALTIME; perf_counter (captured at import) where there is no clock_gettime.
    if _CLOCK_GETTIME is not None:
        return float(_CLOCK_GETTIME(_MONOTONIC_ID))
    return float(_PERF_COUNTER())


_CLOCK_GETTIME = getattr(time, "clock_gettime", None)
_MONOTONIC_ID = getattr(time, "CLOCK_MONOTONIC", 1)
_PERF_COUNTER = time.perf_counter


def _did_not_start(crash: BaseException) -> str:
    message = f"the fakes' loop did not start: {crash!r}"
    if type(crash).__name__ == "SocketBlockedError":
        # pytest-socket: trio's loop wakes up through a socket pair in this process.
        message += (
            ". pytest-socket's --disable-socket also blocks the local socket pair the "
            "fakes' loop wakes up with (AF_UNIX, in this process: the fakes open no network "
            "socket); allow it with --allow-unix-socket"
        )
    return message


class Engine:
    """A trio loop in a daemon thread that answers :class:`Call` s with an ASGI app."""

    #: How long :meth:`stop` waits for the loop's thread (a loop held by a blocking call
    #: may outlive it: it then ends on its own, and a new loop may already run).
    STOP_TIMEOUT = 10.0

    def __init__(self) -> None:
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._crash: BaseException | None = None
        self._final = False
        #: The cancel scope of each request under way, by its future.
        self._scopes: dict[concurrent.futures.Future[Answer], trio.CancelScope] = {}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._token is not None

    @property
    def in_flight(self) -> int:
        """How many requests the loop is answering now."""
        return len(self._scopes)

    def start(self) -> None:
        """Start the loop (once); return when it takes requests."""
        with self._lock:
            if self._final:
                raise EngineStopped("the in-process fakes stopped with the interpreter")
            if self.running:
                return
            # Each loop its own ready event: one ending late must not wake this start.
            ready = self._ready = threading.Event()
            self._crash = None
            self._thread = threading.Thread(
                target=self._run, args=(ready,), name="conntrack-fakes", daemon=True
            )
            self._thread.start()
        ready.wait()
        if self._crash is not None:
            raise EngineStopped(_did_not_start(self._crash))

    def _run(self, ready: threading.Event) -> None:
        try:
            trio.run(self._main, ready, clock=RealClock())
        except BaseException as e:  # pragma: no cover - reported to the starter
            self._crash = e
        finally:
            ready.set()

    async def _main(self, ready: threading.Event) -> None:
        stop = self._stop = trio.Event()
        token = trio.lowlevel.current_trio_token()
        nursery: trio.Nursery | None = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._token = token
                ready.set()
                await stop.wait()
                nursery.cancel_scope.cancel()
        finally:
            # Only this loop's own: a loop that outlived stop() ends after a new one began.
            if self._nursery is nursery:
                self._nursery = None
            if self._token is token:
                self._token = None

    def stop(self, *, final: bool = False) -> None:
        """Stop the loop and wait for its thread; requests under way are cancelled.
        ``final`` (the interpreter's exit): never start again."""
        with self._lock:
            self._final = self._final or final
            token, thread, stop = self._token, self._thread, self._stop
            if token is None or thread is None or stop is None:
                return
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(stop.set)
            if thread is not threading.current_thread():
                thread.join(timeout=self.STOP_TIMEOUT)
            self._thread = None

    # -- answering -----------------------------------------------------------------

    def submit(self, app: Any, call: Call) -> concurrent.futures.Future[Answer]:
        """Hand ``call`` to the loop; the future gets the answer (or the exception).
        A stopped loop starts again (a world outlived the session that stopped it)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "a request to the in-process fakes from the fakes' own thread would wait for itself"
            )
        future: concurrent.futures.Future[Answer] = concurrent.futures.Future()
        for _ in range(2):
            token = self._token
            if token is None:
                self.start()
                continue

            def spawn() -> None:
                nursery = self._nursery
                if nursery is None:
                    future.set_exception(EngineStopped("the in-process fakes are stopped"))
                    return
                scope = trio.CancelScope()
                self._scopes[future] = scope
                try:
                    nursery.start_soon(self._answer, app, call, future, scope)
                except RuntimeError:  # closed: the loop is ending (an error here kills it)
                    self._scopes.pop(future, None)
                    future.set_exception(EngineStopped("the in-process fakes are stopping"))

            try:
                token.run_sync_soon(spawn)
            except trio.RunFinishedError:
                continue  # stopped just now: start it again
            return future
        raise EngineStopped("the in-process fakes are stopped and did not start again")

    def cancel(self, future: concurrent.futures.Future[Answer]) -> None:
        """The caller gave up on ``future``: cancel its request in the loop."""
        if future.cancel():
            return  # not started yet: it never will
        token = self._token
        if token is None:
            return

        def cancel_scope() -> None:
            scope = self._scopes.get(future)
            if scope is not None:
                scope.cancel()

        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(cancel_scope)

    def call(self, app: Any, call: Call) -> Answer:
        """Answer ``call`` with ``app``, blocking the calling thread."""
        future = self.submit(app, call)
        try:
            return future.result()
        except BaseException:
            if not future.done():  # KeyboardInterrupt: the request is given up
                self.cancel(future)
            raise

    async def acall(self, app: Any, call: Call) -> Answer:
        """Answer ``call`` with ``app`` without blocking the caller's loop (asyncio or
        trio); cancelling the caller cancels the request."""
        future = self.submit(app, call)
        library = sniffio.current_async_library()
        try:
            if library == "trio":
                return await _trio_wait(future)
            # asyncio (or a loop that is asyncio's, uvloop): httpx runs on nothing else.
            return await asyncio.wrap_future(future)
        except BaseException:
            if not future.done():
                self.cancel(future)
            raise

    async def _answer(
        self,
        app: Any,
        call: Call,
        future: concurrent.futures.Future[Answer],
        scope: trio.CancelScope,
    ) -> None:
        """Run ``call`` through ``app`` (in the engine's loop) and settle ``future``."""
        try:
            if not future.set_running_or_notify_cancel():
                return
            with scope:
                answer = await _answer(app, call)
                future.set_result(answer)
                return
            # The caller gave up: nobody reads this.
            future.set_exception(EngineStopped("the request was cancelled by its caller"))
        except Exception as e:  # AnswerTimeout, a request httpx cannot build
            future.set_exception(e)
        except BaseException:
            # The loop is stopping (trio.Cancelled, bare or in a group from the app's own
            # nurseries): the caller must not wait for ever.
            if not future.done():
                future.set_exception(
                    EngineStopped("the in-process fakes stopped during the request")
                )
            raise
        finally:
            self._scopes.pop(future, None)


async def _answer(app: Any, call: Call) -> Answer:
    """``call`` through ``app`` with the request's timeout; an exception that escapes the
    app is a bare 500, as a server answers it."""
    timeout = call.timeout if call.timeout is not None else DEFAULT_TIMEOUT
    # Built outside the 500 net: a request httpx cannot build is the caller's error.
    request = httpx.Request(call.method, call.url, headers=call.headers, content=call.body)
    try:
        with trio.fail_after(timeout):
            transport = httpx.ASGITransport(app=cast(Any, app))
            response = await transport.handle_async_request(request)
            # As sent: a Content-Encoding stays for the client's library to undo.
            body = b"".join([chunk async for chunk in response.aiter_raw()])
    except trio.TooSlowError:
        raise AnswerTimeout(
            f"the fakes did not answer {call.method} {call.url} in {timeout:g} s"
        ) from None
    except Exception as e:
        text = (
            f"the in-process fakes crashed answering {call.method} {call.url}: "
            f"{type(e).__name__}: {e} (a bug of conntrack's fakes: please report it)"
        )
        return Answer(
            500, [(b"content-type", b"text/plain; charset=utf-8")], text.encode(), phrase(500)
        )
    reason = response.extensions.get("reason_phrase", b"")
    text = reason.decode("latin-1") if isinstance(reason, bytes) else str(reason)
    return Answer(
        response.status_code, list(response.headers.raw), body, text or phrase(response.status_code)
    )


def phrase(status: int) -> str:
    """The reason phrase a server sends with ``status`` over HTTP/1.1 (``Not Found``), as
    the real providers' servers do: an ASGI app gives none, and without one requests says
    "401 Client Error: None" where the real provider's answer reads "Unauthorized"."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


async def _trio_wait(future: concurrent.futures.Future[Answer]) -> Answer:
    token = trio.lowlevel.current_trio_token()
    done = trio.Event()

    def wake(_: object) -> None:
        # The caller's loop may have ended meanwhile: then nobody waits.
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(done.set)

    future.add_done_callback(wake)
    await done.wait()
    return future.result()


_SHARED: Engine | None = None
_SHARED_LOCK = threading.Lock()


def shared_engine() -> Engine:
    """The process's engine, started on first use and stopped at exit."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Engine()
            atexit.register(_stop_shared)
        engine = _SHARED
    engine.start()
    return engine


def _stop_shared() -> None:
    if _SHARED is not None:
        _SHARED.stop(final=True)


def stop_shared_engine() -> None:
    """Stop the process's engine (a test session's end); the next use starts it again."""
    if _SHARED is not None:
        _SHARED.stop()
