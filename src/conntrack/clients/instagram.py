"""The product's side of Instagram Login (Instagram API with Instagram Login).

The flow (PROVIDERS.md §2a): the authorization window on ``www.instagram.com`` → a code
→ ``POST api.instagram.com/oauth/access_token`` (a short-lived token, 1 h) →
``graph.instagram.com/access_token?grant_type=ig_exchange_token`` (long-lived, about 60
days) → ``graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token`` once
the token is at least ``refresh_min_age`` (24 h) old and before it expires; each refresh
gives a new token that lives 60 days from then. So a connection that keeps refreshing
never expires: ``hard_expiry`` is ``None`` while the token can still be refreshed, and
the product refreshes ``refresh_margin`` before expiry (never before the minimum age).

The classifier rule registered here reads both envelopes: the Graph one of
``graph.instagram.com`` (Facebook's mapping, plus Instagram's own errors: a personal
account is ``not_eligible``, the publishing limit a retry) and the
``{"error_type","code","error_message"}`` one of ``api.instagram.com``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from .. import _classifier
from .._classifier import Action, Verdict, _classify_facebook
from .._lifecycle import Reason
from .._profiles import Profile
from ._base import (
    Answer,
    ClientContext,
    ProviderCallError,
    TokenInfo,
    after,
    answer_of,
    register,
)

PROTOCOL = "instagram"
WWW = "www.instagram.com"
API = "api.instagram.com"
GRAPH = "graph.instagram.com"
MEDIA_FIELDS = "id,caption,media_type,timestamp"

#: [obs] The Graph's answer for a personal (non-professional) account.
NOT_BUSINESS = "not an instagram business"
#: The publishing limit of the Content Publishing API (code 9, subcode 2207042).
PUBLISH_LIMIT_SUBCODE = 2207042
#: Markers of the [U] answers the profile describes (a refresh too early, suspension).
TOO_YOUNG = "at least 24 hours old"
SUSPENDED = "suspended"
#: api.instagram.com messages meaning the authorization must start again.
CODE_PROBLEMS = (
    "authorization code has been used",
    "matching code was not found",
    "redirect uri doesn't match",
)


class InstagramClient:
    """Instagram Login calls of a product that manages Instagram professional accounts."""

    protocol: ClassVar[str] = PROTOCOL

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
        self.http = ctx.http
        self.app = ctx.app
        self.profile = ctx.profile
        self.clock = ctx.clock
        self.version = str(ctx.profile.get("api_version", "v21.0"))
        self.user_id = ctx.resource

    def _graph(self, path: str, *, versioned: bool = True) -> str:
        return self.ctx.url(GRAPH, f"{self.version}/{path}" if versioned else path)

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        scope = self.profile.scope_separator.join(scopes or self.profile["default_scopes"])
        query = urlencode(
            {
                "client_id": self.app.client_id,
                "redirect_uri": self.app.redirect_uri,
                "response_type": "code",
                "scope": scope,
                "state": state,
            }
        )
        return f"{self.ctx.url(WWW, 'oauth/authorize')}?{query}"

    async def exchange_code(self, code: str) -> tuple[str, str | None, tuple[str, ...]]:
        """Code → short-lived token, the user id and the granted permissions.

        Reads both shapes of the answer: flat, or the documented ``{"data": [...]}``.
        """
        response = await self.http.post(
            self.ctx.url(API, "oauth/access_token"),
            data={
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret,
                "grant_type": "authorization_code",
                "redirect_uri": self.app.redirect_uri,
                # Instagram appends "#_" to the redirect; it is not part of the code.
                "code": code.removesuffix("#_"),
            },
        )
        answer = answer_of(PROTOCOL, response)
        if not answer.ok:
            raise ProviderCallError("code exchange", answer)
        body = answer.body
        if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
            body = body["data"][0]
        permissions = str(body.get("permissions") or "")
        user_id = body.get("user_id")
        scopes = tuple(p for p in permissions.split(",") if p)
        return str(body["access_token"]), None if user_id is None else str(user_id), scopes

    async def _token_call(self, step: str, path: str, params: dict[str, str]) -> TokenInfo:
        response = await self.http.get(self._graph(path, versioned=False), params=params)
        answer = answer_of(PROTOCOL, response)
        if not answer.ok:
            raise ProviderCallError(step, answer)
        now = self.clock.now()
        expires_at = after(now, answer.body.get("expires_in"))
        return TokenInfo(
            access_token=str(answer.body["access_token"]),
            expires_at=expires_at,
            hard_expiry=None,  # refreshable: only a missed refresh lets it expire
            issued_at=now,
        )

    async def exchange_long_lived(self, short_token: str) -> TokenInfo:
        """Short-lived → long-lived (``ig_exchange_token``)."""
        return await self._token_call(
            "long-lived exchange",
            "access_token",
            {
                "grant_type": "ig_exchange_token",
                "client_secret": self.app.client_secret,
                "access_token": short_token,
            },
        )

    async def connect(self, code: str, state: str = "") -> TokenInfo:
        """The callback: code → short-lived → long-lived token."""
        short, user_id, scopes = await self.exchange_code(code)
        info = await self.exchange_long_lived(short)
        if user_id is not None:
            self.user_id = user_id
        return info.with_(scopes=scopes, user_id=user_id)

    def can_refresh(self, info: TokenInfo) -> bool:
        """A long-lived token refreshes itself while it has not expired."""
        return info.expires_at is None or self.clock.now() < info.expires_at

    def refresh_due(self, info: TokenInfo) -> datetime | None:
        """``refresh_margin`` before expiry, but never before ``refresh_min_age``."""
        if info.expires_at is None:
            return None
        margin = self.profile.lifetime("refresh_margin") or timedelta(0)
        min_age = self.profile.lifetime("refresh_min_age") or timedelta(0)
        due = info.expires_at - margin
        if info.issued_at is not None:
            due = max(due, info.issued_at + min_age)
        return due

    async def refresh(self, info: TokenInfo) -> TokenInfo:
        """``ig_refresh_token``: a new long-lived token, 60 days from now."""
        fresh = await self._token_call(
            "refresh",
            "refresh_access_token",
            {"grant_type": "ig_refresh_token", "access_token": info.access_token},
        )
        return info.with_(
            access_token=fresh.access_token,
            expires_at=fresh.expires_at,
            hard_expiry=None,
            issued_at=fresh.issued_at,
        )

    async def read(self, info: TokenInfo) -> Answer:
        """The sync: the account's media."""
        response = await self.http.get(
            self._graph("me/media"),
            params={"fields": MEDIA_FIELDS, "limit": "25", "access_token": info.access_token},
        )
        return answer_of(PROTOCOL, response)

    async def profile_of(self, info: TokenInfo) -> Answer:
        """``/me``: the account's id, username and type."""
        response = await self.http.get(
            self._graph("me"),
            params={
                "fields": "user_id,username,account_type",
                "access_token": info.access_token,
            },
        )
        return answer_of(PROTOCOL, response)

    async def discover(self, info: TokenInfo) -> tuple[str | None, str | None] | None:
        """A connection about the account itself: nothing to find."""
        return None, None

    async def revoke(self, info: TokenInfo) -> Answer:
        """Instagram Login has no revocation endpoint: the person removes the app in
        their settings. The product can only forget the token."""
        return Answer(200, {"success": True}, _classifier.OK)


def classify_instagram(status: int, headers: Mapping[str, str], body: Any) -> Verdict:
    """Instagram's errors: the api.instagram.com envelope and the Graph one."""
    if isinstance(body, dict) and "error_message" in body:
        return _classify_oauth(status, body)
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code, sub = err.get("code"), err.get("error_subcode")
        message = str(err.get("message", ""))
        tag = f"{code}/{sub}" if sub is not None else str(code)
        lowered = message.lower()
        if code == 10 and NOT_BUSINESS in lowered:
            return Verdict(Action.RECONNECT, Reason.NOT_ELIGIBLE, code=tag, message=message)
        if code == 9 or sub == PUBLISH_LIMIT_SUBCODE:
            return Verdict(Action.RETRY, code=tag, message=message)
        if TOO_YOUNG in lowered:
            # Refreshed too early: the token still works; try again later.
            return Verdict(Action.IGNORE, code=tag, message=message)
        if code == 190 and sub is None and SUSPENDED in lowered:
            return Verdict(Action.RECONNECT, Reason.SUSPENDED, code=tag, message=message)
    return _classify_facebook(status, body)


def _classify_oauth(status: int, body: Mapping[str, Any]) -> Verdict:
    message = str(body.get("error_message", ""))
    tag = f"{body.get('error_type', 'OAuthException')}/{body.get('code', status)}"
    if status == 429 or status >= 500:
        return Verdict(Action.RETRY, code=tag, message=message)
    if any(p in message.lower() for p in CODE_PROBLEMS):
        # The code cannot be used: the person must go through the window again.
        return Verdict(Action.RECONNECT, Reason.UNKNOWN, code=tag, message=message)
    # A wrong app id or secret is the product's configuration, not the connection's.
    return Verdict(Action.IGNORE, code=tag, message=message)


def _resource(account: Mapping[str, Any], profile: Profile) -> str | None:
    """An Instagram Login connection is about the account itself."""
    value = account.get("id")
    return None if value is None else str(value)


_classifier.register(PROTOCOL, classify_instagram)
register(PROTOCOL, InstagramClient, _resource)
