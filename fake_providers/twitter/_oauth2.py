"""OAuth 2.0 with PKCE: the consent page, ``/2/oauth2/token`` and ``/2/oauth2/revoke``.

The consent page (``/i/oauth2/authorize`` on ``x.com`` or ``twitter.com``) checks the
app and its redirect URI before anything else: a bad request gets X's "Something went
wrong" page, never a redirect to a URI nobody registered. PKCE is required (profile
``pkce``). Approval redirects with ``state`` then ``code``, as X does; a cancel with
``error=access_denied`` and the ``state``.

The token endpoint authenticates the client by the profile's ``client_type``:
confidential apps must send HTTP Basic ``client_id:client_secret`` (X's 401
``unauthorized_client`` "Missing valid authorization header" otherwise), public apps
send ``client_id`` in the body. Codes and refresh tokens that do not work — unknown,
spent, expired, rotated out, revoked, killed by an account event — all answer X's one
400 ``invalid_request`` body for their kind.
"""

from __future__ import annotations

from typing import Any

from quart import Response, request

from .. import _consent as shared
from .._consent import listed_accounts, submission
from .._templates import render
from ..core import (
    Account,
    App,
    CodeRejected,
    InvalidRequest,
    NotFound,
    RefreshRejected,
    TokenKind,
    TokenPair,
    TokenRejected,
)
from . import _errors as e
from ._errors import OAuth2Error
from ._http import basic_auth, core, json_response, params

PROTOCOL = "twitter"
HIDDEN = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
#: X's page for an authorization request it will not serve.
WENT_WRONG = (
    "Something went wrong",
    "You weren't able to give access to the App. Go back and try logging in again.",
)


def username(account: Account) -> str:
    """The account's @handle: its name without spaces or punctuation, at most 15 chars."""
    handle = "".join(ch for ch in account.name if ch.isalnum() and ch.isascii())
    return (handle or f"user{account.id[-6:]}")[:15]


async def page_error(title: str, message: str, status: int = 400) -> Response:
    html = render("twitter_error.html", title=title, message=message)
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def found(uri: str, query: dict[str, str]) -> Response:
    return shared.found(shared.with_query(uri, query))


def split_scopes(text: str) -> list[str]:
    return [s for s in text.split(core().profile(PROTOCOL).scope_separator) if s]


async def authorize() -> Response:
    """GET shows the consent page; POST takes the person's answer."""
    fields, granted = await submission()
    c = core()
    app = c.app(fields.get("client_id", ""))
    redirect_uri = fields.get("redirect_uri", "")
    if app is None or app.provider != PROTOCOL or redirect_uri not in app.redirect_uris:
        return await page_error(*WENT_WRONG)
    if fields.get("response_type") != "code":
        return await page_error(*WENT_WRONG)
    pkce = str(c.profile(PROTOCOL).get("pkce", "optional"))
    method = fields.get("code_challenge_method") or None
    if (pkce == "required" and not fields.get("code_challenge")) or method not in (
        None,
        "S256",
        "plain",
        "s256",
    ):
        return await page_error(*WENT_WRONG)
    requested = split_scopes(fields.get("scope", ""))
    if request.method == "GET":
        return consent_page(app, fields, requested)
    state = fields.get("state", "")
    action = fields.get("action")
    if action == "cancel":
        return found(redirect_uri, {"error": "access_denied", "state": state})
    if action != "approve":
        return await page_error(*WENT_WRONG)
    try:
        code = c.approve(
            app.client_id,
            fields.get("account_id", ""),
            redirect_uri,
            requested=requested,
            granted=granted,
            code_challenge=fields.get("code_challenge") or None,
            code_challenge_method="S256" if method == "s256" else method,
        )
    except (NotFound, InvalidRequest):
        return await page_error(*WENT_WRONG)
    return found(redirect_uri, {"state": state, "code": code.value})


def consent_page(app: App, fields: dict[str, Any], requested: list[str]) -> Response:
    html = render(
        "twitter_consent.html",
        app=app,
        action=request.path,
        hidden={k: fields.get(k, "") for k in HIDDEN},
        accounts=listed_accounts(PROTOCOL),
        scopes=requested,
        username=username,
    )
    return Response(html, status=200, content_type="text/html; charset=utf-8")


# -- the token endpoint -------------------------------------------------------------------


def client_of(form: dict[str, str]) -> App:
    """The app a token or revoke request authenticates as (see the module docstring)."""
    c = core()
    basic = basic_auth()
    client_type = str(c.profile(PROTOCOL).get("client_type", "confidential"))
    if basic is not None:
        app = c.app(basic[0])
        if app is None or app.provider != PROTOCOL or app.client_secret != basic[1]:
            raise e.unauthorized_client()
        body_id = form.get("client_id")
        if body_id is not None and body_id != app.client_id:
            raise e.unauthorized_client()
        return app
    client_id = form.get("client_id")
    if not client_id:
        raise e.missing("client_id")
    app = c.app(client_id)
    if app is None or app.provider != PROTOCOL:
        raise OAuth2Error(400, "invalid_client")  # [U] X's description is not known
    if client_type != "public":
        raise e.unauthorized_client()
    return app


async def token() -> Response:
    form = await params()
    grant_type = form.get("grant_type")
    if not grant_type:
        raise e.missing("grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise OAuth2Error(400, "invalid_request", "Value passed for the grant_type was invalid.")
    app = client_of(form)
    c = core()
    if grant_type == "refresh_token":
        value = form.get("refresh_token")
        if not value:
            raise e.missing("refresh_token")
        try:
            pair = c.refresh(value, client_id=app.client_id)
        except RefreshRejected:
            raise OAuth2Error(400, "invalid_request", e.TOKEN_INVALID) from None
        return token_answer(pair)
    for name in ("code", "redirect_uri", "code_verifier"):
        if not form.get(name):
            raise e.missing(name)
    try:
        pair = c.issue_from_code(
            form["code"],
            client_id=app.client_id,
            redirect_uri=form["redirect_uri"],
            code_verifier=form["code_verifier"],
        )
    except CodeRejected:
        raise OAuth2Error(400, "invalid_request", e.CODE_INVALID) from None
    return token_answer(pair)


def token_answer(pair: TokenPair) -> Response:
    c = core()
    access = pair.access
    out: dict[str, Any] = {"token_type": "bearer"}
    if access.expires_at is not None:
        out["expires_in"] = int((access.expires_at - access.issued_at).total_seconds())
    out["access_token"] = access.value
    out["scope"] = c.profile(PROTOCOL).scope_separator.join(access.scopes)
    if pair.refresh is not None:
        out["refresh_token"] = pair.refresh.value
    return json_response(out)


async def revoke() -> Response:
    """``{"revoked":true}``; a token never issued also answers it (RFC 7009)."""
    form = await params()
    app = client_of(form)
    value = form.get("token")
    if not value:
        raise e.missing("token")
    known = core().token(value, provider=PROTOCOL)
    if known is None or known.kind in (TokenKind.REQUEST, TokenKind.OAUTH1):
        return json_response({"revoked": True})
    try:
        core().revoke(value, client_id=app.client_id)
    except (TokenRejected, InvalidRequest):
        raise OAuth2Error(400, "invalid_request", e.TOKEN_INVALID) from None
    return json_response({"revoked": True})
