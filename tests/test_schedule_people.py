"""`conntrack notifications`: who each email left out and why, ``--by-recipient`` and
``--offsets``, on the library's scenarios about people (opt-outs, leavers, joiners).

The expected reasons come from the scenario itself (its members at each send, its opt-out
events), not from a copy of the output.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from conntrack._durations import parse_duration
from conntrack._schedule import Row, schedule
from conntrack._schedule_people import by_recipient
from conntrack._schedule_view import lead_text, offset_text
from conntrack.cli import main
from conntrack.scenario import Scenario, load_file
from conntrack.scenario._runner import RunResult, run_scenario

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = str(ROOT / "scenarios" / "facebook_who_is_left_out_of_emails.yaml")
OPT_OUT_AND_IN = str(ROOT / "scenarios" / "facebook_opt_out_and_in.yaml")
LEAVES = str(ROOT / "scenarios" / "facebook_user_leaves_company.yaml")


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def _run(path: str) -> tuple[RunResult, list[Row]]:
    [s] = load_file(path)
    result = run_scenario(s)
    return result, schedule(result)


def _opted_out_at(s: Scenario, at: timedelta) -> set[str]:
    """Who had opted out at ``at``, from the scenario's own opt-out events."""
    out = set(s.company.opt_out)
    for e in s.timeline:
        if e.at <= at and e.user and e.event in ("opt_out", "opt_in"):
            (out.add if e.event == "opt_out" else out.discard)(e.user)
    return out


@pytest.mark.parametrize("path", [LEFT_OUT, OPT_OUT_AND_IN, LEAVES])
def test_every_send_names_everyone_once_got_it_or_why_not(path: str) -> None:
    result, rows = _run(path)
    s = result.scenario
    everyone = s.users
    emails = [r for r in rows if r.channel == "email"]
    assert emails
    for r in emails:
        at = parse_duration(r.offset)
        groups = [r.recipients, r.opted_out, r.left, r.not_yet_joined, r.not_sent]
        named = [u for g in groups for u in g.split()]
        assert sorted(named) == sorted(everyone)  # each person once
        members = s.members_at(at)
        ever_before = {e.user for e in s.timeline if e.event == "user_joined" and e.at <= at}
        for user in r.left.split():
            assert user not in members and (user in ever_before or user in everyone[:4])
        for user in r.not_yet_joined.split():
            assert user not in members and user not in ever_before
        opted = _opted_out_at(s, at)
        assert set(r.opted_out.split()) == (opted & set(members)) - set(r.recipients.split())
        assert r.not_sent == ""  # the model leaves nobody out without a reason
        if r.kind == "expiry_reminder":
            assert set(r.recipients.split()) == set(members) - opted


def test_an_opt_out_never_silences_the_invalid_email() -> None:
    result, rows = _run(LEFT_OUT)
    [invalid] = [r for r in rows if r.channel == "email" and r.kind == "invalid"]
    opted = set(result.scenario.company.opt_out)
    assert opted and opted <= set(invalid.recipients.split())
    assert set(invalid.opted_out_reached.split()) == opted
    assert invalid.opted_out == ""
    reminders = [r for r in rows if r.kind == "expiry_reminder"]
    assert all(opted <= set(r.opted_out.split()) for r in reminders)
    assert all(r.opted_out_reached == "" for r in reminders)


def test_a_user_who_opts_back_in_is_left_out_only_in_between() -> None:
    result, rows = _run(OPT_OUT_AND_IN)
    events = {e.event: e.at for e in result.scenario.timeline}
    for r in rows:
        if r.channel == "email":
            inside = events["opt_out"] <= parse_duration(r.offset) < events["opt_in"]
            assert ("user2" in r.opted_out.split()) == inside
            assert ("user2" in r.recipients.split()) != inside


def test_by_recipient_turns_the_schedule_around() -> None:
    result, rows = _run(LEFT_OUT)
    people = by_recipient(result, rows)
    emails = [r for r in rows if r.channel == "email"]
    assert [p.user for p in people] == result.scenario.users
    names = {u.id: u.name for u in result.users}
    for p in people:
        assert p.name == names[p.user]
        assert [s.row for s in p.sends] == emails
        assert p.received == sum(p.user in r.recipients.split() for r in emails)
        for s in p.sends:
            assert s.sent == (s.why is None)
            if not s.sent:
                field = s.why.replace(" ", "_") if s.why else ""
                assert p.user in getattr(s.row, field).split()


def test_the_table_shows_local_time_first_and_offsets_only_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["notifications", LEFT_OUT]) == 0
    plain = capsys.readouterr().out
    header = next(line for line in plain.splitlines() if "channel" in line)
    assert header.split()[:3] == ["date", "time", "channel"]
    assert "offset" not in header and "83d" not in plain
    for reason in ("opted out: user3", "left: user2", "not yet joined: user5"):
        assert reason in plain
    assert main(["notifications", LEFT_OUT, "--offsets"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "channel" in line)
    assert header.split()[:4] == ["date", "time", "offset", "channel"]
    # The on-the-day reminder goes out at the expiry itself, 56 s short of day 83.
    table = out[: out.index("email sends")]  # the summary says expiries exactly
    assert "83d - 56s" in table and "82d 23h 59m 4s" not in table


@pytest.mark.parametrize("offset", ["49d 23h 59m 4s", "50d", "49d 23h", "20d 6h", "59s", "1d 1s"])
def test_offsets_read_as_people_say_them_and_mean_the_same(offset: str) -> None:
    text = offset_text(offset)
    if " - " in text:
        whole, short = text.split(" - ")
        assert parse_duration(whole) - parse_duration(short) == parse_duration(offset)
        assert parse_duration(short) < timedelta(hours=1)
    else:
        assert text == offset


@pytest.mark.parametrize("lead", ["9d 23h 59m 4s", "10d", "13d 23h 59m 4s", "10d 59m 4s"])
def test_lead_times_read_as_offsets_do_and_mean_the_same(lead: str) -> None:
    """The summary's 'earliest reminder … before' reads as the table's offsets: a lead just
    short of whole days says so (``10d - 56s before``), and means the same duration."""
    text = lead_text(parse_duration(lead))
    assert text.endswith(" before")
    assert text.removesuffix(" before") == offset_text(lead)
    assert lead_text(None) == "no warning"


def test_by_recipient_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    result, rows = _run(LEFT_OUT)
    assert main(["notifications", LEFT_OUT, "--by-recipient"]) == 0
    out = capsys.readouterr().out
    assert "by person" in out
    sends = sum(r.channel == "email" for r in rows)
    for p in by_recipient(result, rows):
        assert f"{p.user} ({p.name})" in out
        assert f"gets {p.received} of {sends} sends" in out
    for why in ("no: opted out", "no: left", "no: not yet joined", "yes, despite the opt-out"):
        assert why in out
    assert "expired without a warning" in out  # the summary still follows


def test_csv_and_json_carry_who_was_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv, out_json = tmp_path / "s.csv", tmp_path / "s.json"
    assert main(["notifications", LEFT_OUT, "--csv", str(out_csv), "--json", str(out_json)]) == 0
    capsys.readouterr()
    result, rows = _run(LEFT_OUT)
    csv_rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [(r["at"], r["opted_out"], r["left"], r["not_yet_joined"]) for r in csv_rows] == [
        (r.at, r.opted_out, r.left, r.not_yet_joined) for r in rows
    ]
    doc = json.loads(out_json.read_text())
    [run] = doc["runs"]
    assert {"summary", "rows", "people"} <= set(run)
    people = {p["user"]: p for p in run["people"]}
    assert list(people) == result.scenario.users
    for p in by_recipient(result, rows):
        got = people[p.user]
        assert got["received"] == p.received and got["name"] == p.name
        assert [(x["at"], x["sent"], x["why_not"]) for x in got["sends"]] == [
            (s.row.at, s.sent, s.why) for s in p.sends
        ]
    user3 = people["user3"]["sends"]
    assert [x["despite_opt_out"] for x in user3] == [x["kind"] == "invalid" for x in user3]
