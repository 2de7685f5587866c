"""The provider-neutral core of the fake providers: pure Python, no HTTP, clock injected."""

from ._clock import CanAdvance, HasNow
from ._core import Core
from ._directory import account_id_problem
from ._errors import (
    AccountDeleted,
    ClockError,
    CodeProblem,
    CodeRejected,
    Conflict,
    FakeProviderError,
    InvalidRequest,
    NotFound,
    RefreshProblem,
    RefreshRejected,
    TokenRejected,
)
from ._model import (
    Account,
    AccountEvent,
    AccountState,
    AccountType,
    App,
    EventType,
    Fault,
    FaultError,
    FaultKind,
    Grant,
    Mark,
    Page,
    Post,
    Reason,
)
from ._persist import StateFormatError, StateProviderError
from ._redirecturi import redirect_uri_problem
from ._tokenmodel import Code, Family, Token, TokenCheck, TokenKind, TokenPair

__all__ = [
    "Account",
    "AccountDeleted",
    "AccountEvent",
    "AccountState",
    "AccountType",
    "App",
    "CanAdvance",
    "ClockError",
    "Code",
    "CodeProblem",
    "CodeRejected",
    "Conflict",
    "Core",
    "EventType",
    "FakeProviderError",
    "Family",
    "Fault",
    "FaultError",
    "FaultKind",
    "Grant",
    "HasNow",
    "InvalidRequest",
    "Mark",
    "NotFound",
    "Page",
    "Post",
    "Reason",
    "RefreshProblem",
    "RefreshRejected",
    "StateFormatError",
    "StateProviderError",
    "Token",
    "TokenCheck",
    "TokenKind",
    "TokenPair",
    "TokenRejected",
    "account_id_problem",
    "redirect_uri_problem",
]
