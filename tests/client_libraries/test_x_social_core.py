"""X with social-core (python-social-auth), unmodified, inside ``conntrack_fakes``.

Two of the library's backends, through the minimal strategy of ``social_core_support``:

- ``TwitterOAuth2`` (``twitter-oauth2``): OAuth 2.0 with PKCE (its ``s256`` challenge
  method, lower-case), the code exchange with HTTP Basic, then ``/2/users/me`` with its
  list of ``user.fields``. Its refresh (``UserMixin.refresh_token``) sends the client
  secret in the body, not HTTP Basic: X refuses that for a confidential app (401
  ``unauthorized_client`` "Missing valid authorization header"), so that step is an
  expected failure — the library is wrong about X, not the fake.
- ``TwitterOAuth`` (``twitter``): OAuth 1.0a's three legs (Sign in with X,
  ``/oauth/authenticate``), then v1.1 ``verify_credentials`` with ``include_email``.
  OAuth 1.0a tokens do not expire: nothing to refresh.

After an account event the library raises its own exceptions: ``AuthProviderError``
(``http_error``, the status code) for X's API 401s, and ``AuthConfigurationError`` for
the token endpoint's ``invalid_request`` (social-core files every ``invalid_request``
under configuration, although X answers it for a dead refresh token).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from social_core.backends.twitter import TwitterOAuth
from social_core.backends.twitter_oauth2 import TwitterOAuth2
from social_core.exceptions import AuthCanceled, AuthConfigurationError, AuthProviderError
from social_core_support import REDIRECT_URI, Social, Strategy

from conntrack.testing import Fakes

OAUTH2 = "social_core.backends.twitter_oauth2.TwitterOAuth2"
OAUTH1 = "social_core.backends.twitter.TwitterOAuth"
TOKEN_INVALID = "Value passed for the token was invalid."


def strategy_for(app: dict[str, Any]) -> Strategy:
    return Strategy(
        {
            "SOCIAL_AUTH_TWITTER_OAUTH2_KEY": app["client_id"],
            "SOCIAL_AUTH_TWITTER_OAUTH2_SECRET": app["client_secret"],
            "SOCIAL_AUTH_TWITTER_OAUTH2_SCOPE": ["offline.access"],
            # Keep the refresh token and lifetime (the backend's EXTRA_DATA has neither).
            "SOCIAL_AUTH_TWITTER_OAUTH2_EXTRA_DATA": [
                ("refresh_token", "refresh_token"),
                ("expires_in", "expires"),
            ],
            "SOCIAL_AUTH_TWITTER_KEY": app["client_id"],
            "SOCIAL_AUTH_TWITTER_SECRET": app["client_secret"],
            "SOCIAL_AUTH_AUTHENTICATION_BACKENDS": [OAUTH2, OAUTH1],
        }
    )


def setup(f: Fakes) -> tuple[dict[str, Any], dict[str, Any], Strategy]:
    app = f.create_app("twitter", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("twitter", name="Ada Lovelace")
    return app, ada, strategy_for(app)


def login2(f: Fakes) -> tuple[Strategy, Social, dict[str, Any], dict[str, Any]]:
    """Ada logs in with X (OAuth 2.0) through the library."""
    app, ada, strategy = setup(f)
    url = TwitterOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(f.authorize(url, account=ada["id"]))
    social = TwitterOAuth2(strategy, redirect_uri=REDIRECT_URI).complete()
    assert isinstance(social, Social)
    return strategy, social, ada, app


def login1(f: Fakes) -> tuple[Strategy, Social, dict[str, Any], dict[str, Any]]:
    """Ada signs in with X (OAuth 1.0a) through the library."""
    app, ada, strategy = setup(f)
    url = TwitterOAuth(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(f.authorize(url, account=ada["id"]))
    social = TwitterOAuth(strategy, redirect_uri=REDIRECT_URI).complete()
    assert isinstance(social, Social)
    return strategy, social, ada, app


# -- OAuth 2.0 (twitter-oauth2) ------------------------------------------------------------


def test_oauth2_authorize_url_is_xs(conntrack_fakes: Fakes) -> None:
    _app, _ada, strategy = setup(conntrack_fakes)
    parts = urlsplit(TwitterOAuth2(strategy, redirect_uri=REDIRECT_URI).start())
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert (parts.netloc, parts.path) == ("twitter.com", "/i/oauth2/authorize")
    assert query["scope"] == "offline.access users.read tweet.read"
    assert query["code_challenge_method"] == "s256" and query["state"]


def test_oauth2_login_stores_the_numeric_uid_and_tokens(conntrack_fakes: Fakes) -> None:
    _strategy, social, ada, _app = login2(conntrack_fakes)
    assert social.provider == "twitter-oauth2" and social.uid == ada["id"]
    data = social.extra_data
    assert data["id"] == ada["id"] and data["username"] == "AdaLovelace"
    # The user.fields the backend asks for, answered as X answers them.
    assert data["created_at"].endswith(".000Z") and data["verified"] is False
    assert data["public_metrics"]["tweet_count"] > 0 and data["description"] == ""
    assert data["access_token"] and data["refresh_token"] and data["expires"] == 7200
    assert data["token_type"] == "bearer"


def test_oauth2_user_data_reads_users_me(conntrack_fakes: Fakes) -> None:
    strategy, social, ada, _app = login2(conntrack_fakes)
    backend = TwitterOAuth2(strategy, redirect_uri=REDIRECT_URI)
    me = backend.user_data(social.extra_data["access_token"])
    assert me is not None and me["id"] == ada["id"] and me["name"] == "Ada Lovelace"


@pytest.mark.xfail(
    strict=True,
    raises=AuthConfigurationError,
    reason="social-core's TwitterOAuth2 refreshes with the client secret in the body; X "
    "wants HTTP Basic from a confidential app and answers 401 unauthorized_client "
    "'Missing valid authorization header' (better-auth/better-auth#3652, "
    "unasuke/omniauth-twitter2#4, xdevplatform/oauth2.0-bot#2)",
)
def test_oauth2_refresh(conntrack_fakes: Fakes) -> None:
    strategy, social, _ada, _app = login2(conntrack_fakes)
    old = social.extra_data["refresh_token"]
    social.refresh_token(strategy)
    assert social.extra_data["refresh_token"] != old


def test_oauth2_refresh_is_refused_with_xs_missing_header(conntrack_fakes: Fakes) -> None:
    """What the failing refresh above gets: X's answer, as the library files it."""
    strategy, social, _ada, _app = login2(conntrack_fakes)
    with pytest.raises(AuthConfigurationError) as raised:
        social.refresh_token(strategy)
    assert raised.value.status_code == 401 and raised.value.stage == "refresh"
    assert raised.value.provider_code == "unauthorized_client"
    assert raised.value.detail == "Missing valid authorization header"


def test_oauth2_after_a_password_change(conntrack_fakes: Fakes) -> None:
    strategy, social, ada, _app = login2(conntrack_fakes)
    conntrack_fakes.event("twitter", ada["id"], "password_change")
    backend = TwitterOAuth2(strategy, redirect_uri=REDIRECT_URI)
    with pytest.raises(AuthProviderError) as raised:
        backend.user_data(social.extra_data["access_token"])
    assert raised.value.status_code == 401 and raised.value.code == "http_error"


def test_oauth2_cancel_is_auth_canceled(conntrack_fakes: Fakes) -> None:
    _app, ada, strategy = setup(conntrack_fakes)
    url = TwitterOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(conntrack_fakes.authorize(url, account=ada["id"], cancel=True))
    with pytest.raises(AuthCanceled):
        TwitterOAuth2(strategy, redirect_uri=REDIRECT_URI).complete()


# -- OAuth 1.0a (twitter) ------------------------------------------------------------------


def test_oauth1_signs_in_with_xs_authenticate_page(conntrack_fakes: Fakes) -> None:
    _app, _ada, strategy = setup(conntrack_fakes)
    parts = urlsplit(TwitterOAuth(strategy, redirect_uri=REDIRECT_URI).start())
    assert (parts.netloc, parts.path) == ("api.twitter.com", "/oauth/authenticate")
    assert parse_qs(parts.query)["oauth_token"]


def test_oauth1_login_reads_verify_credentials(conntrack_fakes: Fakes) -> None:
    _strategy, social, ada, _app = login1(conntrack_fakes)
    assert social.provider == "twitter" and social.uid == ada["id"]
    token = social.extra_data["access_token"]
    assert token["oauth_token"].startswith(f"{ada['id']}-") and token["oauth_token_secret"]
    assert social.extra_data["id"] == int(ada["id"])  # v1.1's id is a number


def test_oauth1_tokens_outlive_years_and_die_when_access_is_revoked(
    conntrack_fakes: Fakes,
) -> None:
    strategy, social, ada, app = login1(conntrack_fakes)
    backend = TwitterOAuth(strategy, redirect_uri=REDIRECT_URI)
    conntrack_fakes.travel("800d")
    me = backend.user_data(social.extra_data["access_token"])
    assert me is not None and me["screen_name"] == "AdaLovelace"
    conntrack_fakes.event("twitter", ada["id"], "app_removed", client_id=app["client_id"])
    with pytest.raises(AuthProviderError) as raised:
        backend.user_data(social.extra_data["access_token"])
    assert raised.value.status_code == 401 and raised.value.stage == "user_info"
