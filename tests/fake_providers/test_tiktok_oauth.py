"""TikTok Login Kit v2 through HTTP: the authorize page, the redirect back, the token
endpoint (code and refresh grants, both profiles) and revocation, with TikTok's bodies.

The :class:`TikTok` helper and the ``tt`` fixture are shared with ``test_tiktok_api``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, ManualClock

from conntrack import load_profile
from conntrack.clients import pkce_pair
from fake_providers import Account, App, Core, create_app

AUTHORIZE = "/www.tiktok.com/v2/auth/authorize/"
TOKEN = "/open.tiktokapis.com/v2/oauth/token/"
REVOKE = "/open.tiktokapis.com/v2/oauth/revoke/"
SCOPES = "user.info.basic,video.list,video.publish"
LOG_ID = re.compile(r"^\d{14}[0-9A-F]{20}$")


@dataclass
class TikTok:
    """Plays TikTok Login Kit against the fake, through HTTP like a real client would."""

    core: Core
    client: httpx.AsyncClient
    app: App
    account: Account
    verifier: str
    challenge: str

    def fields(self, scope: str = SCOPES, **extra: str) -> dict[str, str]:
        return {
            "client_key": self.app.client_id,
            "scope": scope,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "state": "st4te",
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            **extra,
        }

    async def approve(
        self, *, granted: list[str] | None = None, scope: str = SCOPES, **extra: str
    ) -> httpx.Response:
        form: dict[str, Any] = {**self.fields(scope, **extra), "account_id": self.account.id}
        form["granted"] = scope.split(",") if granted is None else granted
        form["action"] = "approve"
        return await self.client.post(AUTHORIZE, data=form)

    async def code(self, **kw: Any) -> str:
        r = await self.approve(**kw)
        assert r.status_code == 302, r.text
        return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]

    async def exchange(self, code: str, **override: str) -> httpx.Response:
        form = {
            "client_key": self.app.client_id,
            "client_secret": self.app.client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code_verifier": self.verifier,
            **override,
        }
        return await self.client.post(TOKEN, data={k: v for k, v in form.items() if v})

    async def tokens(self, **kw: Any) -> dict[str, Any]:
        r = await self.exchange(await self.code(**kw))
        assert r.status_code == 200 and "access_token" in r.json(), r.text
        return dict(r.json())

    async def refresh(self, refresh_token: str, **override: str) -> httpx.Response:
        form = {
            "client_key": self.app.client_id,
            "client_secret": self.app.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            **override,
        }
        return await self.client.post(TOKEN, data=form)

    async def api(
        self, method: str, path: str, token: str | None, *, json: Any = None, **params: str
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.request(
            method, f"/open.tiktokapis.com/{path}", params=params, json=json, headers=headers
        )


async def make(core: Core) -> AsyncIterator[TikTok]:
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as c:
        app = core.create_app_registration("tiktok", redirect_uris=[REDIRECT], name="Scheduly")
        account = core.create_account("tiktok")
        verifier, challenge = pkce_pair(lambda n: b"\x07" * n)
        yield TikTok(core, c, app, account, verifier, challenge)


@pytest.fixture
async def tt(clock: ManualClock) -> AsyncIterator[TikTok]:
    async for one in make(Core(clock, seed=7)):
        yield one


@pytest.fixture
async def tt26(clock: ManualClock) -> AsyncIterator[TikTok]:
    async for one in make(Core(clock, seed=7, profiles={"tiktok": load_profile("tiktok-2026")})):
        yield one


def query(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 302, r.text
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}


def oauth_error(r: httpx.Response, error: str, description: str) -> None:
    """TikTok's flat OAuth error, with HTTP 200 ([obs], the profile's setting)."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["error", "error_description", "log_id"]
    assert body["error"] == error and body["error_description"] == description
    assert LOG_ID.match(body["log_id"]) and r.headers["x-tt-logid"] == body["log_id"]


# -- the authorize page ------------------------------------------------------------------


async def test_consent_page_lists_accounts_scopes_and_request(tt: TikTok) -> None:
    other = tt.core.create_account("tiktok", name="Zed Zulu")
    r = await tt.client.get(AUTHORIZE, params=tt.fields())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "Scheduly" in html and "Zed Zulu" in html and f'<option value="{other.id}">' in html
    for scope in SCOPES.split(","):
        assert f'name="granted" value="{scope}" checked' in html
    for name in ("client_key", "redirect_uri", "state", "scope", "code_challenge"):
        assert f'type="hidden" name="{name}"' in html
    assert 'value="approve"' in html and 'value="cancel"' in html
    assert f'action="{AUTHORIZE}"' in html


async def test_without_trailing_slash(tt: TikTok) -> None:
    r = await tt.client.get(AUTHORIZE.rstrip("/"), params=tt.fields())
    assert r.status_code == 200


async def test_approve_redirects_with_code_scopes_and_state(tt: TikTok) -> None:
    q = query(await tt.approve(granted=["user.info.basic", "video.list"]))
    assert q["scopes"] == "user.info.basic,video.list" and q["state"] == "st4te"
    assert len(q["code"]) == 180
    grant = tt.core.grant(tt.app.client_id, tt.account.id)
    assert grant is not None and grant.declined == ["video.publish"]


async def test_cancel_redirects_with_access_denied(tt: TikTok) -> None:
    form = {**tt.fields(), "account_id": tt.account.id, "action": "cancel"}
    r = await tt.client.post(AUTHORIZE, data=form)
    assert r.headers["location"] == (
        f"{REDIRECT}?error=access_denied&error_description=The+user+denied+the+authorization"
        "+request.&state=st4te"
    )


async def test_unknown_client_key_and_redirect_uri_get_a_page_not_a_redirect(tt: TikTok) -> None:
    r = await tt.client.get(AUTHORIZE, params=tt.fields(client_key="nope"))
    assert r.status_code == 400 and "client_key" in r.text and "location" not in r.headers
    r = await tt.client.get(AUTHORIZE, params=tt.fields(redirect_uri="https://evil.example/"))
    assert r.status_code == 400 and "redirect_uri" in r.text and "location" not in r.headers


@pytest.mark.parametrize(
    ("extra", "error", "description"),
    [
        ({"response_type": "token"}, "unsupported_response_type", "response_type must be code."),
        (
            {"scope": "user.info.basic,video.delete"},
            "invalid_scope",
            "Invalid scope: video.delete.",
        ),
        ({"scope": ""}, "invalid_scope", "Scope is required."),
        (
            {"code_challenge_method": "plain"},
            "invalid_request",
            "code_challenge_method must be S256.",
        ),
    ],
)
async def test_request_errors_redirect_back(
    tt: TikTok, extra: dict[str, str], error: str, description: str
) -> None:
    q = query(await tt.client.get(AUTHORIZE, params=tt.fields(**extra)))
    assert q == {"error": error, "error_description": description, "state": "st4te"}


async def test_other_www_paths_are_an_html_404(tt: TikTok) -> None:
    r = await tt.client.get("/www.tiktok.com/somewhere")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


# -- the token endpoint ------------------------------------------------------------------


async def test_code_exchange_answers_tiktoks_token_shape(tt: TikTok) -> None:
    r = await tt.exchange(await tt.code(granted=["user.info.basic", "video.list"]))
    body = r.json()
    assert r.status_code == 200
    assert list(body) == [
        "open_id",
        "scope",
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "token_type",
    ]
    assert body["scope"] == "user.info.basic,video.list" and body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400 and body["refresh_expires_in"] == 365 * 86400
    assert body["access_token"].startswith("act.") and body["refresh_token"].startswith("rft.")
    assert re.fullmatch(r"[0-9a-f-]{36}", body["open_id"])


async def test_a_code_is_single_use(tt: TikTok) -> None:
    code = await tt.code()
    assert (await tt.exchange(code)).status_code == 200
    # A spent code is answered as an expired one (profile used_code_description, [obs]).
    oauth_error(await tt.exchange(code), "invalid_grant", "Authorization code is expired.")
    oauth_error(await tt.exchange("bogus"), "invalid_grant", "Authorization code is invalid.")


async def test_an_expired_code(tt: TikTok, clock: ManualClock) -> None:
    code = await tt.code()
    clock.advance(timedelta(minutes=11))
    oauth_error(await tt.exchange(code), "invalid_grant", "Authorization code is expired.")


@pytest.mark.parametrize(
    ("override", "error", "description"),
    [
        ({"grant_type": ""}, "invalid_request", "The request parameters are malformed."),
        ({"client_secret": ""}, "invalid_request", "The request parameters are malformed."),
        ({"client_key": "nope"}, "invalid_client", "Client key is invalid."),
        ({"client_secret": "wrong"}, "invalid_client", "Client secret is invalid."),
        ({"grant_type": "password"}, "unsupported_grant_type", "Grant type is not supported."),
        ({"code_verifier": "x" * 43}, "invalid_grant", "Code verifier is invalid."),
        ({"code_verifier": ""}, "invalid_grant", "Code verifier is required."),
        (
            {"redirect_uri": "https://app.example/other"},
            "invalid_grant",
            "Redirect URI does not match the one used to request the code.",
        ),
    ],
)
async def test_token_errors(
    tt: TikTok, override: dict[str, str], error: str, description: str
) -> None:
    oauth_error(await tt.exchange(await tt.code(), **override), error, description)


async def test_the_status_of_oauth_errors_is_a_profile_setting(clock: ManualClock) -> None:
    profile = load_profile("tiktok", {"oauth_error_status": 400})
    async for tt in make(Core(clock, profiles={"tiktok": profile})):
        r = await tt.exchange("bogus")
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


async def test_get_on_the_token_endpoint(tt: TikTok) -> None:
    r = await tt.client.get(TOKEN)
    assert r.json()["error"] == "invalid_request"


async def test_refresh_keeps_the_refresh_token_and_its_first_expiry(
    tt: TikTok, clock: ManualClock
) -> None:
    first = await tt.tokens()
    clock.advance(timedelta(days=100))
    r = await tt.refresh(first["refresh_token"])
    body = r.json()
    assert r.status_code == 200 and body["refresh_token"] == first["refresh_token"]
    assert body["access_token"] != first["access_token"] and body["expires_in"] == 86400
    assert body["refresh_expires_in"] == 265 * 86400
    assert body["scope"] == SCOPES
    clock.advance(timedelta(days=265))
    oauth_error(
        await tt.refresh(first["refresh_token"]),
        "invalid_grant",
        "Refresh token is invalid or expired.",
    )


async def test_refresh_errors(tt: TikTok) -> None:
    first = await tt.tokens()
    oauth_error(
        await tt.refresh("rft.bogus"), "invalid_grant", "Refresh token is invalid or expired."
    )
    oauth_error(
        await tt.refresh(first["access_token"]),
        "invalid_grant",
        "Refresh token is invalid or expired.",
    )
    oauth_error(await tt.refresh(""), "invalid_request", "The request parameters are malformed.")


async def test_tiktok_2026_rotates_and_keeps_180_days_from_login(
    tt26: TikTok, clock: ManualClock
) -> None:
    first = await tt26.tokens()
    assert first["expires_in"] == 7200 and first["refresh_expires_in"] == 180 * 86400
    clock.advance(timedelta(days=30))
    second = (await tt26.refresh(first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["refresh_expires_in"] == 150 * 86400 and second["expires_in"] == 7200
    oauth_error(
        await tt26.refresh(first["refresh_token"]),
        "invalid_grant",
        "Refresh token is invalid or expired.",
    )
    assert (await tt26.refresh(second["refresh_token"])).status_code == 200


# -- revocation ----------------------------------------------------------------------------


async def test_revoke_ends_the_authorization(tt: TikTok) -> None:
    first = await tt.tokens()
    form = {
        "client_key": tt.app.client_id,
        "client_secret": tt.app.client_secret,
        "token": first["access_token"],
    }
    r = await tt.client.post(REVOKE, data=form)
    assert r.status_code == 200 and r.json() == {} and LOG_ID.match(r.headers["x-tt-logid"])
    oauth_error(
        await tt.refresh(first["refresh_token"]),
        "invalid_grant",
        "Refresh token is invalid or expired.",
    )
    me = await tt.api("GET", "v2/user/info/", first["access_token"], fields="open_id")
    assert me.status_code == 401 and me.json()["error"]["code"] == "access_token_invalid"
    # Revoking again, or a string never issued: nothing left to revoke.
    assert (await tt.client.post(REVOKE, data=form)).json() == {}
    assert (await tt.client.post(REVOKE, data={**form, "token": "act.nope"})).json() == {}


async def test_revoke_errors(tt: TikTok) -> None:
    first = await tt.tokens()
    other = tt.core.create_app_registration("tiktok", redirect_uris=[REDIRECT])
    form = {"client_key": other.client_id, "client_secret": other.client_secret}
    oauth_error(
        await tt.client.post(REVOKE, data={**form, "token": first["access_token"]}),
        "unauthorized_client",
        "The token was not issued to this client.",
    )
    oauth_error(
        await tt.client.post(REVOKE, data=form),
        "invalid_request",
        "The request parameters are malformed.",
    )
    oauth_error(
        await tt.client.post(REVOKE, data={**form, "client_secret": "x", "token": "t"}),
        "invalid_client",
        "Client secret is invalid.",
    )
