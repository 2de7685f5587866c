"""Instagram with httpx-oauth, unmodified, inside ``conntrack_fakes``: its generic
``OAuth2`` client configured with Instagram Login's endpoints (httpx-oauth ships no
Instagram client), and its ``FacebookOAuth2`` for Instagram with Facebook Login.

The generic client builds the ``www.instagram.com`` authorize URL (scope
space-separated) and posts the code with ``client_secret_post``; Instagram's flat
answer (``access_token``, ``user_id``, ``permissions``) comes back as its
``OAuth2Token``. Library limits (written down, not faked): its refresh is RFC 6749's
``grant_type=refresh_token`` POST, not Instagram's ``GET refresh_access_token?grant_type=
ig_refresh_token``, so no refresh endpoint is configured and ``refresh_token`` raises
``RefreshTokenNotSupportedError``; the generic client has no profile read
(``get_id_email`` is not implemented). Errors: ``GetAccessTokenError`` with Instagram's
own envelope in ``.response``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx_oauth.clients.facebook import FacebookOAuth2, GetLongLivedAccessTokenError
from httpx_oauth.oauth2 import GetAccessTokenError, OAuth2, RefreshTokenNotSupportedError

from conntrack.testing import Fakes

REDIRECT_URI = "https://app.example/auth/instagram/callback"
AUTHORIZE = "https://www.instagram.com/oauth/authorize"
TOKEN = "https://api.instagram.com/oauth/access_token"
SCOPES = ["instagram_business_basic", "instagram_business_content_publish"]
FACEBOOK_SCOPES = ["instagram_basic", "pages_show_list", "pages_read_engagement"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def setup(f: Fakes) -> tuple[OAuth2, dict[str, Any]]:
    app = f.create_app("instagram", redirect_uris=[REDIRECT_URI])
    client = OAuth2(app["client_id"], app["client_secret"], AUTHORIZE, TOKEN, base_scopes=SCOPES)
    return client, f.create_account("instagram", name="Ada Lovelace")


async def code_for(f: Fakes, client: OAuth2, ada: dict[str, Any], **kw: Any) -> str:
    url = await client.get_authorization_url(REDIRECT_URI, state="st4te")
    landed = query_of(f.authorize(url, account=ada["id"], **kw))
    assert landed["state"] == "st4te"
    return landed["code"]


async def test_code_flow_gives_instagrams_flat_token(conntrack_fakes: Fakes) -> None:
    client, ada = setup(conntrack_fakes)
    url = await client.get_authorization_url(REDIRECT_URI, state="st4te")
    assert query_of(url)["scope"] == " ".join(SCOPES)
    token = await client.get_access_token(
        await code_for(conntrack_fakes, client, ada), REDIRECT_URI
    )
    assert token["access_token"].startswith("IGAA")
    assert token["user_id"] == int(ada["id"]) and token["permissions"] == ",".join(SCOPES)
    assert not token.is_expired()  # no expires_in: the client cannot tell it lives 1 hour


async def test_a_declined_permission_is_missing_from_permissions(conntrack_fakes: Fakes) -> None:
    client, ada = setup(conntrack_fakes)
    code = await code_for(
        conntrack_fakes, client, ada, decline=["instagram_business_content_publish"]
    )
    token = await client.get_access_token(code, REDIRECT_URI)
    assert token["permissions"] == "instagram_business_basic"


async def test_no_refresh_and_no_profile_read_in_the_generic_client(conntrack_fakes: Fakes) -> None:
    client, ada = setup(conntrack_fakes)
    token = await client.get_access_token(
        await code_for(conntrack_fakes, client, ada), REDIRECT_URI
    )
    with pytest.raises(RefreshTokenNotSupportedError):
        await client.refresh_token(token["access_token"])
    with pytest.raises(NotImplementedError):
        await client.get_id_email(token["access_token"])


async def test_a_reused_code_carries_instagrams_envelope(conntrack_fakes: Fakes) -> None:
    client, ada = setup(conntrack_fakes)
    code = await code_for(conntrack_fakes, client, ada)
    await client.get_access_token(code, REDIRECT_URI)
    with pytest.raises(GetAccessTokenError) as caught:
        await client.get_access_token(code, REDIRECT_URI)
    assert caught.value.response is not None and caught.value.response.status_code == 400
    assert caught.value.response.json() == {
        "error_type": "OAuthException",
        "code": 400,
        "error_message": "This authorization code has been used",
    }


async def test_instagram_with_facebook_login_and_a_password_change(
    conntrack_fakes: Fakes,
) -> None:
    app = conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT_URI])
    bob = conntrack_fakes.create_account("facebook", name="Bob Marley", linked_instagram=True)
    client = FacebookOAuth2(app["client_id"], app["client_secret"], scopes=FACEBOOK_SCOPES)
    url = await client.get_authorization_url(REDIRECT_URI, state="st4te")
    assert query_of(url)["scope"] == " ".join(FACEBOOK_SCOPES)
    code = query_of(conntrack_fakes.authorize(url, account=bob["id"]))["code"]
    short = await client.get_access_token(code, REDIRECT_URI)
    long = await client.get_long_lived_access_token(short["access_token"])
    assert long["expires_in"] == 5183944
    assert (await client.get_id_email(long["access_token"]))[0] == bob["id"]
    conntrack_fakes.event("facebook", bob["id"], "password_change")
    with pytest.raises(GetLongLivedAccessTokenError) as caught:
        await client.get_long_lived_access_token(long["access_token"])
    assert caught.value.response is not None
    error = caught.value.response.json()["error"]
    assert (error["code"], error["error_subcode"]) == (190, 460)
