"""Instagram Login: the authorization window, the code exchange on ``api.instagram.com``,
and the long-lived token exchange and refresh on ``graph.instagram.com``.

- ``/www.instagram.com/oauth/authorize`` (also ``api.instagram.com``): the consent page;
  approval redirects with a single-use ``code`` and ``#_`` appended (PROVIDERS.md §2a),
  cancel with ``error_reason=user_denied&error=access_denied`` and
  ``error_description=The+user+denied+your+request`` (in the order of Instagram's
  documentation). An unknown app or an unregistered redirect
  URI never redirects: it answers the ``api.instagram.com`` error envelope.
- ``POST /api.instagram.com/oauth/access_token``: a code for a short-lived token (1 h),
  flat ``{access_token, user_id, permissions}`` or ``{"data": [...]}`` by the profile's
  ``code_response_shape``; errors in the ``error_type``/``error_message`` envelope.
- ``GET /graph.instagram.com/access_token?grant_type=ig_exchange_token``: long-lived.
- ``GET /graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token``: a
  long-lived token at least ``refresh_min_age`` old and not expired becomes a new one.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Response, request

from .. import _consent as shared
from .._consent import found, listed_accounts, submission
from .._templates import render
from ..core import (
    App,
    CodeProblem,
    CodeRejected,
    InvalidRequest,
    NotFound,
    Reason,
    RefreshProblem,
    RefreshRejected,
    Token,
    TokenCheck,
    TokenRejected,
)
from ..facebook import _errors as fb
from ..facebook._errors import GraphError
from ..facebook._http import core, json_response
from . import _errors as e
from ._errors import InstagramOAuthError
from ._media import username_of

PROTOCOL = "instagram"
HIDDEN = (
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "response_type",
    "enable_fb_login",
    "force_reauth",
)
#: [U] the authorization window's answers for a bad redirect URI or response type.
BAD_REDIRECT = "Invalid redirect_uri"
BAD_RESPONSE_TYPE = "Invalid response_type"
SCOPE_SPLIT = re.compile(r"[,\s]+")
#: The permissions of Instagram Login (PROVIDERS.md §2a, and Meta's insights one); the
#: profile's ``known_scopes`` replaces the list. Another one — the retired Basic Display
#: ``user_profile``/``user_media`` that libraries still send by default — stops the
#: window (:data:`INVALID_SCOPE`).
KNOWN_SCOPES = (
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_messages",
    "instagram_business_manage_comments",
    "instagram_business_manage_insights",
)
#: [obs] The window's answer to a scope Instagram Login does not have, naming the first
#: one: "Invalid Request: Request parameters are invalid: Invalid scope: user_profile"
#: (nextauthjs/next-auth#12481, pdir/social-feed-bundle#166, 2025). [U] served in the
#: api.instagram.com envelope like the window's other refusals.
INVALID_SCOPE = "Request parameters are invalid: Invalid scope: {scope}"


def split_scopes(text: str) -> list[str]:
    """Instagram takes a comma-separated (or space-separated) list."""
    return [s for s in SCOPE_SPLIT.split(text) if s]


def registered_part(redirect_uri: str, registered: tuple[str, ...]) -> str:
    """The part of a ``redirect_uri`` that must be registered: itself when registered as
    is, else the URI without its query.

    [obs] The window takes a registered URI with a query added (social-core's
    ``?redirect_state=…``) and sends the browser back to it, query and all, but the code
    remembers the URI without the query: exchanging it with the URI as sent fails as a
    redirect mismatch (django-social-auth#847, 2016; wagnerdelima/drf-social-oauth2#115,
    2022: "Instagram fails oauth2 requests with any query params"; social-core#260's
    workaround is ``REDIRECT_STATE = False``).
    """
    return redirect_uri if redirect_uri in registered else redirect_uri.split("?", 1)[0]


def with_query(uri: str, query: dict[str, str]) -> str:
    """``uri`` with ``query`` appended and Instagram's ``#_`` fragment."""
    return shared.with_query(uri, query, fragment="_")


async def authorize() -> Response:
    """GET shows the consent page; POST takes the person's answer."""
    given, granted = await submission()
    c = core()
    app = c.app(given.get("client_id", ""))
    if app is None or app.provider != PROTOCOL:
        return InstagramOAuthError(e.INVALID_APP).response()
    redirect_uri = given.get("redirect_uri", "")
    registered = registered_part(redirect_uri, app.redirect_uris)
    if registered not in app.redirect_uris:
        return InstagramOAuthError(BAD_REDIRECT).response()
    if (given.get("response_type") or "code") != "code":
        return InstagramOAuthError(BAD_RESPONSE_TYPE).response()
    requested = split_scopes(given.get("scope", ""))
    known = c.profile(PROTOCOL).get("known_scopes", KNOWN_SCOPES)
    unknown = [s for s in requested if s not in known]
    if unknown:
        return InstagramOAuthError(INVALID_SCOPE.format(scope=unknown[0])).response()
    if request.method == "GET":
        return consent_page(app, given, requested)
    state = given.get("state", "")
    action = given.get("action")
    if action == "cancel":
        query = {
            "error_reason": "user_denied",
            "error": "access_denied",
            "error_description": "The user denied your request",
        }
        if state:
            query["state"] = state
        return found(with_query(redirect_uri, query))
    if action != "approve":
        return InstagramOAuthError("action must be approve or cancel").response()
    try:
        code = c.approve(
            app.client_id,
            given.get("account_id", ""),
            registered,
            requested=requested,
            granted=granted,
        )
    except (NotFound, InvalidRequest) as err:
        return InstagramOAuthError(str(err)).response()
    query = {"code": code.value}
    if state:
        query["state"] = state
    return found(with_query(redirect_uri, query))


def consent_page(app: App, given: dict[str, Any], requested: list[str]) -> Response:
    accounts = listed_accounts(PROTOCOL)
    html = render(
        "instagram_authorize.html",
        app=app,
        action=request.path,
        hidden={k: given.get(k, "") for k in HIDDEN if given.get(k) is not None},
        accounts=accounts,
        usernames={a.id: username_of(a) for a in accounts},
        scopes=requested,
    )
    return Response(html, status=200, content_type="text/html; charset=utf-8")


# -- api.instagram.com/oauth/access_token ------------------------------------------------


async def code_exchange() -> Response:
    """``POST /oauth/access_token``: the code for a short-lived token."""
    form = await request.form
    params = {**dict(request.args.items()), **dict(form.items())}
    c = core()
    app = c.app(params.get("client_id", ""))
    if app is None or app.provider != PROTOCOL:
        raise InstagramOAuthError(e.INVALID_APP)
    if not params.get("client_secret"):
        raise InstagramOAuthError(e.NO_CLIENT_SECRET)
    if params["client_secret"] != app.client_secret:
        raise InstagramOAuthError(e.CLIENT_SECRET)
    if params.get("grant_type") != "authorization_code":
        raise InstagramOAuthError(e.GRANT_TYPE)
    if not params.get("code"):
        raise InstagramOAuthError(e.NO_CODE)
    try:
        token = c.exchange_code(
            params["code"].removesuffix("#_"),
            client_id=app.client_id,
            redirect_uri=params.get("redirect_uri", ""),
        )
    except CodeRejected as err:
        raise InstagramOAuthError(code_message(err.problem)) from None
    one: dict[str, Any] = {
        "access_token": token.value,
        "user_id": int(token.account_id),
        "permissions": ",".join(token.scopes),
    }
    shape = str(c.profile(PROTOCOL).get("code_response_shape", "flat"))
    return json_response({"data": [one]} if shape == "data" else one)


def code_message(problem: CodeProblem) -> str:
    if problem is CodeProblem.USED:
        return e.CODE_USED
    if problem is CodeProblem.REDIRECT_MISMATCH:
        return e.REDIRECT_MISMATCH
    return e.CODE_NOT_FOUND


# -- graph.instagram.com: long-lived tokens ----------------------------------------------


def token_message(check: TokenCheck) -> str:
    """The message of the 190 error for a token that does not work."""
    c = core()
    profile = c.profile(PROTOCOL)
    reason = check.reason or Reason.MALFORMED
    if reason is Reason.SUSPENDED:
        return str(profile.get("suspended_message", e.SUSPENDED))
    return fb.token_message(
        reason,
        app_id=check.token.client_id if check.token else None,
        since=check.since,
        now=c.now(),
        tz=str(profile.get("message_timezone", "America/Los_Angeles")),
    )


def rejected(check: TokenCheck) -> GraphError:
    """The Graph error for a token that does not work (the 190 family)."""
    reason = check.reason or Reason.MALFORMED
    if reason is Reason.RESTRICTED:
        return e.restricted()
    return e.token_error(reason, token_message(check))


def own_token(value: str) -> TokenCheck:
    """Check ``value`` as an Instagram token (another provider's is unparseable here)."""
    return core().check_token(value, provider=PROTOCOL)


def token_answer(token: Token) -> Response:
    """``{access_token, token_type, expires_in}``; ``expires_in`` is the lifetime given."""
    out: dict[str, Any] = {"access_token": token.value, "token_type": "bearer"}
    if token.expires_at is not None:
        out["expires_in"] = int((token.expires_at - token.issued_at).total_seconds())
    return json_response(out)


def exchange(params: dict[str, str]) -> Response:
    """``ig_exchange_token``: a short-lived token for a long-lived one (about 60 days)."""
    if params.get("grant_type") != "ig_exchange_token":
        raise grant_type_error(params.get("grant_type"), "ig_exchange_token")
    secret = params.get("client_secret")
    if not secret:
        raise fb.missing_parameter("client_secret")
    value = params.get("access_token", "")
    if not value:
        raise fb.missing_parameter("access_token")
    c = core()
    check = own_token(value)
    if check.token is None or not check.valid:
        raise rejected(check)
    app = c.app(check.token.client_id)
    if app is None or app.client_secret != secret:
        raise fb.code_error(fb.CLIENT_SECRET, code=1)
    try:
        token = c.exchange_long_lived(value, client_id=app.client_id)
    except TokenRejected as err:
        raise rejected(err.check) from None
    except InvalidRequest:
        raise e.token_error(Reason.MALFORMED, fb.MALFORMED) from None
    return token_answer(token)


def refresh(params: dict[str, str]) -> Response:
    """``ig_refresh_token``: a long-lived token, 24 h old or more, for a new one."""
    if params.get("grant_type") != "ig_refresh_token":
        raise grant_type_error(params.get("grant_type"), "ig_refresh_token")
    value = params.get("access_token", "")
    if not value:
        raise fb.missing_parameter("access_token")
    c = core()
    check = own_token(value)
    if check.token is None:
        raise rejected(check)
    try:
        token = c.refresh_self(value, provider=PROTOCOL)
    except RefreshRejected as err:
        raise refresh_error(err) from None
    return token_answer(token)


def refresh_error(err: RefreshRejected) -> GraphError:
    profile = core().profile(PROTOCOL)
    if err.reason is RefreshProblem.TOO_YOUNG:
        code = profile.get("refresh_too_young_code", 190)
        message = profile.get("refresh_too_young_message", e.TOO_YOUNG)
        return e.too_young(int(code), str(message))
    if err.reason is RefreshProblem.WRONG_KIND:
        return GraphError(400, e.NOT_LONG_LIVED, 100)
    if isinstance(err.reason, Reason) and err.check is not None:
        return rejected(err.check)
    return e.token_error(Reason.MALFORMED, fb.MALFORMED)


def grant_type_error(given: str | None, wanted: str) -> GraphError:
    """[U] an unsupported ``grant_type`` on graph.instagram.com."""
    if not given:
        return fb.missing_parameter("grant_type")
    return GraphError(400, f"Unsupported grant_type: '{given}'. Supported: {wanted}", 100)
