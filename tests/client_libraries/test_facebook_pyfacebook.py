"""Facebook with python-facebook-api (``import pyfacebook``), unmodified, inside
``conntrack_fakes``.

``GraphAPI`` builds the login URL (unversioned dialog, scope space-separated by
requests-oauthlib, state ``PyFacebook``) and would exchange the code through
requests-oauthlib, which sends the app's credentials as HTTP Basic and no ``client_id``
parameter: Facebook reads the app from the parameters, so that step is an expected
failure (strict) and the other steps use a token exchanged the way Facebook documents.
Then the library's own ``exchange_long_lived_user_access_token`` (Facebook's only
renewal), page tokens, ``debug_token`` with an app token, reads through ``FacebookApi``
(user, accounts, page, posts), and the ``FacebookError`` it raises after account events.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error
from pyfacebook import FacebookApi, FacebookError, GraphAPI

from conntrack.testing import Fakes

REDIRECT_URI = "https://app.example/facebook/callback"
SCOPES = ["public_profile", "pages_show_list", "pages_read_engagement"]
LONG_LIVED = 5183944
PASSWORD_CHANGED = (
    "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons."
)
#: Why pyfacebook's code exchange cannot work against Facebook.
BASIC_AUTH = (
    "pyfacebook's exchange_user_access_token calls requests-oauthlib's fetch_token without "
    "include_client_id, so the app's credentials go as HTTP Basic and the request has no "
    "client_id parameter. Facebook documents client_id/client_secret as parameters of "
    "/oauth/access_token (developers.facebook.com/docs/facebook-login/guides/advanced/"
    "manual-flow) and answers 'Missing client_id parameter.' (code 101) without one "
    "(authlib#5, facebookarchive/php-graph-sdk#50); Spring Security's CommonOAuth2Provider "
    "configures client_secret_post for Facebook alone, where Google/GitHub/Okta get Basic."
)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def setup(f: Fakes) -> tuple[dict[str, Any], dict[str, Any], GraphAPI]:
    app = f.create_app("facebook", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("facebook", name="Ada Lovelace", pages=2)
    api = GraphAPI(app_id=app["client_id"], app_secret=app["client_secret"], oauth_flow=True)
    return app, ada, api


def sign_in(f: Fakes, app: dict[str, Any], ada: dict[str, Any], api: GraphAPI) -> str:
    """The login through pyfacebook's URL; the code exchanged as Facebook documents
    (GET with ``client_id`` and ``client_secret`` parameters): a short-lived token."""
    url, _state = api.get_authorization_url(redirect_uri=REDIRECT_URI, scope=SCOPES)
    code = query_of(f.authorize(url, account=ada["id"]))["code"]
    answer = requests.get(
        "https://graph.facebook.com/v24.0/oauth/access_token",
        params={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT_URI,
            "code": code,
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def long_lived_api(f: Fakes) -> tuple[dict[str, Any], dict[str, Any], FacebookApi]:
    app, ada, api = setup(f)
    long = api.exchange_long_lived_user_access_token(sign_in(f, app, ada, api))
    fb = FacebookApi(
        app_id=app["client_id"], app_secret=app["client_secret"], access_token=long["access_token"]
    )
    return app, ada, fb


def test_login_url_space_separated_scope_is_three_permissions(conntrack_fakes: Fakes) -> None:
    _app, ada, api = setup(conntrack_fakes)
    url, state = api.get_authorization_url(redirect_uri=REDIRECT_URI, scope=SCOPES)
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("www.facebook.com", "/dialog/oauth")
    assert query_of(url)["scope"] == " ".join(SCOPES) and state == "PyFacebook"
    landed = conntrack_fakes.authorize(url, account=ada["id"], decline=["pages_read_engagement"])
    assert query_of(landed)["state"] == "PyFacebook" and query_of(landed)["code"]


@pytest.mark.xfail(strict=True, raises=CustomOAuth2Error, reason=BASIC_AUTH)
def test_code_exchange_through_the_library(conntrack_fakes: Fakes) -> None:
    _app, ada, api = setup(conntrack_fakes)
    url, _state = api.get_authorization_url(redirect_uri=REDIRECT_URI, scope=SCOPES)
    landed = conntrack_fakes.authorize(url, account=ada["id"])
    token = api.exchange_user_access_token(response=landed, redirect_uri=REDIRECT_URI)
    assert token["access_token"].startswith("EAA")


def test_long_lived_exchange_and_debug_token(conntrack_fakes: Fakes) -> None:
    app, ada, api = setup(conntrack_fakes)
    long = api.exchange_long_lived_user_access_token(sign_in(conntrack_fakes, app, ada, api))
    assert long["token_type"] == "bearer" and long["expires_in"] == LONG_LIVED
    inspector = GraphAPI(
        app_id=app["client_id"], app_secret=app["client_secret"], application_only_auth=True
    )
    assert inspector.access_token == f"{app['client_id']}|{app['client_secret']}"
    data = inspector.debug_token(long["access_token"])["data"]
    assert data["is_valid"] is True and data["type"] == "USER" and data["user_id"] == ada["id"]
    expected = (conntrack_fakes.now + timedelta(seconds=LONG_LIVED)).timestamp()
    assert abs(data["expires_at"] - expected) < 5
    assert data["scopes"] == SCOPES


def test_reads_profile_pages_and_posts(conntrack_fakes: Fakes) -> None:
    _app, ada, fb = long_lived_api(conntrack_fakes)
    assert fb.user.get_info("me", fields="id,name", return_json=True) == {
        "id": ada["id"],
        "name": "Ada Lovelace",
    }
    pages = fb.user.get_accounts("me", fields="id,name,access_token", return_json=True)["data"]
    assert [p["id"] for p in pages] == [p["id"] for p in ada["pages"]]
    page_id = pages[0]["id"]
    page = FacebookApi(access_token=fb.exchange_page_access_token(page_id))
    info = page.page.get_info(page_id, fields="id,name,category")
    assert (info.id, info.name) == (page_id, pages[0]["name"]) and info.category
    feed = page.page.get_posts(page_id, fields="id,message,created_time", count=3, limit=2)
    assert len(feed.data) == 3  # two pages of the Graph's cursor paging
    assert all(p.id.startswith(f"{page_id}_") and p.message for p in feed.data)


def test_a_page_token_from_a_long_lived_user_token_never_expires(conntrack_fakes: Fakes) -> None:
    app, ada, fb = long_lived_api(conntrack_fakes)
    page_token = fb.exchange_page_access_token(ada["pages"][0]["id"])
    inspector = GraphAPI(
        app_id=app["client_id"], app_secret=app["client_secret"], application_only_auth=True
    )
    data = inspector.debug_token(page_token)["data"]
    assert (data["type"], data["expires_at"], data["profile_id"]) == (
        "PAGE",
        0,
        ada["pages"][0]["id"],
    )


def test_after_a_password_change_facebook_error_190_460(conntrack_fakes: Fakes) -> None:
    app, ada, fb = long_lived_api(conntrack_fakes)
    page_token = fb.exchange_page_access_token(ada["pages"][0]["id"])
    conntrack_fakes.event("facebook", ada["id"], "password_change")
    for api in (fb, FacebookApi(access_token=page_token)):
        with pytest.raises(FacebookError) as caught:
            api.user.get_info("me", fields="id,name")
        error: Any = caught.value
        assert (error.code, error.error_subcode, error.type) == (190, 460, "OAuthException")
        assert error.message == PASSWORD_CHANGED
    inspector = GraphAPI(
        app_id=app["client_id"], app_secret=app["client_secret"], application_only_auth=True
    )
    data = inspector.debug_token(fb.access_token)["data"]
    assert (data["is_valid"], data["expires_at"], data["error"]["subcode"]) == (False, 0, 460)


def test_a_removed_page_admin_190_492(conntrack_fakes: Fakes) -> None:
    _app, ada, fb = long_lived_api(conntrack_fakes)
    page_id = ada["pages"][0]["id"]
    page = FacebookApi(access_token=fb.exchange_page_access_token(page_id))
    conntrack_fakes.event("facebook", ada["id"], "admin_removed", page_id=page_id)
    with pytest.raises(FacebookError) as caught:
        page.page.get_posts(page_id, fields="id,message")
    error: Any = caught.value
    assert (error.code, error.error_subcode) == (190, 492)
    assert error.message == (
        "The user must be an administrator of the page in order to impersonate it."
    )
    assert fb.user.get_info("me", fields="id", return_json=True) == {"id": ada["id"]}


def test_reads_with_the_librarys_default_fields(conntrack_fakes: Fakes) -> None:
    """pyfacebook's default ``fields`` nest (``attachments{…}``, ``cover{…}``): the Graph
    answers the top-level fields it has, the nested names do not leak."""
    _app, ada, fb = long_lived_api(conntrack_fakes)
    me = fb.user.get_info("me", return_json=True)
    assert (me["id"], me["first_name"], me["last_name"]) == (ada["id"], "Ada", "Lovelace")
    page_id = ada["pages"][0]["id"]
    page = FacebookApi(access_token=fb.exchange_page_access_token(page_id))
    info = page.page.get_info(page_id, return_json=True)
    assert info["id"] == page_id and info["name"] == ada["pages"][0]["name"]
    posts = page.page.get_posts(page_id, count=2, return_json=True)["data"]
    assert len(posts) == 2 and all(set(p) == {"id", "message", "created_time"} for p in posts)
