"""Google's authorization-code flow through HTTP: the consent page, the redirect back, the
token endpoint (code exchange with PKCE, the non-rotating refresh grant) and every error
body of PROVIDERS.md §6."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, ManualClock

from fake_providers import Account, App, Core

AUTH = "/accounts.google.com/o/oauth2/v2/auth"
TOKEN = "/oauth2.googleapis.com/token"
YT = "https://www.googleapis.com/auth/youtube.readonly"
GMAIL = "https://www.googleapis.com/auth/gmail.readonly"
SCOPES = f"openid email {YT}"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
VERIFIER = "x" * 64
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")
)


@dataclass
class Google:
    """Plays Google's OAuth flow against the fake, through HTTP like a real client."""

    core: Core
    client: httpx.AsyncClient
    app: App
    account: Account

    def fields(self, scope: str = SCOPES, **extra: str) -> dict[str, str]:
        return {
            "client_id": self.app.client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": scope,
            "access_type": "offline",
            "prompt": "consent",
            "state": "st4te",
            **extra,
        }

    async def approve(
        self, *, granted: list[str] | None = None, account: Account | None = None, **extra: str
    ) -> httpx.Response:
        form: dict[str, Any] = self.fields(**extra)
        form["account_id"] = (account or self.account).id
        form["granted"] = form["scope"].split() if granted is None else granted
        form["action"] = "approve"
        return await self.client.post(AUTH, data=form)

    async def code(self, **kw: Any) -> str:
        r = await self.approve(**kw)
        assert r.status_code == 302, r.text
        return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]

    async def exchange(self, code: str, **override: str) -> httpx.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
            "redirect_uri": REDIRECT,
            **override,
        }
        return await self.client.post(TOKEN, data=data)

    async def tokens(self, **kw: Any) -> dict[str, Any]:
        r = await self.exchange(await self.code(**kw))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def refresh(self, refresh_token: str, **override: str) -> httpx.Response:
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
            **override,
        }
        return await self.client.post(TOKEN, data=data)

    async def channels(self, token: str | None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        query = {"part": "snippet", "mine": "true", **params}
        return await self.client.get(
            "/www.googleapis.com/youtube/v3/channels", params=query, headers=headers
        )


@pytest.fixture
def google(core: Core, client: httpx.AsyncClient) -> Google:
    app = core.create_app_registration("google", redirect_uris=[REDIRECT], name="Scheduly")
    account = core.create_account("google")
    return Google(core, client, app, account)


def exact(response: httpx.Response, status: int, body: dict[str, Any]) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == body
    assert list(response.json()) == list(body)  # Google's key order


DEAD = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
BAD_REQUEST = {"error": "invalid_grant", "error_description": "Bad Request"}

# -- the consent page -------------------------------------------------------------------


async def test_consent_page_lists_accounts_scopes_and_the_request(google: Google) -> None:
    other = google.core.create_account("google", name="Zed Zulu")
    r = await google.client.get(AUTH, params=google.fields(login_hint=other.email))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "Choose an account" in html and "Scheduly" in html
    assert f'<option value="{google.account.id}">' in html
    assert f'<option value="{other.id}" selected>' in html
    for scope in SCOPES.split():
        assert f'name="granted" value="{scope}" checked' in html
    for name in ("client_id", "redirect_uri", "response_type", "scope", "state", "access_type"):
        assert f'type="hidden" name="{name}"' in html
    assert 'value="approve"' in html and 'value="cancel"' in html
    assert f'action="{AUTH}"' in html and html.count("<form") == 1


async def test_approve_redirects_with_state_code_scope(google: Google) -> None:
    r = await google.approve()
    assert r.status_code == 302
    location = r.headers["location"]
    q = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{REDIRECT}?state=st4te&code=4%2F0A")
    # As Google: the scopes as asked, then the long name it adds for "email".
    assert q["scope"] == [f"{SCOPES} {USERINFO_EMAIL}"]
    assert q["authuser"] == ["0"] and q["prompt"] == ["consent"]
    assert len(q["code"][0]) == 74


async def test_cancel_redirects_with_access_denied(google: Google) -> None:
    form = {**google.fields(), "account_id": google.account.id, "action": "cancel"}
    r = await google.client.post(AUTH, data=form)
    assert r.status_code == 302
    assert r.headers["location"] == f"{REDIRECT}?error=access_denied&state=st4te"


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"client_id": "nope"}, 401, "Error 401: invalid_client"),
        ({"redirect_uri": "https://evil.example/cb"}, 400, "Error 400: redirect_uri_mismatch"),
        ({"response_type": ""}, 400, "Required parameter is missing: response_type"),
        ({"scope": ""}, 400, "Missing required parameter: scope"),
        ({"access_type": "forever"}, 400, "Invalid access_type: forever"),
    ],
)
async def test_bad_requests_get_an_error_page_never_a_redirect(
    google: Google, change: dict[str, str], status: int, text: str
) -> None:
    r = await google.client.get(AUTH, params={**google.fields(), **change})
    assert r.status_code == status and text in r.text and "location" not in r.headers


# -- the code exchange ------------------------------------------------------------------


async def test_code_exchange_answers_googles_token_body(google: Google) -> None:
    r = await google.exchange(await google.code())
    assert r.status_code == 200
    body = r.json()
    assert list(body) == [
        "access_token", "expires_in", "refresh_token", "scope", "token_type", "id_token"
    ]  # fmt: skip
    assert body["access_token"].startswith("ya29.") and body["refresh_token"].startswith("1//")
    assert body["expires_in"] == 3599 and body["token_type"] == "Bearer"
    # As Google: "email" by its long name (oauthlib clients see "Scope has changed").
    assert body["scope"] == f"openid {USERINFO_EMAIL} {YT}"
    header, claims, _ = (
        json.loads(_b64(p)) if i < 2 else p for i, p in enumerate(body["id_token"].split("."))
    )
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and len(header["kid"]) == 40
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["aud"] == claims["azp"] == google.app.client_id
    assert claims["sub"] == google.account.id and claims["email"] == google.account.email
    assert claims["exp"] - claims["iat"] == 3600


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_http_basic_client_authentication(google: Google) -> None:
    code = await google.code()
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    r = await google.client.post(
        TOKEN, data=data, auth=(google.app.client_id, google.app.client_secret)
    )
    assert r.status_code == 200, r.text


async def test_no_id_token_without_openid(google: Google) -> None:
    body = await google.tokens(scope=YT)
    assert "id_token" not in body and body["scope"] == YT


async def test_online_access_gets_no_refresh_token(google: Google) -> None:
    body = await google.tokens(access_type="online")
    assert "refresh_token" not in body


async def test_repeat_authorization_without_prompt_consent_gets_no_refresh_token(
    google: Google,
) -> None:
    assert "refresh_token" in await google.tokens(prompt="")
    again = await google.tokens(prompt="")
    assert "refresh_token" not in again
    assert "refresh_token" in await google.tokens(prompt="consent")


async def test_pkce_is_verified(google: Google) -> None:
    extra = {"code_challenge": CHALLENGE, "code_challenge_method": "S256"}
    code = await google.code(**extra)
    exact(
        await google.exchange(code),
        400,
        {"error": "invalid_grant", "error_description": "Missing code verifier."},
    )
    code = await google.code(**extra)
    exact(
        await google.exchange(code, code_verifier="y" * 64),
        400,
        {"error": "invalid_grant", "error_description": "Invalid code verifier."},
    )
    code = await google.code(**extra)
    assert (await google.exchange(code, code_verifier=VERIFIER)).status_code == 200


async def test_code_errors(google: Google, clock: ManualClock) -> None:
    exact(
        await google.exchange("not-a-code"),
        400,
        {"error": "invalid_grant", "error_description": "Malformed auth code."},
    )
    exact(await google.exchange("4/0Aunknown"), 400, BAD_REQUEST)
    code = await google.code()
    assert (await google.exchange(code)).status_code == 200
    exact(await google.exchange(code), 400, BAD_REQUEST)  # reused
    code = await google.code()
    exact(
        await google.exchange(code, redirect_uri="https://app.example/other"),
        400,
        {"error": "redirect_uri_mismatch", "error_description": "Bad Request"},
    )
    code = await google.code()
    clock.advance(timedelta(minutes=11))
    exact(await google.exchange(code), 400, BAD_REQUEST)  # expired


async def test_client_errors(google: Google) -> None:
    code = await google.code()
    exact(
        await google.exchange(code, client_id="nope"),
        401,
        {"error": "invalid_client", "error_description": "The OAuth client was not found."},
    )
    exact(
        await google.exchange(code, client_secret="wrong"),
        401,
        {"error": "invalid_client", "error_description": "Unauthorized"},
    )
    exact(
        await google.exchange(code, grant_type="password"),
        400,
        {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: password"},
    )
    exact(
        await google.exchange("", redirect_uri=REDIRECT),
        400,
        {"error": "invalid_request", "error_description": "Missing required parameter: code"},
    )


# -- the refresh grant ------------------------------------------------------------------


async def test_refresh_gives_a_new_access_token_and_keeps_the_refresh_token(
    google: Google, clock: ManualClock
) -> None:
    first = await google.tokens()
    clock.advance(timedelta(hours=2))
    r = await google.refresh(first["refresh_token"])
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["access_token", "expires_in", "scope", "token_type", "id_token"]
    assert body["access_token"] != first["access_token"] and body["expires_in"] == 3599
    again = await google.refresh(first["refresh_token"])
    assert again.status_code == 200  # not rotated: the same refresh token keeps working


async def test_refresh_errors(google: Google) -> None:
    first = await google.tokens()
    exact(await google.refresh("1//unknown"), 400, BAD_REQUEST)
    other = google.core.create_app_registration("google", redirect_uris=[REDIRECT])
    exact(
        await google.refresh(
            first["refresh_token"], client_id=other.client_id, client_secret=other.client_secret
        ),
        401,
        {"error": "unauthorized_client", "error_description": "Unauthorized"},
    )


async def test_refresh_token_dies_unused_for_six_months(google: Google, clock: ManualClock) -> None:
    first = await google.tokens()
    clock.advance(timedelta(days=181))
    assert (await google.refresh(first["refresh_token"])).status_code == 200
    clock.advance(timedelta(days=183))
    exact(await google.refresh(first["refresh_token"]), 400, DEAD)


async def test_app_removed_kills_the_grant(google: Google) -> None:
    first = await google.tokens()
    google.core.fire_event(google.account.id, "app_removed", client_id=google.app.client_id)
    exact(await google.refresh(first["refresh_token"]), 400, DEAD)


async def test_password_change_kills_only_gmail_tokens(google: Google) -> None:
    youtube = await google.tokens()
    gmail = await google.tokens(scope=f"openid {GMAIL}")
    google.core.fire_event(google.account.id, "password_change")
    assert (await google.refresh(youtube["refresh_token"])).status_code == 200
    exact(await google.refresh(gmail["refresh_token"]), 400, DEAD)


async def test_the_oldest_of_101_refresh_tokens_dies_silently(google: Google) -> None:
    tokens = [await google.tokens() for _ in range(101)]
    exact(await google.refresh(tokens[0]["refresh_token"]), 400, DEAD)
    assert (await google.refresh(tokens[1]["refresh_token"])).status_code == 200


async def test_testing_mode_refresh_tokens_die_after_7_days(
    google: Google, clock: ManualClock
) -> None:
    google.core.set_publishing_status(google.app.client_id, "testing")
    youtube = await google.tokens()
    other = google.core.create_account("google")
    basic = await google.tokens(scope="openid email", account=other)
    clock.advance(timedelta(days=6, hours=23))
    assert (await google.refresh(youtube["refresh_token"])).status_code == 200
    clock.advance(timedelta(hours=1))
    exact(await google.refresh(youtube["refresh_token"]), 400, DEAD)
    assert (await google.refresh(basic["refresh_token"])).status_code == 200


async def test_locked_account_refresh_fails_until_unlocked(google: Google) -> None:
    first = await google.tokens()
    google.core.fire_event(google.account.id, "locked")
    exact(await google.refresh(first["refresh_token"]), 400, DEAD)
    google.core.fire_event(google.account.id, "unlocked")
    assert (await google.refresh(first["refresh_token"])).status_code == 200


async def test_token_endpoint_wrong_method(google: Google) -> None:
    r = await google.client.get(TOKEN)
    exact(r, 405, {"error": "invalid_request", "error_description": "Invalid HTTP method: GET"})
