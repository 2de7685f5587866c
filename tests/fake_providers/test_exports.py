"""The public surface of ``fake_providers`` is what we mean it to be."""

from __future__ import annotations

import subprocess
import sys

import pytest

import fake_providers
import fake_providers.journal

EXPECTED = {
    "Account", "AccountEvent", "App", "CanAdvance", "ClockError", "Code", "CodeProblem",
    "CodeRejected", "Core", "EventType", "FakeProviderError", "Grant", "HasNow",
    "InvalidRequest", "Mark", "NotFound", "Page", "Post", "Reason", "Token", "TokenCheck",
    "TokenKind", "TokenRejected", "create_app", "AccountState", "AccountType", "Family",
    "RefreshProblem", "RefreshRejected", "TokenPair", "Fault", "FaultKind", "FaultError",
    "AccountDeleted", "StateFormatError", "StateProviderError", "account_id_problem",
    "reuse_app", "app_shape", "redirect_uri_problem",
}  # fmt: skip

#: A store that writes a core's state change by change (conntrack serve --state) uses
#: ``fake_providers.journal``, imported on its own.
JOURNAL = {
    "EXTRA_TABLES", "FORMAT", "TABLES", "Changes", "Journal", "StateFormatError",
    "StateProviderError", "columns", "load", "random_states",
}  # fmt: skip


def test_public_surface() -> None:
    assert set(fake_providers.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(fake_providers, name) is not None


def test_public_names_have_no_private_module_in_the_way() -> None:
    public = {n for n in dir(fake_providers) if not n.startswith("_")}
    assert public >= EXPECTED


def test_journal_surface() -> None:
    assert set(fake_providers.journal.__all__) == JOURNAL
    for name in JOURNAL:
        assert getattr(fake_providers.journal, name) is not None
    # One error class each, whichever door a caller comes through.
    assert fake_providers.journal.StateFormatError is fake_providers.StateFormatError
    assert fake_providers.journal.StateProviderError is fake_providers.StateProviderError


def test_state_errors_are_what_core_load_raises(core: fake_providers.Core) -> None:
    with pytest.raises(fake_providers.StateFormatError):
        core.load({**core.dump(), "format": -1})


def test_import_does_not_load_the_journal() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c",
         "import sys, fake_providers; print('fake_providers.core._journal' in sys.modules)"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
