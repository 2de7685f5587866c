"""A SimPy model of the population that conntrack's direct engine simulates (issue 15).

The yardstick of ``bench/bench_simpy.py``: the same population simulated by a
general-purpose discrete-event library, so that "the direct engine is fast" has a ratio
against something a reader knows. It does the same work per connection as the direct
engine (``conntrack.population._direct``), and nothing more:

- the same inputs: the companies and connections come from conntrack's own generator
  (``conntrack.population.company``), the provider facts, the policy, the reminder
  send-time arithmetic (``reminder_instant``), the hashed reactions to emails
  (``reaction_delay``) and the hashed unprompted reconnects and abandons (``noticed``);
- the same events: a connection is woken only when something can change it — its
  connect, each disruption of its account, its company disconnecting it, the start of the
  ``expiring`` window, each reminder, its expiry, the first sync that sees a dead token
  (found on the sync grid by arithmetic, not by waking every sync), a reconnect after
  the reaction delay, an unprompted reconnect, an abandon. Each is one SimPy ``Timeout``
  (SimPy's lazy wake-up) whose callback applies it; stale ones (of a token since
  replaced) fire and are skipped, as the direct engine's stale agenda items are popped
  and skipped;
- the same output: the daily series is conntrack's own ``Series``, fed the same calls.

So the two series are equal, and a test (tests/population/test_simpy_model.py) and the
bench check that they are.

How it uses SimPy. SimPy's clock is a number and it orders the events of one instant by
their priority, then by when they were scheduled. The direct engine orders an instant's
events world < notify < expiry < sync, then by when they were planned; so the SimPy
time here is ``4 x POSIX seconds + that priority`` (all instants are whole seconds), and
SimPy's own order is the direct engine's. The model's state is kept in whole seconds,
as a SimPy model keeps its time; datetimes are made only for conntrack's shared functions
and ``Series``, which take them.

Each agenda item is a bare ``Timeout`` with a callback, not a generator ``Process`` per
item: a process would add an ``Initialize`` event and a generator resume to every item
(about three SimPy events instead of one), which would make SimPy look slower than it
need be and flatter the ratio. The per-connection lookups that depend only on the
provider and kind (facts, policy, their durations in seconds) are made once a run.

Two layouts (``layout``): ``company`` (the default) runs each company in an
``Environment`` of its own, as the direct engine runs each connection's agenda on its
own (connections never interact); ``world`` puts the whole base in one
``Environment``, as a SimPy model of a population is most often written: its event heap
holds every pending event of every connection (log n per event), and every connection
stays in memory until the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import simpy
from simpy.events import Event, Timeout

from conntrack._clock import PRIORITY_EXPIRY, PRIORITY_NOTIFY, PRIORITY_SYNC, PRIORITY_WORLD
from conntrack._lifecycle import HEALTHY, State
from conntrack._notify import reminder_instant
from conntrack._policy import PolicySet, default_policy
from conntrack.population import Company, PopulationSpec, Series, company
from conntrack.population._direct import _table, facts
from conntrack.population._generate import Conn, noticed, reaction_delay

LAYOUTS = ("company", "world")

#: SimPy time units a second: room for the four priorities of an instant.
_TICKS = 4

# Agenda actions (as the direct engine's).
_CONNECT, _EVENT, _RECONNECT, _REMIND, _NOTICE, _EXPIRE, _DETECT, _LEAVE, _ABANDON = range(9)
_HEALTHY = frozenset(s.value for s in HEALTHY)
_DEAD = (State.EXPIRED.value, State.INVALID.value)
_SILENT = (State.INVALID.value, State.DISCONNECTED.value)
_CONNECTED = State.CONNECTED.value
_UTC = ZoneInfo("UTC")


# The same lifecycle table as the direct engine's (state, trigger) -> state.
_TABLE = _table()


def _seconds(d: timedelta) -> int:
    """A duration in whole seconds (every duration of a population is)."""
    if d.microseconds:
        raise ValueError(f"the SimPy model counts whole seconds; got {d}")
    return d.days * 86400 + d.seconds


def _ts(at: datetime) -> int:
    """POSIX seconds of an instant (whole: the run checks its start is)."""
    return int(at.timestamp())


def _dt(ts: int) -> datetime:
    """The instant of POSIX seconds ``ts``, as conntrack's shared functions take it."""
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True)
class _Kind:
    """What a connection of one provider and kind needs, in seconds (once a run)."""

    lifespan: int | None
    window: int
    kills: frozenset[str]
    page_based: bool
    checkpoint_blocks_reads: bool
    login_wait: int
    reminders: tuple[timedelta, ...]
    reminder_email: bool
    invalid_email: bool
    opt_out_silences_invalid: bool


class _Run:
    """What every connection of a run shares, and the count of events."""

    def __init__(self, spec: PopulationSpec, policy: PolicySet, series: Series) -> None:
        self.spec = spec
        self.policy = policy
        self.series = series
        self.until = _ts(spec.until)
        self.every = _seconds(spec.sync_every)
        self.noticing = spec.unprompted > 0 or spec.abandon.chance > 0
        self.events = 0
        self._kinds: dict[tuple[str, str], _Kind] = {}

    def kind(self, provider: str, kind: str) -> _Kind:
        got = self._kinds.get((provider, kind))
        if got is None:
            f = facts(provider)
            pol = self.policy.for_(provider, kind)
            got = self._kinds[(provider, kind)] = _Kind(
                lifespan=None if f.lifespan is None else _seconds(f.lifespan),
                window=_seconds(pol.window(f.notice)),
                kills=f.kills,
                page_based=f.page_based,
                checkpoint_blocks_reads=f.checkpoint_blocks_reads,
                login_wait=_seconds(f.login_wait),
                reminders=pol.reminders,
                reminder_email=pol.reminder_email,
                invalid_email=pol.invalid_email,
                opt_out_silences_invalid=pol.opt_out_silences_invalid,
            )
        return got


class _Connection:
    """One connection: an entity woken by its own timeouts, never by the sync clock."""

    __slots__ = (
        "admin",
        "at_checkpoint",
        "changes",
        "cleared_at",
        "company_id",
        "dead_since",
        "env",
        "fire",
        "gap_start",
        "generation",
        "id",
        "invalid_to",
        "issued",
        "k",
        "last_login",
        "reminded",
        "run",
        "state",
    )

    def __init__(self, env: simpy.Environment, run: _Run, co: Company, conn: Conn) -> None:
        self.env = env
        self.run = run
        self.company_id = co.id
        self.id = conn.id
        self.k = k = run.kind(conn.provider, conn.kind)
        self.reminded = co.reminded
        self.invalid_to = self.reminded if k.opt_out_silences_invalid else len(co.users)
        self.state = "not_connected"
        self.changes: list[tuple[int, str]] = []
        self.generation = 0  # the token in force; timeouts of an older one are stale
        self.issued: int | None = None
        self.dead_since: int | None = None
        self.last_login: int | None = None
        self.gap_start: int | None = None
        # What the provider account is going through (the fake's account flags).
        self.at_checkpoint = False
        self.cleared_at: int | None = None
        self.admin = True
        self.fire = self._fire  # one bound method for every timeout's callbacks
        self.plan(_ts(conn.connect_at), PRIORITY_WORLD, _CONNECT)
        for d in conn.disruptions:
            self.plan(_ts(d.at), PRIORITY_WORLD, _EVENT, d.event)
        if conn.leave_at is not None:
            self.plan(_ts(conn.leave_at), PRIORITY_WORLD, _LEAVE)

    def plan(self, at: int, priority: int, action: int, payload: object = None) -> None:
        """Wake this connection at ``at`` (if within the run): one SimPy timeout."""
        if at < self.run.until:
            self.run.events += 1
            env = self.env
            Timeout(env, at * _TICKS + priority - env.now, (action, payload)).callbacks.append(
                self.fire
            )

    def move(self, trigger: str, at: int) -> bool:
        dest = _TABLE.get((self.state, trigger))
        if dest is None:
            return False
        if dest != self.state:
            self.state = dest
            self.changes.append((at, dest))
        return True

    def email(self, kind: str, at: int, count: int) -> None:
        if not count:
            return  # sent to nobody: nobody can react to it
        run, when = self.run, _dt(at)
        run.series.email(when, kind, count)
        spec = run.spec
        delay = reaction_delay(
            spec.seed, self.company_id, self.id, when, kind, spec.behaviour.get(kind)
        )
        if delay is not None:
            self.plan(at + _seconds(delay), PRIORITY_WORLD, _RECONNECT, at)

    def died(self, at: int) -> None:
        """Expired or invalid just now: an unprompted reconnect, or an abandon, later."""
        if not self.run.noticing:
            return
        again, abandon = noticed(self.run.spec, self.company_id, self.id, _dt(at), self.state)
        if again is not None:
            self.plan(at + _seconds(again), PRIORITY_WORLD, _RECONNECT, at)
        if abandon is not None:
            self.plan(at + _seconds(abandon), PRIORITY_WORLD, _ABANDON, self.generation)

    def close_gap(self, at: int) -> None:
        if self.gap_start is not None:
            self.run.series.gap(_dt(self.gap_start), _dt(at))
            self.gap_start = None

    def login(self, at: int) -> None:
        """A new token: expiry timers, reminders, and syncing from now."""
        self.generation += 1
        self.issued = self.last_login = at
        self.dead_since = None
        self.close_gap(at)
        k = self.k
        if k.lifespan is None:
            return
        expiry = at + k.lifespan
        if k.window <= 0:
            pass  # no `expiring` window: connected until the expiry
        elif expiry - k.window <= at:
            self.move("near_expiry", at)
        else:
            self.plan(expiry - k.window, PRIORITY_EXPIRY, _NOTICE, self.generation)
        self.plan(expiry, PRIORITY_EXPIRY, _EXPIRE, self.generation)
        if k.reminder_email:
            policy, end = self.run.policy, _dt(expiry)
            for offset in k.reminders:
                when = _ts(reminder_instant(end, offset, _UTC, policy.send_at))
                if when >= at:
                    self.plan(when, PRIORITY_NOTIFY, _REMIND, self.generation)

    def broken(self) -> bool:
        """Whether a read fails now for the account's state (not for a dead token)."""
        k = self.k
        return (k.page_based and not self.admin) or (
            k.checkpoint_blocks_reads and self.at_checkpoint
        )

    def refused(self, at: int) -> bool:
        """Whether a login now is refused, or its first read fails."""
        if self.at_checkpoint or self.broken():
            return True
        return self.cleared_at is not None and at < self.cleared_at + self.k.login_wait

    def detect_from(self, at: int) -> None:
        """The first sync at or after ``at``, on the grid from the last login, sees it."""
        assert self.last_login is not None
        every = self.run.every
        steps = -((self.last_login - at) // every)  # ceil
        self.plan(self.last_login + steps * every, PRIORITY_SYNC, _DETECT, self.generation)

    def _fire(self, event: Event) -> None:
        # SimPy's time here is always a whole number (whole seconds x _TICKS + priority);
        # its type says int | float.
        at: int = self.env.now // _TICKS  # type: ignore[assignment]
        item: tuple[int, object] = event.value  # type: ignore[assignment]  # what plan() gave
        action, payload = item
        state = self.state
        if action == _CONNECT:
            self.state = _CONNECTED
            self.changes.append((at, _CONNECTED))
            self.login(at)
        elif action == _EVENT:
            if payload == "checkpoint":
                self.at_checkpoint = True
            elif payload == "checkpoint_cleared":
                self.at_checkpoint, self.cleared_at = False, at
            elif payload == "admin_removed":
                self.admin = False
            if self.issued is None or state not in _HEALTHY:
                return
            if payload in self.k.kills and self.dead_since is None and self.issued <= at:
                self.dead_since = at
                self.detect_from(at)
            elif self.broken():
                self.detect_from(at)
        elif action == _DETECT:
            if payload != self.generation or state not in _HEALTHY:
                return
            if (self.dead_since is not None or self.broken()) and self.move("invalidate", at):
                self.gap_start = at
                self.died(at)
                if self.k.invalid_email:
                    self.email("invalid", at, self.invalid_to)
        elif action == _NOTICE:
            if payload == self.generation:
                self.move("near_expiry", at)
        elif action == _EXPIRE:
            if payload == self.generation and state in _HEALTHY and self.move("expire", at):
                self.gap_start = at
                self.died(at)
        elif action == _REMIND:
            if payload == self.generation and state not in _SILENT:
                self.email("expiry_reminder", at, self.reminded)
        elif action == _RECONNECT:
            assert isinstance(payload, int)
            if self.last_login is not None and self.last_login > payload:
                return  # already reconnected since that email (or death)
            if self.refused(at):
                return  # the attempt fails; the state stays
            if self.move("reconnect", at):
                self.run.series.reconnect(_dt(at))
                self.login(at)
        elif (
            action == _LEAVE
            or (action == _ABANDON and payload == self.generation and state in _DEAD)
        ) and self.move("disconnect", at):
            # Churn: nothing of it is due any more; a connection gone lacks no data.
            self.generation += 1
            self.close_gap(at)

    def finish(self) -> None:
        """The run is over: its last gap and its states go into the series."""
        series = self.run.series
        if self.gap_start is not None:
            series.gap(_dt(self.gap_start), None)
        series.lifeline([(_dt(at), state) for at, state in self.changes])


def _start(conns: Iterable[Conn]) -> int:
    """The SimPy time to start from: the earliest connect (a steady base's past)."""
    return min((_ts(c.connect_at) for c in conns), default=0) * _TICKS


def run_simpy(
    spec: PopulationSpec,
    *,
    policy: PolicySet | None = None,
    companies: Iterable[int] | None = None,
    layout: str = "company",
) -> tuple[Series, int]:
    """Simulate the companies (default: all) with SimPy: the daily series (as
    ``run_population``'s) and how many events (timeouts) were processed."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    if spec.start.microsecond:
        raise ValueError(f"the SimPy model counts whole seconds; the start is {spec.start}")
    series = Series(spec.start, spec.days)
    run = _Run(spec, policy or default_policy(), series)
    indexes = companies if companies is not None else range(spec.companies)
    if layout == "company":
        for i in indexes:
            co = company(spec, i)
            env = simpy.Environment(_start(co.connections))
            lives = [_Connection(env, run, co, c) for c in co.connections]
            env.run()
            for life in lives:
                life.finish()
            series.connections += len(co.connections)
            series.companies += 1
    else:
        base = [company(spec, i) for i in indexes]
        env = simpy.Environment(_start(c for co in base for c in co.connections))
        lives = [_Connection(env, run, co, c) for co in base for c in co.connections]
        env.run()
        for life in lives:
            life.finish()
        series.connections += len(lives)
        series.companies += len(base)
    return series, run.events
