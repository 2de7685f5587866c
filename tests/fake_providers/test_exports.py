"""The public surface of ``fake_providers`` is what we mean it to be."""

from __future__ import annotations

import fake_providers

EXPECTED = {
    "Account", "AccountEvent", "App", "CanAdvance", "ClockError", "Code", "CodeProblem",
    "CodeRejected", "Core", "EventType", "FakeProviderError", "Grant", "HasNow",
    "InvalidRequest", "Mark", "NotFound", "Page", "Post", "Reason", "Token", "TokenCheck",
    "TokenKind", "TokenRejected", "create_app", "AccountState", "AccountType", "Family",
    "RefreshProblem", "RefreshRejected", "TokenPair", "Fault", "FaultKind", "FaultError",
    "AccountDeleted",
}  # fmt: skip


def test_public_surface() -> None:
    assert set(fake_providers.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(fake_providers, name) is not None


def test_public_names_have_no_private_module_in_the_way() -> None:
    public = {n for n in dir(fake_providers) if not n.startswith("_")}
    assert public >= EXPECTED
