"""The TikTok API through HTTP: user info, the video list, posting, account events,
the rate limit, and the exact ``{"data", "error"}`` envelopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fp_support import ManualClock
from test_tiktok_oauth import LOG_ID, TikTok, make

from conntrack import load_profile
from fake_providers import Core

INVALID = (
    "The access token is invalid or not found in the request. Please refresh the token and retry."
)
SCOPE = (
    "The user did not authorize the scope required for completing this request. Please ask "
    "the user to authorize and then retry."
)
VIDEOS = "v2/video/list/"
INIT = "v2/post/publish/video/init/"
CREATOR = "v2/post/publish/creator_info/query/"
POST = {
    "post_info": {"title": "hello", "privacy_level": "PUBLIC_TO_EVERYONE"},
    "source_info": {"source": "PULL_FROM_URL", "video_url": "https://x.example/v.mp4"},
}


@pytest.fixture
async def tt(clock: ManualClock) -> AsyncIterator[TikTok]:
    async for one in make(Core(clock, seed=7)):
        yield one


def api_error(r: httpx.Response, status: int, code: str, message: str | None = None) -> None:
    """The exact error envelope: empty ``data``, ``error`` with code, message, log_id."""
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["data", "error"] and body["data"] == {}
    assert list(body["error"]) == ["code", "message", "log_id"]
    assert body["error"]["code"] == code
    if message is not None:
        assert body["error"]["message"] == message
    assert LOG_ID.match(body["error"]["log_id"])


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["data", "error"]
    assert body["error"]["code"] == "ok" and body["error"]["message"] == ""
    assert LOG_ID.match(body["error"]["log_id"])
    return dict(body["data"])


async def test_user_info_answers_the_fields_asked_for(tt: TikTok) -> None:
    t = await tt.tokens()
    fields = "open_id,union_id,avatar_url,display_name"
    data = ok(await tt.api("GET", "v2/user/info/", t["access_token"], fields=fields))
    user = data["user"]
    assert list(user) == fields.split(",")
    assert user["open_id"] == t["open_id"] and user["display_name"] == tt.account.name
    assert user["avatar_url"].startswith("https://")


async def test_user_info_needs_fields_and_their_scopes(tt: TikTok) -> None:
    t = await tt.tokens()
    r = await tt.api("GET", "v2/user/info/", t["access_token"])
    api_error(r, 400, "invalid_params", "fields is required.")
    r = await tt.api("GET", "v2/user/info/", t["access_token"], fields="open_id,shoe_size")
    api_error(r, 400, "invalid_params", "Invalid fields: shoe_size.")
    r = await tt.api("GET", "v2/user/info/", t["access_token"], fields="follower_count")
    api_error(r, 401, "scope_not_authorized", SCOPE)


async def test_video_list_newest_first_with_cursor(tt: TikTok) -> None:
    t = await tt.tokens()
    token = t["access_token"]
    data = ok(
        await tt.api("POST", VIDEOS, token, json={"max_count": 20}, fields="id,title,create_time")
    )
    videos = data["videos"]
    assert len(videos) == 5 and data["has_more"] is False
    assert all(list(v) == ["id", "title", "create_time"] and len(v["id"]) == 19 for v in videos)
    times = [v["create_time"] for v in videos]
    assert times == sorted(times, reverse=True)
    page = ok(await tt.api("POST", VIDEOS, token, json={"max_count": 2}, fields="id"))
    assert page["has_more"] is True and page["cursor"] == times[1] * 1000
    rest = ok(
        await tt.api(
            "POST", VIDEOS, token, json={"max_count": 20, "cursor": page["cursor"]}, fields="id"
        )
    )
    assert [v["id"] for v in rest["videos"]] == [v["id"] for v in videos[2:]]


@pytest.mark.parametrize(
    ("body", "fields", "message"),
    [
        ({"max_count": 21}, "id", "max_count must be between 1 and 20."),
        ({"max_count": "5"}, "id", "max_count must be between 1 and 20."),
        ({"cursor": "x"}, "id", "cursor must be an int64 timestamp in milliseconds."),
        ({}, "", "fields is required."),
        ({}, "id,plays", "Invalid fields: plays."),
    ],
)
async def test_video_list_invalid_params(
    tt: TikTok, body: dict[str, Any], fields: str, message: str
) -> None:
    t = await tt.tokens()
    params = {"fields": fields} if fields else {}
    r = await tt.api("POST", VIDEOS, t["access_token"], json=body, **params)
    api_error(r, 400, "invalid_params", message)


async def test_dead_tokens_answer_access_token_invalid(tt: TikTok, clock: ManualClock) -> None:
    t = await tt.tokens()
    api_error(await tt.api("POST", VIDEOS, None, fields="id"), 401, "access_token_invalid", INVALID)
    api_error(
        await tt.api("POST", VIDEOS, "act.bogus", fields="id"), 401, "access_token_invalid", INVALID
    )
    api_error(
        await tt.api("POST", VIDEOS, t["refresh_token"], fields="id"), 401, "access_token_invalid"
    )
    clock.advance(timedelta(hours=24))
    api_error(
        await tt.api("POST", VIDEOS, t["access_token"], fields="id"),
        401,
        "access_token_invalid",
        INVALID,
    )
    fresh = (await tt.refresh(t["refresh_token"])).json()
    ok(await tt.api("POST", VIDEOS, fresh["access_token"], fields="id"))


@pytest.mark.parametrize("event", ["password_change", "app_removed"])
async def test_account_events_kill_tokens(tt: TikTok, event: str) -> None:
    t = await tt.tokens()
    tt.core.fire_event(tt.account.id, event)
    api_error(
        await tt.api("POST", VIDEOS, t["access_token"], fields="id"), 401, "access_token_invalid"
    )
    r = await tt.refresh(t["refresh_token"])
    assert r.json()["error"] == "invalid_grant"


async def test_a_revoked_permission_is_scope_not_authorized(tt: TikTok) -> None:
    t = await tt.tokens()
    tt.core.fire_event(
        tt.account.id, "permission_revoked", client_id=tt.app.client_id, permission="video.list"
    )
    r = await tt.api("POST", VIDEOS, t["access_token"], fields="id")
    api_error(r, 401, "scope_not_authorized", SCOPE)
    # A refresh cannot bring the scope back.
    fresh = (await tt.refresh(t["refresh_token"])).json()
    assert fresh["scope"] == "user.info.basic,video.publish"


async def test_rate_limit_is_a_sliding_minute_per_endpoint(clock: ManualClock) -> None:
    profile = load_profile("tiktok", {"rate_limit_per_minute": 3})
    async for one in make(Core(clock, profiles={"tiktok": profile})):
        token = (await one.tokens())["access_token"]
        for _ in range(3):
            ok(await one.api("POST", VIDEOS, token, fields="id"))
            clock.advance(timedelta(seconds=10))
        r = await one.api("POST", VIDEOS, token, fields="id")
        api_error(
            r,
            429,
            "rate_limit_exceeded",
            "The API rate limit was exceeded. Please try again later.",
        )
        ok(await one.api("GET", "v2/user/info/", token, fields="open_id"))  # another endpoint
        clock.advance(timedelta(seconds=31))  # the first request left the window
        ok(await one.api("POST", VIDEOS, token, fields="id"))


async def test_a_suspended_account_reads_but_cannot_post(tt: TikTok) -> None:
    token = (await tt.tokens())["access_token"]
    assert ok(await tt.api("POST", CREATOR, token, json={}))["privacy_level_options"][0] == (
        "PUBLIC_TO_EVERYONE"
    )
    assert ok(await tt.api("POST", INIT, token, json=POST))["publish_id"].startswith("v_pub_url~")
    tt.core.fire_event(tt.account.id, "suspended")
    ok(await tt.api("POST", VIDEOS, token, fields="id"))
    banned = "The user is banned from making new posts."
    api_error(
        await tt.api("POST", CREATOR, token, json={}),
        403,
        "spam_risk_user_banned_from_posting",
        banned,
    )
    api_error(
        await tt.api("POST", INIT, token, json=POST),
        403,
        "spam_risk_user_banned_from_posting",
        banned,
    )
    tt.core.fire_event(tt.account.id, "reinstated")
    ok(await tt.api("POST", INIT, token, json=POST))


async def test_file_upload_init_answers_an_upload_url(tt: TikTok) -> None:
    token = (await tt.tokens())["access_token"]
    body = {**POST, "source_info": {"source": "FILE_UPLOAD", "video_size": 1000}}
    data = ok(await tt.api("POST", INIT, token, json=body))
    assert data["publish_id"].startswith("v_pub_file~v2-1.")
    assert data["upload_url"].startswith("https://open-upload.tiktokapis.com/video/?upload_id=")


async def test_posting_needs_video_publish_and_valid_params(tt: TikTok) -> None:
    token = (await tt.tokens(granted=["user.info.basic", "video.list"]))["access_token"]
    api_error(await tt.api("POST", INIT, token, json=POST), 401, "scope_not_authorized", SCOPE)
    token = (await tt.tokens())["access_token"]
    bad = {**POST, "post_info": {"title": "x", "privacy_level": "EVERYONE"}}
    api_error(
        await tt.api("POST", INIT, token, json=bad),
        400,
        "invalid_param",
        "privacy_level is invalid.",
    )
    api_error(
        await tt.api("POST", INIT, token, json={}),
        400,
        "invalid_param",
        "post_info and source_info are required.",
    )


async def test_an_unaudited_client_posts_privately_to_five_users(tt: TikTok) -> None:
    tt.core.set_publishing_status(tt.app.client_id, "testing")
    token = (await tt.tokens())["access_token"]
    assert ok(await tt.api("POST", CREATOR, token, json={}))["privacy_level_options"] == [
        "SELF_ONLY"
    ]
    api_error(
        await tt.api("POST", INIT, token, json=POST),
        403,
        "unaudited_client_can_only_post_to_private_accounts",
        "Unaudited clients can only post to a private account.",
    )
    private = {**POST, "post_info": {"title": "x", "privacy_level": "SELF_ONLY"}}
    ok(await tt.api("POST", INIT, token, json=private))
    for _ in range(4):
        tt.account = tt.core.create_account("tiktok")
        ok(await tt.api("POST", INIT, (await tt.tokens())["access_token"], json=private))
    tt.account = tt.core.create_account("tiktok")
    sixth = (await tt.tokens())["access_token"]
    api_error(
        await tt.api("POST", INIT, sixth, json=private),
        403,
        "reached_active_user_cap",
        "The daily quota for active publishing users from your client is reached.",
    )
    ok(await tt.api("POST", INIT, token, json=private))  # an active user still may


async def test_unknown_paths_methods_and_bodies(tt: TikTok) -> None:
    token = (await tt.tokens())["access_token"]
    api_error(
        await tt.api("GET", "v2/nothing/", token),
        404,
        "invalid_params",
        "Unknown path: /v2/nothing/.",
    )
    api_error(
        await tt.api("GET", VIDEOS, token, fields="id"),
        405,
        "invalid_params",
        "GET is not supported.",
    )
    r = await tt.client.post(
        f"/open.tiktokapis.com/{VIDEOS}",
        params={"fields": "id"},
        content=b"{nope",
        headers={"Authorization": f"Bearer {token}"},
    )
    api_error(r, 400, "invalid_params", "The request body is not valid JSON.")


async def test_an_unexpected_failure_is_internal_error(
    tt: TikTok, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fake_providers.tiktok._api as api

    def boom(account: Any) -> list[Any]:
        raise RuntimeError("boom")

    token = (await tt.tokens())["access_token"]
    monkeypatch.setattr(api, "videos_of", boom)
    r = await tt.api("POST", VIDEOS, token, fields="id")
    api_error(
        r,
        500,
        "internal_error",
        "This is the generic error code for TikTok internal errors. Please refer to the error "
        "message for details and notify TikTok support.",
    )
