"""The product's Google / YouTube client: the classifier on every error body of
PROVIDERS.md §6, and the client against the in-process fake through connect, refresh,
read, revoke and the account events — including the app in "Testing" status whose
refresh tokens die after 7 days (a case the scenario language cannot set up yet)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from conntrack import Action, Reason, classify, load_profile
from conntrack.clients import AppCredentials, ClientContext, ProviderCallError, consent
from conntrack.clients.google import GoogleClient
from fake_providers import Account, Core, create_app

REDIRECT = "https://app.example.test/callback"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
INVALID_AUTH = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def api_error(
    code: int, message: str, reason: str, domain: str = "global", status: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    }
    if status:
        error["status"] = status
    return {"error": error}


# -- the classifier ----------------------------------------------------------------------

CASES: list[tuple[str, int, Any, Action, Reason | None]] = [
    (
        "dead grant",
        400,
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
        Action.RECONNECT,
        Reason.REFRESH_FAILED,
    ),
    (
        "bad code",
        400,
        {"error": "invalid_grant", "error_description": "Bad Request"},
        Action.RECONNECT,
        Reason.REFRESH_FAILED,
    ),
    (
        "malformed code",
        400,
        {"error": "invalid_grant", "error_description": "Malformed auth code."},
        Action.RECONNECT,
        Reason.REFRESH_FAILED,
    ),
    (
        "missing verifier",
        400,
        {"error": "invalid_grant", "error_description": "Missing code verifier."},
        Action.RECONNECT,
        Reason.REFRESH_FAILED,
    ),
    (
        "another app's refresh token",
        401,
        {"error": "unauthorized_client", "error_description": "Unauthorized"},
        Action.RECONNECT,
        Reason.REFRESH_FAILED,
    ),
    (
        "bad secret",
        401,
        {"error": "invalid_client", "error_description": "Unauthorized"},
        Action.IGNORE,
        None,
    ),
    (
        "unknown client",
        401,
        {"error": "invalid_client", "error_description": "The OAuth client was not found."},
        Action.IGNORE,
        None,
    ),
    (
        "redirect mismatch",
        400,
        {"error": "redirect_uri_mismatch", "error_description": "Bad Request"},
        Action.IGNORE,
        None,
    ),
    (
        "revoke failed",
        400,
        {"error": "invalid_token", "error_description": "Token expired or revoked"},
        Action.REFRESH,
        None,
    ),
    (
        "tokeninfo",
        400,
        {"error": "invalid_token", "error_description": "Invalid Value"},
        Action.REFRESH,
        None,
    ),
    ("tokeninfo v3", 400, {"error_description": "Invalid Value"}, Action.REFRESH, None),
    (
        "userinfo",
        401,
        {"error": "invalid_request", "error_description": "Invalid Credentials"},
        Action.REFRESH,
        None,
    ),
    (
        "unauthenticated",
        401,
        {
            "error": {
                "code": 401,
                "message": INVALID_AUTH,
                "errors": [
                    {
                        "message": "Invalid Credentials",
                        "domain": "global",
                        "reason": "authError",
                        "location": "Authorization",
                        "locationType": "header",
                    }
                ],
                "status": "UNAUTHENTICATED",
            }
        },
        Action.REFRESH,
        None,
    ),
    (
        "insufficient scopes",
        403,
        {
            "error": {
                "code": 403,
                "message": "Request had insufficient authentication scopes.",
                "errors": [
                    {
                        "message": "Insufficient Permission",
                        "domain": "global",
                        "reason": "insufficientPermissions",
                    }
                ],
                "status": "PERMISSION_DENIED",
            }
        },
        Action.RECONNECT,
        Reason.PERMISSION_MISSING,
    ),
    (
        "insufficient scopes, errors left out",
        403,
        {
            "error": {
                "code": 403,
                "message": "Request had insufficient authentication scopes.",
                "status": "PERMISSION_DENIED",
            }
        },
        Action.RECONNECT,
        Reason.PERMISSION_MISSING,
    ),
    (
        "no channel",
        401,
        api_error(401, "Unauthorized", "youtubeSignupRequired", "youtube.header"),
        Action.RECONNECT,
        Reason.NOT_ELIGIBLE,
    ),
    (
        "suspended",
        403,
        api_error(
            403,
            "The YouTube account of the authenticated user is suspended.",
            "authenticatedUserAccountSuspended",
            "youtube.common",
        ),
        Action.RECONNECT,
        Reason.SUSPENDED,
    ),
    (
        "forbidden",
        403,
        api_error(403, "Access forbidden.", "forbidden"),
        Action.RECONNECT,
        Reason.INSUFFICIENT_ACCESS,
    ),
    (
        "quota",
        403,
        api_error(
            403,
            "The request cannot be completed because you have exceeded your quota.",
            "quotaExceeded",
            "youtube.quota",
        ),
        Action.RETRY,
        None,
    ),
    (
        "rate limit 403",
        403,
        api_error(403, "Rate Limit Exceeded", "rateLimitExceeded", "usageLimits"),
        Action.RETRY,
        None,
    ),
    (
        "throttled",
        429,
        api_error(
            429,
            "Resource has been exhausted (e.g. check quota).",
            "rateLimitExceeded",
            status="RESOURCE_EXHAUSTED",
        ),
        Action.RETRY,
        None,
    ),
    (
        "429 without errors",
        429,
        {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}},
        Action.RETRY,
        None,
    ),
    (
        "backend",
        500,
        api_error(500, "Internal error encountered.", "backendError", status="INTERNAL"),
        Action.RETRY,
        None,
    ),
    (
        "unavailable",
        503,
        {
            "error": {
                "code": 503,
                "message": "The service is currently unavailable.",
                "status": "UNAVAILABLE",
            }
        },
        Action.RETRY,
        None,
    ),
    ("html 502", 502, "<html>Bad Gateway</html>", Action.RETRY, None),
    (
        "bad parameter",
        400,
        api_error(400, "Required parameter: part", "required", status="INVALID_ARGUMENT"),
        Action.IGNORE,
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "status", "body", "action", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_classifier(
    name: str, status: int, body: Any, action: Action, reason: Reason | None
) -> None:
    verdict = classify("google", status, {}, body)
    assert verdict.action is action, name
    assert verdict.reason == reason, name
    if action is Action.RETRY:
        assert not verdict.kills_connection


def test_classifier_reads_text_bodies() -> None:
    text = '{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}'
    assert classify("google", 400, {}, text).reason is Reason.REFRESH_FAILED
    assert classify("google", 200, {}, "{}").action is Action.OK


# -- the client against the in-process fake ---------------------------------------------


class Clock:
    def __init__(self, core_clock: Any) -> None:
        self.c = core_clock

    def now(self) -> datetime:
        return self.c.t

    async def sleep_until(self, when: datetime) -> None:  # pragma: no cover - unused
        self.c.t = max(self.c.t, when)


class Manual:
    def __init__(self) -> None:
        self.t = START

    def now(self) -> datetime:
        return self.t

    def advance(self, by: timedelta) -> None:
        self.t += by


class World:
    def __init__(
        self,
        core: Core,
        http: httpx.AsyncClient,
        clock: Manual,
        publishing_status: str = "production",
    ) -> None:
        self.core, self.http, self.clock = core, http, clock
        self.app = core.create_app_registration(
            "google", redirect_uris=[REDIRECT], publishing_status=publishing_status
        )
        self.account: Account = core.create_account("google")
        self.client = self.make_client()

    def make_client(self) -> GoogleClient:
        return GoogleClient(
            ClientContext(
                http=self.http,
                base="http://conntrack.test",
                app=AppCredentials(self.app.client_id, self.app.client_secret, REDIRECT),
                profile=load_profile("google"),
                clock=Clock(self.clock),
                resource=self.account.pages[0].id,
                rng=lambda n: b"\x07" * n,
            )
        )

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
async def http(manual: Manual) -> AsyncIterator[tuple[Core, httpx.AsyncClient]]:
    core = Core(manual, seed=5)
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as c:
        yield core, c


@pytest.fixture
def world(http: tuple[Core, httpx.AsyncClient], manual: Manual) -> World:
    return World(http[0], http[1], manual)


async def test_authorize_url_asks_for_offline_access_consent_and_pkce(world: World) -> None:
    url = httpx.URL(world.client.authorize_url("abc"))
    assert url.path == "/accounts.google.com/o/oauth2/v2/auth"
    q = dict(url.params)
    assert q["access_type"] == "offline" and q["prompt"] == "consent"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["scope"] == "openid email https://www.googleapis.com/auth/youtube.readonly"


async def test_connect_refresh_read_revoke(world: World, manual: Manual) -> None:
    info = await world.connect()
    assert info.hard_expiry is None and info.refresh_token and info.refresh_token.startswith("1//")
    assert info.expires_at == START + timedelta(seconds=3599)
    assert info.user_id == world.account.id
    assert world.client.can_refresh(info)
    assert world.client.refresh_due(info) == info.expires_at - timedelta(minutes=5)
    assert world.client.channel_id is not None and world.client.channel_id.startswith("UC")
    assert (await world.client.read(info)).verdict.action is Action.OK

    manual.advance(timedelta(hours=2))
    answer = await world.client.read(info)
    assert answer.status == 401 and answer.verdict.action is Action.REFRESH
    new = await world.client.refresh(info)
    assert new.refresh_token == info.refresh_token and new.access_token != info.access_token
    assert new.hard_expiry is None and new.expires_at == manual.t + timedelta(seconds=3599)
    assert (await world.client.read(new)).ok

    assert (await world.client.revoke(new)).ok
    answer = await world.client.read(new)
    assert answer.verdict.action is Action.REFRESH
    with pytest.raises(ProviderCallError) as err:
        await world.client.refresh(new)
    assert err.value.answer.verdict.reason is Reason.REFRESH_FAILED


async def test_youtube_does_not_expire_while_refreshed(world: World, manual: Manual) -> None:
    info = await world.connect()
    for _ in range(8):  # two years, refreshed once a quarter
        manual.advance(timedelta(days=91))
        info = await world.client.refresh(info)
        assert info.hard_expiry is None
    assert (await world.client.read(info)).ok


async def test_unused_for_six_months_the_refresh_fails(world: World, manual: Manual) -> None:
    info = await world.connect()
    manual.advance(timedelta(days=183))
    with pytest.raises(ProviderCallError) as err:
        await world.client.refresh(info)
    assert err.value.answer.status == 400
    assert err.value.answer.verdict.reason is Reason.REFRESH_FAILED


async def test_testing_mode_app_refresh_token_dies_after_7_days(
    http: tuple[Core, httpx.AsyncClient], manual: Manual
) -> None:
    """google_testing_mode_7_days: an app in "Testing" publishing status with scopes
    beyond name/email/profile — the refresh token works for 7 days, then the next refresh
    answers invalid_grant and the connection is invalid for refresh_failed."""
    world = World(http[0], http[1], manual, publishing_status="testing")
    info = await world.connect()
    for _ in range(6):
        manual.advance(timedelta(days=1))
        info = await world.client.refresh(info)
    manual.advance(timedelta(days=1))
    with pytest.raises(ProviderCallError) as err:
        await world.client.refresh(info)
    verdict = err.value.answer.verdict
    assert err.value.answer.body == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    assert verdict.action is Action.RECONNECT and verdict.reason is Reason.REFRESH_FAILED


async def test_declined_youtube_scope_is_permission_missing(world: World) -> None:
    info = await world.connect(
        decline=frozenset({"https://www.googleapis.com/auth/youtube.readonly"})
    )
    answer = await world.client.read(info)
    assert answer.status == 403 and answer.verdict.reason is Reason.PERMISSION_MISSING


async def test_account_events(world: World) -> None:
    info = await world.connect()
    world.core.fire_event(world.account.id, "suspended")
    assert (await world.client.read(info)).verdict.reason is Reason.SUSPENDED
    world.core.fire_event(world.account.id, "reinstated")
    world.core.fire_event(world.account.id, "password_change")  # no Gmail scope: harmless
    assert (await world.client.read(info)).ok
    world.core.fire_event(world.account.id, "admin_removed")
    answer = await world.client.read(info)
    assert answer.status == 401 and answer.verdict.reason is Reason.NOT_ELIGIBLE


async def test_reconnect_with_the_wrong_account_is_not_eligible(world: World) -> None:
    await world.connect()
    other = world.core.create_account("google")
    info = await world.connect(account=other)
    answer = await world.client.read(info)
    assert answer.ok and answer.verdict.reason is Reason.NOT_ELIGIBLE


async def test_app_removed_then_refresh_fails(world: World) -> None:
    info = await world.connect()
    world.core.fire_event(world.account.id, "app_removed", client_id=world.app.client_id)
    assert (await world.client.read(info)).verdict.action is Action.REFRESH
    with pytest.raises(ProviderCallError) as err:
        await world.client.refresh(info)
    assert err.value.answer.verdict.reason is Reason.REFRESH_FAILED
