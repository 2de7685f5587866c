"""The fake Facebook: Login dialog on ``www.facebook.com``, Graph API on
``graph.facebook.com``, both served at ``/{host}/…`` with an optional ``vNN.N``.

See PROVIDERS.md §1 for the behaviour reproduced; the routes live in ``_oauth`` (the
dialog and ``/oauth/access_token``) and ``_graph`` (nodes and ``debug_token``), the
error bodies in ``_errors``.
"""

from __future__ import annotations

from quart import Blueprint, Response

from .._current import core, this_request
from .._faults import fault_reason, outage_page, status_page, under
from .._registry import register
from ..core import Fault, FaultKind, Reason
from . import _errors as e
from ._errors import GraphError, app_rate_limit, service_unavailable, unknown_error, unknown_path
from ._graph import dispatch
from ._http import error_response, params, split_path
from ._oauth import access_token, dialog, page_error

WWW = "www.facebook.com"
GRAPH = "graph.facebook.com"

__all__ = [
    "GRAPH",
    "WWW",
    "GraphError",
    "blueprint",
    "dead_token",
    "graph_not_found",
    "status_error",
]


def blueprint() -> Blueprint:
    """A fresh blueprint (one per app, so several apps can live in one process)."""
    bp = Blueprint("facebook", __name__)

    @bp.route(f"/{WWW}/", defaults={"rest": ""}, methods=["GET", "POST"])
    @bp.route(f"/{WWW}/<path:rest>", methods=["GET", "POST"])
    async def www(rest: str) -> Response:
        parts = split_path(rest)
        if parts == ["dialog", "oauth"]:
            return await dialog()
        return await page_error("Page not found", "This page isn't available.", 404)

    @bp.route(f"/{GRAPH}/", defaults={"rest": ""}, methods=["GET", "POST", "DELETE"])
    @bp.route(f"/{GRAPH}/<path:rest>", methods=["GET", "POST", "DELETE"])
    async def graph(rest: str) -> Response:
        parts = split_path(rest)
        try:
            query = await params()
            method = this_request().method
            if parts == ["oauth", "access_token"] and method in ("GET", "POST"):
                return access_token(query)
            return await dispatch(method, parts, query)
        except GraphError as err:
            return error_response(err)

    return bp


def graph_not_found(path: str) -> Response:
    """A Graph-shaped answer for a path no route matched."""
    return error_response(unknown_path(path))


def _is_graph(path: str) -> bool:
    return path.startswith(f"/{GRAPH}/") or path == f"/{GRAPH}"


async def http_error(path: str, status: int, description: str) -> Response | None:
    """Graph-shaped answers for HTTP errors no route answered (404, 405) on the Graph."""
    if not _is_graph(path):
        return None
    if status == 404:
        return graph_not_found(path.removeprefix(f"/{GRAPH}") or "/")
    return error_response(GraphError(status, description, 100))


async def unexpected(path: str, err: Exception) -> Response | None:
    """Facebook's "unknown error" for an unexpected exception on the Graph."""
    return error_response(unknown_error()) if _is_graph(path) else None


#: Graph paths that are OAuth token endpoints, not data: a rate limit spares them.
TOKEN_PATHS = (["oauth", "access_token"], ["debug_token"])


async def fault(path: str, fault: Fault) -> Response | None:
    """Facebook during a fault: the Graph answers code 2 (HTTP 500) in an outage and
    ``(#4)`` (HTTP 403, ``X-App-Usage``) in a rate limit, except on its token
    endpoints; the Login dialog shows a 503 page in an outage. An ``error`` fault
    answers the 190 error of a token dead for its reason on every Graph path (the
    token endpoints included: they answer 190 for a dead token too); a ``status``
    fault the Graph envelope with that status (:func:`status_error`), and a plain page
    on the dialog."""
    if fault.kind is FaultKind.STATUS:
        assert fault.status is not None
        if under(path, WWW):
            return status_page("Facebook", fault.status)
        return error_response(status_error(fault.status)) if under(path, GRAPH) else None
    if fault.kind is FaultKind.ERROR:
        return error_response(dead_token(fault_reason(fault))) if under(path, GRAPH) else None
    outage = fault.kind is FaultKind.OUTAGE
    if under(path, WWW):
        return outage_page("Facebook") if outage else None
    if not under(path, GRAPH):
        return None
    if outage:
        return error_response(service_unavailable())
    if split_path(path.removeprefix(f"/{GRAPH}")) in TOKEN_PATHS:
        return None
    return error_response(app_rate_limit())


def dead_token(reason: Reason, protocol: str = "facebook") -> GraphError:
    """The Graph's 190 error for a token dead for ``reason`` just now (an ``error``
    fault: no token at hand, so the app is unnamed and the expiry is now)."""
    c = core()
    now = c.now()
    tz = str(c.profile(protocol).get("message_timezone", "America/Los_Angeles"))
    return e.token_error(reason, e.token_message(reason, since=now, now=now, tz=tz))


def status_error(status: int) -> GraphError:
    """[U] The Graph's generic error with any status: a 5xx is the outage's code 2
    (``is_transient``), anything else the unknown error's code 1."""
    if status >= 500:
        return GraphError(status, e.SERVICE_ERROR, 2, is_transient=True)
    return GraphError(status, e.UNKNOWN_ERROR, 1)


register("facebook", blueprint, http_error=http_error, unexpected=unexpected, fault=fault)
