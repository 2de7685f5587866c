"""A scenario's world serves only the providers of its connections (issue 15).

Building the fakes' app for every provider imported six provider packages and compiled
all their routes for each run; a run now serves its connections' protocols (and
Instagram's where a Facebook connection is about a linked Instagram account, which the
fakes keep under that protocol). Nothing a run shows may change: its report, timeline
and emails equal those of a world that serves every provider. Another provider's host
answers the 404 that says it is not served.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import fake_providers
from conntrack import SimClock, load_profile, providers
from conntrack._report import json_report
from conntrack.scenario import load_file
from conntrack.scenario._runner import RUN_HINT, run_scenario
from fake_providers import Core, create_app

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"


def _everything(world: Any) -> tuple[str, list[str], list[str]]:
    """What a run shows: its report (a pinned run id), its records and its emails."""
    return (
        json_report([world]),
        [repr(r) for r in world.timeline.records_only],
        [repr(u) for u in world.users],
    )


@pytest.mark.parametrize(
    "name",
    [
        "facebook_admin_removed.yaml",
        "instagram_facebook_switched_to_personal.yaml",  # linked Instagram accounts
        "linkedin_designated_admin_removed.yaml",
    ],
)
def test_a_run_shows_what_a_world_of_every_provider_shows(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (scenario,) = load_file(LIBRARY / name)
    narrow = run_scenario(scenario, run_id="pinned")
    real_core = fake_providers.Core

    def every_provider(*args: Any, enabled: Any = None, **kwargs: Any) -> Core:
        return real_core(*args, **kwargs)

    monkeypatch.setattr(fake_providers, "Core", every_provider)
    wide = run_scenario(scenario, run_id="pinned")
    assert narrow.passed and wide.passed
    assert _everything(narrow) == _everything(wide)


async def test_another_providers_host_says_it_is_not_served() -> None:
    core = Core(SimClock(datetime(2026, 1, 5, tzinfo=UTC)), enabled=["facebook"])
    app = create_app(core, enable_hint=RUN_HINT)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.local") as c:
        r = await c.get("/api.linkedin.com/v2/userinfo")
        assert r.status_code == 404
        error = r.json()["error"]
        assert error["provider"] == "linkedin" and error["enabled"] is False
        assert "(enabled: facebook)" in error["message"] and RUN_HINT in error["message"]
        # Its own provider answers as ever: a Graph error for a token it never issued.
        r = await c.get("/graph.facebook.com/v21.0/me", params={"access_token": "x"})
        assert r.status_code in (400, 401) and "error" in r.json()


def test_the_app_imports_only_the_provider_packages_it_serves() -> None:
    code = (
        "import json, sys\n"
        "from fake_providers import _registry\n"
        "served = sorted(_registry.load_providers(['facebook']))\n"
        "loaded = sorted(m for m in sys.modules if m.count('.') == 1\n"
        "                and m.startswith('fake_providers.') and m[15:16] != '_')\n"
        "print(json.dumps([served, loaded]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    served, loaded = json.loads(done.stdout)
    assert served == ["facebook"]
    assert set(loaded) == {"fake_providers.facebook", "fake_providers.core"}


def test_a_protocol_without_a_package_of_its_name_loads_them_all() -> None:
    code = (
        "import json\n"
        "from fake_providers import _registry\n"
        "print(json.dumps(sorted(_registry.load_providers(['no_such_protocol']))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Every package registered: one for each protocol of the catalog.
    assert json.loads(done.stdout) == sorted({load_profile(n).protocol for n in providers()})
