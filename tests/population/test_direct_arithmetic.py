"""The direct engine's integer arithmetic against the datetime functions it replaces.

Since issue 15 the direct engine keeps instants as whole microseconds since the epoch and
draws from the same hashes without building datetimes: the series must stay
byte-identical. Each fast path is checked here against the shared function it stands in
for (``reminder_instant``, ``reaction_delay``, ``noticed``, ``Series``' datetime methods,
``company``), on random inputs that include instants and durations that are not whole
seconds, days or hours, and instants before the epoch.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from conntrack._notify import reminder_instant
from conntrack._policy import default_policy
from conntrack.population import PopulationSpec, Series, company, run_population
from conntrack.population._direct import (
    _DAY_US,
    _noticed,
    _reaction,
    reminder_at,
    simulate_company,
)
from conntrack.population._generate import (
    US,
    company_raw,
    instant,
    micros,
    noticed,
    reaction_delay,
)
from conntrack.population._model import Abandon, Arrivals, Churn, Reaction

#: Every provider and kind, frequent disruptions, likely reactions, a past, churn,
#: arrivals, unprompted reconnects and abandons: every path in a few companies.
BUSY_STEADY = PopulationSpec(
    companies=6, days=120, seed=3, history=timedelta(days=150),
    providers={"facebook": 3, "instagram-facebook": 2, "instagram": 1, "linkedin": 1,
               "tiktok": 1, "tiktok-2026": 1, "twitter": 1, "google": 1},
    kinds={"owned": 2, "monitored": 1, "paid": 1},
    disruptions={"password_change": 3.0, "app_removed": 1.5, "username_change": 1.0,
                 "checkpoint": 2.0, "admin_removed": 0.5},
    behaviour={"expiry_reminder": Reaction(0.5, timedelta(days=1), 1.0),
               "invalid": Reaction(0.8, timedelta(hours=12), 0.8)},
    churn=Churn(connections=1.5, companies=0.5),
    arrivals=Arrivals(per_day=0.02, providers={"linkedin": 1, "facebook": 1}, kinds={"paid": 1}),
    unprompted=0.08, abandon=Abandon(after=timedelta(days=12), chance=0.6),
)  # fmt: skip
BUSY = dataclasses.replace(
    BUSY_STEADY, companies=10, days=240, day_one="fresh", churn=Churn(0.0, 0.0), arrivals=None,
    unprompted=0.0, abandon=Abandon(chance=0.0),
)  # fmt: skip

RNG = random.Random(15)


def _instants(n: int) -> list[datetime]:
    """Instants from 1950 to 2090: whole seconds, and some with microseconds."""
    out = []
    for i in range(n):
        s = RNG.randrange(-20 * 365 * 86400, 120 * 365 * 86400)
        micro = RNG.randrange(US) if i % 3 == 0 else 0
        out.append(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=s, microseconds=micro))
    return out


def test_microseconds_and_datetimes_convert_both_ways() -> None:
    for at in _instants(500):
        assert instant(micros(at)) == at
        assert micros(at) / US == at.timestamp()


@pytest.mark.parametrize("send_at", [time(9, 0), time(0, 0), time(17, 30), time(23, 59)])
def test_reminders_fall_where_reminder_instant_puts_them(send_at: time) -> None:
    utc = ZoneInfo("UTC")
    seconds = (send_at.hour * 3600 + send_at.minute * 60) * US
    offsets = [timedelta(days=d) for d in (0, 1, 5, 10, 30)]
    offsets += [timedelta(hours=36), timedelta(minutes=90), timedelta(seconds=7, microseconds=3)]
    for expiry in _instants(300):
        for offset in offsets:
            whole = 1 if offset % timedelta(days=1) == timedelta(0) else 0
            got = reminder_at(micros(expiry), whole, offset // timedelta(microseconds=1), seconds)
            assert instant(got) == reminder_instant(expiry, offset, utc, send_at)
    assert _DAY_US == 86400 * US


def test_reactions_to_emails_are_drawn_as_reaction_delay_draws_them() -> None:
    reactions = [Reaction(0.9, timedelta(days=1), 1.0), Reaction(0.7, timedelta(hours=12), 0.0),
                 Reaction(1.0, timedelta(minutes=3), 2.5)]  # fmt: skip
    moved = 0
    for at in _instants(400):
        for reaction in reactions:
            for kind in ("expiry_reminder", "invalid"):
                want = reaction_delay(7, "c000042", "k3", at, kind, reaction)
                fast = (reaction.reconnect, reaction.median.total_seconds(), reaction.spread)
                got = _reaction("7:c000042:k3:", micros(at), kind, fast)
                assert (None if got is None else timedelta(microseconds=got)) == want
                moved += want is not None
    assert moved > 100  # both branches were taken


@pytest.mark.parametrize("unprompted", [0.05, 1e-6, 0.0])
def test_deaths_are_noticed_as_noticed_draws_them(unprompted: float) -> None:
    spec = PopulationSpec(seed=3, unprompted=unprompted, abandon=Abandon(timedelta(days=45), 0.4))
    after = spec.abandon.after // timedelta(microseconds=1)
    seen = set()
    for at in _instants(400):
        for state in ("expired", "invalid"):
            want = noticed(spec, "c000001", "k2", at, state)
            got = _noticed(spec, after, "3:c000001:k2:", micros(at), state)
            assert tuple(None if g is None else timedelta(microseconds=g) for g in got) == want
            seen.add(want[1] is None)
    assert seen == {True, False}  # abandoned or not


def test_series_count_microseconds_as_they_count_datetimes() -> None:
    start = datetime(2026, 1, 5, 7, 30, 0, 250_000, tzinfo=UTC)  # not a whole second
    by_datetime, by_micros = Series(start, 40), Series(start, 40)
    for _ in range(300):
        a = start + timedelta(seconds=RNG.uniform(-5 * 86400, 45 * 86400))
        b = a + timedelta(seconds=RNG.uniform(0, 9 * 86400))
        assert by_datetime.day(a) == by_micros.day_us(micros(a))
        by_datetime.email(a, "invalid", 2)
        by_micros.email_us(micros(a), "invalid", 2)
        by_datetime.reconnect(b)
        by_micros.reconnect_us(micros(b))
        end = None if RNG.random() < 0.2 else b
        by_datetime.gap(a, end)
        by_micros.gap_us(micros(a), None if end is None else micros(end))
        changes = [(a, "connected"), (b, "expired"), (b + timedelta(hours=5), "disconnected")]
        by_datetime.lifeline(changes)
        by_micros.lifeline_us([(micros(at), s) for at, s in changes])
    assert by_datetime.to_csv() == by_micros.to_csv()


@pytest.mark.parametrize(
    "spec", [BUSY, BUSY_STEADY, dataclasses.replace(BUSY_STEADY, companies=15, seed=8)]
)
def test_a_company_in_microseconds_is_the_company(spec: PopulationSpec) -> None:
    for i in range(spec.companies):
        users, conns = company_raw(spec, i)
        c = company(spec, i)
        assert c.users == users
        assert [(k.id, k.provider, k.kind, micros(k.connect_at),
                 tuple((micros(d.at), d.event) for d in k.disruptions),
                 None if k.leave_at is None else micros(k.leave_at))
                for k in c.connections] == conns  # fmt: skip


def test_the_engine_gives_the_same_series_from_a_company_or_its_index() -> None:
    """``run_population`` hands the direct engine an index (it generates the company in
    microseconds); a generated :class:`Company` goes the datetime way: the same."""
    spec = dataclasses.replace(BUSY_STEADY, start=datetime(2026, 2, 1, 3, 4, 5, 6, tzinfo=UTC))
    policy = default_policy()
    from_company = Series(spec.start, spec.days)
    for i in range(spec.companies):
        simulate_company(spec, company(spec, i), policy, from_company)
    assert from_company.to_csv() == run_population(spec).to_csv()
    assert sum(from_company.emails["expiry_reminder"]) + sum(from_company.reconnects) > 0


def test_threads_running_different_runs_at_once_keep_their_own() -> None:
    """The engine keeps what a run does not change from company to company (``_run``,
    ``_tables``); threads of one process (a Dask worker's) running other specs at the
    same moment must not get each other's."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    specs = [dataclasses.replace(BUSY_STEADY, companies=40, seed=s, days=60) for s in (1, 2, 3)]
    specs.append(dataclasses.replace(BUSY, companies=40, days=60, sync_every=timedelta(hours=5)))
    alone = [run_population(s).to_csv() for s in specs]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        with ThreadPoolExecutor(len(specs)) as pool:
            together = list(pool.map(lambda s: run_population(s).to_csv(), specs))
    finally:
        sys.setswitchinterval(switch)
    assert together == alone
    assert len(set(alone)) == len(alone)
