"""conntrack's Facebook client opens the login dialog with ``auth_type=rerequest``, so a
reconnect after a declined (or taken back) permission can get it again: Facebook does
not re-ask a declined permission without it ("Re-asking for Declined Permissions"), and
the same login URL without it gives a token still without the permission. Pages and
Instagram through Facebook Login share the dialog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from conntrack import TravelClock, load_profile
from conntrack.clients import AppCredentials, ClientContext, TokenInfo, consent
from conntrack.clients.facebook import FacebookClient
from fake_providers import Core, create_app

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REDIRECT = "https://app.example/callback"
BASE = "http://conntrack.test"


@dataclass
class World:
    core: Core
    http: httpx.AsyncClient
    client: FacebookClient
    account_id: str

    async def login(self, url: str, decline: frozenset[str] = frozenset()) -> TokenInfo:
        result = await consent(self.http, url, account_id=self.account_id, decline=decline)
        assert result.code is not None, result
        return await self.client.connect(result.code, "s1")


def without_auth_type(url: str) -> str:
    """The client's login URL as a product that forgets ``auth_type`` would send it."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "auth_type"}
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(params=["facebook", "instagram-facebook"])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    clock = TravelClock(wall=lambda: START)
    core = Core(clock, seed=11)
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    instagram = request.param == "instagram-facebook"
    account = core.create_account("facebook", pages=1, linked_instagram=instagram)
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        ctx = ClientContext(
            http,
            BASE,
            AppCredentials(app.client_id, app.client_secret, REDIRECT),
            load_profile(request.param),
            clock,
            resource=account.pages[0].id,
        )
        yield World(core, http, FacebookClient(ctx), account.id)


async def test_the_login_url_asks_with_rerequest(world: World) -> None:
    query = parse_qs(urlsplit(world.client.authorize_url("s1")).query)
    assert query["auth_type"] == ["rerequest"]


async def test_a_reconnect_gets_a_declined_permission_back(world: World) -> None:
    url = world.client.authorize_url("s1")
    first = await world.login(url, decline=frozenset({"pages_read_engagement"}))
    assert "pages_read_engagement" not in first.scopes
    again = await world.login(url)
    assert "pages_read_engagement" in again.scopes


async def test_without_rerequest_the_reconnect_stays_without_it(world: World) -> None:
    url = world.client.authorize_url("s1")
    await world.login(url, decline=frozenset({"pages_read_engagement"}))
    again = await world.login(without_auth_type(url))
    assert "pages_read_engagement" not in again.scopes
