"""TikTok with authlib and requests-oauthlib: the code flow with PKCE S256, a refresh, and
an API call with the token, against `conntrack serve`.

Both libraries are used unmodified; TikTok's ``client_key`` (where OAuth says
``client_id``) and its comma-joined scopes are passed as the ordinary extra parameters
both libraries accept, as an integration with the real TikTok does.
"""

from __future__ import annotations

import httpx
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from requests_oauthlib import OAuth2Session

from .conftest import REDIRECT_URI, approve, control, new_account, new_app, query_of

SCOPE = "user.info.basic,video.list"


def videos(server: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{server}/open.tiktokapis.com/v2/video/list/",
        params={"fields": "id,title,create_time"},
        json={"max_count": 20},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_authlib_code_flow_with_pkce_and_refresh(server: str) -> None:
    app = new_app(server, "tiktok")
    account = new_account(server, "tiktok")
    key = app["client_id"]
    client = AuthlibSession(
        client_id=key,
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
    )
    verifier = "v" * 20 + "erifier-of-forty-three-chars"
    url, state = client.create_authorization_url(
        f"{server}/www.tiktok.com/v2/auth/authorize/", code_verifier=verifier, client_key=key
    )
    assert f"code_challenge={create_s256_code_challenge(verifier)}" in url
    callback = approve(url, account["id"])
    q = query_of(callback)
    assert q["state"] == state and q["scopes"] == SCOPE
    token = client.fetch_token(
        f"{server}/open.tiktokapis.com/v2/oauth/token/",
        authorization_response=callback,
        code_verifier=verifier,
        client_key=key,
    )
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86400
    assert token["scope"] == SCOPE and token["open_id"]
    assert videos(server, token["access_token"]).json()["error"]["code"] == "ok"
    control(server, "POST", "clock/advance", by="25h")
    assert videos(server, token["access_token"]).status_code == 401
    new = client.refresh_token(
        f"{server}/open.tiktokapis.com/v2/oauth/token/",
        refresh_token=token["refresh_token"],
        client_key=key,
    )
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] == token["refresh_token"]
    assert new["refresh_expires_in"] < token["refresh_expires_in"]
    assert len(videos(server, new["access_token"]).json()["data"]["videos"]) == 5


def test_requests_oauthlib_code_flow_with_pkce_and_refresh(server: str) -> None:
    app = new_app(server, "tiktok")
    account = new_account(server, "tiktok")
    key, secret = app["client_id"], app["client_secret"]
    session = OAuth2Session(key, redirect_uri=REDIRECT_URI, scope=SCOPE, pkce="S256")
    url, _state = session.authorization_url(
        f"{server}/www.tiktok.com/v2/auth/authorize/", client_key=key
    )
    callback = approve(url, account["id"])
    token = session.fetch_token(
        f"{server}/open.tiktokapis.com/v2/oauth/token/",
        client_secret=secret,
        authorization_response=callback,
        include_client_id=True,
        client_key=key,
    )
    assert token["access_token"].startswith("act.") and token["refresh_token"].startswith("rft.")
    me = session.get(
        f"{server}/open.tiktokapis.com/v2/user/info/", params={"fields": "open_id,display_name"}
    ).json()
    assert me["data"]["user"] == {"open_id": token["open_id"], "display_name": account["name"]}
    new = session.refresh_token(
        f"{server}/open.tiktokapis.com/v2/oauth/token/",
        refresh_token=token["refresh_token"],
        client_key=key,
        client_secret=secret,
    )
    assert new["access_token"] != token["access_token"]
    assert videos(server, new["access_token"]).json()["error"]["code"] == "ok"


def test_a_cancelled_consent_returns_tiktoks_error_redirect(server: str) -> None:
    app = new_app(server, "tiktok")
    account = new_account(server, "tiktok")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=SCOPE)
    url, state = session.authorization_url(
        f"{server}/www.tiktok.com/v2/auth/authorize/", client_key=app["client_id"]
    )
    q = query_of(approve(url, account["id"], cancel=True))
    assert q["error"] == "access_denied" and q["state"] == state and q["error_description"]
