"""What client libraries found the fake Google doing differently from the real one,
fixed and pinned here (the libraries' own runs are in tests/client_libraries/).

- google-auth's ``verify_oauth2_token`` fetches ``www.googleapis.com/oauth2/v1/certs``
  (``{kid: PEM certificate}``) and accepts RS256 only; OIDC libraries read the
  discovery document's ``jwks_uri`` (``oauth2/v3/certs``). The fake used to sign HS256
  with the client secret and published no keys: it now signs RS256 and publishes both
  (developers.google.com/identity/openid-connect/reference#discovery-document).
- oauthlib-based clients (requests-oauthlib, google-auth-oauthlib) raise "Scope has
  changed" against real Google when they ask for ``email``/``profile``: Google answers
  their long names and adds ``openid``. The fake answered the scopes as asked, so a
  test passed that fails in production; it now answers as Google.
- social-core's GoogleOpenIdConnect sends a ``nonce`` and wants it back in the
  id_token, as Google puts it; it also wants ``iss`` ``accounts.google.com`` from the
  legacy token endpoint it uses (Google writes either form). The fake dropped the nonce
  and wrote one issuer; it now echoes the nonce and writes the bare issuer on the
  legacy endpoint ([U], the profile's ``legacy_token_issuer``).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography import x509
from fp_support import REDIRECT
from google.auth import jwt as google_jwt
from test_google_oauth import Google

from fake_providers import Core

__all__ = ["google"]


@pytest.fixture
def google(core: Core, client: httpx.AsyncClient) -> Google:
    app = core.create_app_registration("google", redirect_uris=[REDIRECT], name="Scheduly")
    return Google(core, client, app, core.create_account("google", name="Ada Lovelace"))


def _part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _header(token: str) -> dict[str, Any]:
    return _part(token, 0)


def _skew(token: str) -> int:
    """Seconds between the wall clock and the fake's (the fixture's clock is fixed):
    the libraries check ``iat``/``exp`` against the wall clock."""
    return int(abs(time.time() - _part(token, 1)["iat"])) + 60


async def test_discovery_document_names_googles_endpoints_and_rs256(google: Google) -> None:
    r = await google.client.get("/accounts.google.com/.well-known/openid-configuration")
    assert r.status_code == 200
    doc = r.json()
    assert doc["issuer"] == "https://accounts.google.com"
    assert doc["jwks_uri"] == "https://www.googleapis.com/oauth2/v3/certs"
    assert doc["token_endpoint"] == "https://oauth2.googleapis.com/token"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "max-age" in r.headers["cache-control"]


async def test_the_jwks_verifies_the_id_token(google: Google) -> None:
    body = await google.tokens()
    token = body["id_token"]
    header = _header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    r = await google.client.get("/www.googleapis.com/oauth2/v3/certs")
    assert r.status_code == 200
    keys = jwt.PyJWKSet.from_dict(r.json()).keys
    key = next(k for k in keys if k.key_id == header["kid"])
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=google.app.client_id, leeway=_skew(token)
    )
    assert claims["iss"] == "https://accounts.google.com" and claims["sub"] == google.account.id


async def test_the_v1_certificates_verify_the_id_token(google: Google) -> None:
    """The format google-auth's ``verify_oauth2_token`` reads by default."""
    body = await google.tokens(scope="openid email profile")
    r = await google.client.get("/www.googleapis.com/oauth2/v1/certs")
    assert r.status_code == 200
    certs = r.json()
    assert list(certs) == [_header(body["id_token"])["kid"]]
    x509.load_pem_x509_certificate(next(iter(certs.values())).encode())
    token = body["id_token"]
    claims = google_jwt.decode(
        token, certs=certs, audience=google.app.client_id, clock_skew_in_seconds=_skew(token)
    )
    assert claims["email"] == google.account.email and claims["email_verified"] is True
    assert claims["name"] == "Ada Lovelace" and claims["picture"].startswith("https://lh3.")


async def test_a_token_signed_with_another_key_does_not_verify(google: Google) -> None:
    body = await google.tokens()
    head, payload, _ = body["id_token"].split(".")
    forged = f"{head}.{payload}.{base64.urlsafe_b64encode(b'x' * 256).decode().rstrip('=')}"
    r = await google.client.get("/oauth2.googleapis.com/tokeninfo", params={"id_token": forged})
    assert r.status_code == 400
    r = await google.client.get(
        "/oauth2.googleapis.com/tokeninfo", params={"id_token": body["id_token"]}
    )
    assert r.status_code == 200 and r.json()["kid"] == _header(body["id_token"])["kid"]


# -- the granted scope, as Google writes it -----------------------------------------------

USERINFO = "https://www.googleapis.com/auth/userinfo."
YT = "https://www.googleapis.com/auth/youtube.readonly"


async def test_email_and_profile_come_back_by_their_long_names_with_openid(google: Google) -> None:
    """Asked for ``email profile``, Google answers ``…/userinfo.email openid
    …/userinfo.profile`` (googleapis/google-api-python-client#1088) and an id_token;
    the callback's ``scope`` lists the short names, then what Google added."""
    r = await google.approve(scope="email profile")
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["scope"] == [f"email profile openid {USERINFO}profile {USERINFO}email"]
    body = await google.tokens(scope="email profile")
    assert body["scope"] == f"{USERINFO}email openid {USERINFO}profile"
    assert "id_token" in body
    info = await google.client.get(
        "/oauth2.googleapis.com/tokeninfo", params={"access_token": body["access_token"]}
    )
    assert info.json()["scope"] == body["scope"]


async def test_the_long_names_alone_get_openid_added(google: Google) -> None:
    body = await google.tokens(scope=f"{USERINFO}email {USERINFO}profile")
    assert body["scope"] == f"{USERINFO}email openid {USERINFO}profile"


async def test_a_youtube_only_grant_has_no_openid_and_no_id_token(google: Google) -> None:
    body = await google.tokens(scope=YT)
    assert body["scope"] == YT and "id_token" not in body


# -- nonce and issuer ---------------------------------------------------------------------


async def test_the_id_token_echoes_the_nonce_of_the_authorization(google: Google) -> None:
    """social-core's GoogleOpenIdConnect (and any OIDC client) checks the nonce."""
    body = await google.tokens(nonce="n-0S6_WzA2Mj")
    claims = _part(body["id_token"], 1)
    assert claims["nonce"] == "n-0S6_WzA2Mj" and claims["iss"] == "https://accounts.google.com"
    plain = _part((await google.tokens())["id_token"], 1)
    assert "nonce" not in plain
    refreshed = await google.refresh(body["refresh_token"])
    assert "nonce" not in _part(refreshed.json()["id_token"], 1)


async def test_the_legacy_token_endpoint_writes_the_bare_issuer(google: Google) -> None:
    """[U] ``accounts.google.com`` there (the profile's ``legacy_token_issuer``), as
    social-core's GoogleOpenIdConnect expects from that endpoint."""
    code = await google.code()
    r = await google.client.post(
        "/accounts.google.com/o/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": google.app.client_id,
            "client_secret": google.app.client_secret,
            "redirect_uri": REDIRECT,
        },
    )
    assert r.status_code == 200
    assert _part(r.json()["id_token"], 1)["iss"] == "accounts.google.com"
