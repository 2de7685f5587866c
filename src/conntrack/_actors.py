"""The actors of a simulation: trio tasks that wait, do I/O, then fire lifecycle triggers.

- :class:`ConnectionActor` — one per connection: syncs every ``sync_every``, knows its
  token's hard expiry (notice window, expiry), classifies every provider answer and fires
  the lifecycle's triggers; on a code from the browser it runs the product's side of the
  OAuth flow.

The world's side of the engine (the people at the browser, the timeline) is
:mod:`conntrack._driver`.

Every actor waits on its inbox; only the :class:`~conntrack._clock.Scheduler` puts time
into inboxes, so the order of everything is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Protocol

import trio

from ._classifier import Action
from ._clock import PRIORITY_EXPIRY, PRIORITY_SYNC, Position, Scheduler, Timer
from ._dozing import Dozing
from ._durations import format_instant
from ._lifecycle import HEALTHY, Connection, State, can_fire, fire
from ._notify import Notifier, Subject, permissions_note
from ._records import EventRecord, Recorder, SyncErrorRecord
from ._worldcontrol import login_misfit
from .clients import Answer, ProviderCallError, ProviderClient, TokenInfo


class ChangeOracle(Protocol):
    """What the in-process fake can tell about change: see ``fake_providers.Core``."""

    @property
    def seq(self) -> int: ...

    def quiet_until(self, token: str) -> datetime | bool | None: ...


@dataclass(frozen=True)
class Tick:
    kind: str  # sync | notice | expire
    generation: int


@dataclass(frozen=True)
class CodeReceived:
    code: str | None
    state: str | None
    by: str
    cause: str  # connect | reconnect | add
    error: str | None = None
    account_id: str | None = None
    """The provider account the person logged in with (the product learns it from the
    token; the simulation keeps it to follow who administers what)."""


@dataclass(frozen=True)
class Disconnect:
    by: str


class ConnectionActor:
    """Keeps one connection alive, or notices and says why it is not."""

    def __init__(
        self,
        *,
        id: str,
        client: ProviderClient,
        subject: Subject,
        account_id: str,
        page_id: str | None = None,
        linked_account_id: str | None = None,
        sync_every: timedelta,
        notice_window: timedelta,
        scheduler: Scheduler,
        recorder: Recorder,
        notifier: Notifier,
        oracle: ChangeOracle | None = None,
        rng: Random | None = None,
        connected_by: str = "",
        scopes: tuple[str, ...] | None = None,
        dozing: Dozing | None = None,
    ) -> None:
        self.id = id
        self.connected_by = connected_by
        """The company user whose provider login the connection uses."""
        self.scopes = scopes
        """The permissions the product asks for (``None``: the profile's defaults)."""
        self.identity: str | None = None
        """The provider's user id of the connection's account (from its first token)."""
        self.last_login: datetime | None = None
        """When the tokens in force were obtained (connect, reconnect or add)."""
        self.client = client
        self.subject = subject
        self.account_id = account_id
        self.page_id = page_id
        """The page, organization or channel the connection is about, if any."""
        self.linked_account_id = linked_account_id
        """An account reached through the page (Instagram through Facebook Login)."""
        self.sync_every = sync_every
        self.notice_window = notice_window
        self.scheduler = scheduler
        self.clock = scheduler.clock
        self.recorder = recorder
        self.notifier = notifier
        self.oracle = oracle
        self._rng = rng or Random(0)
        self.model: Connection | None = None
        self.token: TokenInfo | None = None
        self._send, self._inbox = trio.open_memory_channel[Tick | CodeReceived | Disconnect](1000)
        self._timers: dict[str, Timer] = {}
        self._generation = 0
        self._pending_state: str | None = None
        self._quiet: tuple[int, datetime | None] | None = None
        self._missing: tuple[str, ...] = ()
        """The optional permissions the connection works without now."""
        self.dozing = dozing
        """Where the connection sleeps through the syncs it elides (``None``: a timer a
        sync); see :mod:`conntrack._dozing`."""
        self._asleep_at: datetime | None = None
        """While dozing: the instant of the last sync (elided), the origin of the cadence."""

    @property
    def state(self) -> str:
        return self.model.state if self.model else "not_connected"

    @property
    def idle(self) -> bool:
        """Whether the actor has done everything it was handed: its inbox is empty and its
        task is back waiting on it (network I/O under way counts as busy)."""
        stats = self._inbox.statistics()
        return not stats.current_buffer_used and stats.tasks_waiting_receive > 0

    # -- the product's side of the OAuth flow ---------------------------------------
    def begin_authorize(self) -> str:
        """The URL the product sends the person's browser to; remembers ``state``."""
        self._pending_state = f"{self.id}-{self._rng.getrandbits(64):016x}"
        asked = (*self.required_scopes, *self.client.profile.optional_scopes)
        return self.client.authorize_url(self._pending_state, tuple(dict.fromkeys(asked)))

    def deliver_code(self, message: CodeReceived) -> None:
        self._rise()
        self._send.send_nowait(message)

    def disconnect(self, by: str) -> None:
        self._rise()
        self._send.send_nowait(Disconnect(by))

    def misfit(self, cause: str) -> str | None:
        """Why a login of this kind does not fit the connection's state, saying what to do
        instead (:func:`~._worldcontrol.login_misfit`); ``None`` when it fits. The first
        login (no state yet) always fits."""
        if self.model is None:
            return None
        return login_misfit(self.id, cause, self.state)

    @property
    def required_scopes(self) -> tuple[str, ...]:
        """What a login must grant: the asked permissions (the connection's ``scopes``,
        else the profile's ``default_scopes``) but the profile's ``optional_scopes``."""
        asked = self.scopes or self.client.profile["default_scopes"]
        return tuple(s for s in asked if s not in self.client.profile.optional_scopes)

    def _note_missing(self, info: TokenInfo | None, lacking: tuple[str, ...], by: str = "") -> None:
        """Which optional permissions the connection works without now: those the tokens
        were granted without (where the provider says what they carry) or a sync was
        refused (``lacking``). When that changes, the timeline and the settings page say it."""
        optional = self.client.profile.optional_scopes
        granted = info.scopes if info is not None and info.scopes else tuple(optional)
        missing = tuple(s for s in optional if s in lacking or s not in granted)
        if missing == self._missing:
            return
        self._missing = missing
        note = permissions_note({s: optional[s] for s in missing})
        event = "permissions_missing" if missing else "permissions_granted"
        detail = note or "every optional permission granted"
        self.recorder.add(EventRecord(self.clock.now(), self.id, event, by, detail))
        self.notifier.permissions_missing(self.subject, note)

    # -- scheduling -------------------------------------------------------------------
    def _at(self, kind: str, when: datetime, priority: int) -> None:
        self.scheduler.cancel(self._timers.get(kind))
        tick = Tick(kind, self._generation)
        fn = (lambda: self._sync_due(tick)) if kind == "sync" else (lambda: self._deliver(tick))
        self._timers[kind] = self.scheduler.call_at(when, fn, priority=priority, key=self.id)

    def _deliver(self, tick: Tick) -> None:
        self._rise()
        self._send.send_nowait(tick)

    def _sync_due(self, tick: Tick) -> bool:
        """A sync is due. One whose answer cannot have changed (:meth:`_elide`) is elided
        here, in the scheduler's call, without waking the task: the task, idle at its
        inbox, would do the same as its next step, and nothing else runs in between.
        Returns ``True`` then (the scheduler has no task to wait for); otherwise the tick
        goes to the task, as every other tick does."""
        if self._asleep_at is not None:  # the first sync of the cadence that may differ
            self._rise(reschedule=False)
        if tick.generation == self._generation and self.idle and self._elide():
            return True
        self._send.send_nowait(tick)
        return False

    # -- dozing (conntrack._dozing) -----------------------------------------------------
    def wake(self, position: Position) -> None:
        """Stop dozing at ``position`` (the world changed, or the run ends there)."""
        self._rise(position)

    def _rise(self, position: Position | None = None, *, reschedule: bool = True) -> None:
        """Stop dozing: count the syncs of the cadence due before ``position`` (default:
        the scheduler's) as elided, and (``reschedule``) put a timer at the next one."""
        last = self._asleep_at
        if last is None:
            return
        self._asleep_at = None
        if self.dozing is not None:
            self.dozing.discard(self)
        when, priority, key = position or self.scheduler.position
        every = self.sync_every
        n = (when - last) // every
        if n > 0 and last + n * every == when and (priority, key) <= (PRIORITY_SYNC, self.id):
            n -= 1  # the sync due at that very instant sorts after the position
        self.recorder.syncs_elided(self.id, last + every, n)
        if reschedule:
            self._at("sync", last + (n + 1) * every, PRIORITY_SYNC)

    def _doze(self, now: datetime, bound: datetime | None) -> None:
        """Sleep through the syncs from ``now`` on that are due before ``bound`` (the
        first instant whose answer may differ; ``None``: none but a change)."""
        assert self.dozing is not None
        self._asleep_at = now
        self.dozing.add(self)
        if bound is None:
            self._cancel("sync")
            return
        periods = -((now - bound) // self.sync_every)  # the first sync at or after bound
        self._at("sync", now + periods * self.sync_every, PRIORITY_SYNC)

    def _cancel(self, *kinds: str) -> None:
        for kind in kinds:
            self.scheduler.cancel(self._timers.pop(kind, None))

    def _fire(self, trigger: str, *, reason: str | None = None, cause: str | None = None) -> bool:
        assert self.model is not None
        if not can_fire(self.model, trigger):
            return False
        fire(
            self.model,
            trigger,
            at=self.clock.now(),
            sink=self.recorder.add,
            reason=reason,
            cause=cause,
        )
        self._show(reason)
        return True

    def _show(self, reason: str | None = None) -> None:
        """Tell the product's pages (banner, settings) the connection's state."""
        if self.model is None:
            return
        expiry = self.token.hard_expiry if self.token else None
        self.notifier.state_changed(self.subject, self.model.state, reason, expiry)

    # -- the task -----------------------------------------------------------------------
    async def run(self) -> None:
        async for message in self._inbox:
            if isinstance(message, CodeReceived):
                await self._on_code(message)
            elif isinstance(message, Disconnect):
                self._on_disconnect(message.by)
            elif message.generation != self._generation:
                continue  # a tick from before the last (re)connect
            elif message.kind == "sync":
                await self._sync()
            elif message.kind == "refresh":
                await self._refresh()
            elif message.kind == "notice":
                self._fire("near_expiry", cause=f"expires {_iso(self.token)}")
            elif message.kind == "expire" and self._fire("expire", cause=self._expiry_cause()):
                self._cancel("sync", "refresh")
                self.recorder.open_gap(self.id, self.clock.now())

    def _expiry_cause(self) -> str:
        token = self.token
        if token and token.refresh_expires_at and token.hard_expiry == token.refresh_expires_at:
            return "refresh token lifetime ended"
        if token and token.hard_expiry and token.hard_expiry == token.data_access_expires_at:
            return "data access ended (90 days after the user last consented)"
        return "token lifetime ended"

    async def _on_code(self, msg: CodeReceived) -> None:
        now = self.clock.now()
        misfit = self.misfit(msg.cause)
        if misfit is not None:  # the state changed since the person began (same instant)
            self._connect_failed(msg, misfit)
            return
        if msg.error or not msg.code or msg.state != self._pending_state:
            why = msg.error or ("state mismatch" if msg.code else "no code")
            self._connect_failed(msg, why)
            return
        state, self._pending_state = self._pending_state, None
        try:
            info = await self.client.connect(msg.code, state or "")
        except ProviderCallError as e:
            detail = f"{e.step}: {e.answer.verdict.code} {e.answer.verdict.message}".strip()
            self._connect_failed(msg, detail)
            return
        adding = msg.cause == "add"
        if not adding and self.page_id is None and _other(self.identity, info.user_id):
            self._connect_failed(
                msg,
                f"wrong account: logged in as provider user {info.user_id}, but this "
                f"connection is provider user {self.identity}; log in with that account",
            )
            return
        missing = [s for s in self.required_scopes if s not in info.scopes]
        if info.scopes and missing:
            self._connect_failed(
                msg,
                f"permission declined: {', '.join(missing)}; the product needs "
                f"{', '.join(self.required_scopes)} — reconnect and grant them all",
            )
            return
        # The product checks the new token reaches what the connection is about (the
        # first sync) before it takes it: a login that cannot is refused, not stored.
        answer = await self.client.read(info)
        # (The verdict, not the status: some providers answer errors with HTTP 200.)
        if answer.verdict.action in (Action.RECONNECT, Action.REFRESH):
            v = answer.verdict
            what = f"{v.reason or 'refused'}: HTTP {answer.status} {v.code} {v.message}".strip()
            if not adding and _other(self.identity, info.user_id):
                what = f"wrong account (provider user {info.user_id}) — {what}"
            self._connect_failed(msg, what)
            return
        self.token = info
        self._generation += 1
        self._quiet = None
        self.last_login = now
        if self.identity is None or adding:
            self.identity = info.user_id
        if adding and msg.account_id:
            self.account_id = msg.account_id
        self.connected_by = msg.by
        if self.model is None:
            self.model = Connection(self.id)
            self.recorder.connected(self.id, now)
            self.recorder.add(EventRecord(now, self.id, "connected", msg.by, msg.cause))
        elif adding:
            self._fire("add", cause=f"added by {msg.by}")
        else:
            self._fire("reconnect", cause=f"{msg.cause} by {msg.by}")
        self._schedule_expiry(info)
        self.notifier.expiry_known(self.subject, info.hard_expiry)
        self._show()
        # An optional permission declined does not stop the login: the product notes it.
        self._note_missing(info, answer.missing, msg.by)
        # Syncing resumes at once (the check above was the first read); the cadence
        # restarts from now.
        self._at("sync", now + self.sync_every, PRIORITY_SYNC)
        self._synced(answer, now)

    def _connect_failed(self, msg: CodeReceived, detail: str) -> None:
        self._pending_state = None
        if self.model is None:  # a first connect failed (a personal Instagram account):
            # the connection is disconnected, the state of one never connected; 'add' it.
            self.model = Connection(self.id, State.DISCONNECTED)
            self.recorder.initial.setdefault(self.id, (self.clock.now(), State.DISCONNECTED.value))
        self.recorder.add(EventRecord(self.clock.now(), self.id, "connect_failed", msg.by, detail))

    def _on_disconnect(self, by: str) -> None:
        """The product forgets the tokens: nothing syncs, nobody is reminded."""
        if self.model is None or not self._fire("disconnect", cause=f"disconnected by {by}"):
            return
        self._cancel("sync", "notice", "expire", "refresh")
        self.notifier.cancel(self.subject.connection)
        self.token = None
        self._missing = ()
        self.notifier.permissions_missing(self.subject, "")
        self._generation += 1
        self.recorder.open_gap(self.id, self.clock.now())

    def _schedule_expiry(self, info: TokenInfo) -> None:
        """Timers for the notice window and the hard expiry, and a refresh if one is needed."""
        self._cancel("notice", "expire", "refresh")
        now = self.clock.now()
        due = self.client.refresh_due(info)
        if due is not None and not self.client.can_refresh(info):
            due = None
        if due is not None and info.expires_at is not None and self._refresh_needs_timer():
            # A refresh that needs a live access token must not wait for a sync.
            self._at("refresh", max(due, now), PRIORITY_EXPIRY)
        if info.hard_expiry is None:
            return
        notice = info.hard_expiry - self.notice_window
        if self.notice_window <= timedelta(0):
            pass  # no `expiring` window (no reminder promised): connected until the expiry
        elif notice <= now:
            self._fire("near_expiry", cause=f"expires {_iso(info)}")
        else:
            self._at("notice", notice, PRIORITY_EXPIRY)
        self._at("expire", max(info.hard_expiry, now), PRIORITY_EXPIRY)

    def _refresh_needs_timer(self) -> bool:
        return self.client.profile.refresh == "self"

    async def _refresh(self) -> bool:
        """Refresh the tokens; on a fatal answer the connection turns invalid."""
        if self.state not in HEALTHY or self.token is None:
            return False
        now = self.clock.now()
        try:
            info = await self.client.refresh(self.token)
        except ProviderCallError as e:
            self._quiet = None
            self._failed(e.answer, step="refresh", default_reason="refresh_failed")
            return False
        old_hard = self.token.hard_expiry
        self.token = info
        self._quiet = None
        self.recorder.refreshed(self.id, now)
        if info.hard_expiry != old_hard:
            self._schedule_expiry(info)
            self.notifier.expiry_known(self.subject, info.hard_expiry)
            if self.state == State.EXPIRING and (
                info.hard_expiry is None or info.hard_expiry - self.notice_window > now
            ):
                self._fire("renew", cause="refreshed")
        elif self._refresh_needs_timer():
            self._schedule_expiry(info)
        return True

    def _elide(self) -> bool:
        """Elide the sync due now if its answer would be the last one: nothing anywhere
        changed since the last real sync, the token's answers cannot have changed by
        themselves and no refresh is due. Then the next sync is scheduled and the elided
        one counted, and ``True`` is returned; otherwise nothing is done."""
        token, quiet, oracle = self.token, self._quiet, self.oracle
        if quiet is None or oracle is None or token is None or self.state not in HEALTHY:
            return False
        now = self.clock.now()
        seq, until = quiet
        if seq != oracle.seq or (until is not None and now >= until):
            return False
        due = self.client.refresh_due(token) if self.client.can_refresh(token) else None
        if due is not None and now >= due:
            return False
        if self.dozing is not None and self.sync_every > timedelta(0):
            bound = until if due is None or (until is not None and until < due) else due
            self._doze(now, bound)
        else:
            self._at("sync", now + self.sync_every, PRIORITY_SYNC)
        self.recorder.sync_ok(self.id, now, elided=True)
        return True

    async def _sync(self) -> None:
        if self.state not in HEALTHY or self.token is None:
            return
        if self._elide():
            return
        now = self.clock.now()
        self._at("sync", now + self.sync_every, PRIORITY_SYNC)
        due = self.client.refresh_due(self.token) if self.client.can_refresh(self.token) else None
        refresh_now = due is not None and now >= due
        if refresh_now and not await self._refresh():
            return
        answer = await self.client.read(self.token)
        if answer.verdict.action is Action.REFRESH and self.client.can_refresh(self.token):
            # The access token is refused but a refresh may help: refresh, then read again.
            if not await self._refresh():
                return
            answer = await self.client.read(self.token)
        self._synced(answer, now)

    def _synced(self, answer: Answer, now: datetime) -> None:
        """Record a sync's answer: data, or a failure (fatal or not)."""
        assert self.token is not None
        if answer.ok and answer.verdict.action is Action.OK:
            self.recorder.sync_ok(self.id, now)
            # A part of the sync that needs an optional permission taken back since
            # (Facebook: removed in the app settings) is skipped, never fatal.
            self._note_missing(self.token, answer.missing)
            if self.oracle is not None:
                quiet = self.oracle.quiet_until(self.token.access_token)
                self._quiet = None if quiet is False else (self.oracle.seq, _dt(quiet))
            return
        self._quiet = None
        self._failed(answer, step="sync", default_reason="unknown")

    def _failed(self, answer: Answer, *, step: str, default_reason: str) -> None:
        """Record a failed call; a fatal one ends the connection until a reconnect."""
        now = self.clock.now()
        v = answer.verdict
        # A `refresh` verdict that reaches here could not be helped by a refresh.
        fatal = v.action in (Action.RECONNECT, Action.REFRESH)
        self.recorder.sync_failed(
            SyncErrorRecord(now, self.id, answer.status, v.code, v.action.value, v.message, step),
            opens_gap=step == "sync" or fatal,
        )
        if not fatal:
            return
        cause = f"{step} answered {answer.status} {v.code}"
        if v.expired:
            self._fire("expire", cause=cause)
        elif self._fire("invalidate", reason=str(v.reason or default_reason), cause=cause):
            self.notifier.turned_invalid(self.subject, str(v.reason or default_reason))
        self._cancel("sync", "notice", "expire", "refresh")


#: What a disconnect of a connection that is already disconnected (an earlier 'add'
#: failed) records.
ALREADY_DISCONNECTED = "nothing to do: the connection is already disconnected"


def _other(known: str | None, seen: str | None) -> bool:
    """Whether a token's user id shows a different account than the one known."""
    return known is not None and seen is not None and known != seen


def _iso(info: TokenInfo | None) -> str:
    return format_instant(info.hard_expiry) if info and info.hard_expiry else "never"


def _dt(value: datetime | bool | None) -> datetime | None:
    return value if isinstance(value, datetime) else None
