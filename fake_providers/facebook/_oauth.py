"""Facebook Login: the OAuth dialog (a real consent page) and ``/oauth/access_token``.

The dialog validates ``client_id`` and ``redirect_uri`` before anything else: an
unknown app or an unregistered redirect URI gets an HTML error page (never a redirect
to a URI nobody registered). The consent form posts back to the same path; approval
records the grant (declined scopes too) and redirects with a single-use code, a cancel
redirects with Facebook's ``access_denied`` parameters. Both append ``#_=_`` as
Facebook does.

A permission the person declined for the app (or took back since) is not asked again
unless the dialog URL carries ``auth_type=rerequest`` (Facebook Login for the Web,
"Re-asking for Declined Permissions"; the profile's ``reask_auth_types``): approving
leaves it declined whatever the form posts, so ``denied_scopes``, ``/me/permissions``
and the new token say so. The fake's page cannot know who is logged in before the
person chooses an account, so it names, for each account, what is held back. Once the
app is removed the grant is forgotten and everything is asked again. This holds for
every profile on this dialog: Facebook Pages and Instagram through Facebook Login.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Response, request

from .. import _consent as shared
from .._consent import found, listed_accounts, submission
from .._templates import render
from ..core import App, CodeProblem, CodeRejected, InvalidRequest, NotFound, Reason, TokenRejected
from . import _errors as e
from ._errors import GraphError
from ._graph import rejected
from ._http import core, json_response

HIDDEN = ("client_id", "redirect_uri", "state", "scope", "response_type", "auth_type")
#: Dialog parameters carried through the consent form only when the app sent them.
OPTIONAL_HIDDEN = ("return_scopes",)


async def page_error(title: str, message: str, status: int = 400) -> Response:
    html = render("facebook_error.html", title=title, message=message)
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def with_query(uri: str, query: dict[str, str]) -> str:
    """``uri`` with ``query`` appended and Facebook's ``#_=_`` fragment."""
    return shared.with_query(uri, query, fragment="_=_")


#: Facebook documents a comma-separated ``scope`` but takes spaces too (the OAuth 2.0
#: separator most client libraries send), and any mix of the two.
SCOPE_SEPARATORS = re.compile(r"[,\s]+")


def split_scopes(text: str) -> list[str]:
    """The permissions in a dialog's ``scope``: split on commas, spaces, or both.

    The profile's ``scope_separator`` (a comma) is what conntrack's own client sends; a
    client following RFC 6749 sends spaces (``email public_profile``), and Facebook reads
    that as two permissions, not one. Repeats are kept once, in their first place.
    """
    sep = re.escape(core().profile("facebook").scope_separator)
    parts = re.split(rf"{SCOPE_SEPARATORS.pattern}|{sep}", text)
    return list(dict.fromkeys(p for p in parts if p))


async def dialog() -> Response:
    """GET shows the login and consent page; POST takes the user's answer."""
    fields, granted = await submission()
    c = core()
    app = c.app(fields.get("client_id", ""))
    if app is None or app.provider != "facebook":
        return await page_error(
            "Invalid App ID", "The provided app ID does not look like a valid app ID."
        )
    redirect_uri = fields.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return await page_error(
            "URL blocked",
            "This redirect failed because the redirect URI is not whitelisted in the app's "
            "Client OAuth Settings.",
        )
    response_type = fields.get("response_type") or "code"
    if response_type != "code":
        return await page_error("Unsupported response type", f"response_type={response_type}")
    requested = split_scopes(fields.get("scope", ""))
    auth_type = fields.get("auth_type") or None
    if request.method == "GET":
        return await consent_page(app, fields, requested)
    state = fields.get("state", "")
    action = fields.get("action")
    if action == "cancel":
        query = {
            "error": "access_denied",
            "error_code": "200",
            "error_description": "Permissions error",
            "error_reason": "user_denied",
        }
        if state:
            query["state"] = state
        return found(with_query(redirect_uri, query))
    if action != "approve":
        return await page_error("Bad request", "action must be approve or cancel")
    held = held_back(app.client_id, fields.get("account_id", ""), auth_type)
    try:
        code = c.approve(
            app.client_id,
            fields.get("account_id", ""),
            redirect_uri,
            requested=requested,
            granted=[s for s in granted if s not in held],
            auth_type=auth_type,
        )
    except (NotFound, InvalidRequest) as err:
        return await page_error("Bad request", str(err))
    query = {"code": code.value}
    if fields.get("return_scopes", "").lower() == "true":
        query.update(returned_scopes(app.client_id, fields.get("account_id", "")))
    if state:
        query["state"] = state
    return found(with_query(redirect_uri, query))


def held_back(client_id: str, account_id: str, auth_type: str | None) -> list[str]:
    """The permissions this login does not ask again: those the account declined (or
    took back) for the app, unless ``auth_type`` is one that re-asks them (profile
    ``reask_auth_types``, ``rerequest``). None once the app was removed (its grant is
    inactive): the next login is a first login again."""
    if auth_type in core().profile("facebook").get("reask_auth_types", ["rerequest"]):
        return []
    grant = core().grant(client_id, account_id)
    if grant is None or not grant.active:
        return []
    return list(grant.declined)


def returned_scopes(client_id: str, account_id: str) -> dict[str, str]:
    """``return_scopes=true``: the permissions the person has granted the app (all of
    them, earlier logins included) as ``granted_scopes``, and the declined ones as
    ``denied_scopes``, comma-separated, beside the code.

    [obs] social-core sends ``return_scopes=true`` and reads both from the redirect
    (python-social-auth#818, social-core 4e83280); a real login logged in
    social-core#277 stored ``granted_scopes`` as a list and ``denied_scopes`` as null
    when nothing was declined, so ``denied_scopes`` is left out when empty [U].
    """
    grant = core().grant(client_id, account_id)
    if grant is None:
        return {}
    out = {"granted_scopes": ",".join(grant.granted)}
    if grant.declined:
        out["denied_scopes"] = ",".join(grant.declined)
    return out


async def consent_page(app: App, fields: dict[str, Any], requested: list[str]) -> Response:
    accounts = listed_accounts("facebook")
    auth_type = fields.get("auth_type") or None
    held = {
        f"{a.name} ({a.id})": [
            s for s in held_back(app.client_id, a.id, auth_type) if s in requested
        ]
        for a in accounts
    }
    html = render(
        "facebook_dialog.html",
        app=app,
        action=request.path,
        hidden={
            **{k: fields.get(k, "") for k in HIDDEN},
            **{k: fields[k] for k in OPTIONAL_HIDDEN if fields.get(k)},
        },
        accounts=accounts,
        scopes=requested,
        held={name: scopes for name, scopes in held.items() if scopes},
    )
    return Response(html, status=200, content_type="text/html; charset=utf-8")


def access_token(params: dict[str, str]) -> Response:
    """``/oauth/access_token``: code exchange, ``fb_exchange_token``, app tokens."""
    c = core()
    if not params.get("client_id"):
        raise GraphError(400, e.MISSING_CLIENT_ID, 101)
    app = c.app(params["client_id"])
    if app is None or app.provider != "facebook":
        raise e.code_error(e.APP_ID, code=101)
    grant_type = params.get("grant_type")
    if params.get("client_secret") != app.client_secret:
        raise e.code_error(e.CLIENT_SECRET, code=1)
    if grant_type == "client_credentials":
        return json_response(
            {"access_token": f"{app.client_id}|{app.client_secret}", "token_type": "bearer"}
        )
    if grant_type == "fb_exchange_token":
        return exchange(params, app)
    if grant_type not in (None, "", "authorization_code"):
        raise e.code_error(
            f"Invalid grant_type: '{grant_type}'. Supported types: authorization_code, "
            "client_credentials"
        )
    try:
        token = c.exchange_code(
            params.get("code", ""),
            client_id=app.client_id,
            redirect_uri=params.get("redirect_uri", ""),
        )
    except CodeRejected as err:
        raise code_rejected(err.problem) from None
    return token_answer(token.expires_at, token.issued_at, token.value)


def code_rejected(problem: CodeProblem) -> GraphError:
    if problem is CodeProblem.USED:
        return e.code_error(e.CODE_USED, subcode=36009)
    if problem is CodeProblem.EXPIRED:
        subcode = int(core().profile("facebook").get("expired_code_subcode", 36007))
        return e.code_error(e.CODE_EXPIRED, subcode=subcode)
    if problem is CodeProblem.REDIRECT_MISMATCH:
        return e.code_error(e.REDIRECT_MISMATCH)
    return e.code_error(e.CODE_FORMAT)


def exchange(params: dict[str, str], app: App) -> Response:
    value = params.get("fb_exchange_token", "")
    try:
        token = core().exchange_long_lived(value, client_id=app.client_id)
    except TokenRejected as err:
        raise rejected(err.check) from None
    except InvalidRequest:
        raise e.token_error(Reason.MALFORMED, e.MALFORMED) from None
    return token_answer(token.expires_at, token.issued_at, token.value)


def token_answer(expires_at: Any, issued_at: Any, value: str) -> Response:
    out: dict[str, Any] = {"access_token": value, "token_type": "bearer"}
    if expires_at is not None:
        out["expires_in"] = int((expires_at - issued_at).total_seconds())
    return json_response(out)
