"""`conntrack notifications`: the schedule as a table, CSV and JSON; two policies compared.

Who is left out, ``--by-recipient``, ``--offsets`` and the ``--compare`` differences:
tests/test_schedule_people.py and tests/test_schedule_diff.py.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conntrack._schedule import schedule, summarise
from conntrack.cli import main
from conntrack.scenario import load_file
from conntrack.scenario._runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
RECONNECT = str(ROOT / "scenarios" / "facebook_password_change_reconnect.yaml")
DST = str(ROOT / "scenarios" / "facebook_reminders_at_dst_change.yaml")
LIFESPAN = str(ROOT / "scenarios" / "facebook_60_day_lifespan.yaml")


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def test_the_schedule_has_one_row_per_send_and_per_banner_change() -> None:
    [s] = load_file(RECONNECT)
    result = run_scenario(s)
    rows = schedule(result)
    emails = result.timeline.emails()
    assert [r for r in rows if r.channel == "email"] == sorted(
        [r for r in rows if r.channel == "email"], key=lambda r: r.at
    )
    assert sum(len(r.recipients.split()) for r in rows if r.channel == "email") == len(emails)
    assert len([r for r in rows if r.channel == "email"]) == len({(e.at, e.kind) for e in emails})
    invalid = next(r for r in rows if r.kind == "invalid" and r.channel == "email")
    assert (invalid.offset, invalid.recipients) == ("20d", "user1 user2 user3 user4")
    assert [r.kind for r in rows if r.channel == "banner"] == [
        "invalid",
        "none",
        "expiring",
        "expired",
    ]
    assert {r.channel for r in rows} == {"email", "banner", "settings"}


def test_notifications_prints_the_table_in_the_company_time_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["notifications", DST]) == 0
    out = capsys.readouterr().out
    assert "policy default, times in Europe/Paris" in out
    # The local date once per day, then the local time with the zone of that instant.
    assert "Fri 2026-03-27   09:00 CET" in out and "Wed 2026-04-01   09:00 CEST" in out
    assert "expiry_reminder" in out and "user1 user2" in out
    assert "expired without a warning" in out


def test_csv_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_csv, out_json = tmp_path / "s.csv", tmp_path / "s.json"
    assert main(["notifications", DST, "--csv", str(out_csv), "--json", str(out_json)]) == 0
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    # The columns scripts read stay first, in their order; issue 14's follow.
    old = ["offset", "at", "local", "channel", "kind", "about", "recipients"]
    assert list(rows[0])[:7] == old
    assert {"date", "time", "zone", "opted_out", "left", "not_yet_joined"} <= set(rows[0])
    reminders = [r for r in rows if r["kind"] == "expiry_reminder"]
    assert [r["at"] for r in reminders] == [
        "2026-03-27T08:00:00Z",
        "2026-04-01T07:00:00Z",
        "2026-04-05T07:00:00Z",
        "2026-04-06T07:00:00Z",
    ]
    paris = ZoneInfo("Europe/Paris")
    for r in rows:
        local = datetime.fromisoformat(r["at"].replace("Z", "+00:00")).astimezone(paris)
        assert (r["date"], r["time"], r["zone"]) == (
            f"{local:%Y-%m-%d}",
            f"{local:%H:%M}",
            local.tzname(),
        )
        assert r["local"] == f"{r['date']} {r['time']} {r['zone']}"
    assert {r["time"] for r in reminders} == {"09:00"}  # the policy's send_at, local
    doc = json.loads(out_json.read_text())
    assert doc["timezone"] == "Europe/Paris" and len(doc["runs"]) == 1
    json_rows = doc["runs"][0]["rows"]
    assert [{k: str(v) for k, v in x.items()} for x in json_rows] == rows  # the same fields
    summary = doc["runs"][0]["summary"]
    assert summary["sends_by_kind"] == {"expiry_reminder": 4}
    assert summary["expiries"] == [
        # Expiry 2026-04-06 08:59:04 UTC; first reminder 2026-03-27 08:00 UTC (09:00 CET).
        {
            "connection": "fb",
            "expired": "59d 23h 59m 4s",
            "earliest_warning": "10d 59m 4s",
            "expired_local": "2026-04-06 10:59 CEST",
        }
    ]
    assert summary["expired_without_warning"] == []
    capsys.readouterr()
    assert main(["notifications", DST, "--csv", "-"]) == 0
    assert "offset,at,local,channel,kind,about,recipients," in capsys.readouterr().out


def test_compare_two_policies_summarises_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = tmp_path / "late.yaml"
    late.write_text(
        "name: late\nrules: [{providers: [facebook], reminders: [2d]}, {reminders: []}]\n"
    )
    silent = tmp_path / "silent.yaml"
    silent.write_text("name: silent\nrules: [{reminders: []}]\n")
    assert main(["notifications", LIFESPAN, "--policy", str(late), "--compare", str(silent),
                 "--json", str(tmp_path / "c.json")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "policy late" in out and "policy silent" in out
    doc = json.loads((tmp_path / "c.json").read_text())
    late_run, silent_run = doc["runs"]
    assert late_run["summary"]["policy"] == "late"
    assert late_run["summary"]["sends_by_kind"] == {"expiry_reminder": 1}
    assert late_run["summary"]["expired_without_warning"] == []
    assert silent_run["summary"]["sends"] == 0
    assert silent_run["summary"]["expired_without_warning"] == ["fb"]
    line = next(x for x in out.splitlines() if "expired without a warning" in x)
    assert line.split()[-2:] == ["none", "fb"]


def test_a_summary_counts_each_expiry_since_the_last_reconnect() -> None:
    [s] = load_file(str(ROOT / "scenarios" / "facebook_reconnect_mid_reminders.yaml"))
    summary = summarise(run_scenario(s))
    [w] = summary.warnings
    # The new token (day 57) dies 5183944 s later; its first reminder is 10 local days
    # before, at 09:00 — the reminders of the first token (days 50, 55) do not count.
    assert w.expired == "116d 23h 59m 4s"
    assert w.lead is not None and str(w.lead) == "9 days, 23:59:04"


def test_bad_policy_files_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    bad = str(Path(__file__).parent / "policies" / "bad.yaml")
    assert main(["notifications", DST, "--compare", bad]) == 2
    assert f"{bad}:2: 'send_at'" in capsys.readouterr().err
