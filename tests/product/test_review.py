"""Edge cases of the scenario language through the product harness (a review's findings).

Each test is a scenario the language allows that the harness once got wrong; they run
conntrack's model in process (:func:`model_product`) or stop before any process starts,
so the file takes a second or two.
"""

from __future__ import annotations

from pathlib import Path

from conntrack.product._harness import run_product_scenario, skip_reason
from conntrack.product._model import model_product
from conntrack.scenario import load_paths
from conntrack.scenario._model import Scenario

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "examples" / "reference" / "product.yaml"

POLICY_SCENARIO = """\
scenario: A policy override
seed: 3
start: 2026-04-06T09:00:00Z
until: 62d
company: {users: 2}
policy: {rules: [{providers: [facebook], reminders: [3d]}]}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
expect:
  - {email: expiry_reminder, about: fb, at: [57d]}
"""


def _load(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    [scenario] = load_paths([str(path)])
    return scenario


def test_a_scenario_policy_is_skipped_through_an_in_process_product(tmp_path: Path) -> None:
    """A product sends by its own notification policy: a scenario's ``policy:`` cannot
    reach it, so the scenario is skipped saying why, not run under another policy (it
    failed, the product's default reminders judged against the scenario's)."""
    scenario = _load(tmp_path, POLICY_SCENARIO)
    result = run_product_scenario(scenario, product=model_product)
    assert result.skipped is not None
    assert "policy:" in result.skipped
    assert str(tmp_path / "scenario.yaml") in result.skipped
    assert not result.outcomes and not result.error


def test_a_scenario_policy_is_skipped_through_a_product_file(tmp_path: Path) -> None:
    scenario = _load(tmp_path, POLICY_SCENARIO)
    reason = skip_reason(scenario)
    assert reason is not None and "policy:" in reason
    # Said before the product starts: no process, no fakes.
    result = run_product_scenario(scenario, REFERENCE)
    assert result.skipped == reason
    without = _load(
        tmp_path,
        POLICY_SCENARIO.replace(
            "policy: {rules: [{providers: [facebook], reminders: [3d]}]}\n", ""
        ),
    )
    assert skip_reason(without) is None
