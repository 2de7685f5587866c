"""``pytest scenarios/ --conntrack-product FILE``: scenario items run against a product.

As in ``test_cli.py``, a stand-in answers for the harness (``StandIn``): a skipped
scenario must be a pytest skip with the reason, a protocol error a failed item whose
report shows the request and the answer, a bad product file one usage error with its
``file:line``, a product that does not start a failed item that stops the session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# httpcore's trio backend and the harness are imported here, before pytester's
# in-process runs: those forget the modules they import first, and the exceptions of a
# second copy of httpcore's backend are not caught as httpx's (ConnectError escapes).
import httpcore._backends.trio  # noqa: F401
import pytest

import conntrack.product._harness  # noqa: F401

from .test_cli import (
    FAILING,
    LIFESPAN,
    LINKEDIN,
    MIXED,
    REFERENCE,
    SHORT,
    TWITTER,
    StandIn,
    gone,
    install,
    write_product,
)

pytestmark = pytest.mark.filterwarnings("error")


def scenarios(pytester: pytest.Pytester, *sources: str) -> None:
    folder = pytester.path / "scenarios"
    folder.mkdir(exist_ok=True)
    for source in sources:
        shutil.copy(source, folder / Path(source).name)


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> StandIn:
    s = StandIn(dict(MIXED))
    install(monkeypatch, s)
    return s


def test_items_run_through_the_product_with_skips_and_errors(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    scenarios(pytester, LIFESPAN, FAILING, LINKEDIN, TWITTER)
    product = write_product(pytester.path)
    result = pytester.runpytest("scenarios", "--conntrack-product", str(product), "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1, errors=1)
    assert sorted(c["scenario"] for c in standin.calls) == sorted(MIXED)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            f"conntrack product: tiny ({product})",
            "*SKIPPED*the product does not support provider 'linkedin'*",
        ]
    )
    # The protocol error: what broke, the request and the answer, no traceback.
    result.stdout.fnmatch_lines(
        [
            "*X password change, then reconnect*",
            "ERROR  scenarios/twitter_password_change.yaml  X password change, then reconnect *",
            "  POST /clock: the answer is not JSON",
            '  request: POST http://127.0.0.1:4242/_t/clock {"now": "2026-01-21T09:00:00Z"}',
            "  answer: 200 text/html <html>not json {",
        ]
    )
    assert "Traceback" not in out and "ProductBroke" not in out
    # A failed expectation reads as it does in process.
    result.stdout.fnmatch_lines(["*expected: invalid (checkpoint)", "*actual:   invalid*"])


def test_without_the_option_the_product_is_not_used(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    scenarios(pytester, LIFESPAN)
    result = pytester.runpytest("scenarios")
    result.assert_outcomes(passed=1)
    assert standin.calls == []
    assert "conntrack product" not in result.stdout.str()


def test_the_ini_option_names_the_product_relative_to_the_ini_file(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    scenarios(pytester, LIFESPAN, LINKEDIN)
    (pytester.path / "qa").mkdir()
    product = write_product(pytester.path / "qa")
    pytester.makeini("[pytest]\nconntrack_product = qa/product.yaml\n")
    result = pytester.runpytest("scenarios")
    result.assert_outcomes(passed=1, skipped=1)
    assert {Path(c["product"].file).resolve() for c in standin.calls} == {product.resolve()}
    # The command-line option wins over the ini file.
    other = pytester.path / "other"
    other.mkdir()
    write_product(other, providers="[facebook, linkedin]")
    standin.calls.clear()
    standin.verdicts.clear()
    result = pytester.runpytest("scenarios", "--conntrack-product", str(other / "product.yaml"))
    result.assert_outcomes(passed=2)
    assert {c["product"].file for c in standin.calls} == {str(other / "product.yaml")}


def test_a_bad_product_file_is_one_usage_error(pytester: pytest.Pytester, standin: StandIn) -> None:
    scenarios(pytester, LIFESPAN)
    bad = write_product(pytester.path, extra="stpe: 6h\n")
    result = pytester.runpytest("scenarios", "--conntrack-product", str(bad))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"{bad}:11:" in err and "step" in err
    assert "Traceback" not in err + result.stdout.str()
    assert standin.calls == []


def test_a_product_that_does_not_start_is_an_error_of_its_item_and_stops_the_session(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    scenarios(pytester, LIFESPAN, FAILING)
    standin.verdicts["Expectations that must fail"] = "start"
    standin.verdicts["Facebook 60-day lifespan"] = "start"
    product = write_product(pytester.path)
    result = pytester.runpytest("scenarios", "--conntrack-product", str(product))
    result.assert_outcomes(errors=1)
    assert len(standin.calls) == 1
    out = result.stdout.str()
    assert "did not start: it exited with status 3" in out and "on purpose" in out
    assert "Interrupted: conntrack: the product tiny did not start" in out
    assert "Traceback" not in out


# -- end to end: tiny_product.py through the real harness ------------------------------


def test_end_to_end_a_protocol_error_is_an_error_of_the_item_with_request_and_answer(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    scenarios(pytester, LIFESPAN, LINKEDIN)
    pidfile = tmp_path / "pid"
    product = write_product(tmp_path, brk="clock", pidfile=pidfile)
    result = pytester.runpytest("scenarios", "--conntrack-product", str(product), "-rs")
    result.assert_outcomes(errors=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "ERROR  scenarios/facebook_60_day_lifespan.yaml  Facebook 60-day lifespan *",
            "  POST /clock: *",
            "  request: POST http://127.0.0.1:*/_t/clock *",
            "  answer: *<html>not json {*",
        ]
    )
    result.stdout.fnmatch_lines(["*SKIPPED*the product does not support provider 'linkedin'*"])
    assert "Traceback" not in result.stdout.str()
    assert gone(pidfile)


def test_end_to_end_a_product_that_does_not_start_stops_the_session(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    scenarios(pytester, LIFESPAN, FAILING)
    product = write_product(tmp_path, brk="exit")
    result = pytester.runpytest("scenarios", "--conntrack-product", str(product))
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "status 3" in out and "tiny: cannot open its database (on purpose)" in out
    assert "Interrupted: conntrack: the product tiny did not start" in out
    assert "Traceback" not in out


def test_end_to_end_an_item_passes_through_the_reference_product(
    pytester: pytest.Pytester,
) -> None:
    scenarios(pytester, SHORT)
    result = pytester.runpytest("scenarios", "--conntrack-product", str(REFERENCE), "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"conntrack product: reference ({REFERENCE})",
            "*short_password_change.yaml::Facebook password change, short PASSED*",
        ]
    )
