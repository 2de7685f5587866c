"""X with python-twitter-v2 (``import pytwitter``), unmodified, inside ``conntrack_fakes``.

``pytwitter.Api`` runs both flows itself, on X's current hosts: OAuth 2.0 with PKCE
(``get_oauth2_authorize_url`` on ``x.com/i/oauth2/authorize``, then
``generate_oauth2_access_token`` on ``api.x.com/2/oauth2/token``, through authlib) and
OAuth 1.0a (``get_authorize_url`` / ``generate_access_token`` on ``api.x.com/oauth/…``).
Reads: ``get_me`` and ``get_timelines`` (API v2). After an account event the library
raises its ``PyTwitterError`` carrying X's problem body.

Not offered by the library: a refresh. ``generate_oauth2_access_token`` hands back the
``refresh_token`` X gives with ``offline.access``, but ``Api`` has no call that spends
it (nor a way to set a refreshed token but a new ``Api(bearer_token=…)``).
"""

from __future__ import annotations

from typing import Any

import pytest
from pytwitter import Api
from pytwitter.error import PyTwitterError

from conntrack.testing import Fakes

REDIRECT_URI = "https://app.example/x/callback"
SCOPES = ["tweet.read", "users.read", "offline.access"]
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401}
SUSPENDED = "The user used for authentication is suspended"


def setup(f: Fakes) -> tuple[dict[str, Any], dict[str, Any]]:
    app = f.create_app("twitter", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("twitter", name="Ada Lovelace")
    return app, ada


def oauth2_login(f: Fakes) -> tuple[Api, dict[str, Any], dict[str, Any]]:
    """Ada connects through the library's OAuth 2.0 flow; answer the Api, token, Ada."""
    app, ada = setup(f)
    api = Api(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        oauth_flow=True,
        callback_uri=REDIRECT_URI,
        scopes=SCOPES,
    )
    url, verifier, state = api.get_oauth2_authorize_url()
    landed = f.authorize(url, account=ada["id"])
    assert f"state={state}" in landed
    token = api.generate_oauth2_access_token(landed, verifier)
    return api, dict(token), ada


def test_oauth2_flow_on_xs_hosts_and_get_me(conntrack_fakes: Fakes) -> None:
    api, token, ada = oauth2_login(conntrack_fakes)
    assert token["token_type"] == "bearer" and token["expires_in"] == 7200
    assert token["scope"] == " ".join(SCOPES) and token["refresh_token"]
    me = api.get_me()
    assert me.data.id == ada["id"] and me.data.username == "AdaLovelace"
    assert me.data.name == "Ada Lovelace"


def test_oauth2_reads_the_timeline_with_xs_paging(conntrack_fakes: Fakes) -> None:
    api, _token, ada = oauth2_login(conntrack_fakes)
    page = api.get_timelines(ada["id"], max_results=5, tweet_fields=["created_at", "author_id"])
    assert page.meta.result_count == len(page.data) > 0
    assert all(t.author_id == ada["id"] and t.created_at for t in page.data)
    assert page.meta.newest_id == page.data[0].id and page.meta.oldest_id == page.data[-1].id


def test_oauth2_a_new_api_with_the_bearer_token_reads_until_it_expires(
    conntrack_fakes: Fakes,
) -> None:
    """The library's only way to use a token it did not just fetch."""
    _api, token, ada = oauth2_login(conntrack_fakes)
    assert Api(bearer_token=token["access_token"]).get_me().data.id == ada["id"]
    conntrack_fakes.travel("2h 1m")
    with pytest.raises(PyTwitterError) as raised:
        Api(bearer_token=token["access_token"]).get_me()
    assert raised.value.message == {**UNAUTHORIZED, "detail": "Unauthorized"}


def test_after_a_password_change_the_library_raises_xs_401(conntrack_fakes: Fakes) -> None:
    api, _token, ada = oauth2_login(conntrack_fakes)
    conntrack_fakes.event("twitter", ada["id"], "password_change")
    with pytest.raises(PyTwitterError) as raised:
        api.get_me()
    assert raised.value.message == {**UNAUTHORIZED, "detail": "Unauthorized"}


def test_a_suspended_account_raises_xs_user_suspended_problem(conntrack_fakes: Fakes) -> None:
    api, _token, ada = oauth2_login(conntrack_fakes)
    conntrack_fakes.event("twitter", ada["id"], "suspended")
    with pytest.raises(PyTwitterError) as raised:
        api.get_me()
    assert raised.value.message["detail"] == SUSPENDED
    assert raised.value.message["type"] == "https://api.twitter.com/2/problems/user-suspended"


def test_oauth1_flow_get_me_and_tokens_that_do_not_expire(conntrack_fakes: Fakes) -> None:
    app, ada = setup(conntrack_fakes)
    api = Api(
        consumer_key=app["client_id"],
        consumer_secret=app["client_secret"],
        oauth_flow=True,
        callback_uri=REDIRECT_URI,
    )
    landed = conntrack_fakes.authorize(api.get_authorize_url(), account=ada["id"])
    data = api.generate_access_token(landed)
    assert data["user_id"] == ada["id"] and data["screen_name"] == "AdaLovelace"
    assert api.auth_user_id == ada["id"]
    assert api.get_me().data.id == ada["id"]
    conntrack_fakes.travel("800d")  # OAuth 1.0a: nothing to refresh, nothing expires
    again = Api(
        consumer_key=app["client_id"],
        consumer_secret=app["client_secret"],
        access_token=data["oauth_token"],
        access_secret=data["oauth_token_secret"],
    )
    assert again.auth_user_id == ada["id"] and again.get_me().data.id == ada["id"]
    conntrack_fakes.event("twitter", ada["id"], "app_removed", client_id=app["client_id"])
    with pytest.raises(PyTwitterError) as raised:
        again.get_me()
    assert raised.value.message["status"] == 401
