"""Serve any :class:`Product` over the product test protocol (QuartTrio on hypercorn).

``conntrack reference-product`` serves :class:`~._model.ModelProduct` this way, so the
world can run the whole library against conntrack's own model through the same
protocol and SMTP path an outside product uses. The routes, under ``prefix``
(the product file's ``base`` path, ``/_conntrack_test`` by default):

- ``POST {prefix}/clock`` ``{"now"}`` → ``{"now", "next"}`` (409 if ``now`` is earlier)
- ``PUT {prefix}/company`` ``{"timezone", "users": [...]}`` → 204
- ``POST {prefix}/connections/{name}/login`` ``{"provider", "kind", "user", "action"}``
  → ``{"authorize_url"}``
- ``DELETE {prefix}/connections/{name}`` ``{"user"}`` → 204 (404 for an unknown one)
- ``GET {prefix}/connections`` → ``[{"name", "state", "reason", "banner", "settings",
  "last_synced_at", "state_since"}]``

and, outside the protocol, the product's own OAuth redirect URI
``GET /oauth/{protocol}/callback`` and ``GET /health``. Every error is JSON
``{"error": "what, and how to fix it"}``. Calls are served one at a time (a lock): the
product's clock and actors are not meant for concurrent calls.

Every web page in the developer's browser is taken as hostile, as ``conntrack serve``
takes it (DESIGN.md, "Security of the servers"); :func:`refusal` decides, before any
route runs:

- **Host allow-list**: a ``Host`` naming neither an IP address, nor ``localhost`` /
  ``*.localhost``, nor a name given in ``allow_hosts`` (the name the server was bound
  to), is refused with 421: a page that points its own name at this address (DNS
  rebinding) would otherwise read every answer. The authority of an absolute-form
  target (``GET http://host/…``) must be allowed too.
- **Origin**: a request whose ``Origin`` is not the server's own (``null`` included), or
  a browser's request marked ``Sec-Fetch-Site: cross-site`` / ``same-site`` that is not
  a top-level ``GET`` navigation, is refused with 403. The protocol's clients (the
  harness) are no browser and send neither header.
- **JSON only**: a body sent to a route (``POST``, ``PUT``, ``PATCH``, ``DELETE``) must
  be ``application/json``, else 415: ``text/plain`` and forms are what a page may post
  without a CORS preflight.
- The OAuth callback is the provider page's top-level redirect (a browser navigation
  from another site): only the ``Host`` rule applies to it, as to a consent page of
  ``conntrack serve``. Its ``state`` is what ties it to a login this product began.
- Every answer says ``X-Frame-Options: DENY``, ``frame-ancestors 'none'`` and
  ``X-Content-Type-Options: nosniff``.

The host and origin parsing is :mod:`conntrack._hosts`, shared with ``conntrack
serve``'s fakes (not imported from ``fake_providers``: the reference product stands
where an outside product stands, and does not load the fakes).
"""

from __future__ import annotations

import json
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve
from quart import Response, jsonify, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .._durations import format_instant, parse_duration, parse_instant
from .._exceptions import ConntrackError
from .._hosts import local_name, loopback, same_origin, split_host
from .._wholebody import whole_body
from ..clients import AppCredentials
from ._interface import Company, CompanyUser, ConnectionView, Product, ProductError
from ._model import DEFAULT_SYNC_EVERY, ClockBackwards, ModelProduct, UnknownConnection

DEFAULT_PREFIX = "/_conntrack_test"
log = logging.getLogger("conntrack.product")


class BadRequest(Exception):
    """A request body the protocol does not allow (400)."""


def view_json(view: ConnectionView) -> dict[str, Any]:
    """A connection as ``GET {base}/connections`` answers it."""
    return {
        "name": view.name,
        "state": view.state,
        "reason": view.reason,
        "banner": view.banner or None,
        "settings": view.settings or None,
        "last_synced_at": _instant(view.last_synced_at),
        "state_since": _instant(view.state_since),
    }


def _instant(at: datetime | None) -> str | None:
    return format_instant(at) if at else None


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


async def _body(*required: str) -> dict[str, Any]:
    try:  # refusal() let only a JSON Content-Type (or no body at all) through
        data = await request.get_json(silent=True)
    except RecursionError:  # [[[[...]]]] nested past Python's stack
        data = None
    if not isinstance(data, dict):
        raise BadRequest(f"{request.method} {request.path}: the body must be a JSON object")
    missing = [k for k in required if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise BadRequest(
            f"{request.method} {request.path}: missing or empty {', '.join(missing)} "
            f"(a string each)"
        )
    return data


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What every answer says: never framed (clickjacking), never sniffed as another type.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def host_allowed(name: str, allowed: frozenset[str] = frozenset()) -> bool:
    """Whether the server answers for the ``Host`` name: a local one
    (:func:`~conntrack._hosts.local_name`) or one of ``allowed``."""
    return name in allowed or local_name(name)


def refusal(
    method: str,
    headers: Mapping[str, str],
    *,
    navigation: bool = False,
    allowed: frozenset[str] = frozenset(),
    target: str = "",
) -> tuple[int, str] | None:
    """Why a request is refused (status, message), or None to serve it (the module
    docstring's rules). ``headers``: the request's, names in any case; ``navigation``:
    the route is a browser's top-level destination (the OAuth callback), which only
    the ``Host`` rule concerns; ``target``: the request target as sent (its authority,
    when absolute-form, is a host the request names, RFC 9112 §3.2.2)."""
    headers = {k.lower(): v for k, v in headers.items()}
    host = headers.get("host")
    named = [] if host is None else [host]
    if target.startswith(("http://", "https://")):
        named.append(urlsplit(target).netloc.rpartition("@")[2])
    for value in named:
        name, _ = split_host(value)
        if not host_allowed(name, allowed):
            return 421, (
                f"this product does not answer for the host {name or value!r} (so that a web page "
                "that points its own name at this address cannot use it): reach it as "
                "127.0.0.1 or localhost"
            )
    if navigation:
        return None
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, host):
        return 403, (
            f"a request from another origin ({origin}) is refused: the protocol answers "
            "clients that are no browser (no Origin header)"
        )
    site = headers.get("sec-fetch-site", "").lower()
    top_level = method in SAFE_METHODS and headers.get("sec-fetch-mode") == "navigate"
    if site in ("cross-site", "same-site") and not top_level:
        return 403, f"a request from another site (Sec-Fetch-Site: {site}) is refused"
    if method not in BODY_METHODS:
        return None
    kind = headers.get("content-type")
    if kind is None:
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if not chunked and headers.get("content-length", "0").strip() in ("", "0"):
            return None  # no body at all: the route says what it misses
    media = (kind or "").split(";")[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return None
    return 415, (
        "this route takes a JSON body sent as Content-Type: application/json, not "
        f"{media or 'a body without a Content-Type'}"
    )


def _company(data: dict[str, Any]) -> Company:
    users = data.get("users")
    if not isinstance(users, list):
        raise BadRequest("PUT company: 'users' must be a list of {id, name, email, opt_out}")
    out = []
    for i, u in enumerate(users):
        if not isinstance(u, dict) or not all(isinstance(u.get(k), str) for k in ("id", "email")):
            raise BadRequest(f"PUT company: users[{i}] needs an 'id' and an 'email' (strings)")
        out.append(
            CompanyUser(
                str(u["id"]), str(u.get("name") or u["id"]), u["email"], bool(u.get("opt_out"))
            )
        )
    return Company(str(data["timezone"]), tuple(out))


def create_app(
    product: Product, prefix: str = DEFAULT_PREFIX, *, allow_hosts: Iterable[str] = ()
) -> QuartTrio:
    """The protocol's routes over ``product``, guarded by :func:`refusal`; the server
    also answers for the ``Host`` names in ``allow_hosts``."""
    app = QuartTrio(__name__)
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    lock = trio.Lock()
    allowed = frozenset(split_host(h)[0] for h in allow_hosts) - {""}  # "": no host

    @app.before_request
    async def guard() -> Response | None:
        why = refusal(
            request.method,
            dict(request.headers.items()),
            navigation=request.endpoint == "oauth_callback",
            allowed=allowed,
            target=request.scope.get("path", ""),
        )
        return None if why is None else _error(*why)

    @app.errorhandler(HTTPException)
    async def http_error(e: HTTPException) -> Response:
        # Quart's own answers (an unknown path, a method a route does not take) are HTML
        # pages; every error of the protocol is JSON ``{"error": ...}`` (openapi.json).
        where = f"{request.method} {request.path}"
        if isinstance(e, MethodNotAllowed) and e.valid_methods:
            message = f"{where}: method not allowed; this route takes {', '.join(e.valid_methods)}"
        elif e.code == 404:
            message = f"{where}: no such route"
        else:
            message = f"{where}: {e.description or e.name}"
        response = _error(e.code or 500, message)
        for name, value in e.get_headers():
            if name.lower() != "content-type":  # Allow on a 405
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    async def unexpected(e: Exception) -> Response:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return _error(500, f"internal error: {type(e).__name__}: {e}")

    @app.after_request
    async def headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def call(fn: Callable[[], Awaitable[Response]]) -> Response:
        try:
            async with lock:
                return await fn()
        except BadRequest as e:
            return _error(400, str(e))
        except ClockBackwards as e:
            return _error(409, str(e))
        except UnknownConnection as e:
            return _error(404, str(e))
        except ProductError as e:
            if isinstance(e, ValueError):  # the request asked what cannot be (BadLogin)
                return _error(400, str(e))
            log.warning("product error: %s", e)
            return _error(500, str(e))

    @app.post(f"{prefix}/clock")
    async def clock() -> Response:
        async def run() -> Response:
            data = await _body("now")
            try:
                now = parse_instant(data["now"])
            except ValueError as e:
                raise BadRequest(f"POST clock: 'now' must be an ISO instant: {e}") from None
            nxt = await product.advance(now)
            return jsonify({"now": format_instant(now), "next": _instant(nxt)})

        return await call(run)

    @app.put(f"{prefix}/company")
    async def company() -> Response:
        async def run() -> Response:
            await product.set_company(_company(await _body("timezone")))
            return Response("", status=204)

        return await call(run)

    @app.post(f"{prefix}/connections/<name>/login")
    async def login(name: str) -> Response:
        async def run() -> Response:
            data = await _body("provider", "kind", "user", "action")
            url = await product.login(
                name,
                provider=data["provider"],
                kind=data["kind"],
                user=data["user"],
                action=data["action"],
            )
            return jsonify({"authorize_url": url})

        return await call(run)

    @app.delete(f"{prefix}/connections/<name>")
    async def disconnect(name: str) -> Response:
        async def run() -> Response:
            data = await _body("user")
            await product.disconnect(name, user=data["user"])
            return Response("", status=204)

        return await call(run)

    @app.get(f"{prefix}/connections")
    async def connections() -> Response:
        async def run() -> Response:
            return jsonify([view_json(v) for v in await product.connections()])

        return await call(run)

    @app.get("/oauth/<protocol>/callback")
    async def oauth_callback(protocol: str) -> Response:
        async def run() -> Response:
            outcome = await product.callback(str(request.url))
            if outcome.ok:
                return Response(f"connected: {outcome.detail}", status=200, mimetype="text/plain")
            return _error(outcome.status if outcome.status >= 400 else 400, outcome.detail)

        return await call(run)

    @app.get("/health")
    async def health() -> Response:
        return jsonify({"ok": True})

    # Outermost: every answer (a refusal, a 404, a 405 too) comes after the whole
    # request body, so a keep-alive connection serves the next request (issue 11).
    app.asgi_app = whole_body(app.asgi_app, app.config)  # type: ignore[method-assign,assignment]
    return app


async def serve_product(
    product: Product,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    prefix: str = DEFAULT_PREFIX,
    allow_hosts: Iterable[str] = (),
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``product`` until cancelled; reports the bound URLs through ``task_status``.
    The ``Host`` names it answers: loopback names, IP addresses, ``allow_hosts`` and
    ``host`` itself when it is a name."""
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = log
    app = create_app(product, prefix, allow_hosts=(host, *allow_hosts))
    await hypercorn_serve(app, config, task_status=task_status)


def beyond_loopback(host: str) -> str:
    """The warning for a reference product bound to ``host``, beyond loopback."""
    return (
        f"warning: the reference product listens on {host}, beyond loopback, and has no "
        "control token: whoever reaches this address can drive it (move its clock, "
        "start logins, disconnect connections); leave --host at 127.0.0.1 unless "
        "another machine must reach it"
    )


def run_reference_product(host: str = "127.0.0.1", port: int | None = None) -> int:
    """``conntrack reference-product``: :class:`~._model.ModelProduct` built from the
    ``CONNTRACK_*`` environment, served until SIGINT or SIGTERM. The port is ``port``,
    else ``CONNTRACK_PRODUCT_PORT``; a ready line names the base URL once it listens.
    Raises :class:`~conntrack.InputError` for a bad environment (exit 2)."""
    import signal
    import sys
    from functools import partial

    from .._exceptions import InputError

    if not loopback(host):  # said first, whatever stops it later
        print(f"conntrack: {beyond_loopback(host)}", file=sys.stderr, flush=True)
    if port is None:
        text = os.environ.get("CONNTRACK_PRODUCT_PORT", "")
        if not text.isdigit():
            raise InputError(
                f"give --port or set CONNTRACK_PRODUCT_PORT (the harness sets it), got {text!r}"
            )
        port = int(text)
    if not 0 <= port <= 65535:
        raise InputError(f"the port must be between 0 and 65535, got {port}")
    try:
        product = model_from_env()
    except ConntrackError as e:
        raise InputError(f"reference-product: {e}") from None

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with product.running(), trio.open_nursery() as nursery:
                binds = await nursery.start(partial(serve_product, product, host, port))
                print(
                    f"conntrack: reference product ready: {binds[0]}{DEFAULT_PREFIX}",
                    flush=True,
                )
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break
        print("conntrack: reference product stopped", file=sys.stderr, flush=True)

    try:
        trio.run(main)
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return 0


def model_from_env(env: Mapping[str, str] | None = None, **kwargs: Any) -> ModelProduct:
    """A :class:`~._model.ModelProduct` built from the ``CONNTRACK_*`` variables the
    harness sets (see the spec): ``CONNTRACK_FAKES_URL``, ``CONNTRACK_APPS``, ``CONNTRACK_START``,
    ``CONNTRACK_SMTP_HOST``/``PORT``, ``CONNTRACK_CA_FILE``; and, for this product
    only, ``CONNTRACK_SYNC_EVERY`` (a duration, or JSON ``{connection: duration}``;
    default 6h). Raises :class:`ConntrackError` naming a missing or bad variable."""
    env = os.environ if env is None else env

    def need(name: str) -> str:
        value = env.get(name)
        if not value:
            raise ConntrackError(f"{name} is not set: the harness sets it for the product")
        return value

    try:
        raw_apps = json.loads(need("CONNTRACK_APPS"))
        apps = {
            str(p): AppCredentials(
                str(a["client_id"]), str(a["client_secret"]), str(a["redirect_uri"])
            )
            for p, a in raw_apps.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConntrackError(
            "CONNTRACK_APPS must be JSON {protocol: {client_id, client_secret, "
            f"redirect_uri}}: {e}"
        ) from None
    try:
        start = parse_instant(need("CONNTRACK_START"))
    except ValueError as e:
        raise ConntrackError(f"CONNTRACK_START: {e}") from None
    smtp = None
    if env.get("CONNTRACK_SMTP_HOST"):
        try:
            smtp = (env["CONNTRACK_SMTP_HOST"], int(need("CONNTRACK_SMTP_PORT")))
        except ValueError:
            raise ConntrackError("CONNTRACK_SMTP_PORT must be a port number") from None
    verify: ssl.SSLContext | bool = True
    if env.get("CONNTRACK_CA_FILE"):
        verify = ssl.create_default_context(cafile=env["CONNTRACK_CA_FILE"])
    kwargs.setdefault("sync_every", sync_every_of(env.get("CONNTRACK_SYNC_EVERY", "")))
    return ModelProduct(
        fakes_url=need("CONNTRACK_FAKES_URL"),
        apps=apps,
        start=start,
        smtp=smtp,
        verify=verify,
        **kwargs,
    )


def sync_every_of(text: str) -> timedelta | dict[str, timedelta]:
    """``CONNTRACK_SYNC_EVERY``: one duration (``6h``), or JSON ``{connection: duration}``;
    empty: the default (6h)."""
    text = text.strip()
    if not text:
        return DEFAULT_SYNC_EVERY
    try:
        if text.startswith("{"):
            return {str(k): parse_duration(v) for k, v in json.loads(text).items()}
        return parse_duration(text)
    except (ValueError, TypeError, AttributeError) as e:
        raise ConntrackError(
            f"CONNTRACK_SYNC_EVERY must be a duration like 6h or JSON {{connection: "
            f"duration}}, got {text!r}: {e}"
        ) from None
