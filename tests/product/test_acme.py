"""acme, the example product (``examples/acme``), through the real harness.

Each test starts acme as the product file says (a subprocess speaking the product test
protocol, on fresh fakes and a fresh SMTP capture): every library scenario acme can run
passes, and each of acme's known integration bugs (``ACME_BUGS``) makes the scenario that
should catch it fail, on the expectation that names the bug's symptom.

"Every library scenario acme can run" is worked out, not listed: each scenario of
``scenarios/`` that ``--product examples/acme/product.yaml`` does not skip (a provider
acme does not integrate, a ``policy:``, a first connect that fails). So a library
scenario added for Facebook, LinkedIn or X, or a reason conntrack changes, that acme does
not follow fails here; and the count and list of those scenarios in acme's README and the
QA guide (docs/qa/testing-your-product.md) must be this one. One test per scenario, so that xdist spreads them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from conntrack.product import skip_reason
from conntrack.product._file import ProductFile, load_product
from conntrack.product._harness import run_product_scenario
from conntrack.scenario import Scenario, load_paths
from conntrack.scenario._runner import RunResult

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "examples" / "acme"
PRODUCT_FILE = ACME / "product.yaml"
LIBRARY_DIR = ROOT / "scenarios"

#: The scenarios the issue named: they must stay among the ones acme runs.
REQUIRED = [
    "facebook_password_change_reconnect",
    "facebook_60_day_lifespan",
    "facebook_app_removed",
    "linkedin_365_day_lifespan",
    "twitter_password_change",
]

#: bug -> (the scenario that catches it, the failed expectation's summary, a phrase of
#: what the run shows instead). Every other expectation of that scenario may pass or
#: fail; the one named must fail, and say so in these words.
BUGS = {
    "no_invalid_email": (
        "facebook_app_removed",
        "invalid email about page: to all",
        "no email",
    ),
    "no_refresh": (
        "linkedin_365_day_lifespan",
        "li is connected at 61d",
        "expired",
    ),
    "reminder_off_by_one_day": (
        "facebook_60_day_lifespan",
        "expiry_reminder email about fb",
        "none at 50d",
    ),
    "ignores_password_change": (
        "facebook_reconnect_wrong_account",
        "fb is invalid (password_changed) at 10d 6h",
        "connected",
    ),
    "no_banner": (
        "facebook_admin_removed",
        "the dashboard banner of fb shows invalid",
        "nothing at 30d",
    ),
    "reminders_to_opted_out": (
        "facebook_60_day_lifespan",
        "expiry_reminder email about fb",
        "also to user3",
    ),
    # Facebook does not ask again for the permission declined on day 6: day 8's login
    # leaves it declined, acme refuses it and the connection stays invalid.
    "no_rerequest": (
        "facebook_permission_declined",
        "fb is reconnected at 8d",
        "invalid",
    ),
}


@cache
def library() -> tuple[str, ...]:
    """The names of the library scenarios acme can run: every one ``--product`` with
    acme's product file does not skip. Longest first (the most syncs to walk: its span
    over its shortest cadence), so that xdist does not start a 40-second one last."""
    file = load_product(PRODUCT_FILE)
    runs = [s for s in load_paths([str(LIBRARY_DIR)]) if skip_reason(s, file) is None]

    def steps(scenario: Scenario) -> float:
        every = min((c.sync_every for c in scenario.connections.values()), default=None)
        return scenario.until / every if every else 0.0

    runs.sort(key=lambda s: (-steps(s), s.where.file))
    return tuple(Path(s.where.file).stem for s in runs)


def _run(name: str, bugs: str = "") -> RunResult:
    [scenario] = load_paths([str(ROOT / "scenarios" / f"{name}.yaml")])
    file: ProductFile = load_product(PRODUCT_FILE)
    if bugs:
        file = replace(file, start=replace(file.start, env={**file.start.env, "ACME_BUGS": bugs}))
    return run_product_scenario(scenario, file)


def _failures(result: RunResult) -> str:
    return "\n".join(
        f"{o.summary}: expected {o.expected}; actual {o.actual}"
        for o in result.outcomes
        if not o.passed
    )


@pytest.mark.parametrize("name", library())
def test_library_scenario_passes(name: str) -> None:
    result = _run(name)
    assert result.error is None, result.error
    assert result.skipped is None, result.skipped
    assert result.outcomes, "no expectation was checked"
    assert result.passed, _failures(result)


def test_required_scenarios_are_run() -> None:
    assert set(REQUIRED) <= set(library())


def test_every_provider_of_acme_has_scenarios() -> None:
    """The list is no accident of a skip rule gone wide: each provider acme integrates
    has scenarios in it, and every scenario in it is about those providers only."""
    prefixes = {"facebook", "linkedin", "twitter"}
    assert {name.split("_", 1)[0] for name in library()} == prefixes


def _readme_list() -> list[str]:
    """The scenario names examples/acme/README.md lists as passing."""
    text = (ACME / "README.md").read_text(encoding="utf-8")
    section = text.split("## The library through acme", 1)[1].split("Skipped, with", 1)[0]
    section = section[section.index("- Facebook (") :]
    return re.findall(r"`([a-z0-9_]+)`", section)


def test_the_readmes_say_what_is_tested() -> None:
    """acme's README and the QA guide claim ("passes N library scenarios", the list) what
    runs here."""
    names = library()
    assert sorted(_readme_list()) == sorted(names)
    acme_readme = (ACME / "README.md").read_text(encoding="utf-8")
    claimed = re.search(r"that it can run passes \((\d+);", acme_readme)
    assert claimed is not None and int(claimed.group(1)) == len(names)
    for provider, label in (("facebook", "Facebook"), ("linkedin", "LinkedIn"), ("twitter", "X")):
        count = sum(n.startswith(f"{provider}_") for n in names)
        assert f"- {label} ({count}):" in acme_readme, (label, count)
    guide = (ROOT / "docs" / "qa" / "testing-your-product.md").read_text(encoding="utf-8")
    said = re.search(r"It passes (\d+) library\s+scenarios", guide)
    assert said is not None and int(said.group(1)) == len(names)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_bug_fails_the_right_expectation(bug: str) -> None:
    name, summary, shows = BUGS[bug]
    result = _run(name, bugs=bug)
    assert result.error is None, result.error
    failed = [o for o in result.outcomes if not o.passed]
    named = [o for o in failed if o.summary.startswith(summary)]
    assert named, f"{bug}: {summary!r} did not fail; failures:\n{_failures(result)}"
    assert any(shows in o.actual for o in named), _failures(result)


def test_every_bug_is_tested() -> None:
    sys.path.insert(0, str(ACME))
    try:
        from acme.settings import BUGS as KNOWN
    finally:
        sys.path.remove(str(ACME))
    assert set(KNOWN) == set(BUGS)


def test_an_unknown_bug_stops_acme_with_exit_2() -> None:
    env = {**os.environ, "ACME_BUGS": "no_refresh,no_such_bug", "CONNTRACK_PRODUCT_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "acme"],
        cwd=ACME,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown bug(s) no_such_bug" in done.stderr
    assert "no_invalid_email" in done.stderr  # the known ones are listed


# -- acme's reading of the providers' answers, on PROVIDERS.md's bodies ----------------
#
# The library scenarios above walk the answers the fakes give in those cases; these
# check the other side of each question acme asks, without a process (milliseconds):
# when the page roles or the introspection do not show a lost role or a live token,
# acme keeps the first answer's own meaning.

PAGE = "1234"
GRAPH_200 = {
    "error": {
        "message": "(#200) The user hasn't authorized the application to perform this action",
        "type": "OAuthException",
        "code": 200,
    }
}
GRAPH_10 = {"error": {"message": "(#10) Application does not have permission", "code": 10}}
REVOKED_65601 = {
    "status": 401,
    "serviceErrorCode": 65601,
    "code": "REVOKED_ACCESS_TOKEN",
    "message": "The token used in the request has been revoked by the user",
}


def _acme() -> Any:
    """acme's package, imported from examples/acme as ``python -m acme`` would."""
    sys.path.insert(0, str(ACME))
    try:
        import acme.providers.facebook
        import acme.providers.linkedin
        import acme.settings
        import acme.store
    finally:
        sys.path.remove(str(ACME))
    return acme


def _verdict(
    run: Callable[[Coroutine[Any, Any, Any]], Any],
    provider: str,
    answers: dict[str, tuple[int, object]],
) -> tuple[str | None, list[str]]:
    """The reason acme's ``provider`` gives a sync whose requests get ``answers`` (by
    path ending), and the paths it asked, in order; ``run`` is the ``asyncio_run``
    fixture (a browser test's loop may be running on this worker)."""
    acme = _acme()
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        for end, (status, body) in answers.items():
            if request.url.path.endswith(end):
                return httpx.Response(status, json=body)
        return httpx.Response(404, json={"message": f"no such path {request.url.path}"})

    settings = acme.settings.load(
        {
            "CONNTRACK_FAKES_URL": "http://fakes.test",
            "CONNTRACK_LINKEDIN_CLIENT_ID": "li-app",
            "CONNTRACK_LINKEDIN_CLIENT_SECRET": "li-secret",
            "CONNTRACK_LINKEDIN_REDIRECT_URI": "http://127.0.0.1/cb",
        }
    )
    conn = acme.store.Connection(
        name="c", provider=provider, kind="owned", status="active",
        sync_every=timedelta(hours=6), access_token="token", resource_id=PAGE,
    )  # fmt: skip

    async def read() -> Any:
        ctx = acme.providers.base.Context(settings)
        await ctx.http.aclose()
        ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        try:
            integration = {
                "facebook": acme.providers.facebook.Facebook,
                "linkedin": acme.providers.linkedin.LinkedIn,
            }[provider]
            return await integration(ctx).read(conn)
        finally:
            await ctx.aclose()

    verdict = run(read())
    return verdict.reason, asked


def _pages(*ids: str, more: bool = False) -> tuple[int, object]:
    body: dict[str, object] = {"data": [{"id": i, "name": f"Page {i}"} for i in ids]}
    if more:
        body["paging"] = {"next": "https://graph.facebook.com/v21.0/me/accounts?after=x"}
    return 200, body


def _perms(status: str) -> tuple[int, object]:
    return 200, {"data": [{"permission": "pages_show_list", "status": status}]}


@pytest.mark.parametrize(
    ("case", "answers", "reason"),
    [
        ("role lost", {"/accounts": _pages("999"), "/permissions": _perms("granted")}, "page_role_lost"),
        ("Page still listed", {"/accounts": _pages(PAGE), "/permissions": _perms("granted")}, "permission_declined"),
        ("list permission declined", {"/accounts": _pages(), "/permissions": _perms("declined")}, "permission_declined"),
        ("list incomplete", {"/accounts": _pages("999", more=True), "/permissions": _perms("granted")}, "permission_declined"),
        ("list unreadable", {"/accounts": (500, {"error": {"code": 2}}), "/permissions": _perms("granted")}, "permission_declined"),
        ("permissions unreadable", {"/accounts": _pages(), "/permissions": (400, GRAPH_10)}, "permission_declined"),
    ],
)  # fmt: skip
def test_facebook_200_reads_the_page_roles(
    case: str, answers: dict, reason: str, asyncio_run: Callable[..., Any]
) -> None:
    got, asked = _verdict(asyncio_run, "facebook", {f"/{PAGE}/posts": (403, GRAPH_200), **answers})
    assert got == reason, case
    assert asked[0].endswith(f"/{PAGE}/posts") and asked[1].endswith("/me/accounts"), asked


def test_facebook_10_is_a_permission_without_asking(asyncio_run: Callable[..., Any]) -> None:
    got, asked = _verdict(asyncio_run, "facebook", {f"/{PAGE}/posts": (403, GRAPH_10)})
    assert got == "permission_declined"
    assert len(asked) == 1, asked


@pytest.mark.parametrize(
    ("case", "introspection", "reason"),
    [
        ("active", (200, {"active": True, "status": "active"}), "account_restricted"),
        ("revoked", (200, {"active": False, "status": "revoked"}), "app_access_removed"),
        ("expired", (200, {"active": False, "status": "expired"}), "app_access_removed"),
        ("refused", (401, {"error": "invalid_client"}), "app_access_removed"),
        ("not JSON", (200, "active"), "app_access_removed"),
    ],
)
def test_linkedin_65601_asks_introspect_token(
    case: str, introspection: tuple[int, object], reason: str, asyncio_run: Callable[..., Any]
) -> None:
    got, asked = _verdict(
        asyncio_run,
        "linkedin",
        {"/rest/posts": (401, REVOKED_65601), "/introspectToken": introspection},
    )
    assert got == reason, case
    assert asked[-1].endswith("/oauth/v2/introspectToken"), asked
