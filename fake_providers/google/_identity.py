"""Who a token is and what it may do: ``id_token``, ``tokeninfo``, ``userinfo``, ``revoke``.

The ``id_token`` is a JWT with Google's claims (``iss`` ``https://accounts.google.com``,
``azp``, ``aud``, ``sub``, ``email``, ``email_verified``, ``at_hash``, the names and
``picture``, ``iat``, ``exp``), signed RS256 as Google signs it, with the key that
``_keys`` publishes at Google's JWKS and certificate URLs: a client verifies it as it
verifies a real one (google-auth's ``verify_oauth2_token``, any OIDC library through
the discovery document). ``tokeninfo?id_token=`` checks it the same way.

Account states Google does not express as dead tokens: ``locked`` and ``checkpoint``
act as a disabled Google account [U] (API calls answer 401, refreshes ``invalid_grant``,
until ``unlocked``/``checkpoint_cleared``); ``suspended`` is a suspended YouTube account
(the Data API answers 403, see ``_youtube``); ``restricted`` changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from quart import Response

from ..core import Account, App, Token, TokenCheck, TokenKind
from . import _errors as e
from ._http import bearer, core, json_response, params
from ._keys import ISSUER, signing_key

PROTOCOL = "google"
EMAIL_SCOPES = ("email", "https://www.googleapis.com/auth/userinfo.email")
PROFILE_SCOPES = ("profile", "https://www.googleapis.com/auth/userinfo.profile")
#: The long names Google answers for the OpenID Connect short scopes.
LONG_NAMES = {"email": EMAIL_SCOPES[1], "profile": PROFILE_SCOPES[1]}


def answered_scopes(scopes: list[str]) -> list[str]:
    """The granted scopes as Google writes them in a token answer and in tokeninfo:
    ``email`` and ``profile`` by their long names, and ``openid`` added with either.

    Asked for ``email profile``, Google answers ``https://www.googleapis.com/auth/
    userinfo.email openid https://www.googleapis.com/auth/userinfo.profile``, so
    oauthlib-based clients raise "Scope has changed" unless told to relax
    (googleapis/google-api-python-client#1088, requests/requests-oauthlib#387: the
    ``openid`` added to ``userinfo.email userinfo.profile``; flask-dance#148).
    """
    out = list(dict.fromkeys(LONG_NAMES.get(s, s) for s in scopes))
    if "openid" not in out:
        first = next((i for i, s in enumerate(out) if s in LONG_NAMES.values()), None)
        if first is not None:
            out.insert(first + 1, "openid")
    return out


def callback_scopes(granted: list[str]) -> list[str]:
    """The ``scope`` of the redirect back to the app: the scopes as asked, then
    ``openid`` and the long names Google adds for ``email`` and ``profile`` [obs: a
    callback ``scope=email profile …/calendar openid …/userinfo.profile
    …/userinfo.email``]."""
    out = list(granted)
    added = answered_scopes(granted)
    if "openid" in added and "openid" not in out:
        out.append("openid")
    for short in ("profile", "email"):
        if short in granted and LONG_NAMES[short] not in out:
            out.append(LONG_NAMES[short])
    return out


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def account_disabled(token: Token) -> bool:
    """[U] A locked account or one held at a checkpoint acts like a disabled Google
    account: its tokens stop working until the state is lifted."""
    account = core().account(token.account_id)
    return account is not None and (account.locked or account.checkpoint)


def working(value: str | None) -> TokenCheck | None:
    """The check of an access token that works now, else ``None``."""
    if not value:
        return None
    check = core().check_token(value, provider=PROTOCOL)
    token = check.token
    if token is None or not check.valid or token.kind is not TokenKind.ACCESS:
        return None
    return None if account_disabled(token) else check


def api_token(value: str | None, readers: list[str]) -> Token:
    """The working access token of an API call that reads with one of ``readers``, or
    the API's 401 (no token; a dead one) or 403 (none of those scopes granted now): the
    same checks for every Google API host (YouTube, Business Profile)."""
    if not value:
        raise e.login_required()
    check = working(value)
    if check is None or check.token is None:
        raise e.unauthenticated()
    if not any(s in readers for s in core().scopes_now(check.token)):
        raise e.insufficient_scopes(" ".join(readers))
    return check.token


def _has(scopes: list[str], wanted: tuple[str, ...]) -> bool:
    return any(s in scopes for s in wanted)


def id_token(app: App, access: Token, iss: str = ISSUER, nonce: str | None = None) -> str:
    """A signed id_token for the account behind ``access`` (see the module docstring),
    from issuer ``iss``; ``nonce``: the one the authorization request carried, echoed
    as Google does."""
    c = core()
    account = c.account(access.account_id)
    assert account is not None
    scopes = c.scopes_now(access)
    iat = int(c.now().timestamp())
    lifetime = c.profile("google").lifetime("id_token_lifetime")
    exp = iat + (int(lifetime.total_seconds()) if lifetime else 3600)
    digest = hashlib.sha256(access.value.encode()).digest()
    claims: dict[str, Any] = {
        "iss": iss,
        "azp": app.client_id,
        "aud": app.client_id,
        "sub": account.id,
    }
    if _has(scopes, EMAIL_SCOPES):
        claims["email"] = account.email
        claims["email_verified"] = True
    claims["at_hash"] = b64url(digest[:16])
    if _has(scopes, PROFILE_SCOPES):
        first, _, last = account.name.partition(" ")
        claims.update(name=account.name, picture=picture(account))
        claims.update(given_name=first, family_name=last)
    claims["iat"] = iat
    claims["exp"] = exp
    if nonce:
        claims["nonce"] = nonce
    return signing_key().sign(claims, {"typ": "JWT"})


def picture(account: Account) -> str:
    """The account's profile photo URL (``lh3.googleusercontent.com``, as Google's)."""
    return f"https://lh3.googleusercontent.com/a/{b64url(account.id.encode())}=s96-c"


def verify_id_token(value: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The header and claims of a fake id_token that verifies and has not expired."""
    verified = signing_key().verify(value)
    if verified is None:
        return None
    header, claims = verified
    c = core()
    app = c.app(str(claims.get("aud", "")))
    if app is None or app.provider != PROTOCOL:
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= c.now().timestamp():
        return None
    return header, claims


async def tokeninfo(*, legacy: bool = False) -> Response:
    """``tokeninfo?access_token=`` (or ``id_token=``): what a token is, every value a
    string; 400 "Invalid Value" for one that does not work."""
    fields = await params()
    invalid = e.tokeninfo_invalid(with_error=not legacy)
    if fields.get("id_token"):
        verified = verify_id_token(fields["id_token"])
        if verified is None:
            raise invalid
        header, claims = verified
        out = {k: _text(v) for k, v in claims.items()}
        out.update(alg=str(header.get("alg")), kid=str(header.get("kid")), typ="JWT")
        return json_response(out)
    check = working(fields.get("access_token") or bearer())
    if check is None or check.token is None:
        raise invalid
    c = core()
    token = check.token
    scopes = c.scopes_now(token)
    account = c.account(token.account_id)
    assert account is not None
    expires_in = c.expires_in(token) or 0
    answer = {
        "azp": token.client_id,
        "aud": token.client_id,
        "sub": account.id,
        "scope": " ".join(answered_scopes(scopes)),
        "exp": str(int(c.now().timestamp()) + expires_in),
        "expires_in": str(expires_in),
    }
    if _has(scopes, EMAIL_SCOPES):
        answer["email"] = account.email
        answer["email_verified"] = "true"
    offline = c.refresh_token_of(token) is not None
    answer["access_type"] = "offline" if offline else "online"
    return json_response(answer)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def userinfo() -> Response:
    """The OpenID Connect profile of the token's account (Bearer or ``access_token``)."""
    fields = await params()
    check = working(bearer() or fields.get("access_token"))
    if check is None or check.token is None:
        raise e.userinfo_invalid()
    c = core()
    account = c.account(check.token.account_id)
    assert account is not None
    scopes = c.scopes_now(check.token)
    out: dict[str, Any] = {"sub": account.id}
    if _has(scopes, PROFILE_SCOPES):
        first, _, last = account.name.partition(" ")
        out.update(name=account.name, given_name=first, family_name=last)
        out["picture"] = picture(account)
    if _has(scopes, EMAIL_SCOPES):
        out["email"] = account.email
        out["email_verified"] = True
    return json_response(out)


async def revoke() -> Response:
    """``revoke?token=`` (query or form): an access token takes its refresh token with it
    and the other way round; a token that does not work answers 400 ``invalid_token``."""
    fields = await params()
    value = fields.get("token", "")
    c = core()
    check = c.check_token(value, provider=PROTOCOL) if value else None
    if check is None or check.token is None or not check.valid:
        raise e.revoke_failed()
    if check.token.kind not in (
        TokenKind.ACCESS,
        TokenKind.REFRESH,
    ):
        raise e.revoke_failed()
    c.revoke(value)
    return json_response({})
