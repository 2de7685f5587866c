"""Notifications: who is told what, when, through which outbox.

The spine's policy is the owned-Facebook one of the products in the field: expiry
reminders 10, 5 and 1 days before the hard expiry and on the day, and one email when a
connection turns invalid. Reminders go to every user of the company except those who
opted out; the invalid-connection email reaches everyone (an opt-out covers reminders).
Reconnecting cancels pending reminders and schedules new ones from the new expiry; no
reminder goes out for a connection that is invalid or disconnected at send time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any, Protocol

from ._clock import PRIORITY_NOTIFY, Scheduler, Timer
from ._durations import format_instant
from ._lifecycle import State
from ._records import EmailRecord, Recorder

RECONNECT_LINK = "https://app.conntrack.test/connections/{connection}/reconnect"


@dataclass(frozen=True)
class Policy:
    """When to remind, for one kind of connection."""

    reminders: tuple[timedelta, ...] = ()
    """Offsets before the hard expiry; ``0`` is "on the day"."""
    invalid_email: bool = True
    opt_out_silences_invalid: bool = False


_DAY = timedelta(days=1)
_OWNED = Policy(reminders=(10 * _DAY, 5 * _DAY, 1 * _DAY, 0 * _DAY))
DEFAULT_POLICIES: dict[tuple[str, str], Policy] = {
    ("facebook", "monitored"): Policy(reminders=(10 * _DAY,)),
    ("instagram", "monitored"): Policy(reminders=(10 * _DAY, 1 * _DAY, 0 * _DAY)),
    ("instagram-facebook", "monitored"): Policy(reminders=(10 * _DAY, 1 * _DAY, 0 * _DAY)),
    # Twitter/X tokens do not expire: only the invalid-connection email.
    ("twitter", "owned"): Policy(),
    ("twitter", "monitored"): Policy(),
}
"""Exceptions to the rule; every other connection gets reminders 10, 5, 1 days before
its hard expiry and on the day (a connection that never expires gets none)."""


def policy_for(provider: str, kind: str) -> Policy:
    return DEFAULT_POLICIES.get((provider, kind), _OWNED)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    opted_out: bool = False


@dataclass(frozen=True)
class Subject:
    """What an email is about: a connection as the product names it."""

    connection: str
    provider: str
    kind: str
    account: str
    display_provider: str


class Outbox(Protocol):
    def deliver(self, email: EmailRecord) -> None: ...


@dataclass
class MemoryOutbox:
    emails: list[EmailRecord] = field(default_factory=list)

    def deliver(self, email: EmailRecord) -> None:
        self.emails.append(email)


class JsonlOutbox:
    """Appends one JSON object a line; ``scenario`` names the run each email came from."""

    def __init__(self, stream: IO[str], scenario: str = "") -> None:
        self._stream = stream
        self.scenario = scenario

    @classmethod
    def open(cls, path: str | Path) -> JsonlOutbox:
        return cls(Path(path).open("w", encoding="utf-8"))

    def deliver(self, email: EmailRecord) -> None:
        data = {"scenario": self.scenario, **asdict(email), "at": format_instant(email.at)}
        self._stream.write(json.dumps(data, sort_keys=True) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def _when(offset: timedelta) -> str:
    days = int(offset / _DAY)
    if days == 0:
        return "today"
    return "tomorrow" if days == 1 else f"in {days} days"


class Notifier:
    """Schedules reminders on the scheduler and sends emails through the outboxes."""

    def __init__(
        self,
        scheduler: Scheduler,
        recorder: Recorder,
        users: Sequence[User],
        outboxes: Sequence[Outbox],
        state_of: Callable[[str], str],
        policies: dict[tuple[str, str], Policy] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.recorder = recorder
        self.users = list(users)
        self.outboxes = list(outboxes)
        self.state_of = state_of
        self.policies = policies if policies is not None else DEFAULT_POLICIES
        self._pending: dict[str, list[Timer]] = {}

    def _policy(self, subject: Subject) -> Policy:
        return self.policies.get((subject.provider, subject.kind), Policy())

    def expiry_known(self, subject: Subject, hard_expiry: datetime | None) -> None:
        """The connection's hard expiry is (now) ``hard_expiry``: reschedule reminders."""
        self.cancel(subject.connection)
        if hard_expiry is None:
            return
        now = self.scheduler.clock.now()
        timers = []
        for offset in self._policy(subject).reminders:
            when = hard_expiry - offset
            if when < now:
                continue
            timers.append(
                self.scheduler.call_at(
                    when,
                    partial(self._remind, subject, hard_expiry, offset),
                    priority=PRIORITY_NOTIFY,
                    key=subject.connection,
                )
            )
        self._pending[subject.connection] = timers

    def cancel(self, connection: str) -> None:
        for timer in self._pending.pop(connection, []):
            self.scheduler.cancel(timer)

    def _remind(self, subject: Subject, expiry: datetime, offset: timedelta) -> None:
        if self.state_of(subject.connection) in (State.INVALID, State.DISCONNECTED):
            return
        when = _when(offset)
        subj = f"Your {subject.display_provider} connection {subject.account} expires {when}"
        body = (
            f"The {subject.display_provider} account {subject.account} stops syncing on "
            f"{format_instant(expiry)} unless someone reconnects it.\n"
            f"Reconnect: {RECONNECT_LINK.format(connection=subject.connection)}\n"
        )
        recipients = [u for u in self.users if not u.opted_out]
        self._send(
            "expiry_reminder",
            subject,
            recipients,
            subj,
            body,
            {"expires_at": format_instant(expiry), "days_before": offset.days},
        )

    def turned_invalid(self, subject: Subject, reason: str) -> None:
        """The connection turned invalid: one email to the company, once per incident."""
        self.cancel(subject.connection)
        policy = self._policy(subject)
        if not policy.invalid_email:
            return
        recipients = [
            u for u in self.users if not (u.opted_out and policy.opt_out_silences_invalid)
        ]
        subj = f"Your {subject.display_provider} connection {subject.account} needs attention"
        body = (
            f"{subject.display_provider} no longer accepts the connection to "
            f"{subject.account} ({reason.replace('_', ' ')}). Nothing syncs until someone "
            f"reconnects it.\nReconnect: {RECONNECT_LINK.format(connection=subject.connection)}\n"
        )
        self._send("invalid", subject, recipients, subj, body, {"reason": reason})

    def _send(
        self,
        kind: str,
        subject: Subject,
        recipients: Sequence[User],
        subj: str,
        body: str,
        detail: dict[str, Any],
    ) -> None:
        at = self.scheduler.clock.now()
        for user in recipients:
            email = EmailRecord(
                at=at,
                kind=kind,
                about=subject.connection,
                to=user.id,
                address=user.email,
                subject=subj,
                body=body,
                detail=detail,
            )
            self.recorder.add(email)
            for outbox in self.outboxes:
                outbox.deliver(email)
