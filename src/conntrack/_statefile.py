"""The state file of ``conntrack serve --state FILE``: one SQLite database that keeps the
fakes' state (apps, accounts, grants, codes, tokens, families, events, faults) and the
clock's offset across restarts, written change by change.

What is in it::

    meta(key, value)        format, created_at, seed, starts, written ([seq, the clock's
                            offset in µs, its now, when written]), random (the
                            generators' states and their seq), columns (each table's
                            fields), the local CA of --tls
    apps, accounts, deleted_accounts, pages, live_pages, grants, codes, tokens,
    requests, families, faults, page_tokens, refresh_index
                            (key, body): one row a record, its fields as a JSON array
                            (``fake_providers.journal``); rowid order is the
                            order the records were first written

Writing: :meth:`StateFile.attach` has the core note which records change
(``_journal.Journal``); :meth:`StateFile.flush` writes those rows, and ``seq`` and the
clock, in ONE small transaction (or in three steps, :meth:`StateFile.batch`,
:meth:`StateFile.commit` in a worker thread, :meth:`StateFile.done`). ``conntrack
serve`` commits what an answer changed within ``--state-lag`` (20 ms by default; an
answer that changed something waits while an older change is not yet committed), or
with ``--state-lag 0`` before each answer that follows a change leaves the server, so
that a client never holds a token the file has not committed. A checkpoint (copying
the ``-wal`` into the file, with fsyncs) runs in a worker thread once a second
(:meth:`StateFile.checkpoint`). The database is in WAL mode with
``synchronous=NORMAL``: a commit is an append to the ``-wal`` file (no fsync),
which survives ``kill -9`` of the process (the next open replays it); only an OS crash
or power cut may lose the last commits (never tear one). After a clean stop the
``-wal`` is checkpointed and removed: one file again.

The generators' states are 7 KB and change with every token, so they are saved at most
once a second and at the stop, with the ``seq`` they belong to; a file whose ``seq`` moved
since (a server killed) gets fresh generator streams for (seed, seq, starts) at load —
``starts`` counts the starts in ``meta``, committed before the server answers — so no
id or token is ever handed out twice, not even one answered by a server killed before
writing it.

Layout 1 (conntrack before the journal: one JSON snapshot, at most once a second) is
still read: its snapshot is loaded and the file is rewritten in layout 2 in one
transaction. The file is marked as ours with ``PRAGMA application_id``
(:data:`APPLICATION_ID`) and versioned with ``PRAGMA user_version`` (:data:`SCHEMA`); a
file that is not SQLite, a database of something else or of a newer layout is refused
with a :class:`StateError` (exit 2), never a traceback. One server at a time: the file is
locked (``flock``) while a server uses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_providers import journal as _journal

from ._exceptions import InputError

if TYPE_CHECKING:
    from fake_providers import Core

#: ``PRAGMA application_id`` of a conntrack state file ("cnts" in ASCII).
APPLICATION_ID = 0x636E7473
#: ``PRAGMA user_version``: the layout of the tables. Layout 1 (one JSON snapshot) is
#: read and rewritten as this one.
SCHEMA = 2
#: The tables of records, besides ``meta``.
TABLES = (*_journal.TABLES, *_journal.EXTRA_TABLES)

_CREATE = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n" + "".join(
    f"CREATE TABLE {t} (key TEXT NOT NULL UNIQUE, body TEXT NOT NULL);\n" for t in TABLES
)


class StateError(InputError):
    """A state file that cannot be used: not one, another version, locked, unreadable."""


@dataclass(frozen=True)
class Loaded:
    """What :meth:`StateFile.load` found: when it was last written, the clock's offset
    and now then, and whether it was a layout-1 file (rewritten now)."""

    saved_at: datetime
    clock_offset: timedelta
    now: datetime
    migrated: bool = False


@dataclass
class Batch:
    """One write: the changed rows, the meta rows, the clock it saves and the seq of
    the generators' states it saves (None: not saved)."""

    changes: _journal.Changes
    meta: list[tuple[str, str]]
    clock: tuple[timedelta, datetime]
    random_seq: int | None = None


class StateFile:
    """An open state file (see the module docstring). Not thread-safe: one call at a
    time, from the server's own thread."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock: int | None) -> None:
        self.path = path
        self._db = db
        self._lock = lock
        self._journal: _journal.Journal | None = None
        self._checkpointer: sqlite3.Connection | None = None
        #: The clock offset and random-states seq the file holds now.
        self._clock: tuple[timedelta, datetime] | None = None
        self._random_seq: int | None = None
        #: Holds a layout-1 snapshot (see :meth:`load`).
        self.legacy = False
        #: Rows written by the last :meth:`flush`.
        self.last_rows = 0

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> StateFile:
        """Open (or create) a state file, lock it and check that it is one of ours."""
        where = Path(path)
        _check_path(where)
        lock = _lock(where)
        try:
            # isolation_level=None: we say BEGIN and COMMIT ourselves.
            db = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            _unlock(lock)
            raise StateError(f"{where}: cannot open the state file: {e}") from None
        state = cls(where, db, lock)
        try:
            state._prepare()
        except sqlite3.DatabaseError as e:
            state.close()
            if "malformed" in str(e):
                # An SQLite header, pages missing or overwritten: a copy cut short.
                raise StateError(
                    f"{where}: the state file is damaged ({e}); give another --state "
                    "file, or move this one away"
                ) from None
            if "not a database" in str(e):
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
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == 0 and not tables:
            self._wal()
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
        if version not in (1, SCHEMA):
            raise StateError(
                f"{self.path}: a state file of another conntrack version (layout {version}; "
                f"this one reads layouts 1 and {SCHEMA}); give another --state file"
            )
        self._wal()
        self.legacy = version == 1

    def _wal(self) -> None:
        # WAL: a commit appends to the -wal file, and a kill -9 keeps what was appended.
        # synchronous=NORMAL: no fsync per commit (an OS crash may lose the last ones).
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StateError(f"{self.path}: cannot use SQLite's WAL mode here ({mode})")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint (copying the -wal into the file, with two fsyncs) would otherwise
        # run inside every thousandth commit, in the server's thread: the server runs
        # them in a worker thread instead (checkpoint()); this bound is for a file used
        # without one (40 MB of -wal).
        self._db.execute("PRAGMA wal_autocheckpoint=10000")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    # -- reading -------------------------------------------------------------------

    def load(self, core: Core) -> Loaded | None:
        """Put the saved state into ``core`` (a new one, made with the clock and
        profiles to serve); None for a new file. A layout-1 file is rewritten as layout
        2 here. Raises ``StateFormatError``/``StateProviderError`` of ``fake_providers``
        for records it cannot take (``core`` unchanged)
        and :class:`StateError` for a damaged file."""
        try:
            if self.legacy:
                return self._migrate(core)
            return self._load(core)
        except sqlite3.DatabaseError as e:
            # Pages overwritten or cut short: SQLite finds it only when it reads them.
            raise StateError(
                f"{self.path}: the state file is damaged ({e}); give another --state file, "
                "or move this one away"
            ) from None

    def _load(self, core: Core) -> Loaded | None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        # Every start is counted, and the count committed before the server answers: a
        # start after a kill draws from streams of its own (see _fresh_streams).
        starts = int(meta["starts"]) if meta.get("starts", "").isdigit() else 0
        self.set_meta({"starts": str(starts + 1)})
        if "written" not in meta:
            if starts:  # killed before it wrote anything, maybe after answering
                _fresh_streams(core, core.seed, 0, starts)
            return None
        try:
            seq, offset_us, now, saved = json.loads(meta["written"])
            seed, seq = int(meta["seed"]), int(seq)
            saved_at = datetime.fromisoformat(saved)
            columns = json.loads(meta.get("columns", "{}"))
            random = json.loads(meta["random"]) if "random" in meta else None
            clock = (timedelta(microseconds=int(offset_us)), datetime.fromisoformat(now))
        except (KeyError, TypeError, ValueError) as e:
            raise StateError(f"{self.path}: the saved state cannot be read: {e}") from None
        if meta.get("format") != str(_journal.FORMAT):
            raise _journal.StateFormatError(
                f"the saved state has format {meta.get('format')}; this conntrack reads "
                f"format {_journal.FORMAT}"
            )
        with _Reader(self._db) as reader:
            _journal.load(
                core,
                reader.bodies,
                keys=reader.keys,
                seed=seed,
                seq=seq,
                saved_columns=columns,
                random=random,
            )
        self._clock = clock
        self._random_seq = random.get("seq") if isinstance(random, dict) else None
        if self._random_seq != seq:
            _fresh_streams(core, seed, seq, starts)
        return Loaded(saved_at, clock[0], clock[1])

    def _migrate(self, core: Core) -> Loaded | None:
        """Load a layout-1 file's snapshot, then rewrite the file as layout 2 (one
        transaction: killed meanwhile, it is still a layout-1 file)."""
        row = self._db.execute(
            "SELECT clock_offset_us, now, saved_at, document FROM snapshot WHERE id = 1"
        ).fetchone()
        try:
            if row is not None:
                offset_us, now, saved_at, text = row
                core.load(json.loads(text))
                loaded = Loaded(
                    datetime.fromisoformat(saved_at),
                    timedelta(microseconds=int(offset_us)),
                    datetime.fromisoformat(now),
                    migrated=True,
                )
        except (TypeError, ValueError) as e:
            if type(e).__name__ == "StateFormatError":
                raise
            raise StateError(f"{self.path}: the saved snapshot cannot be read: {e}") from None
        created = self.get_meta("created_at")
        journal = self.attach(core)
        changes = journal.take(everything=True)
        assert changes is not None
        batch = None
        if row is not None:
            batch = self.batch(clock_offset=loaded.clock_offset, now=loaded.now, random=True)
            assert batch is not None
            batch.changes = changes
        # The new tables and the records in the same transaction: a kill between the
        # two would leave a new, empty file.
        with self._transaction() as db:
            db.execute("DROP TABLE snapshot")
            db.execute("DROP TABLE meta")
            for statement in _CREATE.strip().split(";\n"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA}")
            if created is not None:
                db.execute("INSERT INTO meta VALUES ('created_at', ?)", (created,))
            if batch is not None:
                self._apply(db, batch)
        self.legacy = False
        if batch is None:
            return None
        self.done(batch)
        return loaded

    # -- writing -------------------------------------------------------------------

    def attach(self, core: Core) -> _journal.Journal:
        """Have ``core`` note which records change from now on (after :meth:`load`)."""
        if self._journal is None or self._journal.core is not core:
            self._journal = _journal.Journal(core)
        return self._journal

    def pending(self, clock_offset: timedelta) -> bool:
        """Whether a :meth:`flush` would write anything."""
        journal = self._journal
        return (journal is not None and journal.pending()) or (
            self._clock is None or self._clock[0] != clock_offset
        )

    def settle(self) -> None:
        """Nothing changed since the last write: forget what the core only read."""
        if self._journal is not None:
            self._journal.take()

    def flush(
        self,
        *,
        clock_offset: timedelta,
        now: datetime,
        everything: bool = False,
        random: bool = False,
    ) -> bool:
        """Write what changed since the last flush — the changed records, ``seq`` and
        the clock (with ``random``, the generators' states if they moved) — in one
        transaction; whether anything was written. On an error (a full disk, a file
        removed) the changes are kept for the next flush, and the error is raised.

        The same in three steps, for a writer in a worker thread: :meth:`batch` (in
        the thread that changes the core), :meth:`commit` (any thread, one at a time),
        :meth:`done` (back in the core's thread)."""
        batch = self.batch(clock_offset=clock_offset, now=now, everything=everything, random=random)
        if batch is None:
            return False
        try:
            self.commit(batch)
        except BaseException:
            self.done(batch, ok=False)
            raise
        self.done(batch)
        return True

    def batch(
        self,
        *,
        clock_offset: timedelta,
        now: datetime,
        everything: bool = False,
        random: bool = False,
    ) -> Batch | None:
        """What a flush would write now (the changed records encoded), or None."""
        journal = self._journal
        assert journal is not None, "attach() a core first"
        changes = journal.take(everything=everything)
        if changes is None:
            same_clock = self._clock is not None and self._clock[0] == clock_offset
            if same_clock and (not random or self._random_seq == journal.core.seq):
                return None
            changes = _journal.Changes(journal.core.seq)
        offset_us = clock_offset // timedelta(microseconds=1)
        core = journal.core
        # One row, so that a write touches one more page at most: [seq, the clock's
        # offset (µs) and now, when it was written].
        written = [changes.seq, offset_us, _stamp(now), _stamp(datetime.now(UTC))]
        meta = [("written", json.dumps(written))]
        if self._clock is None:  # the first write: what does not change afterwards
            meta += [
                ("format", str(_journal.FORMAT)),
                ("seed", str(core.seed)),
                ("columns", json.dumps(_journal.columns())),
            ]
        random_seq = None
        if random and self._random_seq != core.seq:
            states = _journal.random_states(core)
            meta.append(("random", json.dumps(states, separators=(",", ":"))))
            random_seq = core.seq
        return Batch(changes, meta, (clock_offset, now), random_seq)

    def commit(self, batch: Batch) -> None:
        """Write ``batch`` in one transaction (in any thread; one commit at a time)."""
        with self._transaction() as db:
            self._apply(db, batch)

    def _apply(self, db: sqlite3.Connection, batch: Batch) -> None:
        """The statements of :meth:`commit`, inside a transaction of the caller's."""
        changes = batch.changes
        for table in changes.emptied:
            db.execute(f"DELETE FROM {table}")
        for table, gone in changes.deletes.items():
            db.executemany(f"DELETE FROM {table} WHERE key = ?", [(k,) for k in gone])
        for table, rows in changes.upserts.items():
            db.executemany(
                f"INSERT INTO {table} (key, body) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET body = excluded.body",
                rows,
            )
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", batch.meta)

    def done(self, batch: Batch, *, ok: bool = True) -> None:
        """After :meth:`commit`: note what the file holds now, or (``ok`` False) keep
        the batch's changes for the next one."""
        if not ok:
            assert self._journal is not None
            self._journal.give_back(batch.changes)
            return
        self._clock = batch.clock
        if batch.random_seq is not None:
            self._random_seq = batch.random_seq
        self.last_rows = batch.changes.rows()

    def save_random(self) -> bool:
        """Save the generators' states if ``seq`` moved since they were last saved (at
        most once a second, and at the stop: see the module docstring)."""
        journal = self._journal
        if journal is None or self._random_seq == journal.core.seq or self._clock is None:
            return False
        return self.flush(clock_offset=self._clock[0], now=self._clock[1], random=True)

    def checkpoint(self) -> None:
        """Copy what the -wal holds into the file, as far as it can without waiting for
        the writer (``PASSIVE``), on a connection of its own: meant for a worker thread
        while the server's thread goes on writing."""
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: dict[str, str]) -> None:
        """Set some ``meta`` keys, in one transaction."""
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))

    def size(self) -> int:
        """Bytes on disk: the file and its -wal."""
        wal = Path(f"{self.path}-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def close(self) -> None:
        """Checkpoint the -wal into the file, close the database, then release the lock
        (in that order: closing another descriptor of the file first would drop
        SQLite's own locks)."""
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
        _unlock(self._lock)
        self._lock = None


class _Tables(dict[str, Any]):
    """What :class:`_Reader` read so far: :meth:`get` waits for a table not read yet,
    and raises what the reading raised."""

    def __init__(self, reader: _Reader) -> None:
        super().__init__()
        self._reader = reader

    def get(self, key: str, default: Any = None) -> Any:
        self._reader.wait(key)
        return dict.get(self, key, default)


class _Reader:
    """Reads the tables for a load in a worker thread, in the order ``_journal.load``
    decodes them, while the server's thread decodes those already read: SQLite lets go
    of Python's lock while it scans, so on two cores the reading (a quarter of a load)
    is hidden behind the decoding. Each table's bodies come as one JSON array, joined
    by SQLite in the order the rows were first written (a table scan goes by rowid): no
    Python string a row. The connection is the state file's: nothing else uses it
    until the ``with`` block ends (which waits for the thread)."""

    #: The order ``_journal.load`` asks for the tables (others come last).
    ORDER = ("pages", "accounts", "deleted_accounts", "live_pages", "page_tokens")
    #: Tables whose keys the load needs too.
    KEYED = ("live_pages", "page_tokens", "refresh_index")

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.bodies = _Tables(self)
        self.keys = _Tables(self)
        self._read = {t: threading.Event() for t in TABLES}
        self._failed: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="state-reader", daemon=True)

    def __enter__(self) -> _Reader:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self._stop = True
        self._thread.join()
        if kind is None and self._failed is not None:  # a table the load did not ask for
            raise self._failed

    def wait(self, table: str) -> None:
        read = self._read.get(table)
        if read is not None:
            read.wait()
        if self._failed is not None:
            raise self._failed

    def _run(self) -> None:
        order = [t for t in self.ORDER if t in TABLES] + [t for t in TABLES if t not in self.ORDER]
        try:
            for table in order:
                if self._stop:
                    break
                (body,) = self._db.execute(
                    "SELECT '[' || group_concat(body, ',') || ']' "
                    f"FROM (SELECT body FROM {table} ORDER BY rowid)"
                ).fetchone()
                dict.__setitem__(self.bodies, table, body)
                if table in self.KEYED:
                    keys = [
                        r[0] for r in self._db.execute(f"SELECT key FROM {table} ORDER BY rowid")
                    ]
                    dict.__setitem__(self.keys, table, keys)
                self._read[table].set()
        except BaseException as e:  # raised in the load's thread, by wait()
            self._failed = e
        finally:
            for read in self._read.values():
                read.set()


def _fresh_streams(core: Core, seed: int, seq: int, starts: int) -> None:
    """Seed ``core``'s generators for a start after a kill (states not saved at ``seq``).

    Streams for (seed, seq) alone are not enough: a server killed within the lag of
    answering a token (not written) may have drawn from the same ones, and the next
    start would hand that token's value to the next login — another person's. The
    count of starts, committed before answering, makes every such start's own."""
    for name, rng in (
        ("things", core.ids.rng),
        ("noise", core.ids.noise),
        ("faker", core.ids.faker_random),
    ):
        rng.seed(f"conntrack-fakes:{seed}:{name}:after:{seq}:start:{starts}")


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _check_path(where: Path) -> None:
    """Refuse, by what it is, a path that cannot be a state file, before anything opens
    it: a folder, a named pipe (opening one may wait for a writer; SQLite would then say
    "disk I/O error"), a device or a socket; and, for a new file, a folder that does not
    exist (not made: a typo would make a tree) or is not a folder."""
    try:
        mode = where.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as e:
        raise StateError(f"{where}: cannot open the state file: {e.strerror or e}") from None
    if mode is None:
        folder = where.parent
        if not folder.exists():
            raise StateError(
                f"{where}: the folder {folder} does not exist; create it, or give --state a "
                "path in an existing folder"
            )
        if not folder.is_dir():
            raise StateError(f"{where}: {folder} is not a folder; give --state a path in a folder")
        return
    if stat.S_ISDIR(mode):
        raise StateError(f"{where}: is a folder; --state names a file (e.g. {where}/state.db)")
    if not stat.S_ISREG(mode):
        what = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a special file"
        )
        raise StateError(
            f"{where}: is {what}, not a file; give --state a path to a regular file or a new name"
        )


def _lock(path: Path) -> int | None:
    """An exclusive ``flock`` on the file (created if missing), or StateError if another
    process holds it. None where ``fcntl`` does not exist (Windows): no lock there."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o600)
    except OSError as e:
        if not path.exists():
            raise StateError(
                f"{path}: cannot create the state file in {path.parent}: "
                f"{e.strerror or e}; give --state a path in a folder you can write"
            ) from None
        raise StateError(
            f"{path}: cannot open the state file: {e.strerror or e}; give --state a file "
            "you can read and write"
        ) from None
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
