"""The TikTok API endpoints a product uses: user info, the video list, and posting.

Every call resolves its ``Authorization: Bearer`` token through the core first: a token
that does not work, for whatever reason (expired, refreshed away, revoked, app removed,
password changed, never issued, missing), answers 401 ``access_token_invalid`` — TikTok
does not say why. Then the scope the endpoint needs (``scope_not_authorized``), then the
rate limit: ``rate_limit_per_minute`` requests per app and endpoint in any sliding
minute (``rate_limit_exceeded``, 429).

Account states: TikTok's ``spam_risk_user_banned_from_posting`` is a *posting* error.
A suspended account (the core's ``suspended`` state) cannot post — ``creator_info`` and
``video/init`` answer it — but its public videos and profile stay readable, so user info
and the video list keep working: a product that only reads does not see a posting ban.
An app in ``testing`` publishing status stands for an *unaudited* client: it may only
post ``SELF_ONLY`` (else ``unaudited_client_can_only_post_to_private_accounts``) and only
for ``unaudited_active_user_cap`` distinct users in 24 hours (else
``reached_active_user_cap``).
"""

from __future__ import annotations

import json
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from quart import Response, request

from ..core import Account, Post, Token
from . import _errors as e
from ._http import PROTOCOL, bearer, core, json_response, new_log_id, state
from ._oauth import open_id, union_id

#: The fields of ``/v2/user/info/`` and the scope each needs.
USER_FIELDS: dict[str, str] = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}
VIDEO_FIELDS = (
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "height",
    "width",
    "title",
    "embed_html",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
)
READ_SCOPE = "video.list"
PUBLISH_SCOPE = "video.publish"
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
SOURCES = ("FILE_UPLOAD", "PULL_FROM_URL")
MAX_COUNT = 20


class RateWindows:
    """Sliding one-minute windows of request times, per (app, endpoint)."""

    def __init__(self) -> None:
        self.windows: dict[tuple[str, str], deque[datetime]] = {}

    def admit(self, key: tuple[str, str], now: datetime, limit: int) -> bool:
        window = self.windows.setdefault(key, deque())
        while window and window[0] <= now - timedelta(minutes=1):
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True


class Posters:
    """When each user last posted through each app (for the unaudited user cap)."""

    def __init__(self) -> None:
        self.last: dict[str, dict[str, datetime]] = {}

    def active(self, client_id: str, now: datetime) -> set[str]:
        seen = self.last.get(client_id, {})
        return {aid for aid, at in seen.items() if at > now - timedelta(hours=24)}

    def note(self, client_id: str, account_id: str, now: datetime) -> None:
        self.last.setdefault(client_id, {})[account_id] = now


def authorized(endpoint: str, scope: str | None) -> Token:
    """The working token of the request, with ``scope`` and within the rate limit."""
    c = core()
    value = bearer()
    check = c.check_token(value, provider=PROTOCOL) if value else None
    if check is None or check.token is None or not check.valid:
        raise e.token_invalid()
    token = check.token
    if not c.is_access_token(token):
        raise e.token_invalid()
    if scope is not None and scope not in c.scopes_now(token):
        raise e.scope_not_authorized()
    limit = int(c.profile(PROTOCOL).get("rate_limit_per_minute", 600))
    windows: RateWindows = state("RATE", RateWindows)
    if not windows.admit((token.client_id, endpoint), c.now(), limit):
        raise e.rate_limited()
    return token


def fields_of(allowed: tuple[str, ...] | dict[str, str]) -> list[str]:
    raw = request.args.get("fields", "")
    names = [f.strip() for f in raw.split(",") if f.strip()]
    if not names:
        raise e.invalid_params("fields is required.")
    unknown = [f for f in names if f not in allowed]
    if unknown:
        raise e.invalid_params(f"Invalid fields: {','.join(unknown)}.")
    return list(dict.fromkeys(names))


async def json_body() -> dict[str, Any]:
    raw = await request.get_data(as_text=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise e.invalid_params("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise e.invalid_params("The request body must be a JSON object.")
    return body


def ok(data: dict[str, Any]) -> Response:
    log = new_log_id()
    return json_response(e.ok_body(data, log), log=log)


# -- Display API ----------------------------------------------------------------------


async def user_info() -> Response:
    """``GET /v2/user/info/?fields=…``: only the fields asked for, each needing its scope."""
    token = authorized("user/info", None)
    names = fields_of(USER_FIELDS)
    c = core()
    granted = set(c.scopes_now(token))
    if any(USER_FIELDS[f] not in granted for f in names):
        raise e.scope_not_authorized()
    account = c.account(token.account_id)
    assert account is not None
    user = {f: user_value(f, token, account) for f in names}
    return ok({"user": user})


def user_value(name: str, token: Token, account: Account) -> Any:
    handle = account.email.split("@", 1)[0].replace(".", "_")
    videos = videos_of(account)
    avatar = (
        f"https://p16-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/{account.id}~c5_168x168.jpeg"
    )
    values: dict[str, Any] = {
        "open_id": open_id(token.client_id, token.account_id),
        "union_id": union_id(token.account_id),
        "avatar_url": avatar,
        "avatar_url_100": avatar.replace("168x168", "100x100"),
        "avatar_large_url": avatar.replace("168x168", "1080x1080"),
        "display_name": account.name,
        "bio_description": "",
        "profile_deep_link": f"https://vm.tiktok.com/{account.id[-9:]}/",
        "is_verified": False,
        "username": handle,
        "follower_count": len(handle) * 37,
        "following_count": len(handle) * 3,
        "likes_count": len(videos) * 120,
        "video_count": len(videos),
    }
    return values[name]


def videos_of(account: Account) -> list[Post]:
    """The account's videos, newest first (the posts of its profile page)."""
    posts = [p for page in core().pages_of(account.id) for p in page.posts]
    return sorted(posts, key=lambda p: p.created_time, reverse=True)


def video_id(post: Post) -> str:
    """A 19-digit TikTok video id from the post's own digits."""
    return "73" + post.id.rsplit("_", 1)[-1][:17].rjust(17, "0")


def video_json(post: Post, names: list[str], account: Account) -> dict[str, Any]:
    vid = video_id(post)
    handle = account.email.split("@", 1)[0].replace(".", "_")
    share = f"https://www.tiktok.com/@{handle}/video/{vid}"
    values: dict[str, Any] = {
        "id": vid,
        "create_time": int(post.created_time.timestamp()),
        "cover_image_url": f"https://p16-sign.tiktokcdn-us.com/obj/{vid}~tplv-cover.jpeg",
        "share_url": share,
        "video_description": post.message,
        "duration": 15 + int(vid[-2:]) % 45,
        "height": 1024,
        "width": 576,
        "title": post.message,
        "embed_html": f'<blockquote class="tiktok-embed" data-video-id="{vid}"></blockquote>',
        "embed_link": f"https://www.tiktok.com/player/v1/{vid}",
        "like_count": int(vid[-3:]),
        "comment_count": int(vid[-2:]),
        "share_count": int(vid[-1:]),
        "view_count": int(vid[-4:]) * 10,
    }
    return {f: values[f] for f in names}


async def video_list() -> Response:
    """``POST /v2/video/list/?fields=…``, body ``{"max_count", "cursor"}``: newest first,
    ``cursor`` is the ``create_time`` in milliseconds to continue before."""
    token = authorized("video/list", READ_SCOPE)
    names = fields_of(VIDEO_FIELDS)
    body = await json_body()
    count = body.get("max_count", 10)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise e.invalid_params(f"max_count must be between 1 and {MAX_COUNT}.")
    cursor = body.get("cursor")
    if cursor is not None and (isinstance(cursor, bool) or not isinstance(cursor, int)):
        raise e.invalid_params("cursor must be an int64 timestamp in milliseconds.")
    account = core().account(token.account_id)
    assert account is not None
    videos = videos_of(account)
    if cursor is not None:
        videos = [v for v in videos if int(v.created_time.timestamp() * 1000) < cursor]
    window = videos[:count]
    next_cursor = int(window[-1].created_time.timestamp() * 1000) if window else (cursor or 0)
    return ok(
        {
            "videos": [video_json(v, names, account) for v in window],
            "cursor": next_cursor,
            "has_more": len(videos) > count,
        }
    )


# -- Content Posting API --------------------------------------------------------------


def can_post(token: Token) -> None:
    """Posting errors that come from the account or the app, not the request."""
    c = core()
    if c.account_state(token.account_id).suspended:
        raise e.banned_from_posting()


async def creator_info() -> Response:
    """``POST /v2/post/publish/creator_info/query/``: what the creator may post now."""
    token = authorized("post/publish/creator_info/query", PUBLISH_SCOPE)
    can_post(token)
    c = core()
    account = c.account(token.account_id)
    app = c.app(token.client_id)
    assert account is not None and app is not None
    levels = ["SELF_ONLY"] if app.publishing_status == "testing" else list(PRIVACY_LEVELS)
    return ok(
        {
            "creator_avatar_url": user_value("avatar_url", token, account),
            "creator_username": user_value("username", token, account),
            "creator_nickname": account.name,
            "privacy_level_options": levels,
            "comment_disabled": False,
            "duet_disabled": False,
            "stitch_disabled": False,
            "max_video_post_duration_sec": 600,
        }
    )


async def video_init() -> Response:
    """``POST /v2/post/publish/video/init/``: start a direct post."""
    token = authorized("post/publish/video/init", PUBLISH_SCOPE)
    can_post(token)
    body = await json_body()
    post_info = body.get("post_info")
    source_info = body.get("source_info")
    if not isinstance(post_info, dict) or not isinstance(source_info, dict):
        raise e.invalid_param("post_info and source_info are required.")
    privacy = post_info.get("privacy_level")
    if privacy not in PRIVACY_LEVELS:
        raise e.invalid_param("privacy_level is invalid.")
    source = source_info.get("source")
    if source not in SOURCES:
        raise e.invalid_param("source is invalid.")
    c = core()
    app = c.app(token.client_id)
    assert app is not None
    now = c.now()
    posters: Posters = state("POSTERS", Posters)
    if app.publishing_status == "testing":
        if privacy != "SELF_ONLY":
            raise e.unaudited_private_only()
        cap = int(c.profile(PROTOCOL).get("unaudited_active_user_cap", 5))
        active = posters.active(app.client_id, now)
        if token.account_id not in active and len(active) >= cap:
            raise e.active_user_cap()
    posters.note(app.client_id, token.account_id, now)
    noise = c.ids.noise
    serial = "".join(noise.choice("0123456789") for _ in range(19))
    data: dict[str, Any] = {"publish_id": f"v_pub_file~v2-1.{serial}"}
    if source == "FILE_UPLOAD":
        data["upload_url"] = (
            f"https://open-upload.tiktokapis.com/video/?upload_id={serial}"
            f"&upload_token={''.join(noise.choice('0123456789abcdef') for _ in range(32))}"
        )
    else:
        data["publish_id"] = f"v_pub_url~v2-1.{serial}"
    return ok(data)
