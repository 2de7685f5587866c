"""``conntrack run PATHS --product FILE``: options, verdicts, exit status and reports.

Most tests put a stand-in in place of the harness's ``run_product_scenario`` (it answers
each scenario as a test says: passed or failed by running it in process, skipped for a
provider the product file does not list, an error with a request and an answer, a
product that does not start, Ctrl-C), so they check what the CLI makes of each verdict
in a second. The end-to-end tests at the bottom start ``data/tiny_product.py`` through
the real harness.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import types
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conntrack._exceptions import InputError
from conntrack._records import Recorder, Timeline
from conntrack.cli import main
from conntrack.product import ProductError
from conntrack.product._file import ProductFile
from conntrack.scenario import Scenario, load_paths
from conntrack.scenario._runner import RunResult, make_users, run_name, run_scenario

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
TINY = DATA / "tiny_product.py"
LIFESPAN = str(ROOT / "scenarios" / "facebook_60_day_lifespan.yaml")
FAILING = str(ROOT / "tests" / "data" / "failing_expectations.yaml")
LINKEDIN = str(ROOT / "scenarios" / "linkedin_365_day_lifespan.yaml")
TWITTER = str(ROOT / "scenarios" / "twitter_password_change.yaml")
HARNESS = "conntrack.product._harness"

CLOCK_ERROR = ProductError(
    "POST /clock: the answer is not JSON",
    request='POST http://127.0.0.1:4242/_t/clock {"now": "2026-01-21T09:00:00Z"}',
    answer="200 text/html <html>not json {",
)


def write_product(
    folder: Path,
    *,
    brk: str = "",
    providers: str = "[facebook, twitter]",
    extra: str = "",
    pidfile: Path | None = None,
) -> Path:
    """A product file for ``tiny_product.py`` (``TINY_BREAK=brk``) in ``folder``."""
    env = {"TINY_BREAK": brk, **({"TINY_PIDFILE": str(pidfile)} if pidfile else {})}
    path = folder / "product.yaml"
    path.write_text(
        "name: tiny\n"
        "base: http://127.0.0.1:{port}/_t\n"
        "redirect_uri: http://127.0.0.1:{port}/oauth/{protocol}/callback\n"
        "start:\n"
        f"  command: {json.dumps([sys.executable, str(TINY)])}\n"
        f"  env: {json.dumps(env)}\n"
        "  ready: {timeout: 10s}\n"
        "  stop_timeout: 2s\n"
        f"providers: {providers}\n"
        "timeouts: {clock: 2s, request: 2s}\n" + extra
    )
    return path


Verdict = str | Callable[[Scenario, ProductFile], RunResult]


@dataclasses.dataclass
class StandIn:
    """Stands in for ``run_product_scenario``: ``verdicts[scenario name]`` says what to
    answer (``run``, the default: the in-process result; ``skip``: what the product file
    says of the first unsupported provider; ``error``: :data:`CLOCK_ERROR` after the
    in-process timeline; ``start``: a product that does not start; ``interrupt``:
    Ctrl-C); ``calls`` keeps what it was given."""

    verdicts: dict[str, Verdict] = dataclasses.field(default_factory=dict)
    calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def __call__(
        self,
        scenario: Scenario,
        product_file: ProductFile,
        *,
        outboxes: list[Any] | None = None,
        run: str | None = None,
    ) -> RunResult:
        self.calls.append(
            {"scenario": scenario.name, "product": product_file, "outboxes": outboxes, "run": run}
        )
        verdict = self.verdicts.get(scenario.name, "run")
        if callable(verdict):
            return verdict(scenario, product_file)
        if verdict == "start":
            raise InputError(
                f"{product_file.file}: the product did not start: it exited with status 3\n"
                "its log ends:\n  tiny: cannot open its database (on purpose)"
            )
        if verdict == "interrupt":
            raise KeyboardInterrupt
        if verdict == "skip":
            reason = next(
                r
                for c in scenario.connections.values()
                if (r := product_file.unsupported(c.provider)) is not None
            )
            start, until = scenario.start, scenario.start + scenario.until
            timeline = Timeline(Recorder(), start, until)
            return RunResult(scenario, timeline, [], make_users(scenario), skipped=reason)
        result = in_process(scenario)
        if verdict == "error":
            return dataclasses.replace(result, outcomes=[], error=str(CLOCK_ERROR))
        return result


_RESULTS: dict[tuple[str, str], RunResult] = {}


def in_process(scenario: Scenario) -> RunResult:
    """The in-process result of ``scenario``, run once for all the tests (reports only
    read it)."""
    key = (str(scenario.where), scenario.name)
    if key not in _RESULTS:
        _RESULTS[key] = run_scenario(scenario)
    return _RESULTS[key]


def install(monkeypatch: pytest.MonkeyPatch, standin: StandIn) -> None:
    """Put ``standin`` where the CLI and the plugin import the harness from."""
    try:
        import conntrack.product._harness as module
    except ImportError:  # not written yet: a module of its own
        module = types.ModuleType(HARNESS)
        monkeypatch.setitem(sys.modules, HARNESS, module)
    monkeypatch.setattr(module, "run_product_scenario", standin, raising=False)


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> StandIn:
    s = StandIn()
    install(monkeypatch, s)
    return s


@pytest.fixture
def product(tmp_path: Path) -> Path:
    return write_product(tmp_path)


MIXED = {
    "Facebook 60-day lifespan": "run",  # passes
    "Expectations that must fail": "run",  # fails
    "LinkedIn 365-day lifespan": "skip",
    "X password change, then reconnect": "error",
}


def run_mixed(standin: StandIn, product: Path, *extra: str) -> int:
    standin.verdicts.update(MIXED)
    return main(["run", LIFESPAN, FAILING, LINKEDIN, TWITTER, "--product", str(product), *extra])


def test_each_verdict_is_shown_and_errors_fail_the_run(
    standin: StandIn, product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_mixed(standin, product, "--run-id", "mixed") == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"product: tiny  ({product})"
    heads = [line.split("  ")[0] for line in lines if line and not line.startswith((" ", "p"))]
    assert heads[:4] == ["PASS", "FAIL", "SKIPPED", "ERROR"]
    skipped = next(line for line in lines if line.startswith("SKIPPED"))
    assert "LinkedIn 365-day lifespan" in skipped
    assert "the product does not support provider 'linkedin'" in skipped
    # The error's message, request and answer, each on a line of its own.
    error_at = next(i for i, line in enumerate(lines) if line.startswith("ERROR"))
    assert "X password change, then reconnect" in lines[error_at]
    assert lines[error_at + 1 : error_at + 4] == [
        "  POST /clock: the answer is not JSON",
        '  request: POST http://127.0.0.1:4242/_t/clock {"now": "2026-01-21T09:00:00Z"}',
        "  answer: 200 text/html <html>not json {",
    ]
    assert out.rstrip().endswith("1 passed, 1 failed, 1 skipped, 1 error")
    # Each scenario went to the product once, named as an in-process run names it.
    assert [c["scenario"] for c in standin.calls] == list(MIXED)
    [lifespan] = load_paths([LIFESPAN])
    assert standin.calls[0]["run"] == run_name(lifespan, run_id="mixed")
    assert all(isinstance(c["product"], ProductFile) for c in standin.calls)


def test_skips_do_not_fail_a_run(
    standin: StandIn, product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.verdicts.update(MIXED)
    assert main(["run", LIFESPAN, LINKEDIN, "--product", str(product)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("1 passed, 0 failed, 1 skipped")


def test_an_error_alone_fails_a_run(
    standin: StandIn, product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.verdicts.update(MIXED)
    assert main(["run", TWITTER, "--product", str(product)]) == 1
    out = capsys.readouterr().out
    assert out.rstrip().endswith("0 passed, 0 failed, 1 error")
    # -v adds the timeline up to the error: the in-process one the stand-in kept.
    assert main(["run", TWITTER, "--product", str(product), "-v"]) == 1
    out = capsys.readouterr().out
    assert "  timeline:" in out and "password_change" in out


def test_json_report_names_the_product_and_each_status(
    standin: StandIn, product: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.json"
    assert run_mixed(standin, product, "--json", str(report)) == 1
    doc = json.loads(report.read_text())
    assert doc["product"] == "tiny" and doc["passed"] is False
    by_name = {s["scenario"]: s for s in doc["scenarios"]}
    assert [s["status"] for s in doc["scenarios"]] == ["passed", "failed", "skipped", "error"]
    assert "does not support provider 'linkedin'" in by_name["LinkedIn 365-day lifespan"]["skipped"]
    error = by_name["X password change, then reconnect"]
    assert error["error"] == str(CLOCK_ERROR) and error["passed"] is False
    assert [s["passed"] for s in doc["scenarios"]] == [True, False, False, False]
    assert by_name["Facebook 60-day lifespan"]["skipped"] is None
    assert by_name["Facebook 60-day lifespan"]["error"] is None
    # Skips alone: the run passed.
    assert main(["run", LIFESPAN, LINKEDIN, "--product", str(product), "--json", str(report)]) == 0
    assert json.loads(report.read_text())["passed"] is True


def test_an_in_process_report_says_nothing_of_products(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit = tmp_path / "r.json", tmp_path / "r.xml"
    assert main(["run", LIFESPAN, "--json", str(report), "--junit", str(junit)]) == 0
    doc = json.loads(report.read_text())
    assert "product" not in doc and "status" not in doc["scenarios"][0]
    suite = ET.parse(junit).getroot()
    assert suite.find("properties") is None
    assert (suite.get("errors"), suite.get("skipped")) == ("0", "0")
    assert capsys.readouterr().out.rstrip().endswith("1 passed, 0 failed")


def test_junit_report_has_skipped_and_error_elements(
    standin: StandIn, product: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "junit.xml"
    assert run_mixed(standin, product, "--junit", str(out)) == 1
    suite = ET.parse(out).getroot()
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "4",
        "failures": "1",
        "errors": "1",
        "skipped": "1",
    }
    props = suite.find("properties")
    assert props is not None
    assert [(p.get("name"), p.get("value")) for p in props] == [("product", "tiny")]
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    skipped = cases["LinkedIn 365-day lifespan"].find("skipped")
    assert skipped is not None
    assert "does not support provider 'linkedin'" in (skipped.get("message") or "")
    assert cases["LinkedIn 365-day lifespan"].find("failure") is None
    error = cases["X password change, then reconnect"].find("error")
    assert error is not None and error.get("message") == "POST /clock: the answer is not JSON"
    assert "request: POST" in (error.text or "") and "answer: 200" in (error.text or "")
    assert cases["X password change, then reconnect"].find("failure") is None
    assert cases["Facebook 60-day lifespan"].find("skipped") is None
    assert cases["Facebook 60-day lifespan"].find("error") is None


def test_html_report_shows_the_product_skips_and_errors(
    standin: StandIn, product: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert run_mixed(standin, product, "--html", str(out)) == 1
    page = out.read_text()
    assert "<title>conntrack report: tiny</title>" in page and "<h1>conntrack report: tiny" in page
    assert "4 scenarios: 1 passed, 1 failed, 1 skipped, 1 error · product tiny" in page
    assert "<script" not in page
    linkedin = page.split("LinkedIn 365-day lifespan</h2>")[1].split("</section>")[0]
    assert "skipped: the product does not support provider &#39;linkedin&#39;" in linkedin
    assert "<figure" not in linkedin  # nothing ran: no bands
    twitter = page.split("X password change, then reconnect</h2>")[1].split("</section>")[0]
    assert '<pre class="error">POST /clock: the answer is not JSON' in twitter
    assert "answer: 200 text/html &lt;html&gt;not json {" in twitter  # escaped
    assert "<figure" in twitter  # what happened until then
    for badge in ('class="pass">PASS', 'class="fail">FAIL', 'class="skip">SKIPPED'):
        assert page.count(badge) == 1
    assert page.count('class="error">ERROR') == 1


def test_the_outbox_goes_to_the_product_run(
    standin: StandIn, product: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conntrack._notify import JsonlOutbox

    outbox = tmp_path / "emails.jsonl"
    copy = tmp_path / "copy.yaml"
    copy.write_text(Path(LIFESPAN).read_text())
    args = ["run", LIFESPAN, str(copy), "--product", str(product), "--outbox", str(outbox)]
    assert main(args) == 0
    first, second = standin.calls
    assert [type(o) for o in first["outboxes"]] == [JsonlOutbox]
    # A copy of a scenario in the same run gets a run name of its own (its email ids).
    assert first["run"] != second["run"]
    assert outbox.exists()


@pytest.mark.parametrize(
    ("option", "word"), [(["--exact-sync"], "--exact-sync"), (["--policy", "x.yaml"], "--policy")]
)
def test_in_process_options_are_refused_with_a_product(
    standin: StandIn,
    product: Path,
    option: list[str],
    word: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", LIFESPAN, "--product", str(product), *option]) == 2
    err = capsys.readouterr().err
    assert f"{word} cannot be used with --product" in err
    assert "Traceback" not in err
    assert standin.calls == []


def test_a_bad_product_file_exits_2_with_file_and_line(
    standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_product(tmp_path, extra="stpe: 6h\n")
    assert main(["run", LIFESPAN, "--product", str(bad)]) == 2
    captured = capsys.readouterr()
    assert f"{bad}:11:" in captured.err and "step" in captured.err
    assert "Traceback" not in captured.err
    assert standin.calls == [] and "PASS" not in captured.out
    assert main(["run", LIFESPAN, "--product", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_the_product_file_is_read_before_the_scenarios(
    standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_product(tmp_path, extra="stpe: 6h\n")
    assert main(["run", str(tmp_path / "no-such-scenario.yaml"), "--product", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:11:" in err and "no-such-scenario" not in err


@pytest.mark.parametrize("grouped", [False, True], ids=["bare", "in-a-group"])
def test_a_product_that_does_not_start_exits_2(
    standin: StandIn, product: Path, grouped: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    def in_a_group(scenario: Scenario, product_file: ProductFile) -> RunResult:
        try:
            StandIn({scenario.name: "start"})(scenario, product_file)
        except InputError as e:
            raise ExceptionGroup("nursery", [e]) from None
        raise AssertionError("a start failure was expected")

    standin.verdicts["Facebook 60-day lifespan"] = in_a_group if grouped else "start"
    assert main(["run", LIFESPAN, FAILING, "--product", str(product)]) == 2
    err = capsys.readouterr().err
    assert "did not start" in err and "status 3" in err and "on purpose" in err
    assert "Traceback" not in err
    assert len(standin.calls) == 1  # nothing more was tried


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt(), BaseExceptionGroup("nursery", [KeyboardInterrupt()])],
    ids=["bare", "in-a-group"],
)
def test_ctrl_c_exits_130_with_one_line(
    standin: StandIn,
    product: Path,
    tmp_path: Path,
    interrupt: BaseException,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def ctrl_c(scenario: Scenario, product_file: ProductFile) -> RunResult:
        raise interrupt

    standin.verdicts["Expectations that must fail"] = ctrl_c
    report = tmp_path / "r.json"
    assert main(["run", LIFESPAN, FAILING, "--product", str(product), "--json", str(report)]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == "conntrack: interrupted; no report written"
    assert "PASS" in captured.out  # what finished was shown
    assert not report.exists()


def test_ctrl_c_of_an_in_process_run_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import conntrack.scenario._runner as runner

    def ctrl_c(*args: object, **kwargs: object) -> RunResult:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_scenario", ctrl_c)
    assert main(["run", LIFESPAN]) == 130
    assert "interrupted" in capsys.readouterr().err


# -- end to end: tiny_product.py through the real harness ------------------------------


def gone(pidfile: Path, within: float = 10.0) -> bool:
    """Whether the process whose id ``pidfile`` holds has ended (waiting ``within`` s)."""
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_end_to_end_a_protocol_error_is_an_error_and_nothing_is_left_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pidfile = tmp_path / "pid"
    product = write_product(tmp_path, brk="clock", pidfile=pidfile)
    junit = tmp_path / "junit.xml"
    args = ["run", LIFESPAN, LINKEDIN, "--product", str(product), "--junit", str(junit)]
    assert main(args) == 1
    lines = capsys.readouterr().out.splitlines()
    error_at = next(i for i, line in enumerate(lines) if line.startswith("ERROR"))
    assert "Facebook 60-day lifespan" in lines[error_at]
    shown = "\n".join(lines[error_at + 1 : error_at + 4])
    assert "request: POST http://127.0.0.1:" in shown and "/_t/clock" in shown
    assert "answer: " in shown and "<html>not json {" in shown
    assert any(line.startswith("SKIPPED") and "'linkedin'" in line for line in lines)
    assert lines[-1] == "0 passed, 0 failed, 1 skipped, 1 error"
    assert gone(pidfile)
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert cases["Facebook 60-day lifespan"].find("error") is not None
    assert cases["LinkedIn 365-day lifespan"].find("skipped") is not None


def test_end_to_end_a_product_that_does_not_start_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = write_product(tmp_path, brk="exit")
    assert main(["run", LIFESPAN, "--product", str(product)]) == 2
    err = capsys.readouterr().err
    assert "status 3" in err and "tiny: cannot open its database (on purpose)" in err
    assert "Traceback" not in err


def test_end_to_end_ctrl_c_stops_the_product_and_exits_130(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    product = write_product(tmp_path, brk="hang", pidfile=pidfile)
    # The clock call hangs for a minute: only Ctrl-C ends this run in time.
    product.write_text(product.read_text().replace("clock: 2s", "clock: 60s"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "conntrack.cli", "run", LIFESPAN, "--product", str(product)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it, even when the test session runs as a
        # background job, which hands its children SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists() or not pidfile.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        time.sleep(1.0)  # ready, company sent, the clock call hanging
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip() == "conntrack: interrupted; no report written"
    assert out.startswith("product: tiny")
    assert gone(pidfile)


REFERENCE = ROOT / "examples" / "reference" / "product.yaml"
SHORT = str(DATA / "short_password_change.yaml")
"""Four days with a password change and a reconnect: a few seconds through a product."""


def test_end_to_end_through_the_reference_product(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit, html = tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "r.html"
    outbox = tmp_path / "emails.jsonl"
    args = ["run", SHORT, "--product", str(REFERENCE), "--json", str(report)]
    assert main([*args, "--junit", str(junit), "--html", str(html), "--outbox", str(outbox)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"product: reference  ({REFERENCE})")
    assert "PASS" in out and out.rstrip().endswith("1 passed, 0 failed")
    doc = json.loads(report.read_text())
    assert doc["product"] == "reference" and doc["passed"] is True
    [s] = doc["scenarios"]
    assert (s["status"], s["skipped"], s["error"]) == ("passed", None, None)
    # The same expectations judged the same as in process.
    [scenario] = load_paths([SHORT])
    expected = [(str(o.where), o.passed) for o in in_process(scenario).outcomes]
    assert [(e["where"], e["passed"]) for e in s["expectations"]] == expected
    assert any(r["type"] == "email" and r["kind"] == "invalid" for r in s["records"])
    suite = ET.parse(junit).getroot()
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")
    assert "conntrack report: reference" in html.read_text()
    # The product's emails, as the SMTP capture read them, in the outbox file.
    emails = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert sorted(e["to"] for e in emails) == ["user1", "user2", "user3"]
    assert {(e["kind"], e["about"], e["scenario"]) for e in emails} == {
        ("invalid", "fb", "Facebook password change, short")
    }
