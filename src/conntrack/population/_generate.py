"""The customer base: companies, their users and connections, and what befalls them.

Everything is drawn from random generators seeded by the population's seed and the
company's index, so company ``i`` is the same whatever else is generated, in whatever
order and in whichever worker process: the base shards by company.
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


def company(spec: PopulationSpec, index: int) -> Company:
    """Company ``index`` of the base (0-based)."""
    rng = random.Random(f"{spec.seed}:company:{index}")
    users = tuple(
        (f"user{u}", rng.random() < spec.opt_out) for u in range(1, rng.randint(*spec.users) + 1)
    )
    conns = []
    end = spec.until
    # A company's TikTok behaves one way: its connections of one provider follow one
    # profile (tiktok or tiktok-2026, not both), the first it draws. A scenario run serves
    # one profile per protocol, so the actor engine played a tiktok connection by
    # tiktok-2026's rules when a company held both, and parted from the direct engine.
    chosen: dict[tuple[str, str], str] = {}
    for c in range(rng.randint(*spec.connections)):
        drawn = _pick(rng, spec.providers)
        provider = chosen.setdefault(_provider_of(drawn), drawn)
        kind = _pick(rng, spec.kinds)
        connect_at = spec.start + timedelta(seconds=rng.randrange(86400))
        events = []
        for name, rate in sorted(spec.disruptions.items()):
            if rate <= 0:
                continue
            t = connect_at
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
        conns.append(Conn(f"k{c + 1}", provider, kind, connect_at, tuple(events)))
    return Company(index, f"c{index:06d}", users, tuple(conns))


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
    u0, u1, u2 = ((int.from_bytes(digest[i : i + 8], "big") + 0.5) / 2.0**64 for i in (0, 8, 16))
    if u0 >= reaction.reconnect:
        return None
    median = reaction.median.total_seconds()
    if reaction.spread:
        normal = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)  # Box-Muller
        median *= math.exp(normal * reaction.spread)
    return timedelta(seconds=max(1, round(median)))


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
