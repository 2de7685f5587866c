"""``cause:`` on ``checkpoint``, ``locked``, ``suspended`` and ``restricted`` (issue 14):
why the provider acted, in the seeds' words. The loader takes a closed vocabulary and
says where a wrong one is; the provider's answers stay the same whatever the cause; the
timeline, the text, JSON and JUnit reports say it in plain words next to the event, the
connection turning invalid and the invalid email of that incident; the invalid email
names the causes the help centers give for its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conntrack._causes import CAUSE_EVENTS, CAUSES, cause_sentence, why_text
from conntrack._exceptions import ScenarioError
from conntrack._lifecycle import TransitionRecord
from conntrack._records import EmailRecord, EventRecord, SyncErrorRecord
from conntrack._report import format_result, json_report, junit_report
from conntrack.scenario import load_file
from conntrack.scenario._loader import schema
from conntrack.scenario._runner import RunResult, run_scenario

SCENARIO = """\
scenario: a cause
seed: 3
start: 2026-03-02T09:00:00Z
until: 20d
company: {{users: 2}}
connections:
  fb: {{provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}}
timeline:
  - {{at: 10d 1h, event: checkpoint, connection: fb{cause}}}
  - {{at: 12d, event: checkpoint_cleared, connection: fb}}
  - {{at: 13d 1h, event: reconnect, connection: fb}}
  - {{at: 15d 1h, event: password_change, connection: fb}}
expect:
  - {{at: 10d 6h, connection: fb, state: invalid, reason: checkpoint}}
"""

COPYRIGHT = (
    "Facebook held the account at a security check after content was reported for a "
    "copyright violation"
)


def _load(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, "utf-8")
    return path


def _run(tmp_path: Path, cause: str | None) -> RunResult:
    extra = f", cause: {cause}" if cause else ""
    [scenario] = load_file(_load(tmp_path, SCENARIO.format(cause=extra)))
    return run_scenario(scenario, run_id="cause")


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        load_file(_load(tmp_path, text))
    return [str(p) for p in err.value.problems]


# --- the language -------------------------------------------------------------------


def test_the_schema_lists_the_vocabulary_and_its_events() -> None:
    prop = schema()["$defs"]["event"]["properties"]["cause"]
    assert prop["enum"] == list(CAUSES)
    assert set(CAUSE_EVENTS) <= set(schema()["$defs"]["event"]["properties"]["event"]["enum"])


def test_a_cause_loads_into_the_event(tmp_path: Path) -> None:
    [scenario] = load_file(_load(tmp_path, SCENARIO.format(cause=", cause: copyright")))
    assert [e.cause for e in scenario.timeline] == ["copyright", None, None, None]


def test_an_unknown_cause_is_refused_at_its_line_listing_the_valid_ones(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, SCENARIO.format(cause=", cause: copyrite"))
    assert problem.startswith(f"{tmp_path / 's.yaml'}:9: unknown cause 'copyrite'")
    assert "did you mean 'copyright'" in problem
    for word in CAUSES:
        assert word in problem


@pytest.mark.parametrize(
    ("event", "extra"),
    [
        ("password_change", ", connection: fb"),
        ("reconnect", ", connection: fb"),
        ("user_joined", ", user: user3"),
    ],
)
def test_a_cause_on_another_event_says_which_events_take_it(
    tmp_path: Path, event: str, extra: str
) -> None:
    text = SCENARIO.format(cause="").replace(
        "  - {at: 12d, event: checkpoint_cleared, connection: fb}",
        f"  - {{at: 12d, event: {event}{extra}, cause: copyright}}",
    )
    [problem] = _problems(tmp_path, text)
    assert problem.startswith(
        f"{tmp_path / 's.yaml'}:10: 'cause' does not apply to event '{event}'"
    )
    assert "checkpoint, locked, suspended, restricted" in problem


# --- the world and the timeline -----------------------------------------------------


def test_the_providers_answer_does_not_name_the_cause(tmp_path: Path) -> None:
    """The fake answers exactly as without a cause: the real provider never says why."""
    errors = [
        [r for r in _run(tmp_path, cause).timeline.records_only if isinstance(r, SyncErrorRecord)]
        for cause in (None, "copyright")
    ]
    assert errors[0] and errors[0] == errors[1]


def test_the_event_says_the_cause_in_words(tmp_path: Path) -> None:
    result = _run(tmp_path, "copyright")
    [event] = [r for r in result.timeline.records_only if isinstance(r, EventRecord) and r.cause]
    assert (event.event, event.cause, event.detail) == ("checkpoint", "copyright", COPYRIGHT)


def test_the_incident_carries_the_cause_and_nothing_after_it(tmp_path: Path) -> None:
    """The invalid transition and the invalid email of the checkpoint say it; the
    password change later (another incident) does not."""
    tl = _run(tmp_path, "copyright").timeline
    caused = {(type(r).__name__, r.at - tl.start) for r in tl.records_only if tl.cause_of(r)}
    invalid = [t for t in tl.transitions("fb") if t.dest == "invalid"]
    emails = tl.emails("invalid", "fb")
    assert len(invalid) == 2 and len(emails) == 4  # two incidents, two users each
    first_at = invalid[0].at - tl.start
    assert caused == {("TransitionRecord", first_at), ("EmailRecord", first_at)}
    assert all(tl.cause_of(e) is not None for e in emails[:2])
    assert tl.cause_of(invalid[1]) is None and tl.cause_of(emails[2]) is None


def test_a_later_hold_without_a_cause_gets_none(tmp_path: Path) -> None:
    """The second checkpoint says no cause: its incident does not borrow the first's."""
    text = SCENARIO.format(cause=", cause: copyright").replace(
        "event: password_change, connection: fb}", "event: checkpoint, connection: fb}"
    )
    [scenario] = load_file(_load(tmp_path, text))
    tl = run_scenario(scenario).timeline
    invalid = [t for t in tl.transitions("fb") if t.dest == "invalid"]
    assert [t.reason for t in invalid] == ["checkpoint", "checkpoint"]
    assert [tl.cause_of(t) is not None for t in invalid] == [True, False]


def test_a_hold_lifted_at_once_still_tells_its_incident(tmp_path: Path) -> None:
    """Cleared an hour later, the checkpoint has still killed the token: the connection
    turns invalid (checkpoint) at the next sync, and that incident has the cause."""
    text = SCENARIO.format(cause=", cause: copyright").replace(
        "{at: 12d, event: checkpoint_cleared", "{at: 10d 2h, event: checkpoint_cleared"
    )
    [scenario] = load_file(_load(tmp_path, text))
    tl = run_scenario(scenario).timeline
    first = next(t for t in tl.transitions("fb") if t.dest == "invalid")
    event = tl.cause_of(first)
    assert first.reason == "checkpoint" and event is not None and event.cause == "copyright"


# --- the reports --------------------------------------------------------------------


def test_the_text_report_says_it_on_the_event_the_transition_and_the_email(
    tmp_path: Path,
) -> None:
    lines = format_result(_run(tmp_path, "copyright"), verbose=True).splitlines()
    said = [line for line in lines if COPYRIGHT in line]
    assert any(" event        checkpoint" in line for line in said)
    assert any("connected → invalid (checkpoint)" in line for line in said)
    assert any("email        invalid to user1, user2" in line for line in said)
    assert sum("(cause: " in line for line in said) == 2


def test_the_json_report_says_the_incidents_cause(tmp_path: Path) -> None:
    doc = json.loads(json_report([_run(tmp_path, "copyright")]))
    records = doc["scenarios"][0]["records"]
    [event] = [r for r in records if r["type"] == "event" and r["cause"]]
    assert event["detail"] == COPYRIGHT
    caused = [r for r in records if "incident_cause" in r]
    assert {r["type"] for r in caused} == {"transition", "email"}
    assert len(caused) == 3  # the transition, the email to each of two users
    assert all(r["incident_cause"] == "copyright" for r in caused)
    assert all(r["incident_cause_text"] == COPYRIGHT for r in caused)


def test_the_junit_report_says_it(tmp_path: Path) -> None:
    xml = junit_report([_run(tmp_path, "copyright")])
    assert f"(cause: {COPYRIGHT})" in xml


def test_without_a_cause_nothing_is_added(tmp_path: Path) -> None:
    result = _run(tmp_path, None)
    assert "(cause: " not in format_result(result, verbose=True)
    assert "incident_cause" not in json_report([result])


# --- the words ----------------------------------------------------------------------


def test_every_cause_reads_as_a_sentence_on_every_event() -> None:
    for event in CAUSE_EVENTS:
        for cause, words in CAUSES.items():
            sentence = cause_sentence(event, cause, "twitter")
            assert sentence.startswith("X ") and sentence.endswith(words), (event, cause)
    assert cause_sentence("locked", "multiple_ips", "twitter") == (
        "X locked the account after the same login was used from several IP addresses "
        "(a team sharing it, or several devices)"
    )


@pytest.mark.parametrize(
    ("provider", "display", "reason", "names"),
    [
        ("facebook", "Facebook", "checkpoint", ["unrecognized place", "copyright", "two-factor"]),
        ("twitter", "X", "locked", ["security may be compromised", "suspicious behaviour"]),
        ("twitter", "X", "suspended", ["violate its rules", "hacked"]),
        ("linkedin", "LinkedIn", "restricted", ["acceptable use policies"]),
        ("facebook", "Facebook", "restricted", ["alias username", "several IP addresses"]),
        ("instagram-facebook", "Instagram", "checkpoint", ["Instagram does this", "copyright"]),
    ],
)
def test_the_invalid_email_names_the_help_centers_causes(
    provider: str, display: str, reason: str, names: list[str]
) -> None:
    text = why_text(provider, display, reason)
    for name in names:
        assert name in text


def test_other_reasons_get_no_why_line(tmp_path: Path) -> None:
    assert why_text("facebook", "Facebook", "password_changed") == ""
    emails = _run(tmp_path, "copyright").timeline.emails("invalid", "fb")
    assert "\nWhy: Facebook asks for a security check" in emails[0].body
    assert "\nWhy:" not in emails[-1].body  # the password change
    assert isinstance(emails[0], EmailRecord)
    # The product cannot know this incident's cause: the email does not claim it.
    assert COPYRIGHT not in emails[0].body


def test_the_transition_record_keeps_the_products_own_cause(tmp_path: Path) -> None:
    """``TransitionRecord.cause`` stays what the product saw (the provider's answer)."""
    tl = _run(tmp_path, "copyright").timeline
    first = next(t for t in tl.transitions("fb") if t.dest == "invalid")
    assert isinstance(first, TransitionRecord)
    assert first.cause is not None and "190/459" in first.cause


def test_the_console_timeline_says_it(tmp_path: Path) -> None:
    from conntrack._console import render_plain, timeline_table

    tl = _run(tmp_path, "copyright").timeline
    text = " ".join(render_plain(timeline_table(tl.records_only, tl), width=400).split())
    assert text.count(f"(cause: {COPYRIGHT})") == 2  # the transition and the send
    assert f"checkpoint ({COPYRIGHT})" in text  # the event itself


def test_the_html_report_says_it_on_the_event_the_band_and_the_email(tmp_path: Path) -> None:
    from html import escape

    from conntrack._html import html_report

    page = html_report([_run(tmp_path, "copyright")])
    said = escape(COPYRIGHT)
    assert f"checkpoint ({said})" in page  # the event's marker
    assert f"invalid (checkpoint) ← sync answered 400 190/459 (cause: {said})" in page  # band
    assert f"invalid email to user1 (cause: {said})" in page  # the email's marker
