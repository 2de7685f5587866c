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
    TokenRejected,
)
from ._model import (
    Account,
    AccountEvent,
    App,
    Code,
    EventType,
    Grant,
    Mark,
    Page,
    Post,
    Reason,
    Token,
    TokenCheck,
    TokenKind,
)

__all__ = [
    "Account",
    "AccountEvent",
    "App",
    "CanAdvance",
    "ClockError",
    "Code",
    "CodeProblem",
    "CodeRejected",
    "Core",
    "EventType",
    "FakeProviderError",
    "Grant",
    "HasNow",
    "InvalidRequest",
    "Mark",
    "NotFound",
    "Page",
    "Post",
    "Reason",
    "Token",
    "TokenCheck",
    "TokenKind",
    "TokenRejected",
]
