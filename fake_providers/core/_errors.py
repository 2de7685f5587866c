"""The fakes' exceptions: what the core refuses, in provider-neutral terms.

::

    FakeProviderError        root: everything the core raises on purpose
    ├── NotFound             an unknown app, account or page (names the field)
    ├── InvalidRequest       a value the core cannot use (names the field)
    ├── CodeRejected         an authorization code that cannot be exchanged (a CodeProblem)
    ├── TokenRejected        a token that does not work now (carries its TokenCheck)
    └── ClockError           the clock cannot move (virtual) or would move backwards

Blueprints turn these into each provider's own error bodies; the control API turns them
into ``{"error": {"message", "field"}}``.
"""

from __future__ import annotations

from enum import StrEnum

from ._model import TokenCheck


class FakeProviderError(Exception):
    """Root of every exception the fake providers raise on purpose."""


class NotFound(FakeProviderError):
    """Something named by ``field`` does not exist."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidRequest(FakeProviderError):
    """A value (named by ``field``) the core cannot use."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class CodeProblem(StrEnum):
    """Why an authorization code cannot be exchanged."""

    UNKNOWN = "unknown"
    WRONG_CLIENT = "wrong_client"
    REDIRECT_MISMATCH = "redirect_mismatch"
    USED = "used"
    EXPIRED = "expired"


class CodeRejected(FakeProviderError):
    """An authorization code that cannot be exchanged, and why."""

    def __init__(self, problem: CodeProblem) -> None:
        super().__init__(f"authorization code rejected: {problem}")
        self.problem = problem


class TokenRejected(FakeProviderError):
    """A token that does not work now; ``check`` says why."""

    def __init__(self, check: TokenCheck) -> None:
        super().__init__(f"token rejected: {check.reason}")
        self.check = check


class ClockError(FakeProviderError):
    """The clock cannot be moved: it is virtual (``virtual=True``) or the move goes back."""

    def __init__(self, message: str, *, virtual: bool) -> None:
        super().__init__(message)
        self.virtual = virtual
