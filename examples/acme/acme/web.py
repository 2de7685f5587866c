"""acme's HTTP side: the OAuth callbacks, a health route, a tiny dashboard, and the
product test protocol under ``/_test`` (conntrack's harness drives it).

Test protocol routes (JSON): ``POST /_test/clock``, ``PUT /_test/company``,
``POST /_test/connections/{name}/login``, ``DELETE /_test/connections/{name}``,
``GET /_test/connections``. The OAuth callback is ``GET /oauth/{protocol}/callback``:
it answers 200 when acme took the login, 400 with ``{"error": why}`` when it refused.
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import timedelta
from typing import Any

from quart import Quart, Response, jsonify, request

from .engine import ClockError, Engine, LoginError
from .mail import Mailer
from .providers import providers
from .providers.base import Context
from .settings import Settings, SettingsError, iso, parse_duration, parse_instant
from .store import Store, User

log = logging.getLogger("acme")
TEST = "/_test"


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


async def _json() -> dict[str, Any]:
    data = await request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def create_app(settings: Settings) -> Quart:
    app = Quart("acme")
    store = Store(settings.db_path)
    ctx = Context(settings)
    engine = Engine(settings, store, providers(ctx), Mailer(settings, store))
    lock = asyncio.Lock()  # one protocol call at a time: the clock is shared state

    @app.after_serving
    async def _close() -> None:
        await ctx.aclose()
        store.close()

    @app.get("/health")
    async def health() -> Response:
        return jsonify({"ok": True, "now": iso(engine.now())})

    @app.get("/")
    async def dashboard() -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(c['name']))}</td><td>{html.escape(str(c['state']))}</td>"
            f"<td>{html.escape(str(c['banner'] or ''))}</td></tr>"
            for c in engine.dashboard()
        )
        return f"<h1>Acme connections</h1><table>{rows}</table>"

    @app.get("/oauth/<protocol>/callback")
    async def callback(protocol: str) -> Response:
        async with lock:
            ok, detail = await engine.finish_login(protocol, dict(request.args))
        if not ok:
            log.info("login refused: %s", detail)
            return _error(400, detail)
        return jsonify({"ok": True, "detail": detail})

    @app.post(f"{TEST}/clock")
    async def clock() -> Response:
        try:
            now = parse_instant(str((await _json())["now"]))
        except (KeyError, ValueError) as e:
            return _error(400, f"expected {{'now': ISO instant}}: {e}")
        async with lock:
            try:
                upcoming = await engine.advance(now)
            except ClockError as e:
                return _error(409, str(e))
        return jsonify({"now": iso(engine.now()), "next": iso(upcoming)})

    @app.put(f"{TEST}/company")
    async def company() -> Response:
        try:
            data = await _json()
            users = [
                User(str(u["id"]), str(u["name"]), str(u["email"]), bool(u.get("opt_out")))
                for u in data.get("users") or []
            ]
            timezone = str(data.get("timezone") or "UTC")
        except (KeyError, TypeError, ValueError) as e:
            return _error(400, f"expected {{'timezone', 'users': [{{id, name, email}}]}}: {e}")
        async with lock:
            try:
                engine.set_company(timezone, users)
            except (ValueError, KeyError) as e:
                return _error(400, f"unknown time zone {timezone!r}: {e}")
        return jsonify({"users": len(users), "timezone": timezone})

    @app.post(f"{TEST}/connections/<name>/login")
    async def login(name: str) -> Response:
        try:
            data = await _json()
            every = data.get("sync_every")
            sync_every: timedelta | None = None
            if isinstance(every, int | float) and not isinstance(every, bool):
                sync_every = timedelta(seconds=every)
            elif isinstance(every, str) and every:
                sync_every = parse_duration(every)
            args = (str(data["provider"]), str(data.get("kind") or "owned"), str(data["user"]))
            action = str(data.get("action") or "add")
        except (KeyError, ValueError, SettingsError) as e:
            return _error(400, f"expected {{'provider', 'kind', 'user', 'action'}}: {e}")
        async with lock:
            try:
                url = engine.begin_login(name, *args, action, sync_every)
            except LoginError as e:
                return _error(400, str(e))
        return jsonify({"authorize_url": url})

    @app.delete(f"{TEST}/connections/<name>")
    async def disconnect(name: str) -> Response:
        data = await request.get_json(force=True, silent=True) or {}
        async with lock:
            found = engine.disconnect(name, str(data.get("user") or ""))
        if not found:
            return _error(404, f"no connection named {name!r}")
        return jsonify({"disconnected": name})

    @app.get(f"{TEST}/connections")
    async def connections() -> Response:
        async with lock:
            return jsonify(engine.dashboard())

    return app
