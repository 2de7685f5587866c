"""Email expectations take ``says:`` as banners do (issue 14): a piece of text every
counted email must hold in its subject or body, case-insensitive; the failure names the
send and quotes what the email says instead."""

from __future__ import annotations

from pathlib import Path

from conntrack.scenario import load_file
from conntrack.scenario._model import EmailExpect
from conntrack.scenario._runner import run_scenario

SCENARIO = """\
scenario: checkpoint email says
start: 2026-03-02T09:00:00Z
until: 30d
company: {{users: 2}}
connections:
  fb: {{provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}}
timeline:
  - {{at: 10d, event: checkpoint, connection: fb}}
expect:
  - {{email: invalid, about: fb, to: all, count: 1, says: {says}}}
"""


def _run(tmp_path: Path, says: str) -> tuple[bool, str, str]:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(says=says), "utf-8")
    [scenario] = load_file(path)
    [outcome] = run_scenario(scenario).outcomes
    return outcome.passed, outcome.expected, outcome.actual


def test_the_loader_keeps_says(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(says="wait 24 hours"), "utf-8")
    [scenario] = load_file(path)
    [exp] = scenario.expect
    assert isinstance(exp, EmailExpect) and exp.says == "wait 24 hours"


def test_says_matches_the_body_case_insensitively(tmp_path: Path) -> None:
    passed, expected, _ = _run(tmp_path, "COMPLETE THE SECURITY CHECK")
    assert passed
    assert "saying 'COMPLETE THE SECURITY CHECK'" in expected


def test_says_matches_the_subject(tmp_path: Path) -> None:
    assert _run(tmp_path, "needs attention")[0]


def test_says_fails_naming_the_send_and_quoting_the_email(tmp_path: Path) -> None:
    passed, _, actual = _run(tmp_path, "Designated Admin")
    assert not passed
    assert "does not say 'Designated Admin'" in actual
    assert "needs attention" in actual  # the subject it had instead


def test_says_with_no_email_fails_as_no_email(tmp_path: Path) -> None:
    text = SCENARIO.format(says="security check").replace(
        "event: checkpoint", "event: outage, for: 1h"
    )
    path = tmp_path / "s.yaml"
    path.write_text(text, "utf-8")
    [scenario] = load_file(path)
    [outcome] = run_scenario(scenario).outcomes
    assert not outcome.passed
    assert "0 send(s), not 1" in outcome.actual
