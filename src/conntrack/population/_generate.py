"""The customer base: companies, their users and connections, and what befalls them.

Everything is drawn from random generators seeded by the population's seed and the
company's index, so company ``i`` is the same whatever else is generated, in whatever
order and in whichever worker process: the base shards by company.

A company's life beyond its day-one connections — how old they are in a steady base,
when each is disconnected (churn), when the company leaves, which connections arrive
later — comes from a second generator of its own, so a ``fresh`` base without churn or
arrivals draws exactly what it drew before these existed.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import accumulate

from faker import Faker

from .._profiles import load_profile
from ._model import PopulationSpec, Reaction

YEAR = 365 * 86400


@dataclass(frozen=True)
class Disruption:
    at: datetime
    event: str


@dataclass(frozen=True)
class Conn:
    id: str
    provider: str
    kind: str
    connect_at: datetime
    disruptions: tuple[Disruption, ...]
    leave_at: datetime | None = None
    """When the company disconnects it (churn, or the company leaves); ``None``: not
    within the run."""


@dataclass(frozen=True)
class Company:
    index: int
    id: str
    users: tuple[tuple[str, bool], ...]
    """``(user id, opted out of reminders)``, in order."""
    connections: tuple[Conn, ...]

    @property
    def reminded(self) -> int:
        """How many users get a reminder email."""
        return sum(not out for _, out in self.users)


@cache
def _provider_of(profile: str) -> tuple[str, str]:
    """Which provider a profile describes: its protocol and display name. ``tiktok`` and
    ``tiktok-2026`` are two descriptions of TikTok; ``instagram-facebook`` speaks the
    Facebook protocol but is Instagram, another product beside Facebook's."""
    loaded = load_profile(profile)
    return loaded.protocol, str(loaded["display_name"])


def _table(weights: dict[str, float]) -> tuple[list[str], list[float]]:
    """The names of positive weight and their cumulative weights: what
    ``random.choices`` accumulates from the weights on every call, once."""
    names = [n for n, w in weights.items() if w > 0]
    return names, list(accumulate(weights[n] for n in names))


def _after(rng: random.Random, at: int, yearly: float) -> int | None:
    """The next event of a Poisson process of ``yearly`` rate after ``at`` (whole
    seconds; instants in microseconds since the epoch); ``None`` for a rate of 0."""
    if yearly <= 0:
        return None
    return at + math.ceil(rng.expovariate(yearly / YEAR)) * US


def _age(life: random.Random, spec: PopulationSpec) -> int:
    """How many seconds before day one a connection of a steady base arrived: with
    constant arrivals and a churn of ``c`` a year, the connections still there are
    exponentially old (mean 1/c years); cut at ``history`` (drawn from the exponential
    on [0, history]: uniform without churn)."""
    h = spec.history.total_seconds()
    c = spec.churn.connections / YEAR
    u = life.random()
    if c * h < 1e-9:
        return math.ceil(u * h)
    return math.ceil(-math.log1p(-u * -math.expm1(-c * h)) / c)


#: Instants inside the generator and the direct engine: whole microseconds since the
#: epoch (ints compare and add much faster than datetimes, and exactly as they do).
US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(at: datetime) -> int:
    """``at`` (aware) as whole microseconds since the epoch."""
    return (at - _EPOCH) // _MICRO


def instant(us: int) -> datetime:
    """The aware UTC datetime of ``us`` microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=us)


RawConn = tuple[str, str, str, int, tuple[tuple[int, str], ...], int | None]
"""A connection as the direct engine reads it: ``(id, provider, kind, connect_at,
((at, event), ...), leave_at)``, instants in microseconds (see :class:`Conn`)."""


def company(spec: PopulationSpec, index: int) -> Company:
    """Company ``index`` of the base (0-based)."""
    users, conns = company_raw(spec, index)
    return Company(
        index,
        f"c{index:06d}",
        users,
        tuple(
            Conn(cid, provider, kind, instant(at),
                 tuple(Disruption(instant(t), event) for t, event in events),
                 None if leave is None else instant(leave))
            for cid, provider, kind, at, events, leave in conns
        ),
    )  # fmt: skip


def company_raw(
    spec: PopulationSpec, index: int
) -> tuple[tuple[tuple[str, bool], ...], list[RawConn]]:
    """Company ``index``'s users and connections, instants in microseconds: what
    :func:`company` returns without building datetimes (the direct engine's form)."""
    rng = random.Random(f"{spec.seed}:company:{index}")
    life = random.Random(f"{spec.seed}:life:{index}")
    users = tuple(
        (f"user{u}", rng.random() < spec.opt_out) for u in range(1, rng.randint(*spec.users) + 1)
    )
    conns: list[RawConn] = []
    start = micros(spec.start)
    end = micros(spec.until)
    leaves = _after(life, start, spec.churn.companies)
    if leaves is not None and leaves >= end:
        leaves = None
    steady = spec.day_one == "steady"
    disruptions = _rates(spec)
    clears = spec.checkpoint_clears_after // _MICRO
    # A company's TikTok behaves one way: its connections of one provider follow one
    # profile (tiktok or tiktok-2026, not both), the first it draws. A scenario run serves
    # one profile per protocol, so the actor engine played a tiktok connection by
    # tiktok-2026's rules when a company held both, and parted from the direct engine.
    chosen: dict[tuple[str, str], str] = {}

    def conn(n: int, mix: dict[str, float], kinds: dict[str, float], at: int | None) -> RawConn:
        """Connection ``k{n}``: present on day one (``at`` None) or arriving ``at``."""
        names, cum = tables[id(mix)]
        drawn = choices(names, cum_weights=cum)[0]
        provider = chosen.setdefault(_provider_of(drawn), drawn)
        names, cum = tables[id(kinds)]
        kind = choices(names, cum_weights=cum)[0]
        if at is None:
            at = start + rng.randrange(86400) * US
            if steady:
                at -= _age(life, spec) * US
        # Present on day one or arriving later: disconnected after that, never before.
        leave = _after(life, max(at, start), spec.churn.connections)
        if leaves is not None and (leave is None or leave > leaves):
            leave = leaves
        if leave is not None and leave >= end:
            leave = None
        events = _disruptions(rng, disruptions, clears, at, end if leave is None else leave)
        return (f"k{n}", provider, kind, at, events, leave)

    rate = spec.arrivals_per_day() * 365
    mix = (spec.arrivals.providers if spec.arrivals else None) or spec.providers
    kinds = (spec.arrivals.kinds if spec.arrivals else None) or spec.kinds
    tables = _tables(spec, mix, kinds)
    choices = rng.choices
    for c in range(rng.randint(*spec.connections)):
        conns.append(conn(c + 1, spec.providers, spec.kinds, None))
    t = _after(life, start, rate)
    last = end if leaves is None else leaves
    while t is not None and t < last:
        conns.append(conn(len(conns) + 1, mix, kinds, t))
        t = _after(life, t, rate)
    return users, conns


_TABLES: list[tuple[PopulationSpec, dict[int, tuple[list[str], list[float]]]] | None] = [None]


def _tables(
    spec: PopulationSpec, mix: dict[str, float], kinds: dict[str, float]
) -> dict[int, tuple[list[str], list[float]]]:
    """:func:`_table` of each mix of ``spec`` by its ``id``, made once for the companies
    of a run (they come one after another with the same spec): ``random.choices`` with
    the cumulative weights is ``choices`` with the weights, without accumulating them
    again on every draw. Read once and never read back, as ``_direct._run``."""
    last = _TABLES[0]
    if last is not None and last[0] is spec:
        return last[1]
    tables = {id(w): _table(w) for w in (spec.providers, spec.kinds, mix, kinds)}
    _TABLES[0] = (spec, tables)
    return tables


def _rates(spec: PopulationSpec) -> list[tuple[str, float]]:
    """The disruption model's positive yearly rates as the expovariate's rate per
    second, in name order (the order the draws are taken in)."""
    return [(name, rate / YEAR) for name, rate in sorted(spec.disruptions.items()) if rate > 0]


def _disruptions(
    rng: random.Random, rates: list[tuple[str, float]], clears: int, since: int, end: int
) -> tuple[tuple[int, str], ...]:
    """What befalls one connection's account from ``since`` until ``end``."""
    events = []
    draw = rng.expovariate
    ceil = math.ceil
    for name, rate in rates:
        t = since
        while True:
            t += ceil(draw(rate)) * US
            if t >= end:
                break
            events.append((t, name))
            if name == "checkpoint":
                cleared = t + clears
                if cleared < end:
                    events.append((cleared, "checkpoint_cleared"))
    events.sort()
    return tuple(events)


def reaction_delay(
    seed: int, company_id: str, conn: str, at: datetime, kind: str, reaction: Reaction | None
) -> timedelta | None:
    """When someone reconnects after the ``kind`` email sent at ``at`` (``None``: nobody).

    Drawn from a hash of the email itself (no shared generator), so every engine and
    every worker that sends the same email at the same instant gets the same answer.
    """
    if reaction is None or reaction.reconnect <= 0:
        return None
    key = f"{seed}:{company_id}:{conn}:{at.timestamp():.0f}:{kind}".encode()
    digest = hashlib.blake2b(key, digest_size=24).digest()
    if (int.from_bytes(digest[0:8], "big") + 0.5) / 2.0**64 >= reaction.reconnect:
        return None  # most emails move nobody: the other two draws are not needed
    u1, u2 = ((int.from_bytes(digest[i : i + 8], "big") + 0.5) / 2.0**64 for i in (8, 16))
    median = reaction.median.total_seconds()
    if reaction.spread:
        normal = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)  # Box-Muller
        median *= math.exp(normal * reaction.spread)
    return timedelta(seconds=max(1, round(median)))


def noticed(
    spec: PopulationSpec, company_id: str, conn: str, at: datetime, state: str
) -> tuple[timedelta | None, timedelta | None]:
    """For a connection that became ``state`` (expired or invalid) at ``at``: after how
    long someone reconnects it unprompted (each day dead, a chance of
    ``spec.unprompted``: an exponential wait), and after how long its company disconnects
    it if it is still dead then (``spec.abandon``); each ``None``: never.

    Drawn from a hash of the death itself, as :func:`reaction_delay` draws from the email,
    so every engine and worker gets the same answer and no generator moves.
    """
    chance, abandon = spec.unprompted, spec.abandon
    if chance <= 0 and abandon.chance <= 0:
        return None, None
    key = f"{spec.seed}:{company_id}:{conn}:{at.timestamp():.0f}:{state}:noticed".encode()
    digest = hashlib.blake2b(key, digest_size=16).digest()
    u0, u1 = ((int.from_bytes(digest[i : i + 8], "big") + 0.5) / 2.0**64 for i in (0, 8))
    again = None
    if chance > 0:
        days = math.log(u0) / math.log1p(-chance)  # the first day-long trial that succeeds
        if days < _NEVER_DAYS:
            again = timedelta(seconds=max(1, round(days * 86400)))
    return again, abandon.after if u1 < abandon.chance else None


#: A wait longer than this (a tiny daily chance) is no wait: nobody within any run.
_NEVER_DAYS = 100 * 365


_FAKER: Faker | None = None


def names(spec: PopulationSpec, company_: Company) -> tuple[str, list[str]]:
    """Company ``company_``'s name and its people's names, from faker, seeded by the
    population's seed and the company's index. Drawn on demand (about 1 ms a company):
    the direct engine needs only how many people there are."""
    global _FAKER
    if _FAKER is None:
        _FAKER = Faker("en_US")
        _FAKER.seed_instance(0)
    _FAKER.random.seed(f"{spec.seed}:names:{company_.index}")
    return _FAKER.company(), [_FAKER.name() for _ in company_.users]
