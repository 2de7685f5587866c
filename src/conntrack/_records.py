"""What a run records: transitions, emails, world events, sync errors, data gaps.

The :class:`Recorder` keeps records in the order they happened; the scheduler makes that
order deterministic. The :class:`Timeline` is the read side: records sorted by instant
(then by a stable key), with helpers that answer the expectations' questions.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._causes import CAUSE_EVENTS as _CAUSE_EVENTS
from ._lifecycle import State, TransitionRecord


@dataclass(frozen=True)
class EmailRecord:
    """One email to one recipient."""

    at: datetime
    kind: str
    about: str
    to: str
    address: str
    subject: str
    body: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    message_id: str = field(default="", compare=False)
    """``<32 hex digits@conntrack.test>``, unique to this email of this run (:func:`email_id`,
    from the run id): the ``Message-ID`` and the webhook's ``Idempotency-Key``. Empty for
    an email made by hand; the outboxes and sinks then derive one. Not part of equality:
    the same email is the same whatever id a run gave it."""


MAX_RUN_ID = 128
"""The longest run id (characters) ``--run-id`` takes."""


def new_run_id() -> str:
    """A fresh random run id (a UUID4): every run is other emails with other ids."""
    return str(uuid.uuid4())


def run_id_problem(run_id: str) -> str | None:
    """What is wrong with a run id given by hand (``--run-id``), ``None`` when nothing:
    1 to :data:`MAX_RUN_ID` printable characters (no line break, tab, escape or control
    character, nothing undecodable), not blank and without spaces around it, so that it
    reads the same in the JSON report and the outbox as on the command line."""
    shown = repr(run_id) if len(run_id) <= 40 else f"{run_id[:40]!r}… ({len(run_id)} characters)"
    if not run_id.strip():
        return f"must be 1 to {MAX_RUN_ID} printable characters, got {shown}"
    if len(run_id) > MAX_RUN_ID:
        return f"must be at most {MAX_RUN_ID} characters, got {shown}"
    if not run_id.isprintable():
        return (
            f"must be 1 to {MAX_RUN_ID} printable characters (no line break, tab, escape or "
            f"control character), got {shown}"
        )
    if run_id != run_id.strip():
        return f"must not start or end with a space (1 to {MAX_RUN_ID} characters), got {shown}"
    return None


def check_run_id(run_id: str) -> str:
    """``run_id`` when it is a good one; raises ``ValueError`` saying what is wrong."""
    problem = run_id_problem(run_id)
    if problem is not None:
        raise ValueError(f"the run id {problem}")
    return run_id


def email_id(email: EmailRecord, run: str = "", repeat: int = 0) -> str:
    """``<32 hex digits@conntrack.test>``: a SHA-256 of the ``run`` (its name: the run id,
    the scenario's name and seed, see ``scenario._runner.run_name``), the email's instant,
    kind, connection, recipient and address, and ``repeat`` (how many emails with all of
    those the run sent before).

    Distinct for every email of a run and between runs: the run id is random unless a
    user pins it, so running the same scenario and seed again sends new messages under
    new ids (RFC 5322 §3.6.4: a Message-ID is unique to its message) and a receiver that
    drops repeats by id loses none of them. The same ``run`` (a pinned run id) gives the
    same ids again, on purpose. An email made by hand (``run`` empty) gets the id of its
    fields alone, the same each time: it is the same message, delivered again."""
    at = email.at.astimezone(UTC) if email.at.tzinfo else email.at.replace(tzinfo=UTC)
    parts = (run, at.isoformat(), email.kind, email.about, email.to, email.address)
    key = "\0".join((*parts, str(repeat))) if repeat else "\0".join(parts)
    return (
        f"<{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}@conntrack.test>"
    )


class EmailIds:
    """Numbers a run's emails as they are sent (:func:`email_id`): a second email with
    the same instant, kind, connection, recipient and address counts as a repeat and
    gets an id of its own. Repeats are counted for the current instant only (the
    instant is part of the id), so memory stays flat over a run. ``run`` names the run
    (its run id first); without one, the ids are those of a run of its own (a fresh
    random run id), never those of another run."""

    def __init__(self, run: str | None = None) -> None:
        self.run = new_run_id() if run is None else run
        self._at: datetime | None = None
        self._seen: Counter[str] = Counter()

    def __call__(self, email: EmailRecord) -> str:
        if email.at != self._at:
            self._at, self._seen = email.at, Counter()
        first = email_id(email, self.run)
        repeat = self._seen[first]
        self._seen[first] += 1
        return first if repeat == 0 else email_id(email, self.run, repeat)


@dataclass(frozen=True)
class EventRecord:
    """Something the world did: an account event, a user's action."""

    at: datetime
    connection: str
    event: str
    by: str | None = None
    detail: str = ""
    cause: str = ""
    """Why the provider acted (a word of :data:`conntrack._causes.CAUSES`, from the
    scenario's ``cause:``), ``""`` when not said; ``detail`` then says it in words."""


@dataclass(frozen=True)
class SyncErrorRecord:
    """A sync that failed; transient errors (retry) keep the connection's state."""

    at: datetime
    connection: str
    status: int
    code: str
    action: str
    message: str
    step: str = "sync"
    """What failed: the ``sync`` read, or a token ``refresh``."""


@dataclass(frozen=True)
class BannerRecord:
    """What the product shows about a connection from ``at`` on, until the next one.

    ``shows`` is ``expiring``, ``expired``, ``invalid`` or ``none`` (nothing shown);
    ``dashboard`` is the in-app banner's text and ``settings`` the message on the
    connection's settings page (both empty when ``shows`` is ``none``, but for a
    working connection's note: "Connected without instagram_manage_insights: …").
    """

    at: datetime
    connection: str
    shows: str
    dashboard: str = ""
    settings: str = ""


@dataclass
class Gap:
    """A stretch of time in which a connection synced no data."""

    connection: str
    start: datetime
    end: datetime | None = None

    def length(self, until: datetime) -> timedelta:
        return (self.end or until) - self.start


Record = TransitionRecord | EmailRecord | EventRecord | SyncErrorRecord | BannerRecord


def record_kind(rec: Record) -> str:
    return {
        TransitionRecord: "transition",
        EmailRecord: "email",
        EventRecord: "event",
        SyncErrorRecord: "sync_error",
        BannerRecord: "banner",
    }[type(rec)]


def record_dict(rec: Record) -> dict[str, Any]:
    d = {"type": record_kind(rec), **asdict(rec)}
    return d


@dataclass
class SyncCounts:
    ok: int = 0
    elided: int = 0
    failed: int = 0
    refreshed: int = 0


class Recorder:
    """Collects everything a run did, in the order it happened."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.gaps: dict[str, list[Gap]] = {}
        self.syncs: dict[str, SyncCounts] = {}
        self.initial: dict[str, tuple[datetime, str]] = {}

    def add(self, rec: Record) -> None:
        self.records.append(rec)

    def connected(self, connection: str, at: datetime) -> None:
        self.initial.setdefault(connection, (at, State.CONNECTED.value))

    def sync_ok(self, connection: str, at: datetime, *, elided: bool = False) -> None:
        counts = self.syncs.setdefault(connection, SyncCounts())
        if elided:
            counts.elided += 1
        else:
            counts.ok += 1
        gaps = self.gaps.get(connection)
        if gaps and gaps[-1].end is None:
            gaps[-1].end = at

    def syncs_elided(self, connection: str, first: datetime, count: int) -> None:
        """``count`` elided syncs, the first at ``first``: what ``count`` calls of
        ``sync_ok(..., elided=True)`` record (a connection that slept through them,
        :mod:`conntrack._dozing`)."""
        if count > 0:
            self.sync_ok(connection, first, elided=True)
            self.syncs[connection].elided += count - 1

    def refreshed(self, connection: str, at: datetime) -> None:
        self.syncs.setdefault(connection, SyncCounts()).refreshed += 1

    def sync_failed(self, rec: SyncErrorRecord, *, opens_gap: bool) -> None:
        self.syncs.setdefault(rec.connection, SyncCounts()).failed += 1
        self.add(rec)
        if opens_gap:
            self.open_gap(rec.connection, rec.at)

    def open_gap(self, connection: str, at: datetime) -> None:
        gaps = self.gaps.setdefault(connection, [])
        if not gaps or gaps[-1].end is not None:
            gaps.append(Gap(connection, at))


def _incident_causes(records: list[Record]) -> dict[int, EventRecord]:
    """Which records (by ``id``) an event with a ``cause`` led to: the next transition of
    its connection to ``invalid`` for that event's reason (a ``checkpoint`` leads to
    ``invalid (checkpoint)``), and the invalid emails until the connection leaves
    ``invalid``. A provider's answer never says why (:mod:`conntrack._causes`), so this
    ties them on the world's side, for a product's records as for the model's. A later
    event of the same kind without a cause replaces it."""
    pending: dict[tuple[str, str], EventRecord] = {}
    current: dict[str, EventRecord] = {}
    found: dict[int, EventRecord] = {}
    for rec in records:
        if isinstance(rec, EventRecord):
            if rec.event in _CAUSE_EVENTS:
                pending[rec.connection, rec.event] = rec
        elif isinstance(rec, TransitionRecord):
            current.pop(rec.connection, None)
            event = pending.pop((rec.connection, rec.reason or ""), None)
            if rec.dest == State.INVALID.value and event is not None and event.cause:
                current[rec.connection] = found[id(rec)] = event
        elif isinstance(rec, EmailRecord) and rec.kind == "invalid" and rec.about in current:
            found[id(rec)] = current[rec.about]
    return found


class Timeline:
    """Read-only view of a finished run."""

    def __init__(self, recorder: Recorder, start: datetime, until: datetime) -> None:
        self.start = start
        self.until = until
        # Stable order: by instant, then the order of happening (already deterministic).
        self.records = sorted(enumerate(recorder.records), key=lambda pair: (pair[1].at, pair[0]))
        self.records_only: list[Record] = [r for _, r in self.records]
        self.gaps = recorder.gaps
        self.syncs = recorder.syncs
        self.initial = recorder.initial
        self._causes = _incident_causes(self.records_only)

    def cause_of(self, rec: Record) -> EventRecord | None:
        """The world event whose ``cause:`` led to ``rec`` (the connection turning
        invalid, or the invalid-connection email of that incident), ``None`` if none."""
        return self._causes.get(id(rec))

    def transitions(self, connection: str | None = None) -> list[TransitionRecord]:
        return [
            r
            for r in self.records_only
            if isinstance(r, TransitionRecord) and connection in (None, r.connection)
        ]

    def emails(self, kind: str | None = None, about: str | None = None) -> list[EmailRecord]:
        return [
            r
            for r in self.records_only
            if isinstance(r, EmailRecord) and kind in (None, r.kind) and about in (None, r.about)
        ]

    def state_at(self, connection: str, at: datetime) -> tuple[str | None, str | None]:
        """The connection's state and reason at ``at`` (after everything due at ``at``)."""
        first = self.initial.get(connection)
        if first is None or first[0] > at:
            return None, None
        state, reason = first[1], None
        for t in self.transitions(connection):
            if t.at > at:
                break
            state, reason = t.dest, t.reason
        return state, reason

    def around(self, at: datetime, connection: str | None = None, span: int = 6) -> list[Record]:
        """Up to ``span`` records either side of ``at`` (for a failed expectation)."""
        recs = [
            r
            for r in self.records_only
            if connection is None
            or getattr(r, "connection", getattr(r, "about", None)) == connection
        ]
        idx = next((i for i, r in enumerate(recs) if r.at > at), len(recs))
        return recs[max(0, idx - span) : idx + span]
