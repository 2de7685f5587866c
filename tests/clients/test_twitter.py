"""The product's X client: the classifier on every error body of PROVIDERS.md §5, and
the client against the in-process fake through connect, refresh, read, revoke and the
account events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conntrack import Action, Reason, TravelClock, classify, load_profile
from conntrack.clients import AppCredentials, ClientContext, ProviderCallError, consent
from conntrack.clients.twitter import TwitterClient
from fake_providers import Core, create_app

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
REDIRECT = "https://app.example/callback"
BASE = "http://conntrack.test"
LOCKED = (
    "To protect our users from spam and other malicious activity, this account is "
    "temporarily locked. Please log in to https://twitter.com to unlock your account."
)


def v1(code: int, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


# -- the classifier --------------------------------------------------------------------

CASES: list[tuple[int, Any, Action, Reason | None]] = [
    # (status, body, action, reason)
    (401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
     Action.REFRESH, Reason.UNKNOWN),
    (403, {"detail": "The user used for authentication is suspended", "title": "Forbidden",
           "status": 403, "type": "https://api.twitter.com/2/problems/user-suspended"},
     Action.RECONNECT, Reason.SUSPENDED),
    (403, {"detail": LOCKED, "title": "Forbidden", "status": 403, "type": "about:blank"},
     Action.RECONNECT, Reason.LOCKED),
    (403, {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"},
     Action.RECONNECT, Reason.PERMISSION_MISSING),
    (401, v1(32, "Could not authenticate you."), Action.RECONNECT, Reason.UNKNOWN),
    (403, v1(64, "Your account is suspended and is not permitted to access this feature."),
     Action.RECONNECT, Reason.SUSPENDED),
    (401, v1(89, "Invalid or expired token."), Action.RECONNECT, Reason.ACCESS_REVOKED),
    (403, v1(326, LOCKED), Action.RECONNECT, Reason.LOCKED),
    (400, {"error": "invalid_request",
           "error_description": "Value passed for the token was invalid."},
     Action.RECONNECT, Reason.REFRESH_FAILED),
    (400, {"error": "invalid_request",
           "error_description": "Value passed for the authorization code was invalid."},
     Action.RECONNECT, Reason.UNKNOWN),
    (401, {"error": "unauthorized_client",
           "error_description": "Missing valid authorization header"},
     Action.IGNORE, None),
    (400, {"error": "invalid_client"}, Action.IGNORE, None),
    (400, {"error": "invalid_request", "error_description": "Missing required parameter [code]."},
     Action.IGNORE, None),
    (404, v1(34, "Sorry, that page does not exist"), Action.IGNORE, None),
    (400, {"errors": [{"parameters": {"id": ["abc"]},
                       "message": "The `id` query parameter value [abc] is not valid"}],
           "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
           "type": "https://api.twitter.com/2/problems/invalid-request"},
     Action.IGNORE, None),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "action", "reason"), CASES)
def test_classifier(status: int, body: Any, action: Action, reason: Reason | None) -> None:
    verdict = classify("twitter", status, {}, body)
    assert (verdict.action, verdict.reason) == (action, reason)


def test_rate_limits_and_outages_are_retry_never_invalid() -> None:
    too_many = {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    for status, body in [(429, too_many), (429, v1(88, "Rate limit exceeded")), (429, None)]:
        verdict = classify("twitter", status, {"x-rate-limit-remaining": "0"}, body)
        assert verdict.action is Action.RETRY and verdict.reason is None
    assert classify("twitter", 420, {}, v1(88, "Rate limit exceeded")).action is Action.RETRY
    for status in (500, 502, 503, 504):
        for body in (v1(131, "Internal error"), None, "<html>", {"title": "x", "status": status}):
            verdict = classify("twitter", status, {}, body)
            assert verdict.action is Action.RETRY and verdict.reason is None


def test_a_body_that_is_not_json_falls_back_to_the_status() -> None:
    assert classify("twitter", 401, {}, "<html>").action is Action.REFRESH
    assert classify("twitter", 403, {}, "nope").action is Action.IGNORE


# -- the client against the in-process fake -------------------------------------------------


class World:
    """A core, its app over ASGI, an X app and account, and the product's client."""

    def __init__(self, http: httpx.AsyncClient, core: Core, clock: TravelClock) -> None:
        self.http, self.core, self.clock = http, core, clock
        app = core.create_app_registration("twitter", redirect_uris=[REDIRECT])
        self.account = core.create_account("twitter")
        self.client = TwitterClient(
            ClientContext(
                http=http,
                base=BASE,
                app=AppCredentials(app.client_id, app.client_secret, REDIRECT),
                profile=core.profile("twitter"),
                clock=clock,
                resource=self.account.id,
            )
        )

    async def connect(self, state: str = "s1", **kw: Any) -> Any:
        url = self.client.authorize_url(state, kw.pop("scopes", None))
        result = await consent(self.http, url, account_id=self.account.id, **kw)
        assert result.state == state and result.code, result
        return await self.client.connect(result.code, state)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = TravelClock(wall=lambda: START)
    core = Core(clock, seed=9)
    transport = httpx.ASGITransport(app=cast(Any, create_app(core)))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield World(http, core, clock)


def test_authorize_url_has_pkce_s256() -> None:
    ctx = ClientContext(
        http=cast(Any, None),
        base="http://f",
        app=AppCredentials("cid", "sec", REDIRECT),
        profile=load_profile("twitter"),
        clock=TravelClock(),
    )
    client = TwitterClient(ctx)
    url = client.authorize_url("st")
    assert url.startswith("http://f/x.com/i/oauth2/authorize?response_type=code&client_id=cid")
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == ["tweet.read users.read offline.access"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert client.authorize_url("other") != url  # a verifier per state


async def test_connect_never_expires_while_refreshable(world: World) -> None:
    info = await world.connect()
    assert info.expires_at == START + 2 * HOUR
    assert info.hard_expiry is None and info.refresh_token
    assert info.user_id == world.account.id
    assert info.scopes == ("tweet.read", "users.read", "offline.access")
    assert world.client.can_refresh(info)
    assert world.client.refresh_due(info) == START + 2 * HOUR - timedelta(minutes=10)
    answer = await world.client.read(info)
    assert answer.ok and len(answer.body["data"]) == 5


async def test_without_offline_access_the_access_token_is_the_hard_expiry(world: World) -> None:
    info = await world.connect(scopes=("tweet.read", "users.read"))
    assert info.refresh_token is None and info.hard_expiry == info.expires_at
    assert not world.client.can_refresh(info) and world.client.refresh_due(info) is None


async def test_refresh_rotates_for_two_years(world: World) -> None:
    info = await world.connect()
    for _ in range(3):
        world.clock.advance(timedelta(days=240))
        expired = await world.client.read(info)
        assert expired.status == 401 and expired.verdict.action is Action.REFRESH
        new = await world.client.refresh(info)
        assert new.refresh_token != info.refresh_token and new.hard_expiry is None
        assert new.expires_at == world.clock.now() + 2 * HOUR
        with pytest.raises(ProviderCallError) as err:
            await world.client.refresh(info)  # the spent refresh token is dead
        assert err.value.answer.verdict.reason is Reason.REFRESH_FAILED
        info = new
        assert (await world.client.read(info)).ok


@pytest.mark.parametrize(
    ("event", "status", "action", "reason"),
    [
        ("suspended", 403, Action.RECONNECT, Reason.SUSPENDED),
        ("locked", 403, Action.RECONNECT, Reason.LOCKED),
        ("password_change", 401, Action.REFRESH, Reason.UNKNOWN),
        ("app_removed", 401, Action.REFRESH, Reason.UNKNOWN),
    ],
)
async def test_account_events(
    world: World, event: str, status: int, action: Action, reason: Reason
) -> None:
    info = await world.connect()
    world.core.fire_event(world.account.id, event)
    answer = await world.client.read(info)
    assert (answer.status, answer.verdict.action, answer.verdict.reason) == (status, action, reason)
    if status == 401:
        # The refresh token died with the access token: only a person can help now. It
        # is hours old, far too young to have died of age: the access was revoked.
        with pytest.raises(ProviderCallError) as err:
            await world.client.refresh(info)
        assert err.value.answer.verdict.action is Action.RECONNECT
        assert err.value.answer.verdict.reason is Reason.ACCESS_REVOKED
    else:
        # Suspension and locks do not kill tokens: a refresh works, the read still fails.
        again = await world.client.read(await world.client.refresh(info))
        assert again.verdict.reason is reason


async def test_reinstated_account_reads_again_after_reconnect(world: World) -> None:
    info = await world.connect()
    world.core.fire_event(world.account.id, "suspended")
    assert (await world.client.read(info)).status == 403
    world.core.fire_event(world.account.id, "reinstated")
    info = await world.connect("s2")
    assert (await world.client.read(info)).ok


async def test_revoke(world: World) -> None:
    info = await world.connect()
    answer = await world.client.revoke(info)
    assert answer.ok and answer.body == {"revoked": True}
    after = await world.client.read(info)
    assert after.status == 401
    with pytest.raises(ProviderCallError):
        await world.client.refresh(info)


async def test_cancelled_consent_is_access_denied(world: World) -> None:
    url = world.client.authorize_url("s9")
    result = await consent(world.http, url, account_id=world.account.id, approve=False)
    assert result.error == "access_denied" and result.state == "s9" and result.code is None


async def test_a_wrong_state_has_no_verifier(world: World) -> None:
    url = world.client.authorize_url("s1")
    result = await consent(world.http, url, account_id=world.account.id)
    assert result.code is not None
    with pytest.raises(ProviderCallError) as err:
        await world.client.connect(result.code, "unknown-state")
    assert err.value.answer.status == 400


def _with_setting(world: World, value: str) -> None:
    """The world's client, with ``refresh_token_revoked_if_younger_than`` set to ``value``."""
    profile = world.client.profile.with_overrides({"refresh_token_revoked_if_younger_than": value})
    world.client = TwitterClient(replace(world.client.ctx, profile=profile))


@pytest.mark.parametrize(
    ("setting", "age", "reason"),
    [
        ("180d", timedelta(days=179), Reason.ACCESS_REVOKED),
        ("180d", timedelta(days=181), Reason.REFRESH_FAILED),
        ("30d", timedelta(days=31), Reason.REFRESH_FAILED),
        ("never", timedelta(days=400), Reason.ACCESS_REVOKED),
    ],
)
async def test_a_refused_refresh_token_young_enough_means_access_revoked(
    world: World, setting: str, age: timedelta, reason: Reason
) -> None:
    _with_setting(world, setting)
    info = await world.connect()
    assert info.refresh_issued_at == START
    world.clock.advance(age)
    world.core.fire_event(world.account.id, "app_removed")
    with pytest.raises(ProviderCallError) as err:
        await world.client.refresh(info)
    verdict = err.value.answer.verdict
    assert err.value.answer.status == 400 and verdict.code == "invalid_request"
    assert verdict.action is Action.RECONNECT and verdict.reason is reason


async def test_the_refresh_token_age_follows_rotation(world: World) -> None:
    info = await world.connect()
    world.clock.advance(timedelta(days=200))
    new = await world.client.refresh(info)
    assert new.refresh_issued_at == world.clock.now() and new.refresh_token != info.refresh_token
    # The rotated-out token is 200 days old: its refusal may be its age.
    with pytest.raises(ProviderCallError) as err:
        await world.client.refresh(info)
    assert err.value.answer.verdict.reason is Reason.REFRESH_FAILED
    # The new one is minutes old when the access is revoked.
    world.clock.advance(timedelta(minutes=5))
    world.core.fire_event(world.account.id, "password_change")
    with pytest.raises(ProviderCallError) as err:
        await world.client.refresh(new)
    assert err.value.answer.verdict.reason is Reason.ACCESS_REVOKED
