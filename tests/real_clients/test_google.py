"""Google with authlib and requests-oauthlib: the code flow with PKCE and
``access_type=offline``, a refresh (the refresh token does not rotate), then a YouTube
Data API call with the token."""

from __future__ import annotations

import httpx
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from requests_oauthlib import OAuth2Session

from .conftest import REDIRECT_URI, approve, control, new_account, new_app, query_of

# "email" by the long name Google answers with: requests-oauthlib (oauthlib) raises
# "Scope has changed" when the token's scope differs from the one asked for, and Google
# answers "email" as ".../userinfo.email" (googleapis/google-api-python-client#1088).
SCOPES = [
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/youtube.readonly",
]


def test_authlib_code_flow_with_pkce_and_refresh(server: str) -> None:
    app = new_app(server, "google")
    account = new_account(server, "google")
    client = AuthlibSession(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT_URI,
        scope=" ".join(SCOPES),
        code_challenge_method="S256",
    )
    verifier = "v" * 64
    url, state = client.create_authorization_url(
        f"{server}/accounts.google.com/o/oauth2/v2/auth",
        code_verifier=verifier,
        access_type="offline",
        prompt="consent",
    )
    callback = approve(url, account["id"])
    assert query_of(callback)["state"] == state
    token = client.fetch_token(
        f"{server}/oauth2.googleapis.com/token",
        authorization_response=callback,
        code_verifier=verifier,
    )
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3599
    assert token["access_token"].startswith("ya29.") and token["refresh_token"].startswith("1//")
    assert "id_token" in token

    control(server, "POST", "clock/advance", by="2h")
    refreshed = client.refresh_token(
        f"{server}/oauth2.googleapis.com/token", refresh_token=token["refresh_token"]
    )
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] == token["refresh_token"]  # kept: not rotated
    channels = client.get(
        f"{server}/www.googleapis.com/youtube/v3/channels",
        params={"part": "snippet", "mine": "true"},
    ).json()
    assert [c["snippet"]["title"] for c in channels["items"]] == [account["pages"][0]["name"]]


def test_requests_oauthlib_code_flow_with_pkce_and_refresh(server: str) -> None:
    app = new_app(server, "google")
    account = new_account(server, "google")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=SCOPES, pkce="S256")
    url, _state = session.authorization_url(
        f"{server}/accounts.google.com/o/oauth2/v2/auth", access_type="offline", prompt="consent"
    )
    callback = approve(url, account["id"])
    token = session.fetch_token(
        f"{server}/oauth2.googleapis.com/token",
        client_secret=app["client_secret"],
        authorization_response=callback,
        include_client_id=True,
    )
    assert token["scope"] == SCOPES and token["refresh_token"].startswith("1//")
    refreshed = session.refresh_token(
        f"{server}/oauth2.googleapis.com/token",
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] == token["refresh_token"]
    info = httpx.get(
        f"{server}/oauth2.googleapis.com/tokeninfo",
        params={"access_token": refreshed["access_token"]},
    ).json()
    assert info["sub"] == account["id"] and info["access_type"] == "offline"


def test_a_cancelled_consent_returns_googles_error_redirect(server: str) -> None:
    app = new_app(server, "google")
    account = new_account(server, "google")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=SCOPES)
    url, state = session.authorization_url(f"{server}/accounts.google.com/o/oauth2/v2/auth")
    q = query_of(approve(url, account["id"], cancel=True))
    assert q == {"error": "access_denied", "state": state}
