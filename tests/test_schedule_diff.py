"""`conntrack notifications --compare`: two policies' schedules as a date-by-date
difference (sends added, removed, moved, recipients changed; banner and settings windows
moved, added, removed), then both summaries.

The main check is that the differences are exactly what turns the first schedule into
the second: applied to the first policy's sends and windows, they give the second's.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conntrack._policy import load_policy
from conntrack._schedule import Row, schedule
from conntrack._schedule_diff import (
    ADDED,
    MOVED,
    RECIPIENTS,
    REMOVED,
    WINDOW_ADDED,
    WINDOW_MOVED,
    WINDOW_REMOVED,
    Diff,
    diff,
)
from conntrack.cli import main
from conntrack.scenario import load_file
from conntrack.scenario._runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "scenarios"
SCENARIOS = [
    str(LIBRARY / name)
    for name in (
        "facebook_60_day_lifespan.yaml",
        "facebook_who_is_left_out_of_emails.yaml",
        "facebook_reconnect_mid_reminders.yaml",
    )
]
POLICIES = {
    "fortnight": "name: fortnight\nrules: [{reminders: [14d, 7d, 1d]}]\n",
    "silence": "name: silence\ninvalid: {channels: [email], opt_out_silences: true}\n"
    "rules: [{reminders: [10d, 5d, 1d, 0d]}]\n",
    "quiet": "name: quiet\nrules: [{reminders: [], channels: [banner]}]\n",
}


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


@pytest.fixture
def policy_files(tmp_path: Path) -> dict[str, str]:
    out = {}
    for name, text in POLICIES.items():
        (tmp_path / f"{name}.yaml").write_text(text)
        out[name] = str(tmp_path / f"{name}.yaml")
    return out


def _schedules(path: str, policy: str | None) -> tuple[list[Row], list[Row]]:
    [s] = load_file(path)
    other = load_policy(policy) if policy else None
    return schedule(run_scenario(s)), schedule(run_scenario(s, policy=other))


def _sends(rows: list[Row]) -> Counter[tuple[str, str, str, str]]:
    return Counter((r.kind, r.about, r.at, r.recipients) for r in rows if r.channel == "email")


def _windows(rows: list[Row]) -> Counter[tuple[str, str, str, str, str]]:
    """What each page shows from when until when, read straight off the rows."""
    out: Counter[tuple[str, str, str, str, str]] = Counter()
    for page in ("banner", "settings"):
        for about in {r.about for r in rows}:
            seq = [r for r in rows if r.channel == page and r.about == about]
            for i, r in enumerate(seq):
                if r.kind != "none":
                    end = seq[i + 1].local if i + 1 < len(seq) else ""
                    out[(page, about, r.kind, r.local, end)] += 1
    return out


def _apply(d: Diff, was: list[Row]) -> tuple[Counter[tuple[str, ...]], Counter[tuple[str, ...]]]:
    sends: Counter[tuple[str, ...]] = Counter(_sends(was))
    windows: Counter[tuple[str, ...]] = Counter(_windows(was))
    for c in d.changes:
        if c.change in (REMOVED, MOVED, RECIPIENTS):
            sends[(c.kind, c.about, c.was, c.was_recipients)] -= 1
        if c.change in (ADDED, MOVED, RECIPIENTS):
            sends[(c.kind, c.about, c.at, c.recipients)] += 1
        if c.change in (WINDOW_REMOVED, WINDOW_MOVED):
            windows[(c.channel, c.about, c.kind, c.was_local, c.was_until_local)] -= 1
        if c.change in (WINDOW_ADDED, WINDOW_MOVED):
            windows[(c.channel, c.about, c.kind, c.local, c.until_local)] += 1
    return +sends, +windows


@pytest.mark.parametrize("path", SCENARIOS)
@pytest.mark.parametrize("name", [*POLICIES, None])
def test_the_differences_turn_one_schedule_into_the_other(
    path: str, name: str | None, policy_files: dict[str, str]
) -> None:
    was, now = _schedules(path, policy_files[name] if name else None)
    d = diff(was, now)
    sends, windows = _apply(d, was)
    assert sends == _sends(now)
    assert windows == _windows(now)
    changed_sends = sum(c.channel == "email" and c.change != ADDED for c in d.changes)
    assert d.same_sends + changed_sends == sum(_sends(was).values())
    if name is None:  # the same policy twice: nothing changes
        assert d.changes == () and d.same_sends == sum(_sends(was).values())
    # Date by date: in the compared run's time order (a removal where it used to be).
    assert [c.at or c.was for c in d.changes] == sorted(c.at or c.was for c in d.changes)


def test_14_7_1_reminders_against_the_default(policy_files: dict[str, str]) -> None:
    was, now = _schedules(SCENARIOS[0], policy_files["fortnight"])
    d = diff(was, now)
    kinds = Counter(c.change for c in d.changes)
    # 10/5/1/0 → 14/7/1: two sends move earlier, the one on the day goes, 1 day stays.
    assert kinds[MOVED] == 2 and kinds[REMOVED] == 1 and kinds[ADDED] == 0
    assert d.same_sends == 1
    moved = [c for c in d.changes if c.change == MOVED]
    assert [c.shift for c in moved] == ["4 days earlier", "2 days earlier"]
    assert all(c.at < c.was for c in moved)
    # The expiring banner and settings message follow the earliest reminder: from 14 days
    # before instead of 10, ending at the expiry as before.
    windows = [c for c in d.changes if c.change == WINDOW_MOVED]
    assert {c.channel for c in windows} == {"banner", "settings"}
    assert all(c.kind == "expiring" and c.shift == "4 days earlier" for c in windows)
    assert all(c.until_local == c.was_until_local != "" for c in windows)


def test_an_opt_out_that_silences_the_invalid_email(policy_files: dict[str, str]) -> None:
    was, now = _schedules(SCENARIOS[1], policy_files["silence"])
    d = diff(was, now)
    [change] = [c for c in d.changes if c.channel == "email"]
    assert change.change == RECIPIENTS and change.kind == "invalid" and change.at == change.was
    [s] = load_file(SCENARIOS[1])
    gone = set(change.was_recipients.split()) - set(change.recipients.split())
    assert gone == set(s.company.opt_out)
    assert {c.change for c in d.changes if c.channel != "email"} == {WINDOW_REMOVED}


def test_compare_prints_the_differences_then_both_summaries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], policy_files: dict[str, str]
) -> None:
    out_json = tmp_path / "c.json"
    argv = ["notifications", SCENARIOS[0], "--compare", policy_files["fortnight"]]
    assert main([*argv, "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "policy fortnight against default" in out
    for word in ("window moved", "moved", "removed", "4 days earlier", "unchanged: 1 email send"):
        assert word in out
    assert "recipients" not in out.split("\n", 3)[2]  # not the schedule's own columns
    assert out.index("window moved") < out.index("email sends")  # the summary comes after
    assert "policy default" in out and "policy fortnight" in out
    doc = json.loads(out_json.read_text())
    assert [r["summary"]["policy"] for r in doc["runs"]] == ["default", "fortnight"]
    assert all({"summary", "rows", "people"} <= set(r) for r in doc["runs"])
    was, now = _schedules(SCENARIOS[0], policy_files["fortnight"])
    d = diff(was, now)
    assert doc["differences"]["same_sends"] == d.same_sends
    assert [c["change"] for c in doc["differences"]["changes"]] == [c.change for c in d.changes]


def test_compare_by_recipient_shows_each_policy_by_person(
    capsys: pytest.CaptureFixture[str], policy_files: dict[str, str]
) -> None:
    argv = ["notifications", SCENARIOS[1], "--compare", policy_files["fortnight"]]
    assert main([*argv, "--by-recipient", "--offsets"]) == 0
    out = capsys.readouterr().out
    assert "policy default, times in UTC, by person" in out
    assert "policy fortnight, times in UTC, by person" in out
    assert "policy fortnight against default" in out
    header = next(line for line in out.splitlines() if " change " in line)
    assert header.split()[:4] == ["date", "time", "offset", "change"]
