"""Connections sleep through their elided syncs (conntrack._dozing, issue 15): the same
records, counts and reports as a timer a sync, with far fewer timers.

The library comparison with ``--exact-sync`` (tests/test_scenarios.py) checks the sum of
real and elided syncs; here the sleep-through path is compared with the timer-a-sync path
it replaces, count for count (real, elided, failed, refreshed), gap for gap and byte for
byte, on library scenarios chosen for it, and on a small company whose world changes while its
connections doze (an account event, a reconnect, a disconnect at the same instant as a
sync, a reminder, an expiry).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from conntrack._report import json_report
from conntrack.scenario import _runner, load_file
from conntrack.scenario._runner import RunResult, run_scenario

ROOT = Path(__file__).resolve().parent.parent
#: Library scenarios where dozing has the most to get wrong: a quiet instant (expiry,
#: data access), a refresh due, none at all, faults and their count, reconnects in the
#: middle of reminders, people and connections changing hands. (Every library scenario
#: is also compared with --exact-sync in tests/test_scenarios.py.)
LIBRARY = [
    ROOT / "scenarios" / f"{name}.yaml"
    for name in (
        "facebook_60_day_lifespan",
        "facebook_data_access_90_days",
        "facebook_outage",
        "facebook_reconnect_mid_reminders",
        "facebook_connected_by_change",
        "instagram_refreshed_forever",
        "linkedin_rate_limited",
        "linkedin_365_day_lifespan",
        "twitter_never_expires",
        "tiktok_2026_rotation",
    )
]

BUSY = """\
scenario: a company whose world changes while its connections doze
seed: 3
start: 2026-01-05T09:00:00Z
until: 70d
company: {users: 3}
connections:
  fb1: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
  fb2: {provider: facebook, kind: owned, connected_by: user2, sync_every: 7h}
  fb3: {provider: facebook, kind: monitored, connected_by: user3, sync_every: 5h}
  li1: {provider: linkedin, kind: owned, connected_by: user1, sync_every: 6h}
  li2: {provider: linkedin, kind: monitored, connected_by: user2, sync_every: 4h}
timeline:
  - {at: 3d, event: password_change, connection: fb1}
  - {at: 3d 6h, event: reconnect, connection: fb1}
  - {at: 10d 5h, event: disconnect, connection: fb2}
  - {at: 12d, event: add, connection: fb2}
  - {at: 20d 5h, event: reconnect, connection: fb3}
  - {at: 30d, event: app_removed, connection: li1}
"""


def _both(scenario: Any) -> tuple[RunResult, RunResult]:
    dozing = run_scenario(scenario, run_id="r")
    _runner.DOZE = False
    try:
        ticking = run_scenario(scenario, run_id="r")
    finally:
        _runner.DOZE = True
    return dozing, ticking


def _same(dozing: RunResult, ticking: RunResult) -> None:
    a, b = dozing.timeline, ticking.timeline
    assert {c: asdict(s) for c, s in a.syncs.items()} == {c: asdict(s) for c, s in b.syncs.items()}
    assert a.gaps == b.gaps
    assert a.records == b.records
    assert json_report([dozing]) == json_report([ticking])
    assert dozing.stats.requests == ticking.stats.requests


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_sleeping_through_syncs_changes_nothing(path: Path) -> None:
    [scenario] = load_file(path)
    dozing, ticking = _both(scenario)
    _same(dozing, ticking)
    assert dozing.stats.timers_fired <= ticking.stats.timers_fired


def test_a_changing_world_wakes_the_dozing_connections(tmp_path: Path) -> None:
    path = tmp_path / "busy.yaml"
    path.write_text(BUSY, encoding="utf-8")
    [scenario] = load_file(path)
    dozing, ticking = _both(scenario)
    _same(dozing, ticking)
    elided = sum(s.elided for s in dozing.timeline.syncs.values())
    assert elided > 500  # most syncs of 70 days are elided...
    # ...and slept through: a timer for a handful of them, not one a sync.
    assert dozing.stats.timers_fired * 5 < ticking.stats.timers_fired


def test_a_timer_that_did_its_work_is_not_waited_for_and_watchers_see_each_position() -> None:
    from datetime import UTC, datetime, timedelta

    import trio

    from conntrack._clock import Scheduler, SimClock

    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    sim = SimClock(start)
    sched = Scheduler(sim)
    done: list[str] = []
    seen: list[tuple[int, int, str]] = []
    sched.watch(lambda pos: seen.append(((pos[0] - start).days, pos[1], pos[2])))
    for day, name in ((1, "a"), (2, "b"), (2, "c")):
        sched.call_at(start + timedelta(days=day), lambda n=name: done.append(n) or n == "b",
                      priority=3, key=name)  # fmt: skip
    trio.run(sched.run, start + timedelta(days=3), clock=sim.mock_clock)
    assert done == ["a", "b", "c"]
    assert seen == [(1, 3, "a"), (2, 3, "b"), (2, 3, "c")]
    assert (sched.fired, sched.settled) == (3, 3)  # the first settle, then a and c, not b
