"""The README's integration guide, step by step: authlib against `conntrack serve`, a
password change injected, 60 days travelled, and what the client sees each time."""

from __future__ import annotations

import httpx
from authlib.integrations.requests_client import OAuth2Session

from .conftest import REDIRECT_URI, approve, control

GRAPH = "graph.facebook.com/v21.0"


def login(server: str, app: dict[str, str], account: str) -> str:
    """The guide's 'connect' step: code flow, then the long-lived exchange."""
    client = OAuth2Session(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT_URI,
        scope="pages_show_list,pages_read_engagement",
        token_endpoint_auth_method="client_secret_post",
    )
    url, _ = client.create_authorization_url(f"{server}/www.facebook.com/v21.0/dialog/oauth")
    callback = approve(url, account)  # in the guide: the developer's browser
    short = client.fetch_token(
        f"{server}/{GRAPH}/oauth/access_token", authorization_response=callback
    )
    long = httpx.get(
        f"{server}/{GRAPH}/oauth/access_token",
        params={
            "grant_type": "fb_exchange_token",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "fb_exchange_token": short["access_token"],
        },
    ).json()
    return str(long["access_token"])


def test_the_guide(server: str) -> None:
    app = control(server, "POST", "apps", provider="facebook", redirect_uris=[REDIRECT_URI])
    control(server, "POST", "accounts", provider="facebook", id="guide-admin", name="Ada Admin")
    token = login(server, app, "guide-admin")
    me = httpx.get(f"{server}/{GRAPH}/me", params={"access_token": token})
    assert me.status_code == 200 and me.json()["name"] == "Ada Admin"

    # A password change: the next call is refused with 190/460.
    control(server, "POST", "accounts/guide-admin/events", type="password_change")
    r = httpx.get(f"{server}/{GRAPH}/me", params={"access_token": token})
    error = r.json()["error"]
    assert r.status_code == 400 and (error["code"], error["error_subcode"]) == (190, 460)
    assert error["message"].startswith("Error validating access token: The session has been")
    assert r.headers["www-authenticate"].startswith('OAuth "Facebook Platform" "invalid_token"')

    # Log in again, then travel 60 days: the long-lived token has expired (190/463).
    token = login(server, app, "guide-admin")
    advanced = control(server, "POST", "clock/advance", by="60d")
    assert advanced["done"] is True and advanced["advanced_by"] == "60d"
    r = httpx.get(f"{server}/{GRAPH}/me", params={"access_token": token})
    error = r.json()["error"]
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert "Session has expired on" in error["message"]
