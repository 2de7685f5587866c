"""A login that does not fit the connection's state, walked against a product (issue 14's
first bullet): the world knows what it last saw of the connection, so an 'add' of a
connection the product still has, or a 'reconnect' of one it has disconnected, is a
failed attempt that says what to do instead — as in process — and the product is not
asked (it offers no such button)."""

from __future__ import annotations

from pathlib import Path

from conntrack._records import EventRecord
from conntrack.product._file import load_product
from conntrack.product._harness import run_product_scenario
from conntrack.product._model import model_product
from conntrack.scenario import load_file
from conntrack.scenario._runner import RunResult, run_scenario

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "examples" / "acme" / "product.yaml"
SCENARIO = """\
scenario: logins that do not fit
start: 2026-03-02T09:00:00Z
until: 20d
company: {users: 3}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
timeline:
  - {at: 2d, event: disconnect, connection: fb}
  - {at: 2d 1h, event: add, connection: fb}
  - {at: 3d, event: add, connection: fb}
  - {at: 5d, event: disconnect, connection: fb}
  - {at: 5d 1h, event: add, connection: fb, popup: blocked}
  - {at: 5d 2h, event: reconnect, connection: fb}
  - {at: 5d 3h, event: add, connection: fb}
expect:
  - {reconnects: fb, count: 0, failed: 3}
  - {transitions: fb, are: [disconnected, connected, disconnected, connected]}
"""


def failed(result: RunResult) -> list[tuple[object, str]]:
    return [
        (r.at, r.detail)
        for r in result.timeline.records_only
        if isinstance(r, EventRecord) and r.event == "connect_failed"
    ]


def _both(tmp_path: Path, acme: bool) -> tuple[RunResult, RunResult]:
    path = tmp_path / "misfit.yaml"
    path.write_text(SCENARIO, "utf-8")
    [scenario] = load_file(path)
    here = run_scenario(scenario)
    assert here.passed, [o.actual for o in here.outcomes if not o.passed]
    if acme:
        return here, run_product_scenario(scenario, load_product(ACME))
    return here, run_product_scenario(scenario, product=model_product)


def test_misfit_logins_are_failed_attempts_through_a_product(tmp_path: Path) -> None:
    here, got = _both(tmp_path, acme=False)
    assert not got.error and not got.skipped, got.error or got.skipped
    assert failed(got) == failed(here)
    assert "use 'reconnect' instead" in failed(got)[0][1]
    assert "add it again instead" in failed(got)[2][1]
    assert got.passed, [o.actual for o in got.outcomes if not o.passed]


def test_a_product_that_would_take_them_is_not_asked(tmp_path: Path) -> None:
    """acme, asked, took the 'add' of a connection it still had and the 'reconnect' of one
    it had disconnected: the walk must not ask it."""
    here, got = _both(tmp_path, acme=True)
    assert not got.error and not got.skipped, got.error or got.skipped
    assert failed(got) == failed(here)
    assert got.passed, [o.actual for o in got.outcomes if not o.passed]
