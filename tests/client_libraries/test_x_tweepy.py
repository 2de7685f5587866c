"""X with tweepy, unmodified, inside ``conntrack_fakes``.

tweepy's own handlers run both of X's flows: ``OAuth2UserHandler`` (OAuth 2.0 with PKCE
on ``twitter.com/i/oauth2/authorize`` and ``api.twitter.com/2/oauth2/token``, HTTP Basic
for a confidential app; its refresh is the ``refresh_token`` it inherits from
requests-oauthlib's ``OAuth2Session``) and ``OAuth1UserHandler`` (the three legs on
``api.twitter.com/oauth/…``; OAuth 1.0a tokens never expire, so there is nothing to
refresh). Reads: ``Client.get_me`` and ``get_users_tweets`` (API v2, with the OAuth 2.0
user token or OAuth 1.0a) and ``API.verify_credentials`` (v1.1). tweepy parses X's ids
as integers, so the fake's ids are numeric strings. After an account event tweepy
raises its own ``Unauthorized``/``Forbidden`` carrying X's message or v1.1 code.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import tweepy
from oauthlib.oauth2 import OAuth2Error

from conntrack.testing import Fakes, FakesError

REDIRECT_URI = "https://app.example/x/callback"
TOKEN_URL = "https://api.twitter.com/2/oauth2/token"
SCOPES = ["tweet.read", "users.read", "offline.access"]
TOKEN_INVALID = "Value passed for the token was invalid."
SUSPENDED = "The user used for authentication is suspended"


def setup(f: Fakes) -> tuple[dict[str, Any], dict[str, Any]]:
    app = f.create_app("twitter", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("twitter", name="Ada Lovelace")
    return app, ada


def oauth2_login(
    f: Fakes, scopes: list[str] = SCOPES
) -> tuple[tweepy.OAuth2UserHandler, dict[str, Any], dict[str, Any]]:
    """Ada connects through ``OAuth2UserHandler``; answer the handler, its token and Ada."""
    app, ada = setup(f)
    handler = tweepy.OAuth2UserHandler(
        client_id=app["client_id"],
        redirect_uri=REDIRECT_URI,
        scope=scopes,
        client_secret=app["client_secret"],
    )
    landed = f.authorize(handler.get_authorization_url(), account=ada["id"])
    token = handler.fetch_token(landed)
    return handler, dict(token), ada


def oauth1_login(f: Fakes) -> tuple[tweepy.OAuth1UserHandler, dict[str, Any], dict[str, Any]]:
    """Ada connects through ``OAuth1UserHandler`` (Sign in with X)."""
    app, ada = setup(f)
    auth = tweepy.OAuth1UserHandler(app["client_id"], app["client_secret"], callback=REDIRECT_URI)
    landed = f.authorize(auth.get_authorization_url(signin_with_twitter=True), account=ada["id"])
    query = parse_qs(urlsplit(landed).query)
    assert query["oauth_token"] == [auth.request_token["oauth_token"]]
    auth.get_access_token(query["oauth_verifier"][0])
    return auth, app, ada


# -- OAuth 2.0 with PKCE -------------------------------------------------------------------


def test_oauth2_authorize_url_is_xs_with_pkce(conntrack_fakes: Fakes) -> None:
    app, _ada = setup(conntrack_fakes)
    handler = tweepy.OAuth2UserHandler(
        client_id=app["client_id"], redirect_uri=REDIRECT_URI, scope=SCOPES
    )
    parts = urlsplit(handler.get_authorization_url())
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert (parts.netloc, parts.path) == ("twitter.com", "/i/oauth2/authorize")
    assert query["scope"] == "tweet.read users.read offline.access"
    assert query["code_challenge_method"] == "S256" and query["response_type"] == "code"


def test_oauth2_flow_gives_a_two_hour_token_and_reads_me_and_tweets(
    conntrack_fakes: Fakes,
) -> None:
    _handler, token, ada = oauth2_login(conntrack_fakes)
    assert token["token_type"] == "bearer" and token["expires_in"] == 7200
    assert token["scope"] == SCOPES and token["refresh_token"]
    client = tweepy.Client(token["access_token"])
    me = client.get_me(user_auth=False)
    assert me.data.id == int(ada["id"]) and me.data.name == "Ada Lovelace"
    assert me.data.username == "AdaLovelace"
    tweets = client.get_users_tweets(me.data.id, user_auth=False, tweet_fields=["created_at"])
    assert tweets.meta["result_count"] == len(tweets.data) > 0
    assert all(isinstance(t.id, int) and t.created_at is not None for t in tweets.data)
    newest = [t.created_at for t in tweets.data]
    assert newest == sorted(newest, reverse=True)


def test_get_me_answers_the_user_fields_asked_for(conntrack_fakes: Fakes) -> None:
    _handler, token, _ada = oauth2_login(conntrack_fakes)
    client = tweepy.Client(token["access_token"])
    fields = ["created_at", "public_metrics", "profile_image_url", "protected", "location"]
    me = client.get_me(user_auth=False, user_fields=fields).data
    assert me.created_at is not None and me.created_at.tzinfo is not None  # tweepy parses it
    assert me.public_metrics["tweet_count"] > 0 and me.protected is False
    assert me.profile_image_url.startswith("https://") and me.location is None  # none set
    assert "created_at" not in client.get_me(user_auth=False).data.data  # only when asked
    with pytest.raises(tweepy.BadRequest) as raised:
        client.get_me(user_auth=False, user_fields=["nonsense"])
    assert "user.fields" in raised.value.api_messages[0]


def test_oauth2_refresh_rotates_the_refresh_token(conntrack_fakes: Fakes) -> None:
    handler, token, ada = oauth2_login(conntrack_fakes)
    conntrack_fakes.travel("3h")  # the access token (2 h) has expired
    with pytest.raises(tweepy.Unauthorized):
        tweepy.Client(token["access_token"]).get_me(user_auth=False)
    fresh = handler.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
    assert fresh["refresh_token"] != token["refresh_token"] and fresh["expires_in"] == 7200
    me = tweepy.Client(fresh["access_token"]).get_me(user_auth=False)
    assert me.data.id == int(ada["id"])
    with pytest.raises(OAuth2Error) as spent:  # the rotated-out refresh token
        handler.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
    assert (spent.value.error, spent.value.description) == ("invalid_request", TOKEN_INVALID)


def test_no_refresh_token_without_offline_access(conntrack_fakes: Fakes) -> None:
    _handler, token, _ada = oauth2_login(conntrack_fakes, ["tweet.read", "users.read"])
    assert "refresh_token" not in token and token["scope"] == ["tweet.read", "users.read"]


def test_after_a_password_change_tweepy_raises_unauthorized(conntrack_fakes: Fakes) -> None:
    handler, token, ada = oauth2_login(conntrack_fakes)
    conntrack_fakes.event("twitter", ada["id"], "password_change")
    with pytest.raises(tweepy.Unauthorized) as raised:
        tweepy.Client(token["access_token"]).get_me(user_auth=False)
    assert raised.value.response.status_code == 401
    assert raised.value.api_messages == ["Unauthorized"]  # v2's problem "detail"
    with pytest.raises(OAuth2Error) as refused:
        handler.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
    assert (refused.value.error, refused.value.description) == ("invalid_request", TOKEN_INVALID)


def test_a_suspended_account_is_forbidden_with_xs_detail(conntrack_fakes: Fakes) -> None:
    _handler, token, ada = oauth2_login(conntrack_fakes)
    conntrack_fakes.event("twitter", ada["id"], "suspended")
    with pytest.raises(tweepy.Forbidden) as raised:
        tweepy.Client(token["access_token"]).get_me(user_auth=False)
    assert raised.value.api_messages == [SUSPENDED]


# -- OAuth 1.0a ----------------------------------------------------------------------------


def test_oauth1_three_legs_then_verify_credentials_and_v2_me(conntrack_fakes: Fakes) -> None:
    auth, app, ada = oauth1_login(conntrack_fakes)
    assert auth.access_token.startswith(f"{ada['id']}-")  # tweepy reads the user id there
    user = tweepy.API(auth).verify_credentials()
    assert user.id == int(ada["id"]) and user.id_str == ada["id"]
    assert user.screen_name == "AdaLovelace" and user.created_at.tzinfo is not None
    client = tweepy.Client(
        consumer_key=app["client_id"],
        consumer_secret=app["client_secret"],
        access_token=auth.access_token,
        access_token_secret=auth.access_token_secret,
    )
    assert client.get_me().data.id == int(ada["id"])  # v2 with OAuth 1.0a (user_auth)
    tweets = client.get_users_tweets(int(ada["id"]), user_auth=True)
    assert tweets.data and tweets.meta["result_count"] == len(tweets.data)


def test_oauth1_tokens_do_not_expire(conntrack_fakes: Fakes) -> None:
    """OAuth 1.0a has no refresh: the token of years ago still reads."""
    auth, _app, ada = oauth1_login(conntrack_fakes)
    conntrack_fakes.travel("800d")
    assert tweepy.API(auth).verify_credentials().id == int(ada["id"])


def test_oauth1_after_access_is_revoked_v1_answers_89(conntrack_fakes: Fakes) -> None:
    auth, app, ada = oauth1_login(conntrack_fakes)
    conntrack_fakes.event("twitter", ada["id"], "app_removed", client_id=app["client_id"])
    with pytest.raises(tweepy.Unauthorized) as raised:
        tweepy.API(auth).verify_credentials()
    assert raised.value.api_codes == [89]
    assert raised.value.api_messages == ["Invalid or expired token."]


def test_oauth1_suspended_account_v1_answers_64(conntrack_fakes: Fakes) -> None:
    auth, _app, ada = oauth1_login(conntrack_fakes)
    conntrack_fakes.event("twitter", ada["id"], "suspended")
    with pytest.raises(tweepy.Forbidden) as raised:
        tweepy.API(auth).verify_credentials()
    assert raised.value.api_codes == [64]


# -- ids -----------------------------------------------------------------------------------


def test_a_given_id_is_the_one_tweepy_reads_and_a_word_id_is_refused(
    conntrack_fakes: Fakes,
) -> None:
    with pytest.raises(FakesError, match="id"):
        conntrack_fakes.create_account("twitter", id="ada")
    app = conntrack_fakes.create_app("twitter", redirect_uris=[REDIRECT_URI])
    jack = conntrack_fakes.create_account("twitter", id="2244994945", name="Jack")
    handler = tweepy.OAuth2UserHandler(
        client_id=app["client_id"],
        redirect_uri=REDIRECT_URI,
        scope=SCOPES,
        client_secret=app["client_secret"],
    )
    token = handler.fetch_token(
        conntrack_fakes.authorize(handler.get_authorization_url(), account=jack["id"])
    )
    assert tweepy.Client(token["access_token"]).get_me(user_auth=False).data.id == 2244994945
