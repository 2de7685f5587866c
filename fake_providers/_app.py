"""One QuartTrio app for every fake provider and the control API.

A real URL ``https://HOST/PATH`` is served at ``/HOST/PATH``. A request whose ``Host``
header names a provider host (from the profiles' ``hosts``) and whose path does not
already start with that host is rewritten to ``/HOST/PATH`` by a small ASGI wrapper,
so a client pointed at the fakes through a hosts entry or a proxy works unchanged.

No exception escapes as a bare 500: Graph paths answer Facebook's own error shape,
the control API its ``{"error": {...}}`` shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from . import _control, facebook
from .core import Core
from .facebook import _errors as fb_errors
from .facebook._http import error_response

ASGIApp = Callable[..., Awaitable[None]]


def _host_of(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"host":
            return value.decode("latin-1").rsplit(":", 1)[0].lower() if value else None
    return None


def host_routing(asgi_app: ASGIApp, hosts: set[str]) -> ASGIApp:
    """Wrap ``asgi_app`` so ``Host: graph.facebook.com`` + ``/v21.0/me`` reaches
    ``/graph.facebook.com/v21.0/me``."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = _host_of(scope)
            path = scope["path"]
            if host in hosts and not (path == f"/{host}" or path.startswith(f"/{host}/")):
                scope = {**scope, "path": f"/{host}{path}"}
                if scope.get("raw_path"):
                    scope["raw_path"] = f"/{host}".encode() + scope["raw_path"]
        await asgi_app(scope, receive, send)

    return app


def _is_graph(path: str) -> bool:
    return path.startswith(f"/{facebook.GRAPH}/") or path == f"/{facebook.GRAPH}"


def create_app(core: Core) -> QuartTrio:
    """The ASGI app serving every provider blueprint and the control API over ``core``."""
    app = QuartTrio("fake_providers", template_folder=None)
    app.config["CONNTRACK_CORE"] = core
    app.register_blueprint(facebook.blueprint())
    app.register_blueprint(_control.blueprint())
    hosts = {h.lower() for p in core.profiles.values() for h in p.hosts}
    app.asgi_app = host_routing(app.asgi_app, hosts)  # type: ignore[method-assign,assignment]

    @app.errorhandler(HTTPException)
    async def _http_error(err: HTTPException) -> Response:
        path = request.path
        status = err.code or 400
        if _is_graph(path):
            if status == 404:
                rest = path.removeprefix(f"/{facebook.GRAPH}") or "/"
                return facebook.graph_not_found(rest)
            return error_response(fb_errors.GraphError(status, err.description or "", 100))
        return _control.control_error(status, err.description or err.name or "error")

    @app.errorhandler(Exception)
    async def _unexpected(err: Exception) -> Response:
        if _is_graph(request.path):
            return error_response(fb_errors.unknown_error())
        return _control.control_error(500, f"internal error: {type(err).__name__}: {err}")

    return app
