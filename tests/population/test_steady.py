"""A steady base (``day_one: steady``, the default): day one looks like any other day.

A base that started on day one (``fresh``) sends nothing for seven weeks, then the whole
60-day cohort's reminders in a few days; a product manager cannot read a normal day's
email volume from it. A steady base plays each connection's past from its arrival, so
its first weeks send what its later weeks send.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from conntrack.population import PopulationSpec, company, load_population, run_population
from conntrack.population._generate import noticed
from conntrack.population._model import Abandon, Churn
from conntrack.population._plot import LIVE

#: Facebook only (60-day tokens: the cohorts the issue saw), one user a company who gets
#: every email: the volume is large and its day-to-day noise small for 2 500 companies.
BASE = PopulationSpec(
    companies=2500, days=231, seed=11, providers={"facebook": 1}, users=(1, 1), opt_out=0.0
)


def _daily_emails(spec: PopulationSpec) -> list[int]:
    s = run_population(spec)
    return [a + b for a, b in zip(s.emails["expiry_reminder"], s.emails["invalid"], strict=True)]


def _mean(xs: list[int]) -> float:
    return sum(xs) / len(xs)


def test_the_first_weeks_of_a_steady_base_are_like_its_later_weeks() -> None:
    daily = _daily_emails(BASE)
    early, late = _mean(daily[0:30]), _mean(daily[200:230])
    assert late > 20  # enough emails a day for the comparison to mean something
    assert abs(early - late) <= 0.15 * late, (early, late)
    # No cohort: no day of the first 90 sends more than twice a normal day.
    assert max(daily[:90]) <= 2 * late, max(daily[:90])


def test_a_fresh_base_starts_quiet_and_then_spikes() -> None:
    """What ``day_one: fresh`` (the base before issue 14) still does, on purpose."""
    daily = _daily_emails(dataclasses.replace(BASE, day_one="fresh"))
    early, late = _mean(daily[0:30]), _mean(daily[200:230])
    assert early < 0.5 * late, (early, late)
    assert max(daily[:90]) > 10 * late, max(daily[:90])


def test_day_one_connections_of_a_steady_base_arrived_before_it() -> None:
    """Ages follow the churn: exponential with mean 1/churn years, cut at ``history``;
    churn and arrivals keep the base's size."""
    spec = dataclasses.replace(BASE, companies=4000, churn=Churn(connections=0.5))
    conns = [c for i in range(spec.companies) for c in company(spec, i).connections]
    day_one = [c for c in conns if c.connect_at <= spec.start + timedelta(days=1)]
    ages = [(spec.start - c.connect_at).total_seconds() / 86400 / 365 for c in day_one]
    assert all(0 < (spec.start - c.connect_at).days <= spec.history.days for c in day_one[:50])
    assert 1.7 < _mean(ages) < 2.3  # mean 1/0.5 = 2 years (cut at 10)
    left = sum(c.leave_at is not None for c in conns)
    arrived = len(conns) - len(day_one)
    assert abs(arrived - left) < 0.15 * left, (arrived, left)
    cut = dataclasses.replace(spec, history=timedelta(days=100))
    assert all(
        timedelta(0) <= cut.start + timedelta(days=1) - c.connect_at <= timedelta(days=101)
        for i in range(200)
        for c in company(cut, i).connections
        if c.connect_at <= cut.start
    )


def _day_one_shares(spec: PopulationSpec) -> dict[str, float]:
    s = run_population(spec)
    live = sum(s.states[k][0] for k in LIVE)
    return {k: s.states[k][0] / live for k in LIVE}


def test_a_steady_base_is_mostly_alive_on_day_one() -> None:
    """With the default behaviour most of the base works on day one, as in a real
    product; if people reconnected only after an email and never abandoned a dead
    connection (as before the unprompted and abandon keys), most of it would be dead."""
    spec = PopulationSpec(companies=600, days=5, seed=21)
    shares = _day_one_shares(spec)
    healthy = shares["connected"] + shares["reconnected"] + shares["expiring"]
    assert healthy > 0.8 and shares["expired"] < 0.12 and shares["invalid"] < 0.08, shares
    dead = _day_one_shares(dataclasses.replace(spec, unprompted=0.0, abandon=Abandon(chance=0.0)))
    assert dead["expired"] + dead["invalid"] > 0.5, dead


def test_unprompted_reconnects_and_abandons_follow_their_rates() -> None:
    """``unprompted`` is a daily chance: the wait is the first of daily trials that
    succeeds (within a day with that chance, a mean of 1/rate days); ``abandon.chance``
    of the dead connections are abandoned ``abandon.after`` after they died. Each death
    draws its own, the same every time."""
    spec = PopulationSpec(unprompted=0.05, abandon=Abandon(timedelta(days=45), 0.3))
    deaths = [spec.start + timedelta(hours=7 * i) for i in range(4000)]
    drawn = [noticed(spec, "c000001", "k1", at, "expired") for at in deaths]
    waits = [again.total_seconds() / 86400 for again, _ in drawn if again is not None]
    assert len(waits) == len(drawn)
    assert 0.04 < sum(w <= 1 for w in waits) / len(waits) < 0.06
    assert 17 < _mean(waits) < 22  # 1 / -ln(0.95) = 19.5 days
    abandoned = [gone for _, gone in drawn if gone is not None]
    assert set(abandoned) == {timedelta(days=45)}
    assert 0.27 < len(abandoned) / len(drawn) < 0.33
    assert drawn == [noticed(spec, "c000001", "k1", at, "expired") for at in deaths]
    assert drawn != [noticed(spec, "c000001", "k1", at, "invalid") for at in deaths]
    never = dataclasses.replace(spec, unprompted=0.0, abandon=Abandon(chance=0.0))
    assert noticed(never, "c000001", "k1", deaths[0], "expired") == (None, None)


def test_the_guides_model_file_loads_and_shows_the_defaults(
    tmp_path: Path, docs_block: Callable[[str], str]
) -> None:
    """The ``base.yaml`` of docs/product/population.md (it was the README's) documents
    every key with its default (but companies)."""
    block = docs_block("population-model")
    assert block.startswith("# base.yaml")
    path = tmp_path / "base.yaml"
    path.write_text(block)
    spec = load_population(path)
    assert spec.companies == 1000
    assert dataclasses.replace(spec, companies=PopulationSpec().companies) == PopulationSpec()


def test_too_many_arrivals_are_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rate that would bring millions of connections is refused before any work, like
    too many companies or days (it ran without end before the check)."""
    from conntrack.cli import main

    config = tmp_path / "p.yaml"
    for text, words in (
        ("arrivals: {per_day: 1000000}\n", "'arrivals' bring 3 650 000 connections a company"),
        ("arrivals: {per_company_day: 10}\ncompanies: 10000\n", "6 670 375 000 connection-days"),
    ):
        config.write_text(text)
        t0 = time.perf_counter()
        assert main(["population", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
        assert time.perf_counter() - t0 < 3
        err = capsys.readouterr().err
        assert f"{config}: too large a run: " in err and words in err, err
