"""The files the CLI writes: checked before the work, written whole or not at all.

A report, outbox or series that a user names on the command line is checked before any
scenario runs (so a typo in a folder name does not cost the run): it must not be empty, a
folder, in a folder that does not exist or cannot be written, the same file as an input
(``--json scenario.yaml`` used to overwrite the scenario) or the same file as another
output. It is then written to a temporary file beside it and renamed over it at the end,
so a full disk or a Ctrl-C leaves the old file (or none), never a half-written one that
looks complete. A FIFO or a device (``/dev/stdout``, ``>(jq .)``) is written directly,
and a FIFO that no program reads is refused instead of blocking for ever.

Every problem is an :class:`InputError` that says which option, which path and what to
do.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar, cast

from ._exceptions import InputError

if TYPE_CHECKING:
    from ._notify import JsonlOutbox

T = TypeVar("T")


def not_a_file(mode: int) -> str | None:
    """What a path whose ``st_mode`` is ``mode`` is when it is no regular file ("a
    folder", "a FIFO (named pipe)", …; ``None``: it is one). The YAML readers refuse
    such paths unread, and output options refuse them as targets."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _kind(mode: int) -> str:
    return not_a_file(mode) or "a file"


def check_output(
    option: str,
    target: str,
    *,
    inputs: Iterable[str | Path] = (),
    stdout: bool = False,
    regular: bool = False,
) -> None:
    """Refuse ``target`` as the file of ``option`` before any work is done.

    ``inputs``: files the command reads (an output may not be one of them); ``stdout``:
    ``-`` means standard output; ``regular``: the file is read again later (an outbox),
    so it must be a regular file, not a FIFO or a device.
    """
    if target == "":
        raise InputError(f"{option} needs a file name; got an empty one")
    if stdout and target == "-":
        return
    path = Path(target)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise InputError(f"{option} {target}: cannot use it: {e.strerror or e}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise InputError(f"{option} {target} is a folder; give a file path, like {path / 'report'}")
    if mode is not None and not stat.S_ISREG(mode):
        if regular:
            raise InputError(
                f"{option} {target} is {_kind(mode)}, not a file: it is read again later; "
                "give the path of a file"
            )
        return  # a FIFO or a device is written as it is (see write_output)
    folder = path.parent
    if not folder.is_dir():
        raise InputError(
            f"{option} {target}: the folder {folder} does not exist; create it first "
            f"(mkdir -p {folder}) or write somewhere else"
        )
    if not os.access(folder, os.W_OK | os.X_OK) or (
        mode is not None and not os.access(path, os.W_OK)
    ):
        raise InputError(f"{option} {target}: permission denied; write somewhere else")
    if mode is not None:
        for source in inputs:
            try:
                same = os.path.samefile(path, source)
            except OSError:
                continue
            if same:
                raise InputError(
                    f"{option} {target} is also an input ({source}): writing it would "
                    "destroy it; give another file"
                )


def check_distinct(outputs: dict[str, str | None]) -> None:
    """Refuse two options that name the same file (``--json r --junit r``), or both
    standard output (``--csv - --json -`` would mix CSV and JSON in one stream)."""
    seen: dict[str, str] = {}
    for option, target in outputs.items():
        if not target:
            continue
        key = "-" if target == "-" else os.path.realpath(target)
        if key in seen and key == "-":
            raise InputError(
                f"{seen[key]} and {option} both name - (standard output), which would mix "
                "them; give one of them a file"
            )
        if key in seen:
            raise InputError(
                f"{seen[key]} and {option} both name {target}: one would overwrite the "
                "other; give each its own file"
            )
        seen[key] = option


def _fail(option: str, target: str, error: OSError) -> InputError:
    why = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        why += " (the disk or your quota is full: free some space, or write elsewhere)"
    return InputError(f"cannot write {option} {target}: {why}; nothing was written there")


def _open_special(option: str, target: str) -> int:
    """A FIFO or device opened for writing without blocking on a FIFO nobody reads."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise InputError(
                f"{option} {target} is a FIFO (named pipe) that no program reads; start "
                "the reader first, or write to a file"
            ) from None
        raise _fail(option, target, e) from None
    os.set_blocking(fd, True)
    return fd


@contextmanager
def output_stream(option: str, target: str) -> Iterator[IO[str]]:
    """A text stream to ``target`` that replaces it only when the block ends without an
    exception (temporary file, fsync, rename); otherwise ``target`` is left as it was.
    A FIFO or a device is written directly. Write errors become :class:`InputError`."""
    path = Path(target)
    try:
        special = not stat.S_ISREG(path.stat().st_mode)
    except OSError:
        special = False
    if special:
        stream = open(_open_special(option, target), "w", encoding="utf-8")  # noqa: SIM115 (closed below)
        try:
            yield stream
            _guarded(option, target, stream.close)
        finally:
            _close_quietly(stream)
        return
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = _guarded(option, target, lambda: os.open(temp, flags, 0o666))
    stream = open(fd, "w", encoding="utf-8")  # noqa: SIM115 (closed below, errors guarded)
    done = False
    try:
        yield stream
        _guarded(option, target, stream.flush)
        _guarded(option, target, lambda: os.fsync(stream.fileno()))
        _guarded(option, target, stream.close)
        _guarded(option, target, lambda: os.replace(temp, path))
        done = True
    finally:
        _close_quietly(stream)
        if not done:
            temp.unlink(missing_ok=True)


def _close_quietly(stream: IO[str]) -> None:
    """Close ``stream`` on the way out of a failure: what it still buffered is lost
    anyway, and its error would hide the one that is already on its way."""
    if not stream.closed:
        with suppress(OSError):
            stream.close()


def _guarded(option: str, target: str, step: Callable[[], T]) -> T:
    """``step()``, its OSError an :class:`InputError` about writing ``target``. (Only our
    own steps: an OSError of the work inside the ``with`` block is not a write error.)"""
    try:
        return step()
    except OSError as e:
        raise _fail(option, target, e) from None


def write_output(option: str, target: str, text: str) -> None:
    """Write ``text`` to ``target`` whole or not at all (see :func:`output_stream`);
    ``-`` is standard output."""
    if target == "-":
        import sys

        sys.stdout.write(text)
        return
    with output_stream(option, target) as stream:
        _guarded(option, target, lambda: stream.write(text))


class GuardedStream:
    """A text stream whose write errors (a full disk) are :class:`InputError`\\ s naming
    the option and the file, so they end a run with one clear line."""

    def __init__(self, stream: IO[str], option: str, target: str) -> None:
        self._stream, self._option, self._target = stream, option, target

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as e:
            raise _fail(self._option, self._target, e) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as e:
            raise _fail(self._option, self._target, e) from None

    def close(self) -> None:
        """The stream is closed by :func:`output_stream`, not by its user."""


@contextmanager
def jsonl_outbox(target: str | None) -> Iterator[JsonlOutbox | None]:
    """``--outbox``'s writer: each email a line as it is sent, into a temporary file that
    replaces ``target`` when the block ends without an exception; a write that fails
    (a full disk) ends the run with an InputError naming the option and the file."""
    from ._notify import JsonlOutbox

    if target is None:
        yield None
        return
    with output_stream("--outbox", target) as stream:
        yield JsonlOutbox(cast("IO[str]", GuardedStream(stream, "--outbox", target)))
