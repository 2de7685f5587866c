"""The actor engine's work grows linearly with a company's connections (issue 15).

Guarded by counts, not time: the Python calls a whole scenario makes (cProfile's count,
C functions included) per connection stay the same when the company doubles, and the
fakes answer a login without a step per account or page in the world. Before, each
login's consent page listed (and the browser parsed) every account of the provider, and
``pages_of`` scanned every page: 1 000 Facebook Pages took 18 s, 2 000 took 58 s.
"""

from __future__ import annotations

import cProfile
import pstats
from pathlib import Path

from conntrack.scenario import load_file
from conntrack.scenario._runner import run_scenario
from fake_providers._consent import LISTED_ACCOUNTS

USERS = 5


def _scenario(tmp_path: Path, pages: int) -> Path:
    conns = "\n".join(
        f"  fb{i}: {{provider: facebook, kind: owned, connected_by: user{i % USERS + 1}, "
        "sync_every: 6h}"
        for i in range(pages)
    )
    path = tmp_path / f"pages_{pages}.yaml"
    path.write_text(
        f"scenario: {pages} Facebook Pages\nseed: 1\nstart: 2026-01-05T09:00:00Z\n"
        f"until: 1d\ncompany: {{users: {USERS}}}\nconnections:\n{conns}\n",
        encoding="utf-8",
    )
    return path


def _calls(tmp_path: Path, pages: int) -> int:
    """How many calls replaying one company of ``pages`` Facebook Pages makes."""
    [scenario] = load_file(_scenario(tmp_path, pages))
    profile = cProfile.Profile()
    profile.enable()
    try:
        result = run_scenario(scenario)
    finally:
        profile.disable()
    assert result.passed
    return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]


def test_calls_per_connection_do_not_grow_with_the_company(tmp_path: Path) -> None:
    small = LISTED_ACCOUNTS + 10  # both sizes beyond what a consent page lists
    _calls(tmp_path, 1)  # warm-up: profiles, templates, the compiled app
    few, many = _calls(tmp_path, small), _calls(tmp_path, 2 * small)
    # The company's fixed cost makes the ratio a little under 2 (1.95 here); a step per
    # account and login (the consent page that listed every account) made it 2.2.
    assert many / few <= 2.05, (few, many)
