"""The product's Google Business Profile client: the classifier on the Business Profile
APIs' error bodies, and the client against the in-process fake through connect (finding
the account and location), refresh, the reviews it syncs and the world's events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from conntrack import Action, Reason, classify, load_profile
from conntrack.clients import AppCredentials, ClientContext, consent, make_client
from conntrack.clients.google_business import GoogleBusinessClient
from fake_providers import Account, Core, create_app
from fake_providers.google import _business as fake

from .test_google import REDIRECT, START, Clock, Manual

SCOPE = "https://www.googleapis.com/auth/business.manage"


# -- the classifier ----------------------------------------------------------------------

CASES: list[tuple[str, Any, Action, Reason | None]] = [
    ("no business.manage", fake.e.insufficient_scopes(SCOPE), Action.RECONNECT,
     Reason.PERMISSION_MISSING),
    ("dead access token", fake.e.unauthenticated(), Action.REFRESH, None),
    ("no credential", fake.e.login_required(), Action.REFRESH, None),
    ("role on the location lost", fake.caller_denied(), Action.RECONNECT,
     Reason.INSUFFICIENT_ACCESS),
    ("requests per minute spent", fake.quota_exceeded(fake.MYBUSINESS, "1-a"), Action.RETRY,
     None),
    ("missing readMask", fake.invalid_argument(), Action.IGNORE, None),
    ("unknown location", fake.entity_not_found(), Action.IGNORE, None),
    ("outage", fake.e.service_unavailable(), Action.RETRY, None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "error", "action", "reason"), CASES, ids=[c[0] for c in CASES])
def test_classifier(name: str, error: Any, action: Action, reason: Reason | None) -> None:
    """Every body the fake Business Profile APIs give, by the profile name and its
    protocol alike."""
    for provider in ("google-business", "google"):
        verdict = classify(provider, error.status, error.headers, error.body())
        assert (verdict.action, verdict.reason) == (action, reason), name


# -- the client against the in-process fake ---------------------------------------------


class World:
    def __init__(self, core: Core, http: httpx.AsyncClient, clock: Manual) -> None:
        self.core, self.http, self.clock = core, http, clock
        self.app = core.create_app_registration("google", redirect_uris=[REDIRECT])
        self.account: Account = core.create_account("google", pages=2)
        self.client = self.make_client()

    def make_client(self) -> GoogleBusinessClient:
        client = make_client(
            ClientContext(
                http=self.http,
                base="http://conntrack.test",
                app=AppCredentials(self.app.client_id, self.app.client_secret, REDIRECT),
                profile=load_profile("google-business"),
                clock=Clock(self.clock),
                resource=self.account.pages[0].id,
                rng=lambda n: b"\x07" * n,
            )
        )
        assert isinstance(client, GoogleBusinessClient)
        return client

    async def connect(
        self, account: Account | None = None, decline: frozenset[str] = frozenset()
    ) -> Any:
        url = self.client.authorize_url("st")
        result = await consent(
            self.http, url, account_id=(account or self.account).id, decline=decline
        )
        assert result.code and result.state == "st"
        return await self.client.connect(result.code, "st")


@pytest.fixture
def manual() -> Manual:
    return Manual()


@pytest.fixture
async def world(manual: Manual) -> AsyncIterator[World]:
    core = Core(manual, seed=5, profiles={"google": load_profile("google-business")})
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as c:
        yield World(core, c, manual)


async def test_the_profile_picks_the_business_client_and_asks_for_business_manage(
    world: World,
) -> None:
    q = dict(httpx.URL(world.client.authorize_url("abc")).params)
    assert q["scope"] == f"openid email {SCOPE}"
    assert q["access_type"] == "offline" and q["prompt"] == "consent"
    youtube = ClientContext(
        http=world.http, base="http://conntrack.test",
        app=AppCredentials(world.app.client_id, world.app.client_secret, REDIRECT),
        profile=load_profile("google"), clock=Clock(world.clock),
    )  # fmt: skip
    assert not isinstance(make_client(youtube), GoogleBusinessClient)


async def test_connect_finds_the_location_and_never_expires(world: World, manual: Manual) -> None:
    info = await world.connect()
    assert info.hard_expiry is None and info.refresh_token
    page = world.account.pages[0]
    assert world.client.account_name == fake.account_name(world.account.id)
    assert world.client.channel_id == fake.location_name(page.id)
    assert await world.client.discover(info) == (fake.location_name(page.id), page.name)
    answer = await world.client.read(info)
    assert answer.ok and answer.body["totalReviewCount"] == len(page.posts)
    # A year on, refreshed at each (monthly) sync: still reading, no expiry anywhere.
    for _ in range(12):
        manual.advance(timedelta(days=30))
        info = await world.client.refresh(info)
        assert info.hard_expiry is None
    assert (await world.client.read(info)).ok


async def test_losing_the_role_on_the_location_is_admin_removed(world: World) -> None:
    info = await world.connect()
    kept, lost = world.account.pages
    world.core.fire_event(world.account.id, "admin_removed", page_id=kept.id)
    answer = await world.client.read(info)
    assert answer.status == 403
    assert (answer.verdict.action, answer.verdict.reason) == (
        Action.RECONNECT,
        Reason.ADMIN_REMOVED,
    )
    assert answer.verdict.code == "location_access_lost"
    assert lost.id != kept.id


async def test_an_account_without_locations_is_not_eligible(world: World) -> None:
    empty = world.core.create_account("google", pages=0)
    info = await world.connect(account=empty)
    assert world.client.channel_id is None
    assert await world.client.discover(info) is None
    answer = await world.client.read(info)
    assert (answer.verdict.reason, answer.verdict.code) == (Reason.NOT_ELIGIBLE, "no_locations")
    # The person is given a location later: the next sync finds and reads it.
    page = world.account.pages[0]
    world.core.fire_event(empty.id, "admin_added", page_id=page.id)
    answer = await world.client.read(info)
    assert answer.ok and world.client.channel_id == fake.location_name(page.id)


async def test_declined_business_manage_is_permission_missing(world: World) -> None:
    info = await world.connect(decline=frozenset({SCOPE}))
    answer = await world.client.read(info)
    assert answer.status == 403 and answer.verdict.reason is Reason.PERMISSION_MISSING


async def test_access_revoked_then_the_refresh_fails(world: World) -> None:
    info = await world.connect()
    world.core.fire_event(world.account.id, "app_removed", client_id=world.app.client_id)
    assert (await world.client.read(info)).verdict.action is Action.REFRESH
    with pytest.raises(Exception) as err:
        await world.client.refresh(info)
    assert err.value.answer.verdict.reason is Reason.REFRESH_FAILED  # type: ignore[attr-defined]


async def test_a_spent_minute_is_retried(manual: Manual) -> None:
    profile = load_profile("google-business", {"business_requests_per_minute": 2})
    core = Core(manual, seed=5, profiles={"google": profile})
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as c:
        world = World(core, c, manual)
        info = await world.connect()  # accounts and locations: one call each
        assert (await world.client.read(info)).ok and (await world.client.read(info)).ok
        answer = await world.client.read(info)
        assert answer.status == 429 and answer.verdict.action is Action.RETRY
        manual.advance(timedelta(minutes=1))
        assert (await world.client.read(info)).ok
    assert manual.t > START
