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
from datetime import datetime, timedelta
from functools import cache

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


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    names = [n for n, w in weights.items() if w > 0]
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def _after(rng: random.Random, at: datetime, yearly: float) -> datetime | None:
    """The next event of a Poisson process of ``yearly`` rate after ``at`` (whole
    seconds); ``None`` for a rate of 0."""
    if yearly <= 0:
        return None
    return at + timedelta(seconds=math.ceil(rng.expovariate(yearly / YEAR)))


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


def company(spec: PopulationSpec, index: int) -> Company:
    """Company ``index`` of the base (0-based)."""
    rng = random.Random(f"{spec.seed}:company:{index}")
    life = random.Random(f"{spec.seed}:life:{index}")
    users = tuple(
        (f"user{u}", rng.random() < spec.opt_out) for u in range(1, rng.randint(*spec.users) + 1)
    )
    conns = []
    end = spec.until
    leaves = _after(life, spec.start, spec.churn.companies)
    if leaves is not None and leaves >= end:
        leaves = None
    steady = spec.day_one == "steady"
    # A company's TikTok behaves one way: its connections of one provider follow one
    # profile (tiktok or tiktok-2026, not both), the first it draws. A scenario run serves
    # one profile per protocol, so the actor engine played a tiktok connection by
    # tiktok-2026's rules when a company held both, and parted from the direct engine.
    chosen: dict[tuple[str, str], str] = {}

    def conn(n: int, mix: dict[str, float], kinds: dict[str, float], at: datetime | None) -> Conn:
        """Connection ``k{n}``: present on day one (``at`` None) or arriving ``at``."""
        drawn = _pick(rng, mix)
        provider = chosen.setdefault(_provider_of(drawn), drawn)
        kind = _pick(rng, kinds)
        if at is None:
            at = spec.start + timedelta(seconds=rng.randrange(86400))
            if steady:
                at -= timedelta(seconds=_age(life, spec))
        # Present on day one or arriving later: disconnected after that, never before.
        leave = _after(life, max(at, spec.start), spec.churn.connections)
        if leaves is not None and (leave is None or leave > leaves):
            leave = leaves
        if leave is not None and leave >= end:
            leave = None
        return Conn(f"k{n}", provider, kind, at, _disruptions(rng, spec, at, leave or end), leave)

    for c in range(rng.randint(*spec.connections)):
        conns.append(conn(c + 1, spec.providers, spec.kinds, None))
    rate = spec.arrivals_per_day() * 365
    mix = (spec.arrivals.providers if spec.arrivals else None) or spec.providers
    kinds = (spec.arrivals.kinds if spec.arrivals else None) or spec.kinds
    t = _after(life, spec.start, rate)
    while t is not None and t < (leaves or end):
        conns.append(conn(len(conns) + 1, mix, kinds, t))
        t = _after(life, t, rate)
    return Company(index, f"c{index:06d}", users, tuple(conns))


def _disruptions(
    rng: random.Random, spec: PopulationSpec, since: datetime, end: datetime
) -> tuple[Disruption, ...]:
    """What befalls one connection's account from ``since`` until ``end``."""
    events = []
    for name, rate in sorted(spec.disruptions.items()):
        if rate <= 0:
            continue
        t = since
        while True:
            t += timedelta(seconds=math.ceil(rng.expovariate(rate / YEAR)))
            if t >= end:
                break
            events.append(Disruption(t, name))
            if name == "checkpoint":
                cleared = t + spec.checkpoint_clears_after
                if cleared < end:
                    events.append(Disruption(cleared, "checkpoint_cleared"))
    events.sort(key=lambda d: (d.at, d.event))
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
