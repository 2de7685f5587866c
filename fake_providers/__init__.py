"""Fake social-media OAuth providers for conntrack: a provider-neutral core and one
QuartTrio app serving each provider's protocol at ``/{real host}/…`` plus a control API
at ``/_conntrack/…``.

The public surface::

    Core(clock, *, seed=0, profiles=None, enabled=None)
                                            the state, pure Python, clock injected;
                                            profiles maps protocol -> Profile; enabled
                                            the protocols served (default all);
                                            dump() / load(doc) the whole state as JSON
    create_app(core) -> QuartTrio           the ASGI app over a core, serving every
                                            provider package registered (_registry)
                                            that the core serves
    app_shape(core)                         what an app for ``core`` is built for (the
                                            providers and hosts); equal shapes share one
    reuse_app(app, core) -> QuartTrio       the same app over another core serving the
                                            same providers (a fresh world per test
                                            without compiling the routes again)
    HasNow                                  the clock the core needs: now() -> datetime
    StateFormatError, StateProviderError    what Core.load (and journal.load) raise for
                                            a saved state they cannot take (core
                                            unchanged): another format, or records of
                                            providers the core does not serve
    fake_providers.journal                  the records row by row and which changed, for
                                            a store that writes change by change
                                            (imported on its own: not loaded here)

The records, events, faults and errors of the core are exported too (``__all__``).
conntrack uses only this surface, and this package only conntrack's public one
(``tests/test_boundary.py``).
"""

from ._app import app_shape, create_app, reuse_app
from .core import (
    Account,
    AccountDeleted,
    AccountEvent,
    AccountState,
    AccountType,
    App,
    CanAdvance,
    ClockError,
    Code,
    CodeProblem,
    CodeRejected,
    Core,
    EventType,
    FakeProviderError,
    Family,
    Fault,
    FaultError,
    FaultKind,
    Grant,
    HasNow,
    InvalidRequest,
    Mark,
    NotFound,
    Page,
    Post,
    Reason,
    RefreshProblem,
    RefreshRejected,
    StateFormatError,
    StateProviderError,
    Token,
    TokenCheck,
    TokenKind,
    TokenPair,
    TokenRejected,
    account_id_problem,
    redirect_uri_problem,
)

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
    "app_shape",
    "create_app",
    "redirect_uri_problem",
    "reuse_app",
]
