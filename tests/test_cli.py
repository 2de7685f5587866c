from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conntrack.cli import main

ROOT = Path(__file__).resolve().parent.parent
LIFESPAN = str(ROOT / "scenarios" / "facebook_60_day_lifespan.yaml")
FAILING = str(Path(__file__).parent / "data" / "failing_expectations.yaml")


def test_run_passes_with_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", LIFESPAN]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "Facebook 60-day lifespan" in out
    assert "1 passed, 0 failed" in out


FACEBOOK = sorted(str(p) for p in (ROOT / "scenarios").glob("facebook_*.yaml"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of scenarios (the Facebook ones of the library: quick to run)."""
    target = tmp_path / "some"
    target.mkdir()
    for name in FACEBOOK:
        (target / Path(name).name).write_text(Path(name).read_text())
    return target


def test_run_a_folder(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(folder)]) == 0
    assert f"{len(FACEBOOK)} passed, 0 failed" in capsys.readouterr().out


def test_failed_expectation_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", FAILING, LIFESPAN]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "expected:" in out and "actual:" in out
    assert "1 passed, 1 failed" in out


def test_json_report_and_outbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, outbox = tmp_path / "r.json", tmp_path / "o.jsonl"
    assert main(["run", LIFESPAN, "--json", str(report), "--outbox", str(outbox)]) == 0
    doc = json.loads(report.read_text())
    assert doc["passed"] is True
    [s] = doc["scenarios"]
    assert s["scenario"] == "Facebook 60-day lifespan"
    assert any(r["type"] == "transition" and r["dest"] == "expired" for r in s["records"])
    emails = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert len(emails) == 8  # 4 reminders to 2 users (user3 opted out)
    assert {e["kind"] for e in emails} == {"expiry_reminder"}
    assert {e["scenario"] for e in emails} == {"Facebook 60-day lifespan"}


def test_json_reports_are_byte_identical(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    main(["run", str(folder), "--json", str(a)])
    main(["run", str(folder), "--json", str(b)])
    assert a.read_bytes() == b.read_bytes()


def test_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "scenarios")]) == 0
    assert "scenario(s) valid" in capsys.readouterr().out


def test_invalid_input_exits_2_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scenario: x\nstart: 2026-01-05T09:00:00Z\nuntil: 30d\n"
        "connections:\n  fb: {provider: facebook}\n"
        "timeline:\n  - {at: 5d, event: pasword_change, connection: fb}\n"
    )
    for command in ("run", "validate"):
        assert main([command, str(bad)]) == 2
        err = capsys.readouterr().err
        assert f"{bad}:7:" in err and "password_change" in err
        assert "Traceback" not in err


def test_missing_path_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "/nonexistent/x.yaml"]) == 2
    assert "/nonexistent/x.yaml" in capsys.readouterr().err


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "conntrack"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    for command in ("run", "validate", "serve"):
        assert command in proc.stdout


def test_junit_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import xml.etree.ElementTree as ET

    out = tmp_path / "junit.xml"
    assert main(["run", LIFESPAN, FAILING, "--junit", str(out)]) == 1
    suite = ET.parse(out).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"Facebook 60-day lifespan", "Expectations that must fail"}
    assert cases["Facebook 60-day lifespan"].find("failure") is None
    failure = cases["Expectations that must fail"].find("failure")
    assert failure is not None and failure.get("message") == "3 of 4 expectations failed"
    assert "expected: invalid (checkpoint)" in (failure.text or "")


def test_html_report_shows_every_scenario_as_bands(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, again = tmp_path / "r.html", tmp_path / "r2.html"
    args = ["run", str(folder), FAILING]
    main([*args, "--html", str(out)])
    main([*args, "--html", str(again)])
    page = out.read_text()
    assert page == again.read_text()  # deterministic
    assert (
        page.startswith("<!doctype html>")
        and "<script" not in page
        and "http" not in page.split("<body>")[0]
    )
    from conntrack.scenario import load_paths

    scenarios = load_paths([str(folder), FAILING])
    for s in scenarios:
        assert s.name.replace("'", "&#x27;") in page
    assert page.count("<svg") == len(scenarios)
    # The lifespan band: connected, then expiring, then expired (colours of the legend).
    section = page.split("Facebook 60-day lifespan</h2>")[1].split("</section>")[0]
    assert section.index("#22c55e") < section.index("#f59e0b") < section.index("#6b7280")
    assert "expiry_reminder email to user1" in section
    assert page.count('class="fail">FAIL') == 1


def test_html_report_has_a_company_row_for_people_events(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    people = str(ROOT / "scenarios" / "facebook_user_leaves_company.yaml")
    assert main(["run", people, "--html", str(out)]) == 0
    page = out.read_text()
    assert ">company</text>" in page
    assert "user_left user2" in page and "user_joined user5" in page
    # A scenario without company events has no such row.
    assert main(["run", str(ROOT / "scenarios" / "facebook_outage.yaml"), "--html", str(out)]) == 0
    assert ">company</text>" not in out.read_text()
