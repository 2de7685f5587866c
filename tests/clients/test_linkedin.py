"""The product's LinkedIn client: the classifier on every error body of PROVIDERS.md §3,
and the client against the in-process fake through connect, refresh, read, revoke and
the account events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest

from conntrack import Action, ProfileError, Reason, TravelClock, classify, load_profile
from conntrack.clients import AppCredentials, ClientContext, ProviderCallError, consent
from conntrack.clients.linkedin import LinkedInClient
from fake_providers import Core, create_app

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
REDIRECT = "https://app.example/callback"
BASE = "http://conntrack.test"

REFRESH_INVALID = (
    "The provided authorization grant or refresh token is invalid, expired or revoked."
)
CODE_INVALID = (
    "Unable to retrieve access token: appid/redirect uri/code verifier does not match "
    "authorization code. Or authorization code expired. Or external member binding exists"
)


def api(status: int, service: int | None, code: str, message: str) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status}
    if service is not None:
        body["serviceErrorCode"] = service
    return {**body, "code": code, "message": message}


# -- the classifier --------------------------------------------------------------------

CASES: list[tuple[int, Any, Action, Reason | None, bool]] = [
    # (status, body, action, reason, expired)
    (401, {"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401},
     Action.IGNORE, None, False),
    (401, api(401, 65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
     Action.REFRESH, Reason.UNKNOWN, False),
    (401, api(401, 65601, "REVOKED_ACCESS_TOKEN",
              "The token used in the request has been revoked by the user"),
     Action.RECONNECT, Reason.ACCESS_REVOKED, False),
    (401, api(401, 65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
     Action.REFRESH, None, True),
    (403, api(403, 100, "ACCESS_DENIED",
              "Not enough permissions to access: partnerApiPostsExternal.FINDER-author.20241101"),
     Action.RECONNECT, Reason.INSUFFICIENT_ACCESS, False),
    (403, api(403, 100, "ACCESS_DENIED", "Not enough permissions to access: userinfo.GET.NO_VERSION"),
     Action.RECONNECT, Reason.INSUFFICIENT_ACCESS, False),
    (426, api(426, None, "NONEXISTENT_VERSION", "Requested version 20230601 is not active"),
     Action.IGNORE, None, False),
    (400, api(400, None, "VERSION_MISSING", "A version must be present."), Action.IGNORE, None, False),
    (429, api(429, 101, "TOO_MANY_REQUESTS",
              "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."),
     Action.RETRY, None, False),
    (500, api(500, None, "INTERNAL_SERVER_ERROR", "Internal Server Error"), Action.RETRY, None, False),
    (503, "<html>Service Unavailable</html>", Action.RETRY, None, False),
    (404, api(404, None, "RESOURCE_NOT_FOUND", "No virtual resource found"), Action.IGNORE, None, False),
    (400, {"error": "invalid_request", "error_description": REFRESH_INVALID},
     Action.RECONNECT, Reason.REFRESH_FAILED, False),
    (400, {"error": "invalid_request", "error_description": CODE_INVALID},
     Action.RECONNECT, Reason.UNKNOWN, False),
    (400, {"error": "invalid_redirect_uri", "error_description": CODE_INVALID},
     Action.RECONNECT, Reason.UNKNOWN, False),
    (401, {"error": "invalid_client", "error_description": "Client authentication failed"},
     Action.IGNORE, None, False),
    (400, {"error": "invalid_request", "error_description": 'A required parameter "code" is missing'},
     Action.IGNORE, None, False),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "action", "reason", "expired"), CASES)
def test_classifier(
    status: int, body: Any, action: Action, reason: Reason | None, expired: bool
) -> None:
    verdict = classify("linkedin", status, {}, body)
    assert (verdict.action, verdict.reason, verdict.expired) == (action, reason, expired)


def test_classifier_reads_text_bodies_and_codes() -> None:
    text = (
        '{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN",'
        '"message":"The token used in the request has been revoked by the user"}'
    )
    verdict = classify("linkedin", 401, {}, text)
    assert verdict.reason is Reason.ACCESS_REVOKED and verdict.code == "65601 REVOKED_ACCESS_TOKEN"
    assert verdict.message.startswith("The token used")


def test_rate_limits_and_outages_are_never_invalid() -> None:
    for status in (429, 500, 502, 503, 504):
        for body in (api(status, 65601, "REVOKED_ACCESS_TOKEN", "x"), None, "oops"):
            verdict = classify("linkedin", status, {}, body)
            assert verdict.action is Action.RETRY and verdict.reason is None


# -- the client against the in-process fake -------------------------------------------------


class World:
    """A core, its app over ASGI, a LinkedIn app and member, and the product's client."""

    def __init__(self, http: httpx.AsyncClient, core: Core, clock: TravelClock) -> None:
        self.http, self.core, self.clock = http, core, clock
        app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT])
        self.account = core.create_account("linkedin", pages=1)
        self.organization = self.account.pages[0].id
        self.client = LinkedInClient(
            ClientContext(
                http=http,
                base=BASE,
                app=AppCredentials(app.client_id, app.client_secret, REDIRECT),
                profile=core.profile("linkedin"),
                clock=clock,
                resource=self.organization,
            )
        )

    async def connect(self, **kw: Any) -> Any:
        result = await consent(
            self.http, self.client.authorize_url("s1"), account_id=self.account.id, **kw
        )
        assert result.state == "s1" and result.code, result
        return await self.client.connect(result.code, "s1")


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = TravelClock(wall=lambda: START)
    core = Core(clock, seed=9)
    transport = httpx.ASGITransport(app=cast(Any, create_app(core)))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield World(http, core, clock)


def test_authorize_url_is_linkedins() -> None:
    ctx = ClientContext(
        http=cast(Any, None),
        base="http://x",
        app=AppCredentials("cid", "sec", REDIRECT),
        profile=load_profile("linkedin"),
        clock=TravelClock(),
    )
    url = LinkedInClient(ctx).authorize_url("st")
    assert url.startswith("http://x/www.linkedin.com/oauth/v2/authorization?response_type=code")
    assert "scope=r_organization_social+w_organization_social+rw_organization_admin" in url


async def test_connect_refresh_due_and_hard_expiry(world: World) -> None:
    info = await world.connect()
    assert info.expires_at == START + timedelta(seconds=5183999)
    assert info.refresh_token and info.refresh_expires_at == START + timedelta(seconds=31536059)
    assert info.hard_expiry == info.refresh_expires_at  # not the 60-day access token
    assert info.scopes == (
        "r_organization_social",
        "w_organization_social",
        "rw_organization_admin",
    )
    assert world.client.can_refresh(info)
    assert world.client.refresh_due(info) == info.expires_at - 7 * DAY
    assert (await world.client.read(info)).ok


async def test_refresh_keeps_the_hard_expiry(world: World) -> None:
    info = await world.connect()
    world.clock.advance(59 * DAY)
    new = await world.client.refresh(info)
    assert new.access_token != info.access_token and new.refresh_token == info.refresh_token
    assert new.expires_at == START + 59 * DAY + timedelta(seconds=5183999)
    assert new.hard_expiry == info.hard_expiry  # 306 days left, still day 365
    assert (await world.client.read(new)).ok
    world.clock.advance(301 * DAY)  # day 360: the access token dies with the refresh token
    last = await world.client.refresh(new)
    assert last.expires_at == last.hard_expiry == info.hard_expiry
    assert world.client.refresh_due(last) is None  # nothing more a refresh could give


async def test_after_day_365_the_refresh_fails(world: World) -> None:
    info = await world.connect()
    world.clock.advance(timedelta(seconds=31536059))
    assert not world.client.can_refresh(info)
    with pytest.raises(ProviderCallError) as caught:
        await world.client.refresh(info)
    verdict = caught.value.answer.verdict
    assert verdict.action is Action.RECONNECT and verdict.reason is Reason.REFRESH_FAILED


async def test_an_expired_access_token_asks_for_a_refresh(world: World) -> None:
    info = await world.connect()
    world.clock.advance(61 * DAY)
    answer = await world.client.read(info)
    assert answer.status == 401 and answer.verdict.action is Action.REFRESH
    assert (await world.client.read(await world.client.refresh(info))).ok


async def test_app_removed_and_password_change_are_access_revoked(world: World) -> None:
    for event in ("app_removed", "password_change"):
        info = await world.connect()
        world.core.fire_event(world.account.id, event)
        answer = await world.client.read(info)
        assert answer.status == 401 and answer.verdict.reason is Reason.ACCESS_REVOKED
        with pytest.raises(ProviderCallError) as caught:
            await world.client.refresh(info)
        assert caught.value.answer.verdict.reason is Reason.REFRESH_FAILED


async def test_admin_removed_is_insufficient_access(world: World) -> None:
    info = await world.connect()
    world.core.fire_event(world.account.id, "admin_removed", page_id=world.organization)
    answer = await world.client.read(info)
    assert answer.status == 403 and answer.verdict.action is Action.RECONNECT
    assert answer.verdict.reason is Reason.INSUFFICIENT_ACCESS


async def test_a_declined_read_scope_is_insufficient_access(world: World) -> None:
    info = await world.connect(decline=frozenset({"r_organization_social"}))
    answer = await world.client.read(info)
    assert answer.verdict.reason is Reason.INSUFFICIENT_ACCESS


async def test_introspect_userinfo_and_revoke(world: World) -> None:
    info = await world.connect()
    facts = await world.client.introspect(info.access_token)
    assert facts.body["status"] == "active" and facts.body["auth_type"] == "3L"
    answer = await world.client.userinfo(info)
    assert answer.status == 403 and answer.verdict.reason is Reason.INSUFFICIENT_ACCESS
    assert (await world.client.revoke(info)).ok
    answer = await world.client.read(info)
    assert answer.verdict.action is Action.RECONNECT
    assert answer.verdict.reason is Reason.ACCESS_REVOKED
    assert (await world.client.introspect(info.refresh_token or "")).body["status"] == "revoked"


async def test_a_bad_code_is_a_connect_failure(world: World) -> None:
    with pytest.raises(ProviderCallError) as caught:
        await world.client.connect("AQnope", "s1")
    assert caught.value.step == "code exchange"
    assert caught.value.answer.verdict.code == "invalid_request"


@pytest.mark.parametrize("event", ["restricted", "suspended", "locked"])
async def test_a_barred_member_is_restricted_not_revoked(world: World, event: str) -> None:
    """65601 for a token introspection still calls active: the member's account is
    barred, not the token revoked — the profile's ``revoked_while_active_reason``."""
    info = await world.connect()
    world.core.fire_event(world.account.id, event)
    answer = await world.client.read(info)
    assert answer.status == 401 and answer.body["serviceErrorCode"] == 65601
    assert answer.verdict.action is Action.RECONNECT
    assert answer.verdict.reason is Reason.RESTRICTED
    facts = await world.client.introspect(info.access_token)
    assert facts.body["status"] == "active"


async def test_revoked_while_active_reason_is_a_profile_setting(world: World) -> None:
    info = await world.connect()
    world.core.fire_event(world.account.id, "restricted")
    for setting, reason in [("", Reason.ACCESS_REVOKED), ("suspended", Reason.SUSPENDED)]:
        profile = world.client.profile.with_overrides({"revoked_while_active_reason": setting})
        world.client = LinkedInClient(replace(world.client.ctx, profile=profile))
        assert (await world.client.read(info)).verdict.reason is reason


async def test_a_bad_revoked_while_active_reason_is_a_clear_error(world: World) -> None:
    profile = world.client.profile.with_overrides({"revoked_while_active_reason": "barred"})
    with pytest.raises(ProfileError) as caught:
        LinkedInClient(replace(world.client.ctx, profile=profile))
    message = str(caught.value)
    assert "revoked_while_active_reason" in message and "'barred' is no reason" in message
    assert "restricted" in message
