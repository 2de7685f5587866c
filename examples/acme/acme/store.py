"""acme's SQLite database: the company, its connections (tokens included), pending
logins, the reminders already sent and a log of every email.

One connection per process, used from the event loop only (the web app serves one
request at a time, so nothing else writes meanwhile). Instants are stored as ISO text
in UTC, like the test protocol writes them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .settings import iso, parse_instant

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
    opt_out INTEGER NOT NULL DEFAULT 0, position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS connections (
    name TEXT PRIMARY KEY, provider TEXT NOT NULL, kind TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT, status_since TEXT,
    connected_by TEXT, account_id TEXT, resource_id TEXT, resource_name TEXT,
    access_token TEXT, access_expires_at TEXT,
    refresh_token TEXT, refresh_expires_at TEXT,
    hard_expiry TEXT, scopes TEXT NOT NULL DEFAULT '',
    last_login_at TEXT, last_synced_at TEXT, next_sync_at TEXT,
    sync_every INTEGER NOT NULL, incident_mailed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS logins (
    state TEXT PRIMARY KEY, connection TEXT NOT NULL, provider TEXT NOT NULL,
    kind TEXT NOT NULL, user_id TEXT NOT NULL, action TEXT NOT NULL,
    verifier TEXT, sync_every INTEGER, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reminders_sent (
    connection TEXT NOT NULL, expiry TEXT NOT NULL, days INTEGER NOT NULL,
    sent_at TEXT NOT NULL, PRIMARY KEY (connection, expiry, days)
);
CREATE TABLE IF NOT EXISTS emails (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sent_at TEXT NOT NULL, kind TEXT NOT NULL,
    connection TEXT NOT NULL, recipients TEXT NOT NULL, subject TEXT NOT NULL
);
"""

_INSTANTS = (
    "status_since",
    "access_expires_at",
    "refresh_expires_at",
    "hard_expiry",
    "last_login_at",
    "last_synced_at",
    "next_sync_at",
)


@dataclass
class User:
    id: str
    name: str
    email: str
    opt_out: bool = False


@dataclass
class Connection:
    """One connected account, in acme's words (``status`` is acme's own state word)."""

    name: str
    provider: str
    kind: str
    status: str
    sync_every: timedelta
    reason: str | None = None
    status_since: datetime | None = None
    connected_by: str | None = None
    account_id: str | None = None
    """The provider's id of the person whose login the connection uses."""
    resource_id: str | None = None
    """What the sync reads: a Facebook Page, a LinkedIn organization, an X user."""
    resource_name: str | None = None
    access_token: str | None = None
    access_expires_at: datetime | None = None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None
    hard_expiry: datetime | None = None
    """When the connection dies whatever acme does (no refresh can save it)."""
    scopes: str = ""
    last_login_at: datetime | None = None
    last_synced_at: datetime | None = None
    next_sync_at: datetime | None = None
    incident_mailed: bool = False
    """Whether this incident's 'needs attention' email went out (one per incident)."""


@dataclass
class PendingLogin:
    state: str
    connection: str
    provider: str
    kind: str
    user_id: str
    action: str
    verifier: str | None
    sync_every: timedelta | None
    created_at: datetime


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: no fsync per commit
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- the company ----------------------------------------------------------------------
    def set_users(self, users: list[User]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM users")
            self.db.executemany(
                "INSERT INTO users (id, name, email, opt_out, position) VALUES (?, ?, ?, ?, ?)",
                [(u.id, u.name, u.email, int(u.opt_out), i) for i, u in enumerate(users)],
            )

    def users(self) -> list[User]:
        rows = self.db.execute("SELECT * FROM users ORDER BY position").fetchall()
        return [User(r["id"], r["name"], r["email"], bool(r["opt_out"])) for r in rows]

    # -- connections ----------------------------------------------------------------------
    def save(self, conn: Connection) -> None:
        values: dict[str, Any] = {}
        for f in fields(conn):
            value = getattr(conn, f.name)
            if f.name in _INSTANTS:
                value = iso(value)
            elif f.name == "sync_every":
                value = int(value.total_seconds())
            elif f.name == "incident_mailed":
                value = int(value)
            values[f.name] = value
        names = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        updates = ", ".join(f"{k} = excluded.{k}" for k in values if k != "name")
        self.db.execute(
            f"INSERT INTO connections ({names}) VALUES ({marks}) "
            f"ON CONFLICT(name) DO UPDATE SET {updates}",
            values,
        )

    def connection(self, name: str) -> Connection | None:
        row = self.db.execute("SELECT * FROM connections WHERE name = ?", (name,)).fetchone()
        return None if row is None else _connection(row)

    def connections(self) -> list[Connection]:
        rows = self.db.execute("SELECT * FROM connections ORDER BY name").fetchall()
        return [_connection(r) for r in rows]

    # -- pending logins -------------------------------------------------------------------
    def add_login(self, login: PendingLogin) -> None:
        self.db.execute(
            "INSERT INTO logins (state, connection, provider, kind, user_id, action, verifier, "
            "sync_every, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                login.state,
                login.connection,
                login.provider,
                login.kind,
                login.user_id,
                login.action,
                login.verifier,
                int(login.sync_every.total_seconds()) if login.sync_every else None,
                iso(login.created_at),
            ),
        )

    def pop_login(self, state: str) -> PendingLogin | None:
        row = self.db.execute("SELECT * FROM logins WHERE state = ?", (state,)).fetchone()
        if row is None:
            return None
        self.db.execute("DELETE FROM logins WHERE state = ?", (state,))
        every = row["sync_every"]
        return PendingLogin(
            row["state"],
            row["connection"],
            row["provider"],
            row["kind"],
            row["user_id"],
            row["action"],
            row["verifier"],
            timedelta(seconds=every) if every else None,
            parse_instant(row["created_at"]),
        )

    # -- reminders and emails -------------------------------------------------------------
    def reminder_sent(self, connection: str, expiry: datetime, days: int) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM reminders_sent WHERE connection = ? AND expiry = ? AND days = ?",
            (connection, iso(expiry), days),
        ).fetchone()
        return row is not None

    def mark_reminder(self, connection: str, expiry: datetime, days: int, at: datetime) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO reminders_sent (connection, expiry, days, sent_at) "
            "VALUES (?, ?, ?, ?)",
            (connection, iso(expiry), days, iso(at)),
        )

    def log_email(
        self, at: datetime, kind: str, connection: str, to: list[str], subject: str
    ) -> None:
        self.db.execute(
            "INSERT INTO emails (sent_at, kind, connection, recipients, subject) "
            "VALUES (?, ?, ?, ?, ?)",
            (iso(at), kind, connection, ",".join(to), subject),
        )


def _connection(row: sqlite3.Row) -> Connection:
    data = {k: row[k] for k in row.keys()}  # noqa: SIM118 (sqlite3.Row has no items())
    for key in _INSTANTS:
        data[key] = parse_instant(data[key]) if data[key] else None
    data["sync_every"] = timedelta(seconds=int(data["sync_every"]))
    data["incident_mailed"] = bool(data["incident_mailed"])
    return Connection(**data)
