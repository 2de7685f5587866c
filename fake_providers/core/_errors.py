"""The fakes' exceptions: what the core refuses, in provider-neutral terms.

::

    FakeProviderError        root: everything the core raises on purpose
    ├── NotFound             an unknown app, account or page (names the field)
    │   └── AccountDeleted   an account that existed and was deleted
    ├── InvalidRequest       a value the core cannot use (names the field)
    │   └── Conflict         a well-formed value the current state refuses
    ├── CodeRejected         an authorization code (or OAuth 1.0a request token) that
    │                        cannot be exchanged (a CodeProblem)
    ├── TokenRejected        a token that does not work now (carries its TokenCheck)
    ├── RefreshRejected      a refresh that cannot happen (a Reason or a RefreshProblem)
    └── ClockError           the clock cannot move (virtual) or would move backwards

Blueprints turn these into each provider's own error bodies; the control API turns them
into ``{"error": {"message", "field"}}``.
"""

from __future__ import annotations

from enum import StrEnum

from ._model import Reason
from ._tokenmodel import TokenCheck


class FakeProviderError(Exception):
    """Root of every exception the fake providers raise on purpose."""


class NotFound(FakeProviderError):
    """Something named by ``field`` does not exist."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class AccountDeleted(NotFound):
    """The account named by ``field`` was deleted (``Core.delete_account``): it is gone
    like an unknown one, and the control API answers 409 instead of 404."""


class InvalidRequest(FakeProviderError):
    """A value (named by ``field``) the core cannot use."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class Conflict(InvalidRequest):
    """A well-formed value (named by ``field``) that the current state refuses: an
    instant already past, a page linked to another account, an id in use. The control
    API answers 409 instead of 400; everything that catches :class:`InvalidRequest`
    still catches it."""


class LoginRefused(InvalidRequest):
    """The provider will not let this account log in to an app right now (a security
    checkpoint not cleared, or the wait after clearing one); the consent page says why."""


class CodeProblem(StrEnum):
    """Why an authorization code cannot be exchanged."""

    UNKNOWN = "unknown"
    WRONG_CLIENT = "wrong_client"
    REDIRECT_MISMATCH = "redirect_mismatch"
    USED = "used"
    EXPIRED = "expired"
    #: The code carries a PKCE challenge and the exchange gave no ``code_verifier``.
    PKCE_MISSING = "pkce_missing"
    #: The ``code_verifier`` does not match the code's challenge.
    PKCE_MISMATCH = "pkce_mismatch"
    #: OAuth 1.0a: the request token was not approved (no verifier yet).
    NOT_APPROVED = "not_approved"
    #: OAuth 1.0a: the ``oauth_verifier`` is not the request token's.
    VERIFIER_MISMATCH = "verifier_mismatch"


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


class RefreshProblem(StrEnum):
    """Why a refresh request is refused, when it is not the token's state (a Reason)."""

    #: Not a token the core issued, or not a refresh token (``refresh``).
    UNKNOWN = "unknown"
    WRONG_CLIENT = "wrong_client"
    #: ``refresh_self`` with a token that is not long-lived (short, page, …).
    WRONG_KIND = "wrong_kind"
    #: ``refresh_self`` with a token younger than ``refresh_min_age``.
    TOO_YOUNG = "too_young"
    #: The protocol's profile has no such refresh (``refresh`` setting).
    NOT_SUPPORTED = "not_supported"


class RefreshRejected(FakeProviderError):
    """A refresh that cannot happen.

    ``reason`` is a :class:`Reason` when the token does not work (``check`` then says
    since when and why), or a :class:`RefreshProblem` for a request problem.
    """

    def __init__(self, reason: Reason | RefreshProblem, check: TokenCheck | None = None) -> None:
        super().__init__(f"refresh rejected: {reason}")
        self.reason = reason
        self.check = check


class ClockError(FakeProviderError):
    """The clock cannot be moved: it is virtual (``virtual=True``) or the move goes back."""

    def __init__(self, message: str, *, virtual: bool) -> None:
        super().__init__(message)
        self.virtual = virtual
