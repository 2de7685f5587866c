"""Faults beyond outages and rate limits: named provider errors, HTTP statuses and latency,
on every endpoint of a provider or only on the ones ``endpoint`` matches; one-shot, N
times or for a while — in the core, through HTTP and through the control API."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
import trio
from fp_support import PROVIDERS, REDIRECT, START, ManualClock, reader

from conntrack import Action, classify
from fake_providers import Core, FaultError, InvalidRequest, Reason
from fake_providers.core._faults import endpoint_matches


def without_ids(r: httpx.Response) -> str:
    """The body without its per-request ids (Facebook's fbtrace_id, TikTok's log_id)."""
    return re.sub(r'"(fbtrace_id|log_id)":"[^"]*"', "", r.text)


def same(a: httpx.Response, b: httpx.Response) -> None:
    assert (a.status_code, without_ids(a)) == (b.status_code, without_ids(b))
    for header in ("WWW-Authenticate", "content-type"):
        assert a.headers.get(header) == b.headers.get(header), header


# -- error: what a token dead for that reason gets ---------------------------------------


def kills_on_password_change(core: Core, provider: str, token: str) -> bool:
    return core.check_token(token).reason is Reason.PASSWORD_CHANGED


@pytest.mark.parametrize("name", [e.value for e in FaultError])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_error_fault_answers_what_a_dead_token_gets(
    core: Core, clock: ManualClock, client: httpx.AsyncClient, provider: str, name: str
) -> None:
    """The fault's answer is, byte for byte, the provider's answer to a token that
    really died for that reason at that instant."""
    sync = reader(core, client, provider)
    assert (await sync.read()).status_code == 200
    core.add_fault(provider, "error", error=name, count=1)
    if name == "password_changed":
        core.fire_event(sync.account.id, "password_change")
        if not kills_on_password_change(core, provider, sync.token):
            # Google's tokens without Gmail scopes outlive a password change: the
            # fault still answers its dead-token error.
            faulted = await sync.read()
            assert faulted.status_code == 401 and (await sync.read()).status_code == 200
            return
    elif name == "revoked":
        core.revoke(sync.token)
    elif name == "expired":
        expires_at = core.token(sync.token).expires_at  # type: ignore[union-attr]
        assert expires_at is not None
        clock.advance(expires_at - clock.now())
    else:
        sync = reader(core, client, provider, token="not-a-token-the-fake-issued")
        core.clear_faults()
        core.add_fault(provider, "error", error=name, count=1)
    faulted = await sync.read()
    assert core.faults() == []  # a one-shot
    real = await sync.read()
    assert real.status_code >= 400, real.text
    same(faulted, real)


ERROR_ON_TOKEN_ENDPOINTS = {
    "linkedin": (
        ("POST", "/www.linkedin.com/oauth/v2/accessToken"),
        400,
        '{"error":"invalid_request","error_description":"The provided authorization grant or '
        'refresh token is invalid, expired or revoked."}',
    ),
    "tiktok": (
        ("POST", "/open.tiktokapis.com/v2/oauth/token/"),
        200,  # TikTok's OAuth errors come with HTTP 200 (profile oauth_error_status)
        '{"error":"invalid_grant","error_description":"Refresh token is invalid or expired.",}',
    ),
    "twitter": (
        ("POST", "/api.x.com/2/oauth2/token"),
        400,
        '{"error":"invalid_request","error_description":"Value passed for the token was invalid."}',
    ),
    "google": (
        ("POST", "/oauth2.googleapis.com/token"),
        400,
        '{\n  "error": "invalid_grant",\n  "error_description": "Token has been expired or revoked."\n}\n',
    ),
    "instagram": (
        ("POST", "/api.instagram.com/oauth/access_token"),
        400,
        '{"error_type":"OAuthException","code":400,"error_message":"Matching code was not found '
        'or was already used"}',
    ),
}


@pytest.mark.parametrize("provider", sorted(ERROR_ON_TOKEN_ENDPOINTS))
async def test_an_error_fault_on_a_token_endpoint_refuses_the_grant(
    core: Core, client: httpx.AsyncClient, provider: str
) -> None:
    (method, path), status, body = ERROR_ON_TOKEN_ENDPOINTS[provider]
    core.add_fault(provider, "error", error="revoked", count=1)
    r = await client.request(method, path, data={"grant_type": "refresh_token"})
    assert (r.status_code, without_ids(r)) == (status, body)


async def test_facebook_error_bodies(core: Core, client: httpx.AsyncClient) -> None:
    sync = reader(core, client, "facebook")
    # A token ended on its own is a logged-out session (467); a string never issued has none.
    subcodes = {"password_changed": 460, "expired": 463, "revoked": 467, "invalid_token": None}
    for name, subcode in subcodes.items():
        core.add_fault("facebook", "error", error=name, count=1)
        r = await sync.read()
        error = r.json()["error"]
        assert (r.status_code, error["code"], error.get("error_subcode")) == (400, 190, subcode)
        verdict = classify("facebook", r.status_code, dict(r.headers), r.content)
        if name == "password_changed":
            assert verdict.action is Action.RECONNECT and verdict.reason == "password_changed"
    assert (
        "Session has expired on Monday, 05-Jan-26 01:00:00 PST"
        in ((await _once(core, sync, "expired")).json()["error"]["message"])
    )


async def _once(core: Core, sync: Any, name: str) -> httpx.Response:
    core.add_fault(sync.provider, "error", error=name, count=1)
    return await sync.read()  # type: ignore[no-any-return]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_error_fault_leaves_the_consent_page_alone(
    core: Core, client: httpx.AsyncClient, provider: str
) -> None:
    pages = {
        "facebook": "/www.facebook.com/v21.0/dialog/oauth",
        "instagram": "/www.instagram.com/oauth/authorize",
        "linkedin": "/www.linkedin.com/oauth/v2/authorization",
        "tiktok": "/www.tiktok.com/v2/auth/authorize/",
        "twitter": "/x.com/i/oauth2/authorize",
        "google": "/accounts.google.com/o/oauth2/v2/auth",
    }
    normal = await client.get(pages[provider])
    core.add_fault(provider, "error", error="expired", for_=timedelta(hours=1))
    r = await client.get(pages[provider])
    assert (r.status_code, r.text) == (normal.status_code, normal.text)


# -- status: any status with the provider's generic body ---------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_5xx_status_fault_is_retried(
    core: Core, client: httpx.AsyncClient, provider: str, status: int
) -> None:
    sync = reader(core, client, provider)
    core.add_fault(provider, "status", status=status, count=2)
    for _ in range(2):
        r = await sync.read()
        assert r.status_code == status and r.headers["content-type"].startswith("application/json")
        verdict = classify(provider, r.status_code, dict(r.headers), r.content)
        assert verdict.action is Action.RETRY and verdict.reason is None
    assert (await sync.read()).status_code == 200


STATUS_BODIES = {
    "facebook": '{"error":{"message":"An unexpected error has occurred. Please retry your request '
    'later.","type":"OAuthException","is_transient":true,"code":2,}}',
    "linkedin": '{"status":502,"code":"BAD_GATEWAY","message":"Bad Gateway"}',
    "tiktok": '{"data":{},"error":{"code":"internal_error","message":"This is the generic error '
    "code for TikTok internal errors. Please refer to the error message for details and notify "
    'TikTok support.",}}',
    "twitter": '{"title":"Bad Gateway","detail":"Bad Gateway","type":"about:blank","status":502}',
}


@pytest.mark.parametrize("provider", sorted(STATUS_BODIES))
async def test_a_status_fault_uses_the_providers_envelope(
    core: Core, client: httpx.AsyncClient, provider: str
) -> None:
    sync = reader(core, client, provider)
    core.add_fault(provider, "status", status=502, count=1)
    r = await sync.read()
    assert (r.status_code, without_ids(r)) == (502, STATUS_BODIES[provider])


async def test_google_status_bodies(core: Core, client: httpx.AsyncClient) -> None:
    sync = reader(core, client, "google")
    core.add_fault("google", "status", status=404, count=1)
    r = await sync.read()
    assert r.status_code == 404 and r.json() == {
        "error": {
            "code": 404,
            "message": "Not Found",
            "errors": [{"message": "Not Found", "domain": "global", "reason": "badRequest"}],
            "status": "NOT_FOUND",
        }
    }
    core.add_fault("google", "status", status=418, count=1)
    r = await client.get("/accounts.google.com/o/oauth2/v2/auth")
    assert r.status_code == 418 and "That\N{RIGHT SINGLE QUOTATION MARK}s an error" in r.text


async def test_a_status_fault_on_a_web_page(core: Core, client: httpx.AsyncClient) -> None:
    core.add_fault("facebook", "status", status=500, count=1)
    r = await client.get("/www.facebook.com/v21.0/dialog/oauth")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "Internal Server Error" in r.text and "Facebook" in r.text
    core.add_fault("facebook", "status", status=503, count=1)
    r = await client.get("/www.facebook.com/v21.0/dialog/oauth")
    assert r.status_code == 503 and "Service Unavailable" in r.text


async def test_x_v1_status_codes(core: Core, client: httpx.AsyncClient) -> None:
    url = "/api.twitter.com/1.1/account/verify_credentials.json"
    for status, code in ((500, 131), (503, 130), (429, 88), (401, 32)):
        core.add_fault("twitter", "status", status=status, count=1)
        r = await client.get(url)
        assert r.status_code == status and r.json()["errors"][0]["code"] == code


# -- endpoint: only the paths it matches --------------------------------------------------

FB = ("www.facebook.com", "graph.facebook.com")


@pytest.mark.parametrize(
    ("endpoint", "path", "hit"),
    [
        ("/v21.0/me/accounts", "/graph.facebook.com/v21.0/me/accounts", True),
        ("/v21.0/me/accounts", "/graph.facebook.com/v21.0/me/accounts/", True),
        ("/v21.0/me/accounts", "/graph.facebook.com/v21.0/me", False),
        ("/v21.0/me", "/graph.facebook.com/v21.0/me/accounts", True),  # a prefix
        ("/v21.0/me", "/graph.facebook.com/v21.0/messages", False),  # whole segments
        ("/*/me", "/graph.facebook.com/v19.0/me", True),
        ("/v*/me", "/graph.facebook.com/me", False),
        ("/oauth/access_token", "/graph.facebook.com/oauth/access_token", True),
        ("/graph.facebook.com/me", "/graph.facebook.com/me", True),
        ("/graph.facebook.com/me", "/www.facebook.com/me", False),
        ("/GRAPH.facebook.com/me", "/graph.facebook.com/me", True),
        ("/me", "/graph.facebook.com", False),
    ],
)
def test_endpoint_patterns(endpoint: str, path: str, hit: bool) -> None:
    assert endpoint_matches(endpoint, FB, path) is hit


async def test_a_fault_on_one_endpoint_spares_the_others(
    core: Core, client: httpx.AsyncClient
) -> None:
    sync = reader(core, client, "facebook")
    token = sync.token
    accounts = {"access_token": token}
    core.add_fault(
        "facebook", "error", error="password_changed", endpoint="/v21.0/me/accounts", count=2
    )
    assert (await sync.read()).status_code == 200  # /v21.0/me: not matched, not counted
    r = await client.get("/graph.facebook.com/v21.0/me/accounts", params=accounts)
    assert r.json()["error"]["error_subcode"] == 460
    assert core.faults()[0].remaining == 1
    r = await client.get(
        "/v21.0/me/accounts", params=accounts, headers={"Host": "graph.facebook.com"}
    )
    assert r.json()["error"]["error_subcode"] == 460  # Host-header routing matches too
    assert core.faults() == []
    r = await client.get("/graph.facebook.com/v21.0/me/accounts", params=accounts)
    assert r.status_code == 200


async def test_an_outage_of_the_token_endpoint_only(core: Core, client: httpx.AsyncClient) -> None:
    sync = reader(core, client, "google")
    core.add_fault("google", "outage", endpoint="/token", for_=timedelta(minutes=5))
    r = await client.post("/oauth2.googleapis.com/token", data={"grant_type": "refresh_token"})
    assert r.status_code == 503
    assert (await sync.read()).status_code == 200


# -- latency -----------------------------------------------------------------------------


async def test_latency_delays_then_answers(core: Core, client: httpx.AsyncClient) -> None:
    sync = reader(core, client, "tiktok")
    core.add_fault("tiktok", "latency", delay_ms=50, count=2)
    start = trio.current_time()
    assert (await sync.read()).status_code == 200
    assert trio.current_time() - start >= 0.05
    assert core.faults()[0].remaining == 1
    assert (await client.get("/_conntrack/health")).status_code == 200  # never delayed
    await sync.read()
    assert core.faults() == []
    start = trio.current_time()
    await sync.read()
    assert trio.current_time() - start < 0.05


async def test_latency_then_an_error(core: Core, client: httpx.AsyncClient) -> None:
    sync = reader(core, client, "linkedin")
    core.add_fault("linkedin", "latency", delay_ms=20, for_=timedelta(minutes=1))
    core.add_fault("linkedin", "status", status=503, count=1)
    start = trio.current_time()
    r = await sync.read()
    assert r.status_code == 503 and trio.current_time() - start >= 0.02


async def test_latency_costs_virtual_time_in_a_simulation(autojump_clock: Any) -> None:
    """Under trio's MockClock (a simulation) a 10-minute latency is a jump of the
    virtual clock: the test does not wait for it."""
    core = Core(ManualClock())
    from fake_providers import create_app

    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        sync = reader(core, client, "twitter")
        core.add_fault("twitter", "latency", delay_ms=600_000, count=1)
        start = trio.current_time()
        assert (await sync.read()).status_code == 200
        assert trio.current_time() - start == pytest.approx(600)


# -- limits, and the arguments -----------------------------------------------------------


async def test_a_status_fault_for_a_while(
    core: Core, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    sync = reader(core, client, "twitter")
    core.add_fault("twitter", "status", status=500, for_=timedelta(minutes=10))
    for _ in range(3):
        assert (await sync.read()).status_code == 500
    clock.advance(timedelta(minutes=10))
    assert (await sync.read()).status_code == 200


def test_add_fault_checks_the_new_arguments(core: Core) -> None:
    base: dict[str, Any] = {"provider": "facebook", "count": 1}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**base, "kind": "error"}, "error"),
        ({**base, "kind": "error", "error": "banned"}, "error"),
        ({**base, "kind": "outage", "error": "expired"}, "error"),
        ({**base, "kind": "status"}, "status"),
        ({**base, "kind": "status", "status": 200}, "status"),
        ({**base, "kind": "status", "status": 600}, "status"),
        ({**base, "kind": "status", "status": "502"}, "status"),
        ({**base, "kind": "error", "error": "expired", "status": 500}, "status"),
        ({**base, "kind": "latency", "delay_ms": 0}, "delay_ms"),
        ({**base, "kind": "latency", "delay_ms": 600_001}, "delay_ms"),
        ({**base, "kind": "latency", "delay_ms": 1.5}, "delay_ms"),
        ({**base, "kind": "rate_limit", "delay_ms": 100}, "delay_ms"),
        ({**base, "kind": "outage", "endpoint": "me"}, "endpoint"),
        ({**base, "kind": "outage", "endpoint": "/"}, "endpoint"),
        ({**base, "kind": "outage", "endpoint": "/me?fields=id"}, "endpoint"),
        ({**base, "kind": "outage", "endpoint": "/api.linkedin.com/v2/me"}, "endpoint"),
        ({**base, "kind": "outage", "endpoint": 7}, "endpoint"),
    ]
    for kw, field in cases:
        with pytest.raises(InvalidRequest) as err:
            core.add_fault(**kw)
        assert err.value.field == field, kw
    assert core.faults() == [] and core.seq == 0


async def test_control_api_new_fault_kinds(core: Core, client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/_conntrack/faults",
        json={"provider": "instagram-facebook", "kind": "error", "error": "revoked",
              "endpoint": "/graph.facebook.com/v21.0/me/", "count": 3},
    )  # fmt: skip
    assert r.status_code == 201
    assert {k: v for k, v in r.json().items() if k not in ("id", "start")} == {
        "provider": "facebook",
        "kind": "error",
        "endpoint": "/graph.facebook.com/v21.0/me",
        "error": "revoked",
        "status": None,
        "delay_ms": None,
        "until": None,
        "remaining": 3,
    }
    r = await client.post(
        "/_conntrack/faults",
        json={"provider": "google", "kind": "latency", "delay_ms": 250, "for": "30m"},
    )
    assert r.status_code == 201 and r.json()["delay_ms"] == 250
    assert r.json()["until"] == "2026-01-05T09:30:00Z"
    listed = (await client.get("/_conntrack/faults", params={"provider": "google"})).json()
    assert [f["kind"] for f in listed["data"]] == ["latency"]
    base = {"provider": "google", "count": 1}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**base, "kind": "error", "error": "password_changed", "for": "1h"}, "count"),
        ({**base, "kind": "status", "status": 502, "delay_ms": 10}, "delay_ms"),
        ({**base, "kind": "status", "status": True}, "status"),
        ({**base, "kind": "latency", "delay_ms": "1s"}, "delay_ms"),
        ({**base, "kind": "error", "error": ["expired"]}, "error"),
        ({**base, "kind": "outage", "endpoint": "/graph.facebook.com/me"}, "endpoint"),
        ({**base, "kind": "outage", "for": 3600}, "for"),
        ({**base, "kind": "outage", "until": 1767600000}, "until"),
    ]
    for body, field in cases:
        r = await client.post("/_conntrack/faults", json=body)
        assert r.status_code == 400, body
        assert r.json()["error"]["field"] == field and r.json()["error"]["message"], body


def test_faults_are_asked_latency_first(core: Core) -> None:
    limit = core.add_fault("google", "rate_limit", count=1)
    error = core.add_fault("google", "error", error="expired", count=1)
    status = core.add_fault("google", "status", status=502, count=1)
    outage = core.add_fault("google", "outage", count=1)
    slow = core.add_fault("google", "latency", delay_ms=5, count=1)
    assert core.faults() == [slow, outage, status, error, limit]
    assert core.add_fault("google", "outage", until=START + timedelta(hours=1)).until is not None
    assert core.create_app_registration("google", redirect_uris=[REDIRECT])
