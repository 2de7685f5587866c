"""X with authlib and requests-oauthlib: OAuth 2.0 with PKCE (code flow, then a refresh
that rotates the refresh token) and OAuth 1.0a's three legs, against `conntrack serve`."""

from __future__ import annotations

import httpx
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth1Session, OAuth2Session

from .conftest import REDIRECT_URI, approve, new_account, new_app, query_of

SCOPES = ["tweet.read", "users.read", "offline.access"]


def test_authlib_pkce_code_flow_and_rotating_refresh(server: str) -> None:
    app = new_app(server, "twitter")
    account = new_account(server, "twitter")
    client = AuthlibSession(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT_URI,
        scope=" ".join(SCOPES),
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = "k" * 64
    url, state = client.create_authorization_url(
        f"{server}/x.com/i/oauth2/authorize", code_verifier=verifier
    )
    callback = approve(url, account["id"])
    assert query_of(callback)["state"] == state
    token = client.fetch_token(
        f"{server}/api.x.com/2/oauth2/token",
        authorization_response=callback,
        code_verifier=verifier,
    )
    assert token["token_type"] == "bearer" and token["expires_in"] == 7200
    assert token["scope"] == " ".join(SCOPES)
    me = client.get(f"{server}/api.x.com/2/users/me").json()
    assert me["data"]["id"] == account["id"]
    old = token["refresh_token"]
    new = client.refresh_token(f"{server}/api.x.com/2/oauth2/token", refresh_token=old)
    assert new["refresh_token"] != old
    tweets = client.get(f"{server}/api.x.com/2/users/{account['id']}/tweets").json()
    assert tweets["meta"]["result_count"] == 5
    spent = httpx.post(
        f"{server}/api.x.com/2/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": old},
        auth=(app["client_id"], app["client_secret"]),
    )
    assert spent.status_code == 400
    assert spent.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }


def test_requests_oauthlib_pkce_code_flow_and_refresh(server: str) -> None:
    app = new_app(server, "twitter")
    account = new_account(server, "twitter")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=SCOPES, pkce="S256")
    url, state = session.authorization_url(f"{server}/twitter.com/i/oauth2/authorize")
    callback = approve(url, account["id"])
    assert query_of(callback)["state"] == state
    token = session.fetch_token(
        f"{server}/api.twitter.com/2/oauth2/token",
        client_secret=app["client_secret"],
        authorization_response=callback,
    )
    assert len(token["access_token"]) == 91 and token["refresh_token"]
    assert session.get(f"{server}/api.x.com/2/users/me").json()["data"]["id"] == account["id"]
    new = session.refresh_token(
        f"{server}/api.x.com/2/oauth2/token",
        auth=HTTPBasicAuth(app["client_id"], app["client_secret"]),
    )
    assert new["refresh_token"] != token["refresh_token"] and new["expires_in"] == 7200


def test_a_cancelled_consent_returns_access_denied(server: str) -> None:
    app = new_app(server, "twitter")
    account = new_account(server, "twitter")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=SCOPES, pkce="S256")
    url, state = session.authorization_url(f"{server}/x.com/i/oauth2/authorize")
    assert query_of(approve(url, account["id"], cancel=True)) == {
        "error": "access_denied",
        "state": state,
    }


def test_requests_oauthlib_oauth1_three_legs(server: str) -> None:
    app = new_app(server, "twitter")
    account = new_account(server, "twitter")
    oauth = OAuth1Session(
        app["client_id"], client_secret=app["client_secret"], callback_uri=REDIRECT_URI
    )
    request = oauth.fetch_request_token(f"{server}/api.x.com/oauth/request_token")
    assert request["oauth_callback_confirmed"] == "true"
    url = oauth.authorization_url(f"{server}/api.x.com/oauth/authorize")
    callback = approve(url, account["id"])
    oauth.parse_authorization_response(callback)
    tokens = oauth.fetch_access_token(f"{server}/api.x.com/oauth/access_token")
    assert tokens["user_id"] == account["id"] and tokens["screen_name"]
    me = oauth.get(f"{server}/api.x.com/1.1/account/verify_credentials.json")
    assert me.status_code == 200 and me.json()["id_str"] == account["id"]
    assert int(me.headers["x-rate-limit-remaining"]) == 74
    v2 = oauth.get(f"{server}/api.x.com/2/users/me")
    assert v2.json()["data"]["id"] == account["id"]
