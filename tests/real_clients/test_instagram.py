"""Instagram Login with authlib and requests-oauthlib: the code flow (the token endpoint
on api.instagram.com), the ig_exchange_token long-lived exchange, and the
ig_refresh_token refresh once the token is 24 hours old (the server's clock travels).
Instagram with Facebook Login is the Facebook flow: the account is then found through
``/me/accounts``."""

from __future__ import annotations

import httpx
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from requests_oauthlib import OAuth2Session

from .conftest import REDIRECT_URI, approve, control, new_account, new_app, query_of

SCOPES = ["instagram_business_basic", "instagram_business_content_publish"]
AUTHORIZE = "www.instagram.com/oauth/authorize"
TOKEN = "api.instagram.com/oauth/access_token"


def long_lived(server: str, secret: str, short: str) -> dict[str, object]:
    r = httpx.get(
        f"{server}/graph.instagram.com/access_token",
        params={"grant_type": "ig_exchange_token", "client_secret": secret, "access_token": short},
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_authlib_code_flow_exchange_and_refresh(server: str) -> None:
    app = new_app(server, "instagram")
    account = new_account(server, "instagram")
    client = AuthlibSession(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT_URI,
        scope=",".join(SCOPES),
        token_endpoint_auth_method="client_secret_post",
    )
    url, state = client.create_authorization_url(f"{server}/{AUTHORIZE}")
    callback = approve(url, account["id"])
    assert query_of(callback)["state"] == state
    token = client.fetch_token(f"{server}/{TOKEN}", authorization_response=callback)
    assert token["user_id"] == int(account["id"])
    assert token["permissions"] == ",".join(SCOPES)
    long = long_lived(server, app["client_secret"], token["access_token"])
    assert long["token_type"] == "bearer" and long["expires_in"] == 5183944
    refresh = {"grant_type": "ig_refresh_token", "access_token": long["access_token"]}
    early = httpx.get(f"{server}/graph.instagram.com/refresh_access_token", params=refresh)
    assert early.status_code == 400 and early.json()["error"]["type"] == "OAuthException"
    control(server, "POST", "clock/advance", by="25h")
    fresh = httpx.get(f"{server}/graph.instagram.com/refresh_access_token", params=refresh)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["expires_in"] == 5183944
    media = client.get(
        f"{server}/graph.instagram.com/v21.0/me/media",
        params={"fields": "id,caption", "access_token": fresh.json()["access_token"]},
    )
    assert media.status_code == 200 and len(media.json()["data"]) == 6


def test_requests_oauthlib_code_flow_and_refresh(server: str) -> None:
    app = new_app(server, "instagram")
    account = new_account(server, "instagram")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=",".join(SCOPES))
    url, _state = session.authorization_url(f"{server}/{AUTHORIZE}")
    callback = approve(url, account["id"])
    token = session.fetch_token(
        f"{server}/{TOKEN}",
        client_secret=app["client_secret"],
        authorization_response=callback,
        include_client_id=True,
    )
    assert token["access_token"].startswith("IGAA")
    long = long_lived(server, app["client_secret"], token["access_token"])
    session.token = {"access_token": long["access_token"], "token_type": "Bearer"}
    me = session.get(
        f"{server}/graph.instagram.com/v21.0/me", params={"fields": "user_id,username"}
    )
    assert me.json()["user_id"] == account["id"]
    control(server, "POST", "clock/advance", by="25h")
    fresh = session.get(
        f"{server}/graph.instagram.com/refresh_access_token",
        params={"grant_type": "ig_refresh_token", "access_token": long["access_token"]},
    )
    assert fresh.status_code == 200 and fresh.json()["access_token"] != long["access_token"]


def test_a_cancelled_window_and_a_reused_code(server: str) -> None:
    app = new_app(server, "instagram")
    account = new_account(server, "instagram")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=",".join(SCOPES))
    url, state = session.authorization_url(f"{server}/{AUTHORIZE}")
    q = query_of(approve(url, account["id"], cancel=True))
    assert q == {
        "error_reason": "user_denied",
        "error": "access_denied",
        "error_description": "The user denied your request",
        "state": state,
    }
    code = query_of(approve(url, account["id"]))["code"]
    form = {
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT_URI,
        "code": code,
    }
    assert httpx.post(f"{server}/{TOKEN}", data=form).status_code == 200
    again = httpx.post(f"{server}/{TOKEN}", data=form)
    assert again.status_code == 400
    assert again.json() == {
        "error_type": "OAuthException",
        "code": 400,
        "error_message": "This authorization code has been used",
    }


def test_instagram_with_facebook_login(server: str) -> None:
    app = new_app(server, "facebook")
    account = new_account(server, "facebook", linked_instagram=True)
    ig_id = account["linked_accounts"][0]["id"]
    scopes = "instagram_basic,pages_show_list,pages_read_engagement"
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=scopes)
    url, _state = session.authorization_url(f"{server}/www.facebook.com/v21.0/dialog/oauth")
    session.fetch_token(
        f"{server}/graph.facebook.com/v21.0/oauth/access_token",
        client_secret=app["client_secret"],
        authorization_response=approve(url, account["id"]),
        include_client_id=True,
        method="GET",
    )
    pages = session.get(
        f"{server}/graph.facebook.com/v21.0/me/accounts",
        params={"fields": "id,instagram_business_account"},
    ).json()
    assert pages["data"][0]["instagram_business_account"] == {"id": ig_id}
    media = session.get(f"{server}/graph.facebook.com/v21.0/{ig_id}/media")
    assert media.status_code == 200 and len(media.json()["data"]) == 6
