"""What every provider client shares: the interface, app credentials, token facts, answers.

A provider client is the product's side of one provider, for one connection: it builds
the authorization URL (with PKCE where the provider has it), turns a code into tokens,
refreshes them by the provider's rule, reads the data a sync reads, and revokes. It
never decides what an answer means for the connection: :func:`conntrack.classify` does.
Clients register themselves by protocol in :data:`CLIENTS`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

import httpx

from .._classifier import Verdict, classify
from .._clock import Clock
from .._profiles import Profile


@dataclass(frozen=True)
class AppCredentials:
    """The product's registered app at a provider."""

    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class TokenInfo:
    """What the product knows about the tokens it holds for a connection."""

    access_token: str
    expires_at: datetime | None
    """When the access token dies; ``None`` for a token that does not expire."""
    hard_expiry: datetime | None
    """When the connection dies whatever the product does (no refresh can save it)."""
    scopes: tuple[str, ...] = ()
    user_id: str | None = None
    data_access_expires_at: datetime | None = None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None
    issued_at: datetime | None = None
    token_secret: str | None = None
    """OAuth 1.0a: the token secret that signs requests."""
    refresh_issued_at: datetime | None = None
    """When the refresh token held now was issued (a rotating one: at the last refresh);
    how old it is tells a revoked refresh token from one that may have expired."""

    def with_(self, **changes: Any) -> TokenInfo:
        return replace(self, **changes)


@dataclass(frozen=True)
class Answer:
    """A provider's answer to an API call, with the classifier's verdict on it."""

    status: int
    body: Any
    verdict: Verdict
    missing: tuple[str, ...] = ()
    """Optional permissions (the profile's ``optional_scopes``) that a part of a sync
    needed and the token lacks: that part was skipped or refused, the rest read. The
    connection stays connected; the product says what it does not collect."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ProviderCallError(Exception):
    """An OAuth step failed; ``answer`` holds what the provider said."""

    def __init__(self, step: str, answer: Answer) -> None:
        self.step = step
        self.answer = answer
        super().__init__(f"{step}: HTTP {answer.status} {answer.verdict.code} {answer.body!r}")


def answer_of(provider: str, response: httpx.Response) -> Answer:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    verdict = classify(provider, response.status_code, dict(response.headers), body)
    return Answer(response.status_code, body, verdict)


def pkce_pair(rng: Callable[[int], bytes] | None = None) -> tuple[str, str]:
    """A PKCE ``(code_verifier, code_challenge)`` pair, S256."""
    raw = (rng or secrets.token_bytes)(32)
    verifier = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or ``{}`` for anything else (not JSON, a list...)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def after(now: datetime, seconds: object) -> datetime | None:
    """``now + seconds`` for a positive number of seconds, else ``None`` (no expiry)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | str):
        return None
    try:
        value = float(seconds)
    except ValueError:
        return None
    return now + timedelta(seconds=value) if value > 0 else None


class ProviderClient(Protocol):
    """The product's side of one provider for one connection."""

    protocol: ClassVar[str]
    profile: Profile

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        """Where to send the person's browser; remembers what the callback needs."""
        ...

    async def connect(self, code: str, state: str) -> TokenInfo:
        """The callback: the code becomes tokens (and whatever the provider needs after)."""
        ...

    def can_refresh(self, info: TokenInfo) -> bool:
        """Whether a refresh can extend this connection's tokens at all."""
        ...

    def refresh_due(self, info: TokenInfo) -> datetime | None:
        """When the product should refresh next (``None``: never)."""
        ...

    async def refresh(self, info: TokenInfo) -> TokenInfo:
        """New tokens by the provider's refresh rule; raises :class:`ProviderCallError`."""
        ...

    async def read(self, info: TokenInfo) -> Answer:
        """What a sync reads. Never raises for a provider error."""
        ...

    async def revoke(self, info: TokenInfo) -> Answer:
        """Give the tokens back to the provider."""
        ...

    async def discover(self, info: TokenInfo) -> tuple[str | None, str | None] | None:
        """After a first login, what the connection is about, from the provider's API, as
        a product that knows nothing else finds it (the Page the person administers, the
        organization, the channel): ``(id, name)``, taken for the syncs to come;
        ``(None, None)`` when the connection is about the account itself; ``None`` when
        nothing was found. Never raises for a provider error."""
        ...


@dataclass(frozen=True)
class ClientContext:
    """What every client is built from."""

    http: httpx.AsyncClient
    base: str
    """Where the fakes live: ``http://127.0.0.1:8400``, or the in-process ASGI base."""
    app: AppCredentials
    profile: Profile
    clock: Clock
    resource: str | None = None
    """What the connection is about: a page, organization, channel or user id."""
    rng: Callable[[int], bytes] | None = None
    """Random bytes for PKCE verifiers (seeded in simulations)."""

    def url(self, host: str, path: str) -> str:
        return f"{self.base.rstrip('/')}/{host}/{path.lstrip('/')}"


ClientFactory = Callable[[ClientContext], ProviderClient]
CLIENTS: dict[str, ClientFactory] = {}
"""Provider clients by protocol (``facebook``, ``linkedin`` …)."""

RESOURCES: dict[str, Callable[[Mapping[str, Any], Profile], str | None]] = {}
"""How to find a connection's resource in a control-API account, by protocol."""


def register(
    protocol: str,
    factory: ClientFactory,
    resource_of: Callable[[Mapping[str, Any], Profile], str | None],
) -> None:
    CLIENTS[protocol] = factory
    RESOURCES[protocol] = resource_of


def make_client(ctx: ClientContext) -> ProviderClient:
    """The client for ``ctx.profile``'s protocol."""
    try:
        factory = CLIENTS[ctx.profile.protocol]
    except KeyError:
        raise KeyError(
            f"no client for protocol {ctx.profile.protocol!r}; known: {', '.join(sorted(CLIENTS))}"
        ) from None
    return factory(ctx)
