"""conntrack.testing's public surface is what its docstring and the in-process guide
(docs/integration/in-process-fakes.md) name (the
house's exports test: trio's test_exports, httpx's test_exported_members)."""

from __future__ import annotations

import conntrack.testing
from conntrack.testing import Fakes

SURFACE = {"ConsentError", "Fakes", "FakesError", "current", "every_provider_host", "fakes"}
#: What the guide's table and the module docstring offer on a world.
WORLD = {
    "create_app",
    "create_account",
    "authorize",
    "event",
    "travel",
    "fault",
    "clear_faults",
    "account",
    "control",
    "now",
    "base_url",
}


def test_the_package_exports_its_surface_and_nothing_private() -> None:
    assert set(conntrack.testing.__all__) == SURFACE
    for name in SURFACE:
        assert getattr(conntrack.testing, name).__module__.startswith("conntrack.testing")


def test_the_docstring_names_every_method_of_a_world(conntrack_fakes: Fakes) -> None:
    doc = conntrack.testing.__doc__ or ""
    for name in WORLD - {"base_url"}:
        assert f"``{name}``" in doc, name
        assert hasattr(conntrack_fakes, name), name


def test_the_errors_are_value_errors_with_status_and_field() -> None:
    error = conntrack.testing.ConsentError("page said no", 400, "url")
    assert isinstance(error, conntrack.testing.FakesError) and isinstance(error, ValueError)
    assert (error.status, error.field) == (400, "url")
