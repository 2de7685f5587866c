"""The fake LinkedIn: OAuth on ``www.linkedin.com``, the API on ``api.linkedin.com``,
both served at ``/{host}/…``.

See PROVIDERS.md §3 for the behaviour reproduced. Routes live in ``_authorize`` (the
sign-in and consent page), ``_token`` (``accessToken``, ``introspectToken``,
``revoke``) and ``_api`` (``/v2/userinfo``, ``/v2/me``, ``/rest/posts``); the error
bodies in ``_errors``. Errors no route answered (an unknown path, a wrong method, an
unexpected exception) get LinkedIn's shapes through the registry's hooks.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from .._faults import outage_page, rest_of
from .._registry import register
from ..core import Fault, FaultKind
from . import _errors as e
from ._api import dispatch
from ._authorize import authorization
from ._errors import ApiError, OAuthError
from ._http import API, WWW, api_response, error_page, oauth_response
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
    ``temporarily_unavailable`` and the sign-in pages a 503 page."""
    outage = fault.kind is FaultKind.OUTAGE
    if _under(path, API):
        return api_response(e.service_unavailable() if outage else e.day_limit())
    if not outage or not _under(path, WWW):
        return None
    parts = rest_of(path, WWW)
    if len(parts) == 3 and parts[:2] == ["oauth", "v2"] and parts[2] in TOKEN_ENDPOINTS:
        return oauth_response(e.oauth_unavailable())
    return outage_page("LinkedIn")


register("linkedin", blueprint, http_error=http_error, unexpected=unexpected, fault=fault)
