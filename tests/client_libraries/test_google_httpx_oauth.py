"""Google with httpx-oauth's ``GoogleOAuth2``, unmodified, inside ``conntrack_fakes``.

The client builds the consent URL on ``accounts.google.com/o/oauth2/v2/auth`` with its
default scopes (``userinfo.profile userinfo.email``, the long names), takes extra
parameters (``access_type``, ``prompt``) and PKCE, exchanges the code and refreshes on
``oauth2.googleapis.com/token`` with ``client_secret_post``, revokes on
``accounts.google.com/o/oauth2/revoke``, and reads who the user is from the People API
(``get_id_email``: ``people/me?personFields=emailAddresses``). Errors surface as the
library's own exceptions carrying Google's answer (``.response``). Async: the tests
run under trio (this repo's ``trio_mode``), and once under asyncio (``asyncio_run``: a
thread of its own, where no other loop runs).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx_oauth.clients.google import GoogleOAuth2
from httpx_oauth.exceptions import GetIdEmailError
from httpx_oauth.oauth2 import GetAccessTokenError, RefreshTokenError

from conntrack.testing import Fakes

REDIRECT_URI = "https://app.example/auth/google/callback"
AUTH = "https://www.googleapis.com/auth/"
DEAD_GRANT = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
VERIFIER = "v" * 64


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def setup(f: Fakes) -> tuple[GoogleOAuth2, dict[str, Any], dict[str, Any]]:
    app = f.create_app("google", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("google", name="Ada Lovelace", email="ada@example.com")
    return GoogleOAuth2(app["client_id"], app["client_secret"]), app, ada


async def sign_in(f: Fakes, client: GoogleOAuth2, ada: dict[str, Any]) -> dict[str, Any]:
    url = await client.get_authorization_url(
        REDIRECT_URI,
        state="st4te",
        code_challenge=VERIFIER,
        code_challenge_method="plain",
        extras_params={"access_type": "offline", "prompt": "consent"},
    )
    landed = query_of(f.authorize(url, account=ada["id"]))
    assert landed["state"] == "st4te"
    return dict(await client.get_access_token(landed["code"], REDIRECT_URI, VERIFIER))


async def test_the_consent_url_is_googles(conntrack_fakes: Fakes) -> None:
    client, app, _ada = setup(conntrack_fakes)
    url = await client.get_authorization_url(REDIRECT_URI, state="st4te")
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("accounts.google.com", "/o/oauth2/v2/auth")
    query = query_of(url)
    assert query["scope"] == f"{AUTH}userinfo.profile {AUTH}userinfo.email"
    assert query["client_id"] == app["client_id"] and query["response_type"] == "code"


async def test_code_flow_token_and_the_people_api_identity(conntrack_fakes: Fakes) -> None:
    client, _app, ada = setup(conntrack_fakes)
    token = await sign_in(conntrack_fakes, client, ada)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3599
    assert token["refresh_token"].startswith("1//") and token["id_token"]
    # Asked for the long names, Google adds openid (and answers an id_token).
    assert token["scope"].split() == [f"{AUTH}userinfo.profile", "openid", f"{AUTH}userinfo.email"]
    assert await client.get_id_email(token["access_token"]) == (
        f"people/{ada['id']}",
        "ada@example.com",
    )


async def test_refresh_keeps_the_refresh_token(conntrack_fakes: Fakes) -> None:
    client, _app, ada = setup(conntrack_fakes)
    token = await sign_in(conntrack_fakes, client, ada)
    conntrack_fakes.travel("2h")
    with pytest.raises(GetIdEmailError) as expired:
        await client.get_id_email(token["access_token"])
    assert expired.value.response is not None and expired.value.response.status_code == 401
    fresh = await client.refresh_token(token["refresh_token"])
    assert fresh["access_token"] != token["access_token"] and "refresh_token" not in fresh
    assert (await client.get_id_email(fresh["access_token"]))[1] == "ada@example.com"


async def test_after_access_is_revoked(conntrack_fakes: Fakes) -> None:
    client, app, ada = setup(conntrack_fakes)
    token = await sign_in(conntrack_fakes, client, ada)
    conntrack_fakes.event("google", ada["id"], "app_removed", client_id=app["client_id"])
    with pytest.raises(GetIdEmailError) as unauthenticated:
        await client.get_id_email(token["access_token"])
    assert unauthenticated.value.response is not None
    body = unauthenticated.value.response.json()
    assert body["error"]["code"] == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    with pytest.raises(RefreshTokenError) as refused:
        await client.refresh_token(token["refresh_token"])
    assert refused.value.response is not None and refused.value.response.json() == DEAD_GRANT


async def test_revoke_token_kills_both_tokens(conntrack_fakes: Fakes) -> None:
    client, _app, ada = setup(conntrack_fakes)
    token = await sign_in(conntrack_fakes, client, ada)
    await client.revoke_token(token["access_token"])
    with pytest.raises(RefreshTokenError) as refused:
        await client.refresh_token(token["refresh_token"])
    assert refused.value.response is not None and refused.value.response.json() == DEAD_GRANT


async def test_a_reused_code_is_refused(conntrack_fakes: Fakes) -> None:
    client, _app, ada = setup(conntrack_fakes)
    url = await client.get_authorization_url(REDIRECT_URI, state="st4te")
    code = query_of(conntrack_fakes.authorize(url, account=ada["id"]))["code"]
    await client.get_access_token(code, REDIRECT_URI)
    with pytest.raises(GetAccessTokenError) as reused:
        await client.get_access_token(code, REDIRECT_URI)
    assert reused.value.response is not None
    assert reused.value.response.json()["error"] == "invalid_grant"


def test_the_flow_under_asyncio(conntrack_fakes: Fakes, asyncio_run: Any) -> None:
    client, _app, ada = setup(conntrack_fakes)

    async def flow() -> tuple[str, str | None]:
        token = await sign_in(conntrack_fakes, client, ada)
        fresh = await client.refresh_token(token["refresh_token"])
        return await client.get_id_email(fresh["access_token"])

    assert asyncio_run(flow()) == (f"people/{ada['id']}", "ada@example.com")
