"""The fake Instagram (Instagram API with Instagram Login): the authorization window on
``www.instagram.com`` (and ``api.instagram.com``), the code exchange on
``api.instagram.com``, long-lived tokens, their refresh and the Graph nodes on
``graph.instagram.com`` (optional ``vNN.N``).

See PROVIDERS.md §2a. Routes: ``_oauth`` (authorize, code exchange, ``ig_exchange_token``,
``ig_refresh_token``), ``_graph`` (``me``, media, publishing), ``_content`` (the media
edges, shared with the Instagram nodes of the Facebook fake, §2b), ``_errors`` (the two
error envelopes).
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from .._faults import fault_reason, outage_page, rest_of, status_page
from .._registry import register
from ..core import Fault, FaultKind
from ..facebook import dead_token, status_error
from ..facebook._errors import GraphError, unknown_error
from ..facebook._http import error_response, params, split_path
from ._errors import (
    CODE_NOT_FOUND,
    InstagramOAuthError,
    app_rate_limit,
    oauth_unavailable,
    service_unavailable,
)
from ._graph import dispatch
from ._oauth import authorize, code_exchange, exchange, refresh

WWW = "www.instagram.com"
API = "api.instagram.com"
GRAPH = "graph.instagram.com"

__all__ = ["API", "GRAPH", "WWW", "blueprint"]


def blueprint() -> Blueprint:
    """A fresh blueprint (one per app)."""
    bp = Blueprint("instagram", __name__)

    @bp.route(f"/{WWW}/oauth/authorize", methods=["GET", "POST"])
    @bp.route(f"/{WWW}/oauth/authorize/", methods=["GET", "POST"])
    @bp.route(f"/{API}/oauth/authorize", methods=["GET", "POST"])
    @bp.route(f"/{API}/oauth/authorize/", methods=["GET", "POST"])
    async def window() -> Response:
        return await authorize()

    @bp.route(f"/{API}/oauth/access_token", methods=["POST"])
    async def access_token() -> Response:
        try:
            return await code_exchange()
        except InstagramOAuthError as err:
            return err.response()

    @bp.route(f"/{GRAPH}/", defaults={"rest": ""}, methods=["GET", "POST", "DELETE"])
    @bp.route(f"/{GRAPH}/<path:rest>", methods=["GET", "POST", "DELETE"])
    async def graph(rest: str) -> Response:
        parts = split_path(rest)
        try:
            query = await params()
            if parts == ["access_token"] and request.method == "GET":
                return exchange(query)
            if parts == ["refresh_access_token"] and request.method == "GET":
                return refresh(query)
            return await dispatch(request.method, parts, query)
        except GraphError as err:
            return error_response(err)

    return bp


def _under(path: str, host: str) -> bool:
    return path == f"/{host}" or path.startswith(f"/{host}/")


async def http_error(path: str, status: int, description: str) -> Response | None:
    """Instagram-shaped answers for HTTP errors no route answered on its hosts."""
    if _under(path, GRAPH):
        if status == 404:
            rest = path.removeprefix(f"/{GRAPH}") or "/"
            return error_response(GraphError(400, f"Unknown path components: {rest}", 2500))
        return error_response(GraphError(status, description, 100))
    if _under(path, API) or _under(path, WWW):
        message = "Unsupported request" if status == 405 else "Page not found"
        return InstagramOAuthError(message, 400 if status == 405 else 404).response()
    return None


async def unexpected(path: str, err: Exception) -> Response | None:
    if _under(path, GRAPH):
        return error_response(unknown_error())
    if _under(path, API) or _under(path, WWW):
        return InstagramOAuthError("An unknown error has occurred.", 500).response()
    return None


#: ``graph.instagram.com`` paths that are token endpoints, not data.
TOKEN_PATHS = (["access_token"], ["refresh_access_token"])


async def fault(path: str, fault: Fault) -> Response | None:
    """Instagram during a fault: the Graph's code 2 (HTTP 500) or ``(#4)`` (HTTP 403)
    as on Facebook; ``api.instagram.com``'s code exchange a 500 in its own envelope in
    an outage; the authorization window a 503 page. Rate limits spare the token
    endpoints (the code exchange, ``access_token``, ``refresh_access_token``). An
    ``error`` fault answers the Graph's 190 for its reason (the exchange and refresh
    endpoints too), and on the code exchange the answer to a code that no longer works;
    a ``status`` fault the Graph envelope or the code exchange's envelope with that
    status, and a plain page on the authorization window."""
    window = _under(path, WWW) or (
        _under(path, API) and rest_of(path, API)[:2] == ["oauth", "authorize"]
    )
    if fault.kind is FaultKind.STATUS:
        assert fault.status is not None
        if window:
            return status_page("Instagram", fault.status)
        if _under(path, GRAPH):
            return error_response(status_error(fault.status))
        if _under(path, API):
            message = status_error(fault.status).message
            return InstagramOAuthError(message, fault.status).response()
        return None
    if fault.kind is FaultKind.ERROR:
        if _under(path, GRAPH):
            return error_response(dead_token(fault_reason(fault), "instagram"))
        if _under(path, API) and not window:
            return InstagramOAuthError(CODE_NOT_FOUND).response()
        return None
    outage = fault.kind is FaultKind.OUTAGE
    if _under(path, GRAPH):
        if outage:
            return error_response(service_unavailable())
        if split_path(path.removeprefix(f"/{GRAPH}")) in TOKEN_PATHS:
            return None
        return error_response(app_rate_limit())
    if not outage:
        return None
    if window:
        return outage_page("Instagram")
    if _under(path, API):
        return oauth_unavailable().response()
    return None


register("instagram", blueprint, http_error=http_error, unexpected=unexpected, fault=fault)
