"""Fixtures for the fake providers: a manual clock, a core, an in-process client, and a
``fb`` helper that plays the Facebook login flow through the real endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, SCOPES, ManualClock, error_body

from fake_providers import Account, App, Core, create_app


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def core(clock: ManualClock) -> Core:
    return Core(clock, seed=7)


@pytest.fixture
async def client(core: Core) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as c:
        yield c


@dataclass
class Facebook:
    """Plays Facebook Login against the fake, through HTTP like a real client would."""

    core: Core
    client: httpx.AsyncClient
    app: App
    account: Account

    def dialog_fields(self, scope: str = SCOPES, **extra: str) -> dict[str, Any]:
        return {
            "client_id": self.app.client_id,
            "redirect_uri": REDIRECT,
            "state": "st4te",
            "scope": scope,
            "response_type": "code",
            **extra,
        }

    async def approve(
        self,
        *,
        granted: list[str] | None = None,
        scope: str = SCOPES,
        account: Account | None = None,
    ) -> httpx.Response:
        form = self.dialog_fields(scope)
        form["account_id"] = (account or self.account).id
        form["granted"] = scope.split(",") if granted is None else granted
        form["action"] = "approve"
        return await self.client.post("/www.facebook.com/v21.0/dialog/oauth", data=form)

    async def code(self, **kw: Any) -> str:
        r = await self.approve(**kw)
        assert r.status_code == 302, r.text
        return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]

    async def exchange(self, code: str, **override: str) -> httpx.Response:
        params = {
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
            "redirect_uri": REDIRECT,
            "code": code,
            **override,
        }
        return await self.client.get("/graph.facebook.com/v21.0/oauth/access_token", params=params)

    async def short_token(self, **kw: Any) -> str:
        r = await self.exchange(await self.code(**kw))
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def long_token(self, **kw: Any) -> str:
        short = await self.short_token(**kw)
        r = await self.extend(short)
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def extend(self, token: str) -> httpx.Response:
        params = {
            "grant_type": "fb_exchange_token",
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
            "fb_exchange_token": token,
        }
        return await self.client.get("/graph.facebook.com/v21.0/oauth/access_token", params=params)

    async def get(self, path: str, token: str | None, **params: str) -> httpx.Response:
        if token is not None:
            params["access_token"] = token
        return await self.client.get(f"/graph.facebook.com/v21.0/{path}", params=params)

    @property
    def app_token(self) -> str:
        return f"{self.app.client_id}|{self.app.client_secret}"


@pytest.fixture
def fb(core: Core, client: httpx.AsyncClient) -> Facebook:
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT], name="Scheduly")
    account = core.create_account("facebook", pages=2)
    return Facebook(core, client, app, account)


@pytest.fixture
def envelope() -> Any:
    """:func:`error_body`, as a fixture for the test modules."""
    return error_body
