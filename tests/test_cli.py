from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import markupsafe
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
    """Two runs under the same --run-id: the same bytes (every email's id included). Each
    run's id is random unless pinned, so two unpinned runs differ in it and in the email
    ids (tests/test_message_ids.py), and in nothing else."""
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    main(["run", str(folder), "--json", str(a), "--run-id", "report"])
    main(["run", str(folder), "--json", str(b), "--run-id", "report"])
    assert a.read_bytes() == b.read_bytes()
    main(["run", str(folder), "--json", str(c)])

    def without_ids(doc: Any) -> Any:
        if isinstance(doc, dict):
            return {k: without_ids(v) for k, v in doc.items() if k not in ("run_id", "message_id")}
        return [without_ids(v) for v in doc] if isinstance(doc, list) else doc

    first, unpinned = json.loads(a.read_text()), json.loads(c.read_text())
    assert first != unpinned
    assert without_ids(first) == without_ids(unpinned)


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
        assert str(markupsafe.escape(s.name)) in page
    assert page.count('<figure class="chart"') == len(scenarios)
    # The lifespan band: connected, then expiring, then expired (classes of the legend).
    section = page.split("Facebook 60-day lifespan</h2>")[1].split("</section>")[0]
    assert (
        section.index("st-connected") < section.index("st-expiring") < section.index("st-expired")
    )
    assert "expiry_reminder email to user1" in section
    assert page.count('class="fail">FAIL') == 1


def test_html_report_has_a_company_row_for_people_events(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    people = str(ROOT / "scenarios" / "facebook_user_leaves_company.yaml")
    assert main(["run", people, "--html", str(out)]) == 0
    page = out.read_text()
    assert '<span class="label">company</span>' in page
    assert "user_left user2" in page and "user_joined user5" in page
    # A scenario without company events has no such row.
    assert main(["run", str(ROOT / "scenarios" / "facebook_outage.yaml"), "--html", str(out)]) == 0
    assert '<span class="label">company</span>' not in out.read_text()


# --- hostile values (issue 11): one line, exit 2, before any work, nothing destroyed -----


def _exit_code(argv: list[str]) -> int | str | None:
    """``conntrack ARGV``'s exit status (argparse exits by itself: SystemExit)."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 2) -> str:
    assert _exit_code(argv) == code
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err and "usage:" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A copy of a library scenario (an output test must never overwrite the library)."""
    target = tmp_path / "s.yaml"
    target.write_text(Path(LIFESPAN).read_text())
    return target


@pytest.mark.parametrize("option", ["--json", "--junit", "--html", "--outbox"])
def test_an_output_that_cannot_be_written_is_refused_before_the_run(
    option: str, scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing folder, a folder, the scenario itself, an empty name: the run used to
    happen first (then a bare 'No such file' line), and --json SCENARIO overwrote the
    scenario."""
    text = scenario.read_text()
    cases = {
        str(tmp_path / "nope" / "r"): f"the folder {tmp_path / 'nope'} does not exist",
        str(tmp_path): "is a folder; give a file path",
        str(scenario): f"is also an input ({scenario})",
        "": f"{option} needs a file name; got an empty one",
    }
    for target, words in cases.items():
        err = _one_line(capsys, ["run", str(scenario), option, target])
        assert words in err and "PASS" not in capsys.readouterr().out, err
    assert scenario.read_text() == text


def test_two_outputs_on_one_file_are_refused(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = str(tmp_path / "r")
    err = _one_line(capsys, ["run", str(scenario), "--json", report, "--junit", report])
    assert f"--json and --junit both name {report}" in err


@pytest.mark.parametrize("option", ["--json", "--junit", "--html"])
def test_a_full_disk_is_one_clear_line(
    option: str, scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said 'conntrack: : No space left on device' (no option, no file)."""
    err = _one_line(capsys, ["run", str(scenario), option, "/dev/full"])
    assert err == (
        f"conntrack: cannot write {option} /dev/full: No space left on device (the disk or "
        "your quota is full: free some space, or write elsewhere); nothing was written there"
    )


def test_an_outbox_that_is_a_device_is_refused(
    scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--outbox /dev/full read /dev/full for old failed emails until memory ran out."""
    err = _one_line(capsys, ["run", str(scenario), "--outbox", "/dev/full"])
    assert "--outbox /dev/full is a device, not a file" in err
    err = _one_line(capsys, ["deliver", "/dev/zero", "--webhook", "http://127.0.0.1:9/"])
    assert "OUTBOX_FILE '/dev/zero' is not a regular file" in err


def test_a_fifo_nobody_reads_is_refused_not_waited_on(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    err = _one_line(capsys, ["run", str(scenario), "--json", str(fifo)])
    assert f"--json {fifo} is a FIFO (named pipe) that no program reads" in err
    err = _one_line(capsys, ["deliver", str(fifo), "--webhook", "http://127.0.0.1:9/"])
    assert "is not a regular file" in err


def test_a_full_disk_while_the_outbox_is_written_keeps_the_old_outbox(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """RLIMIT_FSIZE fails writes as a full disk does (Python ignores SIGXFSZ)."""
    outbox = tmp_path / "o.jsonl"
    outbox.write_text("")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1500, hard))
    try:
        err = _one_line(capsys, ["run", str(scenario), "--outbox", str(outbox)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert err.startswith(f"conntrack: cannot write --outbox {outbox}: File too large"), err
    assert outbox.read_text() == "" and [p.name for p in tmp_path.iterdir()].count("o.jsonl") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jsonl", "s.yaml"]


def test_ctrl_c_keeps_the_old_outbox_and_writes_no_report(
    scenario: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C after the first scenario: the outbox held its emails, as if it were whole."""
    from conntrack.scenario import _runner

    real = _runner.run_scenario
    calls = []

    def second_interrupted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_runner, "run_scenario", second_interrupted)
    outbox, report = tmp_path / "o.jsonl", tmp_path / "r.json"
    outbox.write_text("")
    argv = ["run", str(scenario), LIFESPAN, "--outbox", str(outbox), "--json", str(report)]
    assert main(argv) == 130
    assert "interrupted; no report written" in capsys.readouterr().err
    assert outbox.read_text() == "" and not report.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jsonl", "s.yaml"]


def test_notifications_outputs_are_checked_and_whole(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _one_line(capsys, ["notifications", str(scenario), "--csv", "/dev/full"])
    assert "cannot write --csv /dev/full: No space left on device" in err
    err = _one_line(capsys, ["notifications", str(scenario), "--json", str(scenario)])
    assert f"--json {scenario} is also an input" in err
    err = _one_line(capsys, ["notifications", str(scenario), "--csv", "-", "--json", "-"])
    assert "--csv and --json both name -" in err
    assert main(["notifications", str(scenario), "--csv", "-"]) == 0
    assert "expiry_reminder" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "validate", "notifications"])
def test_an_empty_path_is_refused(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """'' was read as '.', so every YAML file under the working folder was loaded."""
    err = _one_line(capsys, [command, ""])
    assert "a scenario path is empty ('')" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["serve", "--port", "x"], "conntrack serve: argument --port: invalid int value: 'x'"),
        (["serve", "--seed", str(2**200)], "must be a whole number from 0 to 9223372036854775807"),
        (["serve", "--host", ""], "conntrack serve: argument --host: must not be empty"),
        (["run"], "the following arguments are required: PATH"),
        (["nonsense"], "invalid choice: 'nonsense'"),
        (["deliver", "o.jsonl", "--attempts", "0"], "--attempts: must be at least 1, got 0"),
    ],
)
def test_usage_errors_are_one_line(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _one_line(capsys, argv)
    assert words in err and err.endswith("--help'"), err


def test_serve_on_a_port_in_use_is_one_line() -> None:
    """It ended in an exception group's traceback with exit 1. (In a child process, as a
    user runs it; tests/serve/test_process.py checks no socket is left unclosed.)"""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "conntrack.cli", "serve", "--port", str(port)]
        child = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert child.returncode == 2, child.stderr
    err = child.stderr.strip()
    assert err == (
        f"conntrack: cannot listen on 127.0.0.1:{port}: Address already in use; choose "
        "another --port (0: any free one) or --host"
    )


@pytest.mark.parametrize("command", ["run", "deliver"])
def test_attempts_are_bounded(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--attempts 1000000000 against a dead sink waited 30 s an attempt, for ever."""
    outbox = tmp_path / "o.jsonl"
    outbox.write_text("")
    argv = [LIFESPAN, "--outbox", str(outbox)] if command == "run" else [str(outbox)]
    sink = ["--webhook", "http://127.0.0.1:9/", "--attempts", "1000000000"]
    err = _one_line(capsys, [command, *argv, *sink])
    assert "--attempts must be at most 10, got 1000000000" in err
