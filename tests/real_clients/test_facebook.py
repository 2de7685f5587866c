"""Facebook with authlib and requests-oauthlib: the code flow, then the long-lived exchange
(Facebook has no refresh grant), then a Graph call with the token."""

from __future__ import annotations

import httpx
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from requests_oauthlib import OAuth2Session

from .conftest import REDIRECT_URI, approve, new_account, new_app, query_of

SCOPES = ["pages_show_list", "pages_read_engagement"]


def test_authlib_code_flow_and_long_lived_exchange(server: str) -> None:
    app = new_app(server, "facebook")
    account = new_account(server, "facebook")
    client = AuthlibSession(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT_URI,
        scope=",".join(SCOPES),
        token_endpoint_auth_method="client_secret_post",
    )
    url, state = client.create_authorization_url(f"{server}/www.facebook.com/v21.0/dialog/oauth")
    callback = approve(url, account["id"])
    assert query_of(callback)["state"] == state
    token = client.fetch_token(
        f"{server}/graph.facebook.com/v21.0/oauth/access_token",
        authorization_response=callback,
    )
    assert token["token_type"] == "bearer" and 3000 < token["expires_in"] <= 3600
    long = httpx.get(
        f"{server}/graph.facebook.com/v21.0/oauth/access_token",
        params={
            "grant_type": "fb_exchange_token",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "fb_exchange_token": token["access_token"],
        },
    ).json()
    assert long["expires_in"] == 5183944
    me = httpx.get(
        f"{server}/graph.facebook.com/v21.0/me", params={"access_token": long["access_token"]}
    )
    assert me.json()["id"] == account["id"]


def test_requests_oauthlib_code_flow(server: str) -> None:
    app = new_app(server, "facebook")
    account = new_account(server, "facebook")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=",".join(SCOPES))
    url, _state = session.authorization_url(f"{server}/www.facebook.com/v21.0/dialog/oauth")
    callback = approve(url, account["id"])
    token = session.fetch_token(
        f"{server}/graph.facebook.com/v21.0/oauth/access_token",
        client_secret=app["client_secret"],
        authorization_response=callback,
        include_client_id=True,
        method="GET",
    )
    assert token["access_token"].startswith("EAA")
    pages = session.get(f"{server}/graph.facebook.com/v21.0/me/accounts").json()
    assert [p["id"] for p in pages["data"]] == [p["id"] for p in account["pages"]]


def test_a_cancelled_consent_returns_facebooks_error_redirect(server: str) -> None:
    app = new_app(server, "facebook")
    account = new_account(server, "facebook")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=",".join(SCOPES))
    url, state = session.authorization_url(f"{server}/www.facebook.com/v21.0/dialog/oauth")
    q = query_of(approve(url, account["id"], cancel=True))
    assert q["error"] == "access_denied" and q["error_reason"] == "user_denied"
    assert q["state"] == state
