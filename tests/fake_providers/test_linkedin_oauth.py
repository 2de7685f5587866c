"""LinkedIn OAuth through HTTP: the sign-in and consent page, its redirect errors,
``accessToken`` (code and refresh grants), ``introspectToken`` and ``revoke``, with
LinkedIn's exact bodies.

:class:`LinkedIn` plays the member and the product against the real endpoints; the API
tests (``test_linkedin_api``) import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, ManualClock

from fake_providers import Account, App, Core

AUTHORIZE = "/www.linkedin.com/oauth/v2/authorization"
TOKEN = "/www.linkedin.com/oauth/v2/accessToken"
INTROSPECT = "/www.linkedin.com/oauth/v2/introspectToken"
REVOKE = "/www.linkedin.com/oauth/v2/revoke"
SCOPES = "r_organization_social w_organization_social rw_organization_admin"
DAY = timedelta(days=1)
ACCESS_LIFE = 5183999
REFRESH_LIFE = 31536059
CODE_INVALID = (
    "Unable to retrieve access token: appid/redirect uri/code verifier does not match "
    "authorization code. Or authorization code expired. Or external member binding exists"
)
REFRESH_INVALID = (
    "The provided authorization grant or refresh token is invalid, expired or revoked."
)


@dataclass
class LinkedIn:
    """Plays LinkedIn's sign-in and the product's token calls through HTTP."""

    core: Core
    client: httpx.AsyncClient
    app: App
    account: Account

    def fields(self, scope: str = SCOPES, **extra: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": REDIRECT,
            "state": "st4te",
            "scope": scope,
            **extra,
        }

    async def answer(
        self, action: str = "approve", *, scope: str = SCOPES, granted: list[str] | None = None
    ) -> httpx.Response:
        form: dict[str, Any] = self.fields(scope)
        form["account_id"] = self.account.id
        form["granted"] = scope.split() if granted is None else granted
        form["action"] = action
        return await self.client.post(AUTHORIZE, data=form)

    async def code(self, **kw: Any) -> str:
        r = await self.answer(**kw)
        assert r.status_code == 302, r.text
        return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]

    def creds(self) -> dict[str, str]:
        return {"client_id": self.app.client_id, "client_secret": self.app.client_secret}

    async def exchange(self, code: str, **override: str) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        return await self.client.post(TOKEN, data={**form, **self.creds(), **override})

    async def tokens(self, **kw: Any) -> dict[str, Any]:
        r = await self.exchange(await self.code(**kw))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def refresh(self, refresh_token: str, **override: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self.client.post(TOKEN, data={**form, **self.creds(), **override})

    async def introspect(self, token: str, **override: str) -> httpx.Response:
        return await self.client.post(INTROSPECT, data={**self.creds(), "token": token, **override})


@pytest.fixture
def li(core: Core, client: httpx.AsyncClient) -> LinkedIn:
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT], name="Scheduly")
    account = core.create_account("linkedin")
    return LinkedIn(core, client, app, account)


def oauth_error(r: httpx.Response, status: int, error: str, description: str) -> None:
    """LinkedIn's OAuth error body, byte for byte: compact, ``error`` first."""
    assert r.status_code == status
    body = {"error": error, "error_description": description}
    assert r.text == json.dumps(body, separators=(",", ":"))


# -- the authorization page ----------------------------------------------------------


async def test_consent_page_has_one_form_with_accounts_scopes_and_buttons(li: LinkedIn) -> None:
    other = li.core.create_account("linkedin", name="Zed Zulu")
    r = await li.client.get(AUTHORIZE, params=li.fields())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html.count("<form") == 1 and f'action="{AUTHORIZE}"' in html
    assert "Scheduly" in html and "Zed Zulu" in html and other.id in html
    assert f'<option value="{li.account.id}">' in html
    for scope in SCOPES.split():
        assert f'name="granted" value="{scope}" checked' in html
    for name in ("response_type", "client_id", "redirect_uri", "state", "scope"):
        assert f'type="hidden" name="{name}"' in html
    for action in ("approve", "cancel", "cancel_login"):
        assert f'name="action" value="{action}"' in html


async def test_approve_redirects_with_a_code_and_the_state(li: LinkedIn) -> None:
    r = await li.answer()
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(f"{REDIRECT}?code=") and location.endswith("&state=st4te")
    assert "#" not in location


async def test_cancel_redirects_with_linkedins_errors(li: LinkedIn) -> None:
    r = await li.answer("cancel")
    assert r.headers["location"] == (
        f"{REDIRECT}?error=user_cancelled_authorize"
        "&error_description=The+user+cancelled+the+authorization&state=st4te"
    )
    r = await li.answer("cancel_login")
    assert r.headers["location"] == (
        f"{REDIRECT}?error=user_cancelled_login"
        "&error_description=The+user+cancelled+LinkedIn+login&state=st4te"
    )


async def test_one_unauthorized_scope_rejects_the_whole_request(li: LinkedIn) -> None:
    r = await li.client.get(AUTHORIZE, params=li.fields("r_organization_social r_ads"))
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query == {
        "error": ["unauthorized_scope_error"],
        "error_description": ["Scope &quot;r_ads&quot; is not authorized for your application"],
        "state": ["st4te"],
    }


async def test_plain_quotes_in_the_scope_error_are_a_profile_setting(clock: ManualClock) -> None:
    from conntrack import load_profile
    from fake_providers import create_app

    profile = load_profile("linkedin", {"scope_error_html_quotes": False})
    core = Core(clock, seed=1, profiles={"linkedin": profile})
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT])
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        r = await http.get(
            AUTHORIZE,
            params={"response_type": "code", "client_id": app.client_id,
                    "redirect_uri": REDIRECT, "scope": "r_ads"},
        )  # fmt: skip
    description = parse_qs(urlsplit(r.headers["location"]).query)["error_description"]
    assert description == ['Scope "r_ads" is not authorized for your application']


async def test_bad_client_or_redirect_uri_is_an_html_page_not_a_redirect(li: LinkedIn) -> None:
    r = await li.client.get(AUTHORIZE, params=li.fields(client_id="nope"))
    assert r.status_code == 400 and "location" not in r.headers
    assert "The passed in client_id is invalid" in r.text
    r = await li.client.get(AUTHORIZE, params=li.fields(redirect_uri="https://evil.example/cb"))
    assert r.status_code == 400 and "location" not in r.headers
    assert "The redirect_uri does not match the registered value" in r.text


async def test_declined_scopes_are_left_out_of_the_token(li: LinkedIn) -> None:
    body = await li.tokens(granted=["r_organization_social"])
    assert body["scope"] == "r_organization_social"
    grant = li.core.grant(li.app.client_id, li.account.id)
    assert grant is not None and grant.declined == [
        "w_organization_social",
        "rw_organization_admin",
    ]


# -- accessToken -----------------------------------------------------------------------


async def test_code_exchange_answers_linkedins_token_shape(li: LinkedIn) -> None:
    r = await li.exchange(await li.code())
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert list(body) == [
        "access_token", "expires_in", "refresh_token", "refresh_token_expires_in", "scope",
    ]  # fmt: skip
    assert body["access_token"].startswith("AQV") and body["refresh_token"].startswith("AQX")
    assert body["expires_in"] == ACCESS_LIFE
    assert body["refresh_token_expires_in"] == REFRESH_LIFE
    assert body["scope"] == "r_organization_social,w_organization_social,rw_organization_admin"


async def test_no_refresh_token_for_apps_not_approved(clock: ManualClock) -> None:
    from conntrack import load_profile
    from fake_providers import create_app

    profile = load_profile("linkedin", {"refresh_tokens_enabled": False})
    core = Core(clock, seed=2, profiles={"linkedin": profile})
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT])
        li = LinkedIn(core, http, app, core.create_account("linkedin"))
        body = await li.tokens()
    assert set(body) == {"access_token", "expires_in", "scope"}


async def test_bad_codes_get_linkedins_invalid_request(li: LinkedIn, clock: ManualClock) -> None:
    code = await li.code()
    r = await li.exchange(code, redirect_uri="https://app.example/other")
    oauth_error(r, 400, "invalid_redirect_uri", CODE_INVALID)
    assert (await li.exchange(code)).status_code == 200
    oauth_error(await li.exchange(code), 400, "invalid_request", CODE_INVALID)  # reused
    oauth_error(await li.exchange("AQnope"), 400, "invalid_request", CODE_INVALID)
    late = await li.code()
    clock.advance(timedelta(minutes=31))
    oauth_error(await li.exchange(late), 400, "invalid_request", CODE_INVALID)


async def test_client_authentication_and_missing_fields(li: LinkedIn) -> None:
    code = await li.code()
    r = await li.exchange(code, client_secret="wrong")
    oauth_error(r, 401, "invalid_client", "Client authentication failed")
    r = await li.exchange(code, client_id="nope")
    oauth_error(r, 401, "invalid_client", "Client authentication failed")
    r = await li.client.post(TOKEN, data={"grant_type": "authorization_code", **li.creds()})
    oauth_error(r, 400, "invalid_request", 'A required parameter "code" is missing')
    r = await li.client.post(TOKEN, data={"code": code})
    oauth_error(r, 400, "invalid_request", 'A required parameter "grant_type" is missing')
    r = await li.client.post(TOKEN, data={"grant_type": "password", **li.creds()})
    oauth_error(r, 400, "unsupported_grant_type", "Unsupported grant type: password")
    r = await li.client.get(TOKEN)
    assert r.status_code == 405 and r.json()["error"] == "invalid_request"


async def test_refresh_keeps_the_refresh_tokens_countdown(li: LinkedIn, clock: ManualClock) -> None:
    first = await li.tokens()
    clock.advance(59 * DAY)
    r = await li.refresh(first["refresh_token"])
    assert r.status_code == 200
    body = r.json()
    assert body["access_token"] != first["access_token"]
    assert body["refresh_token"] == first["refresh_token"]
    assert body["expires_in"] == ACCESS_LIFE
    assert body["refresh_token_expires_in"] == REFRESH_LIFE - 59 * 86400  # 306 days left


async def test_an_access_token_never_outlives_its_refresh_token(
    li: LinkedIn, clock: ManualClock
) -> None:
    first = await li.tokens()
    clock.advance(360 * DAY)
    body = (await li.refresh(first["refresh_token"])).json()
    assert body["expires_in"] == body["refresh_token_expires_in"] == REFRESH_LIFE - 360 * 86400


async def test_bad_refreshes_get_the_same_invalid_request(li: LinkedIn, clock: ManualClock) -> None:
    first = await li.tokens()
    oauth_error(await li.refresh("AQXnope"), 400, "invalid_request", REFRESH_INVALID)
    oauth_error(await li.refresh(first["access_token"]), 400, "invalid_request", REFRESH_INVALID)
    r = await li.refresh(first["refresh_token"], client_secret="wrong")
    oauth_error(r, 401, "invalid_client", "Client authentication failed")
    clock.advance(timedelta(seconds=REFRESH_LIFE))
    oauth_error(await li.refresh(first["refresh_token"]), 400, "invalid_request", REFRESH_INVALID)


async def test_password_change_and_app_removal_kill_the_refresh_token(li: LinkedIn) -> None:
    for event in ("password_change", "app_removed"):
        first = await li.tokens()
        li.core.fire_event(li.account.id, event)
        r = await li.refresh(first["refresh_token"])
        oauth_error(r, 400, "invalid_request", REFRESH_INVALID)


# -- introspectToken and revoke --------------------------------------------------------


async def test_introspection_of_a_live_token(li: LinkedIn, clock: ManualClock) -> None:
    first = await li.tokens()
    r = await li.introspect(first["access_token"])
    assert r.status_code == 200
    now = int(clock.now().timestamp())
    assert r.text == (
        f'{{"active":true,"client_id":"{li.app.client_id}","authorized_at":{now},'
        f'"created_at":{now},"status":"active","expires_at":{now + ACCESS_LIFE},'
        '"scope":"r_organization_social,w_organization_social,rw_organization_admin",'
        '"auth_type":"3L"}'
    )
    refresh = (await li.introspect(first["refresh_token"])).json()
    assert refresh["active"] and refresh["expires_at"] == now + REFRESH_LIFE


async def test_introspection_says_expired_and_revoked(li: LinkedIn, clock: ManualClock) -> None:
    first = await li.tokens()
    clock.advance(61 * DAY)
    body = (await li.introspect(first["access_token"])).json()
    assert body["active"] is False and body["status"] == "expired"
    second = await li.tokens()
    li.core.fire_event(li.account.id, "app_removed")
    body = (await li.introspect(second["access_token"])).json()
    assert body["active"] is False and body["status"] == "revoked"


async def test_introspection_errors(li: LinkedIn) -> None:
    first = await li.tokens()
    r = await li.introspect(first["access_token"], client_id="nope")
    oauth_error(r, 400, "invalid_client", "Client authentication failed")
    r = await li.introspect(first["access_token"], client_secret="wrong")
    oauth_error(r, 401, "invalid_client", "Client authentication failed")
    oauth_error(await li.introspect("AQVnope"), 400, "invalid_request", "The token is invalid")
    other = li.core.create_app_registration("linkedin", redirect_uris=[REDIRECT])
    r = await li.introspect(
        first["access_token"], client_id=other.client_id, client_secret=other.client_secret
    )
    oauth_error(r, 400, "invalid_request", "The token does not belong to this client")


async def test_revoke_ends_the_whole_authorization(li: LinkedIn) -> None:
    first = await li.tokens()
    r = await li.client.post(REVOKE, data={**li.creds(), "token": first["access_token"]})
    assert r.status_code == 200 and r.text == ""
    assert (await li.introspect(first["access_token"])).json()["status"] == "revoked"
    r = await li.refresh(first["refresh_token"])
    oauth_error(r, 400, "invalid_request", REFRESH_INVALID)
    r = await li.client.post(REVOKE, data={**li.creds(), "token": "AQVnever"})
    assert r.status_code == 200
    r = await li.client.post(REVOKE, data={**li.creds(), "client_secret": "x", "token": "t"})
    oauth_error(r, 401, "invalid_client", "Client authentication failed")
    r = await li.client.post(REVOKE, data=li.creds())
    oauth_error(r, 400, "invalid_request", 'A required parameter "token" is missing')


async def test_unknown_www_paths_are_an_html_page(li: LinkedIn) -> None:
    r = await li.client.get("/www.linkedin.com/oauth/v2/nothing")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
