"""TikTok Login Kit v2: the authorize page, ``/v2/oauth/token/`` and ``/v2/oauth/revoke/``.

The authorize page checks ``client_key`` and ``redirect_uri`` before anything else: an
unknown app or an unregistered redirect URI gets an HTML error page, never a redirect to
a URI nobody registered. Once the redirect URI is known good, request problems go back to
it as ``error``/``error_description``/``state`` (``unsupported_response_type``,
``invalid_scope``, ``invalid_request``), and so does a cancel (``access_denied``). An
approval redirects with ``code``, ``scopes`` (what was granted, comma-separated) and
``state``.

The token endpoint speaks ``application/x-www-form-urlencoded`` with ``client_key`` (not
``client_id``) and ``client_secret`` in the body; errors are flat OAuth bodies with the
profile's ``oauth_error_status``.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from quart import Response, request

from .._consent import error_redirect as redirect_error
from .._consent import listed_accounts, submission, with_query
from ..core import (
    App,
    CodeRejected,
    InvalidRequest,
    NotFound,
    RefreshRejected,
    Token,
    TokenPair,
    TokenRejected,
)
from . import _errors as e
from ._errors import OAuthError
from ._http import PROTOCOL, core, found, json_response, new_log_id, page

HIDDEN = (
    "client_key",
    "redirect_uri",
    "state",
    "scope",
    "response_type",
    "code_challenge",
    "code_challenge_method",
)


def open_id(client_id: str, account_id: str) -> str:
    """The user's ``open_id`` for one app: stable, opaque, different for each app."""
    digest = hashlib.sha256(f"tiktok-open-id:{client_id}:{account_id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def union_id(account_id: str) -> str:
    """The user's ``union_id``: the same for every app of one developer (here: all)."""
    digest = hashlib.sha256(f"tiktok-union-id:{account_id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def split_scopes(text: str) -> list[str]:
    sep = core().profile(PROTOCOL).scope_separator
    return [s.strip() for s in text.split(sep) if s.strip()]


def error_page(message: str, status: int = 400) -> Response:
    return page("tiktok_error.html", status, message=message)


async def authorize() -> Response:
    """GET shows the login and consent page; POST takes the person's answer."""
    fields, granted = await submission()
    c = core()
    app = c.app(fields.get("client_key", ""))
    if app is None or app.provider != PROTOCOL:
        return error_page("Something went wrong. client_key: the client key is invalid.")
    redirect_uri = fields.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return error_page("Something went wrong. redirect_uri: the redirect URI is not registered.")
    state = fields.get("state", "")
    if fields.get("response_type") != "code":
        return redirect_error(
            redirect_uri, "unsupported_response_type", "response_type must be code.", state
        )
    requested = split_scopes(fields.get("scope", ""))
    known = set(c.profile(PROTOCOL).get("known_scopes", requested))
    unknown = [s for s in requested if s not in known]
    if not requested or unknown:
        text = f"Invalid scope: {','.join(unknown)}." if unknown else "Scope is required."
        return redirect_error(redirect_uri, "invalid_scope", text, state)
    challenge = fields.get("code_challenge") or None
    method = fields.get("code_challenge_method") or None
    if challenge and method != "S256":
        return redirect_error(
            redirect_uri, "invalid_request", "code_challenge_method must be S256.", state
        )
    if request.method == "GET":
        return consent_page(app, fields, requested)
    action = fields.get("action")
    if action == "cancel":
        description = str(c.profile(PROTOCOL).get("cancel_error_description", "access_denied"))
        return redirect_error(redirect_uri, "access_denied", description, state)
    if action != "approve":
        return error_page("Something went wrong. action must be approve or cancel.")
    try:
        code = c.approve(
            app.client_id,
            fields.get("account_id", ""),
            redirect_uri,
            requested=requested,
            granted=granted,
            code_challenge=challenge,
            code_challenge_method=method if challenge else None,
        )
    except (NotFound, InvalidRequest) as err:
        return error_page(f"Something went wrong. {err}")
    grant = c.grant(app.client_id, code.account_id)
    scopes = [s for s in requested if grant is not None and s in grant.granted]
    query = {"code": code.value, "scopes": ",".join(scopes)}
    if state:
        query["state"] = state
    return found(with_query(redirect_uri, query))


def consent_page(app: App, fields: dict[str, Any], requested: list[str]) -> Response:
    return page(
        "tiktok_authorize.html",
        app=app,
        action=request.path,
        hidden={k: fields.get(k, "") for k in HIDDEN},
        accounts=listed_accounts(PROTOCOL),
        scopes=requested,
    )


def client_of(params: dict[str, str]) -> App:
    """The app named by ``client_key``, authenticated by ``client_secret``."""
    if not params.get("client_key") or not params.get("client_secret"):
        raise OAuthError("invalid_request", e.MALFORMED)
    app = core().app(params["client_key"])
    if app is None or app.provider != PROTOCOL:
        raise OAuthError("invalid_client", e.CLIENT_KEY)
    if params["client_secret"] != app.client_secret:
        raise OAuthError("invalid_client", e.CLIENT_SECRET)
    return app


def token(params: dict[str, str]) -> Response:
    """``POST /v2/oauth/token/``: ``authorization_code`` and ``refresh_token`` grants."""
    grant_type = params.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", e.MALFORMED)
    app = client_of(params)
    c = core()
    if grant_type == "authorization_code":
        if not params.get("code") or not params.get("redirect_uri"):
            raise OAuthError("invalid_request", e.MALFORMED)
        try:
            pair = c.issue_from_code(
                params["code"],
                client_id=app.client_id,
                redirect_uri=params["redirect_uri"],
                code_verifier=params.get("code_verifier") or None,
            )
        except CodeRejected as err:
            used = str(c.profile(PROTOCOL).get("used_code_description", e.CODE_USED))
            raise e.code_rejected(err.problem, used) from None
        return token_answer(pair)
    if grant_type == "refresh_token":
        if not params.get("refresh_token"):
            raise OAuthError("invalid_request", e.MALFORMED)
        try:
            pair = c.refresh(params["refresh_token"], client_id=app.client_id)
        except RefreshRejected as err:
            raise e.refresh_rejected(err.reason) from None
        return token_answer(pair)
    raise OAuthError("unsupported_grant_type", e.GRANT_TYPE)


def token_answer(pair: TokenPair) -> Response:
    """TikTok's token body. Lifetimes are counted from the instant of issue (a fresh
    token answers ``expires_in: 86400`` even if the clock ticked meanwhile)."""
    access: Token = pair.access

    def seconds(token: Token) -> int | None:
        if token.expires_at is None:
            return None
        return max(0, int((token.expires_at - access.issued_at).total_seconds()))

    out: dict[str, Any] = {
        "open_id": open_id(access.client_id, access.account_id),
        "scope": ",".join(access.scopes),
        "access_token": access.value,
        "expires_in": seconds(access),
    }
    if pair.refresh is not None:
        out["refresh_token"] = pair.refresh.value
        out["refresh_expires_in"] = seconds(pair.refresh)
    out["token_type"] = "Bearer"
    return json_response(out, log=new_log_id())


def revoke(params: dict[str, str]) -> Response:
    """``POST /v2/oauth/revoke/``: the whole authorization ends; ``{}`` on success.

    A token the fake never issued, or one already dead, is answered ``{}`` too (RFC 7009:
    nothing left to revoke); another app's token is ``unauthorized_client``.
    """
    app = client_of(params)
    value = params.get("token")
    if not value:
        raise OAuthError("invalid_request", e.MALFORMED)
    try:
        core().revoke(value, client_id=app.client_id)
    except TokenRejected:
        pass
    except InvalidRequest:
        raise OAuthError("unauthorized_client", e.NOT_YOUR_TOKEN) from None
    return json_response({}, log=new_log_id())
