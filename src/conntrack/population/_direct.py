"""The direct engine: each connection woken only when something changes it.

The actor engine (``--transport asgi``) syncs every connection every ``sync_every``
through HTTP into the fakes; for a year of 100 000 connections that is 146 million
wake-ups (DESIGN.md, "Time"). Here a connection's life is a short agenda of the instants
at which its state can change — connect, notice, reminders, expiry, the sync that first
sees a dead token, a user's reconnect — computed from the same facts the fakes and the
product use: the provider profiles (lifetimes, which account events kill tokens), the
lifecycle table, the notification policy and its send-time arithmetic. Syncs that cannot
change anything are never simulated: the first sync after a token died is found on the
sync grid by arithmetic. The agenda is ordered like the actor engine's scheduler
(instant, then world < notify < expiry < sync), so both engines give the same series; a
test compares them.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from .._clock import PRIORITY_EXPIRY, PRIORITY_NOTIFY, PRIORITY_SYNC, PRIORITY_WORLD
from .._lifecycle import HEALTHY, TRANSITIONS, State
from .._notify import reminder_instant
from .._policy import PolicySet
from .._profiles import Profile, load_profile
from ._generate import Company, Conn, noticed, reaction_delay
from ._model import PopulationSpec
from ._series import Series


@cache
def _table() -> dict[tuple[str, str], str]:
    """The lifecycle's transitions as ``(state, trigger) → state`` (``=``: stays)."""
    out = {}
    for t in TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for s in sources:
            out[(s, t["trigger"])] = s if t["dest"] == "=" else t["dest"]
    return out


@dataclass(frozen=True)
class ProviderFacts:
    """What the direct engine needs of a provider profile."""

    lifespan: timedelta | None
    """From a login to the hard expiry no refresh can avoid; ``None``: never."""
    notice: timedelta
    kills: frozenset[str]
    """Account events that kill the tokens issued before them."""
    page_based: bool
    """The connection is about a page, organization or channel the person administers:
    losing that role (``admin_removed``) makes every read fail, for good."""
    checkpoint_blocks_reads: bool
    """Reads fail while the account is held at a checkpoint (LinkedIn, Google), whether
    or not the checkpoint killed the tokens."""
    login_wait: timedelta
    """After a checkpoint is cleared, logins wait this long (``checkpoint_login_wait``)."""


@cache
def facts(name: str) -> ProviderFacts:
    profile = load_profile(name)
    kills = _kills(profile)
    page_based = name in PAGE_BASED
    return ProviderFacts(
        lifespan=_lifespan(profile),
        notice=profile.lifetime("notice_window") or timedelta(0),
        # A Facebook admin_removed kills page tokens only; the product reads with the
        # user token, which then fails on the page: a page-role break, not a kill.
        kills=kills - {"admin_removed"} if page_based else kills,
        page_based=page_based,
        checkpoint_blocks_reads=profile.protocol in ("linkedin", "google"),
        login_wait=_optional(profile, "checkpoint_login_wait"),
    )


#: Profiles whose connection is about a page/organization/channel (see clients' RESOURCES).
PAGE_BASED = frozenset({"facebook", "instagram-facebook", "linkedin", "google"})


def _optional(p: Profile, key: str) -> timedelta:
    return (p.lifetime(key) or timedelta(0)) if key in p.settings else timedelta(0)


def _lifespan(p: Profile) -> timedelta | None:
    if p.get("refresh") == "exchange_only":
        return p.lifetime("long_token_lifetime")
    if p.get("refresh") == "self":
        return None  # refreshed for ever (Instagram Login)
    if p.get("refresh_token_lifetime_resets"):
        return None  # every refresh starts a new lifetime: never expires while synced
    return p.lifetime("refresh_token_lifetime")


def _kills(p: Profile) -> frozenset[str]:
    out = set()
    for item in p.get("token_killing_events") or ():
        if isinstance(item, str):
            out.add(item)
        elif isinstance(item, dict) and "scopes" in item:
            wanted = tuple(item["scopes"])
            scopes = [str(s) for s in p.get("default_scopes") or ()]
            if any(s.startswith(w) for s in scopes for w in wanted):
                out.add(str(item["event"]))
        elif isinstance(item, dict):
            out.add(str(item["event"]))
    return frozenset(out)


# Agenda actions.
_CONNECT, _EVENT, _RECONNECT, _REMIND, _NOTICE, _EXPIRE, _DETECT, _LEAVE, _ABANDON = range(9)
_DEAD = (State.EXPIRED.value, State.INVALID.value)


def simulate_company(
    spec: PopulationSpec, company: Company, policy: PolicySet, series: Series
) -> None:
    """Every connection of ``company``, added to ``series``."""
    tz = ZoneInfo("UTC")
    for conn in company.connections:
        _simulate(spec, company, conn, policy, tz, series)
    series.connections += len(company.connections)
    series.companies += 1


def _simulate(
    spec: PopulationSpec,
    company: Company,
    conn: Conn,
    policy: PolicySet,
    tz: ZoneInfo,
    series: Series,
) -> None:
    table = _table()
    f = facts(conn.provider)
    pol = policy.for_(conn.provider, conn.kind)
    members = len(company.users)
    reminded = company.reminded
    invalid_to = reminded if pol.opt_out_silences_invalid else members
    until = spec.until
    every = spec.sync_every
    agenda: list[tuple[datetime, int, int, int, object]] = []
    seq = 0

    def plan(at: datetime, priority: int, action: int, payload: object = None) -> None:
        nonlocal seq
        if at < until:
            seq += 1
            heapq.heappush(agenda, (at, priority, seq, action, payload))

    state = "not_connected"
    changes: list[tuple[datetime, str]] = []
    generation = 0  # the token in force; agenda items of an older one are stale
    issued: datetime | None = None  # when the token in force was issued
    dead_since: datetime | None = None  # when an event killed the token in force
    last_login: datetime | None = None
    gap_start: datetime | None = None

    def move(trigger: str, at: datetime) -> bool:
        nonlocal state
        dest = table.get((state, trigger))
        if dest is None:
            return False
        if dest != state:
            state = dest
            changes.append((at, dest))
        return True

    def email(kind: str, at: datetime, count: int) -> None:
        if not count:
            return  # sent to nobody (all opted out): nobody can react to it, as in _notify
        series.email(at, kind, count)
        delay = reaction_delay(spec.seed, company.id, conn.id, at, kind, spec.behaviour.get(kind))
        if delay is not None:
            plan(at + delay, PRIORITY_WORLD, _RECONNECT, at)

    noticing = spec.unprompted > 0 or spec.abandon.chance > 0

    def died(at: datetime) -> None:
        """The connection just expired or became invalid: someone may reconnect it
        without an email, or its company disconnect it if it stays dead (as the actor
        engine's ``notice`` hook plans them)."""
        if not noticing:
            return
        again, abandon = noticed(spec, company.id, conn.id, at, state)
        if again is not None:  # dropped if someone reconnected since it died
            plan(at + again, PRIORITY_WORLD, _RECONNECT, at)
        if abandon is not None:
            plan(at + abandon, PRIORITY_WORLD, _ABANDON, generation)

    def login(at: datetime) -> None:
        """A new token: expiry timers, reminders, and syncing from now."""
        nonlocal generation, issued, dead_since, last_login, gap_start
        generation += 1
        issued, dead_since, last_login = at, None, at
        if gap_start is not None:
            series.gap(gap_start, at)
            gap_start = None
        if f.lifespan is None:
            return
        expiry = at + f.lifespan
        window = pol.window(f.notice)
        if window <= timedelta(0):
            pass  # no `expiring` window (no reminder promised): connected until the expiry
        elif expiry - window <= at:
            move("near_expiry", at)
        else:
            plan(expiry - window, PRIORITY_EXPIRY, _NOTICE, generation)
        plan(expiry, PRIORITY_EXPIRY, _EXPIRE, generation)
        if pol.reminder_email:
            for offset in pol.reminders:
                when = reminder_instant(expiry, offset, tz, policy.send_at)
                if when >= at:
                    plan(when, PRIORITY_NOTIFY, _REMIND, generation)

    plan(conn.connect_at, PRIORITY_WORLD, _CONNECT)
    for d in conn.disruptions:
        plan(d.at, PRIORITY_WORLD, _EVENT, d.event)
    if conn.leave_at is not None:
        plan(conn.leave_at, PRIORITY_WORLD, _LEAVE)

    # What the provider account is going through (the fake's account flags).
    at_checkpoint = False
    cleared_at: datetime | None = None
    admin = True

    def broken() -> bool:
        """Whether a read fails now for the account's state (not for a dead token)."""
        return (f.page_based and not admin) or (f.checkpoint_blocks_reads and at_checkpoint)

    def refused(at: datetime) -> bool:
        """Whether a login now is refused, or its first read fails."""
        if at_checkpoint or broken():
            return True
        return cleared_at is not None and at < cleared_at + f.login_wait

    def detect_from(at: datetime) -> None:
        """The first sync at or after ``at`` (world events come first at an instant), on
        the grid that started at the last login, will see the trouble."""
        assert last_login is not None
        steps = -((last_login - at) // every)  # ceil
        plan(last_login + steps * every, PRIORITY_SYNC, _DETECT, generation)

    while agenda:
        at, _, _, action, payload = heapq.heappop(agenda)
        if action == _CONNECT:
            state = State.CONNECTED.value
            changes.append((at, state))
            login(at)
        elif action == _EVENT:
            event = payload
            if event == "checkpoint":
                at_checkpoint = True
            elif event == "checkpoint_cleared":
                at_checkpoint, cleared_at = False, at
            elif event == "admin_removed":
                admin = False
            if issued is None or state not in HEALTHY:
                continue
            if event in f.kills and dead_since is None and issued <= at:
                dead_since = at
                detect_from(at)
            elif broken():
                detect_from(at)
        elif action == _DETECT:
            if payload != generation or state not in HEALTHY:
                continue
            if (dead_since is not None or broken()) and move("invalidate", at):
                gap_start = at
                died(at)
                if pol.invalid_email:
                    email("invalid", at, invalid_to)
        elif action == _NOTICE:
            if payload == generation:
                move("near_expiry", at)
        elif action == _EXPIRE:
            if payload == generation and state in HEALTHY and move("expire", at):
                gap_start = at
                died(at)
        elif action == _REMIND:
            if payload == generation and state not in (State.INVALID, State.DISCONNECTED):
                email("expiry_reminder", at, reminded)
        elif action == _RECONNECT:
            sent = payload
            assert isinstance(sent, datetime)
            if last_login is not None and last_login > sent:
                continue  # already reconnected since that email: nothing to do
            if refused(at):
                continue  # the attempt fails; the state stays
            if move("reconnect", at):
                series.reconnect(at)
                login(at)
        elif (
            action == _LEAVE or (action == _ABANDON and payload == generation and state in _DEAD)
        ) and move("disconnect", at):
            # Churn: the company disconnects it (or leaves, or abandons it dead). Nothing
            # of it is due any more, and a connection that left the base lacks no data.
            generation += 1
            if gap_start is not None:
                series.gap(gap_start, at)
                gap_start = None
    if gap_start is not None:
        series.gap(gap_start, None)
    series.lifeline(changes)
