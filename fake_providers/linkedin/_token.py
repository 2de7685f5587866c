"""LinkedIn's token endpoints: ``accessToken``, ``introspectToken``, ``revoke``.

All three take form fields with the client credentials in the body (LinkedIn does not
read HTTP Basic). ``accessToken`` serves ``authorization_code`` and ``refresh_token``:

- from a code: ``{"access_token","expires_in","refresh_token",
  "refresh_token_expires_in","scope"}`` — the refresh token only where the profile's
  ``refresh_tokens_enabled`` (approved apps), the scope comma-separated; with
  ``openid`` granted also ``token_type`` and the ``id_token`` (``_oidc``);
- from a refresh token: a new access token and the *same* refresh token, whose
  ``refresh_token_expires_in`` counts down (its lifetime does not reset: refresh on day
  59 and 306 days are left). With ``access_capped_by_refresh_token`` an access token
  never outlives its refresh token (a refresh on day 360 gives 5 days).

``introspectToken`` answers the facts of any token LinkedIn issued (``status``
``active``, ``expired`` or ``revoked``); 400 for an unknown client id or token, 401
for a wrong secret. ``revoke`` ends the token's whole authorization.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from quart import Response

from ..core import App, CodeRejected, InvalidRequest, Reason, RefreshRejected, Token, TokenPair
from . import _errors as e
from ._errors import OAuthError
from ._http import PROTOCOL, core, json_response, params
from ._oidc import id_token


def epoch(dt: datetime | None) -> int:
    return 0 if dt is None else int(dt.timestamp())


def required(fields: dict[str, str], *names: str) -> list[str]:
    """The named fields, or the first missing one's error."""
    for name in names:
        if not fields.get(name):
            raise e.missing(name)
    return [fields[n] for n in names]


def client(fields: dict[str, str]) -> App:
    """The app whose credentials are in the body, or ``invalid_client``."""
    client_id, secret = required(fields, "client_id", "client_secret")
    app = core().app(client_id)
    if app is None or app.provider != PROTOCOL or app.client_secret != secret:
        raise e.client_auth()
    return app


async def access_token() -> Response:
    """``POST /oauth/v2/accessToken``."""
    fields = await params()
    (grant_type,) = required(fields, "grant_type")
    if grant_type == "authorization_code":
        code, redirect_uri = required(fields, "code", "redirect_uri")
        app = client(fields)
        try:
            pair = core().issue_from_code(
                code,
                client_id=app.client_id,
                redirect_uri=redirect_uri,
                code_verifier=fields.get("code_verifier") or None,
            )
        except CodeRejected as err:
            raise e.code_rejected(err.problem) from None
        return token_answer(pair, first=True)
    if grant_type == "refresh_token":
        (refresh,) = required(fields, "refresh_token")
        app = client(fields)
        try:
            pair = core().refresh(refresh, client_id=app.client_id)
        except RefreshRejected:
            raise e.refresh_rejected() from None
        cap(pair)
        return token_answer(pair)
    raise OAuthError(400, "unsupported_grant_type", e.UNSUPPORTED_GRANT.format(grant=grant_type))


def cap(pair: TokenPair) -> None:
    """An access token never outlives its refresh token (``access_capped_by_refresh_token``):
    LinkedIn's "on day 360 both expire in 5 days"."""
    access, refresh = pair.access, pair.refresh
    if not core().profile(PROTOCOL).get("access_capped_by_refresh_token", True):
        return
    if refresh is None or refresh.expires_at is None or access.expires_at is None:
        return
    if access.expires_at > refresh.expires_at:
        access.expires_at = refresh.expires_at


def token_answer(pair: TokenPair, *, first: bool = False) -> Response:
    """The token response; lifetimes are counted from the instant the pair was issued
    (not from "now", which on a wall clock is a few microseconds later). The answer to a
    code (``first``) carries an ``id_token`` when ``openid`` was granted (``_oidc``);
    a refresh does not [U]."""
    c = core()
    separator = str(c.profile(PROTOCOL).get("response_scope_separator", ","))
    issued = pair.access.issued_at
    out: dict[str, Any] = {"access_token": pair.access.value}
    if pair.access.expires_at is not None:
        out["expires_in"] = seconds(pair.access.expires_at - issued)
    if pair.refresh is not None:
        out["refresh_token"] = pair.refresh.value
        if pair.refresh.expires_at is not None:
            out["refresh_token_expires_in"] = seconds(pair.refresh.expires_at - issued)
    out["scope"] = separator.join(pair.access.scopes)
    if first and (signed := id_token(pair.access)) is not None:
        out["token_type"] = "Bearer"
        out["id_token"] = signed
    return json_response(out, headers={"Cache-Control": "no-cache, no-store"})


def seconds(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()))


async def introspect() -> Response:
    """``POST /oauth/v2/introspectToken``: 400 for an unknown client id or token, 401 for
    a wrong secret; otherwise HTTP 200 with the token's facts, dead or alive."""
    fields = await params()
    client_id, secret, value = required(fields, "client_id", "client_secret", "token")
    c = core()
    app = c.app(client_id)
    if app is None or app.provider != PROTOCOL:
        raise OAuthError(400, "invalid_client", e.CLIENT_AUTH)
    if app.client_secret != secret:
        raise e.client_auth()
    check = c.check_token(value, provider=PROTOCOL)
    token = check.token
    if token is None:
        raise OAuthError(400, "invalid_request", e.UNKNOWN_TOKEN)
    if token.client_id != app.client_id:
        raise OAuthError(400, "invalid_request", e.OTHER_CLIENT)
    return json_response(facts(token, check.reason))


def facts(token: Token, reason: Reason | None) -> dict[str, Any]:
    """The introspection body, keys in LinkedIn's documented order."""
    c = core()
    family = c.family(token.family)
    separator = str(c.profile(PROTOCOL).get("response_scope_separator", ","))
    if reason is None:
        status = "active"
    elif reason is Reason.EXPIRED:
        status = "expired"
    else:
        status = "revoked"
    return {
        "active": reason is None,
        "client_id": token.client_id,
        "authorized_at": epoch(family.created_at if family else token.issued_at),
        "created_at": epoch(token.issued_at),
        "status": status,
        "expires_at": epoch(token.expires_at),
        "scope": separator.join(c.scopes_now(token)),
        "auth_type": "3L",
    }


async def revoke() -> Response:
    """``POST /oauth/v2/revoke``: ends the token's authorization (access and refresh
    tokens alike); HTTP 200 with an empty body, also for a string never issued (RFC 7009)."""
    fields = await params()
    app = client(fields)
    (value,) = required(fields, "token")
    c = core()
    if c.token(value, provider=PROTOCOL) is None:
        return Response("", status=200)
    try:
        c.revoke(value, client_id=app.client_id)
    except InvalidRequest:
        raise OAuthError(400, "invalid_request", e.OTHER_CLIENT) from None
    return Response("", status=200)
