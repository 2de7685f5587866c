"""The Instagram clients: the classifier on every error body of PROVIDERS.md §2a/§2b, the
Instagram Login client against the in-process fake (connect, refresh by the 24-hour and
margin rule, read, revoke, account events), and the ``instagram-facebook`` variant of the
Facebook client (the account found through the Page; not eligible when it is gone)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from conntrack import classify
from conntrack._classifier import Action
from conntrack._lifecycle import Reason
from conntrack._profiles import load_profile
from conntrack.clients import AppCredentials, ClientContext, consent, make_client
from conntrack.clients.facebook import FacebookClient
from conntrack.clients.instagram import InstagramClient
from fake_providers import Core, create_app

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REDIRECT = "https://app.example/callback"
BASE = "http://conntrack.test"


class Clock:
    def __init__(self) -> None:
        self.t = START

    def now(self) -> datetime:
        return self.t

    def advance(self, by: timedelta) -> None:
        self.t += by

    async def sleep_until(self, when: datetime) -> None:
        self.t = max(self.t, when)


def graph(message: str, code: int, sub: int | None = None, **extra: Any) -> dict[str, Any]:
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if sub is not None:
        err["error_subcode"] = sub
    return {"error": {**err, **extra, "fbtrace_id": "Atrace"}}


def oauth(message: str) -> dict[str, Any]:
    return {"error_type": "OAuthException", "code": 400, "error_message": message}


PASSWORD = (
    "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons."
)


@pytest.mark.parametrize(
    ("status", "body", "action", "reason", "expired"),
    [
        (400, graph(PASSWORD, 190, 460), Action.RECONNECT, Reason.PASSWORD_CHANGED, False),
        (400, graph("You cannot access the app till you log in…", 190, 459),
         Action.RECONNECT, Reason.CHECKPOINT, False),
        (400, graph("Error validating access token: The user has not authorized application 1.",
                    190, 458), Action.RECONNECT, Reason.ACCESS_REVOKED, False),
        (400, graph("Error validating access token: Session has expired on …", 190, 463),
         Action.RECONNECT, None, True),
        (400, graph("Error validating access token: The user is enrolled in a blocking, "
                    "logged-in checkpoint", 190, 490), Action.RECONNECT, Reason.LOCKED, False),
        (400, graph("Invalid OAuth access token - Cannot parse access token", 190),
         Action.RECONNECT, Reason.UNKNOWN, False),
        (400, graph("(#10) The user is not an Instagram Business", 10),
         Action.RECONNECT, Reason.NOT_ELIGIBLE, False),
        (403, graph("(#10) Application does not have permission for this action", 10),
         Action.RECONNECT, Reason.PERMISSION_MISSING, False),
        (400, graph("Error validating access token: The user account has been suspended.", 190),
         Action.RECONNECT, Reason.SUSPENDED, False),
        (400, graph("(#368) The action attempted has been deemed abusive or is otherwise "
                    "disallowed", 368), Action.RECONNECT, Reason.RESTRICTED, False),
        (400, graph("Application request limit reached", 9, 2207042, is_transient=False),
         Action.RETRY, None, False),
        (400, graph("The access token can only be refreshed once it is at least 24 hours old.",
                    190), Action.IGNORE, None, False),
        (400, graph("(#4) Application request limit reached", 4), Action.RETRY, None, False),
        (400, graph("(#17) User request limit reached", 17), Action.RETRY, None, False),
        (500, graph("An unknown error has occurred.", 1), Action.RETRY, None, False),
        (503, "Service Unavailable", Action.RETRY, None, False),
        (429, oauth("Too many requests"), Action.RETRY, None, False),
        (400, oauth("This authorization code has been used"), Action.RECONNECT, Reason.UNKNOWN,
         False),
        (400, oauth("Matching code was not found or was already used"), Action.RECONNECT,
         Reason.UNKNOWN, False),
        (400, oauth("Redirect URI doesn't match original redirect URI"), Action.RECONNECT,
         Reason.UNKNOWN, False),
        (400, oauth("Invalid platform app"), Action.IGNORE, None, False),
        (400, oauth("Invalid Client Secret"), Action.IGNORE, None, False),
    ],
)  # fmt: skip
def test_classifier(
    status: int, body: Any, action: Action, reason: Reason | None, expired: bool
) -> None:
    v = classify("instagram", status, {}, body)
    assert (v.action, v.reason, v.expired) == (action, reason, expired)
    assert not (status == 429 or status >= 500) or v.action is Action.RETRY


def test_instagram_facebook_speaks_facebook() -> None:
    v = classify("instagram-facebook", 400, {}, graph(PASSWORD, 190, 460))
    assert v.reason is Reason.PASSWORD_CHANGED


# -- the Instagram Login client against the fake ----------------------------------------


@dataclass
class World:
    core: Core
    clock: Clock
    http: httpx.AsyncClient

    def client(self, provider: str, resource: str | None = None) -> Any:
        profile = load_profile(provider)
        app = self.core.create_app_registration(profile.protocol, redirect_uris=[REDIRECT])
        creds = AppCredentials(app.client_id, app.client_secret, REDIRECT)
        ctx = ClientContext(self.http, BASE, creds, profile, self.clock, resource=resource)
        return make_client(ctx)

    async def connect(self, client: Any, account_id: str) -> Any:
        result = await consent(self.http, client.authorize_url("s1"), account_id=account_id)
        assert result.code is not None and result.state == "s1"
        return await client.connect(result.code, "s1")


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = Clock()
    core = Core(clock, seed=9)
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield World(core, clock, http)


async def test_connect_refresh_read(world: World) -> None:
    account = world.core.create_account("instagram")
    client = world.client("instagram", account.id)
    assert isinstance(client, InstagramClient)
    assert "www.instagram.com/oauth/authorize?" in client.authorize_url("x")
    info = await world.connect(client, account.id)
    assert info.access_token.startswith("IGAA") and info.hard_expiry is None
    assert info.expires_at == START + timedelta(seconds=5183944)
    assert info.user_id == account.id
    assert info.scopes == ("instagram_business_basic", "instagram_business_content_publish")
    assert client.can_refresh(info)
    assert client.refresh_due(info) == info.expires_at - timedelta(days=7)
    read = await client.read(info)
    assert read.ok and len(read.body["data"]) == 6
    assert list(read.body["data"][0]) == ["id", "caption", "media_type", "timestamp"]
    me = await client.profile_of(info)
    assert me.body["account_type"] == "BUSINESS"
    world.clock.advance(timedelta(days=53))
    fresh = await client.refresh(info)
    assert fresh.access_token != info.access_token and fresh.hard_expiry is None
    assert fresh.expires_at == world.clock.now() + timedelta(seconds=5183944)
    assert (await client.read(fresh)).ok
    world.clock.advance(timedelta(days=61))
    assert not client.can_refresh(fresh)
    dead = await client.read(fresh)
    assert dead.verdict.expired
    assert (await client.revoke(fresh)).ok


async def test_refresh_due_waits_for_24_hours(world: World) -> None:
    client = world.client("instagram")
    info = await world.connect(client, world.core.create_account("instagram").id)
    short_lived = info.with_(expires_at=START + timedelta(days=3))
    assert client.refresh_due(short_lived) == START + timedelta(hours=24)
    from conntrack.clients import ProviderCallError

    with pytest.raises(ProviderCallError) as caught:
        await client.refresh(info)
    assert caught.value.answer.verdict.action is Action.IGNORE


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("password_change", Reason.PASSWORD_CHANGED),
        ("checkpoint", Reason.CHECKPOINT),
        ("app_removed", Reason.ACCESS_REVOKED),
        ("locked", Reason.LOCKED),
        ("switched_to_personal", Reason.NOT_ELIGIBLE),
        ("suspended", Reason.SUSPENDED),
        ("restricted", Reason.RESTRICTED),
    ],
)
async def test_account_events(world: World, event: str, reason: Reason) -> None:
    account = world.core.create_account("instagram")
    client = world.client("instagram")
    info = await world.connect(client, account.id)
    world.core.fire_event(account.id, event)
    answer = await client.read(info)
    assert answer.verdict.action is Action.RECONNECT and answer.verdict.reason is reason


async def test_a_revoked_permission(world: World) -> None:
    account = world.core.create_account("instagram")
    client = world.client("instagram")
    info = await world.connect(client, account.id)
    world.core.fire_event(
        account.id,
        "permission_revoked",
        client_id=client.app.client_id,
        permission="instagram_business_basic",
    )
    assert (await client.read(info)).verdict.reason is Reason.PERMISSION_MISSING


async def test_a_cancelled_window(world: World) -> None:
    client = world.client("instagram")
    account = world.core.create_account("instagram")
    result = await consent(
        world.http, client.authorize_url("s"), account_id=account.id, approve=False
    )
    assert result.code is None and result.error == "access_denied" and result.state == "s"


async def test_a_reused_code_fails_the_connect(world: World) -> None:
    from conntrack.clients import ProviderCallError

    client = world.client("instagram")
    account = world.core.create_account("instagram")
    result = await consent(world.http, client.authorize_url("s"), account_id=account.id)
    assert result.code is not None
    await client.connect(result.code, "s")
    with pytest.raises(ProviderCallError) as caught:
        await client.connect(result.code, "s")
    assert caught.value.answer.body["error_message"] == "This authorization code has been used"


# -- Instagram with Facebook Login ---------------------------------------------------------


async def linked_connection(world: World) -> tuple[Any, Any, str]:
    fb_account = world.core.create_account("facebook", pages=1, linked_instagram=True)
    page_id = fb_account.pages[0].id
    client = world.client("instagram-facebook", page_id)
    assert isinstance(client, FacebookClient) and client.instagram
    info = await world.connect(client, fb_account.id)
    return client, info, page_id


async def test_instagram_facebook_reads_the_linked_account(world: World) -> None:
    client, info, page_id = await linked_connection(world)
    page = world.core.page(page_id)
    assert page is not None and client.target == page.instagram_account_id
    answer = await client.read(info)
    assert answer.ok and list(answer.body["data"][0]) == [
        "id",
        "caption",
        "media_type",
        "timestamp",
    ]
    assert info.hard_expiry == info.expires_at and not client.can_refresh(info)


async def test_instagram_facebook_switched_to_personal(world: World) -> None:
    client, info, _ = await linked_connection(world)
    world.core.fire_event(client.target, "switched_to_personal")
    answer = await client.read(info)
    assert answer.status == 400 and answer.verdict.reason is Reason.NOT_ELIGIBLE


async def test_instagram_facebook_page_unlinked(world: World) -> None:
    client, info, page_id = await linked_connection(world)
    page = world.core.page(page_id)
    assert page is not None
    world.core.fire_event(page.admin_id, "page_unlinked", page_id=page_id)
    answer = await client.read(info)
    assert answer.verdict.action is Action.RECONNECT
    assert answer.verdict.reason is Reason.NOT_ELIGIBLE and client.target is None
    # Linked again (before a reconnect): the next read finds it.
    assert page.instagram_account_id is None
    ig = world.core.create_account("instagram", pages=0, linked_page=page_id)
    again = await client.read(info)
    assert again.ok and client.target == ig.id


async def test_instagram_facebook_without_a_linked_account(world: World) -> None:
    fb_account = world.core.create_account("facebook", pages=1)
    client = world.client("instagram-facebook", fb_account.pages[0].id)
    info = await world.connect(client, fb_account.id)
    assert client.target is None
    answer = await client.read(info)
    assert answer.verdict.reason is Reason.NOT_ELIGIBLE


async def test_instagram_facebook_password_change(world: World) -> None:
    client, info, page_id = await linked_connection(world)
    page = world.core.page(page_id)
    assert page is not None
    world.core.fire_event(page.admin_id, "password_change")
    answer = await client.read(info)
    assert answer.verdict.reason is Reason.PASSWORD_CHANGED
