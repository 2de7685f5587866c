"""acme's connection logic on its virtual clock: logins, syncs, refreshes, expiry,
reminders and what the dashboard shows.

Everything reads :meth:`Engine.now`, a clock that only the test protocol moves
(``POST /_test/clock``). :meth:`Engine.advance` runs every job that falls due up to the
new instant, in time order (at one instant: reminders, then the "expires soon" notice,
then the expiry, then syncs), each at its own instant, and answers when acme next has
something to do.

acme's states: ``active``, ``expires_soon`` (10 days before the hard expiry of a
connection acme reminds of; one it sends no reminder about stays ``active`` until it
expires), ``expired``, ``needs_reconnect`` (with a reason) and ``disconnected``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from . import texts
from .mail import Mailer, local_day
from .providers import base as pb
from .providers.base import Provider
from .settings import Settings, iso, parse_instant
from .store import Connection, PendingLogin, Store, User

log = logging.getLogger("acme")

ACTIVE = "active"
EXPIRES_SOON = "expires_soon"
EXPIRED = "expired"
NEEDS_RECONNECT = "needs_reconnect"
DISCONNECTED = "disconnected"
LIVE = (ACTIVE, EXPIRES_SOON)

NOTICE = timedelta(days=10)
SEND_AT = time(9, 0)
#: Reminder days before expiry, as acme's notification settings have them: what the
#: products in the field promise (conntrack's packaged policy `default`): owned and paid
#: Facebook, owned LinkedIn 10, 5, 1 and 0 days; monitored Facebook 10 days; monitored
#: and paid LinkedIn and X none.
REMINDERS = {
    ("facebook", "monitored"): (10,),
    ("linkedin", "monitored"): (),
    ("linkedin", "paid"): (),
    ("twitter", "*"): (),
}
DEFAULT_REMINDERS = (10, 5, 1, 0)

# Order of jobs due at one instant.
_REMIND, _NOTICE, _EXPIRE, _SYNC = range(4)


class ClockError(Exception):
    """The clock was asked to go back."""


class LoginError(Exception):
    """A login request acme cannot start (unknown provider...)."""


@dataclass(frozen=True)
class Job:
    at: datetime
    order: int
    connection: str
    days: int = 0


def reminder_days(provider: str, kind: str) -> tuple[int, ...]:
    for key in ((provider, kind), (provider, "*")):
        if key in REMINDERS:
            return REMINDERS[key]
    return DEFAULT_REMINDERS


def noticed(conn: Connection) -> bool:
    """Whether acme shows the connection's expiry coming (``expires_soon``): only for a
    connection it reminds of, so the page never says less than the emails."""
    return bool(reminder_days(conn.provider, conn.kind))


def reminder_at(expiry: datetime, days: int, tz: ZoneInfo) -> datetime:
    """``days`` before the expiry's local date, at 09:00 local; never after the expiry."""
    day = expiry.astimezone(tz).date() - timedelta(days=days)
    wall = datetime.combine(day, SEND_AT, tzinfo=tz)
    return min(wall.astimezone(UTC), expiry)


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        providers: dict[str, Provider],
        mailer: Mailer,
    ) -> None:
        self.settings = settings
        self.store = store
        self.providers = providers
        self.mailer = mailer
        saved = store.get_meta("now")
        self._now = parse_instant(saved) if saved else settings.start

    # -- the clock ---------------------------------------------------------------------
    def now(self) -> datetime:
        return self._now

    def _set_now(self, at: datetime) -> None:
        self._now = at
        self.store.set_meta("now", iso(at) or "")

    @property
    def tz(self) -> ZoneInfo:
        name = self.store.get_meta("timezone") or "UTC"
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    async def advance(self, to: datetime) -> datetime | None:
        """Run every job due up to ``to``; answer when the next one is due."""
        if to < self._now:
            raise ClockError(f"acme's clock is at {iso(self._now)}; it cannot go back to {iso(to)}")
        last: Job | None = None
        while True:
            job = self._next_job()
            if job is None or job.at > to:
                break
            if job == last:
                # A job that did not move itself on would run for ever: acme's bug.
                raise RuntimeError(f"job {job} is still due after it ran")
            last = job
            self._set_now(max(job.at, self._now))
            await self._run(job)
        self._set_now(to)
        job = self._next_job()
        return job.at if job else None

    def _next_job(self) -> Job | None:
        jobs = [j for c in self.store.connections() for j in self._jobs(c)]
        return min(jobs, key=lambda j: (j.at, j.order, j.connection), default=None)

    def _jobs(self, conn: Connection) -> list[Job]:
        if conn.status not in LIVE:
            return []
        jobs = []
        if conn.next_sync_at is not None:
            jobs.append(Job(conn.next_sync_at, _SYNC, conn.name))
        expiry = conn.hard_expiry
        if expiry is not None:
            jobs.append(Job(expiry, _EXPIRE, conn.name))
            if conn.status == ACTIVE and noticed(conn):
                jobs.append(Job(expiry - NOTICE, _NOTICE, conn.name))
            for days, at in self._reminders(conn):
                jobs.append(Job(at, _REMIND, conn.name, days))
        return jobs

    def _reminders(self, conn: Connection) -> list[tuple[int, datetime]]:
        """Reminders of the connection's expiry not sent yet and not before its login."""
        assert conn.hard_expiry is not None
        out = []
        for days in reminder_days(conn.provider, conn.kind):
            at = reminder_at(conn.hard_expiry, days, self.tz)
            if self.settings.bug("reminder_off_by_one_day"):
                at += timedelta(days=1)
            if conn.last_login_at is not None and at < conn.last_login_at:
                continue
            if not self.store.reminder_sent(conn.name, conn.hard_expiry, days):
                out.append((days, at))
        return out

    async def _run(self, job: Job) -> None:
        conn = self.store.connection(job.connection)
        if conn is None or conn.status not in LIVE:
            return
        if job.order == _REMIND:
            await self._remind(conn, job.days)
        elif job.order == _NOTICE:
            self._status(conn, EXPIRES_SOON)
        elif job.order == _EXPIRE:
            self._expire(conn, "the token's lifetime ended")
        else:
            try:
                await self._sync(conn)
            except httpx.HTTPError as e:
                # The provider did not answer at all: like an outage, retried next sync.
                log.warning("%s: %s unreachable: %s %s", conn.name, conn.provider,
                            type(e).__name__, e)  # fmt: skip
            except Exception:
                # An answer acme's code did not expect: logged, retried at the next sync
                # (the connection is not given up for acme's own bug).
                log.exception("%s: the sync failed unexpectedly", conn.name)
        self.store.save(conn)

    # -- state changes -----------------------------------------------------------------
    def _status(self, conn: Connection, status: str, reason: str | None = None) -> None:
        if conn.status != status or conn.reason != reason:
            conn.status, conn.reason, conn.status_since = status, reason, self._now

    def _expire(self, conn: Connection, why: str) -> None:
        log.info("%s expired: %s", conn.name, why)
        self._status(conn, EXPIRED)
        conn.next_sync_at = None

    async def _invalidate(self, conn: Connection, reason: str, why: str) -> None:
        log.info("%s needs a reconnect (%s): %s", conn.name, reason, why)
        self._status(conn, NEEDS_RECONNECT, reason)
        conn.next_sync_at = None
        if not conn.incident_mailed:
            conn.incident_mailed = True
            if not self.settings.bug("no_invalid_email"):
                why, step = self._explain(conn)
                await self.mailer.needs_attention(conn, why, step, self.store.users(), self._now)

    async def _remind(self, conn: Connection, days: int) -> None:
        assert conn.hard_expiry is not None
        self.store.mark_reminder(conn.name, conn.hard_expiry, days, self._now)
        users = self.store.users()
        if not self.settings.bug("reminders_to_opted_out"):
            users = [u for u in users if not u.opt_out]
        await self.mailer.reminder(conn, days, users, self._now, self.tz)

    # -- syncing and refreshing --------------------------------------------------------
    async def _sync(self, conn: Connection) -> None:
        provider = self.providers[conn.provider]
        conn.next_sync_at = self._now + conn.sync_every
        due = provider.refresh_due(conn)
        refresh_now = due is not None and self._now >= due
        if (
            refresh_now
            and not self.settings.bug("no_refresh")
            and not await self._refresh(conn, provider)
        ):
            return
        verdict = await provider.read(conn)
        if (
            verdict.action == pb.REFRESH
            and conn.refresh_token
            and not self.settings.bug("no_refresh")
        ):
            if not await self._refresh(conn, provider):
                return
            verdict = await provider.read(conn)
        await self._handle(conn, verdict)

    async def _handle(self, conn: Connection, verdict: pb.Verdict) -> None:
        if verdict.ok:
            conn.last_synced_at = self._now
        elif verdict.action in (pb.RETRY, pb.IGNORE):
            log.warning("%s: sync failed, retrying at the next sync: %s", conn.name, verdict.detail)
        elif verdict.action == pb.EXPIRED or (verdict.action == pb.REFRESH and not verdict.reason):
            self._expire(conn, verdict.detail)
        else:
            await self._invalidate(conn, verdict.reason or pb.UNKNOWN, verdict.detail)

    async def _refresh(self, conn: Connection, provider: Provider) -> bool:
        try:
            tokens = await provider.refresh(conn, self._now)
        except pb.RefreshFailed as e:
            await self._handle(conn, e.verdict)
            return False
        old_expiry = conn.hard_expiry
        self._take(conn, tokens)
        if (
            conn.status == EXPIRES_SOON
            and conn.hard_expiry != old_expiry
            and (conn.hard_expiry is None or conn.hard_expiry - NOTICE > self._now)
        ):
            self._status(conn, ACTIVE)
        return True

    @staticmethod
    def _take(conn: Connection, tokens: pb.Tokens) -> None:
        conn.access_token = tokens.access_token
        conn.access_expires_at = tokens.access_expires_at
        conn.refresh_token = tokens.refresh_token
        conn.refresh_expires_at = tokens.refresh_expires_at
        conn.hard_expiry = tokens.hard_expiry
        conn.scopes = ",".join(tokens.scopes)

    # -- the company -------------------------------------------------------------------
    def set_company(self, timezone: str, users: list[User]) -> None:
        ZoneInfo(timezone)  # raises for an unknown zone
        self.store.set_meta("timezone", timezone)
        self.store.set_users(users)

    # -- logins ------------------------------------------------------------------------
    def begin_login(
        self, name: str, provider: str, kind: str, user: str, action: str,
        sync_every: timedelta | None,
    ) -> str:  # fmt: skip
        if provider not in self.providers:
            raise LoginError(
                f"acme does not support {provider!r}; it supports {', '.join(self.providers)}"
            )
        integration = self.providers[provider]
        state = secrets.token_urlsafe(24)
        verifier = pb.pkce_verifier() if integration.needs_verifier() else None
        self.store.add_login(
            PendingLogin(state, name, provider, kind, user, action, verifier, sync_every, self._now)
        )
        return integration.authorize_url(state, verifier)

    async def finish_login(self, protocol: str, params: dict[str, str]) -> tuple[bool, str]:
        """The OAuth callback: ``(True, what)`` when acme took the login, else
        ``(False, why)``."""
        login = self.store.pop_login(params.get("state", ""))
        if login is None or login.provider != protocol:
            return False, "this login link is unknown or was already used; start again"
        if params.get("error"):
            why = params.get("error_description") or params.get("error_reason") or ""
            return False, f"{protocol} login cancelled or refused: {params['error']} {why}".strip()
        if not params.get("code"):
            return False, f"{protocol} sent no authorization code"
        previous = self.store.connection(login.connection)
        known = previous if previous is not None and previous.resource_id else None
        if login.action == "add" and known is not None and known.provider != protocol:
            known = None
        provider = self.providers[protocol]
        try:
            grant = await provider.connect(
                params["code"], login.verifier, known if login.action != "add" else None, self._now
            )
        except pb.LoginRefused as e:
            return False, str(e)
        except httpx.HTTPError as e:
            return False, f"acme could not reach {protocol}: {type(e).__name__} {e}"
        if login.action == "add" and known is not None and grant.resource_id != known.resource_id:
            log.info("%s: added again for another resource %s", login.connection, grant.resource_id)
        every = login.sync_every or (previous.sync_every if previous else None)
        conn = previous or Connection(
            name=login.connection,
            provider=protocol,
            kind=login.kind,
            status=ACTIVE,
            sync_every=every or self.settings.sync_interval(protocol, login.connection),
        )
        conn.provider, conn.kind = protocol, login.kind
        if every:
            conn.sync_every = every
        self._take(conn, grant.tokens)
        conn.account_id = grant.account_id
        conn.resource_id, conn.resource_name = grant.resource_id, grant.resource_name
        conn.connected_by = login.user_id
        conn.last_login_at = self._now
        if grant.synced:
            conn.last_synced_at = self._now
        conn.next_sync_at = self._now + conn.sync_every
        conn.incident_mailed = False
        soon = (
            noticed(conn)
            and conn.hard_expiry is not None
            and conn.hard_expiry - NOTICE <= self._now
        )
        self._status(conn, EXPIRES_SOON if soon else ACTIVE)
        if previous is None:
            conn.status_since = self._now
        self.store.save(conn)
        return True, f"{grant.resource_name} connected"

    def disconnect(self, name: str, user: str) -> bool:
        conn = self.store.connection(name)
        if conn is None:
            return False
        self._status(conn, DISCONNECTED)
        conn.access_token = conn.refresh_token = None
        conn.access_expires_at = conn.refresh_expires_at = conn.hard_expiry = None
        conn.next_sync_at = None
        self.store.save(conn)
        return True

    # -- what the dashboard shows ------------------------------------------------------
    def dashboard(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for conn in self.store.connections():
            banner, settings = self._banner(conn)
            out.append(
                {
                    "name": conn.name,
                    "state": conn.status,
                    "reason": conn.reason if conn.status == NEEDS_RECONNECT else None,
                    "banner": banner,
                    "settings": settings,
                    "last_synced_at": iso(conn.last_synced_at),
                    "state_since": iso(conn.status_since),
                    "provider": conn.provider,
                    "account": conn.resource_name,
                    "expires_at": iso(conn.hard_expiry),
                }
            )
        return out

    def _banner(self, conn: Connection) -> tuple[str, str]:
        if self.settings.bug("no_banner"):
            return "", ""
        what = f"{self.providers[conn.provider].display} “{conn.resource_name or conn.name}”"
        day = conn.hard_expiry.astimezone(self.tz).date().isoformat() if conn.hard_expiry else ""
        if conn.status == EXPIRES_SOON and conn.hard_expiry:
            long_day = local_day(conn.hard_expiry, self.tz)
            return (
                f"{what} disconnects on {long_day}. Reconnect it before then to keep publishing.",
                f"Access expires on {day}. Reconnect",
            )
        if conn.status == EXPIRED:
            return (
                f"{what} expired. Reconnect it to resume publishing.",
                f"Expired on {day}. Reconnect",
            )
        if conn.status == NEEDS_RECONNECT:
            why, step = self._explain(conn)
            return f"Acme lost access to {what}: {why}. {step}", f"Lost access: {why}. Reconnect"
        return "", ""

    def _explain(self, conn: Connection) -> tuple[str, str]:
        """Why ``conn`` needs a reconnect and what to do first, in its provider's terms."""
        display = self.providers[conn.provider].display
        return texts.why(conn.provider, display, conn.reason), texts.first_step(
            conn.provider, display, conn.reason
        )
