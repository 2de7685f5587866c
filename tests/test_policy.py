"""Notification policies as data: the packaged default, files, scenario overrides."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conntrack._policy import PolicyError, default_policy, load_policy
from conntrack.cli import main
from conntrack.scenario import load_file
from conntrack.scenario._runner import policy_in_force, run_scenario

HERE = Path(__file__).parent
BAD = HERE / "policies" / "bad.yaml"
ROOT = HERE.parent
D = timedelta(days=1)


def test_the_packaged_policy_is_the_one_of_the_products_in_the_field() -> None:
    """Settings of the packaged default; its reminders per provider and kind are checked
    against the seeds' promises in test_packaged_policies."""
    p = default_policy()
    assert p.name == "default" and p.send_at == time(9, 0)
    owned = (10 * D, 5 * D, D, 0 * D)
    for provider in ("facebook", "instagram", "instagram-facebook", "linkedin"):
        assert p.for_(provider, "owned").reminders == owned
    for provider in ("facebook", "instagram", "instagram-facebook"):
        assert p.for_(provider, "paid").reminders == owned
    assert p.for_("facebook", "monitored").reminders == (10 * D,)
    assert p.for_("instagram", "monitored").reminders == (10 * D, D, 0 * D)
    assert p.for_("instagram-facebook", "monitored").reminders == (10 * D, D, 0 * D)
    for provider in ("twitter", "google", "tiktok", "tiktok-2026"):
        assert p.for_(provider, "owned").reminders == ()
    every = p.for_("linkedin", "owned")
    assert every.invalid_email and not every.opt_out_silences_invalid
    assert every.banner and every.settings and every.reminder_email
    assert every.banner_advance is None


def test_a_bad_policy_file_names_every_problem_with_its_line() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(BAD)
    got = [str(p).removeprefix(f"{BAD}:") for p in caught.value.problems]
    assert got == [
        '2: \'send_at\' must be a time of day "HH:MM" in quotes, like "09:00"; got "9 o\'clock"',
        "3: 'banner_advance' cannot be negative (got -2d): it is how long before the expiry, "
        "like 10d, or 0d for the day itself",
        "4: unknown channel 'pigeon' (allowed: email, banner, settings)",
        "4: unknown key 'opt_out_silence' in 'invalid' — did you mean 'opt_out_silences'? "
        "(allowed: channels, opt_out_silences)",
        "6: a reminder offset cannot be negative (got -1d): it is how long before the "
        "expiry, like 10d, or 0d for the day itself",
        "6: unknown provider 'facebok' — did you mean 'facebook'? (allowed: facebook, google, "
        "google-business, instagram, instagram-facebook, linkedin, tiktok, tiktok-2026, twitter)",
        "7: unknown channel 'sms' (allowed: email, banner, settings)",
        "7: unknown connection kind 'rented' (allowed: owned, monitored, paid)",
        "8: a rule needs 'reminders': offsets like [10d, 5d, 1d, 0d], or []",
        "9: 'reminders' must be a list like [10d, 1d, 0d]",
        "10: unknown key 'colour' in a policy (allowed: name, extends, send_at, invalid, "
        "banner_advance, expiring_window, rules)",
    ]


def test_a_policy_file_is_its_own_whole_policy(tmp_path: Path) -> None:
    path = tmp_path / "quiet.yaml"
    path.write_text(
        'send_at: "08:30"\n'
        "invalid: {channels: [banner], opt_out_silences: true}\n"
        "banner_advance: 14d\n"
        "rules:\n"
        "  - {providers: [facebook], kinds: [owned, paid], reminders: [7d, 0d], "
        "channels: [email]}\n"
    )
    p = load_policy(path)
    assert p.name == "quiet" and p.send_at == time(8, 30)
    fb = p.for_("facebook", "owned")
    assert fb.reminders == (7 * D, 0 * D) and fb.reminder_email
    assert not fb.banner and not fb.settings  # the rule names only email
    assert not fb.invalid_email and fb.invalid_banner and fb.opt_out_silences_invalid
    assert fb.banner_advance == 14 * D
    assert p.for_("linkedin", "owned").reminders == ()  # no rule matches: nothing


def test_missing_and_empty_policy_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    with pytest.raises(PolicyError, match="holds one YAML document"):
        load_policy(empty)
    no_rules = tmp_path / "norules.yaml"
    no_rules.write_text("name: x\n")
    with pytest.raises(PolicyError, match=r"norules.yaml:1: a policy needs 'rules'"):
        load_policy(no_rules)


def test_a_scenario_overrides_the_policy_in_force(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "scenario: override\nstart: 2026-01-05T09:00:00Z\nuntil: 70d\n"
        "company: {users: 2, timezone: Europe/Paris}\n"
        'policy: {send_at: "07:00", rules: [{providers: [facebook], reminders: [3d]}]}\n'
        "connections:\n  fb: {provider: facebook}\n"
        "expect:\n  - {email: expiry_reminder, about: fb, at: [57d], tolerance: 0s}\n"
    )
    [s] = load_file(path)
    assert s.company.timezone == "Europe/Paris"
    p = policy_in_force(s)
    assert p.send_at == time(7, 0)
    assert p.for_("facebook", "owned").reminders == (3 * D,)
    assert p.for_("linkedin", "owned").reminders == (10 * D, 5 * D, D, 0 * D)  # defaults after
    result = run_scenario(s)
    # Expiry 2026-03-06 08:59:04 UTC = 09:59 CET; 3 days before at 07:00 CET = 06:00 UTC.
    [send] = {e.at for e in result.timeline.emails("expiry_reminder")}
    assert (send - s.start) == timedelta(days=57, hours=-3)
    assert not result.passed  # 57d exactly, with no tolerance, is three hours off


def test_scenario_policy_and_time_zone_errors_have_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "scenario: bad\nstart: 2026-01-05T09:00:00Z\nuntil: 70d\n"
        "company: {users: 2, timezone: Europe/Pari}\n"
        "policy:\n  rules:\n    - {providers: [tiktok], reminders: [1d], channels: [fax]}\n"
        "connections:\n  fb: {provider: facebook, kind: rented}\n"
    )
    from conntrack._exceptions import ScenarioError

    with pytest.raises(ScenarioError) as caught:
        load_file(path)
    got = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert got[0].startswith("4: unknown time zone 'Europe/Pari' — did you mean 'Europe/Paris'?")
    assert "7: unknown channel 'fax' (allowed: email, banner, settings)" in got
    assert any(g.startswith("9: unknown kind 'rented'") for g in got)


def test_run_with_a_policy_file_and_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text("rules: [{reminders: []}]\n")
    lifespan = str(ROOT / "scenarios" / "facebook_60_day_lifespan.yaml")
    # Its expectations want the four reminders: with none, it fails (exit 1).
    assert main(["run", lifespan, "--policy", str(quiet)]) == 1
    assert "expiry_reminder email about fb" in capsys.readouterr().out
    assert main(["run", lifespan, "--policy", str(BAD)]) == 2
    err = capsys.readouterr().err
    assert f"{BAD}:4: unknown channel 'pigeon'" in err


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.sampled_from(["10d", "-1d", "09:00", "x", "", "facebook", "email", "owned", "never",
                       "default", "every-expiry", "every-expiri"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(["rules", "providers", "kinds", "reminders", "channels", "invalid",
                         "send_at", "banner_advance", "name", "opt_out_silences", "x",
                         "extends", "expiring_window"]),
        inner,
        max_size=4,
    ),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=VALUES)
def test_no_policy_document_ends_in_a_traceback(
    tmp_path_factory: pytest.TempPathFactory, doc: object
) -> None:
    path = tmp_path_factory.mktemp("p") / "p.yaml"
    path.write_text(yaml.safe_dump(doc), "utf-8")
    try:
        load_policy(path)
    except PolicyError as e:
        assert e.problems and all(str(p).startswith(str(path)) for p in e.problems)
