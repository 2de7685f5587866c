"""An Instagram account's media and the Content Publishing API, shared by both routes to
it: ``graph.instagram.com`` (Instagram Login) and ``graph.facebook.com/{ig-user-id}``
(Instagram with Facebook Login).

The core knows accounts, not Instagram media, so this module keeps them beside it, one
:class:`MediaStore` per core. An account's first media are made on first read from a
generator seeded by the core's seed and the account id (never from the wall clock or an
unseeded source), so the same seed gives the same media, and a read never shifts the
core's own random stream. Publishing (``POST /{ig-user-id}/media`` then
``/media_publish``) adds to them and counts against ``publish_limit_per_24h`` (profile
``instagram``), a rolling 24-hour window as Meta's ``content_publishing_limit`` reports.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from ..core import Account, Core

INITIAL_MEDIA = 6
MEDIA_TYPES = ("IMAGE", "IMAGE", "CAROUSEL_ALBUM", "VIDEO")
WINDOW = timedelta(hours=24)
#: Default publishing limit when the profile has none (Meta documents 100 a day).
DEFAULT_LIMIT = 100
_WORDS = [
    *("morning", "light", "coffee", "studio", "launch", "summer", "team", "behind"),
    *("the", "scenes", "new", "collection", "thank", "you", "weekend", "market"),
    *("fresh", "design", "story", "craft", "local", "city", "view"),
]


def graph_time(dt: datetime) -> str:
    """``2026-01-05T09:00:00+0000``, the Graph's time format."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass(frozen=True)
class Media:
    id: str
    caption: str
    media_type: str
    timestamp: datetime
    username: str

    def fields(self, wanted: list[str]) -> dict[str, Any]:
        """The requested fields (``id`` always), in Graph order.

        ``media_url`` is on every media and ``thumbnail_url`` on videos only, as Meta's
        IG Media reference documents them (python-facebook-api asks for both by
        default); their CDN URL shape is [U]: a stable, unguessable-looking path per id.
        """
        video = self.media_type in VIDEO_TYPES
        full: dict[str, Any] = {
            "id": self.id,
            "caption": self.caption,
            "media_type": self.media_type,
            "media_url": _cdn_url(self.id, "mp4" if video else "jpg"),
            "permalink": f"https://www.instagram.com/p/{_shortcode(self.id)}/",
            "thumbnail_url": _cdn_url(self.id, "jpg") if video else None,
            "timestamp": graph_time(self.timestamp),
            "username": self.username,
        }
        return {k: v for k, v in full.items() if (k in wanted or k == "id") and v is not None}


@dataclass
class Container:
    """A media container made by ``POST /{ig-user-id}/media``, waiting to be published."""

    id: str
    account_id: str
    caption: str
    media_type: str
    published: str | None = None


@dataclass
class _AccountMedia:
    items: list[Media]
    published_at: list[datetime] = field(default_factory=list)


def username_of(account: Account) -> str:
    """An Instagram username for an account: its name, lowercased, joined by dots."""
    base = ".".join(part for part in account.name.lower().split() if part.isalnum())
    return base or f"user{account.id[-6:]}"


#: Media types whose ``media_url`` is a video (and that have a ``thumbnail_url``).
VIDEO_TYPES = ("VIDEO", "REELS")


def _cdn_url(media_id: str, extension: str) -> str:
    """[U] A CDN URL for a media file, derived from its id (never random, so reads agree)."""
    host = "video.cdninstagram.com" if extension == "mp4" else "scontent.cdninstagram.com"
    return f"https://{host}/v/t51.29350-15/{media_id}_n.{extension}"


def _shortcode(media_id: str) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    n, out = int(media_id), ""
    while n:
        n, r = divmod(n, 64)
        out = alphabet[r] + out
    return out[-11:]


class MediaStore:
    """The media and containers of every Instagram account of one core."""

    def __init__(self, core: Core) -> None:
        self._seed = core.seed
        self._media: dict[str, _AccountMedia] = {}
        self._containers: dict[str, Container] = {}

    def _of(self, core: Core, account: Account) -> _AccountMedia:
        known = self._media.get(account.id)
        if known is None:
            rng = random.Random(f"conntrack-instagram:{self._seed}:{account.id}")
            now, user = core.now(), username_of(account)
            ages = sorted(rng.randint(1, 24 * 30) for _ in range(INITIAL_MEDIA))
            items = [
                Media(
                    _digits(rng, 17),
                    " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 9))).capitalize(),
                    rng.choice(MEDIA_TYPES),
                    now - timedelta(hours=h),
                    user,
                )
                for h in ages
            ]
            known = self._media[account.id] = _AccountMedia(items)
        return known

    def media(self, core: Core, account: Account) -> list[Media]:
        """The account's media, newest first."""
        return list(self._of(core, account).items)

    def create_container(
        self, core: Core, account: Account, *, caption: str, media_type: str
    ) -> Container:
        self._of(core, account)
        cid = core.ids.digits(17)
        container = Container(cid, account.id, caption, media_type)
        self._containers[cid] = container
        return container

    def container(self, container_id: str) -> Container | None:
        return self._containers.get(container_id)

    def usage(self, core: Core, account: Account) -> int:
        """How many posts the account published in the last 24 hours."""
        since = core.now() - WINDOW
        return sum(1 for t in self._of(core, account).published_at if t > since)

    def publish(self, core: Core, account: Account, container: Container) -> Media:
        """Publish a container (the caller checked ownership and the limit)."""
        state = self._of(core, account)
        now = core.now()
        media = Media(
            core.ids.digits(17),
            container.caption,
            container.media_type,
            now,
            username_of(account),
        )
        state.items.insert(0, media)
        state.published_at.append(now)
        container.published = media.id
        return media


def _digits(rng: random.Random, n: int) -> str:
    return "1" + "".join(rng.choice(string.digits) for _ in range(n - 1))


_STORES: WeakKeyDictionary[Core, MediaStore] = WeakKeyDictionary()


def store(core: Core) -> MediaStore:
    """The media store of ``core`` (made on first use)."""
    found = _STORES.get(core)
    if found is None:
        found = _STORES[core] = MediaStore(core)
    return found


def publish_limit(core: Core) -> int:
    value = core.profile("instagram").get("publish_limit_per_24h", DEFAULT_LIMIT)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else DEFAULT_LIMIT
