"""The YouTube Data API v3 calls the sync reads: ``GET /youtube/v3/channels``.

Served on ``www.googleapis.com`` and ``youtube.googleapis.com``. The account's channels
are the core's pages of kind ``channel`` that it administers now; a channel id is
``UC`` + 22 base64url characters derived from the page id (SHA-256, so the same page
always has the same channel id and ids look like YouTube's).

What a call answers, in order: no credential → 401 ``required``; a token that does not
work (expired, revoked, account disabled) → 401 ``authError``; no YouTube scope → 403
``insufficientPermissions``; a suspended account → 403
``authenticatedUserAccountSuspended``; the app's daily quota spent → 403
``quotaExceeded``; ``mine=true`` for an account without a channel → 401
``youtubeSignupRequired``.

Quota: ``youtube_daily_quota`` units per app per day (midnight Pacific resets it);
``channels.list`` costs one unit. The count lives beside the core (not in it), since
reading is not a mutation of the provider's state.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from quart import Response

from ..core import Core, Page, Token
from . import _errors as e
from ._http import bearer, core, json_response, params
from ._identity import api_token

PACIFIC = ZoneInfo("America/Los_Angeles")
PARTS = ("id", "snippet", "contentDetails", "statistics")


@dataclass
class Quota:
    """Units spent per app on one Pacific day."""

    day: date | None = None
    spent: dict[str, int] = field(default_factory=dict)


_QUOTAS: WeakKeyDictionary[Core, Quota] = WeakKeyDictionary()


def spend(c: Core, client_id: str, units: int) -> bool:
    """Spend ``units`` of the app's daily quota; False when it is already spent."""
    quota = _QUOTAS.setdefault(c, Quota())
    today = c.now().astimezone(PACIFIC).date()
    if quota.day != today:
        quota.day, quota.spent = today, {}
    limit = int(c.profile("google").get("youtube_daily_quota", 10000))
    if quota.spent.get(client_id, 0) + units > limit:
        return False
    quota.spent[client_id] = quota.spent.get(client_id, 0) + units
    return True


def channel_id(page_id: str) -> str:
    """``UC`` + 22 characters, derived from the page id."""
    digest = hashlib.sha256(f"youtube-channel:{page_id}".encode()).digest()[:16]
    return "UC" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def etag(data: Any) -> str:
    digest = hashlib.sha256(repr(data).encode()).digest()[:20]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize(value: str | None) -> Token:
    """The working token of an API call, or the API's 401/403."""
    c = core()
    token = api_token(value, list(c.profile("google").get("youtube_read_scopes", [])))
    account = c.account(token.account_id)
    if account is not None and account.suspended:
        raise e.account_suspended()
    return token


async def channels() -> Response:
    """``channels.list``: ``part`` (id, snippet, contentDetails, statistics) with the
    filter ``mine=true`` or ``id=UC…[,UC…]``."""
    fields = await params()
    token = authorize(bearer() or fields.get("access_token"))
    c = core()
    if not spend(c, token.client_id, 1):
        raise e.quota_exceeded()
    if not fields.get("part"):
        raise e.missing_part()
    parts = [p.strip() for p in fields["part"].split(",") if p.strip()]
    mine = fields.get("mine", "").lower() == "true"
    wanted = [i for i in fields.get("id", "").split(",") if i]
    if not mine and not wanted:
        raise e.no_filter()
    owned = c.pages_of(token.account_id)
    if mine:
        if not owned:
            raise e.signup_required()
        pages = owned
    else:
        pages = [p for p in c_pages(c) if channel_id(p.id) in wanted]
    items = [channel(p, parts) for p in pages]
    body: dict[str, Any] = {"kind": "youtube#channelListResponse"}
    body["etag"] = etag(items)
    body["pageInfo"] = {"totalResults": len(items), "resultsPerPage": 5}
    body["items"] = items
    return json_response(body)


def c_pages(c: Core) -> list[Page]:
    """Every channel the fake knows (an ``id=`` lookup reads public channels)."""
    return [p for a in c.accounts("google") for p in a.pages if p.kind == "channel"]


def channel(page: Page, parts: list[str]) -> dict[str, Any]:
    cid = channel_id(page.id)
    item: dict[str, Any] = {"kind": "youtube#channel", "etag": "", "id": cid}
    if "snippet" in parts:
        published = min((p.created_time for p in page.posts), default=None)
        handle = "@" + "".join(ch for ch in page.name.lower() if ch.isalnum())[:30]
        item["snippet"] = {
            "title": page.name,
            "description": "",
            "customUrl": handle,
            "publishedAt": published.strftime("%Y-%m-%dT%H:%M:%SZ") if published else "",
            "thumbnails": {
                size: {
                    "url": f"https://yt3.ggpht.com/{cid}=s{px}-c-k-c0x00ffffff-no-rj",
                    "width": px,
                    "height": px,
                }
                for size, px in (("default", 88), ("medium", 240), ("high", 800))
            },
            "localized": {"title": page.name, "description": ""},
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": "UU" + cid[2:]}}
    if "statistics" in parts:
        item["statistics"] = {
            "viewCount": str(len(page.posts) * 137),
            "subscriberCount": str(len(page.posts) * 11),
            "hiddenSubscriberCount": False,
            "videoCount": str(len(page.posts)),
        }
    item["etag"] = etag(item)
    return item
