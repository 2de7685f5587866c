"""Instagram's Graph nodes through HTTP: ``graph.instagram.com`` (Instagram Login, §2a)
and ``graph.facebook.com/{ig-user-id}`` (Instagram with Facebook Login, §2b) — the
profile, media, publishing and its limit, and every account event's error body."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fp_support import REDIRECT, ManualClock
from test_instagram_oauth import Instagram

from fake_providers import Core

PASSWORD = (
    "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons."
)
CHECKPOINT = (
    "You cannot access the app till you log in to www.facebook.com and follow the "
    "instructions given."
)
NOT_BUSINESS = "(#10) The user is not an Instagram Business"


@pytest.fixture
def ig(core: Core, client: httpx.AsyncClient) -> Instagram:
    app = core.create_app_registration("instagram", redirect_uris=[REDIRECT], name="Scheduly")
    return Instagram(core, client, app, core.create_account("instagram"))


def graph_error(r: httpx.Response, envelope: Any, message: str, code: int, sub: int | None) -> None:
    assert r.status_code == 400
    assert r.text == envelope(message, code, r.json()["error"]["fbtrace_id"], sub)


# -- graph.instagram.com ---------------------------------------------------------------


async def test_me(ig: Instagram) -> None:
    token = await ig.long_token()
    r = await ig.get("me", token)
    assert r.json() == {"id": ig.account.id}
    r = await ig.get("me", token, fields="user_id,username,account_type")
    body = r.json()
    assert list(body) == ["user_id", "username", "account_type", "id"]
    assert body["user_id"] == ig.account.id and body["account_type"] == "BUSINESS"
    assert body["username"] == ig.account.name.lower().replace(" ", ".")
    r = await ig.client.get(
        f"/graph.instagram.com/{ig.account.id}",
        headers={"Authorization": f"Bearer {token}"},
        params={"fields": "name,media_count"},
    )
    assert r.json() == {"name": ig.account.name, "media_count": 6, "id": ig.account.id}


async def test_media_is_stable_and_paged(ig: Instagram) -> None:
    token = await ig.long_token()
    r = await ig.get("me/media", token)
    assert all(list(m) == ["id"] for m in r.json()["data"])
    r = await ig.get("me/media", token, fields="id,caption,media_type,timestamp", limit="4")
    body = r.json()
    assert len(body["data"]) == 4 and "next" in body["paging"]
    first = body["data"][0]
    assert list(first) == ["id", "caption", "media_type", "timestamp"]
    assert first["timestamp"].endswith("+0000")
    again = await ig.get(f"{ig.account.id}/media", token, fields="id", limit="4")
    assert [m["id"] for m in again.json()["data"]] == [m["id"] for m in body["data"]]
    after = body["paging"]["cursors"]["after"]
    rest = await ig.get("me/media", token, limit="4", after=after)
    assert len(rest.json()["data"]) == 2


async def test_no_token(ig: Instagram, envelope: Any) -> None:
    r = await ig.get("me", None)
    message = "An active access token must be used to query information about the current user."
    graph_error(r, envelope, message, 2500, None)
    r = await ig.get(f"{ig.account.id}/media", None)
    assert r.json()["error"]["code"] == 104


async def test_a_facebook_token_is_not_an_instagram_token(
    ig: Instagram, fb: Any, envelope: Any
) -> None:
    r = await ig.get("me", await fb.short_token())
    graph_error(r, envelope, "Invalid OAuth access token - Cannot parse access token", 190, None)


async def test_another_accounts_node(ig: Instagram) -> None:
    other = ig.core.create_account("instagram")
    r = await ig.get(other.id, await ig.long_token())
    err = r.json()["error"]
    assert err["code"] == 100 and err["error_subcode"] == 33
    assert err["type"] == "GraphMethodException"


@pytest.mark.parametrize(
    ("event", "message", "sub"),
    [
        ("password_change", PASSWORD, 460),
        ("checkpoint", CHECKPOINT, 459),
        ("locked", None, 490),
    ],
)
async def test_killing_events(
    ig: Instagram, envelope: Any, event: str, message: str | None, sub: int
) -> None:
    token = await ig.long_token()
    ig.core.fire_event(ig.account.id, event)
    r = await ig.get("me/media", token)
    assert r.headers["www-authenticate"].startswith('OAuth "Facebook Platform" "invalid_token"')
    if message is not None:
        graph_error(r, envelope, message, 190, sub)
    assert r.json()["error"]["error_subcode"] == sub


async def test_app_removed(ig: Instagram, envelope: Any) -> None:
    token = await ig.long_token()
    ig.core.fire_event(ig.account.id, "app_removed", client_id=ig.app.client_id)
    r = await ig.get("me/media", token)
    message = f"Error validating access token: The user has not authorized application {ig.app.client_id}."
    graph_error(r, envelope, message, 190, 458)


async def test_expired(ig: Instagram, clock: ManualClock) -> None:
    token = await ig.long_token()
    clock.advance(timedelta(days=60))
    r = await ig.get("me/media", token)
    err = r.json()["error"]
    assert err["error_subcode"] == 463
    assert err["message"] == (
        "Error validating access token: Session has expired on Friday, 06-Mar-26 "
        "00:59:04 PST. The current time is Friday, 06-Mar-26 01:00:00 PST."
    )


async def test_a_personal_account(ig: Instagram, envelope: Any) -> None:
    token = await ig.long_token()
    ig.core.fire_event(ig.account.id, "switched_to_personal")
    graph_error(await ig.get("me/media", token), envelope, NOT_BUSINESS, 10, None)
    r = await ig.get("me", token, fields="account_type")
    assert r.json()["account_type"] == "PERSONAL"
    ig.core.fire_event(ig.account.id, "switched_to_professional", type="creator")
    assert (await ig.get("me/media", token)).status_code == 200
    r = await ig.get("me", token, fields="account_type")
    assert r.json()["account_type"] == "MEDIA_CREATOR"


async def test_suspended_and_restricted(ig: Instagram, envelope: Any) -> None:
    token = await ig.long_token()
    ig.core.fire_event(ig.account.id, "suspended")
    message = "Error validating access token: The user account has been suspended."
    graph_error(await ig.get("me/media", token), envelope, message, 190, None)
    ig.core.fire_event(ig.account.id, "reinstated")
    ig.core.fire_event(ig.account.id, "restricted")
    message = "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
    graph_error(await ig.get("me", token), envelope, message, 368, None)


async def test_a_revoked_permission(ig: Instagram) -> None:
    token = await ig.long_token()
    ig.core.revoke_permission(ig.account.id, ig.app.client_id, "instagram_business_basic")
    r = await ig.get("me/media", token)
    assert r.status_code == 403
    assert (
        r.json()["error"]["message"] == "(#10) Application does not have permission for this action"
    )


async def test_publishing_and_its_daily_limit(clock: ManualClock, envelope: Any) -> None:
    from conntrack import load_profile
    from fake_providers import create_app

    profile = load_profile("instagram", {"publish_limit_per_24h": 2})
    core = Core(clock, seed=5, profiles={"instagram": profile})
    app = core.create_app_registration("instagram", redirect_uris=[REDIRECT])
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as c:
        ig = Instagram(core, c, app, core.create_account("instagram"))
        token = await ig.long_token()
        uid = ig.account.id

        async def publish() -> httpx.Response:
            r = await c.post(
                f"/graph.instagram.com/v21.0/{uid}/media",
                data={
                    "image_url": "https://img.example/1.jpg",
                    "caption": "Hi",
                    "access_token": token,
                },
            )
            assert r.status_code == 200, r.text
            return await c.post(
                f"/graph.instagram.com/v21.0/{uid}/media_publish",
                data={"creation_id": r.json()["id"], "access_token": token},
            )

        assert (await publish()).status_code == 200
        second = await publish()
        assert second.status_code == 200
        r = await publish()
        assert r.status_code == 400
        assert r.text == (
            '{"error":{"message":"Application request limit reached","type":"OAuthException",'
            '"code":9,"error_subcode":2207042,"is_transient":false,'
            '"error_user_title":"Max publish limit reached","error_user_msg":"You reached '
            "maximum number of posts that is allowed to be published by Content Publishing "
            f'API.","fbtrace_id":"{r.json()["error"]["fbtrace_id"]}"}}}}'
        )
        limit = await ig.get(f"{uid}/content_publishing_limit", token, fields="config,quota_usage")
        assert limit.json() == {
            "data": [{"quota_usage": 2, "config": {"quota_total": 2, "quota_duration": 86400}}]
        }
        media = await ig.get("me/media", token, fields="id,caption")
        assert media.json()["data"][0] == {"id": second.json()["id"], "caption": "Hi"}
        clock.advance(timedelta(hours=24, seconds=1))
        assert (await publish()).status_code == 200
        r = await c.post(
            f"/graph.instagram.com/v21.0/{uid}/media_publish",
            data={"creation_id": "123", "access_token": token},
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == 100


# -- graph.facebook.com/{ig-user-id} (Instagram with Facebook Login) -------------------

FB_IG_SCOPES = "instagram_basic,instagram_content_publish,pages_show_list,pages_read_engagement"


@pytest.fixture
def linked(fb: Any, core: Core) -> Any:
    """The Facebook helper with a Page that has a linked Instagram business account."""
    account = core.create_account("facebook", pages=1, linked_instagram=True)
    fb.account = account
    return fb


def ig_of(core: Core, fb: Any) -> str:
    ig_id = fb.account.pages[0].instagram_account_id
    assert ig_id is not None
    return str(ig_id)


async def test_found_through_me_accounts(linked: Any, core: Core) -> None:
    token = await linked.long_token(scope=FB_IG_SCOPES)
    r = await linked.get("me/accounts", token, fields="id,instagram_business_account")
    [page] = r.json()["data"]
    assert page["instagram_business_account"] == {"id": ig_of(core, linked)}


async def test_ig_user_node_and_media(linked: Any, core: Core) -> None:
    token = await linked.long_token(scope=FB_IG_SCOPES)
    ig_id = ig_of(core, linked)
    r = await linked.get(ig_id, token, fields="id,username,name")
    assert r.status_code == 200 and r.json()["id"] == ig_id and r.json()["username"]
    r = await linked.get(f"{ig_id}/media", token, fields="id,caption,media_type,timestamp")
    assert r.status_code == 200 and len(r.json()["data"]) == 6
    page_token = core.page_token(token, linked.account.pages[0].id).value
    assert (await linked.get(f"{ig_id}/media", page_token)).status_code == 200


async def test_ig_node_needs_instagram_basic(linked: Any, core: Core) -> None:
    token = await linked.long_token(scope="pages_show_list")
    r = await linked.get(f"{ig_of(core, linked)}/media", token)
    assert r.status_code == 403 and r.json()["error"]["code"] == 10


async def test_ig_node_after_switch_to_personal(linked: Any, core: Core, envelope: Any) -> None:
    token = await linked.long_token(scope=FB_IG_SCOPES)
    ig_id = ig_of(core, linked)
    core.fire_event(ig_id, "switched_to_personal")
    graph_error(await linked.get(f"{ig_id}/media", token), envelope, NOT_BUSINESS, 10, None)
    r = await linked.get("me/accounts", token, fields="id,instagram_business_account")
    assert "instagram_business_account" not in r.json()["data"][0]


async def test_ig_node_after_unlink(linked: Any, core: Core) -> None:
    token = await linked.long_token(scope=FB_IG_SCOPES)
    ig_id = ig_of(core, linked)
    core.fire_event(linked.account.id, "page_unlinked", page_id=linked.account.pages[0].id)
    r = await linked.get(f"{ig_id}/media", token)
    err = r.json()["error"]
    assert r.status_code == 400 and err["code"] == 100 and err["error_subcode"] == 33
    assert err["message"].startswith(f"Unsupported get request. Object with ID '{ig_id}'")


async def test_ig_node_of_someone_elses_page(linked: Any, core: Core) -> None:
    stranger = core.create_account("facebook", pages=1, linked_instagram=True)
    token = await linked.long_token(scope=FB_IG_SCOPES)
    r = await linked.get(f"{ig_of(core, linked)}/media", token)
    assert r.status_code == 200
    r = await linked.get(f"{stranger.pages[0].instagram_account_id}/media", token)
    assert r.json()["error"]["error_subcode"] == 33


async def test_ig_publishing_through_facebook(linked: Any, core: Core) -> None:
    token = await linked.long_token(scope=FB_IG_SCOPES)
    ig_id = ig_of(core, linked)
    r = await linked.client.post(
        f"/graph.facebook.com/v21.0/{ig_id}/media",
        data={"image_url": "https://img.example/a.jpg", "access_token": token},
    )
    r = await linked.client.post(
        f"/graph.facebook.com/v21.0/{ig_id}/media_publish",
        data={"creation_id": r.json()["id"], "access_token": token},
    )
    assert r.status_code == 200
    r = await linked.get(f"{ig_id}/content_publishing_limit", token)
    assert r.json() == {"data": [{"quota_usage": 1}]}
