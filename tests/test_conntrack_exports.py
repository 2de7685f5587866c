"""The public surface of ``conntrack`` is what we mean it to be, and the parts of it that
cost the most to import (the provider clients, httpx) come only when first used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import conntrack

EXPECTED = {
    "REASONS", "STATES", "Action", "Clock", "Connection", "ConntrackError", "DurationError",
    "InputError", "LifecycleError", "Problem", "Profile", "ProfileError",
    "ProviderProtocolError", "Reason", "ScenarioError", "Scheduler", "SimClock", "State",
    "TransitionRecord", "TravelClock", "Verdict", "__version__", "classify", "clients",
    "fire", "format_duration", "format_instant", "load_profile", "mermaid",
    "parse_duration", "parse_instant", "providers", "local_name", "same_origin",
    "split_host", "whole_body",
}  # fmt: skip

#: What ``fake_providers`` takes from conntrack (tests/test_boundary.py keeps it to this
#: surface): durations and instants, provider profiles, their errors, and the Host and
#: Origin parsing and the whole-body ASGI wrapper every conntrack server shares.
USED_BY_THE_FAKES = {
    "DurationError", "Profile", "ProfileError", "format_duration", "format_instant",
    "load_profile", "parse_duration", "parse_instant", "providers", "local_name",
    "same_origin", "split_host", "whole_body",
}  # fmt: skip


def test_public_surface() -> None:
    assert set(conntrack.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(conntrack, name) is not None


def test_what_the_fakes_use_is_public() -> None:
    assert set(conntrack.__all__) >= USED_BY_THE_FAKES


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        conntrack.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (this one has imported everything already)."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_leaves_the_clients_and_httpx_for_first_use() -> None:
    out = _fresh(
        "import sys, conntrack\n"
        "print(sorted(m for m in ('conntrack.clients', 'httpx') if m in sys.modules))\n"
    )
    assert out.strip() == "[]"


def test_classify_brings_every_providers_error_rules() -> None:
    # LinkedIn's rules live in conntrack.clients.linkedin (this process has them): a
    # classify that is the first thing a program uses must judge the same.
    body = {"serviceErrorCode": 65601, "status": 401, "message": "revoked"}
    out = _fresh(
        f"from conntrack import classify\nprint(repr(classify('linkedin', 401, {{}}, {body!r})))\n"
    )
    here = conntrack.classify("linkedin", 401, {}, body)
    assert here != conntrack.classify("no-such-provider", 401, {}, body)
    assert out.strip() == repr(here)


def test_clients_on_first_use_registers_every_client() -> None:
    out = _fresh("import conntrack\nprint(sorted(conntrack.clients.CLIENTS))\n")
    assert out.strip() == repr(sorted(conntrack.clients.CLIENTS))
