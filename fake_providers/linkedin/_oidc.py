"""Sign In with LinkedIn using OpenID Connect: the discovery document, the JWKS and the
``id_token`` of the token answer.

What real LinkedIn publishes (sources: learn.microsoft.com "Sign In with LinkedIn using
OpenID Connect"; the live discovery document as quoted by keycloak/keycloak#28686,
nextauthjs/next-auth#10671, supabase/auth#1536 and logto.io's LinkedIn explorer):

- ``GET https://www.linkedin.com/oauth/.well-known/openid-configuration`` — issuer
  ``https://www.linkedin.com/oauth`` (LinkedIn moved it from ``https://www.linkedin.com``
  in April 2024, and id_tokens carry the same ``iss``), the authorization and
  ``accessToken`` endpoints, ``https://api.linkedin.com/v2/userinfo``, the JWKS at
  ``https://www.linkedin.com/oauth/openid/jwks``, response type ``code``, subject type
  ``pairwise``, RS256, scopes ``openid profile email`` and the claims the id_token can
  carry;
- the id_token (only when ``openid`` was granted): RS256 with a ``kid`` from the JWKS,
  claims ``iss aud iat exp sub`` always, ``name given_name family_name picture locale``
  with ``profile``, ``email email_verified`` with ``email``. ``locale`` is a string in
  the id_token (an object in ``/v2/userinfo``) [U: its exact spelling ``en_US``]. It
  lives as long as the profile's ``id_token_lifetime`` (an hour by default [U]). It
  never carries a ``nonce``: LinkedIn ignores the parameter, and clients that check it
  fail (authlib/authlib#763, python-social-auth/social-core#833,
  linkedin-developers/linkedin-api-js-client#34).

The key is the process's RSA key (:mod:`fake_providers.core.signing`); LinkedIn's
token endpoint authenticates clients with ``client_secret_post`` only, which the
discovery document does not list (LinkedIn omits the field, so clients assume
``client_secret_basic`` and must be told, as next-auth is).
"""

from __future__ import annotations

from typing import Any

from quart import Response

from ..core import Account, Token
from ..core.signing import b64url, process_key
from ._http import API, PROTOCOL, WWW, core, json_response

ISSUER = f"https://{WWW}/oauth"
JWKS_URI = f"https://{WWW}/oauth/openid/jwks"
SCOPES_SUPPORTED = ["openid", "profile", "email"]
CLAIMS_SUPPORTED = [
    "iss",
    "aud",
    "iat",
    "exp",
    "sub",
    "name",
    "given_name",
    "family_name",
    "picture",
    "email",
    "email_verified",
    "locale",
]
#: ``www.linkedin.com`` paths (segments) of the discovery document and the JWKS.
DISCOVERY = ["oauth", ".well-known", "openid-configuration"]
JWKS = ["oauth", "openid", "jwks"]
LOCALE = {"country": "US", "language": "en"}


def configuration() -> dict[str, Any]:
    """The discovery document, in LinkedIn's field order."""
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"https://{WWW}/oauth/v2/authorization",
        "token_endpoint": f"https://{WWW}/oauth/v2/accessToken",
        "userinfo_endpoint": f"https://{API}/v2/userinfo",
        "jwks_uri": JWKS_URI,
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "claims_supported": list(CLAIMS_SUPPORTED),
    }


def discovery() -> Response:
    return json_response(configuration())


def jwks() -> Response:
    return json_response(process_key().jwks())


def names(account: Account) -> tuple[str, str]:
    first, _, last = account.name.partition(" ")
    return first, last


def picture(account: Account) -> str:
    """A profile picture URL in LinkedIn's media CDN shape [U: the path]."""
    return f"https://media.licdn.com/dms/image/{b64url(account.id.encode())}/profile-displayphoto-shrink_100_100/0/"


def id_token(access: Token) -> str | None:
    """The signed id_token for ``access``, or ``None`` when ``openid`` was not granted."""
    c = core()
    scopes = c.scopes_now(access)
    if "openid" not in scopes:
        return None
    account = c.account(access.account_id)
    assert account is not None
    iat = int(access.issued_at.timestamp())
    lifetime = c.profile(PROTOCOL).lifetime("id_token_lifetime")
    exp = iat + (int(lifetime.total_seconds()) if lifetime else 3600)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": access.client_id,
        "iat": iat,
        "exp": exp,
        "sub": account.id,
    }
    if "profile" in scopes:
        first, last = names(account)
        claims.update(name=account.name, given_name=first, family_name=last)
        claims["picture"] = picture(account)
    if "email" in scopes:
        claims.update(email=account.email, email_verified=True)
    if "profile" in scopes:
        claims["locale"] = f"{LOCALE['language']}_{LOCALE['country']}"
    return process_key().sign(claims, {"typ": "JWT"})
