"""The packaged policies: ``default`` promises what the seeds promise and nothing more,
``every-expiry`` reminds of every connection with a hard expiry; both chosen by name.

The seeds (PROVIDERS.md, "What the products in the field promise"; Meltwater's help
center): "When a Facebook, Instagram, or LinkedIn account, or Facebook and Instagram Paid
connection is about to expire … Emails are sent 10 days, 5 days, and 1 day before the
expiration date, as well as on the day of expiration"; "For Facebook [monitored], an
email is sent 10 days before"; "For Instagram [monitored], emails are sent 10 days, and 1
day before the expiration date, as well as on the day"; "Twitter connections do not
expire so you will never see expiration emails". Nothing for TikTok, monitored or paid
LinkedIn, X, YouTube or Google Business.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from conntrack._cliparser import parser
from conntrack._exceptions import ScenarioError
from conntrack._policy import (
    KINDS,
    PolicyError,
    default_policy,
    packaged_policies,
    packaged_policy,
    resolve_policy,
)
from conntrack._profiles import providers
from conntrack.cli import main
from conntrack.population import PopulationSpec, run_population
from conntrack.population._direct import facts
from conntrack.population._model import Churn
from conntrack.scenario import load_file
from conntrack.scenario._runner import policy_in_force

ROOT = Path(__file__).parent.parent
LIBRARY = ROOT / "scenarios"
D = timedelta(days=1)
ALL = (10 * D, 5 * D, D, 0 * D)

#: What the seeds promise, per (provider, kind); every pair not listed: nothing.
PROMISED = {
    **{(p, "owned"): ALL for p in ("facebook", "instagram", "instagram-facebook", "linkedin")},
    **{(p, "paid"): ALL for p in ("facebook", "instagram", "instagram-facebook")},
    ("facebook", "monitored"): (10 * D,),
    ("instagram", "monitored"): (10 * D, D, 0 * D),
    ("instagram-facebook", "monitored"): (10 * D, D, 0 * D),
}


def test_the_packaged_policies_are_default_and_every_expiry() -> None:
    assert packaged_policies() == ("default", "every-expiry")
    assert default_policy() is packaged_policy("default")
    assert {packaged_policy(n).name for n in packaged_policies()} == set(packaged_policies())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", providers())
def test_the_default_promises_exactly_what_the_seeds_promise(provider: str, kind: str) -> None:
    """Every profile (one added later too) and kind: the seeds' reminders, or none; the
    expiring window opens at the first reminder, and without one there is none."""
    policy = default_policy().for_(provider, kind)
    promised = PROMISED.get((provider, kind), ())
    assert policy.reminders == promised
    assert policy.window(10 * D) == (promised[0] if promised else timedelta(0))
    # Every channel for what is promised: the emails and the in-app notices go together.
    assert policy.reminder_email and policy.banner and policy.settings
    assert policy.invalid_email and not policy.opt_out_silences_invalid


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", providers())
def test_every_expiry_keeps_the_promises_and_reminds_of_every_expiry(
    provider: str, kind: str
) -> None:
    """What the seeds promise stays as it is; every other connection with a hard expiry
    (TikTok, monitored and paid LinkedIn) gets 10, 5, 1 days before and on the day."""
    policy = packaged_policy("every-expiry").for_(provider, kind)
    if (provider, kind) in PROMISED:
        assert policy.reminders == PROMISED[provider, kind]
    elif facts(provider).lifespan is not None:
        assert policy.reminders == ALL
    if policy.reminders:
        assert policy.window(10 * D) == policy.reminders[0]
    else:
        assert policy.window(10 * D) == timedelta(0)
    assert packaged_policy("every-expiry").send_at == default_policy().send_at


def test_the_connections_the_issue_names() -> None:
    every = packaged_policy("every-expiry")
    for provider in ("tiktok", "tiktok-2026"):
        assert default_policy().for_(provider, "owned").reminders == ()
        assert every.for_(provider, "owned").reminders == ALL
    assert default_policy().for_("linkedin", "monitored").reminders == ()
    assert every.for_("linkedin", "monitored").reminders == ALL
    for provider in ("twitter", "google"):
        assert every.for_(provider, "owned").reminders == ()


def test_a_policy_is_chosen_by_name_or_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_policy("every-expiry") is packaged_policy("every-expiry")
    assert resolve_policy("default") is default_policy()
    mine = tmp_path / "mine.yaml"
    mine.write_text("rules: [{reminders: [3d]}]\n")
    assert resolve_policy(str(mine)).name == "mine"
    # A file that exists is a file, even when its name is a packaged policy's.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "every-expiry").write_text("name: local\nrules: [{reminders: [2d]}]\n")
    assert resolve_policy("every-expiry").name == "local"
    # What looks like a path is read as one, with the file's own errors as before.
    with pytest.raises(PolicyError, match=r"nope\.yaml: cannot read the policy file"):
        resolve_policy("nope.yaml")
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        resolve_policy("sub/default")
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        resolve_policy("x" * 5000)  # too long a name for a file: still the file's error


def test_an_unknown_name_says_which_packaged_policies_exist() -> None:
    with pytest.raises(PolicyError) as caught:
        resolve_policy("every-expiri")
    [problem] = [str(p) for p in caught.value.problems]
    assert problem == (
        "policy 'every-expiri': no such policy file, and no packaged policy of that name — "
        "did you mean 'every-expiry'? (packaged: default, every-expiry); give a policy "
        "file's path or one of those names"
    )


def test_the_cli_takes_a_name_wherever_it_takes_a_policy_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiktok = str(LIBRARY / "tiktok_365_day_lifespan.yaml")
    # The scenario expects no reminder: it passes under the default, fails under the other.
    assert main(["run", tiktok, "--policy", "default"]) == 0
    assert main(["run", tiktok, "--policy", "every-expiry"]) == 1
    assert "expiry_reminder email about tt: none" in capsys.readouterr().out
    assert main(["run", tiktok, "--policy", "every-expiri"]) == 2
    err = capsys.readouterr().err
    assert "conntrack: policy 'every-expiri': no such policy file" in err
    assert "did you mean 'every-expiry'? (packaged: default, every-expiry)" in err
    out = tmp_path / "schedule.json"
    assert main(["notifications", tiktok, "--compare", "every-expiry", "--json", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "every-expiry" in shown and "default" in shown
    runs = json.loads(out.read_text())
    assert "every-expiry" in json.dumps(runs)
    assert main(["notifications", tiktok, "--policy", "nope"]) == 2
    assert "(packaged: default, every-expiry)" in capsys.readouterr().err
    folder = tmp_path / "pop"
    args = ["population", "--companies", "3", "--days", "20", "--no-progress"]
    assert main([*args, "--policy", "every-expiry", "--out", str(folder)]) == 0
    assert "every-expiry" in "".join(p.read_text() for p in folder.glob("*.json"))
    assert main([*args, "--policy", "every-expiri", "--out", str(folder)]) == 2
    assert "(packaged: default, every-expiry)" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "notifications", "population"])
def test_the_help_names_every_packaged_policy(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args([command, "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--policy FILE|NAME" in shown
    assert all(name in shown for name in packaged_policies())


def test_a_scenario_or_a_file_extends_a_packaged_policy(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "scenario: extends\nstart: 2026-01-05T09:00:00Z\nuntil: 10d\ncompany: {users: 1}\n"
        "policy:\n  extends: every-expiry\n  rules: [{providers: [tiktok-2026], reminders: [3d]}]\n"
        "connections:\n  tt: {provider: tiktok}\n"
    )
    [scenario] = load_file(path)
    policy = policy_in_force(scenario)
    assert policy.name == "every-expiry"
    assert policy.for_("tiktok", "owned").reminders == ALL
    assert policy.for_("tiktok-2026", "owned").reminders == (3 * D,)  # its rules first
    # It replaces the policy in force (the CLI's --policy): a scenario's policy is its own.
    assert policy_in_force(scenario, default_policy()).name == "every-expiry"
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: default\nrules: [{providers: [tiktok], reminders: [1d]}]\n")
    got = resolve_policy(str(mine))
    assert got.name == "mine" and got.source == str(mine)
    assert got.for_("tiktok", "owned").reminders == (D,)
    assert got.for_("facebook", "monitored").reminders == (10 * D,)  # the default's rules


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("every-expiri", "unknown 'every-expiri' — did you mean 'every-expiry'?"),
        ("[default]", "unknown a list"),
        ("quiet", "unknown 'quiet' (packaged: default, every-expiry)"),
    ],
)
def test_an_unknown_extends_names_its_line(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "scenario: bad\nstart: 2026-01-05T09:00:00Z\nuntil: 10d\ncompany: {users: 1}\n"
        f"policy:\n  extends: {value}\nconnections:\n  tt: {{provider: tiktok}}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_file(path)
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith(f"{path}:6: 'extends' names a packaged policy; ")
    assert message in problem


@pytest.mark.parametrize("name", packaged_policies())
def test_the_engines_agree_on_connections_with_and_without_reminders(name: str) -> None:
    """The direct engine and the full stack agree under both packaged policies: a base
    whose TikTok and monitored or paid connections get no reminder (and no expiring
    window) under the default, and every reminder under every-expiry."""
    spec = PopulationSpec(
        companies=2, days=182, seed=6, connections=(1, 2), sync_every=D,
        providers={"tiktok-2026": 2, "facebook": 1}, kinds={"owned": 1, "monitored": 1},
        disruptions={}, behaviour={},
        # Every connection from day one, for good: with nobody reacting to an email, a
        # steady base (the default since 17fdde3) is all expired before day one.
        day_one="fresh", churn=Churn(0.0, 0.0),
    )  # fmt: skip
    policy = packaged_policy(name)
    direct = run_population(spec, transport="direct", policy=policy)
    assert direct.rows() == run_population(spec, transport="asgi", policy=policy).rows()
    expiring = sum(direct.states["expiring"])
    reminders = direct.summary()["emails"]["expiry_reminder"]  # type: ignore[index]
    assert sum(direct.states["expired"]) and reminders and expiring
    other = run_population(spec, transport="direct", policy=packaged_policy("every-expiry"))
    if name == "default":  # TikTok goes unannounced: fewer reminders, fewer expiring days
        assert reminders < other.summary()["emails"]["expiry_reminder"]  # type: ignore[index]
        assert expiring < sum(other.states["expiring"])


def test_the_guides_policy_file_loads(docs_block: Callable[[str], str], tmp_path: Path) -> None:
    """The policy file of docs/product/policies.md (it was the README's)."""
    path = tmp_path / "quieter.yaml"
    path.write_text(docs_block("policy-file"))
    policy = resolve_policy(str(path))
    assert policy.name == "quieter" and policy.expiring_window == 14 * D
    assert policy.for_("facebook", "monitored").reminders == (10 * D,)
    assert policy.for_("tiktok", "owned").reminders == ALL  # its own catch-all comes first


#: The provider labels of docs/product/policies.md's table of the packaged policies.
LABELS = {
    "Facebook, Instagram (both logins)": ("facebook", "instagram", "instagram-facebook"),
    "LinkedIn": ("linkedin",),
    "Facebook": ("facebook",),
    "Instagram (both logins)": ("instagram", "instagram-facebook"),
    "TikTok (`tiktok`, 365 days; `tiktok-2026`, 180 days)": ("tiktok", "tiktok-2026"),
    "X, Google/YouTube (no hard expiry)": ("twitter", "google"),
}


def test_the_guides_table_is_what_the_packaged_policies_send() -> None:
    text = (ROOT / "docs" / "product" / "policies.md").read_text(encoding="utf-8")
    table = text.split("| provider | kind | `default` | `every-expiry` |", 1)[1]
    rows = [line for line in table.split("\n\n", 1)[0].splitlines() if line.startswith("| ")]
    checked = 0
    for row in rows:
        label, kinds, *sends = (cell.strip() for cell in row.strip("|").split(" | "))
        if label not in LABELS:
            continue
        for name, send in zip(packaged_policies(), sends, strict=True):
            want = () if send == "none" else tuple(int(d) * D for d in send.split(", "))
            for provider in LABELS[label]:
                for kind in KINDS if kinds == "every kind" else kinds.split(", "):
                    assert packaged_policy(name).for_(provider, kind).reminders == want, row
                    checked += 1
    assert checked >= 40
