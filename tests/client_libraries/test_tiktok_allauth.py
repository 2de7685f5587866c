"""TikTok Login Kit v2 through django-allauth's TikTok provider, unmodified, inside the
fakes: ``TikTokOAuth2Adapter`` and its ``TikTokOAuth2Client`` (``client_key`` instead of
``client_id``, scopes joined with commas), the token exchange, ``complete_login``
(``GET /v2/user/info/?fields=…`` with a Bearer token) and its errors after an account
event.

allauth is a Django app: the module configures the smallest Django it runs in (an
in-memory SQLite database, allauth's URLs, the TikTok app in
``SOCIALACCOUNT_PROVIDERS``, as allauth documents), and drives the adapter and client
the way allauth's login and callback views do, without the views' session and user
saving.

Library limits (allauth's, the fakes answer as TikTok does): allauth never refreshes a
token (it keeps the refresh token as ``SocialToken.token_secret`` and stops there:
refreshing is the app's job), so the refresh step is not tested here; ``complete_login``
raises a bare ``requests.HTTPError`` for a dead token (TikTok's
``access_token_invalid`` is in ``e.response``); a refused code exchange is an
``OAuth2Error`` whose message holds TikTok's body (TikTok answers it with HTTP 200).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import django
import pytest
import requests
from django.conf import settings
from django.urls import include, path

from conntrack.testing import Fakes

if not settings.configured:
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "allauth",
            "allauth.account",
            "allauth.socialaccount",
            "allauth.socialaccount.providers.tiktok",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        ALLOWED_HOSTS=["app.example"],
        SECRET_KEY="conntrack-client-library-test",
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        MIDDLEWARE=["allauth.account.middleware.AccountMiddleware"],
        SOCIALACCOUNT_PROVIDERS={},
    )
    django.setup()

from allauth.socialaccount.models import SocialApp, SocialLogin, SocialToken
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.tiktok.client import TikTokOAuth2Client
from allauth.socialaccount.providers.tiktok.views import TikTokOAuth2Adapter
from django.core.management import call_command
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone

urlpatterns = [path("accounts/", include("allauth.urls"))]

REDIRECT = "https://app.example/accounts/tiktok/login/callback/"
DEFAULT_SCOPES = {"user.info.basic", "user.info.profile"}


@pytest.fixture(scope="module", autouse=True)
def _database() -> Iterator[None]:
    """allauth reads its apps through the ORM: the tables, in memory.

    Django refuses ORM calls in a thread where an asyncio loop runs, and the browser
    tests' Playwright leaves one running on the xdist worker they ran on: these tests
    are synchronous, so they tell Django the loop is not theirs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        call_command("migrate", run_syncdb=True, verbosity=0)
        yield


class Site:
    """One TikTok app registered with allauth, the way a Django site configures it."""

    def __init__(self, f: Fakes, **provider_settings: Any) -> None:
        self.f = f
        self.app = f.create_app("tiktok", redirect_uris=[REDIRECT])
        settings.SOCIALACCOUNT_PROVIDERS = {
            "tiktok": {
                "APPS": [{"client_id": self.app["client_id"], "secret": self.app["client_secret"]}],
                **provider_settings,
            }
        }
        self.request: HttpRequest = RequestFactory().get(
            "/accounts/tiktok/login/", secure=True, HTTP_HOST="app.example"
        )
        self.adapter = TikTokOAuth2Adapter(self.request)
        self.provider = self.adapter.get_provider()
        self.social_app: SocialApp = self.provider.app
        self.client: TikTokOAuth2Client = self.adapter.get_client(self.request, self.social_app)

    def login_url(self) -> tuple[str, str | None]:
        """What allauth's login view redirects to (and the PKCE verifier it keeps)."""
        params = self.provider.get_auth_params()
        pkce = self.provider.get_pkce_params()
        verifier = pkce.pop("code_verifier", None)
        params.update(pkce)
        self.client.state = "allauth-state"
        url = self.client.get_redirect_url(
            self.adapter.authorize_url, self.provider.get_scope(), params
        )
        return url, verifier

    def callback(self, account: dict[str, Any]) -> tuple[dict[str, str], str | None]:
        """The person approves; the query the callback view gets, and the verifier."""
        url, verifier = self.login_url()
        landed = self.f.authorize(url, account=account["id"])
        return {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}, verifier

    def exchange(self, code: str, verifier: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get_access_token(code, pkce_code_verifier=verifier)
        return data

    def token(self, data: dict[str, Any]) -> SocialToken:
        token: SocialToken = self.adapter.parse_token(data)
        token.app = self.social_app
        return token

    def login(self, token: SocialToken, data: dict[str, Any]) -> SocialLogin:
        login: SocialLogin = self.adapter.complete_login(
            self.request, self.social_app, token, response=data
        )
        return login


@pytest.fixture
def site(conntrack_fakes: Fakes) -> Iterator[Site]:
    yield Site(conntrack_fakes)
    settings.SOCIALACCOUNT_PROVIDERS = {}


def test_flow(conntrack_fakes: Fakes, site: Site) -> None:
    account = conntrack_fakes.create_account("tiktok", name="Ada Lovelace")
    url, verifier = site.login_url()
    sent = parse_qs(urlsplit(url).query)
    assert sent["client_key"] == [site.app["client_id"]] and "client_id" not in sent
    assert set(sent["scope"][0].split(",")) == DEFAULT_SCOPES and verifier is None
    query, _ = site.callback(account)
    assert query["state"] == "allauth-state"
    assert set(query["scopes"].split(",")) == DEFAULT_SCOPES
    data = site.exchange(query["code"])
    assert data["token_type"] == "Bearer" and data["expires_in"] == 86400
    assert data["refresh_expires_in"] == 365 * 86400
    token = site.token(data)
    # allauth keeps the refresh token as the token secret and dates the access token
    # from TikTok's expires_in (24 hours), on the wall clock.
    assert token.token == data["access_token"] and token.token_secret == data["refresh_token"]
    assert token.expires_at is not None
    left = token.expires_at - timezone.now()
    assert timedelta(hours=23, minutes=59) < left <= timedelta(hours=24)


def test_flow_with_pkce(conntrack_fakes: Fakes) -> None:
    """``OAUTH_PKCE_ENABLED`` (an allauth provider setting): S256, which TikTok takes."""
    site = Site(conntrack_fakes, OAUTH_PKCE_ENABLED=True)
    try:
        account = conntrack_fakes.create_account("tiktok")
        url, _ = site.login_url()
        assert parse_qs(urlsplit(url).query)["code_challenge_method"] == ["S256"]
        query, _ = site.callback(account)
        with pytest.raises(OAuth2Error, match="invalid_grant"):
            site.exchange(query["code"], "a-verifier-that-does-not-match-the-challenge")
        query, verifier = site.callback(account)
        assert verifier is not None
        assert site.exchange(query["code"], verifier)["access_token"].startswith("act.")
    finally:
        settings.SOCIALACCOUNT_PROVIDERS = {}


def test_read_user_info(conntrack_fakes: Fakes, site: Site) -> None:
    account = conntrack_fakes.create_account("tiktok", name="Ada Lovelace")
    query, _ = site.callback(account)
    data = site.exchange(query["code"])
    login = site.login(site.token(data), data)
    # The uid is the open_id TikTok gave this app, the same as in the token answer.
    assert login.account.uid == data["open_id"]
    extra = login.account.extra_data
    assert extra["display_name"] == "Ada Lovelace"
    assert set(extra) == {"open_id", "display_name", "avatar_url", "username", "profile_deep_link"}
    assert login.user.username == extra["username"]


def test_a_declined_scope_fails_the_user_info_read(conntrack_fakes: Fakes, site: Site) -> None:
    """The person unticks ``user.info.profile``: TikTok says so in the redirect's
    ``scopes`` and the token's ``scope``, but allauth asks for the fields of the scopes
    it requested (``username``, ``profile_deep_link``), so TikTok answers 401
    ``scope_not_authorized`` (a limit of allauth's TikTok provider)."""
    account = conntrack_fakes.create_account("tiktok")
    url, _ = site.login_url()
    landed = conntrack_fakes.authorize(url, account=account["id"], decline=["user.info.profile"])
    query = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
    assert query["scopes"] == "user.info.basic"
    data = site.exchange(query["code"])
    assert data["scope"] == "user.info.basic"
    with pytest.raises(requests.HTTPError) as refused:
        site.login(site.token(data), data)
    assert refused.value.response is not None and refused.value.response.status_code == 401
    assert refused.value.response.json()["error"]["code"] == "scope_not_authorized"


def test_a_used_code_is_refused(conntrack_fakes: Fakes, site: Site) -> None:
    account = conntrack_fakes.create_account("tiktok")
    query, _ = site.callback(account)
    site.exchange(query["code"])
    with pytest.raises(OAuth2Error, match="invalid_grant"):
        site.exchange(query["code"])


@pytest.mark.parametrize("event", ["password_change", "app_removed"])
def test_after_an_account_event(conntrack_fakes: Fakes, site: Site, event: str) -> None:
    account = conntrack_fakes.create_account("tiktok")
    query, _ = site.callback(account)
    data = site.exchange(query["code"])
    token = site.token(data)
    site.login(token, data)
    conntrack_fakes.event("tiktok", account["id"], event)
    with pytest.raises(requests.HTTPError) as dead:
        site.login(token, data)
    assert dead.value.response is not None and dead.value.response.status_code == 401
    assert dead.value.response.json()["error"]["code"] == "access_token_invalid"


def test_after_the_access_token_expires(conntrack_fakes: Fakes, site: Site) -> None:
    account = conntrack_fakes.create_account("tiktok")
    query, _ = site.callback(account)
    data = site.exchange(query["code"])
    token = site.token(data)
    conntrack_fakes.travel("25h")
    with pytest.raises(requests.HTTPError) as expired:
        site.login(token, data)
    assert expired.value.response is not None and expired.value.response.status_code == 401
