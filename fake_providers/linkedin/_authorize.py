"""``/oauth/v2/authorization``: LinkedIn's sign-in and consent page.

The request is checked in LinkedIn's order: an unknown ``client_id`` or an unregistered
``redirect_uri`` gets an HTML error page (never a redirect to a URI nobody registered);
then the scopes: one scope the app is not authorized for rejects the whole request
with a redirect carrying ``error=unauthorized_scope_error`` [obs]. Which scopes an app is
authorized for is profile data, ``app_scopes`` (the products added to the app; the
core's apps carry no scopes).

The page posts back to the same path. ``approve`` records the grant (unticked scopes as
declined) and redirects with a single-use code; ``cancel`` redirects with
``user_cancelled_authorize`` and ``cancel_login`` with ``user_cancelled_login``. No
``#_=_`` fragment: that is Facebook's.
"""

from __future__ import annotations

from typing import Any

from quart import Response, request

from .._consent import error_redirect as redirect_error
from .._consent import listed_accounts, submission, with_query
from ..core import App, InvalidRequest, NotFound
from . import _errors as e
from ._http import PROTOCOL, core, error_page, found, html

HIDDEN = ("response_type", "client_id", "redirect_uri", "state", "scope")


def split_scopes(text: str) -> list[str]:
    """Scopes as LinkedIn reads them: space-separated (commas tolerated)."""
    return [s for s in text.replace(",", " ").split() if s]


async def authorization() -> Response:
    """GET shows the page; POST takes the member's answer."""
    fields, granted = await submission()
    c = core()
    app = c.app(fields.get("client_id", ""))
    if app is None or app.provider != PROTOCOL:
        return error_page("The passed in client_id is invalid")
    redirect_uri = fields.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return error_page("The redirect_uri does not match the registered value")
    if fields.get("response_type") != "code":
        return error_page("The response_type must be code")
    state = fields.get("state", "")
    requested = split_scopes(fields.get("scope", ""))
    profile = c.profile(PROTOCOL)
    allowed = set(profile.get("app_scopes", profile.get("default_scopes", [])))
    for scope in requested:
        if scope not in allowed:
            html_quotes = profile.get("scope_error_html_quotes", True) is not False
            description = e.scope_not_authorized(scope, html_quotes=html_quotes)
            return redirect_error(redirect_uri, e.UNAUTHORIZED_SCOPE, description, state)
    if request.method == "GET":
        return consent_page(app, fields, requested)
    action = fields.get("action")
    if action == "cancel":
        return redirect_error(redirect_uri, *e.CANCELLED_AUTHORIZE, state)
    if action == "cancel_login":
        return redirect_error(redirect_uri, *e.CANCELLED_LOGIN, state)
    if action != "approve":
        return error_page("action must be approve, cancel or cancel_login")
    try:
        code = c.approve(
            app.client_id,
            fields.get("account_id", ""),
            redirect_uri,
            requested=requested,
            granted=granted,
        )
    except (NotFound, InvalidRequest) as err:
        return error_page(str(err))
    query = {"code": code.value}
    if state:
        query["state"] = state
    return found(with_query(redirect_uri, query))


def consent_page(app: App, fields: dict[str, Any], requested: list[str]) -> Response:
    return html(
        "linkedin_authorize.html",
        app=app,
        action=request.path,
        hidden={k: fields.get(k, "") for k in HIDDEN},
        accounts=listed_accounts(PROTOCOL),
        scopes=requested,
    )
