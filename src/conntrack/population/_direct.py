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
import math
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from hashlib import blake2b

from .._clock import PRIORITY_EXPIRY, PRIORITY_NOTIFY, PRIORITY_SYNC, PRIORITY_WORLD
from .._lifecycle import HEALTHY, TRANSITIONS, State
from .._policy import PolicySet
from .._profiles import Profile, load_profile
from ._generate import _MICRO, _NEVER_DAYS, US, Company, RawConn, company_raw, micros
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
_UNREMINDED = (State.INVALID.value, State.DISCONNECTED.value)
_HEALTHY = frozenset(s.value for s in HEALTHY)
_DAY_US = 86400 * US
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class _Rules:
    """What one (provider, kind) of a run needs, worked out once per run: the provider's
    facts and the policy's, durations in microseconds (see ``_generate.micros``)."""

    facts: ProviderFacts
    lifespan: int | None
    window: int
    """The ``expiring`` window; ``0``: none."""
    reminders: tuple[tuple[int, int], ...]
    """``(whole days or 0, offset)`` of each reminder, in policy order; empty without a
    reminder email."""
    invalid_email: bool
    opt_out_silences_invalid: bool
    login_wait: int


class _Run:
    """Everything of a run that does not change from one connection to the next."""

    def __init__(self, spec: PopulationSpec, policy: PolicySet) -> None:
        self.spec, self.policy = spec, policy
        self.until = micros(spec.until)
        self.every = spec.sync_every // _MICRO
        # reminder_instant in UTC: the expiry's day at send_at (seconds and microseconds 0).
        self.send_at = (policy.send_at.hour * 3600 + policy.send_at.minute * 60) * US
        self.reactions = {
            kind: (r.reconnect, r.median.total_seconds(), r.spread)
            for kind, r in spec.behaviour.items()
            if r.reconnect > 0
        }
        self.noticing = spec.unprompted > 0 or spec.abandon.chance > 0
        self.abandon_after = spec.abandon.after // _MICRO
        self._rules: dict[tuple[str, str], _Rules] = {}

    def rules(self, provider: str, kind: str) -> _Rules:
        got = self._rules.get((provider, kind))
        if got is None:
            f = facts(provider)
            pol = self.policy.for_(provider, kind)
            got = self._rules[provider, kind] = _Rules(
                facts=f,
                lifespan=None if f.lifespan is None else f.lifespan // _MICRO,
                window=pol.window(f.notice) // _MICRO,
                reminders=tuple(
                    (1 if offset % _DAY == timedelta(0) else 0, offset // _MICRO)
                    for offset in pol.reminders
                )
                if pol.reminder_email
                else (),
                invalid_email=pol.invalid_email,
                opt_out_silences_invalid=pol.opt_out_silences_invalid,
                login_wait=f.login_wait // _MICRO,
            )
        return got


_LAST: list[_Run | None] = [None]


def _run(spec: PopulationSpec, policy: PolicySet) -> _Run:
    """The :class:`_Run` of ``spec`` and ``policy``: made once for the companies of a
    run (they come one after another with the same two objects). Read once and never
    read back: threads of one process (a Dask worker's) may each run their own."""
    last = _LAST[0]
    if last is not None and last.spec is spec and last.policy is policy:
        return last
    run = _LAST[0] = _Run(spec, policy)
    return run


def simulate_company(
    spec: PopulationSpec, company: Company | int, policy: PolicySet, series: Series
) -> None:
    """Every connection of ``company`` (or of company number ``company``, generated
    here without datetimes), added to ``series``."""
    run = _run(spec, policy)
    if isinstance(company, int):
        cid = f"c{company:06d}"
        users, conns = company_raw(spec, company)
    else:
        cid, users = company.id, company.users
        conns = [
            (c.id, c.provider, c.kind, micros(c.connect_at),
             tuple((micros(d.at), d.event) for d in c.disruptions),
             None if c.leave_at is None else micros(c.leave_at))
            for c in company.connections
        ]  # fmt: skip
    reminded = sum(not out for _, out in users)
    for conn in conns:
        _simulate(run, cid, len(users), reminded, conn, series)
    series.connections += len(conns)
    series.companies += 1


def _simulate(
    run: _Run, company_id: str, members: int, reminded: int, conn: RawConn, series: Series
) -> None:
    table = _table()
    conn_id, provider, kind, connect_at, disruptions, leave_at = conn
    rules = run.rules(provider, kind)
    f = rules.facts
    invalid_to = reminded if rules.opt_out_silences_invalid else members
    until = run.until
    every = run.every
    spec = run.spec
    agenda: list[tuple[int, int, int, int, object]] = []
    seq = 0
    push, pop = heapq.heappush, heapq.heappop

    def plan(at: int, priority: int, action: int, payload: object = None) -> None:
        nonlocal seq
        if at < until:
            seq += 1
            push(agenda, (at, priority, seq, action, payload))

    state = "not_connected"
    changes: list[tuple[int, str]] = []
    generation = 0  # the token in force; agenda items of an older one are stale
    issued: int | None = None  # when the token in force was issued
    dead_since: int | None = None  # when an event killed the token in force
    last_login: int | None = None
    gap_start: int | None = None

    def move(trigger: str, at: int) -> bool:
        nonlocal state
        dest = table.get((state, trigger))
        if dest is None:
            return False
        if dest != state:
            state = dest
            changes.append((at, dest))
        return True

    reactions = run.reactions
    prefix = f"{spec.seed}:{company_id}:{conn_id}:"

    def email(kind: str, at: int, count: int) -> None:
        if not count:
            return  # sent to nobody (all opted out): nobody can react to it, as in _notify
        series.email_us(at, kind, count)
        reaction = reactions.get(kind)
        if reaction is not None:
            delay = _reaction(prefix, at, kind, reaction)
            if delay is not None:
                plan(at + delay, PRIORITY_WORLD, _RECONNECT, at)

    noticing = run.noticing

    def died(at: int) -> None:
        """The connection just expired or became invalid: someone may reconnect it
        without an email, or its company disconnect it if it stays dead (as the actor
        engine's ``notice`` hook plans them)."""
        if not noticing:
            return
        again, abandon = _noticed(spec, run.abandon_after, prefix, at, state)
        if again is not None:  # dropped if someone reconnected since it died
            plan(at + again, PRIORITY_WORLD, _RECONNECT, at)
        if abandon is not None:
            plan(at + abandon, PRIORITY_WORLD, _ABANDON, generation)

    lifespan, window, reminders = rules.lifespan, rules.window, rules.reminders
    send_at = run.send_at

    def login(at: int) -> None:
        """A new token: expiry timers, reminders, and syncing from now."""
        nonlocal generation, issued, dead_since, last_login, gap_start
        generation += 1
        issued, dead_since, last_login = at, None, at
        if gap_start is not None:
            series.gap_us(gap_start, at)
            gap_start = None
        if lifespan is None:
            return
        expiry = at + lifespan
        if window <= 0:
            pass  # no `expiring` window (no reminder promised): connected until the expiry
        elif expiry - window <= at:
            move("near_expiry", at)
        else:
            plan(expiry - window, PRIORITY_EXPIRY, _NOTICE, generation)
        plan(expiry, PRIORITY_EXPIRY, _EXPIRE, generation)
        for whole, offset in reminders:
            when = reminder_at(expiry, whole, offset, send_at)
            if when >= at:
                plan(when, PRIORITY_NOTIFY, _REMIND, generation)

    plan(connect_at, PRIORITY_WORLD, _CONNECT)
    for at_, event_ in disruptions:
        plan(at_, PRIORITY_WORLD, _EVENT, event_)
    if leave_at is not None:
        plan(leave_at, PRIORITY_WORLD, _LEAVE)

    # What the provider account is going through (the fake's account flags).
    at_checkpoint = False
    cleared_at: int | None = None
    admin = True
    page_based, checkpoint_blocks_reads = f.page_based, f.checkpoint_blocks_reads
    login_wait = rules.login_wait
    kills = f.kills

    def broken() -> bool:
        """Whether a read fails now for the account's state (not for a dead token)."""
        return (page_based and not admin) or (checkpoint_blocks_reads and at_checkpoint)

    def refused(at: int) -> bool:
        """Whether a login now is refused, or its first read fails."""
        if at_checkpoint or broken():
            return True
        return cleared_at is not None and at < cleared_at + login_wait

    def detect_from(at: int) -> None:
        """The first sync at or after ``at`` (world events come first at an instant), on
        the grid that started at the last login, will see the trouble."""
        assert last_login is not None
        steps = -((last_login - at) // every)  # ceil
        plan(last_login + steps * every, PRIORITY_SYNC, _DETECT, generation)

    healthy = _HEALTHY
    while agenda:
        at, _, _, action, payload = pop(agenda)
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
            if issued is None or state not in healthy:
                continue
            if event in kills and dead_since is None and issued <= at:
                dead_since = at
                detect_from(at)
            elif broken():
                detect_from(at)
        elif action == _DETECT:
            if payload != generation or state not in healthy:
                continue
            if (dead_since is not None or broken()) and move("invalidate", at):
                gap_start = at
                died(at)
                if rules.invalid_email:
                    email("invalid", at, invalid_to)
        elif action == _NOTICE:
            if payload == generation:
                move("near_expiry", at)
        elif action == _EXPIRE:
            if payload == generation and state in healthy and move("expire", at):
                gap_start = at
                died(at)
        elif action == _REMIND:
            if payload == generation and state not in _UNREMINDED:
                email("expiry_reminder", at, reminded)
        elif action == _RECONNECT:
            sent = payload
            assert isinstance(sent, int)
            if last_login is not None and last_login > sent:
                continue  # already reconnected since that email: nothing to do
            if refused(at):
                continue  # the attempt fails; the state stays
            if move("reconnect", at):
                series.reconnect_us(at)
                login(at)
        elif (
            action == _LEAVE or (action == _ABANDON and payload == generation and state in _DEAD)
        ) and move("disconnect", at):
            # Churn: the company disconnects it (or leaves, or abandons it dead). Nothing
            # of it is due any more, and a connection that left the base lacks no data.
            generation += 1
            if gap_start is not None:
                series.gap_us(gap_start, at)
                gap_start = None
    if gap_start is not None:
        series.gap_us(gap_start, None)
    series.lifeline_us(changes)


def reminder_at(expiry: int, whole: int, offset: int, send_at: int) -> int:
    """``_notify.reminder_instant`` in UTC, in microseconds (``whole``: the offset is a
    whole number of days; ``send_at``: the time of day): a whole number of days before
    is that many days before the expiry's day at ``send_at``, never later than the
    expiry itself; any other offset is exact."""
    if whole:
        day = expiry - expiry % _DAY_US + send_at - offset
        if day < expiry:
            return day
    return expiry - offset


def _stamp(at: int) -> str:
    """``f"{instant(at).timestamp():.0f}"``, the instant in a hash key, without the
    datetime (``timestamp()`` is the microseconds over 10**6, a correctly rounded
    division, as here)."""
    seconds, rest = divmod(at, US)
    return str(seconds) if not rest else f"{at / US:.0f}"


def _reaction(prefix: str, at: int, kind: str, reaction: tuple[float, float, float]) -> int | None:
    """``_generate.reaction_delay`` in microseconds, for a reaction with a chance above 0
    (``prefix``: ``"{seed}:{company}:{connection}:"``); the same hash, the same draws."""
    seconds, rest = divmod(at, US)  # _stamp(at), inline: once an email
    key = f"{prefix}{seconds if not rest else _stamp(at)}:{kind}".encode()
    digest = blake2b(key, digest_size=24).digest()
    chance, median, spread = reaction
    if (int.from_bytes(digest[0:8], "big") + 0.5) / 2.0**64 >= chance:
        return None  # most emails move nobody: the other two draws are not needed
    u1 = (int.from_bytes(digest[8:16], "big") + 0.5) / 2.0**64
    u2 = (int.from_bytes(digest[16:24], "big") + 0.5) / 2.0**64
    if spread:
        normal = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)  # Box-Muller
        median *= math.exp(normal * spread)
    return max(1, round(median)) * US


def _noticed(
    spec: PopulationSpec, abandon_after: int, prefix: str, at: int, state: str
) -> tuple[int | None, int | None]:
    """``_generate.noticed`` in microseconds (``prefix`` as for :func:`_reaction`)."""
    chance, abandon = spec.unprompted, spec.abandon.chance
    key = f"{prefix}{_stamp(at)}:{state}:noticed".encode()
    digest = blake2b(key, digest_size=16).digest()
    u0 = (int.from_bytes(digest[0:8], "big") + 0.5) / 2.0**64
    u1 = (int.from_bytes(digest[8:16], "big") + 0.5) / 2.0**64
    again = None
    if chance > 0:
        days = math.log(u0) / math.log1p(-chance)  # the first day-long trial that succeeds
        if days < _NEVER_DAYS:
            again = max(1, round(days * 86400)) * US
    return again, abandon_after if u1 < abandon else None
