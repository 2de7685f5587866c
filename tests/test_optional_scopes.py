"""Optional permissions (issue 14; Traackr: "three permissions required …, the fourth one
is optional and won't affect the connection").

A profile's ``optional_scopes`` are asked for beside ``default_scopes`` but a login that
declines them still connects; the settings page then names what is missing and what the
product does not collect, the timeline records it, and a sync refused what only an
optional permission allows stays a working sync. Declining a required permission still
fails the login. A profile (packaged or overridden) whose optional permission is also
required, or not one the provider knows, is refused with its file and line.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conntrack import _profiles
from conntrack._exceptions import ProfileError, ScenarioError
from conntrack._notify import permissions_note
from conntrack._profiles import load_profile, optional_scope_problems, providers
from conntrack._records import BannerRecord, EmailRecord, EventRecord, SyncErrorRecord, Timeline
from conntrack.scenario import load_file
from conntrack.scenario._runner import run_scenario

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_CASE = ROOT / "scenarios" / "instagram_facebook_optional_permission_declined.yaml"
INSIGHTS = "instagram_manage_insights"


# -- profiles --------------------------------------------------------------------------


def test_every_packaged_profile_keeps_the_rules() -> None:
    for name in providers():
        profile = load_profile(name)
        assert optional_scope_problems(name, profile.settings) == [], name
        assert not set(profile.optional_scopes) & set(profile["default_scopes"]), name


def test_the_traackr_profile_makes_insights_optional() -> None:
    profile = load_profile("instagram-facebook")
    assert INSIGHTS in profile.optional_scopes
    assert INSIGHTS in profile["known_scopes"]
    assert profile.optional_scopes[INSIGHTS]  # says what is not collected without it


def test_a_plain_list_gets_a_generic_note() -> None:
    profile = load_profile("facebook", {"optional_scopes": ["read_insights"]})
    assert profile.optional_scopes == {"read_insights": _profiles.GENERIC_EFFECT}


@pytest.mark.parametrize(
    ("overrides", "wanted"),
    [
        (
            {"optional_scopes": {"pages_show_list": "x"}},
            "'pages_show_list' is both required (default_scopes) and optional",
        ),
        (
            {"optional_scopes": {"pages_read_engagment": "x"}},
            "did you mean 'pages_read_engagement'?",
        ),
        ({"optional_scopes": "read_insights"}, "must map each optional permission"),
        ({"optional_scopes": {"read_insights": ""}}, "must map each optional permission"),
    ],
)
def test_override_problems_say_what_is_wrong(overrides: dict[str, Any], wanted: str) -> None:
    problems = _profiles.override_problems("facebook", overrides)
    assert [p[0] for p in problems] == ["optional_scopes"]
    assert wanted in problems[0][1]


def test_an_optional_one_moved_into_default_scopes_is_also_refused() -> None:
    base = load_profile("instagram-facebook")["default_scopes"]
    problems = _profiles.override_problems(
        "instagram-facebook", {"default_scopes": [*base, INSIGHTS]}
    )
    assert [(p[0], "both required" in p[1]) for p in problems] == [("default_scopes", True)]


def test_a_packaged_profile_that_breaks_the_rules_is_refused_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "base.yaml").write_text(
        "protocol: facebook\ndefault_scopes: [a, b]\nknown_scopes: [a, b, c]\noptional_scopes: {}\n"
    )
    (folder / "child.yaml").write_text(
        "# a product that needs c\nextends: base\n\noptional_scopes:\n  b: b is not read\n"
    )

    class Files:
        @staticmethod
        def files(package: str) -> Path:
            return tmp_path

    monkeypatch.setattr(_profiles, "resources", Files)
    with pytest.raises(ProfileError) as caught:
        _profiles._catalog.__wrapped__()
    assert str(caught.value).startswith("src/conntrack/profiles/child.yaml:4: ")
    assert "'b' is both required" in str(caught.value)


# -- the settings page's words ---------------------------------------------------------


def test_the_note_names_each_permission_and_what_is_not_collected() -> None:
    one = permissions_note({INSIGHTS: "media insights are not collected"})
    assert one.startswith(f"Connected without {INSIGHTS}: media insights are not collected")
    assert one.endswith("reconnect and grant it to get them")
    two = permissions_note({"a": "x is not collected", "b": "y is not collected"})
    assert two.startswith("Connected without a, b: x is not collected; y is not collected")
    assert two.endswith("grant them to get them")
    assert permissions_note({}) == ""


# -- the Traackr case, end to end ------------------------------------------------------


@pytest.fixture(scope="module")
def traackr() -> Timeline:
    [scenario] = load_file(LIBRARY_CASE)
    result = run_scenario(scenario)
    assert result.passed, [o.summary for o in result.outcomes if not o.passed]
    return result.timeline


def settings_at(tl: Timeline, at: timedelta) -> str:
    shown = ""
    for rec in tl.records_only:
        if isinstance(rec, BannerRecord) and rec.connection == "ig" and rec.at <= tl.start + at:
            shown = rec.settings if rec.shows == "none" else ""
    return shown


def test_declined_at_the_first_connect_it_connects_with_a_note(traackr: Timeline) -> None:
    assert traackr.state_at("ig", traackr.start) == ("connected", None)
    assert settings_at(traackr, timedelta(0)).startswith(f"Connected without {INSIGHTS}")
    [first, *_] = [
        r for r in traackr.records_only if isinstance(r, EventRecord) and r.event.startswith("perm")
    ]
    assert (first.event, first.at, first.by) == ("permissions_missing", traackr.start, "user1")


def test_granted_at_a_reconnect_the_note_goes(traackr: Timeline) -> None:
    assert settings_at(traackr, timedelta(days=10, hours=1)) == ""
    assert settings_at(traackr, timedelta(days=20, hours=3)) == ""


def test_taken_back_later_the_sync_notes_it_and_the_connection_works(traackr: Timeline) -> None:
    lo, hi = traackr.start + timedelta(days=20, hours=3), traackr.start + timedelta(days=30)
    assert settings_at(traackr, timedelta(days=20, hours=7)).startswith("Connected without")
    inside = [r for r in traackr.records_only if lo <= r.at < hi]
    assert not [r for r in inside if isinstance(r, SyncErrorRecord | EmailRecord)]
    assert traackr.state_at("ig", hi)[0] == "connected"


# -- declining a required permission still fails ---------------------------------------

FIRST_CONNECT = """\
scenario: first connect declining {declined}
start: 2026-03-02T09:00:00Z
until: 2d
company: {{users: 1}}
{profiles}connections:
  c: {{provider: {provider}, decline: [{declined}]}}
timeline: []
"""


def first_connect(tmp_path: Path, provider: str, declined: str, profiles: str = "") -> Timeline:
    path = tmp_path / "s.yaml"
    path.write_text(FIRST_CONNECT.format(provider=provider, declined=declined, profiles=profiles))
    [scenario] = load_file(path)
    return run_scenario(scenario).timeline


def failed(tl: Timeline) -> list[str]:
    return [
        r.detail
        for r in tl.records_only
        if isinstance(r, EventRecord) and r.event == "connect_failed"
    ]


def test_a_required_one_declined_at_the_first_connect_fails(tmp_path: Path) -> None:
    tl = first_connect(tmp_path, "facebook", "pages_read_engagement")
    [detail] = failed(tl)
    assert detail.startswith("permission declined: pages_read_engagement")
    assert tl.state_at("c", tl.start) == ("disconnected", None)


def test_the_same_permission_made_required_by_an_override_fails_the_login(tmp_path: Path) -> None:
    base = ", ".join(load_profile("instagram-facebook")["default_scopes"])
    profiles = (
        "profiles:\n  instagram-facebook:\n    optional_scopes: {}\n"
        f"    default_scopes: [{base}, {INSIGHTS}]\n"
    )
    tl = first_connect(tmp_path, "instagram-facebook", INSIGHTS, profiles)
    [detail] = failed(tl)
    assert detail.startswith(f"permission declined: {INSIGHTS}")


def test_optional_and_declined_it_connects(tmp_path: Path) -> None:
    tl = first_connect(tmp_path, "instagram-facebook", INSIGHTS)
    assert failed(tl) == [] and tl.state_at("c", tl.start) == ("connected", None)


# -- scenario files that get it wrong --------------------------------------------------


def refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_file(path)
    return str(caught.value)


def test_a_scenario_override_that_makes_a_required_one_optional(tmp_path: Path) -> None:
    text = FIRST_CONNECT.format(
        provider="facebook",
        declined="pages_show_list",
        profiles="profiles:\n  facebook:\n    optional_scopes: {pages_show_list: pages}\n",
    )
    message = refused(tmp_path, text)
    assert f"{tmp_path / 'bad.yaml'}:7:" in message
    assert "'pages_show_list' is both required (default_scopes) and optional" in message


def test_decline_on_a_connection_is_a_list(tmp_path: Path) -> None:
    text = FIRST_CONNECT.format(provider="facebook", declined="x", profiles="").replace(
        "decline: [x]", "decline: all"
    )
    message = refused(tmp_path, text)
    assert f"{tmp_path / 'bad.yaml'}:6:" in message
    assert "a list of permissions, like [instagram_manage_insights]" in message
