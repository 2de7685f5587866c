"""What widely used Instagram client libraries ask of the Graph that the fake did not
answer (issue 13), each pinned to Meta's documentation.

python-facebook-api (pyfacebook) reads media with ``media_url`` and ``thumbnail_url``
by default (its ``IG_BASIC_MEDIA_FIELDS`` and ``IG_BUSINESS_MEDIA_PUBLIC_FIELDS``);
Meta's IG Media reference documents ``media_url`` on every media and
``thumbnail_url`` on videos only. A locked account's token answered "Cannot parse access
token" (a malformed token's words) with subcode 490; it now answers the blocking
checkpoint message PROVIDERS.md §1 gives for 490.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fp_support import REDIRECT
from test_instagram_oauth import Instagram

from fake_providers import Core

FIELDS = "id,media_type,media_url,thumbnail_url"


@pytest.fixture
def ig(core: Core, client: httpx.AsyncClient) -> Instagram:
    app = core.create_app_registration("instagram", redirect_uris=[REDIRECT], name="Scheduly")
    return Instagram(core, client, app, core.create_account("instagram"))


async def test_media_url_on_every_media_and_thumbnail_url_on_videos(ig: Instagram) -> None:
    token = await ig.long_token()
    media = (await ig.get("me/media", token, fields=FIELDS)).json()["data"]
    assert len(media) == 6
    for m in media:
        assert m["media_url"].startswith("https://") and m["id"] in m["media_url"]
        if m["media_type"] == "VIDEO":
            assert m["thumbnail_url"].startswith("https://")
            assert m["media_url"] != m["thumbnail_url"]
        else:
            assert "thumbnail_url" not in m
    again = (await ig.get("me/media", token, fields=FIELDS)).json()["data"]
    assert again == media  # the same media, the same URLs


async def test_media_url_only_when_asked(ig: Instagram) -> None:
    token = await ig.long_token()
    media = (await ig.get("me/media", token, fields="id,caption")).json()["data"]
    assert all(set(m) == {"id", "caption"} for m in media)


async def test_a_locked_account_is_the_blocking_checkpoint(ig: Instagram, envelope: Any) -> None:
    token = await ig.long_token()
    ig.core.fire_event(ig.account.id, "locked")
    r = await ig.get("me/media", token)
    message = (
        "Error validating access token: The user is enrolled in a blocking, logged-in checkpoint"
    )
    assert r.status_code == 400
    assert r.text == envelope(message, 190, r.json()["error"]["fbtrace_id"], 490)
