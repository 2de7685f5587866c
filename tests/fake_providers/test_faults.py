"""Provider-wide faults: outages and rate limits, in the core and through HTTP — each
provider's exact error while a fault is active, the read working again once it ends,
``count`` faults, what a rate limit spares, ``seq`` and ``quiet_until``, and the control
API's ``/_conntrack/faults``."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fp_support import PROVIDERS, REDIRECT, START, ManualClock, mint, reader

from conntrack import Action, classify
from fake_providers import Core, FaultKind, InvalidRequest, NotFound

FB_DOWN = (
    '{"error":{"message":"An unexpected error has occurred. Please retry your request later.",'
    '"type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"TRACE"}}'
)
FB_LIMIT = (
    '{"error":{"message":"(#4) Application request limit reached","type":"OAuthException",'
    '"is_transient":true,"code":4,"fbtrace_id":"TRACE"}}'
)
TT_INTERNAL = (
    '{"data":{},"error":{"code":"internal_error","message":"This is the generic error code '
    "for TikTok internal errors. Please refer to the error message for details and notify "
    'TikTok support.","log_id":"LOG"}}'
)
TT_LIMIT = (
    '{"data":{},"error":{"code":"rate_limit_exceeded","message":"The API rate limit was '
    'exceeded. Please try again later.","log_id":"LOG"}}'
)
GOOGLE_DOWN = {
    "error": {
        "code": 503,
        "message": "The service is currently unavailable.",
        "errors": [
            {
                "message": "The service is currently unavailable.",
                "domain": "global",
                "reason": "backendError",
            }
        ],
        "status": "UNAVAILABLE",
    }
}
GOOGLE_LIMIT = {
    "error": {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "errors": [
            {
                "message": "Resource has been exhausted (e.g. check quota).",
                "domain": "global",
                "reason": "rateLimitExceeded",
            }
        ],
        "status": "RESOURCE_EXHAUSTED",
    }
}

#: provider → kind → (status, exact body; TRACE / LOG stand for the per-request ids).
EXPECTED: dict[str, dict[str, tuple[int, str]]] = {
    "facebook": {"outage": (500, FB_DOWN), "rate_limit": (403, FB_LIMIT)},
    "instagram": {"outage": (500, FB_DOWN), "rate_limit": (403, FB_LIMIT)},
    "linkedin": {
        "outage": (
            503,
            '{"status":503,"code":"SERVICE_UNAVAILABLE","message":"Service Unavailable"}',
        ),
        "rate_limit": (
            429,
            '{"status":429,"serviceErrorCode":101,"code":"TOO_MANY_REQUESTS","message":"Resource '
            'level throttle APPLICATION DAY limit for calls to this resource is reached."}',
        ),
    },
    "tiktok": {"outage": (500, TT_INTERNAL), "rate_limit": (429, TT_LIMIT)},
    "twitter": {
        "outage": (
            503,
            '{"title":"Service Unavailable","detail":"Service Unavailable","type":"about:blank",'
            '"status":503}',
        ),
        "rate_limit": (
            429,
            '{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank",'
            '"status":429}',
        ),
    },
    "google": {
        "outage": (503, json.dumps(GOOGLE_DOWN, indent=2) + "\n"),
        "rate_limit": (429, json.dumps(GOOGLE_LIMIT, indent=2) + "\n"),
    },
}


def exact(r: httpx.Response, provider: str, kind: str) -> None:
    status, body = EXPECTED[provider][kind]
    text = r.text
    if provider in ("facebook", "instagram"):
        text = text.replace(r.json()["error"]["fbtrace_id"], "TRACE")
    if provider == "tiktok":
        text = text.replace(r.json()["error"]["log_id"], "LOG")
    assert (r.status_code, text) == (status, body)


# -- each provider's answer, and the read working again afterwards ----------------------


@pytest.mark.parametrize("kind", ["outage", "rate_limit"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_read_during_a_fault_gets_the_providers_error(
    core: Core, clock: ManualClock, client: httpx.AsyncClient, provider: str, kind: str
) -> None:
    sync = reader(core, client, provider)
    assert (await sync.read()).status_code == 200
    # Short-lived tokens (1 h on Facebook and Google) outlive a 30-minute fault.
    fault = core.add_fault(provider, kind, for_=timedelta(minutes=30))
    assert fault.until == START + timedelta(minutes=30) and fault.remaining is None
    r = await sync.read()
    exact(r, provider, kind)
    verdict = classify(provider, r.status_code, dict(r.headers), r.content)
    assert verdict.action is Action.RETRY and verdict.reason is None
    clock.advance(timedelta(minutes=29, seconds=59))
    exact(await sync.read(), provider, kind)
    clock.advance(timedelta(seconds=1))
    assert (await sync.read()).status_code == 200
    assert core.faults() == []


async def test_facebook_rate_limit_headers(core: Core, client: httpx.AsyncClient) -> None:
    sync = reader(core, client, "facebook")
    core.add_fault("facebook", "rate_limit", for_=timedelta(hours=2))
    r = await sync.read()
    assert r.headers["X-App-Usage"] == '{"call_count":100,"total_cputime":0,"total_time":0}'
    assert r.headers["WWW-Authenticate"] == (
        'OAuth "Facebook Platform" "invalid_request" "(#4) Application request limit reached"'
    )


async def test_x_rate_limit_headers_reset_when_the_fault_ends(
    core: Core, client: httpx.AsyncClient
) -> None:
    sync = reader(core, client, "twitter")
    fault = core.add_fault("twitter", "rate_limit", for_=timedelta(hours=2))
    r = await sync.read()
    assert fault.until is not None
    assert r.headers["x-rate-limit-limit"] == "75"  # the profile's users_me window
    assert r.headers["x-rate-limit-remaining"] == "0"
    assert r.headers["x-rate-limit-reset"] == str(int(fault.until.timestamp()))
    core.clear_faults()
    core.add_fault("twitter", "rate_limit", count=1)
    r = await sync.read()
    reset = START + timedelta(minutes=15)  # [U] a count fault has no end: X's window
    assert r.headers["x-rate-limit-reset"] == str(int(reset.timestamp()))


async def test_x_v1_answers_in_its_own_shape(core: Core, client: httpx.AsyncClient) -> None:
    core.create_app_registration("twitter", redirect_uris=[REDIRECT])
    url = "/api.twitter.com/1.1/account/verify_credentials.json"
    core.add_fault("twitter", "outage", count=1)
    r = await client.get(url)
    assert (r.status_code, r.text) == (503, '{"errors":[{"code":130,"message":"Over capacity"}]}')
    core.add_fault("twitter", "rate_limit", count=1)
    r = await client.get(url)
    assert (r.status_code, r.text) == (
        429,
        '{"errors":[{"code":88,"message":"Rate limit exceeded"}]}',
    )
    assert r.headers["x-rate-limit-limit"] == "75"


async def test_a_host_header_request_is_faulted_too(core: Core, client: httpx.AsyncClient) -> None:
    token, _ = mint(core, "facebook")
    core.add_fault("facebook", "outage", count=1)
    r = await client.get(
        "/v21.0/me", params={"access_token": token}, headers={"Host": "graph.facebook.com"}
    )
    exact(r, "facebook", "outage")


# -- what an outage hits and what a rate limit spares -----------------------------------

#: provider → (token endpoint: method, path; consent page path).
OAUTH = {
    "facebook": (("GET", "/graph.facebook.com/v21.0/oauth/access_token"), "/www.facebook.com/v21.0/dialog/oauth"),
    "instagram": (("POST", "/api.instagram.com/oauth/access_token"), "/www.instagram.com/oauth/authorize"),
    "linkedin": (("POST", "/www.linkedin.com/oauth/v2/accessToken"), "/www.linkedin.com/oauth/v2/authorization"),
    "tiktok": (("POST", "/open.tiktokapis.com/v2/oauth/token/"), "/www.tiktok.com/v2/auth/authorize/"),
    "twitter": (("POST", "/api.x.com/2/oauth2/token"), "/x.com/i/oauth2/authorize"),
    "google": (("POST", "/oauth2.googleapis.com/token"), "/accounts.google.com/o/oauth2/v2/auth"),
}  # fmt: skip


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_outage_hits_the_token_endpoint_and_the_consent_page(
    core: Core, client: httpx.AsyncClient, provider: str
) -> None:
    (method, token_path), page = OAUTH[provider]
    normal = await client.request(method, token_path)
    core.add_fault(provider, "outage", for_=timedelta(hours=1))
    r = await client.request(method, token_path)
    assert r.status_code >= 500 and r.status_code != normal.status_code
    assert r.headers["content-type"].startswith("application/json")
    assert classify(provider, r.status_code, dict(r.headers), r.content).action is Action.RETRY
    r = await client.get(page)
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert "Service Unavailable" in r.text


OAUTH_OUTAGE = {
    "instagram": (
        500,
        '{"error_type":"OAuthException","code":500,"error_message":"An unexpected error has '
        'occurred. Please retry your request later."}',
    ),
    "linkedin": (
        503,
        '{"error":"temporarily_unavailable","error_description":"The service is temporarily '
        'unavailable. Please try again later."}',
    ),
}


@pytest.mark.parametrize("provider", sorted(OAUTH_OUTAGE))
async def test_oauth_hosts_with_their_own_envelope(
    core: Core, client: httpx.AsyncClient, provider: str
) -> None:
    (method, path), _ = OAUTH[provider]
    core.add_fault(provider, "outage", count=1)
    r = await client.request(method, path)
    assert (r.status_code, r.text) == OAUTH_OUTAGE[provider]


def without_ids(r: httpx.Response) -> str:
    """The body without its per-request ids (Facebook's fbtrace_id, TikTok's log_id)."""
    return re.sub(r'"(fbtrace_id|log_id)":"[^"]*"', "", r.text)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_rate_limit_spares_the_token_endpoint_and_the_consent_page(
    core: Core, client: httpx.AsyncClient, provider: str
) -> None:
    (method, token_path), page = OAUTH[provider]
    normal_token = await client.request(method, token_path)
    normal_page = await client.get(page)
    core.add_fault(provider, "rate_limit", for_=timedelta(hours=1))
    r = await client.request(method, token_path)
    assert (r.status_code, without_ids(r)) == (normal_token.status_code, without_ids(normal_token))
    assert (await client.get(page)).status_code == normal_page.status_code
    assert core.faults()[0].remaining is None


async def test_the_control_api_is_never_faulted(core: Core, client: httpx.AsyncClient) -> None:
    for provider in PROVIDERS:
        core.add_fault(provider, "outage", for_=timedelta(hours=1))
    assert (await client.get("/_conntrack/health")).status_code == 200
    assert len((await client.get("/_conntrack/faults")).json()["data"]) == 6


async def test_other_providers_are_untouched(core: Core, client: httpx.AsyncClient) -> None:
    linkedin = reader(core, client, "linkedin")
    core.add_fault("facebook", "outage", for_=timedelta(hours=1))
    assert (await linkedin.read()).status_code == 200


async def test_an_outage_wins_over_a_rate_limit(core: Core, client: httpx.AsyncClient) -> None:
    sync = reader(core, client, "tiktok")
    core.add_fault("tiktok", "rate_limit", count=2)
    core.add_fault("tiktok", "outage", count=1)
    exact(await sync.read(), "tiktok", "outage")
    exact(await sync.read(), "tiktok", "rate_limit")
    exact(await sync.read(), "tiktok", "rate_limit")
    assert (await sync.read()).status_code == 200


# -- count faults, seq, quiet_until ------------------------------------------------------


async def test_a_count_fault_ends_after_n_answers(core: Core, client: httpx.AsyncClient) -> None:
    sync = reader(core, client, "linkedin")
    fault = core.add_fault("linkedin", "rate_limit", count=3)
    assert fault.until is None and fault.remaining == 3
    for left in (2, 1):
        exact(await sync.read(), "linkedin", "rate_limit")
        listed = (await client.get("/_conntrack/faults")).json()["data"]
        assert [f["remaining"] for f in listed] == [left]
    exact(await sync.read(), "linkedin", "rate_limit")
    assert (await client.get("/_conntrack/faults")).json()["data"] == []
    assert (await sync.read()).status_code == 200


async def test_requests_a_rate_limit_spares_do_not_count(
    core: Core, client: httpx.AsyncClient
) -> None:
    core.add_fault("google", "rate_limit", count=1)
    await client.post("/oauth2.googleapis.com/token")
    assert [f.remaining for f in core.faults()] == [1]


def test_seq_rises_on_add_remove_and_count(core: Core, clock: ManualClock) -> None:
    s = core.seq
    one = core.add_fault("facebook", "outage", for_=timedelta(hours=1))
    assert core.seq == s + 1 and one.seq == core.seq
    two = core.add_fault("twitter", "rate_limit", count=2)
    assert core.seq == s + 2
    core.fault_hit(two)
    assert core.seq == s + 3 and two.remaining == 1
    core.fault_hit(one)  # a time-limited fault does not change
    assert core.seq == s + 3
    assert core.remove_fault(two.id) is two
    assert core.seq == s + 4 and [f.id for f in core.faults()] == [one.id]
    clock.advance(timedelta(hours=1))  # ending by time is not a mutation
    assert core.faults() == [] and core.seq == s + 4
    assert core.clear_faults() == [] and core.seq == s + 4
    core.add_fault("google", "outage", until=START + timedelta(days=1))
    core.add_fault("tiktok", "outage", count=1)
    assert len(core.clear_faults()) == 2 and core.seq == s + 7


def test_faults_are_listed_outages_first_and_by_provider(core: Core) -> None:
    a = core.add_fault("facebook", "rate_limit", count=1)
    b = core.add_fault("instagram-facebook", "outage", count=1)  # a profile name: facebook
    c = core.add_fault("google", "rate_limit", count=1)
    assert b.provider == "facebook" and b.kind is FaultKind.OUTAGE
    assert core.faults() == [b, a, c]
    assert core.faults("facebook") == [b, a]
    assert core.clear_faults("facebook") == [b, a] and core.faults() == [c]


def test_quiet_until_gives_no_promise_during_a_fault(core: Core, clock: ManualClock) -> None:
    token, _ = mint(core, "linkedin")
    quiet = core.quiet_until(token)
    assert quiet == START + timedelta(seconds=5183999)
    core.add_fault("facebook", "outage", for_=timedelta(hours=6))
    assert core.quiet_until(token) == quiet  # another provider's fault
    core.add_fault("linkedin", "rate_limit", for_=timedelta(hours=6))
    assert core.quiet_until(token) is False
    clock.advance(timedelta(hours=6))
    assert core.quiet_until(token) == quiet


def test_add_fault_checks_its_arguments(core: Core) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"provider": "myspace", "kind": "outage", "count": 1}, "provider"),
        ({"provider": "facebook", "kind": "flood", "count": 1}, "kind"),
        ({"provider": "facebook", "kind": "latency", "count": 1}, "delay_ms"),
        ({"provider": "facebook", "kind": "outage"}, "for"),
        ({"provider": "facebook", "kind": "outage", "for_": timedelta(0)}, "for"),
        ({"provider": "facebook", "kind": "outage", "until": START}, "until"),
        ({"provider": "facebook", "kind": "outage", "count": 0}, "count"),
        ({"provider": "facebook", "kind": "outage", "count": True}, "count"),
        ({"provider": "facebook", "kind": "outage", "for_": timedelta(1), "count": 2}, "count"),
    ]
    for kw, field in cases:
        with pytest.raises(InvalidRequest) as err:
            core.add_fault(**kw)
        assert err.value.field == field, kw
    with pytest.raises(NotFound) as missing:
        core.remove_fault("flt999")
    assert missing.value.field == "fault_id"
    assert core.seq == 0


# -- the control API ---------------------------------------------------------------------


async def test_control_api_faults(
    core: Core, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    r = await client.post(
        "/_conntrack/faults", json={"provider": "facebook", "kind": "outage", "for": "6h"}
    )
    assert r.status_code == 201
    fault = r.json()
    assert fault == {
        "id": fault["id"],
        "provider": "facebook",
        "kind": "outage",
        "endpoint": None,
        "error": None,
        "status": None,
        "delay_ms": None,
        "start": "2026-01-05T09:00:00Z",
        "until": "2026-01-05T15:00:00Z",
        "remaining": None,
    }
    r = await client.post(
        "/_conntrack/faults",
        json={"provider": "linkedin", "kind": "rate_limit", "until": "2026-01-05T11:00:00+00:00"},
    )
    assert r.status_code == 201 and r.json()["until"] == "2026-01-05T11:00:00Z"
    r = await client.post(
        "/_conntrack/faults", json={"provider": "tiktok", "kind": "rate_limit", "count": 5}
    )
    assert r.status_code == 201 and r.json()["remaining"] == 5 and r.json()["until"] is None
    listed = (await client.get("/_conntrack/faults")).json()["data"]
    assert [f["provider"] for f in listed] == ["facebook", "linkedin", "tiktok"]
    assert (await client.get("/_conntrack/state")).json()["faults"] == listed
    clock.advance(timedelta(hours=2))  # the LinkedIn rate limit is over
    listed = (await client.get("/_conntrack/faults")).json()["data"]
    assert [f["provider"] for f in listed] == ["facebook", "tiktok"]
    seq = core.seq
    r = await client.delete(f"/_conntrack/faults/{fault['id']}")
    assert r.status_code == 200 and r.json() == fault and core.seq == seq + 1
    r = await client.delete(f"/_conntrack/faults/{fault['id']}")
    assert r.status_code == 404 and r.json()["error"]["field"] == "fault_id"
    r = await client.delete("/_conntrack/faults")
    assert r.status_code == 200 and [f["provider"] for f in r.json()["data"]] == ["tiktok"]
    assert (await client.get("/_conntrack/faults")).json()["data"] == []


async def test_control_api_clear_by_provider(core: Core, client: httpx.AsyncClient) -> None:
    core.add_fault("facebook", "outage", count=1)
    core.add_fault("google", "outage", count=1)
    r = await client.delete("/_conntrack/faults", params={"provider": "google"})
    assert [f["provider"] for f in r.json()["data"]] == ["google"]
    assert [f.provider for f in core.faults()] == ["facebook"]
    r = await client.delete("/_conntrack/faults", params={"provider": "myspace"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "provider"


async def test_control_api_fault_errors_name_the_field(
    core: Core, client: httpx.AsyncClient
) -> None:
    base = {"provider": "facebook", "kind": "outage"}
    cases: list[tuple[Any, str | None]] = [
        ({"kind": "outage", "for": "1h"}, "provider"),
        ({"provider": "myspace", "kind": "outage", "for": "1h"}, "provider"),
        ({"provider": 7, "kind": "outage", "for": "1h"}, "provider"),
        ({"provider": "facebook", "for": "1h"}, "kind"),
        ({**base, "kind": "flood", "for": "1h"}, "kind"),
        ({**base, "for": "6 hours"}, "for"),
        ({**base, "for": "0s"}, "for"),
        ({**base, "for": True}, "for"),
        ({**base, "until": "tomorrow"}, "until"),
        ({**base, "until": "2026-01-05T10:00:00"}, "until"),
        ({**base, "count": 0}, "count"),
        ({**base, "count": "3"}, "count"),
        ({**base, "count": 2.5}, "count"),
        (base, "for"),
        ({**base, "for": "1h", "until": "2026-01-06T00:00:00Z"}, "until"),
        ({**base, "for": "1h", "count": 2}, "count"),
        ({**base, "for": "1h", "duration": "1h"}, "duration"),
        ([base], None),
    ]
    for body, field in cases:
        r = await client.post("/_conntrack/faults", json=body)
        assert r.status_code == 400, body
        assert r.json()["error"]["field"] == field, body
        assert r.json()["error"]["message"], body
    # An instant already past is well formed; the clock refuses it: a conflict (409).
    r = await client.post("/_conntrack/faults", json={**base, "until": "2026-01-05T08:00:00Z"})
    assert r.status_code == 409 and r.json()["error"]["field"] == "until"
    assert core.faults() == [] and core.seq == 0
