"""LinkedIn with authlib and requests-oauthlib: the code flow (credentials in the body,
as LinkedIn wants them), a refresh whose refresh token keeps counting down, and an API
call with the token.

LinkedIn answers the granted scopes comma-separated where oauthlib expects spaces, so
oauthlib sees "the scope has changed" and raises unless told to relax
(``OAUTHLIB_RELAX_TOKEN_SCOPE``): integrations that use requests-oauthlib with the real
LinkedIn set it too.
"""

from __future__ import annotations

import httpx
import pytest
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from requests_oauthlib import OAuth2Session

from .conftest import REDIRECT_URI, approve, control, new_account, new_app, query_of

SCOPES = ["r_organization_social", "rw_organization_admin"]
ACCESS_LIFE = 5183999
REFRESH_LIFE = 31536059


def authorize_url(base: str) -> str:
    return f"{base}/www.linkedin.com/oauth/v2/authorization"


def token_url(base: str) -> str:
    return f"{base}/www.linkedin.com/oauth/v2/accessToken"


def posts(base: str, token: str, organization: str) -> httpx.Response:
    return httpx.get(
        f"{base}/api.linkedin.com/rest/posts",
        params={"q": "author", "author": f"urn:li:organization:{organization}"},
        headers={
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": "202411",
            "X-Restli-Protocol-Version": "2.0.0",
        },
    )


def test_authlib_code_flow_and_refresh(server: str) -> None:
    app = new_app(server, "linkedin")
    account = new_account(server, "linkedin")
    client = AuthlibSession(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT_URI,
        scope=" ".join(SCOPES),
        token_endpoint_auth_method="client_secret_post",
    )
    url, state = client.create_authorization_url(authorize_url(server))
    callback = approve(url, account["id"])
    assert query_of(callback)["state"] == state
    token = client.fetch_token(token_url(server), authorization_response=callback)
    assert token["expires_in"] == ACCESS_LIFE and token["scope"] == ",".join(SCOPES)
    assert token["refresh_token_expires_in"] == REFRESH_LIFE
    assert posts(server, token["access_token"], account["pages"][0]["id"]).status_code == 200

    control(server, "POST", "clock/advance", by="59d")
    new = client.refresh_token(token_url(server), refresh_token=token["refresh_token"])
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] == token["refresh_token"]
    assert new["expires_in"] == ACCESS_LIFE
    # The refresh token's lifetime does not reset: 306 days (give or take a second) left.
    assert abs(new["refresh_token_expires_in"] - (REFRESH_LIFE - 59 * 86400)) <= 2
    assert posts(server, new["access_token"], account["pages"][0]["id"]).status_code == 200


def test_requests_oauthlib_code_flow_and_refresh(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    app = new_app(server, "linkedin")
    account = new_account(server, "linkedin")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=SCOPES)
    url, _state = session.authorization_url(authorize_url(server))
    callback = approve(url, account["id"])
    token = session.fetch_token(
        token_url(server),
        client_secret=app["client_secret"],
        authorization_response=callback,
        include_client_id=True,
    )
    assert token["access_token"].startswith("AQV") and token["refresh_token"].startswith("AQX")
    organization = account["pages"][0]["id"]
    r = session.get(
        f"{server}/api.linkedin.com/rest/posts",
        params={"q": "author", "author": f"urn:li:organization:{organization}"},
        headers={"LinkedIn-Version": "202411", "X-Restli-Protocol-Version": "2.0.0"},
    )
    assert r.status_code == 200 and r.json()["paging"]["total"] == 5
    new = session.refresh_token(
        token_url(server),
        refresh_token=token["refresh_token"],
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] == token["refresh_token"]


def test_a_cancelled_sign_in_returns_linkedins_error_redirect(server: str) -> None:
    app = new_app(server, "linkedin")
    account = new_account(server, "linkedin")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=SCOPES)
    url, state = session.authorization_url(authorize_url(server))
    q = query_of(approve(url, account["id"], cancel=True))
    assert q == {
        "error": "user_cancelled_authorize",
        "error_description": "The user cancelled the authorization",
        "state": state,
    }


def test_an_unauthorized_scope_rejects_the_request(server: str) -> None:
    app = new_app(server, "linkedin")
    session = OAuth2Session(app["client_id"], redirect_uri=REDIRECT_URI, scope=["r_ads"])
    url, state = session.authorization_url(authorize_url(server))
    r = httpx.get(url)
    assert r.status_code == 302
    q = query_of(r.headers["location"])
    assert q["error"] == "unauthorized_scope_error" and q["state"] == state
