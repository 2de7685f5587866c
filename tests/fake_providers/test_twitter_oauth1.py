"""X's OAuth 1.0a through HTTP: request token, the consent page, access token, and
signed API calls, signed by oauthlib as a real client signs them."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, ManualClock
from oauthlib.oauth1 import Client as Signer

from fake_providers import Core

BASE = "http://conntrack.test"
REQUEST_TOKEN = "/api.x.com/oauth/request_token"
ACCESS_TOKEN = "/api.x.com/oauth/access_token"
AUTHORIZE = "/api.x.com/oauth/authorize"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class OAuth1:
    """Plays the three legs against the fake with oauthlib's signatures."""

    def __init__(self, core: Core, client: httpx.AsyncClient) -> None:
        self.core, self.client = core, client
        self.app = core.create_app_registration("twitter", redirect_uris=[REDIRECT], name="Postly")
        self.account = core.create_account("twitter", name="Ada Lovelace")

    async def post(self, path: str, signer: Signer, body: str = "") -> httpx.Response:
        uri, headers, signed = signer.sign(
            BASE + path, "POST", body or None, FORM if body else None
        )
        return await self.client.post(uri, headers=headers, content=signed or b"")

    async def get(self, path: str, signer: Signer) -> httpx.Response:
        uri, headers, _ = signer.sign(BASE + path, "GET")
        return await self.client.get(uri, headers=headers)

    async def request_token(self, callback: str = REDIRECT) -> dict[str, str]:
        signer = Signer(self.app.client_id, self.app.client_secret, callback_uri=callback)
        r = await self.post(REQUEST_TOKEN, signer)
        assert r.status_code == 200, r.text
        return dict(parse_qsl(r.text))

    async def approve(self, token: str, action: str = "approve") -> httpx.Response:
        form = {"oauth_token": token, "account_id": self.account.id, "action": action}
        return await self.client.post(AUTHORIZE, data=form)

    async def access(self, request: dict[str, str], verifier: str) -> httpx.Response:
        signer = Signer(
            self.app.client_id,
            self.app.client_secret,
            resource_owner_key=request["oauth_token"],
            resource_owner_secret=request["oauth_token_secret"],
            verifier=verifier,
        )
        return await self.post(ACCESS_TOKEN, signer)

    async def login(self) -> dict[str, str]:
        request = await self.request_token()
        r = await self.approve(request["oauth_token"])
        verifier = parse_qs(urlsplit(r.headers["location"]).query)["oauth_verifier"][0]
        r = await self.access(request, verifier)
        assert r.status_code == 200, r.text
        return dict(parse_qsl(r.text))

    def signer(self, tokens: dict[str, str], secret: str | None = None) -> Signer:
        return Signer(
            self.app.client_id,
            secret or self.app.client_secret,
            resource_owner_key=tokens["oauth_token"],
            resource_owner_secret=tokens["oauth_token_secret"],
        )


@pytest.fixture
def o1(core: Core, client: httpx.AsyncClient) -> OAuth1:
    return OAuth1(core, client)


async def test_request_token_answers_form_encoded_confirmed(o1: OAuth1) -> None:
    signer = Signer(o1.app.client_id, o1.app.client_secret, callback_uri=REDIRECT)
    r = await o1.post(REQUEST_TOKEN, signer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    body = dict(parse_qsl(r.text))
    assert list(body) == ["oauth_token", "oauth_token_secret", "oauth_callback_confirmed"]
    assert body["oauth_callback_confirmed"] == "true"


async def test_request_token_with_a_bad_signature_is_32(o1: OAuth1) -> None:
    signer = Signer(o1.app.client_id, "not-the-secret", callback_uri=REDIRECT)
    r = await o1.post(REQUEST_TOKEN, signer)
    assert r.status_code == 401
    assert r.text == '{"errors":[{"code":32,"message":"Could not authenticate you."}]}'


async def test_request_token_with_an_unapproved_callback_is_415(o1: OAuth1) -> None:
    signer = Signer(o1.app.client_id, o1.app.client_secret, callback_uri="https://evil/cb")
    r = await o1.post(REQUEST_TOKEN, signer)
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == 415


async def test_consent_page_carries_the_request_token(o1: OAuth1) -> None:
    request = await o1.request_token()
    for leg in ("authorize", "authenticate"):
        params = {"oauth_token": request["oauth_token"]}
        r = await o1.client.get(f"/api.x.com/oauth/{leg}", params=params)
        assert r.status_code == 200 and r.text.count("<form") == 1
        assert f'type="hidden" name="oauth_token" value="{request["oauth_token"]}"' in r.text
        assert f'<option value="{o1.account.id}">' in r.text


async def test_unknown_request_token_gets_whoa_there(o1: OAuth1) -> None:
    r = await o1.client.get(AUTHORIZE, params={"oauth_token": "nope"})
    assert r.status_code == 403 and "Whoa there!" in r.text


async def test_three_legs_give_tokens_that_never_expire(o1: OAuth1, clock: ManualClock) -> None:
    request = await o1.request_token()
    r = await o1.approve(request["oauth_token"])
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["oauth_token"] == [request["oauth_token"]] and query["oauth_verifier"]
    r = await o1.access(request, query["oauth_verifier"][0])
    assert r.status_code == 200
    body = dict(parse_qsl(r.text))
    assert list(body) == ["oauth_token", "oauth_token_secret", "user_id", "screen_name"]
    assert body["user_id"] == o1.account.id and body["screen_name"] == "AdaLovelace"
    assert body["oauth_token"].startswith(f"{o1.account.id}-")
    clock.advance(timedelta(days=3650))
    r = await o1.get("/api.x.com/2/users/me", o1.signer(body))
    assert r.status_code == 200 and r.json()["data"]["id"] == o1.account.id


async def test_cancel_redirects_with_denied(o1: OAuth1) -> None:
    request = await o1.request_token()
    r = await o1.approve(request["oauth_token"], "cancel")
    assert r.headers["location"] == f"{REDIRECT}?denied={request['oauth_token']}"


async def test_a_typed_account_id_wins_over_the_list(o1: OAuth1) -> None:
    other = o1.core.create_account("twitter", name="Grace Hopper")
    request = await o1.request_token()
    page = await o1.client.get(AUTHORIZE, params={"oauth_token": request["oauth_token"]})
    assert 'name="typed_account_id"' in page.text
    form = {
        "oauth_token": request["oauth_token"],
        "account_id": o1.account.id,
        "typed_account_id": other.id,
        "action": "approve",
    }
    r = await o1.client.post(AUTHORIZE, data=form)
    verifier = parse_qs(urlsplit(r.headers["location"]).query)["oauth_verifier"][0]
    r = await o1.access(request, verifier)
    assert dict(parse_qsl(r.text))["user_id"] == other.id


async def test_oob_shows_a_pin(o1: OAuth1) -> None:
    request = await o1.request_token("oob")
    r = await o1.approve(request["oauth_token"])
    assert r.status_code == 200 and 'id="oauth_pin"' in r.text


async def test_access_token_errors_are_plain_text(o1: OAuth1) -> None:
    request = await o1.request_token()
    await o1.approve(request["oauth_token"])
    r = await o1.access(request, "wrong")
    assert r.status_code == 401
    assert r.text == "Error processing your OAuth request: Invalid oauth_verifier parameter"
    r = await o1.access({**request, "oauth_token": "unknown"}, "v")
    assert r.status_code == 401 and r.text == "Invalid request token."
    signer = Signer(o1.app.client_id, o1.app.client_secret)
    r = await o1.post(ACCESS_TOKEN, signer)
    assert r.status_code == 401 and r.text == "Request token missing"


async def test_signed_calls_with_bad_signature_or_dead_token(o1: OAuth1) -> None:
    tokens = await o1.login()
    r = await o1.get("/api.x.com/1.1/account/verify_credentials.json", o1.signer(tokens))
    assert r.status_code == 200 and r.json()["id_str"] == o1.account.id
    assert r.json()["screen_name"] == "AdaLovelace"
    bad = o1.signer(tokens, secret="wrong")
    r = await o1.get("/api.x.com/1.1/account/verify_credentials.json", bad)
    assert r.status_code == 401
    assert r.json() == {"errors": [{"code": 32, "message": "Could not authenticate you."}]}
    r = await o1.get("/api.x.com/2/users/me", bad)
    assert r.status_code == 401 and r.json()["title"] == "Unauthorized"
    o1.core.fire_event(o1.account.id, "app_removed")
    r = await o1.get("/api.x.com/1.1/account/verify_credentials.json", o1.signer(tokens))
    assert r.status_code == 401
    assert r.json() == {"errors": [{"code": 89, "message": "Invalid or expired token."}]}


async def test_host_routed_requests_verify_against_the_real_url(o1: OAuth1) -> None:
    """A client pointed at the fake through a hosts entry signs https://api.x.com/…."""
    tokens = await o1.login()
    _, headers, _ = o1.signer(tokens).sign("https://api.x.com/2/users/me", "GET")
    r = await o1.client.get("/2/users/me", headers={**headers, "Host": "api.x.com"})
    assert r.status_code == 200, r.text
