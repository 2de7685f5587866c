"""The provider-neutral core of the fake providers: pure Python, no HTTP, clock injected."""

from ._clock import CanAdvance, HasNow
from ._core import Core
from ._errors import (
    ClockError,
    CodeProblem,
    CodeRejected,
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
    Grant,
    Mark,
    Page,
    Post,
    Reason,
)
from ._tokenmodel import Code, Family, Token, TokenCheck, TokenKind, TokenPair

__all__ = [
    "Account",
    "AccountEvent",
    "AccountState",
    "AccountType",
    "App",
    "CanAdvance",
    "ClockError",
    "Code",
    "CodeProblem",
    "CodeRejected",
    "Core",
    "EventType",
    "FakeProviderError",
    "Family",
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
    "Token",
    "TokenCheck",
    "TokenKind",
    "TokenPair",
    "TokenRejected",
]
