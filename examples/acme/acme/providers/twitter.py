"""X (Twitter): OAuth 2.0 with PKCE, 2-hour access tokens, rotating refresh tokens.

acme asks for ``offline.access`` so that X gives it a refresh token, and keeps the new
refresh token every time (X rotates them: the spent one dies). Refreshed in time, an X
connection never expires, so it has no hard expiry and no reminder. acme refreshes at
a sync when the access token has less than ``REFRESH_MARGIN`` left, and when X refuses
the access token (401): if the refresh is refused too, only a person can help.

The code exchange and refresh use authlib's OAuth 2.0 client as a confidential client
(HTTP Basic), with its S256 code challenge.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from ..store import Connection
from . import base as b

WEB = "x.com"
API = "api.x.com"
SCOPES = ("tweet.read", "users.read", "offline.access")
REFRESH_MARGIN = timedelta(minutes=10)
#: A refused refresh token younger than this was revoked, not expired (X says nothing).
REVOKED_WITHIN = timedelta(days=180)
LOCKED_WORDS = "temporarily locked"


class Twitter:
    name = "twitter"
    display = "X"

    def __init__(self, ctx: b.Context) -> None:
        self.ctx = ctx

    def needs_verifier(self) -> bool:
        return True

    def _oauth(self) -> AsyncOAuth2Client:
        return self.ctx.oauth2(
            self.name,
            SCOPES,
            token_endpoint_auth_method="client_secret_basic",
            code_challenge_method="S256",
        )

    def authorize_url(self, state: str, verifier: str | None) -> str:
        url, _ = self._oauth().create_authorization_url(
            self.ctx.settings.url(WEB, "i/oauth2/authorize"), state=state, code_verifier=verifier
        )
        return str(url)

    def _tokens(self, token: dict[str, Any], now: datetime, old: Connection | None) -> b.Tokens:
        access_expires = b.after(now, token.get("expires_in"))
        refresh = token.get("refresh_token") or (old.refresh_token if old else None)
        return b.Tokens(
            access_token=str(token["access_token"]),
            access_expires_at=access_expires,
            refresh_token=str(refresh) if refresh else None,
            # Refreshable: nothing ends it; else the access token's own expiry.
            hard_expiry=None if refresh else access_expires,
            scopes=tuple(str(token.get("scope") or "").split()),
        )

    async def connect(
        self, code: str, verifier: str | None, previous: Connection | None, now: datetime
    ) -> b.Grant:
        try:
            token = await self._oauth().fetch_token(
                self.ctx.settings.url(API, "2/oauth2/token"),
                code=code,
                code_verifier=verifier,
                grant_type="authorization_code",
            )
        except OAuthError as e:
            why = f"{e.error} {e.description}"
            raise b.LoginRefused(f"X refused the code exchange: {why}") from None
        tokens = self._tokens(dict(token), now, None)
        me = await self.ctx.http.get(
            self.ctx.settings.url(API, "2/users/me"),
            headers={"Authorization": f"Bearer {tokens.access_token}"},
        )
        if me.status_code >= 300:
            raise b.LoginRefused(f"X users/me answered {me.status_code}: {b.short(me.text)}")
        user = me.json()["data"]
        user_id, handle = str(user["id"]), str(user.get("username") or user["id"])
        if previous is not None and previous.resource_id and previous.resource_id != user_id:
            raise b.LoginRefused(
                f"wrong account: you logged in to X as @{handle}, but this connection is "
                f"@{previous.resource_name}; log out of X and log in with that account"
            )
        check = await self._tweets(tokens.access_token, user_id)
        if check.action in (b.RECONNECT, b.REFRESH, b.EXPIRED):
            raise b.LoginRefused(f"acme cannot read this X account: {check.detail}")
        return b.Grant(tokens, user_id, user_id, handle, synced=check.ok)

    async def _tweets(self, token: str, user_id: str) -> b.Verdict:
        response = await self.ctx.http.get(
            self.ctx.settings.url(API, f"2/users/{user_id}/tweets"),
            params={"max_results": "10", "tweet.fields": "created_at"},
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code < 300:
            return b.Verdict(b.OK)
        return classify(response.status_code, b.body_of(response))

    async def read(self, conn: Connection) -> b.Verdict:
        assert conn.access_token and conn.resource_id
        return await self._tweets(conn.access_token, conn.resource_id)

    def refresh_due(self, conn: Connection) -> datetime | None:
        if not conn.refresh_token or conn.access_expires_at is None:
            return None
        return conn.access_expires_at - REFRESH_MARGIN

    async def refresh(self, conn: Connection, now: datetime) -> b.Tokens:
        if not conn.refresh_token:
            raise b.RefreshFailed(
                b.Verdict(b.RECONNECT, b.REFRESH_FAILED, "no refresh token (no offline.access)")
            )
        try:
            token = await self._oauth().refresh_token(
                self.ctx.settings.url(API, "2/oauth2/token"),
                refresh_token=conn.refresh_token,
            )
        except OAuthError as e:
            detail = f"refresh: {e.error} {e.description}"
            if e.error in ("invalid_request", "invalid_grant"):
                raise b.RefreshFailed(b.Verdict(b.RECONNECT, _refusal(conn, now), detail)) from None
            raise b.RefreshFailed(b.Verdict(b.RETRY, detail=detail)) from None
        return self._tokens(dict(token), now, conn)


def _refusal(conn: Connection, now: datetime) -> str:
    """Why X refused acme's refresh token. X rotates it at every refresh, so the one acme
    holds came with its access token; X documents no refresh-token lifetime, and one
    refused within ``REVOKED_WITHIN`` of that cannot have died of age: the access was
    revoked (the app removed, the password changed)."""
    came = conn.access_expires_at  # with the refresh token, two hours before
    if came is not None and now - came < REVOKED_WITHIN:
        return b.APP_REMOVED
    return b.REFRESH_FAILED


def classify(status: int, body: Any) -> b.Verdict:
    """What an X API error means for the connection."""
    data = body if isinstance(body, dict) else {}
    kind = str(data.get("type", ""))
    detail_text = str(data.get("detail") or data.get("title") or "")
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        detail_text = f"{errors[0].get('code')} {errors[0].get('message', '')}"
    detail = f"HTTP {status} {detail_text}".strip()
    if status == 429 or status >= 500:
        return b.Verdict(b.RETRY, detail=detail)
    if kind.endswith("/user-suspended") or "suspended" in detail_text.lower():
        return b.Verdict(b.RECONNECT, b.SUSPENDED, detail)
    if status == 403 and LOCKED_WORDS in detail_text:
        return b.Verdict(b.RECONNECT, b.LOCKED, detail)
    if status == 401:
        return b.Verdict(b.REFRESH, b.UNKNOWN, detail)
    if status == 403:
        return b.Verdict(b.RECONNECT, b.PERMISSION, detail)
    return b.Verdict(b.IGNORE, detail=detail)
