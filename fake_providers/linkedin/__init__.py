"""The fake LinkedIn: OAuth on ``www.linkedin.com``, the API on ``api.linkedin.com``,
both served at ``/{host}/…``.

See PROVIDERS.md §3 for the behaviour reproduced. Routes live in ``_authorize`` (the
sign-in and consent page), ``_token`` (``accessToken``, ``introspectToken``,
``revoke``), ``_oidc`` (the OpenID discovery document, the JWKS, the ``id_token``),
``_api`` (``/v2/userinfo``, ``/v2/me``, ``/v2/emailAddress``, ``/rest/me``,
``/rest/posts``), ``_acls``
(``organizationAcls?q=roleAssignee``) and ``_organizations`` (``organizations/{id}``),
both routed by ``_api``; the error bodies in
``_errors``. Errors no route answered (an unknown path, a wrong method, an
unexpected exception) get LinkedIn's shapes through the registry's hooks.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from .._faults import fault_reason, outage_page, phrase, rest_of, status_page
from .._registry import register
from ..core import Fault, FaultKind
from . import _errors as e
from ._api import dispatch
from ._authorize import authorization
from ._errors import ApiError, OAuthError
from ._http import API, WWW, api_response, error_page, oauth_response
from ._oidc import DISCOVERY, JWKS, discovery, jwks
from ._token import access_token, introspect, revoke

__all__ = ["API", "WWW", "ApiError", "OAuthError", "blueprint"]

#: ``/oauth/v2/<name>`` endpoints that answer JSON, and their methods.
TOKEN_ENDPOINTS = {"accessToken": access_token, "introspectToken": introspect, "revoke": revoke}


def blueprint() -> Blueprint:
    """A fresh blueprint (one per app, so several apps can live in one process)."""
    bp = Blueprint("linkedin", __name__)

    @bp.route(f"/{WWW}/", defaults={"rest": ""}, methods=["GET", "POST"])
    @bp.route(f"/{WWW}/<path:rest>", methods=["GET", "POST"])
    async def www(rest: str) -> Response:
        parts = [p for p in rest.split("/") if p]
        if parts == ["oauth", "v2", "authorization"]:
            return await authorization()
        if parts in (DISCOVERY, JWKS):
            if request.method != "GET":
                return error_page("This page doesn't exist", 405)
            return discovery() if parts == DISCOVERY else jwks()
        if len(parts) == 3 and parts[:2] == ["oauth", "v2"] and parts[2] in TOKEN_ENDPOINTS:
            if request.method != "POST":
                return oauth_response(OAuthError(405, "invalid_request", "Method not allowed"))
            try:
                return await TOKEN_ENDPOINTS[parts[2]]()
            except OAuthError as err:
                return oauth_response(err)
        return error_page("This page doesn't exist", 404)

    @bp.route(f"/{API}/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "DELETE"])
    @bp.route(f"/{API}/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
    async def api(rest: str) -> Response:
        try:
            return await dispatch(request.method, [p for p in rest.split("/") if p])
        except ApiError as err:
            return api_response(err)

    return bp


def _under(path: str, host: str) -> bool:
    return path == f"/{host}" or path.startswith(f"/{host}/")


async def http_error(path: str, status: int, description: str) -> Response | None:
    """LinkedIn-shaped answers for HTTP errors no route answered on its hosts."""
    if _under(path, API):
        if status == 404:
            return api_response(e.no_resource())
        if status == 405:
            return api_response(e.method_not_allowed(request.method))
        return api_response(e.api_error(status, "BAD_REQUEST", description or "Bad request"))
    if _under(path, WWW):
        return error_page(description or "Something went wrong", status)
    return None


async def unexpected(path: str, err: Exception) -> Response | None:
    """LinkedIn's 500 for an unexpected exception on its hosts."""
    if _under(path, API):
        return api_response(e.internal_error())
    if _under(path, WWW):
        return error_page("Something went wrong", 500)
    return None


async def fault(path: str, fault: Fault) -> Response | None:
    """LinkedIn during a fault: the API answers 503 (outage) or 429 (the application
    throttle) in its envelope; in an outage the OAuth endpoints answer 503
    ``temporarily_unavailable`` and the sign-in pages a 503 page. An ``error`` fault
    answers the API's 401 for its reason (65600 invalid, 65601 revoked — also after a
    password change — 65602 expired) and, on the OAuth endpoints, the refused grant
    (400 ``invalid_request``); a ``status`` fault each envelope with that status
    (:func:`status_errors`) and a plain page on the sign-in pages."""
    parts = rest_of(path, WWW) if _under(path, WWW) else []
    oauth = len(parts) == 3 and parts[:2] == ["oauth", "v2"] and parts[2] in TOKEN_ENDPOINTS
    if fault.kind is FaultKind.STATUS:
        assert fault.status is not None
        api, token = status_errors(fault.status)
        if _under(path, API):
            return api_response(api)
        if oauth:
            return oauth_response(token)
        return status_page("LinkedIn", fault.status) if _under(path, WWW) else None
    if fault.kind is FaultKind.ERROR:
        if _under(path, API):
            return api_response(e.token_error(fault_reason(fault)))
        return oauth_response(e.refresh_rejected()) if oauth else None
    outage = fault.kind is FaultKind.OUTAGE
    if _under(path, API):
        return api_response(e.service_unavailable() if outage else e.day_limit())
    if not outage or not _under(path, WWW):
        return None
    if oauth:
        return oauth_response(e.oauth_unavailable())
    return outage_page("LinkedIn")


def status_errors(status: int) -> tuple[ApiError, OAuthError]:
    """[U] LinkedIn's generic answers with any status: the API's envelope (``code``
    the reason phrase in capitals, as in its 503 and 500) and the OAuth endpoints'
    RFC 6749 body (``server_error`` or ``invalid_request``)."""
    name = phrase(status)
    api = e.api_error(status, name.upper().replace(" ", "_").replace("-", "_"), name)
    error = "server_error" if status >= 500 else "invalid_request"
    return api, OAuthError(status, error, name)


register("linkedin", blueprint, http_error=http_error, unexpected=unexpected, fault=fault)
