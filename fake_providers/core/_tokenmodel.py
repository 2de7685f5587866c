"""The core's token-side data: codes, token families, tokens, and the answers about them.

A *family* is one authorization: everything issued from one code exchange (or one
OAuth 1.0a access-token exchange) and from the tokens that came of it — the long-lived
token exchanged from a short one, page tokens, refreshed access tokens, rotated
refresh tokens. Revoking any token of a family revokes the whole family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ._model import AccountEvent, Mark, Reason, instant


class TokenKind(StrEnum):
    """What a token is.

    - ``user_short`` / ``user_long`` / ``page``: Facebook-style user and page tokens
      (``exchange_code``, ``exchange_long_lived``, ``page_token``, ``refresh_self``);
    - ``access`` / ``refresh``: an OAuth 2.0 access token and refresh token
      (``issue_from_code``, ``refresh``);
    - ``request`` / ``oauth1``: an OAuth 1.0a request token and access token.
    """

    USER_SHORT = "user_short"
    USER_LONG = "user_long"
    PAGE = "page"
    ACCESS = "access"
    REFRESH = "refresh"
    REQUEST = "request"
    OAUTH1 = "oauth1"


@dataclass
class Code:
    """A single-use authorization code from an approved consent.

    ``code_challenge``/``code_challenge_method`` hold PKCE (``S256`` or ``plain``);
    ``offline`` is False when the client asked for no refresh token (Google's
    ``access_type=online``). ``family`` is the authorization its exchange started.
    """

    value: str
    provider: str
    client_id: str
    account_id: str
    redirect_uri: str
    issued_at: datetime
    expires_at: datetime
    seq: int
    used: Mark | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    offline: bool = True
    #: The family its exchange started (set once spent): what a reuse may revoke.
    family: str | None = None


@dataclass
class Family:
    """One authorization and the tokens that came of it."""

    id: str
    provider: str
    client_id: str
    account_id: str
    seq: int
    created_at: datetime
    #: How it began: ``code`` or ``oauth1``.
    origin: str
    #: The refresh token of the family now (after rotation, the newest), if any.
    refresh: str | None = None
    #: When its refresh tokens die because the app is in "testing" publishing status.
    testing_expires_at: datetime | None = None
    revoked: Mark | None = None
    tokens: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "app": self.client_id,
            "account": self.account_id,
            "origin": self.origin,
            "created_at": instant(self.created_at),
            "refresh": None if self.refresh is None else self.refresh[:12] + "…",
            "testing_expires_at": instant(self.testing_expires_at),
            "revoked_at": None if self.revoked is None else instant(self.revoked.at),
            "tokens": len(self.tokens),
        }


@dataclass
class Token:
    """A token of any kind; ``expires_at`` None never expires.

    ``family`` is the authorization it belongs to; ``refresh`` the refresh token issued
    with it (access tokens from ``issue_from_code``/``refresh``), ``parent`` the token it
    was made from. ``secret`` is an OAuth 1.0a token secret. ``last_used_at`` is when a
    refresh token was last used (issue, then each refresh). ``ended`` records a death
    of this very token (rotated out, capped), as opposed to its family's revocation.
    Request tokens have ``account_id == ""`` until approved, then carry the
    ``verifier`` and, once exchanged, ``spent``.
    """

    value: str
    provider: str
    kind: TokenKind
    client_id: str
    account_id: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime | None
    seq: int
    page_id: str | None = None
    #: The token this one was made from (exchange, page token, refresh).
    parent: str | None = None
    family: str = ""
    refresh: str | None = None
    secret: str | None = None
    #: How it was made: ``code``, ``exchange``, ``page``, ``refresh``, ``self_refresh``,
    #: ``oauth1``, ``request``.
    origin: str = "code"
    last_used_at: datetime | None = None
    ended: tuple[Reason, Mark] | None = None
    callback: str | None = None
    verifier: str | None = None
    spent: Mark | None = None

    @property
    def prefix(self) -> str:
        """Enough of the value to recognise it in a listing without leaking it."""
        return self.value[:12] + "…"


@dataclass(frozen=True)
class TokenPair:
    """What an OAuth 2.0 token endpoint hands out: an access token and maybe a refresh
    token (its ``expires_at`` gives ``refresh_token_expires_in``)."""

    access: Token
    refresh: Token | None


@dataclass(frozen=True)
class TokenCheck:
    """The answer to "does this token work now?": ``reason`` is None when it does.

    ``since`` is when it stopped working (the expiry or the event), ``token`` is None for
    a string the core never issued.
    """

    token: Token | None
    reason: Reason | None
    since: datetime | None = None
    event: AccountEvent | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None
