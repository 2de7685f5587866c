"""A connection's ``linked_to_page:`` (issue 14): an Instagram account read through
Facebook Login may not be linked to the person's Facebook Page yet (Traackr: "Confirm
your Instagram account is linked to a Facebook page that you own"). Its first connect
fails with ``not_eligible`` (``me/accounts`` lists the Page without an
``instagram_business_account``), the connection is ``disconnected`` (the state of one
never connected), and after ``page_linked`` an ``add`` connects it. On another provider,
or with a value that is not true or false, the key is a load error naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conntrack._exceptions import ScenarioError
from conntrack._records import EventRecord, Timeline
from conntrack.product._harness import skip_reason
from conntrack.scenario import load_file
from conntrack.scenario._runner import run_scenario

HEAD = """\
scenario: linked to page
start: 2026-03-02T09:00:00Z
until: 6d
company: {{users: 2}}
connections:
  ig: {{provider: {provider}, linked_to_page: {linked}}}
timeline:
"""
LINK_AND_ADD = """\
  - {at: 2d, event: page_linked, connection: ig}
  - {at: 2d 1h, event: add, connection: ig}
"""


def write(
    tmp_path: Path, linked: str, timeline: str = "", provider: str = "instagram-facebook"
) -> Path:
    path = tmp_path / "s.yaml"
    text = HEAD.format(provider=provider, linked=linked)
    path.write_text(text + timeline if timeline else text.replace("timeline:", "timeline: []"))
    return path


def run(path: Path) -> Timeline:
    [scenario] = load_file(path)
    return run_scenario(scenario).timeline


def failed_connects(tl: Timeline) -> list[EventRecord]:
    return [
        r for r in tl.records_only if isinstance(r, EventRecord) and r.event == "connect_failed"
    ]


def test_unlinked_first_connect_fails_not_eligible_then_link_and_add_connects(
    tmp_path: Path,
) -> None:
    tl = run(write(tmp_path, "false", LINK_AND_ADD))
    [failed] = failed_connects(tl)
    assert failed.at == tl.start and failed.detail.startswith("not_eligible"), failed.detail
    assert "instagram" in failed.detail.lower()
    assert tl.state_at("ig", tl.start) == ("disconnected", None)
    assert tl.state_at("ig", tl.start + (tl.until - tl.start) / 3) == ("disconnected", None)
    [added] = tl.transitions("ig")
    assert (added.source, added.dest) == ("disconnected", "connected")
    assert tl.state_at("ig", tl.until)[0] == "connected"
    assert not tl.emails(about="ig")


def test_unlinked_without_page_linked_stays_disconnected(tmp_path: Path) -> None:
    tl = run(write(tmp_path, "false", "  - {at: 1d, event: add, connection: ig}\n"))
    assert [f.detail.split(":")[0] for f in failed_connects(tl)] == ["not_eligible"] * 2
    assert tl.state_at("ig", tl.until) == ("disconnected", None)
    assert not tl.transitions("ig")
    assert not tl.emails(about="ig")


def test_linked_to_page_true_is_the_default_and_connects_at_once(tmp_path: Path) -> None:
    tl = run(write(tmp_path, "true"))
    assert not failed_connects(tl)
    assert tl.state_at("ig", tl.start)[0] == "connected"
    assert tl.state_at("ig", tl.until)[0] == "connected"


@pytest.mark.parametrize(
    ("provider", "linked", "says"),
    [
        ("facebook", "false", "not facebook's: use it with provider instagram-facebook"),
        ("instagram", "false", "(Instagram Login needs no Page)"),
        ("linkedin", "true", "not linkedin's"),
        ("instagram-facebook", "'no'", "must be true or false"),
    ],
)
def test_other_providers_or_values_are_a_load_error_at_the_line(
    tmp_path: Path, provider: str, linked: str, says: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_file(write(tmp_path, linked, provider=provider))
    [problem] = info.value.problems
    assert problem.line == 6 and says in problem.message, str(problem)


@pytest.mark.parametrize(
    ("timeline", "says"),
    [
        (
            "  - {at: 1d, event: reconnect, connection: ig}\n",
            "(linked_to_page: false: its first connect fails); add it first",
        ),
        ("  - {at: 1d, event: disconnect, connection: ig}\n", "add it first"),
    ],
)
def test_an_unlinked_connection_must_be_added_first(
    tmp_path: Path, timeline: str, says: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_file(write(tmp_path, "false", timeline))
    [problem] = info.value.problems
    assert problem.line == 8 and says in problem.message, str(problem)


def test_the_product_harness_skips_an_unlinked_account_with_its_reason(tmp_path: Path) -> None:
    [scenario] = load_file(write(tmp_path, "false", LINK_AND_ADD))
    reason = skip_reason(scenario)
    assert reason is not None and "linked_to_page: false" in reason and ":6" in reason, reason
    [linked] = load_file(write(tmp_path, "true"))
    assert skip_reason(linked) is None
