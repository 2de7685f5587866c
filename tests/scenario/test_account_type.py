"""A connection's ``account_type:`` (issue 14): an Instagram account may be personal,
business or creator. A personal account's first connect fails with ``not_eligible``
("make sure you're using a Business or Creator account"), the connection is
``disconnected`` (the state of one never connected), and after
``switched_to_professional`` an ``add`` connects it. Elsewhere, or with another value,
the key is a load error naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conntrack._exceptions import ScenarioError
from conntrack._records import EventRecord, Timeline
from conntrack.product._harness import skip_reason
from conntrack.scenario import load_file
from conntrack.scenario._runner import run_scenario

HEAD = """\
scenario: account type
start: 2026-03-02T09:00:00Z
until: 6d
company: {{users: 2}}
connections:
  ig: {{provider: {provider}, account_type: {account_type}}}
timeline:
"""
SWITCH_AND_ADD = """\
  - {at: 2d, event: switched_to_professional, connection: ig}
  - {at: 2d 1h, event: add, connection: ig}
"""


def write(tmp_path: Path, provider: str, account_type: str, timeline: str = "") -> Path:
    path = tmp_path / "s.yaml"
    text = HEAD.format(provider=provider, account_type=account_type)
    path.write_text(text + timeline if timeline else text.replace("timeline:", "timeline: []"))
    return path


def run(path: Path) -> Timeline:
    [scenario] = load_file(path)
    return run_scenario(scenario).timeline


def failed_connects(tl: Timeline) -> list[EventRecord]:
    return [
        r for r in tl.records_only if isinstance(r, EventRecord) and r.event == "connect_failed"
    ]


@pytest.mark.parametrize("provider", ["instagram", "instagram-facebook"])
def test_personal_first_connect_fails_not_eligible_then_add_connects(
    tmp_path: Path, provider: str
) -> None:
    tl = run(write(tmp_path, provider, "personal", SWITCH_AND_ADD))
    [failed] = failed_connects(tl)
    assert failed.at == tl.start and failed.detail.startswith("not_eligible")
    assert tl.state_at("ig", tl.start) == ("disconnected", None)
    assert tl.state_at("ig", tl.start + (tl.until - tl.start) / 3) == ("disconnected", None)
    [added] = tl.transitions("ig")
    assert (added.source, added.dest) == ("disconnected", "connected")
    assert tl.state_at("ig", tl.until)[0] == "connected"
    assert not tl.emails(about="ig")


@pytest.mark.parametrize("provider", ["instagram", "instagram-facebook"])
def test_personal_without_a_switch_stays_disconnected(tmp_path: Path, provider: str) -> None:
    tl = run(write(tmp_path, provider, "personal", "  - {at: 1d, event: add, connection: ig}\n"))
    assert [f.detail.split(":")[0] for f in failed_connects(tl)] == ["not_eligible"] * 2
    assert tl.state_at("ig", tl.until) == ("disconnected", None)
    assert not tl.transitions("ig")


@pytest.mark.parametrize("provider", ["instagram", "instagram-facebook"])
@pytest.mark.parametrize("account_type", ["business", "creator"])
def test_professional_accounts_connect_at_once(
    tmp_path: Path, provider: str, account_type: str
) -> None:
    tl = run(write(tmp_path, provider, account_type))
    assert not failed_connects(tl)
    assert tl.state_at("ig", tl.until)[0] == "connected"


@pytest.mark.parametrize(
    ("provider", "account_type", "says"),
    [
        ("facebook", "personal", "'account_type' is Instagram's"),
        ("linkedin", "business", "not linkedin's"),
        ("instagram", "private", "personal"),
    ],
)
def test_other_providers_or_values_are_a_load_error_at_the_line(
    tmp_path: Path, provider: str, account_type: str, says: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_file(write(tmp_path, provider, account_type))
    [problem] = info.value.problems
    assert problem.line == 6 and says in problem.message, str(problem)


@pytest.mark.parametrize(
    ("timeline", "says"),
    [
        (
            "  - {at: 1d, event: reconnect, connection: ig}\n",
            "(account_type: personal: its first connect fails); add it first",
        ),
        ("  - {at: 1d, event: disconnect, connection: ig}\n", "add it first"),
    ],
)
def test_a_personal_connection_must_be_added_first(
    tmp_path: Path, timeline: str, says: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_file(write(tmp_path, "instagram", "personal", timeline))
    [problem] = info.value.problems
    assert problem.line == 8 and says in problem.message, str(problem)


def test_the_product_harness_skips_a_personal_account_with_its_reason(tmp_path: Path) -> None:
    [scenario] = load_file(write(tmp_path, "instagram", "personal", SWITCH_AND_ADD))
    reason = skip_reason(scenario)
    assert reason is not None and "account_type: personal" in reason
    [business] = load_file(write(tmp_path, "instagram", "business"))
    assert skip_reason(business) is None
