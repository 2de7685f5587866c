"""Facebook with httpx-oauth's ``FacebookOAuth2``, unmodified, inside ``conntrack_fakes``.

The client builds a v5.0 dialog URL with its default scopes space-separated (``email
public_profile``: Facebook reads two permissions), exchanges the code by POST with
``client_secret_post``, offers ``get_long_lived_access_token`` (``fb_exchange_token``,
Facebook's only renewal: the client has no refresh endpoint) and ``get_id_email``
(``/me?fields=id,email``). Errors surface as the library's own exceptions carrying
Facebook's answer (``.response``). Async, so the tests run under trio (this repo's
``trio_mode``), and once under asyncio.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx_oauth.clients.facebook import FacebookOAuth2, GetLongLivedAccessTokenError
from httpx_oauth.exceptions import GetIdEmailError
from httpx_oauth.oauth2 import GetAccessTokenError, RefreshTokenNotSupportedError

from conntrack.testing import Fakes

REDIRECT_URI = "https://app.example/auth/facebook/callback"
LONG_LIVED = 5183944


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def setup(f: Fakes) -> tuple[FacebookOAuth2, dict[str, Any]]:
    app = f.create_app("facebook", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("facebook", name="Ada Lovelace", email="ada@example.com")
    return FacebookOAuth2(app["client_id"], app["client_secret"]), ada


async def sign_in(
    f: Fakes, client: FacebookOAuth2, ada: dict[str, Any], decline: tuple[str, ...] = ()
) -> dict[str, Any]:
    url = await client.get_authorization_url(REDIRECT_URI, state="st4te")
    landed = query_of(f.authorize(url, account=ada["id"], decline=decline))
    assert landed["state"] == "st4te"
    return dict(await client.get_access_token(landed["code"], REDIRECT_URI))


async def test_the_space_separated_default_scope_is_two_permissions(
    conntrack_fakes: Fakes,
) -> None:
    client, ada = setup(conntrack_fakes)
    url = await client.get_authorization_url(REDIRECT_URI, state="st4te")
    assert query_of(url)["scope"] == "email public_profile"
    token = await sign_in(conntrack_fakes, client, ada)
    assert await client.get_id_email(token["access_token"]) == (ada["id"], "ada@example.com")


async def test_code_flow_gives_a_short_lived_bearer_token(conntrack_fakes: Fakes) -> None:
    client, ada = setup(conntrack_fakes)
    token = await sign_in(conntrack_fakes, client, ada)
    assert token["token_type"] == "bearer" and token["access_token"].startswith("EAA")
    assert 3000 < token["expires_in"] <= 3600


async def test_renewal_is_the_long_lived_exchange(conntrack_fakes: Fakes) -> None:
    client, ada = setup(conntrack_fakes)
    short = await sign_in(conntrack_fakes, client, ada)
    long = await client.get_long_lived_access_token(short["access_token"])
    assert long["expires_in"] == LONG_LIVED and long["access_token"] != short["access_token"]
    assert not long.is_expired()
    with pytest.raises(RefreshTokenNotSupportedError):  # Facebook has no refresh grant
        await client.refresh_token(long["access_token"])


async def test_a_declined_email_reads_as_none(conntrack_fakes: Fakes) -> None:
    client, ada = setup(conntrack_fakes)
    token = await sign_in(conntrack_fakes, client, ada, decline=("email",))
    assert await client.get_id_email(token["access_token"]) == (ada["id"], None)


async def test_after_a_password_change_the_errors_carry_190_460(conntrack_fakes: Fakes) -> None:
    client, ada = setup(conntrack_fakes)
    token = (await sign_in(conntrack_fakes, client, ada))["access_token"]
    conntrack_fakes.event("facebook", ada["id"], "password_change")
    with pytest.raises(GetIdEmailError) as read:
        await client.get_id_email(token)
    assert read.value.response is not None and read.value.response.status_code == 400
    error = read.value.response.json()["error"]
    assert (error["type"], error["code"], error["error_subcode"]) == ("OAuthException", 190, 460)
    with pytest.raises(GetLongLivedAccessTokenError) as renewal:
        await client.get_long_lived_access_token(token)
    assert renewal.value.response is not None
    assert renewal.value.response.json()["error"]["error_subcode"] == 460


async def test_a_reused_code_is_refused_with_36009(conntrack_fakes: Fakes) -> None:
    client, ada = setup(conntrack_fakes)
    url = await client.get_authorization_url(REDIRECT_URI, state="st4te")
    code = query_of(conntrack_fakes.authorize(url, account=ada["id"]))["code"]
    await client.get_access_token(code, REDIRECT_URI)
    with pytest.raises(GetAccessTokenError) as caught:
        await client.get_access_token(code, REDIRECT_URI)
    assert caught.value.response is not None
    error = caught.value.response.json()["error"]
    assert error["message"] == "This authorization code has been used."
    assert (error["code"], error["error_subcode"]) == (100, 36009)


def test_the_flow_under_asyncio(conntrack_fakes: Fakes, asyncio_run: Any) -> None:
    client, ada = setup(conntrack_fakes)

    async def flow() -> tuple[str, str | None]:
        token = await sign_in(conntrack_fakes, client, ada)
        long = await client.get_long_lived_access_token(token["access_token"])
        return await client.get_id_email(long["access_token"])

    assert asyncio_run(flow()) == (ada["id"], "ada@example.com")
