"""The Graph API through HTTP: nodes, page tokens, posts, permissions, debug_token, and
every token error byte for byte as PROVIDERS.md writes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fp_support import REDIRECT, ManualClock

from fake_providers import Core, create_app

PASSWORD = (
    "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons."
)
CHECKPOINT = (
    "You cannot access the app till you log in to www.facebook.com and follow the "
    "instructions given."
)
MALFORMED = "Invalid OAuth access token - Cannot parse access token"


def token_error(r: httpx.Response, message: str, envelope: Any, sub: int | None) -> None:
    assert r.status_code == 400
    trace = r.json()["error"]["fbtrace_id"]
    assert r.text == envelope(message, 190, trace, sub)
    assert r.headers["www-authenticate"] == f'OAuth "Facebook Platform" "invalid_token" "{message}"'


async def test_me(fb: Any) -> None:
    token = await fb.short_token(scope="pages_show_list,email")
    r = await fb.get("me", token)
    assert r.json() == {"id": fb.account.id, "name": fb.account.name}
    r = await fb.get("me", token, fields="id,name,email")
    assert r.json() == {"id": fb.account.id, "name": fb.account.name, "email": fb.account.email}
    r = await fb.client.get(f"/graph.facebook.com/{fb.account.id}", params={"access_token": token})
    assert r.json()["id"] == fb.account.id


async def test_email_needs_the_email_permission(fb: Any) -> None:
    token = await fb.short_token()
    r = await fb.get("me", token, fields="id,email")
    assert r.json() == {"id": fb.account.id}


async def test_token_from_authorization_header(fb: Any) -> None:
    token = await fb.short_token()
    for scheme in ("Bearer", "OAuth"):
        r = await fb.client.get(
            "/graph.facebook.com/v21.0/me", headers={"Authorization": f"{scheme} {token}"}
        )
        assert r.status_code == 200 and r.json()["id"] == fb.account.id


async def test_missing_token(fb: Any, envelope: Any) -> None:
    r = await fb.get("me", None)
    message = "An active access token must be used to query information about the current user."
    assert r.status_code == 400
    assert r.text == envelope(message, 2500, r.json()["error"]["fbtrace_id"])
    r = await fb.get(f"{fb.account.pages[0].id}/posts", None)
    assert r.status_code == 400 and r.json()["error"]["code"] == 104


async def test_me_accounts_and_page_tokens(fb: Any, core: Core) -> None:
    long = await fb.long_token()
    r = await fb.get("me/accounts", long)
    body = r.json()
    assert [p["id"] for p in body["data"]] == [p.id for p in fb.account.pages]
    first = body["data"][0]
    assert list(first) == ["access_token", "category", "name", "id", "tasks"]
    assert first["access_token"].startswith("EAA") and "MANAGE" in first["tasks"]
    assert "cursors" in body["paging"]
    page_token = core.token(first["access_token"])
    assert page_token.expires_at is None and page_token.page_id == first["id"]
    again = await fb.get("me/accounts", long)
    assert again.json()["data"][0]["access_token"] == first["access_token"]
    r = await fb.get(first["id"], long, fields="access_token")
    assert r.json() == {"access_token": first["access_token"], "id": first["id"]}
    r = await fb.get("me/accounts", long, limit="1")
    assert len(r.json()["data"]) == 1 and "next" in r.json()["paging"]


async def test_page_tokens_from_a_short_token_live_one_hour(fb: Any, core: Core) -> None:
    short = await fb.short_token()
    r = await fb.get("me/accounts", short)
    token = core.token(r.json()["data"][0]["access_token"])
    assert token.expires_at == token.issued_at + timedelta(hours=1)


async def test_page_list_needs_pages_show_list(fb: Any) -> None:
    token = await fb.short_token(granted=["pages_read_engagement"])
    assert (await fb.get("me/accounts", token)).json() == {"data": []}


async def test_posts(fb: Any) -> None:
    token = await fb.long_token()
    page = fb.account.pages[0]
    r = await fb.get(f"{page.id}/posts", token)
    assert r.status_code == 200
    data = r.json()["data"]
    assert len(data) == 5
    assert set(data[0]) == {"id", "message", "created_time"}
    assert data[0]["id"].startswith(page.id + "_") and data[0]["created_time"].endswith("+0000")
    r2 = await fb.get(f"{page.id}/posts", token, limit="2")
    assert len(r2.json()["data"]) == 2
    after = r2.json()["paging"]["cursors"]["after"]
    r3 = await fb.get(f"{page.id}/posts", token, limit="2", after=after)
    assert r3.json()["data"] == data[2:4]
    page_token = (await fb.get("me/accounts", token)).json()["data"][0]["access_token"]
    assert (await fb.get(f"{page.id}/posts", page_token)).json()["data"] == data


async def test_posts_permission_errors(fb: Any, core: Core, envelope: Any) -> None:
    stranger = core.create_account("facebook", pages=1)
    token = await fb.short_token()
    r = await fb.get(f"{stranger.pages[0].id}/posts", token)
    message = "(#200) The user hasn't authorized the application to perform this action"
    assert r.status_code == 403
    assert r.text == envelope(message, 200, r.json()["error"]["fbtrace_id"])
    declined = await fb.short_token(granted=["pages_show_list"])
    r = await fb.get(f"{fb.account.pages[0].id}/posts", declined)
    message = "(#10) Application does not have permission for this action"
    assert r.status_code == 403
    assert r.text == envelope(message, 10, r.json()["error"]["fbtrace_id"])


async def test_restricted_account_gets_the_policy_block(fb: Any, core: Core) -> None:
    token = await fb.long_token()
    page = fb.account.pages[0]
    core.fire_event(fb.account.id, "restricted")
    r = await fb.get(f"{page.id}/posts", token)
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (
        368,
        1390008,
        "OAuthException",
    )
    assert error["message"] == (
        "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
    )
    assert (await fb.get("me", token)).status_code == 200  # the token itself still works
    core.fire_event(fb.account.id, "unrestricted")
    assert (await fb.get(f"{page.id}/posts", token)).status_code == 200


async def test_password_change_460(fb: Any, core: Core, envelope: Any) -> None:
    long = await fb.long_token()
    page_token = (await fb.get("me/accounts", long)).json()["data"][0]["access_token"]
    core.fire_event(fb.account.id, "password_change")
    token_error(await fb.get("me", long), PASSWORD, envelope, 460)
    token_error(
        await fb.get(f"{fb.account.pages[0].id}/posts", page_token), PASSWORD, envelope, 460
    )
    fresh = await fb.short_token()
    assert (await fb.get("me", fresh)).status_code == 200


async def test_app_removed_458(fb: Any, core: Core, envelope: Any) -> None:
    token = await fb.short_token()
    core.fire_event(fb.account.id, "app_removed", client_id=fb.app.client_id)
    message = (
        "Error validating access token: The user has not authorized application "
        f"{fb.app.client_id}."
    )
    token_error(await fb.get("me", token), message, envelope, 458)


async def test_checkpoint_459_then_new_login_works_24_hours_after_clearing(
    fb: Any, core: Core, clock: ManualClock, envelope: Any
) -> None:
    token = await fb.short_token()
    core.fire_event(fb.account.id, "checkpoint")
    token_error(await fb.get("me", token), CHECKPOINT, envelope, 459)
    refused = await fb.approve()
    assert refused.status_code == 400
    assert "held at a security checkpoint" in refused.text
    core.fire_event(fb.account.id, "checkpoint_cleared")
    assert "log in to apps again from" in (await fb.approve()).text
    clock.advance(timedelta(hours=24))
    assert (await fb.get("me", await fb.short_token())).status_code == 200


async def test_expired_463_in_pacific_standard_time(
    fb: Any, clock: ManualClock, envelope: Any
) -> None:
    token = await fb.short_token()  # 2026-01-05 09:00Z, expires 10:00Z = 02:00 PST
    clock.advance(timedelta(hours=2))
    message = (
        "Error validating access token: Session has expired on Monday, 05-Jan-26 02:00:00 PST. "
        "The current time is Monday, 05-Jan-26 03:00:00 PST."
    )
    token_error(await fb.get("me", token), message, envelope, 463)


async def test_expired_463_in_pacific_daylight_time(envelope: Any) -> None:
    clock = ManualClock(datetime(2026, 7, 6, 9, 0, tzinfo=UTC))
    core = Core(clock)
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    account = core.create_account("facebook")
    code = core.approve(app.client_id, account.id, REDIRECT, requested=["x"], granted=["x"])
    token = core.exchange_code(code.value, client_id=app.client_id, redirect_uri=REDIRECT)
    clock.advance(timedelta(hours=1, minutes=30, seconds=5))
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/graph.facebook.com/me", params={"access_token": token.value})
    message = (
        "Error validating access token: Session has expired on Monday, 06-Jul-26 03:00:00 PDT. "
        "The current time is Monday, 06-Jul-26 03:30:05 PDT."
    )
    token_error(r, message, envelope, 463)


async def test_malformed_token(fb: Any, envelope: Any) -> None:
    token_error(await fb.get("me", "not-a-token"), MALFORMED, envelope, None)


async def test_data_access_expiry_493(fb: Any, clock: ManualClock) -> None:
    long = await fb.long_token()
    page_token = (await fb.get("me/accounts", long)).json()["data"][0]["access_token"]
    clock.advance(timedelta(days=90))
    r = await fb.get("me", page_token)
    assert r.status_code == 400 and r.json()["error"]["error_subcode"] == 493


async def test_permissions_delete_one_and_all(fb: Any) -> None:
    token = await fb.short_token()
    r = await fb.client.delete(
        "/graph.facebook.com/v21.0/me/permissions/pages_manage_posts",
        params={"access_token": token},
    )
    assert r.status_code == 200 and r.text == "true"
    r = await fb.client.delete(
        f"/graph.facebook.com/v21.0/{fb.account.id}/permissions/pages_show_list",
        params={"access_token": token},
    )
    assert r.text == "true"
    perms = (await fb.get("me/permissions", token)).json()["data"]
    assert {"permission": "pages_manage_posts", "status": "declined"} in perms
    r = await fb.client.delete(
        f"/graph.facebook.com/v21.0/{fb.account.id}/permissions", params={"access_token": token}
    )
    assert r.text == '{"success":true}'
    r = await fb.get("me", token)
    assert r.json()["error"]["error_subcode"] == 458


async def debug(fb: Any, input_token: str | None, access_token: str | None) -> httpx.Response:
    params = {}
    if input_token is not None:
        params["input_token"] = input_token
    if access_token is not None:
        params["access_token"] = access_token
    return await fb.client.get("/graph.facebook.com/v21.0/debug_token", params=params)


async def test_debug_token_valid_user_token(fb: Any, clock: ManualClock) -> None:
    token = await fb.short_token()
    data = (await debug(fb, token, fb.app_token)).json()["data"]
    now = int(clock.now().timestamp())
    assert list(data) == [
        "app_id", "type", "application", "data_access_expires_at", "expires_at", "is_valid",
        "issued_at", "metadata", "scopes", "granular_scopes", "user_id",
    ]  # fmt: skip
    assert data["app_id"] == fb.app.client_id and data["type"] == "USER"
    assert data["application"] == "Scheduly" and data["is_valid"] is True
    assert data["issued_at"] == now and data["expires_at"] == now + 3600
    assert data["data_access_expires_at"] == now + 90 * 86400
    assert data["user_id"] == fb.account.id
    assert data["scopes"] == ["pages_show_list", "pages_read_engagement", "pages_manage_posts"]
    assert data["granular_scopes"][0]["target_ids"] == [p.id for p in fb.account.pages]


async def test_debug_token_page_token_and_user_token_as_access(fb: Any) -> None:
    long = await fb.long_token()
    page = (await fb.get("me/accounts", long)).json()["data"][0]
    data = (await debug(fb, page["access_token"], long)).json()["data"]
    assert data["type"] == "PAGE" and data["expires_at"] == 0 and data["profile_id"] == page["id"]


async def test_debug_token_after_password_change(fb: Any, core: Core) -> None:
    token = await fb.long_token()
    core.fire_event(fb.account.id, "password_change")
    r = await debug(fb, token, fb.app_token)
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["expires_at"] == 0 and data["is_valid"] is False
    assert data["error"] == {"code": 190, "message": PASSWORD, "subcode": 460}


async def test_debug_token_expired(fb: Any, clock: ManualClock) -> None:
    token = await fb.short_token()
    clock.advance(timedelta(days=1))
    data = (await debug(fb, token, fb.app_token)).json()["data"]
    assert data["is_valid"] is False and data["error"]["subcode"] == 463
    assert data["expires_at"] == int((clock.now() - timedelta(hours=23)).timestamp())


async def test_debug_token_unparseable(fb: Any) -> None:
    r = await debug(fb, "garbage", fb.app_token)
    assert r.status_code == 200
    assert r.text == (
        '{"data":{"error":{"code":190,"message":"Invalid OAuth access token - Cannot parse '
        'access token"},"is_valid":false,"scopes":[]}}'
    )


async def test_debug_token_request_errors(fb: Any) -> None:
    token = await fb.short_token()
    r = await debug(fb, token, None)
    assert r.status_code == 400 and r.json()["error"]["code"] == 104
    r = await debug(fb, None, fb.app_token)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "(#100) The parameter input_token is required"
    r = await debug(fb, token, f"{fb.app.client_id}|wrong")
    assert r.status_code == 400 and r.json()["error"]["code"] == 190


async def test_host_header_routing(fb: Any) -> None:
    token = await fb.short_token()
    r = await fb.client.get(
        "/v21.0/me", params={"access_token": token}, headers={"Host": "graph.facebook.com"}
    )
    assert r.status_code == 200 and r.json()["id"] == fb.account.id
    r = await fb.client.get(
        "/graph.facebook.com/me",
        params={"access_token": token},
        headers={"Host": "graph.facebook.com"},
    )
    assert r.status_code == 200
    r = await fb.client.get(
        "/dialog/oauth", params=fb.dialog_fields(), headers={"Host": "www.facebook.com:443"}
    )
    assert r.status_code == 200 and "Scheduly" in r.text


async def test_unknown_paths_are_facebook_shaped(fb: Any) -> None:
    token = await fb.short_token()
    r = await fb.get("me/nonsense", token)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "Unknown path components: /nonsense"
    r = await fb.get("99999", token)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] == "GraphMethodException" and err["code"] == 100
    assert err["error_subcode"] == 33
    r = await fb.client.get("/graph.facebook.com/")
    assert r.status_code == 400 and "error" in r.json()
    r = await fb.client.put("/graph.facebook.com/v21.0/me")
    assert r.status_code == 405 and "error" in r.json()
    r = await fb.client.get("/www.facebook.com/nothing")
    assert r.status_code == 404


async def test_unexpected_exception_answers_facebook_error(
    fb: Any, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await fb.short_token()

    def boom(value: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(core, "check_token", boom)
    r = await fb.get("me", token)
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["message"] == "An unknown error has occurred." and err["code"] == 1
