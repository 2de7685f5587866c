"""The LinkedIn API through HTTP: ``/v2/userinfo``, ``/v2/me``, ``/rest/posts``, the
version headers, and every token and permission error byte for byte as PROVIDERS.md §3
writes it — including what account events turn into."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fp_support import REDIRECT, ManualClock
from test_linkedin_oauth import DAY, LinkedIn

from conntrack import load_profile
from fake_providers import Core, create_app

POSTS = "/api.linkedin.com/rest/posts"
VERSION = "202411"
INVALID = '{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token"}'
REVOKED = '{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN","message":"The token used in the request has been revoked by the user"}'
EXPIRED = '{"status":401,"serviceErrorCode":65602,"code":"EXPIRED_ACCESS_TOKEN","message":"The token used in the request has expired"}'
EMPTY = '{"message":"Empty oauth2_access_token","serviceErrorCode":401,"status":401}'


def denied(what: str) -> str:
    return (
        '{"status":403,"serviceErrorCode":100,"code":"ACCESS_DENIED",'
        f'"message":"Not enough permissions to access: {what}"}}'
    )


POSTS_DENIED = denied("partnerApiPostsExternal.FINDER-author.20241101")


@pytest.fixture
def li(core: Core, client: httpx.AsyncClient) -> LinkedIn:
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT], name="Scheduly")
    return LinkedIn(core, client, app, core.create_account("linkedin", pages=2))


def org(li: LinkedIn, index: int = 0) -> str:
    return f"urn:li:organization:{li.account.pages[index].id}"


async def posts(
    li: LinkedIn, token: str | None, *, author: str | None = None, version: str | None = VERSION
) -> httpx.Response:
    headers = {"X-Restli-Protocol-Version": "2.0.0"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if version is not None:
        headers["LinkedIn-Version"] = version
    params = {"q": "author", "author": author or org(li)}
    return await li.client.get(POSTS, params=params, headers=headers)


def exactly(r: httpx.Response, status: int, text: str) -> None:
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"] == "application/json"


async def token(li: LinkedIn, **kw: Any) -> str:
    return str((await li.tokens(**kw))["access_token"])


# -- what the sync reads ---------------------------------------------------------------


async def test_an_organizations_posts(li: LinkedIn) -> None:
    r = await posts(li, await token(li))
    assert r.status_code == 200 and r.headers["x-restli-protocol-version"] == "2.0.0"
    body = r.json()
    assert body["paging"] == {"start": 0, "count": 10, "links": [], "total": 5}
    first = body["elements"][0]
    page = li.account.pages[0]
    assert first["author"] == org(li) and first["lifecycleState"] == "PUBLISHED"
    assert first["id"] == "urn:li:share:" + page.posts[0].id.rpartition("_")[2]
    assert first["commentary"] == page.posts[0].message
    assert first["createdAt"] == int(page.posts[0].created_time.timestamp() * 1000)


async def test_paging_with_start_and_count(li: LinkedIn) -> None:
    value = await token(li)
    r = await li.client.get(
        POSTS,
        params={"q": "author", "author": org(li), "start": "3", "count": "2"},
        headers={"Authorization": f"Bearer {value}", "LinkedIn-Version": VERSION},
    )
    body = r.json()
    assert body["paging"] == {"start": 3, "count": 2, "links": [], "total": 5}
    assert len(body["elements"]) == 2


async def test_the_token_may_come_as_the_legacy_query_parameter(li: LinkedIn) -> None:
    value = await token(li)
    r = await li.client.get(
        POSTS,
        params={"q": "author", "author": org(li), "oauth2_access_token": value},
        headers={"LinkedIn-Version": VERSION},
    )
    assert r.status_code == 200


async def test_reading_needs_the_scope_and_the_admin_role(li: LinkedIn) -> None:
    exactly(await posts(li, await token(li, granted=["w_organization_social"])), 403, POSTS_DENIED)
    value = await token(li)
    stranger = li.core.create_account("linkedin")
    exactly(
        await posts(li, value, author=f"urn:li:organization:{stranger.pages[0].id}"),
        403,
        POSTS_DENIED,
    )
    exactly(await posts(li, value, author="urn:li:organization:1"), 403, POSTS_DENIED)
    exactly(await posts(li, value, author=f"urn:li:person:{li.account.id}"), 403, POSTS_DENIED)


async def test_bad_finder_parameters(li: LinkedIn) -> None:
    value = await token(li)
    r = await li.client.get(
        POSTS,
        params={"q": "owner"},
        headers={"Authorization": f"Bearer {value}", "LinkedIn-Version": VERSION},
    )
    assert r.status_code == 400 and r.json()["code"] == "ILLEGAL_ARGUMENT"
    r = await posts(li, value, author="acme")
    assert r.status_code == 400 and r.json()["code"] == "ILLEGAL_ARGUMENT"


# -- version headers -----------------------------------------------------------------------


async def test_a_sunset_or_unreleased_version_answers_426(li: LinkedIn) -> None:
    value = await token(li)
    r = await posts(li, value, version="202306")
    exactly(r, 426, '{"status":426,"code":"NONEXISTENT_VERSION","message":"Requested version 20230601 is not active"}')  # fmt: skip
    r = await posts(li, value, version="209901")
    assert (
        r.status_code == 426 and r.json()["message"] == "Requested version 20990101 is not active"
    )
    assert (await posts(li, value, version="202411.01")).status_code == 200


async def test_a_missing_version_answers_400(li: LinkedIn) -> None:
    r = await posts(li, await token(li), version=None)
    assert r.status_code == 400 and r.json()["code"] == "VERSION_MISSING"


# -- tokens --------------------------------------------------------------------------------


async def test_no_token_and_unknown_tokens(li: LinkedIn) -> None:
    exactly(await posts(li, None), 401, EMPTY)
    exactly(await posts(li, "AQVnever-issued"), 401, INVALID)
    refresh = (await li.tokens())["refresh_token"]
    exactly(await posts(li, refresh), 401, INVALID)  # a refresh token is not an access token


async def test_an_expired_access_token(li: LinkedIn, clock: ManualClock) -> None:
    value = await token(li)
    clock.advance(timedelta(seconds=5183999))
    exactly(await posts(li, value), 401, EXPIRED)


@pytest.mark.parametrize("event", ["password_change", "app_removed"])
async def test_password_change_and_app_removal_revoke_tokens(li: LinkedIn, event: str) -> None:
    value = await token(li)
    li.core.fire_event(li.account.id, event)
    exactly(await posts(li, value), 401, REVOKED)
    assert (await posts(li, await token(li))).status_code == 200  # a new sign-in works


async def test_revoked_through_the_revoke_endpoint(li: LinkedIn) -> None:
    value = await token(li)
    await li.client.post("/www.linkedin.com/oauth/v2/revoke", data={**li.creds(), "token": value})
    exactly(await posts(li, value), 401, REVOKED)


@pytest.mark.parametrize("event", ["locked", "suspended", "restricted", "checkpoint"])
async def test_a_restricted_member_account_answers_65601(li: LinkedIn, event: str) -> None:
    value = await token(li)
    li.core.fire_event(li.account.id, event)
    exactly(await posts(li, value), 401, REVOKED)


async def test_admin_removed_is_access_denied_and_admin_added_restores(li: LinkedIn) -> None:
    value = await token(li)
    page = li.account.pages[0].id
    li.core.fire_event(li.account.id, "admin_removed", page_id=page)
    exactly(await posts(li, value), 403, POSTS_DENIED)
    assert (await posts(li, value, author=org(li, 1))).status_code == 200  # still admin there
    li.core.fire_event(li.account.id, "admin_added", page_id=page)
    assert (await posts(li, value)).status_code == 200


async def test_a_revoked_permission_is_access_denied(li: LinkedIn) -> None:
    value = await token(li)
    li.core.revoke_permission(li.account.id, li.app.client_id, "r_organization_social")
    exactly(await posts(li, value), 403, POSTS_DENIED)


async def test_revoked_after_refresh_quirk(clock: ManualClock) -> None:
    profile = load_profile("linkedin", {"revoked_after_refresh_quirk": "5s"})
    core = Core(clock, seed=3, profiles={"linkedin": profile})
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT])
        li = LinkedIn(core, http, app, core.create_account("linkedin"))
        first = await li.tokens()
        assert (await posts(li, first["access_token"])).status_code == 200  # not from a refresh
        clock.advance(DAY)
        fresh = (await li.refresh(first["refresh_token"])).json()["access_token"]
        exactly(await posts(li, fresh), 401, REVOKED)
        clock.advance(timedelta(seconds=5))
        assert (await posts(li, fresh)).status_code == 200


async def test_the_application_day_limit(clock: ManualClock) -> None:
    core = Core(
        clock, seed=4, profiles={"linkedin": load_profile("linkedin", {"app_day_limit": 2})}
    )
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT])
        li = LinkedIn(core, http, app, core.create_account("linkedin"))
        value = await token(li)
        assert [(await posts(li, value)).status_code for _ in range(2)] == [200, 200]
        exactly(
            await posts(li, value),
            429,
            '{"status":429,"serviceErrorCode":101,"code":"TOO_MANY_REQUESTS","message":'
            '"Resource level throttle APPLICATION DAY limit for calls to this resource is reached."}',
        )
        clock.advance(DAY)
        assert (await posts(li, value)).status_code == 200


# -- profiles ---------------------------------------------------------------------------------


async def test_userinfo(li: LinkedIn) -> None:
    value = await token(li, scope="openid profile email")
    r = await li.client.get(
        "/api.linkedin.com/v2/userinfo", headers={"Authorization": f"Bearer {value}"}
    )
    first, _, last = li.account.name.partition(" ")
    body = r.json()
    assert body.pop("picture").startswith("https://media.licdn.com/")
    assert body == {
        "sub": li.account.id,
        "email_verified": True,
        "name": li.account.name,
        "locale": {"country": "US", "language": "en"},
        "given_name": first,
        "family_name": last,
        "email": li.account.email,
    }
    # The OpenID scopes do not open the legacy lite profile (r_liteprofile): real
    # LinkedIn answers 403 (linkedin-developers/linkedin-api-js-client#35).
    r = await li.client.get("/api.linkedin.com/v2/me", headers={"Authorization": f"Bearer {value}"})
    exactly(r, 403, denied("me.GET.NO_VERSION"))


async def test_userinfo_and_me_need_their_scopes(li: LinkedIn) -> None:
    headers = {"Authorization": f"Bearer {await token(li)}"}
    r = await li.client.get("/api.linkedin.com/v2/userinfo", headers=headers)
    exactly(r, 403, denied("userinfo.GET.NO_VERSION"))
    r = await li.client.get("/api.linkedin.com/v2/me", headers=headers)
    exactly(r, 403, denied("me.GET.NO_VERSION"))


async def test_unknown_paths_and_methods_get_linkedin_shapes(li: LinkedIn) -> None:
    r = await li.client.get("/api.linkedin.com/rest/nothing")
    exactly(r, 404, '{"status":404,"code":"RESOURCE_NOT_FOUND","message":"No virtual resource found"}')  # fmt: skip
    r = await li.client.delete(POSTS)
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
    r = await li.client.patch(POSTS)
    assert r.status_code == 405 and r.json()["status"] == 405
