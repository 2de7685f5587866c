"""Instagram Login through HTTP: the authorization window, the code exchange on
api.instagram.com, ig_exchange_token and ig_refresh_token on graph.instagram.com, with
every error body byte for byte (PROVIDERS.md §2a).

:class:`Instagram` and the ``ig`` fixture are shared with ``test_instagram_graph``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, ManualClock

from conntrack.clients._browser import _FormParser
from fake_providers import Account, App, Core

IG_SCOPES = "instagram_business_basic,instagram_business_content_publish"
AUTHORIZE = "/www.instagram.com/oauth/authorize"
TOKEN = "/api.instagram.com/oauth/access_token"


def oauth_body(message: str) -> str:
    return f'{{"error_type":"OAuthException","code":400,"error_message":"{message}"}}'


@dataclass
class Instagram:
    """Plays Instagram Login against the fake, through HTTP like a real client."""

    core: Core
    client: httpx.AsyncClient
    app: App
    account: Account

    def window(self, scope: str = IG_SCOPES, **extra: str) -> dict[str, Any]:
        return {
            "client_id": self.app.client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": scope,
            "state": "st4te",
            **extra,
        }

    async def approve(self, *, granted: list[str] | None = None, scope: str = IG_SCOPES) -> str:
        form = self.window(scope)
        form["account_id"] = self.account.id
        form["granted"] = scope.split(",") if granted is None else granted
        form["action"] = "approve"
        r = await self.client.post(AUTHORIZE, data=form)
        assert r.status_code == 302, r.text
        return str(r.headers["location"])

    async def code(self, **kw: Any) -> str:
        location = await self.approve(**kw)
        return parse_qs(urlsplit(location).query)["code"][0].removesuffix("#_")

    async def exchange(self, code: str, **override: str) -> httpx.Response:
        form = {
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": code,
            **override,
        }
        return await self.client.post(TOKEN, data=form)

    async def short_token(self, **kw: Any) -> str:
        r = await self.exchange(await self.code(**kw))
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def extend(self, token: str, secret: str | None = None) -> httpx.Response:
        params = {
            "grant_type": "ig_exchange_token",
            "client_secret": secret or self.app.client_secret,
            "access_token": token,
        }
        return await self.client.get("/graph.instagram.com/access_token", params=params)

    async def long_token(self, **kw: Any) -> str:
        r = await self.extend(await self.short_token(**kw))
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def refresh(self, token: str, **override: str) -> httpx.Response:
        params = {"grant_type": "ig_refresh_token", "access_token": token, **override}
        return await self.client.get("/graph.instagram.com/refresh_access_token", params=params)

    async def get(self, path: str, token: str | None, **params: str) -> httpx.Response:
        if token is not None:
            params["access_token"] = token
        return await self.client.get(f"/graph.instagram.com/v21.0/{path}", params=params)


@pytest.fixture
def ig(core: Core, client: httpx.AsyncClient) -> Instagram:
    app = core.create_app_registration("instagram", redirect_uris=[REDIRECT], name="Scheduly")
    return Instagram(core, client, app, core.create_account("instagram"))


# -- the authorization window ----------------------------------------------------------


async def test_the_window_is_a_consent_form(ig: Instagram) -> None:
    other = ig.core.create_account("instagram")
    r = await ig.client.get(AUTHORIZE, params=ig.window(enable_fb_login="0"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    parser = _FormParser()
    parser.feed(r.text)
    [form] = parser.forms
    assert form.method == "post" and form.action == AUTHORIZE
    hidden = dict(form.hidden)
    assert hidden["client_id"] == ig.app.client_id and hidden["state"] == "st4te"
    assert hidden["scope"] == IG_SCOPES and hidden["enable_fb_login"] == "0"
    assert form.options["account_id"] == [ig.account.id, other.id]
    assert [v for _, v in form.checkboxes] == IG_SCOPES.split(",")
    also = await ig.client.get("/api.instagram.com/oauth/authorize", params=ig.window())
    assert also.status_code == 200


async def test_approve_redirects_with_code_state_and_hash(ig: Instagram) -> None:
    location = await ig.approve()
    assert location.startswith(REDIRECT + "?code=AQ") and location.endswith("&state=st4te#_")


async def test_cancel_redirects_with_instagrams_error(ig: Instagram) -> None:
    form = {**ig.window(), "account_id": ig.account.id, "action": "cancel"}
    r = await ig.client.post(AUTHORIZE, data=form)
    assert r.status_code == 302
    assert r.headers["location"] == (
        f"{REDIRECT}?error_reason=user_denied&error=access_denied"
        "&error_description=The+user+denied+your+request&state=st4te#_"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_id": "404"}, "Invalid platform app"),
        ({"redirect_uri": "https://evil.example/cb"}, "Invalid redirect_uri"),
        ({"response_type": "token"}, "Invalid response_type"),
    ],
)
async def test_a_bad_window_request_never_redirects(
    ig: Instagram, change: dict[str, str], message: str
) -> None:
    r = await ig.client.get(AUTHORIZE, params={**ig.window(), **change})
    assert r.status_code == 400 and r.text == oauth_body(message)


async def test_a_facebook_app_is_not_an_instagram_app(ig: Instagram) -> None:
    fb_app = ig.core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    r = await ig.client.get(AUTHORIZE, params={**ig.window(), "client_id": fb_app.client_id})
    assert r.text == oauth_body("Invalid platform app")


# -- the code exchange -----------------------------------------------------------------


async def test_code_exchange_flat(ig: Instagram) -> None:
    r = await ig.exchange(await ig.code(granted=["instagram_business_basic"]))
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["access_token", "user_id", "permissions"]
    assert body["access_token"].startswith("IGAA")
    assert body["user_id"] == int(ig.account.id)
    assert body["permissions"] == "instagram_business_basic"
    token = ig.core.token(body["access_token"])
    assert token is not None and token.expires_at - token.issued_at == timedelta(hours=1)


async def test_code_exchange_data_shape(clock: ManualClock, client: httpx.AsyncClient) -> None:
    from conntrack import load_profile
    from fake_providers import create_app

    profile = load_profile("instagram", {"code_response_shape": "data"})
    core = Core(clock, seed=3, profiles={"instagram": profile})
    app = core.create_app_registration("instagram", redirect_uris=[REDIRECT])
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as c:
        ig = Instagram(core, c, app, core.create_account("instagram"))
        r = await ig.exchange(await ig.code())
    [one] = r.json()["data"]
    assert one["user_id"] == int(ig.account.id) and one["permissions"] == IG_SCOPES


async def test_a_reused_code(ig: Instagram) -> None:
    code = await ig.code()
    assert (await ig.exchange(code)).status_code == 200
    r = await ig.exchange(code)
    assert r.status_code == 400 and r.text == oauth_body("This authorization code has been used")


async def test_an_unknown_or_expired_code(ig: Instagram, clock: ManualClock) -> None:
    r = await ig.exchange("AQnotacode")
    assert r.text == oauth_body("Matching code was not found or was already used")
    code = await ig.code()
    clock.advance(timedelta(minutes=11))
    r = await ig.exchange(code)
    assert r.text == oauth_body("Matching code was not found or was already used")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"client_id": "404"}, "Invalid platform app"),
        ({"client_secret": "wrong"}, "Invalid Client Secret"),
        ({"client_secret": ""}, "You must provide a client_secret"),
        ({"grant_type": "password"}, "Invalid grant_type"),
        (
            {"redirect_uri": "https://app.example/other"},
            "Redirect URI doesn't match original redirect URI",
        ),
    ],
)
async def test_code_exchange_errors(ig: Instagram, override: dict[str, str], message: str) -> None:
    r = await ig.exchange(await ig.code(), **override)
    assert r.status_code == 400 and r.text == oauth_body(message)


async def test_the_code_exchange_is_post_only(ig: Instagram) -> None:
    r = await ig.client.get(TOKEN)
    assert r.status_code == 400 and r.json()["error_type"] == "OAuthException"


# -- long-lived tokens and their refresh -----------------------------------------------


async def test_ig_exchange_token(ig: Instagram) -> None:
    short = await ig.short_token()
    r = await ig.extend(short)
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["access_token", "token_type", "expires_in"]
    assert body["token_type"] == "bearer" and body["expires_in"] == 5183944


async def test_ig_exchange_token_errors(ig: Instagram, clock: ManualClock, envelope: Any) -> None:
    short = await ig.short_token()
    r = await ig.extend(short, secret="wrong")
    trace = r.json()["error"]["fbtrace_id"]
    assert r.status_code == 400
    assert r.text == envelope("Error validating client secret.", 1, trace)
    r = await ig.client.get(
        "/graph.instagram.com/access_token",
        params={"grant_type": "ig_exchange_token", "access_token": short},
    )
    assert r.json()["error"]["message"] == "(#100) The parameter client_secret is required"
    clock.advance(timedelta(hours=2))
    r = await ig.extend(short)
    assert r.json()["error"]["code"] == 190 and r.json()["error"]["error_subcode"] == 463
    assert r.json()["error"]["message"].startswith("Error validating access token: Session has")


async def test_refresh_needs_24_hours(ig: Instagram, clock: ManualClock, envelope: Any) -> None:
    long = await ig.long_token()
    r = await ig.refresh(long)
    trace = r.json()["error"]["fbtrace_id"]
    message = "The access token can only be refreshed once it is at least 24 hours old."
    assert r.status_code == 400 and r.text == envelope(message, 190, trace)
    clock.advance(timedelta(hours=24))
    r = await ig.refresh(long)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 5183944
    new = ig.core.token(body["access_token"])
    assert new is not None and new.expires_at == clock.now() + timedelta(seconds=5183944)


async def test_refresh_too_young_code_is_a_setting(clock: ManualClock) -> None:
    from conntrack import load_profile
    from fake_providers import create_app

    profile = load_profile("instagram", {"refresh_too_young_code": 100})
    core = Core(clock, seed=3, profiles={"instagram": profile})
    app = core.create_app_registration("instagram", redirect_uris=[REDIRECT])
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as c:
        ig = Instagram(core, c, app, core.create_account("instagram"))
        r = await ig.refresh(await ig.long_token())
    assert r.json()["error"]["code"] == 100


async def test_refresh_of_an_expired_or_short_token(ig: Instagram, clock: ManualClock) -> None:
    short = await ig.short_token()
    r = await ig.refresh(short)
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    long = await ig.long_token()
    clock.advance(timedelta(days=61))
    r = await ig.refresh(long)
    err = r.json()["error"]
    assert err["code"] == 190 and err["error_subcode"] == 463
    r = await ig.refresh("IGAAnonsense")
    assert r.json()["error"]["message"] == "Invalid OAuth access token - Cannot parse access token"
    r = await ig.refresh(long, grant_type="fb_exchange_token")
    assert r.json()["error"]["code"] == 100


async def test_refresh_after_a_password_change(ig: Instagram, clock: ManualClock) -> None:
    long = await ig.long_token()
    clock.advance(timedelta(days=2))
    ig.core.fire_event(ig.account.id, "password_change")
    r = await ig.refresh(long)
    assert r.json()["error"]["error_subcode"] == 460


async def test_errors_no_route_answers(ig: Instagram) -> None:
    r = await ig.client.put("/graph.instagram.com/v21.0/me")
    assert r.status_code == 405 and r.json()["error"]["code"] == 100
    r = await ig.client.get("/www.instagram.com/nothing/here")
    assert r.status_code == 404 and r.json()["error_type"] == "OAuthException"
