"""What widely used Instagram client libraries ask of the Graph that the fake did not
answer (issue 13), each pinned to Meta's documentation.

python-facebook-api (pyfacebook) reads media with ``media_url`` and ``thumbnail_url``
by default (its ``IG_BASIC_MEDIA_FIELDS`` and ``IG_BUSINESS_MEDIA_PUBLIC_FIELDS``);
Meta's IG Media reference documents ``media_url`` on every media and
``thumbnail_url`` on videos only. A locked account's token answered "Cannot parse access
token" (a malformed token's words) with subcode 490; it now answers the blocking
checkpoint message PROVIDERS.md §1 gives for 490. And the authorization window refuses
a scope Instagram Login does not have: pyfacebook's ``BasicDisplayAPI`` still asks for
the retired Basic Display ``user_profile,user_media`` by default, which real Instagram
answers "Request parameters are invalid: Invalid scope: user_profile"
(nextauthjs/next-auth#12481, pdir/social-feed-bundle#166).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fp_support import REDIRECT
from test_instagram_oauth import AUTHORIZE, Instagram

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


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_basic_display_scope_is_refused_by_the_window(ig: Instagram, method: str) -> None:
    fields = ig.window("user_profile,user_media")
    if method == "GET":
        r = await ig.client.get(AUTHORIZE, params=fields)
    else:
        form = {**fields, "account_id": ig.account.id, "action": "approve"}
        r = await ig.client.post(AUTHORIZE, data=form)
    assert r.status_code == 400 and "location" not in r.headers
    assert r.json() == {
        "error_type": "OAuthException",
        "code": 400,
        "error_message": "Request parameters are invalid: Invalid scope: user_profile",
    }


async def test_every_instagram_login_scope_is_offered(ig: Instagram) -> None:
    scopes = (
        "instagram_business_basic,instagram_business_content_publish,"
        "instagram_business_manage_messages,instagram_business_manage_comments,"
        "instagram_business_manage_insights"
    )
    r = await ig.client.get(AUTHORIZE, params=ig.window(scopes))
    assert r.status_code == 200
    for scope in scopes.split(","):
        assert f'value="{scope}"' in r.text


# social-core's Instagram backend adds ?redirect_state=… to its redirect_uri. Real
# Instagram's window takes it and sends the browser back with it, but the code then
# fails to exchange with that URI (django-social-auth#847, drf-social-oauth2#115).


async def test_a_redirect_uri_with_a_query_passes_the_window_but_not_the_exchange(
    ig: Instagram,
) -> None:
    with_state = f"{REDIRECT}?redirect_state=abc"
    form = {**ig.window(redirect_uri=with_state), "account_id": ig.account.id}
    form.update(action="approve", granted=["instagram_business_basic"])
    r = await ig.client.post(AUTHORIZE, data=form)
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(f"{with_state}&code=") and location.endswith("&state=st4te#_")
    code = location.split("code=", 1)[1].split("&", 1)[0]
    refused = await ig.exchange(code, redirect_uri=with_state)
    assert refused.status_code == 400
    assert refused.json()["error_message"] == "Redirect URI doesn't match original redirect URI"
    assert (await ig.exchange(code)).status_code == 200  # with the registered URI it works


async def test_an_unregistered_path_is_still_refused(ig: Instagram) -> None:
    r = await ig.client.get(AUTHORIZE, params=ig.window(redirect_uri=f"{REDIRECT}/other?x=1"))
    assert r.status_code == 400 and "location" not in r.headers
    assert r.json()["error_message"] == "Invalid redirect_uri"
