"""What client libraries found the fake X doing differently from the real one, fixed
and pinned here (the libraries' own runs are in tests/client_libraries/test_x_*.py).

- python-twitter-v2 signs ``POST /oauth/access_token`` without the request token's
  secret (it builds a new session from the callback URL) and works against X, whose
  reference documents the leg as "Authentication: Not required" with a bare
  ``?oauth_verifier=…&oauth_token=…`` example
  (developer.x.com/en/docs/authentication/api-reference/access_token). The fake
  checked the signature and answered 401 code 32; it now checks the request token and
  the verifier only.
- social-core's ``TwitterOAuth`` adds ``?redirect_state=…`` to its registered callback;
  X allows query strings on the registered URL in ``oauth/request_token``. The fake
  wanted an exact match (403 code 415); it now allows the added query string.
- social-core's ``TwitterOAuth2`` and tweepy's ``get_me(user_fields=…)`` ask
  ``/2/users/me`` for ``user.fields``; the fake ignored them. It now answers the ones
  an account has (``created_at``, ``public_metrics``, ``verified``, …) and refuses an
  unknown name with v2's 400 invalid-request problem.
"""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from fp_support import REDIRECT
from oauthlib.oauth1 import Client as Signer
from test_twitter_oauth1 import ACCESS_TOKEN, OAuth1

from fake_providers import Core

__all__ = ["o1"]


@pytest.fixture
def o1(core: Core, client: httpx.AsyncClient) -> OAuth1:
    return OAuth1(core, client)


async def approved(o1: OAuth1) -> tuple[dict[str, str], str]:
    request = await o1.request_token()
    r = await o1.approve(request["oauth_token"])
    return request, parse_qs(urlsplit(r.headers["location"]).query)["oauth_verifier"][0]


async def test_the_access_token_leg_as_xs_reference_shows_it_unsigned(o1: OAuth1) -> None:
    request, verifier = await approved(o1)
    query = {"oauth_verifier": verifier, "oauth_token": request["oauth_token"]}
    r = await o1.client.post(ACCESS_TOKEN, params=query)
    assert r.status_code == 200, r.text
    answer = dict(parse_qsl(r.text))
    assert answer["user_id"] == o1.account.id and answer["screen_name"] == "AdaLovelace"
    assert answer["oauth_token"].startswith(f"{o1.account.id}-")


async def test_the_access_token_leg_signed_without_the_token_secret(o1: OAuth1) -> None:
    """What python-twitter-v2 sends: the consumer's signature, no request-token secret."""
    request, verifier = await approved(o1)
    signer = Signer(
        o1.app.client_id,
        o1.app.client_secret,
        resource_owner_key=request["oauth_token"],
        verifier=verifier,
        callback_uri=REDIRECT,
    )
    r = await o1.post(ACCESS_TOKEN, signer)
    assert r.status_code == 200, r.text
    tokens = dict(parse_qsl(r.text))
    r = await o1.get("/api.x.com/1.1/account/verify_credentials.json", o1.signer(tokens))
    assert r.status_code == 200 and r.json()["id_str"] == o1.account.id


async def test_the_verifier_and_request_token_still_count(o1: OAuth1) -> None:
    request, verifier = await approved(o1)
    r = await o1.client.post(
        ACCESS_TOKEN, params={"oauth_verifier": "wrong", "oauth_token": request["oauth_token"]}
    )
    assert r.status_code == 401
    assert r.text == "Error processing your OAuth request: Invalid oauth_verifier parameter"
    query = {"oauth_verifier": verifier, "oauth_token": request["oauth_token"]}
    assert (await o1.client.post(ACCESS_TOKEN, params=query)).status_code == 200
    again = await o1.client.post(ACCESS_TOKEN, params=query)  # a request token is single-use
    assert again.status_code == 401 and again.text == "Invalid request token."


async def test_a_callback_may_add_a_query_string_to_a_registered_url(o1: OAuth1) -> None:
    """social-core's ``redirect_state``: X takes "any standard query strings along with
    your callback URL" (developer.x.com/en/docs/apps/callback-urls)."""
    request = await o1.request_token(f"{REDIRECT}?redirect_state=abc")
    r = await o1.approve(request["oauth_token"])
    location = urlsplit(r.headers["location"])
    assert parse_qs(location.query)["redirect_state"] == ["abc"]
    for callback in (f"{REDIRECT}/other", f"{REDIRECT}?", "https://evil.example/cb?x=1"):
        signer = Signer(o1.app.client_id, o1.app.client_secret, callback_uri=callback)
        r = await o1.post("/api.x.com/oauth/request_token", signer)
        assert r.status_code == 403, callback
        assert r.json()["errors"][0]["code"] == 415


async def test_users_me_answers_the_user_fields_asked_for(o1: OAuth1) -> None:
    """social-core and pytwitter ask ``/2/users/me`` for ``user.fields``; X answers each
    one the account has, leaves out the rest, and refuses a name it does not know."""
    tokens = await o1.login()
    signer = o1.signer(tokens)
    path = "/api.x.com/2/users/me?user.fields=created_at,location,public_metrics,verified"
    r = await o1.get(path, signer)
    assert r.status_code == 200
    data = r.json()["data"]
    assert set(data) == {"id", "name", "username", "created_at", "public_metrics", "verified"}
    assert data["created_at"].endswith(".000Z") and data["verified"] is False
    r = await o1.get("/api.x.com/2/users/me?user.fields=created_at,nonsense", signer)
    assert r.status_code == 400
    body = r.json()
    assert body["title"] == "Invalid Request"
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    error = body["errors"][0]
    assert error["parameters"] == {"user.fields": ["created_at,nonsense"]}  # as sent
    assert error["message"].startswith(
        "The `user.fields` query parameter value [nonsense] is not one of [affiliation,"
    )
