"""The TikTok client: the classifier on every error body of PROVIDERS.md §4, and the
client against the in-process fake through connect, refresh, read, revoke and the
account events, with both profiles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conntrack import classify
from conntrack._classifier import Action
from conntrack._lifecycle import Reason
from conntrack._profiles import Profile, load_profile
from conntrack.clients import AppCredentials, ClientContext, ProviderCallError, consent
from conntrack.clients.tiktok import TikTokClient, answer
from fake_providers import Account, Core, create_app

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REDIRECT = "https://app.example.test/oauth/callback"
LOG = "202601050900000A1B2C3D4E5F60718293A"


class Clock:
    def __init__(self) -> None:
        self.t = START

    def now(self) -> datetime:
        return self.t

    def advance(self, by: timedelta) -> None:
        self.t += by


def api(code: str, message: str = "m") -> dict[str, Any]:
    return {"data": {}, "error": {"code": code, "message": message, "log_id": LOG}}


def oauth(error: str, description: str = "d") -> dict[str, Any]:
    return {"error": error, "error_description": description, "log_id": LOG}


# -- the classifier ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "action", "reason"),
    [
        (401, api("access_token_invalid"), Action.REFRESH, Reason.UNKNOWN),
        (401, api("scope_not_authorized"), Action.RECONNECT, Reason.PERMISSION_MISSING),
        (400, api("scope_permission_missed"), Action.RECONNECT, Reason.PERMISSION_MISSING),
        (400, api("invalid_params"), Action.IGNORE, None),
        (400, api("invalid_param"), Action.IGNORE, None),
        (429, api("rate_limit_exceeded"), Action.RETRY, None),
        (500, api("internal_error"), Action.RETRY, None),
        (503, "<html>Service Unavailable</html>", Action.RETRY, None),
        (403, api("spam_risk_user_banned_from_posting"), Action.RECONNECT, Reason.SUSPENDED),
        (
            403,
            api("unaudited_client_can_only_post_to_private_accounts"),
            Action.RECONNECT,
            Reason.NOT_ELIGIBLE,
        ),
        (403, api("reached_active_user_cap"), Action.RETRY, None),
        (403, api("spam_risk_too_many_posts"), Action.RETRY, None),
        (400, oauth("invalid_grant"), Action.RECONNECT, Reason.REFRESH_FAILED),
        (400, oauth("access_denied"), Action.RECONNECT, Reason.ACCESS_REVOKED),
        (400, oauth("invalid_client"), Action.IGNORE, None),
        (400, oauth("invalid_request"), Action.IGNORE, None),
        (400, oauth("invalid_scope"), Action.IGNORE, None),
        (400, oauth("unauthorized_client"), Action.IGNORE, None),
        (400, oauth("unsupported_grant_type"), Action.IGNORE, None),
        (400, oauth("unsupported_response_type"), Action.IGNORE, None),
        (401, "", Action.REFRESH, Reason.UNKNOWN),
    ],
)
@pytest.mark.parametrize("provider", ["tiktok", "tiktok-2026"])
def test_classifier(
    provider: str, status: int, body: Any, action: Action, reason: Reason | None
) -> None:
    verdict = classify(provider, status, {}, body)
    assert (verdict.action, verdict.reason) == (action, reason)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        assert verdict.code == body["error"]["code"] and verdict.message == "m"


def test_rate_limits_and_outages_are_never_invalid() -> None:
    for status in (429, 500, 502, 503, 504):
        for body in (api("access_token_invalid"), oauth("invalid_grant"), None):
            assert classify("tiktok", status, {}, body).action is Action.RETRY


def test_an_oauth_error_sent_with_http_200_is_not_ok() -> None:
    """classify() calls every 2xx ok; :func:`answer` looks at TikTok's body too."""
    request = httpx.Request("POST", "http://x/open.tiktokapis.com/v2/oauth/token/")
    a = answer(httpx.Response(200, json=oauth("invalid_grant", "nope"), request=request))
    assert a.verdict.action is Action.RECONNECT and a.verdict.reason is Reason.REFRESH_FAILED
    a = answer(httpx.Response(200, json={"data": {}, "error": {"code": "ok"}}, request=request))
    assert a.verdict.action is Action.OK


# -- the client against the fake -----------------------------------------------------------


@dataclass
class World:
    core: Core
    clock: Clock
    http: httpx.AsyncClient
    client: TikTokClient
    account: Account

    async def connect(self, **kw: Any) -> Any:
        url = self.client.authorize_url("s1")
        result = await consent(self.http, url, account_id=self.account.id, **kw)
        assert result.code and result.state == "s1", result
        return await self.client.connect(result.code, "s1")


async def world(profile: Profile) -> AsyncIterator[World]:
    clock = Clock()
    core = Core(clock, seed=3, profiles={"tiktok": profile})
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as http:
        app = core.create_app_registration("tiktok", redirect_uris=[REDIRECT])
        ctx = ClientContext(
            http=http,
            base="http://conntrack.test",
            app=AppCredentials(app.client_id, app.client_secret, REDIRECT),
            profile=profile,
            clock=clock,
            rng=lambda n: b"\x01" * n,
        )
        yield World(core, clock, http, TikTokClient(ctx), core.create_account("tiktok"))


@pytest.fixture
async def w() -> AsyncIterator[World]:
    async for one in world(load_profile("tiktok")):
        yield one


@pytest.fixture
async def w26() -> AsyncIterator[World]:
    async for one in world(load_profile("tiktok-2026")):
        yield one


async def test_authorize_url_speaks_tiktok(w: World) -> None:
    url = w.client.authorize_url("abc", ("user.info.basic", "video.list"))
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/www.tiktok.com/v2/auth/authorize/"
    assert q["client_key"] == w.client.app.client_id and "client_id" not in q
    assert q["scope"] == "user.info.basic,video.list" and q["response_type"] == "code"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43


async def test_connect_read_refresh_revoke(w: World) -> None:
    info = await w.connect()
    assert info.expires_at == START + timedelta(hours=24)
    assert info.refresh_expires_at == START + timedelta(days=365)
    assert info.hard_expiry == info.refresh_expires_at  # the lifetime does not reset
    assert info.scopes == ("user.info.basic", "video.list", "video.publish")
    assert info.user_id and info.refresh_token and info.refresh_token.startswith("rft.")
    assert w.client.refresh_due(info) == START + timedelta(hours=23)
    read = await w.client.read(info)
    assert read.ok and read.verdict.action is Action.OK and len(read.body["data"]["videos"]) == 5
    me = await w.client.user_info(info)
    assert me.body["data"]["user"]["open_id"] == info.user_id

    w.clock.advance(timedelta(hours=25))
    dead = await w.client.read(info)
    assert dead.status == 401 and dead.verdict.action is Action.REFRESH
    assert w.client.can_refresh(info)
    new = await w.client.refresh(info)
    assert new.access_token != info.access_token and new.refresh_token == info.refresh_token
    assert new.hard_expiry == info.hard_expiry  # still 365 days from the login
    assert (await w.client.read(new)).verdict.action is Action.OK

    gone = await w.client.revoke(new)
    assert gone.ok and gone.body == {}
    assert (await w.client.read(new)).verdict.action is Action.REFRESH
    with pytest.raises(ProviderCallError) as err:
        await w.client.refresh(new)
    assert err.value.answer.verdict.reason is Reason.REFRESH_FAILED


async def test_no_refresh_past_the_hard_expiry(w: World) -> None:
    info = await w.connect()
    w.clock.advance(timedelta(days=365))
    assert not w.client.can_refresh(info)


async def test_rotation_keeps_the_newest_refresh_token(w26: World) -> None:
    info = await w26.connect()
    assert info.expires_at == START + timedelta(hours=2)
    assert info.hard_expiry == START + timedelta(days=180)
    assert w26.client.refresh_due(info) == START + timedelta(hours=1, minutes=45)
    w26.clock.advance(timedelta(days=3))
    new = await w26.client.refresh(info)
    assert new.refresh_token != info.refresh_token
    assert new.hard_expiry == info.hard_expiry
    newer = await w26.client.refresh(new)
    assert (await w26.client.read(newer)).verdict.action is Action.OK
    with pytest.raises(ProviderCallError) as err:
        await w26.client.refresh(info)  # rotated out
    assert err.value.answer.status == 200 and err.value.answer.verdict.action is Action.RECONNECT


@pytest.mark.parametrize("event", ["password_change", "app_removed"])
async def test_events_that_kill_the_grant(w: World, event: str) -> None:
    info = await w.connect()
    w.core.fire_event(w.account.id, event)
    assert (await w.client.read(info)).verdict.action is Action.REFRESH
    with pytest.raises(ProviderCallError) as err:
        await w.client.refresh(info)
    assert err.value.answer.verdict.reason is Reason.REFRESH_FAILED


async def test_permission_revoked_is_permission_missing(w: World) -> None:
    info = await w.connect()
    w.core.fire_event(
        w.account.id,
        "permission_revoked",
        client_id=w.client.app.client_id,
        permission="video.list",
    )
    verdict = (await w.client.read(info)).verdict
    assert (verdict.action, verdict.reason) == (Action.RECONNECT, Reason.PERMISSION_MISSING)


async def test_declined_scope_at_consent(w: World) -> None:
    info = await w.connect(decline=frozenset({"video.list"}))
    assert info.scopes == ("user.info.basic", "video.publish")
    verdict = (await w.client.read(info)).verdict
    assert verdict.reason is Reason.PERMISSION_MISSING


async def test_suspended_reads_but_cannot_post(w: World) -> None:
    info = await w.connect()
    assert (await w.client.publish_init(info, title="hi")).verdict.action is Action.OK
    w.core.fire_event(w.account.id, "suspended")
    assert (await w.client.read(info)).verdict.action is Action.OK
    for a in (await w.client.creator_info(info), await w.client.publish_init(info, title="hi")):
        assert a.status == 403 and a.verdict.reason is Reason.SUSPENDED


async def test_an_unaudited_client_is_not_eligible_to_post_publicly(w: World) -> None:
    w.core.set_publishing_status(w.client.app.client_id, "testing")
    info = await w.connect()
    public = await w.client.publish_init(info, title="hi", privacy_level="PUBLIC_TO_EVERYONE")
    assert public.status == 403 and public.verdict.reason is Reason.NOT_ELIGIBLE
    assert (await w.client.publish_init(info, title="hi")).verdict.action is Action.OK


async def test_a_cancelled_consent(w: World) -> None:
    url = w.client.authorize_url("s2")
    result = await consent(w.http, url, account_id=w.account.id, approve=False)
    assert result.error == "access_denied" and result.state == "s2" and result.code is None


async def test_a_bad_code_is_a_provider_call_error(w: World) -> None:
    w.client.authorize_url("s3")
    with pytest.raises(ProviderCallError) as err:
        await w.client.connect("bogus", "s3")
    assert err.value.step == "code exchange"
    assert err.value.answer.body["error"] == "invalid_grant"
