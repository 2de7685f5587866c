"""The state file of ``conntrack serve --state FILE``: one SQLite database that keeps the
fakes' state (apps, accounts, grants, codes, tokens, families, events, faults) and the
clock's offset across restarts.

What is in it::

    meta(key, value)       format, created_at, the local CA (ca_cert, ca_key) of --tls
    snapshot(id = 1, seq, clock_offset_us, now, saved_at, document)
                           the latest complete snapshot: the core's state as one JSON
                           document (``fake_providers.core._persist``), its ``seq``, the
                           clock's offset from wall time and the clock's now at saving

The file is marked as ours with ``PRAGMA application_id`` (:data:`APPLICATION_ID`) and
versioned with ``PRAGMA user_version`` (:data:`SCHEMA`); a file that is not SQLite, a
database of something else or of another schema is refused with a :class:`StateError`
(exit 2), never a traceback. One server at a time: the file is locked (``flock``) while
a server uses it.

Every snapshot replaces the one before in ONE transaction, so the file always holds a
complete snapshot: killed at any moment (``kill -9``, a power cut with
``synchronous=FULL``) it holds the one before or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ._exceptions import InputError

#: ``PRAGMA application_id`` of a conntrack state file ("cnts" in ASCII).
APPLICATION_ID = 0x636E7473
#: ``PRAGMA user_version``: the layout of the tables. The document inside has its own
#: ``format`` (``fake_providers.core._persist.FORMAT``).
SCHEMA = 1

_CREATE = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    clock_offset_us INTEGER NOT NULL,
    now TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    document TEXT NOT NULL
);
"""


class StateError(InputError):
    """A state file that cannot be used: not one, another version, locked, unreadable."""


@dataclass(frozen=True)
class Snapshot:
    """The latest complete snapshot in a state file."""

    document: Any
    seq: int
    clock_offset: timedelta
    now: datetime
    saved_at: datetime


class StateFile:
    """An open state file (see the module docstring). Not thread-safe: one call at a
    time (the server's saver makes them one after the other, some in a worker thread)."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock: int | None) -> None:
        self.path = path
        self._db = db
        self._lock = lock

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> StateFile:
        """Open (or create) a state file, lock it and check that it is one of ours."""
        where = Path(path)
        if where.is_dir():
            raise StateError(f"{where}: is a folder; --state names a file (e.g. {where}/state.db)")
        lock = _lock(where)
        try:
            # check_same_thread=False: the saver writes from a worker thread, one call at
            # a time. isolation_level=None: we say BEGIN and COMMIT ourselves.
            db = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            _unlock(lock)
            raise StateError(f"{where}: cannot open the state file: {e}") from None
        state = cls(where, db, lock)
        try:
            state._prepare()
        except sqlite3.DatabaseError as e:
            state.close()
            if "not a database" in str(e) or "malformed" in str(e):
                raise StateError(
                    f"{where}: not a conntrack state file (not an SQLite database); give "
                    "another --state file, or move this one away"
                ) from None
            raise StateError(f"{where}: cannot read the state file: {e}") from None
        except StateError:
            state.close()
            raise
        return state

    def _prepare(self) -> None:
        db = self._db
        # A plain rollback journal (not WAL): the state is one self-contained file that
        # can be copied or kept as a CI fixture once the server stopped, with no -wal or
        # -shm files beside it that must travel with it. A transaction is just as
        # atomic: a kill -9 mid-write leaves a "hot" journal that the next open rolls
        # back. WAL's gain, readers not blocking the writer, does not matter to one
        # server that writes at most once a second. synchronous=FULL: the commit is on
        # disk before the next snapshot starts, even across a power cut.
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=FULL")
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == 0 and not tables:
            # One transaction inside the script (executescript commits any open one
            # first): a file killed while being made is empty again, and made anew.
            created = _stamp(datetime.now(UTC))
            try:
                db.executescript(
                    f"BEGIN IMMEDIATE; {_CREATE} "
                    f"PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={SCHEMA}; "
                    f"INSERT INTO meta VALUES ('created_at', '{created}'); COMMIT;"
                )
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            return
        if app_id != APPLICATION_ID:
            raise StateError(
                f"{self.path}: not a conntrack state file (an SQLite database of something "
                "else); give another --state file"
            )
        if version != SCHEMA:
            raise StateError(
                f"{self.path}: a state file of another conntrack version (layout {version}; "
                f"this one reads layout {SCHEMA}); give another --state file"
            )

    # -- reading and writing -------------------------------------------------------

    def read(self) -> Snapshot | None:
        """The latest complete snapshot, or None for a new file."""
        row = self._db.execute(
            "SELECT seq, clock_offset_us, now, saved_at, document FROM snapshot WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        seq, offset_us, now, saved_at, text = row
        try:
            gc_was = gc.isenabled()
            gc.disable()  # decoding makes many objects and no cycles (see _persist._no_gc)
            try:
                document = json.loads(text)
            finally:
                if gc_was:
                    gc.enable()
            return Snapshot(
                document,
                int(seq),
                timedelta(microseconds=int(offset_us)),
                datetime.fromisoformat(now),
                datetime.fromisoformat(saved_at),
            )
        except (TypeError, ValueError) as e:
            raise StateError(f"{self.path}: the saved snapshot cannot be read: {e}") from None

    def write(self, document: Any, *, seq: int, clock_offset: timedelta, now: datetime) -> None:
        """Replace the snapshot, in one transaction (JSON-encodes ``document`` first)."""
        text = _encode(document)
        offset_us = clock_offset // timedelta(microseconds=1)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO snapshot VALUES (1, ?, ?, ?, ?, ?)",
                (seq, offset_us, _stamp(now), _stamp(datetime.now(UTC)), text),
            )
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: dict[str, str]) -> None:
        """Set some ``meta`` keys, in one transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the database, then release the lock (in that order: closing another
        descriptor of the file first would drop SQLite's own locks)."""
        self._db.close()
        _unlock(self._lock)
        self._lock = None


def _encode(document: Any) -> str:
    """``document`` as compact JSON text, the same as one ``json.dumps``; but a list
    under a top-level key is encoded item by item. ``json.dumps`` holds the GIL from
    start to end, so in one call a large state would stall the server's own thread for
    the whole encoding even though the encoding runs in a worker thread; between items
    it can take its turn."""
    if not isinstance(document, dict):
        return _dumps(document)
    parts = []
    for key, value in document.items():
        if isinstance(value, list):
            text = "[" + ",".join([_dumps(item) for item in value]) + "]"
        else:
            text = _dumps(value)
        parts.append(f"{_dumps(str(key))}:{text}")
    return "{" + ",".join(parts) + "}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _lock(path: Path) -> int | None:
    """An exclusive ``flock`` on the file (created if missing), or StateError if another
    process holds it. None where ``fcntl`` does not exist (Windows): no lock there."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise StateError(f"{path}: cannot open the state file: {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StateError(
            f"{path}: in use by another conntrack serve; stop it, or give another --state file"
        ) from None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)
