"""Population runs: the direct engine against the full stack, workers, the model file."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from conntrack.population import (
    PopulationError,
    PopulationSpec,
    company,
    load_population,
    run_population,
    run_sharded,
)
from conntrack.population._model import Abandon, Arrivals, Churn, Reaction

BUSY = PopulationSpec(
    companies=10,
    days=240,
    seed=3,
    connections=(1, 4),
    # Every provider and kind, frequent disruptions and quick, likely reactions: every
    # path of a connection's life happens in a small base.
    providers={"facebook": 3, "instagram-facebook": 2, "instagram": 1, "linkedin": 1,
               "tiktok": 1, "tiktok-2026": 1, "twitter": 1, "google": 1},
    kinds={"owned": 2, "monitored": 1, "paid": 1},
    disruptions={"password_change": 3.0, "app_removed": 1.5, "username_change": 1.0,
                 "checkpoint": 2.0, "admin_removed": 0.5},
    behaviour={
        "expiry_reminder": Reaction(0.5, timedelta(days=1), 1.0),
        "invalid": Reaction(0.8, timedelta(hours=12), 0.8),
    },
    # Every connection connects on day one and stays, and only emails move people to
    # reconnect: the base before issue 14.
    day_one="fresh",
    churn=Churn(0.0, 0.0),
    unprompted=0.0,
    abandon=Abandon(chance=0.0),
)  # fmt: skip

#: BUSY with a past, churn of both kinds, arrivals of their own mix, reconnects without
#: an email and dead connections abandoned: every new path (a connection played from
#: before day one, disconnected by churn while healthy, expired or invalid, a company
#: leaving, a connection arriving, reconnected after its banner, abandoned) in a small
#: base. The past is cut at 150 days: the full stack replays every sync of it.
BUSY_STEADY = dataclasses.replace(
    BUSY,
    companies=6,
    days=120,
    day_one="steady",
    history=timedelta(days=150),
    churn=Churn(connections=1.5, companies=0.5),
    arrivals=Arrivals(per_day=0.02, providers={"linkedin": 1, "facebook": 1},
                      kinds={"paid": 1}),
    unprompted=0.08,
    abandon=Abandon(after=timedelta(days=12), chance=0.6),
)  # fmt: skip


def test_the_direct_engine_gives_the_full_stacks_series() -> None:
    """The design wakes a connection only when something changes it; the asgi transport
    syncs every connection every 6 h through HTTP into the fakes. Same series."""
    direct = run_population(BUSY, transport="direct")
    full = run_population(BUSY, transport="asgi")
    summary = direct.summary()
    # The base is busy enough to mean something.
    assert direct.connections >= 10
    assert summary["reconnects"] and summary["emails"]["invalid"]  # type: ignore[index]
    assert summary["emails"]["expiry_reminder"]  # type: ignore[index]
    assert direct.rows() == full.rows()


def test_the_engines_agree_on_a_steady_base_with_churn_and_arrivals() -> None:
    """The past before day one, churn (connections and whole companies), arrivals,
    reconnects without an email and abandoned connections are played by both engines
    alike: same series."""
    direct = run_population(BUSY_STEADY, transport="direct")
    # Without an email, people reconnected some dead connections and abandoned others:
    # more reconnects than with nobody reconnecting unprompted, more disconnections
    # than churn alone brings.
    quiet = run_population(dataclasses.replace(BUSY_STEADY, unprompted=0.0), transport="direct")
    assert sum(direct.reconnects) > sum(quiet.reconnects)
    kept = run_population(dataclasses.replace(BUSY_STEADY, abandon=Abandon(chance=0.0)))
    assert sum(direct.disconnections) > sum(kept.disconnections)
    generated = [company(BUSY_STEADY, i) for i in range(BUSY_STEADY.companies)]
    conns = [c for co in generated for c in co.connections]
    # The base is busy enough to mean something: a past, churn, arrivals.
    assert any(c.connect_at < BUSY_STEADY.start for c in conns)
    assert any(c.connect_at > BUSY_STEADY.start + timedelta(days=1) for c in conns)
    assert sum(c.leave_at is not None for c in conns) >= 5
    assert direct.states["disconnected"][-1] >= 5
    summary = direct.summary()
    assert summary["reconnects"] and summary["emails"]["invalid"]  # type: ignore[index]
    assert direct.rows() == run_population(BUSY_STEADY, transport="asgi").rows()


def test_workers_give_the_same_series_as_one_process() -> None:
    spec = PopulationSpec(companies=120, days=200, seed=9)
    one = run_population(spec)
    assert run_sharded(spec, workers=2, chunk=25).to_csv() == one.to_csv()
    # With a past, churn and base-wide arrivals (spread over the companies) too.
    spec = dataclasses.replace(
        BUSY_STEADY, companies=120, history=timedelta(days=3650),
        arrivals=Arrivals(per_day=2.0, base=True),
    )  # fmt: skip
    assert run_sharded(spec, workers=2, chunk=25).to_csv() == run_population(spec).to_csv()


def test_a_company_is_the_same_whatever_else_is_generated() -> None:
    spec = PopulationSpec(companies=50, seed=4)
    assert company(spec, 17) == company(PopulationSpec(companies=500, seed=4), 17)
    assert company(spec, 17) != company(PopulationSpec(companies=50, seed=5), 17)


def test_series_add_up() -> None:
    for spec in (PopulationSpec(companies=80, days=120, seed=2),
                 dataclasses.replace(BUSY_STEADY, companies=80, days=120)):  # fmt: skip
        s = run_population(spec)
        for d in range(spec.days):
            assert sum(s.states[k][d] for k in s.states) == s.connections
        assert s.rows()[0]["date"] == "2026-01-05"


def test_a_bad_population_file_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "companies: 0\n"
        "users: [5, 2]\n"
        "providers: {facebok: 1}\n"
        "disruptions: {password_chnage: 1}\n"
        "behaviour: {invalid: {reconnect: 2}}\n"
        "sync_every: -6h\n"
        "colour: red\n"
    )
    with pytest.raises(PopulationError) as caught:
        load_population(path)
    got = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert got == [
        "1: 'companies' must be a whole number >= 1; got 0",
        "2: 'users' must be a number >= 1 or a range [low, high] like [1, 5]; got [5, 2]",
        "3: unknown provider 'facebok' — did you mean 'facebook'? (allowed: facebook, google, "
        "google-business, instagram, instagram-facebook, linkedin, tiktok, tiktok-2026, twitter)",
        "4: unknown disruption 'password_chnage' — did you mean 'password_change'? (allowed: "
        "password_change, app_removed, username_change, checkpoint, admin_removed)",
        "5: 'reconnect' must be a share between 0 and 1; got 2",
        "6: 'sync_every': expected a duration like '20d 6h' (units w, d, h, m, s), got '-6h'",
        "7: unknown key 'colour' (allowed: companies, days, start, seed, users, connections, "
        "sync_every, opt_out, providers, kinds, disruptions, checkpoint_clears_after, behaviour, "
        "day_one, history, churn, arrivals, unprompted, abandon)",
    ]


def test_the_steady_state_keys_load_and_bad_ones_are_named(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "companies: 10\n"
        "day_one: fresh\n"
        "history: 400d\n"
        "churn: {connections: 0.2, companies: 0.05}\n"
        "arrivals: {per_day: 30, providers: {linkedin: 1}}\n"
    )
    spec = load_population(path)
    assert (spec.day_one, spec.history) == ("fresh", timedelta(days=400))
    assert spec.churn == Churn(0.2, 0.05)
    assert spec.arrivals == Arrivals(30.0, base=True, providers={"linkedin": 1.0})
    assert spec.arrivals_per_day() == 3.0  # base-wide, spread over the 10 companies
    path.write_text("arrivals: {per_company_month: 0.5, kinds: {paid: 1}}\n")
    assert load_population(path).arrivals_per_day() == 0.5 * 12 / 365
    path.write_text("churn: {connections: 0.4}\n")
    # balance (the default): as many arrive as churn takes away, 2.5 a company on average
    assert load_population(path).arrivals_per_day() == 0.4 / 365 * 2.5
    path.write_text(
        "day_one: stable\n"
        "history: 101000d\n"
        "churn: {connections: -1, compnies: 0.1}\n"
        "arrivals: {per_day: 1, per_month: 3}\n"
    )
    with pytest.raises(PopulationError) as caught:
        load_population(path)
    got = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert got == [
        "1: 'day_one' must be one of steady, fresh; got 'stable'",
        "2: 'history': a duration must be at most 100 years (36500d), got '101000d'",
        "3: 'connections' must be a number >= 0 (a yearly rate, like 0.3); got -1",
        "3: unknown key 'compnies' — did you mean 'companies'? (allowed: connections, companies)",
        "4: 'arrivals' needs exactly one rate of per_company_day, per_company_month, per_day, "
        "per_month; got 2",
    ]
    path.write_text("arrivals: often\nchurn: 0.3\n")
    with pytest.raises(PopulationError) as caught:
        load_population(path)
    got = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert got == [
        "1: 'arrivals' must be 'balance' or a mapping like {per_company_month: 0.1}; got 'often'",
        "2: 'churn' must be a mapping of yearly rates, like {connections: 0.3, companies: 0}",
    ]


def test_the_unprompted_and_abandon_keys_load_and_bad_ones_are_named(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("unprompted: 0.05\nabandon: {after: 30d, chance: 0.25}\n")
    spec = load_population(path)
    assert spec.unprompted == 0.05
    assert spec.abandon == Abandon(timedelta(days=30), 0.25)
    path.write_text("abandon: {chance: 0}\n")
    assert load_population(path).abandon == Abandon(PopulationSpec().abandon.after, 0.0)
    path.write_text("unprompted: 1\nabandon: {after: soon, chanse: 0.5}\n")
    with pytest.raises(PopulationError) as caught:
        load_population(path)
    got = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert got == [
        "1: 'unprompted' must be a daily chance from 0 up to (not including) 1, like 0.02; got 1",
        "2: 'after': expected a duration like '20d 6h' (units w, d, h, m, s), got 'soon'",
        "2: unknown key 'chanse' — did you mean 'chance'? (allowed: after, chance)",
    ]
    path.write_text("unprompted: yes\nabandon: 60d\n")
    with pytest.raises(PopulationError) as caught:
        load_population(path)
    got = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert got == [
        "1: 'unprompted' must be a daily chance from 0 up to (not including) 1, like 0.02; "
        "got True",
        "2: 'abandon' must be a mapping like {after: 60d, chance: 0.5} (chance 0: never); "
        "got '60d'",
    ]


def test_without_unprompted_reconnects_and_abandons_a_base_is_what_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The new behaviour takes no draw from a company's generators (the same companies
    whatever its rates), and at rates 0 it is never consulted: the engine plays the base
    as it did before it existed."""
    spec = dataclasses.replace(BUSY, companies=4, days=200)
    busy = dataclasses.replace(spec, unprompted=0.5, abandon=Abandon(timedelta(days=1), 1.0))
    assert [company(spec, i) for i in range(4)] == [company(busy, i) for i in range(4)]
    before = run_population(spec).to_csv()
    assert run_population(busy).to_csv() != before  # the rates do change the series

    def never(*args: object) -> None:
        raise AssertionError("consulted at rates 0")

    monkeypatch.setattr("conntrack.population._direct._noticed", never)
    monkeypatch.setattr("conntrack.population._asgi.noticed", never)
    assert run_population(spec).to_csv() == before
    assert run_population(dataclasses.replace(spec, companies=2), transport="asgi").rows() == (
        run_population(dataclasses.replace(spec, companies=2)).rows()
    )


def test_a_company_is_no_larger_than_a_scenario_allows(tmp_path: Path) -> None:
    """users: [1, 999999999] took 2.4 GB in 15 s before it was refused (issue 11, item 2)."""
    path = tmp_path / "p.yaml"
    path.write_text("users: [1, 999999999]\nconnections: 5001\n")
    with pytest.raises(PopulationError) as caught:
        load_population(path)
    got = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert got == [
        "1: 'users' must be at most 10000 a company (a scenario's limit); got 999999999",
        "2: 'connections' must be at most 5000 a company (a scenario's limit); got 5001",
    ]


def test_faker_names_each_company_and_its_people_the_same_way_every_time() -> None:
    from conntrack.population import names

    spec = PopulationSpec(companies=10, seed=4)
    acme = company(spec, 3)
    name, people = names(spec, acme)
    assert len(people) == len(acme.users) and name
    names(spec, company(spec, 7))  # another company in between changes nothing
    assert names(spec, acme) == (name, people)


def test_series_difference_arrays_match_counting_day_by_day() -> None:
    import random
    from datetime import UTC, datetime

    from conntrack.population._series import DAY, Series

    start = datetime(2026, 1, 5, tzinfo=UTC)
    rng = random.Random(5)
    days = 40
    s = Series(start, days)
    want_states = {k: [0] * days for k in s.states}
    want_gaps = [0] * days
    for _ in range(200):
        times = sorted(rng.randrange(-2 * DAY, (days + 2) * DAY) for _ in range(rng.randint(1, 6)))
        changes = [(start + timedelta(seconds=t), rng.choice(list(want_states)[1:])) for t in times]
        s.lifeline(changes)
        for d in range(days):
            end_of_day = (d + 1) * DAY
            state = "not_connected"
            for t, (_, new) in zip(times, changes, strict=True):
                if t < end_of_day and (t // DAY) <= d:
                    state = new
            want_states[state][d] += 1
        a, b = sorted(rng.randrange(-DAY, (days + 1) * DAY) for _ in range(2))
        open_end = rng.random() < 0.2
        s.gap(start + timedelta(seconds=a), None if open_end else start + timedelta(seconds=b))
        b = days * DAY if open_end else b
        for d in range(days):
            lo, hi = max(a, d * DAY), min(b, (d + 1) * DAY)
            want_gaps[d] += max(0, hi - lo)
    assert s.states == want_states
    assert s.gap_seconds == want_gaps


def test_nobody_reconnects_after_a_reminder_nobody_got() -> None:
    """A company whose every user opted out of reminders gets none, so no reminder moves
    anyone to reconnect. The direct engine planned a reconnect after each reminder it
    "sent" to nobody: at 200 companies (seed 1) the engines parted on day 53, company
    144 (one user, opted out)."""
    spec = dataclasses.replace(
        BUSY,
        companies=3,
        days=75,
        users=(1, 2),
        opt_out=1.0,
        providers={"facebook": 1},
        disruptions={"password_change": 1.0},
        behaviour={
            "expiry_reminder": Reaction(1.0, timedelta(hours=1), 0.0),
            "invalid": Reaction(1.0, timedelta(hours=1), 0.0),
        },
    )
    direct = run_population(spec, transport="direct")
    assert not direct.summary()["emails"]["expiry_reminder"]  # type: ignore[index]
    assert direct.rows() == run_population(spec, transport="asgi").rows()


def test_a_company_follows_one_profile_per_provider() -> None:
    """A scenario runs one profile per protocol (the fakes serve one), so a company that
    drew tiktok and tiktok-2026 connections had its tiktok one played by tiktok-2026's
    rules in the actor engine: the engines parted (busy model with opt_out 0.5, users
    [1, 2], seed 3, 30 companies: company 14 from day 177, a reminder the direct engine
    never sent). Every company now keeps the first profile it draws for a provider;
    Facebook and Instagram through Facebook Login (one protocol, two products) still
    meet in one company."""
    spec = PopulationSpec(
        companies=200,
        seed=3,
        connections=(2, 6),
        providers={"tiktok": 1, "tiktok-2026": 1, "facebook": 1, "instagram-facebook": 1},
    )
    tiktoks, both_facebook = set(), 0
    for i in range(spec.companies):
        drawn = {c.provider for c in company(spec, i).connections}
        assert not {"tiktok", "tiktok-2026"} <= drawn, (i, drawn)
        tiktoks |= drawn & {"tiktok", "tiktok-2026"}
        both_facebook += {"facebook", "instagram-facebook"} <= drawn
    assert tiktoks == {"tiktok", "tiktok-2026"}  # both still occur, in different companies
    assert both_facebook
    found = dataclasses.replace(BUSY, companies=30, days=365, seed=3, opt_out=0.5, users=(1, 2))
    assert len({c.provider for c in company(found, 14).connections}) == 1
