"""ModelProduct: conntrack's own model of a product, behind the :class:`Product` interface.

The same connection actors and notifier the in-process engine runs, but as a product
would run them: on a clock only :meth:`ModelProduct.advance` moves, talking to the fakes
over the network (``CONNTRACK_FAKES_URL``, path-prefixed hosts as ``conntrack serve``
serves them) through conntrack's provider clients, and sending its emails as real
RFC 5322 messages over SMTP (or to a callback, in-process). ``conntrack
reference-product`` serves it over the product test protocol (:mod:`._server`).

What a connection is about (a Facebook Page, a LinkedIn organization, a YouTube
channel; the account itself for Instagram Login, TikTok and X) is learnt after the first
login, as a product does, from the provider's API: ``me/accounts`` for Facebook,
``organizationAcls`` (``roleAssignee``) for LinkedIn, the channel list for Google, the
token for the others; a LinkedIn organization's name from the organization lookup. It
never reads the fakes' control API.
"""

from __future__ import annotations

import contextlib
import ssl
import zlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from random import Random
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import trio
import trio.testing

from .._actors import ChangeOracle, CodeReceived, ConnectionActor
from .._classifier import Action, Verdict
from .._clock import Scheduler
from .._delivery import SmtpSink
from .._durations import format_instant
from .._exceptions import ConntrackError
from .._lifecycle import State, TransitionRecord
from .._notify import Notifier, Outbox, Subject, User
from .._policy import PolicySet, default_policy
from .._profiles import Profile, load_profile
from .._records import BannerRecord, EmailRecord, EventRecord, Record, Recorder
from ..clients import (
    Answer,
    AppCredentials,
    ClientContext,
    ProviderCallError,
    ProviderClient,
    TokenInfo,
    make_client,
)
from ._interface import Company, ConnectionView, LoginOutcome, ProductError

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from ._harness import ProductEnv

DEFAULT_SYNC_EVERY = timedelta(hours=6)
#: How long (real seconds) the actors may take to finish what one instant asked of them.
SETTLE_TIMEOUT = 60.0
#: How long (real seconds) to wait before looking again at an actor out on the network.
SETTLE_POLL = 0.0002


class ClockBackwards(ProductError):
    """``advance`` to an instant before the product's clock (the protocol's 409)."""


class UnknownConnection(ProductError, LookupError):
    """A connection the product does not know (the protocol's 404)."""


class BadLogin(ProductError, ValueError):
    """A login the product cannot start: an unknown provider or action, no app for the
    provider's protocol (the protocol's 400)."""


class ManualClock:
    """The product's clock: it moves only when the scheduler sleeps until an instant,
    which only :meth:`ModelProduct.advance` makes it do."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the product's clock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        self._now = max(self._now, when)


class CallbackOutbox:
    """Hands every email to ``fn`` (in-process use: the caller keeps them)."""

    def __init__(self, fn: Callable[[EmailRecord], None]) -> None:
        self.fn = fn

    def deliver(self, email: EmailRecord) -> None:
        self.fn(email)


class SmtpOutbox:
    """Sends emails over SMTP as real messages (``Date:`` = the virtual send instant,
    ``X-Conntrack-Kind`` and ``X-Conntrack-Connection`` headers). ``deliver`` only queues
    (the notifier speaks from synchronous code); :meth:`flush` sends, in a thread, before
    the product answers the call that made them."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._queue: list[EmailRecord] = []

    def deliver(self, email: EmailRecord) -> None:
        self._queue.append(email)

    async def flush(self) -> None:
        batch, self._queue = self._queue, []
        if batch:
            await trio.to_thread.run_sync(self._send, batch)

    def _send(self, batch: list[EmailRecord]) -> None:
        try:
            with SmtpSink(self.host, self.port) as sink:
                for email in batch:
                    sink.send(email)
        except OSError as e:  # smtplib's errors are OSErrors
            raise ProductError(
                f"could not send {len(batch)} email(s) to SMTP {self.host}:{self.port}: {e}"
            ) from e


class _ProductRecorder(Recorder):
    """The actors' recorder, which also keeps what the product's pages show."""

    def __init__(self) -> None:
        super().__init__()
        self.since: dict[str, datetime] = {}
        self.reason: dict[str, str | None] = {}
        self.synced: dict[str, datetime] = {}
        self.banner: dict[str, BannerRecord] = {}
        self.failed: dict[str, list[EventRecord]] = {}

    def add(self, rec: Record) -> None:
        super().add(rec)
        if isinstance(rec, TransitionRecord):
            if rec.dest != rec.source or rec.connection not in self.since:
                self.since[rec.connection] = rec.at
            self.reason[rec.connection] = rec.reason
        elif isinstance(rec, BannerRecord):
            self.banner[rec.connection] = rec
        elif isinstance(rec, EventRecord) and rec.event == "connect_failed":
            self.failed.setdefault(rec.connection, []).append(rec)
        elif isinstance(rec, EventRecord) and rec.event == "connected":
            self.since[rec.connection] = rec.at

    def sync_ok(self, connection: str, at: datetime, *, elided: bool = False) -> None:
        super().sync_ok(connection, at, elided=elided)
        self.synced[connection] = at


@dataclass
class _Pending:
    connection: str
    user: str
    cause: str


class _Discovering:
    """A provider client that learns, at the first login, what the connection is about,
    and tells the product (``found(page_id, label)``) before the first sync reads it."""

    def __init__(
        self,
        inner: ProviderClient,
        *,
        http: httpx.AsyncClient,
        found: Callable[[str | None, str | None], None],
    ) -> None:
        self.inner = inner
        self.protocol = inner.protocol
        self.profile = inner.profile
        self.http = http
        self.found = found
        self.known = False

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        return self.inner.authorize_url(state, scopes)

    async def connect(self, code: str, state: str) -> TokenInfo:
        try:
            info = await self.inner.connect(code, state)
        except httpx.TransportError as e:
            raise ProviderCallError("code exchange", _unreachable(e)) from None
        if not self.known:
            # Not found now: the first sync says what is wrong; the next login tries again.
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
                await self._discover(info)
        return info

    async def _discover(self, info: TokenInfo) -> None:
        found = await self.inner.discover(info)
        if found is not None:
            self._found(*found)

    def _found(self, page: str | None, label: object) -> None:
        self.known = True
        self.found(page, str(label) if label else None)

    def can_refresh(self, info: TokenInfo) -> bool:
        return self.inner.can_refresh(info)

    def refresh_due(self, info: TokenInfo) -> datetime | None:
        return self.inner.refresh_due(info)

    # A provider that cannot be reached (refused, reset, timed out) is a transient error,
    # as a product takes it: retried at the next sync, never a crash of the product.

    async def refresh(self, info: TokenInfo) -> TokenInfo:
        try:
            return await self.inner.refresh(info)
        except httpx.TransportError as e:
            raise ProviderCallError("refresh", _unreachable(e)) from None

    async def read(self, info: TokenInfo) -> Answer:
        try:
            return await self.inner.read(info)
        except httpx.TransportError as e:
            return _unreachable(e)

    async def revoke(self, info: TokenInfo) -> Answer:
        try:
            return await self.inner.revoke(info)
        except httpx.TransportError as e:
            return _unreachable(e)


def _unreachable(error: httpx.TransportError) -> Answer:
    """The answer of a provider the product could not reach: retry later."""
    what = type(error).__name__
    message = f"the provider could not be reached ({what}: {error})".replace(": )", ")")
    return Answer(0, None, Verdict(Action.RETRY, code="network", message=message))


class ModelProduct:
    """conntrack's connection actors and notifier as a product (see the module doc).

    Use it inside a trio run: ``async with ModelProduct(...).running() as product:``
    (or :func:`._server.model_from_env` with the environment the harness gives a
    product). ``http`` or
    ``transport`` replace the network client; ``outboxes`` receive every email besides
    SMTP (``smtp=(host, port)``); ``sync_every`` is the sync cadence, one for all or by
    connection name.
    """

    def __init__(
        self,
        *,
        fakes_url: str,
        apps: Mapping[str, AppCredentials],
        start: datetime,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
        outboxes: Sequence[Outbox] = (),
        smtp: tuple[str, int] | None = None,
        sync_every: timedelta | Mapping[str, timedelta] = DEFAULT_SYNC_EVERY,
        policy: PolicySet | None = None,
        oracle: ChangeOracle | None = None,
    ) -> None:
        self.fakes_url = fakes_url.rstrip("/")
        self.apps = dict(apps)
        self.clock = ManualClock(start)
        self.scheduler = Scheduler(self.clock, settle=self.settle)
        self.recorder = _ProductRecorder()
        self.policy = policy or default_policy()
        self._http = http
        self._transport = transport
        self._verify = verify
        self._sync_every = sync_every
        self._oracle = oracle
        self._smtp = SmtpOutbox(*smtp) if smtp else None
        self.actors: dict[str, ConnectionActor] = {}
        self._pending: dict[str, _Pending] = {}
        self._profiles: dict[str, Profile] = {}
        self._people: dict[str, User] = {}
        self._nursery: trio.Nursery | None = None
        self.notifier = Notifier(
            self.scheduler,
            self.recorder,
            [],
            [*outboxes, *([self._smtp] if self._smtp else [])],
            state_of=lambda cid: self.actors[cid].state,
            send_at=self.policy.send_at,
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ModelProduct]:
        """Run the product's tasks (and its HTTP client, unless given) while inside."""
        owned = self._http is None
        http = self._http or httpx.AsyncClient(
            transport=self._transport, verify=self._verify, timeout=30
        )
        self._http = http
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for actor in self.actors.values():
                    nursery.start_soon(actor.run)
                try:
                    yield self
                finally:
                    self._nursery = None
                    nursery.cancel_scope.cancel()
        finally:
            if owned:
                await http.aclose()
                self._http = None

    # -- the Product interface ---------------------------------------------------------

    async def advance(self, now: datetime) -> datetime | None:
        if now < self.clock.now():
            raise ClockBackwards(
                f"the clock only moves forward: {format_instant(now)} is before the "
                f"product's now, {format_instant(self.clock.now())}"
            )
        await self.scheduler.run(now)
        await self._flush()
        return self.scheduler.next_due()

    async def set_company(self, company: Company) -> None:
        try:
            self.notifier.tz = ZoneInfo(company.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProductError(f"unknown time zone {company.timezone!r}") from None
        wanted = [User(u.id, u.name, u.email, u.opt_out) for u in company.users]
        ids = {u.id for u in wanted}
        for user in list(self.notifier.users):
            if user.id not in ids:
                self.notifier.user_left(user.id)
        for user in wanted:
            self.notifier.user_joined(user)  # a no-op for a member
        # Members keep their place (the order they joined); names and opt-outs are new.
        self.notifier.users = [next(w for w in wanted if w.id == u.id) for u in self.notifier.users]
        self._people = {u.id: u for u in wanted}

    async def login(self, name: str, *, provider: str, kind: str, user: str, action: str) -> str:
        if action not in ("add", "reconnect"):
            raise BadLogin(f"action must be 'add' or 'reconnect', not {action!r}")
        actor = self.actors.get(name) or self._new_actor(name, provider, kind, user)
        if action == "reconnect":
            cause = "reconnect"
        else:
            cause = "connect" if actor.model is None else "add"
        url = actor.begin_authorize()
        state = (parse_qs(urlsplit(url).query).get("state") or [""])[0]
        self._pending[state] = _Pending(name, user, cause)
        return url

    async def callback(self, url: str) -> LoginOutcome:
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items() if v}
        state = query.get("state", "")
        pending = self._pending.pop(state, None)
        if pending is None:
            return LoginOutcome(False, f"unknown or used OAuth state {state!r}", 400)
        actor = self.actors[pending.connection]
        error = query.get("error")
        if error and query.get("error_description"):
            error = f"{error}: {query['error_description']}"
        before = len(self.recorder.failed.get(actor.id, []))
        actor.deliver_code(
            CodeReceived(query.get("code"), state, pending.user, pending.cause, error)
        )
        await self.settle()
        await self._flush()
        failed = self.recorder.failed.get(actor.id, [])
        if len(failed) > before:
            return LoginOutcome(False, failed[-1].detail, 400)
        return LoginOutcome(True, "connected", 200)

    async def disconnect(self, name: str, *, user: str) -> None:
        actor = self.actors.get(name)
        if actor is None:
            raise UnknownConnection(f"no connection named {name!r}")
        actor.disconnect(user)
        await self.settle()
        await self._flush()

    async def connections(self) -> list[ConnectionView]:
        return [self._view(a) for a in self.actors.values() if self._shown(a)]

    def _shown(self, actor: ConnectionActor) -> bool:
        """A connection the product lists: one that was ever added. A first connect
        that failed leaves the actor disconnected with no change of state since; a
        product shows no row for it (the protocol's contract), so neither does this."""
        if actor.model is None:
            return False
        never = actor.state == State.DISCONNECTED and self.recorder.since.get(actor.id) is None
        return not never

    # -- inside ----------------------------------------------------------------------

    def _view(self, actor: ConnectionActor) -> ConnectionView:
        rec = self.recorder
        state = actor.state
        reason = rec.reason.get(actor.id) if state == State.INVALID else None
        banner = rec.banner.get(actor.id)
        synced = rec.synced.get(actor.id)
        since = rec.since.get(actor.id)
        raw = {
            "name": actor.id,
            "state": state,
            "reason": reason,
            "banner": banner.dashboard if banner else "",
            "settings": banner.settings if banner else "",
            "last_synced_at": format_instant(synced) if synced else None,
            "state_since": format_instant(since) if since else None,
        }
        return ConnectionView(
            name=actor.id,
            state=state,
            reason=reason,
            banner=banner.dashboard if banner else "",
            settings=banner.settings if banner else "",
            shows=banner.shows if banner else "none",
            last_synced_at=synced,
            state_since=since,
            raw=raw,
        )

    def _profile(self, provider: str) -> Profile:
        if provider not in self._profiles:
            try:
                self._profiles[provider] = load_profile(provider)
            except ConntrackError as e:
                raise BadLogin(str(e)) from None
        return self._profiles[provider]

    def _sync_every_of(self, name: str) -> timedelta:
        every = self._sync_every
        if isinstance(every, timedelta):
            return every
        return every.get(name, DEFAULT_SYNC_EVERY)

    def _new_actor(self, name: str, provider: str, kind: str, user: str) -> ConnectionActor:
        if self._nursery is None or self._http is None:
            raise ProductError("the product is not running (use `async with product.running()`)")
        profile = self._profile(provider)
        app = self.apps.get(profile.protocol)
        if app is None:
            raise BadLogin(
                f"no app for protocol {profile.protocol!r} (provider {provider!r}); "
                f"CONNTRACK_APPS has: {', '.join(sorted(self.apps)) or 'none'}"
            )
        rng = Random(zlib.crc32(name.encode()))
        person = self._people.get(user)
        subject = Subject(
            name, provider, kind, person.name if person else user, str(profile["display_name"])
        )
        self.notifier.policies[(provider, kind)] = self.policy.for_(provider, kind)

        def found(page: str | None, label: str | None) -> None:
            actor.page_id = page
            if label:
                actor.subject = replace(actor.subject, account=label)

        inner = make_client(
            ClientContext(
                http=self._http,
                base=self.fakes_url,
                app=app,
                profile=profile,
                clock=self.clock,
                rng=rng.randbytes,
            )
        )
        client = _Discovering(inner, http=self._http, found=found)
        actor = ConnectionActor(
            id=name,
            client=cast(ProviderClient, client),
            subject=subject,
            account_id="",
            sync_every=self._sync_every_of(name),
            notice_window=self.policy.for_(provider, kind).window(
                profile.lifetime("notice_window") or timedelta(0)
            ),
            scheduler=self.scheduler,
            recorder=self.recorder,
            notifier=self.notifier,
            oracle=self._oracle,
            rng=rng,
            connected_by=user,
        )
        self.actors[name] = actor
        self._nursery.start_soon(actor.run)
        return actor

    def _idle(self) -> bool:
        return all(actor.idle for actor in self.actors.values())

    async def settle(self) -> None:
        """Wait until every actor has finished what it was handed (its inbox empty and
        its task back waiting on it): its network I/O included. Between looks it waits
        until every task is blocked (no spinning while work runs), then, if an actor is
        still out on the network, a moment."""
        with trio.move_on_after(SETTLE_TIMEOUT) as scope:
            while not self._idle():
                await trio.testing.wait_all_tasks_blocked()
                if not self._idle():
                    await trio.sleep(SETTLE_POLL)
        if scope.cancelled_caught:
            raise ProductError(f"the connection actors were still busy after {SETTLE_TIMEOUT}s")

    async def _flush(self) -> None:
        if self._smtp is not None:
            await self._smtp.flush()


def model_product(
    env: ProductEnv, *, exact: bool = False
) -> AbstractAsyncContextManager[ModelProduct]:
    """The harness's factory for conntrack's model in process (no subprocess, no SMTP):
    ``run_product_scenario(scenario, product=model_product)``. It talks to the fakes
    through the harness's transport and delivers its emails to the harness's outbox.

    Like the in-process engine, it skips a sync whose answer cannot have changed, asking
    the in-process fakes (their core is the change oracle); ``exact`` makes every sync a
    real request, as the served product does."""
    return ModelProduct(
        fakes_url=env.fakes_url,
        apps=env.apps,
        start=env.start,
        transport=env.transport,
        outboxes=[env.outbox],
        sync_every=env.sync_every,
        oracle=None if exact else env.oracle,
    ).running()
