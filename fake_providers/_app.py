"""One QuartTrio app for every fake provider and the control API.

A real URL ``https://HOST/PATH`` is served at ``/HOST/PATH``. A request whose ``Host``
header names a provider host (from every profile's ``hosts``) and whose path does not
already start with that host is rewritten to ``/HOST/PATH`` by a small ASGI wrapper,
so a client pointed at the fakes through a hosts entry or a proxy works unchanged.

Provider blueprints come from the registry (``_registry``): every provider package
present registers itself. Before any route runs, a request on a provider host is checked
against that provider's active faults (``_faults``): during an outage or a rate limit
the provider's fault hook answers instead of the route. No exception escapes as a bare
500: a provider's error hooks answer for its own paths (Facebook's Graph error shape, …),
the control API its ``{"error": {...}}`` shape for everything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from inspect import CO_COROUTINE
from types import FunctionType
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from . import _control, _security, _ui
from ._body import whole_body
from ._current import BUILT, forget_world_state, this_request
from ._current import core as current_core
from ._enabled import HINT_SETTING, disabled_hosts, disabled_protocols, not_enabled_answer
from ._faults import fault_answer, hosts_by_protocol
from ._registry import load_providers
from .core import Core

ASGIApp = Callable[..., Awaitable[None]]
_SHAPE = "CONNTRACK_SHAPE"
#: The config keys the app was built with; any other was stored by a request (a
#: provider's rate-limit windows, Google's nonces, LinkedIn's day counts): the world's.


class FakesApp(QuartTrio):
    """The fakes' QuartTrio app, which tells a coroutine function by its code's flags,
    without a Python call, at every request.

    Quart's ``ensure_async`` asks ``inspect.iscoroutinefunction`` of every before- and
    after-request hook and of the view, at every request: seven times a ``GET /me``, about
    1 % of the server's CPU under wrk (issue 15). For a plain function that is its
    code's ``CO_COROUTINE`` flag, which is read here directly (no cache: nothing is kept
    alive, not even a function made for one request such as an ``after_this_request``
    callback); anything else (a sync function, a method, a partial) goes through Quart
    as before."""

    def ensure_async(self, func: Any) -> Any:
        if type(func) is FunctionType and func.__code__.co_flags & CO_COROUTINE:
            return func
        return super().ensure_async(func)


def app_shape(core: Core) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """What an app's routes and hooks are built for: each protocol ``core`` serves, with
    its hosts. Two cores of the same shape can share one app (:func:`reuse_app`)."""
    return tuple(sorted((p, tuple(sorted(v.hosts))) for p, v in core.profiles.items()))


def reuse_app(app: QuartTrio, core: Core) -> QuartTrio:
    """Put ``core`` behind ``app`` (made by :func:`create_app` for another core that
    serves the same providers on the same hosts) and answer ``app``.

    Building an app compiles every provider's routes (tens of milliseconds); a test
    session that wants a fresh world for every test builds the app once and swaps the
    core (``conntrack.testing``). A core that serves other providers or hosts needs its
    own app: ``ValueError``. What the former world's requests stored on the app (rate
    limits, nonces, call counts) is dropped with its core, so nothing of one world shows
    in the next. Requests under way when the core is swapped may see either.
    """
    if app.config.get(_SHAPE) != app_shape(core):
        raise ValueError("this app was built for other providers or hosts: create_app(core)")
    forget_world_state(app)
    app.config["CONNTRACK_CORE"] = core
    return app


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


def create_app(
    core: Core,
    *,
    allow_hosts: Iterable[str] | None = None,
    control_token: str | None = None,
    enable_hint: str | None = None,
) -> QuartTrio:
    """The ASGI app serving every registered provider blueprint and the control API.

    ``allow_hosts`` (``conntrack serve``): answer only these ``Host`` names besides the
    loopback names and the provider hosts (``None``: any, as in process);
    ``control_token``: what the control API and the index page need (``_security``);
    ``enable_hint``: how the 404 of a provider not served says to serve it (``{providers}``:
    the list with it; default: restart ``conntrack serve --providers …``)."""
    app = FakesApp("fake_providers", template_folder=None)
    app.config["CONNTRACK_CORE"] = core
    app.config[HINT_SETTING] = enable_hint
    every_host = {h.lower() for p in core.profiles.values() for h in p.hosts}
    every_host |= set(disabled_hosts(core))
    # First of the before-request hooks: Host, Origin, control token, JSON, CSRF.
    _security.install(
        app, allow_hosts=allow_hosts, provider_hosts=every_host, control_token=control_token
    )
    # Only the providers the core serves (``enabled``); the hosts of the others answer
    # a 404 that says so (``_enabled``).
    off_protocols = disabled_protocols(core)
    providers = {p: v for p, v in load_providers(core.profiles).items() if p not in off_protocols}
    for protocol in sorted(providers):
        app.register_blueprint(providers[protocol].blueprint())
    app.register_blueprint(_control.blueprint())
    app.register_blueprint(_ui.blueprint())  # the index page, its forms, and / → it
    off = disabled_hosts(core)
    hosts = {h.lower() for p in core.profiles.values() for h in p.hosts} | set(off)
    app.asgi_app = host_routing(app.asgi_app, hosts)  # type: ignore[method-assign,assignment]
    # Outermost: every answer comes after the whole request body (keep-alive, ``_body``).
    app.asgi_app = whole_body(app.asgi_app, app.config)  # type: ignore[method-assign,assignment]
    ordered = [providers[p] for p in sorted(providers)]
    by_host = hosts_by_protocol(core)

    app.config[_SHAPE] = app_shape(core)

    # The core is looked up per request, never captured: ``reuse_app`` may put another
    # one behind the same app.
    if off:  # a hook only where some provider is not served (one call less a request)

        @app.before_request
        async def _not_enabled() -> Response | None:
            return not_enabled_answer(current_core(), off, request.path)

    @app.before_request
    async def _faulted() -> Response | None:
        return await fault_answer(current_core(), providers, by_host, this_request().path)

    @app.errorhandler(HTTPException)
    async def _http_error(err: HTTPException) -> Response:
        path = request.path
        status = err.code or 400
        for provider in ordered:
            if provider.http_error is not None:
                answer = await provider.http_error(path, status, err.description or "")
                if answer is not None:
                    return answer
        return _control.control_error(status, err.description or err.name or "error")

    @app.after_request
    async def _allow(response: Response) -> Response:
        # A 405 says which methods the route takes (RFC 9110 §15.5.6), whichever error
        # hook shaped its body.
        if response.status_code != 405:
            return response
        err = this_request().routing_exception
        if isinstance(err, MethodNotAllowed):
            response.headers["Allow"] = ", ".join(sorted(err.valid_methods or ()))
        return response

    @app.errorhandler(Exception)
    async def _unexpected(err: Exception) -> Response:
        for provider in ordered:
            if provider.unexpected is not None:
                answer = await provider.unexpected(request.path, err)
                if answer is not None:
                    return answer
        return _control.control_error(500, f"internal error: {type(err).__name__}: {err}")

    app.config[BUILT] = frozenset([*app.config, BUILT])
    return app
