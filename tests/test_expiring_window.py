"""The ``expiring`` window (state, banner, settings message) follows the policy.

It opens at the connection's earliest reminder, or where the policy's ``expiring_window``
says (a rule's, else the top-level one); with neither and no reminder there is no window
(the connection is connected until it expires). Under the packaged policies every
connection that is reminded keeps its provider's 10 days.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from conntrack._policy import (
    KINDS,
    PolicyError,
    default_policy,
    load_policy,
    packaged_policies,
    packaged_policy,
)
from conntrack._profiles import load_profile, providers
from conntrack._records import BannerRecord
from conntrack.population import PopulationSpec, run_population
from conntrack.scenario import load_file
from conntrack.scenario._runner import run_scenario

ROOT = Path(__file__).parent.parent
LIBRARY = ROOT / "scenarios" / "facebook_policy_14_7_1_banner_window.yaml"
D = timedelta(days=1)


def profile_window(provider: str) -> timedelta:
    return load_profile(provider).lifetime("notice_window") or timedelta(0)


@pytest.mark.parametrize("name", packaged_policies())
@pytest.mark.parametrize("provider", providers())
def test_the_packaged_policies_keep_every_providers_window(provider: str, name: str) -> None:
    """A connection that is reminded turns expiring at its provider's 10 days (the
    earliest reminder); one that is not has no window."""
    for kind in KINDS:
        policy = packaged_policy(name).for_(provider, kind)
        got = policy.window(profile_window(provider))
        assert got == (profile_window(provider) if policy.reminders else timedelta(0))


def test_the_window_follows_the_earliest_reminder_unless_set(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "rules:\n"
        "  - {providers: [facebook], kinds: [paid], reminders: [7d, 14d, 1d], "
        "expiring_window: 3d}\n"
        "  - {providers: [facebook], reminders: [1d, 14d, 7d]}\n"
        "  - {providers: [linkedin], reminders: []}\n"
        "  - {reminders: [2d]}\n"
    )
    policy = load_policy(path)
    assert policy.for_("facebook", "owned").window(10 * D) == 14 * D
    assert policy.for_("facebook", "paid").window(10 * D) == 3 * D
    assert policy.for_("linkedin", "owned").window(10 * D) == timedelta(0)  # no reminder
    assert policy.for_("tiktok", "owned").window(10 * D) == 2 * D
    assert any("expiring from 3d before" in line for line in policy.describe())
    # A top-level window is every rule's that sets none.
    path.write_text(path.read_text() + "expiring_window: 5d\n")
    policy = load_policy(path)
    assert policy.for_("facebook", "owned").window(10 * D) == 5 * D
    assert policy.for_("facebook", "paid").window(10 * D) == 3 * D
    assert policy.for_("linkedin", "owned").window(10 * D) == 5 * D
    # A rule with no reminder may still show the banner: in-app notice without emails.
    path.write_text("rules:\n  - {providers: [tiktok], reminders: [], expiring_window: 10d}\n")
    policy = load_policy(path)
    assert policy.for_("tiktok", "owned").window(D) == 10 * D
    assert policy.for_("tiktok", "owned").reminders == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0d", "'expiring_window' must be longer than 0, like 14d"),
        ("-2d", "'expiring_window' cannot be negative (got -2d)"),
        ("soon", "'expiring_window' is a duration like 10d"),
    ],
)
def test_a_bad_window_is_refused_with_its_line(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        f"name: p\nexpiring_window: {value}\nrules:\n"
        f"  - {{reminders: [10d], expiring_window: {value}}}\n"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    got = [str(p) for p in caught.value.problems]
    assert len(got) == 2
    assert got[0].startswith(f"{path}:2: ") and message in got[0]
    assert got[1].startswith(f"{path}:4: ") and message in got[1]


def test_a_scenario_policy_window_error_names_the_scenario_line(tmp_path: Path) -> None:
    from conntrack._exceptions import ScenarioError

    path = tmp_path / "s.yaml"
    path.write_text(
        "scenario: bad\nstart: 2026-01-05T09:00:00Z\nuntil: 70d\ncompany: {users: 2}\n"
        "policy:\n  rules:\n    - {reminders: [14d], expiring_window: 0d}\n"
        "connections:\n  fb: {provider: facebook}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_file(path)
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith(f"{path}:7: 'expiring_window' must be longer than 0")


def test_the_banner_shows_from_the_first_reminder() -> None:
    """In the library scenario (14/7/1 reminders) no reminder goes out while the product
    still shows the connection as fine; an explicit window holds the banner back."""
    [scenario] = load_file(LIBRARY)
    result = run_scenario(scenario)
    assert result.passed
    for connection in ("own", "paid"):
        sends = sorted(
            e.at for e in result.timeline.emails("expiry_reminder") if e.about == connection
        )
        banners = [
            r
            for r in result.timeline.records_only
            if isinstance(r, BannerRecord) and r.connection == connection
        ]
        opened = min(b.at for b in banners if b.shows == "expiring")
        expiry = min(b.at for b in banners if b.shows == "expired")
        if connection == "own":
            assert expiry - opened == 14 * D and opened <= sends[0]
        else:
            assert expiry - opened == 3 * D and opened > sends[1]


def test_the_direct_population_engine_uses_the_same_window() -> None:
    """The direct engine and the full stack agree under a 14/7/1 policy, and the base
    spends more connection-days expiring than under the packaged policy."""
    spec = PopulationSpec(
        companies=3, days=75, seed=5, connections=(1, 2), providers={"facebook": 1},
        kinds={"owned": 1}, disruptions={}, behaviour={},
    )  # fmt: skip
    rules = (replace(default_policy().rules[-1], reminders=(14 * D, 7 * D, D), providers=None),)
    policy = replace(default_policy(), rules=rules)
    direct = run_population(spec, transport="direct", policy=policy)
    assert direct.rows() == run_population(spec, transport="asgi", policy=policy).rows()
    packaged = run_population(spec, transport="direct")
    assert sum(direct.states["expiring"]) > sum(packaged.states["expiring"])
