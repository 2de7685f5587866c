"""A careless user, a broken product and a hostile one: what the harness makes of them.

``data/hostile/hostile_product.py`` speaks the protocol well enough to start, then does
one bad thing on purpose (``HOSTILE``): it exits mid-run, a route hangs, ``next`` asks
for an instant every millisecond... Each run must end as the issue says — an *error*
showing the request (and what happened), exit 2 for a product that does not start,
130/143 for Ctrl-C/SIGTERM — with nothing left running: not the product's process, not
the SMTP capture, not the fakes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trio

from conntrack._records import EventRecord
from conntrack.product._harness import _make_fakes, _served, run_product_scenario
from conntrack.scenario import load_file
from conntrack.scenario._model import Scenario

DATA = Path(__file__).resolve().parent / "data"
HOSTILE = DATA / "hostile" / "hostile_product.py"
SHORT = DATA / "short_password_change.yaml"


def short() -> Scenario:
    return load_file(SHORT)[0]


def write_product(
    folder: Path, mode: str, *, clock: str = "1s", request: str = "1s", ready: str = "10s"
) -> Path:
    """A product file starting ``hostile_product.py`` with ``HOSTILE=mode``."""
    env = {"HOSTILE": mode, "HOSTILE_REPORT": str(folder / "report.json")}
    path = folder / "product.yaml"
    path.write_text(
        "name: hostile\n"
        "base: http://127.0.0.1:{port}/_t\n"
        "redirect_uri: http://127.0.0.1:{port}/oauth/{protocol}/callback\n"
        "start:\n"
        f"  command: {json.dumps([sys.executable, str(HOSTILE)])}\n"
        f"  env: {json.dumps(env)}\n"
        f"  ready: {{timeout: {ready}}}\n"
        "  stop_timeout: 2s\n"
        "providers: [facebook]\n"
        f"timeouts: {{clock: {clock}, request: {request}}}\n"
    )
    return path


def report(folder: Path, within: float = 20.0) -> dict[str, object]:
    """What the product wrote once started (waiting for it ``within`` seconds)."""
    path = folder / "report.json"
    deadline = time.monotonic() + within
    while not path.exists():
        assert time.monotonic() < deadline, "the product never started"
        time.sleep(0.02)
    data: dict[str, object] = json.loads(path.read_text())
    return data


def assert_nothing_left_running(folder: Path) -> None:
    """The product's process, the SMTP capture and the fakes are all gone."""
    got = report(folder)
    deadline = time.monotonic() + 5
    while True:
        try:
            os.kill(int(str(got["pid"])), 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, f"the product (pid {got['pid']}) still runs"
        time.sleep(0.02)
    fakes_port = urlsplit(str(got["fakes"])).port
    for port in (int(str(got["smtp"])), fakes_port):
        with socket.socket() as s, pytest.raises(ConnectionRefusedError):
            s.connect(("127.0.0.1", port))


# -- a product that misbehaves mid-run: an error naming the request, nothing left ----------


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("hang_company", "PUT http://127.0.0.1:"),
        ("hang_connections", "GET http://127.0.0.1:"),
        ("hang_callback", "/oauth/facebook/callback?code="),
        ("hang_clock", "POST http://127.0.0.1:"),
    ],
)
def test_a_route_that_hangs_ends_the_scenario_as_an_error(
    tmp_path: Path, mode: str, says: str
) -> None:
    result = run_product_scenario(short(), write_product(tmp_path, mode))
    assert result.error is not None and result.outcomes == []
    assert "no answer within" in result.error and says in result.error
    assert_nothing_left_running(tmp_path)


def test_a_product_that_exits_mid_run_is_an_error_with_its_status_and_log(
    tmp_path: Path,
) -> None:
    result = run_product_scenario(short(), write_product(tmp_path, "exit_mid"))
    assert result.error is not None
    assert "exited with status 5" in result.error
    assert "hostile: exiting mid-run (on purpose)" in result.error
    assert "request: POST http://127.0.0.1:" in result.error
    assert_nothing_left_running(tmp_path)


def test_a_next_every_millisecond_is_an_error_within_seconds(tmp_path: Path) -> None:
    t0 = time.monotonic()
    result = run_product_scenario(short(), write_product(tmp_path, "next_ms"))
    assert result.error is not None and "'next'" in result.error
    assert time.monotonic() - t0 < 20
    assert_nothing_left_running(tmp_path)


def test_a_step_too_fine_for_the_scenario_is_an_error_at_once(tmp_path: Path) -> None:
    product = write_product(tmp_path, "")
    product.write_text(product.read_text() + "step: 1s\n")  # 345 600 instants in 4 days
    t0 = time.monotonic()
    result = run_product_scenario(short(), product)
    assert result.error is not None and "'step: 1s'" in result.error
    assert time.monotonic() - t0 < 10
    assert_nothing_left_running(tmp_path)


@pytest.mark.parametrize("mode", ["next_past", "next_9999"])
def test_a_next_out_of_the_run_is_ignored(tmp_path: Path, mode: str) -> None:
    result = run_product_scenario(short(), write_product(tmp_path, mode))
    assert result.error is None  # judged (it fails: this product connects nothing)
    assert result.outcomes
    assert_nothing_left_running(tmp_path)


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("latin1", "POST /clock"),
        ("weird", "'sideways', which the product file does not map"),
    ],
)
def test_an_answer_of_the_wrong_kind_is_an_error_showing_it(
    tmp_path: Path, mode: str, says: str
) -> None:
    result = run_product_scenario(short(), write_product(tmp_path, mode))
    assert result.error is not None and says in result.error
    assert "request: " in result.error and "answer: " in result.error
    assert_nothing_left_running(tmp_path)


def test_a_product_that_never_listens_exits_2_naming_its_ready_url(tmp_path: Path) -> None:
    from conntrack import InputError

    with pytest.raises(InputError, match=r"did not answer http://127\.0\.0\.1:\d+/_t/"):
        run_product_scenario(short(), write_product(tmp_path, "no_port", ready="1s"))
    assert_nothing_left_running(tmp_path)


# -- signals: the product's group is stopped, one line, 130/143 ---------------------------


def _conntrack_run(product: Path) -> subprocess.Popen[str]:
    # Ctrl-C as a terminal delivers it: a test session started as a background job
    # (`make test &`) hands its children SIGINT ignored, and Python then keeps it ignored.
    return subprocess.Popen(
        [sys.executable, "-m", "conntrack.cli", "run", str(SHORT), "--product", str(product)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.parametrize(
    ("mode", "sig", "status", "line"),
    [
        ("hang_clock", signal.SIGTERM, 143, "conntrack: terminated; no report written"),
        ("sleep_start", signal.SIGTERM, 143, "conntrack: terminated; no report written"),
        ("sleep_start", signal.SIGINT, 130, "conntrack: interrupted; no report written"),
    ],
    ids=["sigterm-mid-walk", "sigterm-while-starting", "sigint-while-starting"],
)
def test_a_signal_stops_everything_and_exits_with_one_line(
    tmp_path: Path, mode: str, sig: signal.Signals, status: int, line: str
) -> None:
    product = write_product(tmp_path, mode, clock="60s", request="60s", ready="60s")
    proc = _conntrack_run(product)
    try:
        report(tmp_path)
        time.sleep(0.5)  # starting (sleep_start) or walking, the clock call hanging
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == status, err
    assert err.strip() == line
    assert_nothing_left_running(tmp_path)


# -- the servers the harness starts ---------------------------------------------------------


def test_the_served_fakes_refuse_a_foreign_host_and_origin() -> None:
    async def main() -> dict[str, int]:
        fakes = _make_fakes(short())
        async with _served(fakes) as url, httpx.AsyncClient() as client:
            apps = f"{url}/_conntrack/apps"
            return {
                "own": (await client.get(apps)).status_code,
                "host": (await client.get(apps, headers={"Host": "evil.test"})).status_code,
                "origin": (
                    await client.get(apps, headers={"Origin": "http://evil.test"})
                ).status_code,
            }

    codes = trio.run(main)
    assert codes["own"] == 200
    assert codes["host"] == 421  # a page that points its own name here (DNS rebinding)
    assert codes["origin"] == 403


def test_sigterm_to_pytest_stops_the_product_and_the_session(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for name in ("one.yaml", "two.yaml"):
        (scenarios / name).write_text(SHORT.read_text())
    product = write_product(tmp_path, "hang_clock", clock="60s", request="60s")
    args = ["-q", "-p", "no:cacheprovider", "-c", os.devnull, str(scenarios)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args, "--conntrack-product", str(product)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = report(tmp_path)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, out
    assert "conntrack: terminated (SIGTERM)" in out and "Traceback" not in out
    assert report(tmp_path) == first  # the second item never started the product again
    assert_nothing_left_running(tmp_path)


# -- a careless product file -----------------------------------------------------------------


def test_a_command_that_does_not_exist_exits_2_at_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conntrack.cli import main

    product = write_product(tmp_path, "")
    product.write_text(
        product.read_text().replace(json.dumps(sys.executable), '"/nonexistent/acme-server"')
    )
    assert main(["run", str(SHORT), "--product", str(product)]) == 2
    err = capsys.readouterr().err
    assert f"{product}:5: cannot start the product: /nonexistent/acme-server" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("mode", ["huge", "huge_chunked"])
def test_a_huge_answer_is_an_error_not_a_memory_hog(tmp_path: Path, mode: str) -> None:
    result = run_product_scenario(short(), write_product(tmp_path, mode, request="10s"))
    assert result.error is not None and "passes 16 MB" in result.error
    assert "request: GET http://127.0.0.1:" in result.error
    assert_nothing_left_running(tmp_path)


def test_a_proxy_in_the_environment_does_not_come_between_harness_and_product(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens on port 9
    result = run_product_scenario(short(), write_product(tmp_path, ""))
    assert result.error is None and result.outcomes
    assert_nothing_left_running(tmp_path)


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("conn_null", "request: GET http://127.0.0.1:"),
        ("conn_strings", "request: GET http://127.0.0.1:"),
        ("conn_dup", "request: GET http://127.0.0.1:"),
        ("conn_nested", "nested too deep"),
        ("next_garbage", "'next'"),
    ],
)
def test_a_malformed_answer_is_an_error_not_a_traceback(
    tmp_path: Path, mode: str, says: str
) -> None:
    result = run_product_scenario(short(), write_product(tmp_path, mode))
    assert result.error is not None and says in result.error
    assert "request: " in result.error
    assert_nothing_left_running(tmp_path)


@pytest.mark.parametrize("mode", ["authorize_elsewhere", "authorize_bad_client", "callback_nested"])
def test_a_login_gone_astray_is_a_failed_connect_judged_as_such(tmp_path: Path, mode: str) -> None:
    result = run_product_scenario(short(), write_product(tmp_path, mode))
    assert result.error is None and result.outcomes
    failed = [
        r
        for r in result.timeline.records_only
        if isinstance(r, EventRecord) and r.event == "connect_failed"
    ]
    assert failed, "the failed login is on the timeline"
    assert_nothing_left_running(tmp_path)
