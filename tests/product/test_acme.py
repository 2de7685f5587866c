"""acme, the example product (``examples/acme``), through the real harness.

Each test starts acme as the product file says (a subprocess speaking the product test
protocol, on fresh fakes and a fresh SMTP capture): the five scenarios the issue
requires pass, and each of acme's known integration bugs (``ACME_BUGS``) makes the
scenario that should catch it fail, on the expectation that names the bug's symptom.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from conntrack.product._file import ProductFile, load_product
from conntrack.product._harness import run_product_scenario
from conntrack.scenario import load_paths
from conntrack.scenario._runner import RunResult

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "examples" / "acme"
PRODUCT_FILE = ACME / "product.yaml"

REQUIRED = [
    "facebook_password_change_reconnect",
    "facebook_60_day_lifespan",
    "facebook_app_removed",
    "linkedin_365_day_lifespan",
    "twitter_password_change",
]

#: bug -> (the scenario that catches it, the failed expectation's summary, a phrase of
#: what the run shows instead). Every other expectation of that scenario may pass or
#: fail; the one named must fail, and say so in these words.
BUGS = {
    "no_invalid_email": (
        "facebook_app_removed",
        "invalid email about page: to all",
        "no email",
    ),
    "no_refresh": (
        "linkedin_365_day_lifespan",
        "li is connected at 61d",
        "expired",
    ),
    "reminder_off_by_one_day": (
        "facebook_60_day_lifespan",
        "expiry_reminder email about fb",
        "none at 50d",
    ),
    "ignores_password_change": (
        "facebook_reconnect_wrong_account",
        "fb is invalid (password_changed) at 10d 6h",
        "connected",
    ),
    "no_banner": (
        "facebook_admin_removed",
        "the dashboard banner of fb shows invalid",
        "nothing at 30d",
    ),
    "reminders_to_opted_out": (
        "facebook_60_day_lifespan",
        "expiry_reminder email about fb",
        "also to user3",
    ),
}


def _run(name: str, bugs: str = "") -> RunResult:
    [scenario] = load_paths([str(ROOT / "scenarios" / f"{name}.yaml")])
    file: ProductFile = load_product(PRODUCT_FILE)
    if bugs:
        file = replace(file, start=replace(file.start, env={**file.start.env, "ACME_BUGS": bugs}))
    return run_product_scenario(scenario, file)


def _failures(result: RunResult) -> str:
    return "\n".join(
        f"{o.summary}: expected {o.expected}; actual {o.actual}"
        for o in result.outcomes
        if not o.passed
    )


@pytest.mark.parametrize("name", REQUIRED)
def test_required_scenario_passes(name: str) -> None:
    result = _run(name)
    assert result.error is None, result.error
    assert result.skipped is None, result.skipped
    assert result.outcomes, "no expectation was checked"
    assert result.passed, _failures(result)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_bug_fails_the_right_expectation(bug: str) -> None:
    name, summary, shows = BUGS[bug]
    result = _run(name, bugs=bug)
    assert result.error is None, result.error
    failed = [o for o in result.outcomes if not o.passed]
    named = [o for o in failed if o.summary.startswith(summary)]
    assert named, f"{bug}: {summary!r} did not fail; failures:\n{_failures(result)}"
    assert any(shows in o.actual for o in named), _failures(result)


def test_every_bug_is_tested() -> None:
    sys.path.insert(0, str(ACME))
    try:
        from acme.settings import BUGS as KNOWN
    finally:
        sys.path.remove(str(ACME))
    assert set(KNOWN) == set(BUGS)


def test_an_unknown_bug_stops_acme_with_exit_2() -> None:
    env = {**os.environ, "ACME_BUGS": "no_refresh,no_such_bug", "CONNTRACK_PRODUCT_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "acme"],
        cwd=ACME,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown bug(s) no_such_bug" in done.stderr
    assert "no_invalid_email" in done.stderr  # the known ones are listed
