"""X's OAuth 2.0 with PKCE through HTTP: the consent page, the redirect back, the token
endpoint (code, refresh with rotation), revocation, with X's exact error bodies."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, ManualClock

from conntrack import load_profile
from fake_providers import Core, create_app
from fake_providers.core._tokens import s256

AUTHORIZE = "/x.com/i/oauth2/authorize"
TOKEN = "/api.x.com/2/oauth2/token"
REVOKE = "/api.x.com/2/oauth2/revoke"
SCOPES = "tweet.read users.read offline.access"
VERIFIER = "dBjftJeZ4CK-P5zk0sIbR6w0Hv9lT2tyIpEdsnW8Zsga"
TOKEN_INVALID = {
    "error": "invalid_request",
    "error_description": "Value passed for the token was invalid.",
}
CODE_INVALID = {
    "error": "invalid_request",
    "error_description": "Value passed for the authorization code was invalid.",
}
NO_HEADER = {
    "error": "unauthorized_client",
    "error_description": "Missing valid authorization header",
}


class X:
    """Plays X's OAuth 2.0 flow against the fake, through HTTP."""

    def __init__(self, core: Core, client: httpx.AsyncClient) -> None:
        self.core, self.client = core, client
        self.app = core.create_app_registration("twitter", redirect_uris=[REDIRECT], name="Postly")
        self.account = core.create_account("twitter", name="Ada Lovelace")

    def query(self, scope: str = SCOPES, **extra: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": "st4te",
            "code_challenge": s256(VERIFIER),
            "code_challenge_method": "S256",
            **extra,
        }

    async def approve(self, scope: str = SCOPES, **extra: str) -> httpx.Response:
        form: dict[str, Any] = {**self.query(scope, **extra), "account_id": self.account.id}
        form["granted"] = scope.split()
        form["action"] = "approve"
        return await self.client.post(AUTHORIZE, data=form)

    async def code(self, scope: str = SCOPES) -> str:
        r = await self.approve(scope)
        assert r.status_code == 302, r.text
        return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]

    @property
    def basic(self) -> dict[str, str]:
        raw = f"{self.app.client_id}:{self.app.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    async def exchange(
        self, value: str, *, headers: dict[str, str] | None = None, **over: str
    ) -> httpx.Response:
        form = {
            "code": value,
            "grant_type": "authorization_code",
            "client_id": self.app.client_id,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
            **over,
        }
        headers = self.basic if headers is None else headers
        return await self.client.post(TOKEN, data=form, headers=headers)

    async def tokens(self, scope: str = SCOPES) -> dict[str, Any]:
        r = await self.exchange(await self.code(scope))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def refresh(self, refresh_token: str) -> httpx.Response:
        form = {
            "refresh_token": refresh_token,
            "grant_type": "refresh_token",
            "client_id": self.app.client_id,
        }
        return await self.client.post(TOKEN, data=form, headers=self.basic)


@pytest.fixture
def x(core: Core, client: httpx.AsyncClient) -> X:
    return X(core, client)


async def test_consent_page_has_the_form_the_browser_fills_in(x: X) -> None:
    other = x.core.create_account("twitter", name="Zed Zulu")
    for host in ("x.com", "twitter.com"):
        r = await x.client.get(f"/{host}/i/oauth2/authorize", params=x.query())
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        assert "Postly" in html and html.count("<form") == 1
        assert f'<option value="{x.account.id}">' in html and other.id in html
        assert "@AdaLovelace" in html
        for scope in SCOPES.split():
            assert f'name="granted" value="{scope}" checked' in html
        for name in ("client_id", "redirect_uri", "state", "scope", "code_challenge"):
            assert f'type="hidden" name="{name}"' in html
        assert 'value="approve"' in html and 'value="cancel"' in html


async def test_approve_redirects_with_state_then_code(x: X) -> None:
    r = await x.approve()
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(f"{REDIRECT}?state=st4te&code=")
    assert len(parse_qs(urlsplit(location).query)["code"][0]) == 91


async def test_cancel_redirects_with_access_denied(x: X) -> None:
    form = {**x.query(), "account_id": x.account.id, "action": "cancel"}
    r = await x.client.post(AUTHORIZE, data=form)
    assert r.status_code == 302
    assert r.headers["location"] == f"{REDIRECT}?error=access_denied&state=st4te"


@pytest.mark.parametrize(
    "bad",
    [
        {"client_id": "nope"},
        {"redirect_uri": "https://evil.example/cb"},
        {"code_challenge": ""},
        {"response_type": "token"},
        {"code_challenge_method": "md5"},
    ],
)
async def test_bad_authorize_requests_get_x_error_page_never_a_redirect(
    x: X, bad: dict[str, str]
) -> None:
    r = await x.client.get(AUTHORIZE, params=x.query(**bad))
    assert r.status_code == 400 and "location" not in r.headers
    assert "You weren&#39;t able to give access to the App" in r.text


async def test_code_exchange_answers_x_token_shape(x: X) -> None:
    body = await x.tokens()
    assert list(body) == ["token_type", "expires_in", "access_token", "scope", "refresh_token"]
    assert body["token_type"] == "bearer" and body["expires_in"] == 7200
    assert body["scope"] == SCOPES
    assert len(body["access_token"]) == 91 and len(body["refresh_token"]) == 91


async def test_no_refresh_token_without_offline_access(x: X) -> None:
    body = await x.tokens("tweet.read users.read")
    assert "refresh_token" not in body and body["scope"] == "tweet.read users.read"


async def test_declined_scope_is_left_out(x: X) -> None:
    form: dict[str, Any] = {**x.query(), "account_id": x.account.id, "action": "approve"}
    form["granted"] = ["tweet.read", "users.read"]
    r = await x.client.post(AUTHORIZE, data=form)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    body = (await x.exchange(code)).json()
    assert body["scope"] == "tweet.read users.read" and "refresh_token" not in body


async def test_reused_expired_or_mismatched_codes(x: X, clock: ManualClock) -> None:
    code = await x.code()
    assert (await x.exchange(code)).status_code == 200
    r = await x.exchange(code)
    assert r.status_code == 400 and r.json() == CODE_INVALID
    code = await x.code()
    assert (await x.exchange(code, code_verifier="wrong-" + VERIFIER)).json() == CODE_INVALID
    assert (await x.exchange(code, redirect_uri="https://other/cb")).json() == CODE_INVALID
    clock.advance(timedelta(seconds=30))
    assert (await x.exchange(code)).json() == CODE_INVALID


@pytest.mark.parametrize("name", ["code", "redirect_uri", "code_verifier", "grant_type"])
async def test_missing_parameters(x: X, name: str) -> None:
    r = await x.exchange("c", **{name: ""})
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_request",
        "error_description": f"Missing required parameter [{name}].",
    }


async def test_confidential_client_needs_basic_auth(x: X) -> None:
    code = await x.code()
    r = await x.exchange(code, headers={})
    assert r.status_code == 401 and r.json() == NO_HEADER
    bad = base64.b64encode(f"{x.app.client_id}:wrong".encode()).decode()
    r = await x.exchange(code, headers={"Authorization": f"Basic {bad}"})
    assert r.status_code == 401 and r.json() == NO_HEADER
    assert (await x.exchange(code)).status_code == 200


async def test_public_client_sends_client_id_in_the_body(clock: ManualClock) -> None:
    profile = load_profile("twitter", {"client_type": "public"})
    core = Core(clock, seed=3, profiles={"twitter": profile})
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        x = X(core, client)
        r = await x.exchange(await x.code(), headers={})
        assert r.status_code == 200, r.text
        r = await x.exchange("c", headers={}, client_id="")
        assert r.json() == {
            "error": "invalid_request",
            "error_description": "Missing required parameter [client_id].",
        }
        r = await x.exchange("c", headers={}, client_id="unknown")
        assert r.status_code == 400 and r.json() == {"error": "invalid_client"}


async def test_refresh_rotates_and_the_spent_token_dies(x: X) -> None:
    first = await x.tokens()
    r = await x.refresh(first["refresh_token"])
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"] and second["expires_in"] == 7200
    r = await x.refresh(first["refresh_token"])
    assert r.status_code == 400 and r.json() == TOKEN_INVALID
    assert (await x.refresh("made-up")).json() == TOKEN_INVALID
    assert (await x.refresh(second["refresh_token"])).status_code == 200


async def test_refresh_after_password_change_is_invalid(x: X) -> None:
    first = await x.tokens()
    x.core.fire_event(x.account.id, "password_change")
    r = await x.refresh(first["refresh_token"])
    assert r.status_code == 400 and r.json() == TOKEN_INVALID


async def test_unsupported_grant_type(x: X) -> None:
    r = await x.exchange("c", grant_type="password")
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


async def test_revoke_ends_the_family(x: X) -> None:
    body = await x.tokens()
    form = {"token": body["access_token"], "token_type_hint": "access_token"}
    form["client_id"] = x.app.client_id
    r = await x.client.post(REVOKE, data=form, headers=x.basic)
    assert r.status_code == 200 and r.text == '{"revoked":true}'
    assert (await x.refresh(body["refresh_token"])).json() == TOKEN_INVALID
    r = await x.client.post(REVOKE, data={**form, "token": "never-issued"}, headers=x.basic)
    assert r.json() == {"revoked": True}
    r = await x.client.post(REVOKE, data=form)
    assert r.status_code == 401 and r.json() == NO_HEADER


async def test_legacy_api_host_serves_the_token_endpoint(x: X) -> None:
    code = await x.code()
    form = {
        "code": code,
        "grant_type": "authorization_code",
        "client_id": x.app.client_id,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    r = await x.client.post("/api.twitter.com/2/oauth2/token", data=form, headers=x.basic)
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
