"""Facebook Login through HTTP: the consent page, the redirect back, the code exchange
and ``fb_exchange_token``, with Facebook's exact error bodies."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fp_support import REDIRECT, SCOPES, ManualClock

from fake_providers import Core

DIALOG = "/www.facebook.com/v21.0/dialog/oauth"


async def test_consent_page_lists_app_accounts_and_permissions(fb: Any) -> None:
    other = fb.core.create_account("facebook", name="Zed Zulu")
    r = await fb.client.get(DIALOG, params=fb.dialog_fields())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "Scheduly" in html
    assert f'<option value="{fb.account.id}">' in html and "Zed Zulu" in html and other.id in html
    for scope in SCOPES.split(","):
        assert f'name="granted" value="{scope}" checked' in html
    for name in ("client_id", "redirect_uri", "state", "scope", "response_type", "auth_type"):
        assert f'type="hidden" name="{name}"' in html
    assert 'value="approve"' in html and 'value="cancel"' in html
    assert f'action="{DIALOG}"' in html


async def test_dialog_without_version(fb: Any) -> None:
    r = await fb.client.get("/www.facebook.com/dialog/oauth", params=fb.dialog_fields())
    assert r.status_code == 200


async def test_approve_redirects_with_code_and_state(fb: Any) -> None:
    r = await fb.approve()
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(REDIRECT + "?code=AQ") and location.endswith("&state=st4te#_=_")
    code = parse_qs(urlsplit(location).query)["code"][0]
    assert len(code) > 200


async def test_cancel_redirects_with_access_denied(fb: Any) -> None:
    form = {**fb.dialog_fields(), "account_id": fb.account.id, "action": "cancel"}
    r = await fb.client.post(DIALOG, data=form)
    assert r.status_code == 302
    assert r.headers["location"] == (
        f"{REDIRECT}?error=access_denied&error_code=200&error_description=Permissions+error"
        "&error_reason=user_denied&state=st4te#_=_"
    )


async def test_declined_permission_is_recorded(fb: Any) -> None:
    token = await fb.short_token(granted=["pages_show_list"])
    grant = fb.core.grant(fb.app.client_id, fb.account.id)
    assert grant.granted == ["pages_show_list"]
    assert grant.declined == ["pages_read_engagement", "pages_manage_posts"]
    r = await fb.get("me/permissions", token)
    assert r.json() == {
        "data": [
            {"permission": "pages_show_list", "status": "granted"},
            {"permission": "pages_read_engagement", "status": "declined"},
            {"permission": "pages_manage_posts", "status": "declined"},
        ]
    }


async def test_unknown_client_or_redirect_is_an_html_error_not_a_redirect(fb: Any) -> None:
    bad_client = {**fb.dialog_fields(), "client_id": "999"}
    r = await fb.client.get(DIALOG, params=bad_client)
    assert r.status_code == 400 and "Invalid App ID" in r.text and "location" not in r.headers
    bad_uri = {**fb.dialog_fields(), "redirect_uri": "https://evil.example/cb"}
    for method in ("GET", "POST"):
        r = await fb.client.request(
            method, DIALOG, **({"params": bad_uri} if method == "GET" else {"data": bad_uri})
        )
        assert r.status_code == 400 and "location" not in r.headers
        assert "URL blocked" in r.text


async def test_approve_with_unknown_account_is_400(fb: Any) -> None:
    form = {**fb.dialog_fields(), "account_id": "1", "granted": [], "action": "approve"}
    r = await fb.client.post(DIALOG, data=form)
    assert r.status_code == 400 and "location" not in r.headers


async def test_code_exchange(fb: Any) -> None:
    r = await fb.exchange(await fb.code())
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["access_token", "token_type", "expires_in"]
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["access_token"].startswith("EAA")


async def test_code_exchange_by_post_form(fb: Any) -> None:
    form = {
        "client_id": fb.app.client_id,
        "client_secret": fb.app.client_secret,
        "redirect_uri": REDIRECT,
        "code": await fb.code(),
    }
    r = await fb.client.post("/graph.facebook.com/oauth/access_token", data=form)
    assert r.status_code == 200 and r.json()["expires_in"] == 3600


def code_error(r: httpx.Response, message: str, code: int, envelope: Any, sub: Any = None) -> None:
    assert r.status_code == 400
    trace = r.json()["error"]["fbtrace_id"]
    assert r.text == envelope(message, code, trace, sub)
    assert r.headers["www-authenticate"] == f'OAuth "Facebook Platform" "invalid_code" "{message}"'
    assert r.headers["content-type"] == "application/json; charset=UTF-8"


async def test_reused_code(fb: Any, envelope: Any) -> None:
    code = await fb.code()
    assert (await fb.exchange(code)).status_code == 200
    r = await fb.exchange(code)
    code_error(r, "This authorization code has been used.", 100, envelope, 36009)


async def test_expired_code_uses_profile_subcode(
    fb: Any, clock: ManualClock, envelope: Any
) -> None:
    code = await fb.code()
    clock.advance(timedelta(minutes=10))
    r = await fb.exchange(code)
    code_error(r, "This authorization code has expired.", 100, envelope, 36007)


async def test_redirect_mismatch(fb: Any, envelope: Any) -> None:
    r = await fb.exchange(await fb.code(), redirect_uri=REDIRECT + "/other")
    message = (
        "Error validating verification code. Please make sure your redirect_uri is identical "
        "to the one you used in the OAuth dialog request"
    )
    code_error(r, message, 100, envelope)


async def test_wrong_secret_unknown_client_bad_code(fb: Any, envelope: Any) -> None:
    code = await fb.code()
    r = await fb.exchange(code, client_secret="0" * 32)
    code_error(r, "Error validating client secret.", 1, envelope)
    r = await fb.exchange(code, client_id="123")
    code_error(r, "Error validating application. Invalid application ID.", 101, envelope)
    r = await fb.exchange("AQnot-a-code")
    code_error(r, "Invalid verification code format.", 100, envelope)
    assert (await fb.exchange(code)).status_code == 200  # the failures did not spend it


async def test_long_lived_exchange(fb: Any) -> None:
    short = await fb.short_token()
    r = await fb.extend(short)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 5183944
    assert body["access_token"] not in (short,)


async def test_expired_token_cannot_be_exchanged(fb: Any, clock: ManualClock) -> None:
    short = await fb.short_token()
    clock.advance(timedelta(hours=2))
    r = await fb.extend(short)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 190 and r.json()["error"]["error_subcode"] == 463


async def test_dead_token_cannot_be_exchanged(fb: Any, core: Core) -> None:
    short = await fb.short_token()
    core.fire_event(fb.account.id, "password_change")
    r = await fb.extend(short)
    assert r.status_code == 400 and r.json()["error"]["error_subcode"] == 460


async def test_no_refresh_grant(fb: Any) -> None:
    params = {
        "grant_type": "refresh_token",
        "client_id": fb.app.client_id,
        "client_secret": fb.app.client_secret,
        "refresh_token": "x",
    }
    r = await fb.client.get("/graph.facebook.com/oauth/access_token", params=params)
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    assert "Invalid grant_type: 'refresh_token'" in r.json()["error"]["message"]


async def test_app_token_by_client_credentials(fb: Any) -> None:
    params = {
        "grant_type": "client_credentials",
        "client_id": fb.app.client_id,
        "client_secret": fb.app.client_secret,
    }
    r = await fb.client.get("/graph.facebook.com/oauth/access_token", params=params)
    assert r.json() == {"access_token": fb.app_token, "token_type": "bearer"}


def checkboxes(html: str) -> list[str]:
    """The permissions the consent page offers, in order: its ``granted`` checkbox values."""
    return re.findall(r'name="granted" value="([^"]*)"', html)


async def test_space_separated_scope_is_several_permissions(fb: Any) -> None:
    """Facebook takes the OAuth 2.0 separator (a space) as well as its documented comma:
    ``email public_profile`` is two permissions, and granting both lets ``/me`` read the
    email (the page used to offer one ``"email public_profile"`` permission)."""
    scope = "email public_profile"
    r = await fb.client.get(DIALOG, params=fb.dialog_fields(scope))
    offered = checkboxes(r.text)
    assert offered == ["email", "public_profile"]
    token = await fb.short_token(scope=scope, granted=offered)
    grant = fb.core.grant(fb.app.client_id, fb.account.id)
    assert grant.granted == ["email", "public_profile"] and grant.declined == []
    me = await fb.get("me", token, fields="id,email")
    assert me.status_code == 200 and me.json()["email"] == fb.account.email


async def test_mixed_commas_and_spaces_split_alike(fb: Any) -> None:
    for scope in ("email,public_profile", "email, public_profile", " email ,public_profile, "):
        r = await fb.client.get(DIALOG, params=fb.dialog_fields(scope))
        assert checkboxes(r.text) == ["email", "public_profile"], scope
