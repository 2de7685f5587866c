"""Sign In with LinkedIn using OpenID Connect through HTTP: the discovery document, the
JWKS, the ``id_token`` of the token answer (verified with joserfc against the served
JWKS and validated as an OpenID Connect ID token by authlib), ``/v2/userinfo``, and the
legacy ``/v2/me``, ``/rest/me`` and ``/v2/emailAddress`` for the scopes granted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oidc.core import CodeIDToken
from fp_support import REDIRECT, ManualClock
from joserfc import jwt
from joserfc.errors import BadSignatureError, MissingClaimError
from joserfc.jwk import KeySet
from test_linkedin_oauth import LinkedIn

from conntrack import load_profile
from fake_providers import Core, create_app

WWW = "/www.linkedin.com"
API = "/api.linkedin.com"
DISCOVERY = f"{WWW}/oauth/.well-known/openid-configuration"
OIDC = "openid profile email"
LEGACY = "r_liteprofile r_emailaddress"
EMAIL_QUERY = {"q": "members", "projection": "(elements*(handle~))"}


def denied(what: str) -> dict[str, Any]:
    return {
        "status": 403,
        "serviceErrorCode": 100,
        "code": "ACCESS_DENIED",
        "message": f"Not enough permissions to access: {what}",
    }


@pytest.fixture
async def li(clock: ManualClock) -> AsyncIterator[LinkedIn]:
    """A LinkedIn whose app also has the legacy products (``r_liteprofile``,
    ``r_emailaddress``), as apps made before August 2023 do."""
    profile = load_profile("linkedin")
    scopes = [*profile.get("app_scopes", []), *LEGACY.split()]
    core = Core(
        clock, seed=3, profiles={"linkedin": load_profile("linkedin", {"app_scopes": scopes})}
    )
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT], name="Scheduly")
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield LinkedIn(core, http, app, core.create_account("linkedin"))


def bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


async def keys(li: LinkedIn) -> KeySet:
    config = (await li.client.get(DISCOVERY)).json()
    jwks = await li.client.get("/" + config["jwks_uri"].removeprefix("https://"))
    assert jwks.status_code == 200
    return KeySet.import_key_set(jwks.json())


# -- discovery and keys -----------------------------------------------------------------


async def test_discovery_document_names_linkedins_endpoints(li: LinkedIn) -> None:
    r = await li.client.get(DISCOVERY)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    config = r.json()
    assert config["issuer"] == "https://www.linkedin.com/oauth"
    assert config["authorization_endpoint"] == "https://www.linkedin.com/oauth/v2/authorization"
    assert config["token_endpoint"] == "https://www.linkedin.com/oauth/v2/accessToken"
    assert config["userinfo_endpoint"] == "https://api.linkedin.com/v2/userinfo"
    assert config["jwks_uri"] == "https://www.linkedin.com/oauth/openid/jwks"
    assert config["response_types_supported"] == ["code"]
    assert config["subject_types_supported"] == ["pairwise"]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert config["scopes_supported"] == ["openid", "profile", "email"]
    assert {"iss", "aud", "iat", "exp", "sub", "email", "locale"} <= set(config["claims_supported"])
    # Every endpoint it names is served by the fake.
    for key in ("authorization_endpoint", "jwks_uri"):
        served = await li.client.get("/" + config[key].removeprefix("https://"))
        assert served.status_code != 404, key


async def test_jwks_publishes_one_rsa_signing_key(li: LinkedIn) -> None:
    body = (await li.client.get(f"{WWW}/oauth/openid/jwks")).json()
    [key] = body["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert key["e"] == "AQAB" and len(key["kid"]) == 40
    assert "d" not in key  # the public half only


# -- the id_token -----------------------------------------------------------------------


async def test_id_token_verifies_against_the_jwks_and_validates_with_authlib(
    li: LinkedIn,
) -> None:
    token = await li.tokens(scope=OIDC)
    assert set(token) >= {"access_token", "expires_in", "scope", "token_type", "id_token"}
    assert token["token_type"] == "Bearer"
    decoded = jwt.decode(token["id_token"], await keys(li), algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"values": ["https://www.linkedin.com/oauth"]}},
        {"client_id": li.app.client_id},
    )
    claims.validate(now=int(li.core.now().timestamp()))  # raises on a bad iss/aud/exp/iat
    first, _, last = li.account.name.partition(" ")
    assert claims["sub"] == li.account.id and claims["aud"] == li.app.client_id
    assert (claims["name"], claims["given_name"], claims["family_name"]) == (
        li.account.name,
        first,
        last,
    )
    assert claims["email"] == li.account.email and claims["email_verified"] is True
    assert claims["picture"].startswith("https://") and isinstance(claims["locale"], str)
    assert claims["exp"] - claims["iat"] == 3600


async def test_id_token_claims_follow_the_scopes(li: LinkedIn) -> None:
    ks = await keys(li)
    only = jwt.decode((await li.tokens(scope="openid"))["id_token"], ks).claims
    assert set(only) == {"iss", "aud", "iat", "exp", "sub"}
    email = jwt.decode((await li.tokens(scope="openid email"))["id_token"], ks).claims
    assert set(email) == {"iss", "aud", "iat", "exp", "sub", "email", "email_verified"}


async def test_no_id_token_without_openid_nor_on_refresh(li: LinkedIn) -> None:
    token = await li.tokens(scope="profile email")
    assert "id_token" not in token and "token_type" not in token
    token = await li.tokens(scope=OIDC)
    refreshed = (await li.refresh(token["refresh_token"])).json()
    assert "id_token" not in refreshed


async def test_a_tampered_id_token_does_not_verify(li: LinkedIn) -> None:
    value = (await li.tokens(scope=OIDC))["id_token"]
    head, payload, signature = value.split(".")
    forged = f"{head}.{payload[:-4]}AAAA.{signature}"
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, await keys(li))


# -- userinfo and the legacy profile ----------------------------------------------------


async def test_userinfo_answers_the_claims_of_the_scopes(li: LinkedIn) -> None:
    token = await li.tokens(scope=OIDC)
    info = (await li.client.get(f"{API}/v2/userinfo", headers=bearer(token))).json()
    first, _, last = li.account.name.partition(" ")
    assert info["sub"] == li.account.id and info["email"] == li.account.email
    assert (info["given_name"], info["family_name"]) == (first, last)
    assert info["locale"] == {"country": "US", "language": "en"}
    assert info["email_verified"] is True and info["picture"].startswith("https://")
    ks = await keys(li)
    claims = jwt.decode(token["id_token"], ks).claims
    assert claims["sub"] == info["sub"] and claims["picture"] == info["picture"]


async def test_the_openid_scopes_do_not_open_the_legacy_resources(li: LinkedIn) -> None:
    headers = bearer(await li.tokens(scope=OIDC))
    r = await li.client.get(f"{API}/v2/me", headers=headers)
    assert (r.status_code, r.json()) == (403, denied("me.GET.NO_VERSION"))
    r = await li.client.get(f"{API}/v2/emailAddress", params=EMAIL_QUERY, headers=headers)
    assert (r.status_code, r.json()) == (403, denied("emailAddress.FINDER-members.NO_VERSION"))
    versioned = {**headers, "LinkedIn-Version": "202411"}
    r = await li.client.get(f"{API}/rest/me", headers=versioned)
    assert (r.status_code, r.json()) == (403, denied("me.GET.20241101"))


async def test_the_legacy_scopes_read_the_lite_profile_and_the_address(li: LinkedIn) -> None:
    headers = bearer(await li.tokens(scope=LEGACY))
    first, _, last = li.account.name.partition(" ")
    me = (await li.client.get(f"{API}/v2/me", headers=headers)).json()
    assert (me["id"], me["localizedFirstName"], me["localizedLastName"]) == (
        li.account.id,
        first,
        last,
    )
    assert me["firstName"]["localized"] == {"en_US": first}
    r = await li.client.get(f"{API}/rest/me", headers={**headers, "LinkedIn-Version": "202411"})
    assert r.status_code == 200 and r.json() == me
    r = await li.client.get(f"{API}/rest/me", headers=headers)
    assert r.status_code == 400 and r.json()["code"] == "VERSION_MISSING"
    r = await li.client.get(f"{API}/v2/emailAddress", params=EMAIL_QUERY, headers=headers)
    [element] = r.json()["elements"]
    assert element["handle~"] == {"emailAddress": li.account.email}
    assert element["handle"].startswith("urn:li:emailAddress:")
    bare = await li.client.get(f"{API}/v2/emailAddress", params={"q": "members"}, headers=headers)
    assert bare.json() == {"elements": [{"handle": element["handle"]}]}
    r = await li.client.get(f"{API}/v2/userinfo", headers=headers)
    assert (r.status_code, r.json()) == (403, denied("userinfo.GET.NO_VERSION"))


async def test_default_apps_cannot_ask_for_the_legacy_scopes(
    core: Core, client: httpx.AsyncClient
) -> None:
    """Since August 2023 a new app gets only the OpenID products: asking for
    ``r_emailaddress`` rejects the authorization (nextauthjs/next-auth#8831)."""
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT])
    r = await client.get(
        f"{WWW}/oauth/v2/authorization",
        params={"response_type": "code", "client_id": app.client_id,
                "redirect_uri": REDIRECT, "scope": "openid r_emailaddress"},
    )  # fmt: skip
    assert r.status_code == 302 and "unauthorized_scope_error" in r.headers["location"]


async def test_the_id_token_never_carries_the_nonce(li: LinkedIn) -> None:
    """LinkedIn ignores ``nonce``, so a client that checks it fails against the real one
    too (authlib/authlib#763, python-social-auth/social-core#833): the fake shows it."""
    form: dict[str, Any] = li.fields(OIDC, nonce="n-0S6_WzA2Mj")
    form.update(account_id=li.account.id, granted=OIDC.split(), action="approve")
    r = await li.client.post(f"{WWW}/oauth/v2/authorization", data=form)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    value = (await li.exchange(code)).json()["id_token"]
    decoded = jwt.decode(value, await keys(li))
    assert "nonce" not in decoded.claims
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        None,
        {"nonce": "n-0S6_WzA2Mj", "client_id": li.app.client_id},
    )
    with pytest.raises(MissingClaimError):
        claims.validate(now=int(li.core.now().timestamp()))
