"""The product's side of Facebook: the calls a real integration makes, over any transport.

The same code talks to the in-process fake (ASGI), to ``conntrack serve`` over the
network, or — with ``base`` set to ``https:/`` — to URLs of the real shape. Facebook has
no refresh grant: a user token from a code lives about an hour, ``fb_exchange_token``
makes it long-lived (about 60 days), and after that a person must log in again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx

from .._clock import Clock
from .._profiles import Profile
from ._base import Answer, AppCredentials, ProviderCallError, TokenInfo, answer_of

PROVIDER = "facebook"


class FacebookClient:
    """Graph API calls of a product that manages Facebook Pages."""

    provider = PROVIDER

    def __init__(
        self,
        http: httpx.AsyncClient,
        base: str,
        app: AppCredentials,
        profile: Profile,
        clock: Clock,
    ) -> None:
        self.http = http
        self.base = base.rstrip("/")
        self.app = app
        self.profile = profile
        self.clock = clock
        self.version = str(profile.get("api_version", "v21.0"))

    def _www(self, path: str) -> str:
        return f"{self.base}/www.facebook.com/{self.version}/{path}"

    def _graph(self, path: str) -> str:
        return f"{self.base}/graph.facebook.com/{self.version}/{path}"

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        scope = self.profile.scope_separator.join(scopes or self.profile["default_scopes"])
        query = urlencode(
            {
                "client_id": self.app.client_id,
                "redirect_uri": self.app.redirect_uri,
                "state": state,
                "scope": scope,
                "response_type": "code",
            }
        )
        return f"{self._www('dialog/oauth')}?{query}"

    async def _get(self, step: str, url: str, params: dict[str, str]) -> Answer:
        answer = answer_of(PROVIDER, await self.http.get(url, params=params))
        if not answer.ok:
            raise ProviderCallError(step, answer)
        return answer

    async def exchange_code(self, code: str) -> tuple[str, int]:
        """Code → short-lived user token and its ``expires_in``."""
        answer = await self._get(
            "code exchange",
            self._graph("oauth/access_token"),
            {
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret,
                "redirect_uri": self.app.redirect_uri,
                "code": code,
            },
        )
        return answer.body["access_token"], int(answer.body.get("expires_in", 0))

    async def exchange_long_lived(self, short_token: str) -> tuple[str, int]:
        """Short-lived user token → long-lived (about 60 days) and its ``expires_in``."""
        answer = await self._get(
            "long-lived exchange",
            self._graph("oauth/access_token"),
            {
                "grant_type": "fb_exchange_token",
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret,
                "fb_exchange_token": short_token,
            },
        )
        return answer.body["access_token"], int(answer.body.get("expires_in", 0))

    async def debug_token(self, token: str) -> dict[str, object]:
        """``debug_token`` with the app token; always HTTP 200, facts in ``data``."""
        answer = await self._get(
            "debug_token",
            self._graph("debug_token"),
            {
                "input_token": token,
                "access_token": f"{self.app.client_id}|{self.app.client_secret}",
            },
        )
        data = answer.body.get("data", {})
        return data if isinstance(data, dict) else {}

    async def connect(self, code: str) -> TokenInfo:
        """The product's callback: code → short → long-lived token, checked with debug_token."""
        short, _ = await self.exchange_code(code)
        long, expires_in = await self.exchange_long_lived(short)
        now = self.clock.now()
        data = await self.debug_token(long)
        expires_at = _epoch(data.get("expires_at"))
        if expires_at is None and expires_in:
            expires_at = now + timedelta(seconds=expires_in)
        scopes = data.get("scopes")
        return TokenInfo(
            access_token=long,
            expires_at=expires_at,
            # No refresh grant: the token's own expiry is the connection's hard expiry.
            hard_expiry=expires_at,
            scopes=tuple(scopes) if isinstance(scopes, list) else (),
            user_id=str(data["user_id"]) if data.get("user_id") else None,
            data_access_expires_at=_epoch(data.get("data_access_expires_at")),
        )

    async def pages(self, token: str) -> list[dict[str, object]]:
        """The Pages the token's user administers (``/me/accounts``)."""
        answer = await self._get(
            "me/accounts",
            self._graph("me/accounts"),
            {"fields": "id,name,access_token", "access_token": token},
        )
        data = answer.body.get("data", [])
        return data if isinstance(data, list) else []

    async def read(self, token: str, page_id: str) -> Answer:
        """The sync: read a Page's posts. Never raises for a provider error."""
        response = await self.http.get(
            self._graph(f"{page_id}/posts"), params={"access_token": token, "limit": "25"}
        )
        return answer_of(PROVIDER, response)


def _epoch(value: object) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None
