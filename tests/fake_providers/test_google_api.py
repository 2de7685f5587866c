"""Google's token introspection, userinfo, revocation and the YouTube Data API's
``channels.list``, with the exact error bodies of PROVIDERS.md §6."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fp_support import REDIRECT, ManualClock
from test_google_oauth import YT, Google, exact

from fake_providers import Core
from fake_providers.google._youtube import channel_id

__all__ = ["google"]

INVALID_AUTH = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
UNAUTHENTICATED = {
    "error": {
        "code": 401,
        "message": INVALID_AUTH,
        "errors": [
            {
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
        "status": "UNAUTHENTICATED",
    }
}
INSUFFICIENT = {
    "error": {
        "code": 403,
        "message": "Request had insufficient authentication scopes.",
        "errors": [
            {
                "message": "Insufficient Permission",
                "domain": "global",
                "reason": "insufficientPermissions",
            }
        ],
        "status": "PERMISSION_DENIED",
    }
}
SIGNUP = {
    "error": {
        "code": 401,
        "message": "Unauthorized",
        "errors": [
            {
                "message": "Unauthorized",
                "domain": "youtube.header",
                "reason": "youtubeSignupRequired",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
    }
}
QUOTA = 'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">quota</a>.'


@pytest.fixture
def google(core: Core, client: httpx.AsyncClient) -> Google:
    app = core.create_app_registration("google", redirect_uris=[REDIRECT], name="Scheduly")
    return Google(core, client, app, core.create_account("google"))


# -- channels.list ----------------------------------------------------------------------


async def test_channels_mine_lists_the_accounts_channel(google: Google) -> None:
    token = (await google.tokens())["access_token"]
    r = await google.channels(token, part="snippet,contentDetails,statistics")
    assert r.status_code == 200
    body = r.json()
    assert body["kind"] == "youtube#channelListResponse"
    assert body["pageInfo"] == {"totalResults": 1, "resultsPerPage": 5}
    [item] = body["items"]
    page = google.account.pages[0]
    assert item["id"] == channel_id(page.id) and len(item["id"]) == 24
    assert item["id"].startswith("UC") and item["kind"] == "youtube#channel"
    assert item["snippet"]["title"] == page.name
    assert item["contentDetails"]["relatedPlaylists"]["uploads"] == "UU" + item["id"][2:]
    assert item["statistics"]["videoCount"] == str(len(page.posts))
    same = await google.client.get(
        "/youtube.googleapis.com/youtube/v3/channels",
        params={"part": "id", "id": item["id"], "access_token": token},
    )
    assert [i["id"] for i in same.json()["items"]] == [item["id"]]


async def test_channel_ids_are_deterministic() -> None:
    assert channel_id("123") == channel_id("123") != channel_id("124")


async def test_no_credential_is_login_required(google: Google) -> None:
    r = await google.channels(None)
    assert r.status_code == 401
    assert r.json()["error"]["errors"][0]["reason"] == "required"
    assert r.json()["error"]["message"].startswith("Request is missing required authentication")


async def test_dead_token_answers_unauthenticated(google: Google, clock: ManualClock) -> None:
    token = (await google.tokens())["access_token"]
    clock.advance(timedelta(seconds=3599))
    r = await google.channels(token)
    exact(r, 401, UNAUTHENTICATED)
    assert r.headers["www-authenticate"] == (
        'Bearer realm="https://accounts.google.com/", error="invalid_token"'
    )
    exact(await google.channels("ya29.unknown"), 401, UNAUTHENTICATED)


async def test_app_removed_kills_access_tokens(google: Google) -> None:
    token = (await google.tokens())["access_token"]
    google.core.fire_event(google.account.id, "app_removed")
    exact(await google.channels(token), 401, UNAUTHENTICATED)


async def test_declined_youtube_scope_is_insufficient_permissions(google: Google) -> None:
    token = (await google.tokens(granted=["openid", "email"]))["access_token"]
    r = await google.channels(token)
    exact(r, 403, INSUFFICIENT)
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]


async def test_revoked_permission_is_insufficient_permissions(google: Google) -> None:
    token = (await google.tokens())["access_token"]
    google.core.fire_event(
        google.account.id, "permission_revoked", client_id=google.app.client_id, permission=YT
    )
    exact(await google.channels(token), 403, INSUFFICIENT)


async def test_account_without_channel_needs_youtube_signup(google: Google) -> None:
    token = (await google.tokens())["access_token"]
    google.core.fire_event(google.account.id, "admin_removed")
    exact(await google.channels(token), 401, SIGNUP)
    nobody = google.core.create_account("google", pages=0)
    token = (await google.tokens(account=nobody))["access_token"]
    exact(await google.channels(token), 401, SIGNUP)


async def test_suspended_account(google: Google) -> None:
    token = (await google.tokens())["access_token"]
    google.core.fire_event(google.account.id, "suspended")
    r = await google.channels(token)
    assert r.status_code == 403
    assert r.json()["error"]["errors"][0]["reason"] == "authenticatedUserAccountSuspended"
    google.core.fire_event(google.account.id, "reinstated")
    assert (await google.channels(token)).status_code == 200


async def test_locked_account_answers_unauthenticated(google: Google) -> None:
    token = (await google.tokens())["access_token"]
    google.core.fire_event(google.account.id, "checkpoint")
    exact(await google.channels(token), 401, UNAUTHENTICATED)


async def test_quota_exceeded_until_midnight_pacific(clock: ManualClock) -> None:
    from conntrack import load_profile

    core = Core(
        clock, seed=3, profiles={"google": load_profile("google", {"youtube_daily_quota": 2})}
    )
    from fake_providers import create_app

    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        app = core.create_app_registration("google", redirect_uris=[REDIRECT])
        google = Google(core, http, app, core.create_account("google"))
        token = (await google.tokens())["access_token"]
        assert (await google.channels(token)).status_code == 200
        assert (await google.channels(token)).status_code == 200
        exact(
            await google.channels(token),
            403,
            {
                "error": {
                    "code": 403,
                    "message": QUOTA,
                    "errors": [
                        {"message": QUOTA, "domain": "youtube.quota", "reason": "quotaExceeded"}
                    ],
                }
            },
        )
        clock.advance(timedelta(hours=24))
        token = (await google.tokens())["access_token"]
        assert (await google.channels(token)).status_code == 200


async def test_parameter_errors(google: Google) -> None:
    token = (await google.tokens())["access_token"]
    r = await google.channels(token, part="")
    assert r.status_code == 400 and r.json()["error"]["errors"][0]["reason"] == "required"
    r = await google.channels(token, mine="")
    assert r.json()["error"]["errors"][0]["reason"] == "missingRequiredParameter"


async def test_unknown_paths(google: Google) -> None:
    r = await google.client.get("/www.googleapis.com/youtube/v3/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    r = await google.client.get("/accounts.google.com/nothing")
    assert r.status_code == 404 and "That\N{RIGHT SINGLE QUOTATION MARK}s an error." in r.text


# -- tokeninfo, userinfo, revoke --------------------------------------------------------


async def test_tokeninfo_answers_strings(google: Google, clock: ManualClock) -> None:
    body = await google.tokens()
    clock.advance(timedelta(seconds=99))
    r = await google.client.get(
        "/oauth2.googleapis.com/tokeninfo", params={"access_token": body["access_token"]}
    )
    now = int(clock.now().timestamp())
    exact(
        r,
        200,
        {
            "azp": google.app.client_id,
            "aud": google.app.client_id,
            "sub": google.account.id,
            "scope": body["scope"],
            "exp": str(now + 3500),
            "expires_in": "3500",
            "email": google.account.email,
            "email_verified": "true",
            "access_type": "offline",
        },
    )


async def test_tokeninfo_invalid_value(google: Google) -> None:
    body = await google.tokens()
    exact(
        await google.client.get(
            "/oauth2.googleapis.com/tokeninfo", params={"access_token": body["refresh_token"]}
        ),
        400,
        {"error": "invalid_token", "error_description": "Invalid Value"},
    )
    exact(
        await google.client.get(
            "/www.googleapis.com/oauth2/v3/tokeninfo", params={"access_token": "ya29.nope"}
        ),
        400,
        {"error_description": "Invalid Value"},
    )


async def test_tokeninfo_checks_id_tokens(google: Google, clock: ManualClock) -> None:
    body = await google.tokens()
    r = await google.client.get(
        "/oauth2.googleapis.com/tokeninfo", params={"id_token": body["id_token"]}
    )
    assert r.status_code == 200
    info = r.json()
    assert info["sub"] == google.account.id and info["email_verified"] == "true"
    assert info["alg"] == "RS256" and all(isinstance(v, str) for v in info.values())
    tampered = body["id_token"][:-4] + "AAAA"
    r = await google.client.get("/oauth2.googleapis.com/tokeninfo", params={"id_token": tampered})
    assert r.status_code == 400
    clock.advance(timedelta(hours=1))
    r = await google.client.get(
        "/oauth2.googleapis.com/tokeninfo", params={"id_token": body["id_token"]}
    )
    assert r.status_code == 400


async def test_userinfo(google: Google) -> None:
    token = (await google.tokens(scope=f"openid email profile {YT}"))["access_token"]
    for url in (
        "/openidconnect.googleapis.com/v1/userinfo",
        "/www.googleapis.com/oauth2/v3/userinfo",
    ):
        r = await google.client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        info = r.json()
        assert info["sub"] == google.account.id and info["name"] == google.account.name
        assert info["email"] == google.account.email and info["email_verified"] is True
    r = await google.client.get(
        "/openidconnect.googleapis.com/v1/userinfo", headers={"Authorization": "Bearer nope"}
    )
    exact(r, 401, {"error": "invalid_request", "error_description": "Invalid Credentials"})


async def test_revoking_an_access_token_revokes_its_refresh_token(google: Google) -> None:
    body = await google.tokens()
    r = await google.client.post(
        "/oauth2.googleapis.com/revoke", params={"token": body["access_token"]}
    )
    exact(r, 200, {})
    dead = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    exact(await google.refresh(body["refresh_token"]), 400, dead)
    again = await google.client.post(
        "/oauth2.googleapis.com/revoke", data={"token": body["refresh_token"]}
    )
    exact(again, 400, {"error": "invalid_token", "error_description": "Token expired or revoked"})


async def test_revoking_the_refresh_token_kills_access_tokens(google: Google) -> None:
    body = await google.tokens()
    r = await google.client.post(
        "/oauth2.googleapis.com/revoke", data={"token": body["refresh_token"]}
    )
    assert r.status_code == 200
    exact(await google.channels(body["access_token"]), 401, UNAUTHENTICATED)
