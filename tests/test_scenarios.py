"""The scenario library and the engine end to end: in-process fakes, virtual time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conntrack import load_profile
from conntrack._report import format_result, json_report
from conntrack.scenario import load_file, load_paths
from conntrack.scenario._runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))
DATA = Path(__file__).parent / "data"


def test_library_has_the_spine_cases() -> None:
    names = {p.stem for p in LIBRARY}
    assert {
        "facebook_60_day_lifespan",
        "facebook_password_change_reconnect",
        "facebook_app_removed",
        "facebook_checkpoint",
        "facebook_early_reconnect",
    } <= names


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_deterministic_and_eliding_syncs_changes_nothing(path: Path) -> None:
    """Same scenario, seed and run id, same bytes; and the elided run (the default) equals
    the naive one in which every sync is a request. (That each library scenario passes is
    checked by the pytest plugin, which collects scenarios/ as test items.) The run id is
    pinned: it is part of every email's id, and random unless given."""
    [scenario] = load_file(path)
    fast, again = run_scenario(scenario, run_id="r"), run_scenario(scenario, run_id="r")
    exact = run_scenario(scenario, exact_sync=True, run_id="r")
    assert json_report([fast]) == json_report([again])
    assert json_report([fast]) == json_report([exact])
    # Short-lived tokens refreshed at every sync leave nothing to skip; never more, though.
    assert fast.stats.requests <= exact.stats.requests


def test_eliding_saves_requests_where_tokens_outlive_the_sync_interval() -> None:
    [scenario] = load_file(ROOT / "scenarios" / "facebook_60_day_lifespan.yaml")
    fast, exact = run_scenario(scenario), run_scenario(scenario, exact_sync=True)
    assert fast.stats.requests * 10 < exact.stats.requests


def test_a_different_seed_changes_the_people_not_the_outcome() -> None:
    import dataclasses

    [scenario] = load_file(ROOT / "scenarios" / "facebook_password_change_reconnect.yaml")
    a = json.loads(json_report([run_scenario(scenario)]))["scenarios"][0]
    b = json.loads(json_report([run_scenario(dataclasses.replace(scenario, seed=8))]))["scenarios"][
        0
    ]
    assert a["users"] != b["users"]
    assert a["passed"] and b["passed"]
    strip = lambda recs: [(r["type"], r["offset"], r.get("dest"), r.get("to")) for r in recs]  # noqa: E731
    assert strip(a["records"]) == strip(b["records"])


def test_password_change_timeline() -> None:
    [scenario] = load_file(ROOT / "scenarios" / "facebook_password_change_reconnect.yaml")
    result = run_scenario(scenario)
    tl = result.timeline
    transitions = [(t.trigger, t.source, t.dest, t.reason) for t in tl.transitions("fb")]
    assert transitions == [
        ("invalidate", "connected", "invalid", "password_changed"),
        ("reconnect", "invalid", "reconnected", None),
        ("near_expiry", "reconnected", "expiring", None),
        ("expire", "expiring", "expired", None),
    ]
    invalidate = tl.transitions("fb")[0]
    assert invalidate.cause == "sync answered 400 190/460"
    invalid_emails = tl.emails("invalid", "fb")
    assert sorted(e.to for e in invalid_emails) == ["user1", "user2", "user3", "user4"]
    # 2 failed syncs at most: one at the event, then syncing stops until the reconnect.
    assert tl.syncs["fb"].failed == 1


def test_failed_expectations_say_expected_actual_and_show_the_timeline() -> None:
    [scenario] = load_file(DATA / "failing_expectations.yaml")
    result = run_scenario(scenario)
    assert [o.passed for o in result.outcomes] == [False, False, False, True]
    text = format_result(result)
    assert text.startswith("FAIL")
    state, email, gap = (o for o in result.outcomes if not o.passed)
    assert state.expected == "invalid (checkpoint)" and state.actual == "invalid (password_changed)"
    assert "none at 21d" in email.actual and "missing user2" not in email.actual
    assert "also to user2" in email.actual
    assert gap.actual == "from 20d to the end of the run"
    assert "failing_expectations.yaml:12: fb is invalid (checkpoint) at 20d 6h" in text
    assert "expected: invalid (checkpoint)" in text
    assert "actual:   invalid (password_changed)" in text
    assert "timeline around 20d 6h:" in text
    assert "invalidate   connected → invalid (password_changed)" in text
    assert "password_change" in text


def test_load_paths_reads_a_folder() -> None:
    assert len(load_paths([ROOT / "scenarios"])) == len(LIBRARY)


def test_a_simulation_never_waits_on_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker thread is real I/O: under the mock clock, time would jump mid-request."""
    import trio

    async def no_threads(*args: object, **kwargs: object) -> None:
        raise AssertionError("a simulation used trio.to_thread.run_sync")

    monkeypatch.setattr(trio.to_thread, "run_sync", no_threads)
    # The shortest library scenario of each protocol: every fake's pages and API.
    shortest: dict[str, tuple[float, Path]] = {}
    for path in LIBRARY:
        [scenario] = load_file(path)
        protocols = {load_profile(c.provider).protocol for c in scenario.connections.values()}
        for protocol in protocols:
            size = scenario.until.total_seconds() / min(
                c.sync_every.total_seconds() for c in scenario.connections.values()
            )
            if protocol not in shortest or size < shortest[protocol][0]:
                shortest[protocol] = (size, path)
    assert set(shortest) == {"facebook", "instagram", "linkedin", "tiktok", "twitter", "google"}
    for _, path in shortest.values():
        [scenario] = load_file(path)
        assert run_scenario(scenario).passed, path


def test_interval_transitions_reconnects_and_gap_totals_report_what_happened() -> None:
    [scenario] = load_file(DATA / "failing_new_expectations.yaml")
    result = run_scenario(scenario)
    during, transitions, reconnects, total, holds = result.outcomes
    assert not during.passed
    assert during.actual == "invalid (password_changed) from 20d; reconnected from 25d"
    assert not transitions.passed
    assert transitions.expected == "invalid (checkpoint) → reconnected"
    assert transitions.actual == "invalid (password_changed) → reconnected"
    assert not reconnects.passed and reconnects.actual == "1 reconnect(s) at 25d"
    assert not total.passed and total.actual == "5d in 1 gap(s)"
    assert holds.passed


def test_banner_reach_and_failed_attempt_expectations_report_what_happened() -> None:
    [scenario] = load_file(DATA / "failing_banner_and_people.yaml")
    result = run_scenario(scenario)
    banner, during, says, reach, attempts, members = result.outcomes
    assert not banner.passed and banner.actual.startswith("invalid: 'Facebook · ")
    assert "(password changed)" in banner.actual
    assert not during.passed
    # The window starts before the incident and ends after the reconnect: both ends say so.
    assert during.actual == "nothing at 19d; nothing from 25d"
    assert not says.passed and says.expected == "invalid saying 'checkpoint' at 22d"
    assert not reach.passed and reach.actual.startswith("no email")
    assert not attempts.passed
    assert attempts.actual.startswith(
        "1 reconnect(s) at 25d; 1 failed attempt(s): 21d pop-up blocked"
    )
    # user3 left on day 10: "all" is user1 and user2 when the email goes out on day 20.
    assert members.passed, members.actual
