"""Instagram with python-facebook-api (``import pyfacebook``), unmodified, inside
``conntrack_fakes``: both ways to Instagram.

- Instagram API with Instagram Login through ``IGBasicDisplayApi`` (its
  ``BasicDisplayAPI`` flow: ``api.instagram.com`` authorize and code exchange with
  ``client_id`` in the form, ``ig_exchange_token``, ``ig_refresh_token``, reads on
  ``graph.instagram.com``). Its default scopes are the retired Basic Display
  ``user_profile,user_media``, which Instagram now refuses at the window: an expected
  failure (strict); with Instagram Login's scopes the whole flow works.
- Instagram API with Facebook Login through ``IGBusinessApi`` on ``graph.facebook.com``:
  the Instagram account found on the Page (``instagram_business_account``), its profile,
  media and publishing limit. (Its Facebook code exchange sends HTTP Basic, see
  ``test_facebook_pyfacebook``; the token here is exchanged as Facebook documents.)

Errors after account events are the library's ``FacebookError`` with Facebook's code,
subcode and message.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pyfacebook import FacebookApi, FacebookError, GraphAPI, IGBasicDisplayApi, IGBusinessApi

from conntrack.testing import ConsentError, Fakes

REDIRECT_URI = "https://app.example/instagram/callback"
SCOPES = ["instagram_business_basic", "instagram_business_content_publish"]
FACEBOOK_SCOPES = ["instagram_basic", "pages_show_list", "pages_read_engagement"]
LONG_LIVED = 5183944
PASSWORD_CHANGED = (
    "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons."
)
BASIC_DISPLAY = (
    "BasicDisplayAPI's default scopes are the Instagram Basic Display API's user_profile and "
    "user_media; Meta shut that API down on 4 December 2024 and Instagram's window now "
    "answers 'Invalid Request: Request parameters are invalid: Invalid scope: user_profile' "
    "(nextauthjs/next-auth#12481, pdir/social-feed-bundle#166)."
)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def setup(f: Fakes) -> tuple[dict[str, Any], IGBasicDisplayApi]:
    app = f.create_app("instagram", redirect_uris=[REDIRECT_URI])
    api = IGBasicDisplayApi(
        app_id=app["client_id"], app_secret=app["client_secret"], oauth_flow=True
    )
    return f.create_account("instagram", name="Ada Lovelace"), api


def connect(f: Fakes) -> tuple[dict[str, Any], IGBasicDisplayApi, dict[str, Any]]:
    """Ada connects her Instagram account through the library: short-lived token, then
    the long-lived one. Answer Ada, the API object and the long-lived token."""
    ada, api = setup(f)
    url, _state = api.get_authorization_url(redirect_uri=REDIRECT_URI, scope=SCOPES)
    short = api.exchange_user_access_token(
        response=f.authorize(url, account=ada["id"]), redirect_uri=REDIRECT_URI
    )
    assert short["user_id"] == int(ada["id"])
    return ada, api, api.exchange_long_lived_user_access_token(short["access_token"])


# -- Instagram API with Instagram Login --------------------------------------------------


@pytest.mark.xfail(strict=True, raises=ConsentError, reason=BASIC_DISPLAY)
def test_login_with_the_default_scopes(conntrack_fakes: Fakes) -> None:
    ada, api = setup(conntrack_fakes)
    url, _state = api.get_authorization_url(redirect_uri=REDIRECT_URI)
    assert query_of(url)["scope"] == "user_profile user_media"
    conntrack_fakes.authorize(url, account=ada["id"])


def test_code_flow_gives_the_short_lived_token(conntrack_fakes: Fakes) -> None:
    ada, api = setup(conntrack_fakes)
    url, state = api.get_authorization_url(redirect_uri=REDIRECT_URI, scope=SCOPES)
    parts = urlsplit(url)
    assert (parts.netloc, parts.path, state) == (
        "api.instagram.com",
        "/oauth/authorize",
        "PyFacebook",
    )
    assert query_of(url)["scope"] == " ".join(SCOPES)
    token = api.exchange_user_access_token(
        response=conntrack_fakes.authorize(url, account=ada["id"]), redirect_uri=REDIRECT_URI
    )
    assert token["access_token"].startswith("IGAA") and token["user_id"] == int(ada["id"])
    assert token["permissions"] == ",".join(SCOPES)


def test_long_lived_exchange_and_refresh_after_24_hours(conntrack_fakes: Fakes) -> None:
    ada, api, long = connect(conntrack_fakes)
    assert long["token_type"] == "bearer" and long["expires_in"] == LONG_LIVED
    with pytest.raises(FacebookError) as early:
        api.refresh_access_token(long["access_token"])
    assert getattr(early.value, "code", None) == 190  # [U] the answer under 24 hours
    conntrack_fakes.travel("25h")
    fresh = api.refresh_access_token(long["access_token"])
    assert fresh["expires_in"] == LONG_LIVED and fresh["access_token"] != long["access_token"]
    conntrack_fakes.travel(timedelta(days=59))  # 60 days from the refresh, not the login
    reader = IGBasicDisplayApi(access_token=fresh["access_token"])
    assert reader.user.get_info(fields="id", return_json=True)["id"] == ada["id"]


def test_reads_profile_and_media(conntrack_fakes: Fakes) -> None:
    ada, _api, long = connect(conntrack_fakes)
    reader = IGBasicDisplayApi(access_token=long["access_token"])
    me = reader.user.get_info()
    assert (me.id, me.username, me.account_type, me.media_count) == (
        ada["id"],
        "ada.lovelace",
        "BUSINESS",
        6,
    )
    media = reader.user.get_media()
    assert len(media.data) == 6
    assert all(m.media_url and m.permalink and m.timestamp for m in media.data)
    assert all(bool(m.thumbnail_url) == (m.media_type == "VIDEO") for m in media.data)


def test_after_a_password_change_facebook_error_190_460(conntrack_fakes: Fakes) -> None:
    ada, api, long = connect(conntrack_fakes)
    conntrack_fakes.event("instagram", ada["id"], "password_change")
    reader = IGBasicDisplayApi(access_token=long["access_token"])
    with pytest.raises(FacebookError) as read:
        reader.user.get_media()
    error: Any = read.value
    assert (error.code, error.error_subcode, error.message) == (190, 460, PASSWORD_CHANGED)
    conntrack_fakes.travel("25h")
    with pytest.raises(FacebookError) as renewal:
        api.refresh_access_token(long["access_token"])
    assert getattr(renewal.value, "error_subcode", None) == 460


# -- Instagram API with Facebook Login -----------------------------------------------------


def facebook_login(f: Fakes) -> tuple[dict[str, Any], str, str]:
    """Bob, whose Page has his Instagram professional account, logs in with Facebook.
    Answer Bob's account, his long-lived Facebook token and the Instagram account id the
    library finds on his Page."""
    app = f.create_app("facebook", redirect_uris=[REDIRECT_URI])
    bob = f.create_account("facebook", name="Bob Marley", linked_instagram=True)
    api = GraphAPI(app_id=app["client_id"], app_secret=app["client_secret"], oauth_flow=True)
    url, _state = api.get_authorization_url(redirect_uri=REDIRECT_URI, scope=FACEBOOK_SCOPES)
    code = query_of(f.authorize(url, account=bob["id"]))["code"]
    short = requests.get(
        "https://graph.facebook.com/v24.0/oauth/access_token",
        params={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT_URI,
            "code": code,
        },
        timeout=10,
    ).json()["access_token"]
    token = api.exchange_long_lived_user_access_token(short)["access_token"]
    fb = FacebookApi(app_secret=app["client_secret"], access_token=token)
    pages = fb.user.get_accounts("me", fields="id,instagram_business_account", return_json=True)
    return bob, token, pages["data"][0]["instagram_business_account"]["id"]


def test_facebook_login_finds_the_instagram_account_on_the_page(conntrack_fakes: Fakes) -> None:
    bob, _token, ig_id = facebook_login(conntrack_fakes)
    assert ig_id == bob["linked_accounts"][0]["id"]


def test_facebook_login_reads_profile_media_and_publishing_limit(conntrack_fakes: Fakes) -> None:
    _bob, token, ig_id = facebook_login(conntrack_fakes)
    ig = IGBusinessApi(access_token=token, instagram_business_id=ig_id)
    profile = ig.user.get_info(fields="id,username,media_count")
    assert (profile.id, profile.media_count) == (ig_id, 6) and profile.username
    media = ig.user.get_media()
    assert len(media.data) == 6 and all(m.media_url and m.permalink for m in media.data)
    limit = ig.user.get_content_publishing_limit()
    assert limit.data[0].quota_usage == 0
    assert (limit.data[0].config.quota_total, limit.data[0].config.quota_duration) == (100, 86400)


def test_facebook_login_after_a_switch_to_personal_is_10(conntrack_fakes: Fakes) -> None:
    _bob, token, ig_id = facebook_login(conntrack_fakes)
    conntrack_fakes.event("instagram", ig_id, "switched_to_personal")
    ig = IGBusinessApi(access_token=token, instagram_business_id=ig_id)
    with pytest.raises(FacebookError) as caught:
        ig.user.get_media()
    error: Any = caught.value
    assert (error.code, error.message) == (10, "(#10) The user is not an Instagram Business")


def test_facebook_login_after_a_password_change_190_460(conntrack_fakes: Fakes) -> None:
    bob, token, ig_id = facebook_login(conntrack_fakes)
    conntrack_fakes.event("facebook", bob["id"], "password_change")
    ig = IGBusinessApi(access_token=token, instagram_business_id=ig_id)
    with pytest.raises(FacebookError) as caught:
        ig.user.get_info(fields="id,username")
    error: Any = caught.value
    assert (error.code, error.error_subcode, error.message) == (190, 460, PASSWORD_CHANGED)
