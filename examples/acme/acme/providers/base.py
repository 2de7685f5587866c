"""What acme's provider integrations share: tokens, verdicts on provider answers, and
the interface each provider module implements.

A provider integration never changes a connection itself: it answers a
:class:`Grant` (a login's tokens), a :class:`Tokens` (a refresh) or a :class:`Verdict`
(what an API answer means), and the engine (:mod:`acme.engine`) acts on it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client

from ..settings import App, Settings
from ..store import Connection

# What acme does about an answer.
OK = "ok"
RETRY = "retry"  # transient: try again at the next sync, keep the connection
REFRESH = "refresh"  # the access token is refused; a refresh may cure it
RECONNECT = "reconnect"  # dead until a person logs in again
EXPIRED = "expired"  # the token's lifetime is over
IGNORE = "ignore"  # acme's own problem (a bad request): log it, keep the connection

# acme's own words for why a connection needs a reconnect (product.yaml maps them).
PASSWORD_RESET = "password_reset"
APP_REMOVED = "app_access_removed"
NOT_ADMIN = "page_role_lost"
CHECKPOINT = "security_checkpoint"
LOCKED = "account_locked"
SUSPENDED = "account_suspended"
RESTRICTED = "account_restricted"
NO_ORG_ROLE = "missing_org_role"
PERMISSION = "permission_declined"
DATA_ACCESS = "data_access_ended"
REFRESH_FAILED = "token_refresh_failed"
UNKNOWN = "unknown_error"


@dataclass(frozen=True)
class Verdict:
    action: str
    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.action == OK


@dataclass(frozen=True)
class Tokens:
    """Tokens from a code exchange or a refresh, their expiries on acme's clock."""

    access_token: str
    access_expires_at: datetime | None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None
    hard_expiry: datetime | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grant:
    """A login that worked: the tokens, whose login it is and what the sync reads."""

    tokens: Tokens
    account_id: str
    resource_id: str
    resource_name: str
    synced: bool = True
    """Whether the check read at login got data (a transient error does not refuse the
    login, but it read nothing)."""


class LoginRefused(Exception):
    """The login cannot be used; the message is what the person reads."""


class RefreshFailed(Exception):
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        super().__init__(verdict.detail)


class Provider(Protocol):
    name: str
    display: str

    def authorize_url(self, state: str, verifier: str | None) -> str: ...

    def needs_verifier(self) -> bool: ...

    async def connect(
        self, code: str, verifier: str | None, previous: Connection | None, now: datetime
    ) -> Grant: ...

    async def read(self, conn: Connection) -> Verdict: ...

    def refresh_due(self, conn: Connection) -> datetime | None: ...

    async def refresh(self, conn: Connection, now: datetime) -> Tokens: ...


@dataclass
class Context:
    """What every integration uses: the settings, one HTTP client for API calls, and
    one SSL context for every client (loading CA certificates costs ~50 ms: once)."""

    settings: Settings
    ssl_context: ssl.SSLContext = field(init=False)
    http: httpx.AsyncClient = field(init=False)
    clients: dict[str, AsyncOAuth2Client] = field(default_factory=dict)
    """authlib's OAuth 2.0 clients by provider (:meth:`oauth2`), closed with
    :meth:`aclose`."""

    def __post_init__(self) -> None:
        cafile = self.settings.ca_file
        self.ssl_context = ssl.create_default_context(cafile=cafile)
        self.http = httpx.AsyncClient(timeout=10, verify=self.ssl_context)

    async def aclose(self) -> None:
        for client in [self.http, *self.clients.values()]:
            await client.aclose()

    def oauth2(self, protocol: str, scopes: Sequence[str], **options: Any) -> AsyncOAuth2Client:
        """authlib's client for ``protocol``'s token endpoint, made once (it keeps its
        connections open); ``options`` are the provider's own (its client
        authentication, PKCE). acme never lets it hold or refresh a token by itself:
        every call passes the code or refresh token it needs."""
        client = self.clients.get(protocol)
        if client is None:
            app = self.app(protocol)
            client = AsyncOAuth2Client(
                client_id=app.client_id,
                client_secret=app.client_secret,
                scope=" ".join(scopes),
                redirect_uri=app.redirect_uri,
                verify=self.ssl_context,
                timeout=10,
                **options,
            )
            self.clients[protocol] = client
        return client

    def app(self, protocol: str) -> App:
        try:
            return self.settings.apps[protocol]
        except KeyError:
            raise LoginRefused(
                f"acme has no {protocol} app configured: set CONNTRACK_"
                f"{protocol.upper()}_CLIENT_ID, _CLIENT_SECRET and _REDIRECT_URI"
            ) from None


def after(now: datetime, seconds: Any) -> datetime | None:
    """``now + seconds`` for a positive number of seconds, else ``None`` (no expiry)."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return None
    return now + timedelta(seconds=value) if value > 0 else None


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def short(body: Any, limit: int = 300) -> str:
    text = str(body)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pkce_verifier() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
