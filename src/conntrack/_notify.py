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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any, Protocol

from ._clock import PRIORITY_NOTIFY, Scheduler, Timer
from ._durations import format_instant
from ._lifecycle import State
from ._records import BannerRecord, EmailRecord, Recorder

RECONNECT_LINK = "https://app.conntrack.test/connections/{connection}/reconnect"


@dataclass(frozen=True)
class Policy:
    """When to remind, for one kind of connection."""

    reminders: tuple[timedelta, ...] = ()
    """Offsets before the hard expiry; ``0`` is "on the day"."""
    invalid_email: bool = True
    opt_out_silences_invalid: bool = False
    banner_advance: timedelta | None = None
    """Show the "expires soon" banner this long before the hard expiry even while the
    connection is still ``connected`` ("advance notice"); ``None``: from ``expiring`` on."""


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


def _banner_texts(
    subject: Subject, shows: str, reason: str | None, expiry: datetime | None
) -> tuple[str, str]:
    """The dashboard banner's and the settings page's text for what a connection shows."""
    name = f"{subject.display_provider} · {subject.account}"
    day = expiry.strftime("%Y-%m-%d") if expiry else "?"
    why = (reason or "unknown").replace("_", " ")
    if shows == "expiring":
        return (
            f"{name}: the connection expires on {day}. Reconnect now to keep your data syncing.",
            f"Expires on {day} — Reconnect",
        )
    if shows == "expired":
        return (
            f"{name}: the connection expired on {day}. Reconnect to resume syncing.",
            f"Expired on {day} — Reconnect",
        )
    if shows == "invalid":
        return (
            f"{name}: the connection stopped working ({why}). Reconnect to resume syncing.",
            f"Needs reconnecting: {why} — Reconnect",
        )
    return "", ""


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
        """The company's members now, in the order they joined."""
        self.outboxes = list(outboxes)
        self.state_of = state_of
        self.policies = policies if policies is not None else DEFAULT_POLICIES
        self._pending: dict[str, list[Timer]] = {}
        self._shown: dict[str, tuple[str, str, str]] = {}
        self._facts: dict[str, tuple[str, str | None, datetime | None]] = {}

    # -- the company's people ------------------------------------------------------------

    def user_joined(self, user: User) -> None:
        """A new member: gets the next email (reminders unless opted out)."""
        if all(u.id != user.id for u in self.users):
            self.users.append(user)

    def user_left(self, user_id: str) -> None:
        """A member left the company: no email reaches them any more."""
        self.users = [u for u in self.users if u.id != user_id]

    def set_opt_out(self, user_id: str, opted_out: bool) -> None:
        self.users = [replace(u, opted_out=opted_out) if u.id == user_id else u for u in self.users]

    # -- banners and settings messages -------------------------------------------------

    def state_changed(
        self, subject: Subject, state: str, reason: str | None, expiry: datetime | None
    ) -> None:
        """The connection is (now) in ``state``: update what the product's pages show."""
        old = self._facts.get(subject.connection)
        if state == State.INVALID and reason is None and old is not None:
            reason = old[1]  # the same incident, seen again
        self._facts[subject.connection] = (state, reason, expiry)
        self._banner(subject)

    def _banner(self, subject: Subject) -> None:
        fact = self._facts.get(subject.connection)
        if fact is None:
            return
        state, reason, expiry = fact
        now = self.scheduler.clock.now()
        advance = self._policy(subject).banner_advance
        shows = "none"
        if state in (State.EXPIRING, State.EXPIRED, State.INVALID):
            shows = str(state)
        elif (
            state in (State.CONNECTED, State.RECONNECTED)
            and advance is not None
            and expiry is not None
            and now >= expiry - advance
        ):
            shows = "expiring"
        dashboard, settings = _banner_texts(subject, shows, reason, expiry)
        shown = (shows, dashboard, settings)
        if self._shown.get(subject.connection, ("none", "", "")) == shown:
            return
        self._shown[subject.connection] = shown
        self.recorder.add(BannerRecord(now, subject.connection, shows, dashboard, settings))

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
        advance = self._policy(subject).banner_advance
        if advance is not None and hard_expiry - advance > now:
            timers.append(
                self.scheduler.call_at(
                    hard_expiry - advance,
                    partial(self._banner, subject),
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
