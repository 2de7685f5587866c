"""Notifications: who is told what, when, through which channel.

What to send is a policy (:mod:`._policy`; the packaged default is the products' own):
expiry reminders at offsets before a connection's hard expiry, at a company-local time of
day; one email when a connection turns invalid, once per incident; a dashboard banner and
a settings-page message while a connection is expiring, expired or invalid. Reminders go
to every member of the company at send time except those who opted out; the invalid email
reaches everyone unless the policy lets the opt-out silence it. Reconnecting (or a
refresh that moves the hard expiry) cancels pending reminders and schedules new ones from
the new expiry; no reminder goes out for a connection that is invalid or disconnected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any, Protocol
from zoneinfo import ZoneInfo

from ._causes import why_text
from ._clock import PRIORITY_NOTIFY, Scheduler, Timer
from ._durations import format_instant
from ._lifecycle import State
from ._policy import Policy, PolicySet, default_policy
from ._records import BannerRecord, EmailIds, EmailRecord, Recorder, email_id
from ._templates import render_email

RECONNECT_LINK = "https://app.conntrack.test/connections/{connection}/reconnect"
_DAY = timedelta(days=1)
_UTC = ZoneInfo("UTC")


def policy_for(provider: str, kind: str, policy: PolicySet | None = None) -> Policy:
    """What a connection of ``provider`` and ``kind`` gets under ``policy`` (default:
    the packaged one)."""
    return (policy or default_policy()).for_(provider, kind)


def reminder_instant(expiry: datetime, offset: timedelta, tz: ZoneInfo, send_at: time) -> datetime:
    """When the reminder ``offset`` before ``expiry`` goes out.

    A whole number of days is calendar days in the company's zone: the local date of the
    expiry minus ``offset``, at ``send_at`` local time (DST-correct: the wall-clock time
    is kept across a change); never later than the expiry itself ("on the day" of an
    expiry before ``send_at`` goes out at the expiry). Any other offset is exact.
    """
    if offset % _DAY:
        return expiry - offset
    if tz is _UTC:  # the common case, without zone arithmetic
        day = expiry.replace(hour=send_at.hour, minute=send_at.minute, second=0, microsecond=0)
        return min(day - offset, expiry)
    local_day = expiry.astimezone(tz).date() - timedelta(days=offset // _DAY)
    wall = datetime.combine(local_day, send_at, tzinfo=tz)
    # A wall time that does not exist (inside a spring-forward gap) moves forward.
    instant = wall.astimezone(UTC)
    return min(instant, expiry)


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
    """Appends one JSON object a line; ``scenario`` names the scenario each email came
    from and ``run_id`` the run (``conntrack run``'s, random unless ``--run-id`` pins
    it). Each line holds the email's ``message_id`` (one is derived for an email
    without), which a later ``conntrack deliver`` sends again unchanged."""

    def __init__(self, stream: IO[str], scenario: str = "", run_id: str = "") -> None:
        self._stream = stream
        self.scenario = scenario
        self.run_id = run_id

    @classmethod
    def open(cls, path: str | Path) -> JsonlOutbox:
        return cls(Path(path).open("w", encoding="utf-8"))

    def deliver(self, email: EmailRecord) -> None:
        data = {"scenario": self.scenario, **asdict(email), "at": format_instant(email.at)}
        data["run_id"] = self.run_id
        data["message_id"] = email.message_id or email_id(email, self.scenario)
        self._stream.write(json.dumps(data, sort_keys=True) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def local_day(at: datetime | None, tz: ZoneInfo) -> str:
    """``2026-03-06`` in the company's zone."""
    return at.astimezone(tz).strftime("%Y-%m-%d") if at else "?"


def local_time(at: datetime, tz: ZoneInfo) -> str:
    """``Friday 6 March 2026, 09:59 CET`` in the company's zone."""
    local = at.astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def _banner_texts(
    subject: Subject, shows: str, reason: str | None, expiry: datetime | None, tz: ZoneInfo
) -> tuple[str, str]:
    """The dashboard banner's and the settings page's text for what a connection shows."""
    name = f"{subject.display_provider} · {subject.account}"
    day = local_day(expiry, tz)
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


def permissions_note(missing: dict[str, str]) -> str:
    """The settings page's note about a connection that works without optional
    permissions (``{permission: what is not collected without it}``), or ``""``:
    ``Connected without instagram_manage_insights: media insights (reach, views) are not
    collected; reconnect and grant it to get them``."""
    if not missing:
        return ""
    it = "it" if len(missing) == 1 else "them"
    effects = "; ".join(dict.fromkeys(missing.values()))
    return (
        f"Connected without {', '.join(missing)}: {effects}; reconnect and grant {it} to get them"
    )


#: What to do first for each reason the invalid email names, as the help centers of the
#: products in the field (the seeds) tell people; ``(family, reason)`` before ``reason``.
_FIRST_STEP: dict[tuple[str, str] | str, str] = {
    "checkpoint": "log in to {provider}, complete the security check it shows, then wait "
    "24 hours before you reconnect.",
    ("twitter", "locked"): "log in to X and unlock the account (X asks you to confirm it is "
    "yours), then reconnect.",
    "locked": "log in to {provider} and unlock the account, then reconnect.",
    ("twitter", "suspended"): "get the X account restored (appeal the suspension with X), "
    "then reconnect.",
    "suspended": "get the {provider} account restored, then reconnect.",
    ("linkedin", "admin_removed"): "reconnect with a LinkedIn profile that is a Designated "
    "Admin or Super Admin of the LinkedIn Page.",
    ("linkedin", "insufficient_access"): "reconnect with a LinkedIn profile that is a "
    "Designated Admin or Super Admin of the LinkedIn Page.",
    "admin_removed": "reconnect as someone who is still an admin of the Facebook Page, or "
    "ask a Page admin to give you the role back.",
    "insufficient_access": "reconnect with a {provider} account that manages {account}.",
    ("instagram", "not_eligible"): "switch the Instagram account to a Business or Creator "
    "account, link it to a Facebook Page, then reconnect.",
    ("google", "not_eligible"): "reconnect with a Google account that manages the YouTube channel.",
    ("google-business", "admin_removed"): "reconnect as someone who is still an owner or "
    "manager of the business in Google Business Profile, or ask an owner to add you back.",
    ("google-business", "not_eligible"): "reconnect with a Google account that owns or "
    "manages the business location in Google Business Profile.",
    "not_eligible": "reconnect with a {provider} account of a kind {provider} lets apps connect.",
    "permission_missing": "reconnect and grant every permission asked for (leave every box "
    "ticked).",
    "password_changed": "reconnect and log in to {provider} with the new password.",
    "access_revoked": "the app's access was removed in {provider}; reconnect and allow it again.",
    "restricted": "log in to {provider} and follow what it asks to lift the restriction on "
    "the account, then reconnect.",
    "data_access_expired": "reconnect to renew the data access {provider} asks for every 90 days.",
    "refresh_failed": "reconnect to renew the access.",
    "unknown": "reconnect; if that fails, log in to {provider} and see what it asks for.",
}


def first_step(provider: str, display_provider: str, account: str, reason: str) -> str:
    """What the invalid email tells people to do first for ``reason`` on ``provider``
    (a profile id like ``instagram-facebook``): the profile's own advice, else its
    family's (the part before ``-``), else the reason's."""
    family = provider.split("-")[0]
    text = (
        _FIRST_STEP.get((provider, reason))
        or _FIRST_STEP.get((family, reason))
        or _FIRST_STEP.get(reason)
        or _FIRST_STEP["unknown"]
    )
    return text.format(provider=display_provider, account=account)


def _when(offset: timedelta) -> str:
    if offset % _DAY:
        hours = int(offset.total_seconds() // 3600)
        return f"in {hours} hours"
    days = offset // _DAY
    if days == 0:
        return "today"
    return "tomorrow" if days == 1 else f"in {days} days"


class Notifier:
    """Schedules reminders on the scheduler, sends emails through the outboxes and keeps
    what the product's pages show (banner, settings message) as records."""

    def __init__(
        self,
        scheduler: Scheduler,
        recorder: Recorder,
        users: Sequence[User],
        outboxes: Sequence[Outbox],
        state_of: Callable[[str], str],
        policies: dict[tuple[str, str], Policy] | None = None,
        *,
        tz: ZoneInfo | None = None,
        send_at: time = time(9, 0),
        on_send: Callable[[Subject, str, datetime], None] | None = None,
        run: str | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.recorder = recorder
        self.users = list(users)
        """The company's members now, in the order they joined."""
        self.outboxes = list(outboxes)
        self.state_of = state_of
        self.policies = policies or {}
        """The policy of each (provider, kind); others get :func:`policy_for`'s."""
        self.tz = tz or ZoneInfo("UTC")
        self.send_at = send_at
        self.on_send = on_send
        """Called after each send (subject, kind, instant): how people react to it."""
        self._email_id = EmailIds(run)
        self.run = self._email_id.run
        """The run's name (its run id, the scenario's name and seed: ``run_name``), part
        of every email's id (``email_id``); without one, a run of its own (a random run
        id), so that a product's notifier never sends two runs' emails under one id."""
        self._pending: dict[str, list[Timer]] = {}
        self._shown: dict[str, tuple[str, str, str]] = {}
        self._facts: dict[str, tuple[str, str | None, datetime | None]] = {}
        self._notes: dict[str, str] = {}
        """What a connected connection works without (optional permissions declined)."""

    def _policy(self, subject: Subject) -> Policy:
        found = self.policies.get((subject.provider, subject.kind))
        return found if found is not None else policy_for(subject.provider, subject.kind)

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

    def permissions_missing(self, subject: Subject, note: str) -> None:
        """The connection works without some optional permissions: its settings page
        says ``note`` (:func:`permissions_note`) while it is connected; ``""``: it has
        them all. No banner and no email: the connection works (Traackr: the optional
        permission "won't affect the connection")."""
        if note:
            self._notes[subject.connection] = note
        else:
            self._notes.pop(subject.connection, None)
        self._banner(subject)

    def _banner(self, subject: Subject) -> None:
        fact = self._facts.get(subject.connection)
        if fact is None:
            return
        state, reason, expiry = fact
        now = self.scheduler.clock.now()
        policy = self._policy(subject)
        advance = policy.banner_advance
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
        dashboard, settings = _banner_texts(subject, shows, reason, expiry, self.tz)
        invalid = shows == "invalid"
        if not (policy.invalid_banner if invalid else policy.banner):
            dashboard = ""
        if not (policy.invalid_settings if invalid else policy.settings):
            settings = ""
        if not dashboard and not settings:
            shows = "none"
        note = self._notes.get(subject.connection)
        if note and state in (State.CONNECTED, State.RECONNECTED, State.EXPIRING):
            settings = f"{settings}. {note}" if settings else note
        shown = (shows, dashboard, settings)
        if self._shown.get(subject.connection, ("none", "", "")) == shown:
            return
        self._shown[subject.connection] = shown
        self.recorder.add(BannerRecord(now, subject.connection, shows, dashboard, settings))

    # -- reminders ----------------------------------------------------------------------

    def expiry_known(self, subject: Subject, hard_expiry: datetime | None) -> None:
        """The connection's hard expiry is (now) ``hard_expiry``: reschedule reminders."""
        self.cancel(subject.connection)
        if hard_expiry is None:
            return
        now = self.scheduler.clock.now()
        policy = self._policy(subject)
        timers = []
        if policy.reminder_email:
            for offset in policy.reminders:
                when = reminder_instant(hard_expiry, offset, self.tz, self.send_at)
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
        advance = policy.banner_advance
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
        recipients = [u for u in self.users if not u.opted_out]
        subj, body = render_email(
            "expiry_reminder",
            provider=subject.display_provider,
            account=subject.account,
            when=_when(offset),
            expires=local_time(expiry, self.tz),
            expires_day=local_day(expiry, self.tz),
            link=RECONNECT_LINK.format(connection=subject.connection),
        )
        self._send(
            "expiry_reminder",
            subject,
            recipients,
            subj,
            body,
            {
                "expires_at": format_instant(expiry),
                "days_before": offset.days,
                "offset": int(offset.total_seconds()),
            },
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
        subj, body = render_email(
            "invalid",
            provider=subject.display_provider,
            account=subject.account,
            reason=reason.replace("_", " "),
            first_step=first_step(
                subject.provider, subject.display_provider, subject.account, reason
            ),
            why=why_text(subject.provider, subject.display_provider, reason),
            link=RECONNECT_LINK.format(connection=subject.connection),
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
            email = replace(email, message_id=self._email_id(email))
            self.recorder.add(email)
            for outbox in self.outboxes:
                outbox.deliver(email)
        if recipients and self.on_send is not None:
            self.on_send(subject, kind, at)
