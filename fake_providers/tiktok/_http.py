"""The thin HTTP layer shared by the TikTok routes: the core, parameters, responses, pages.

The consent page is rendered by ``fake_providers._templates.render`` on the calling task
(never Quart's ``render_template``: it uses a worker thread, and a thread lets a
simulation's virtual clock jump mid-request). TikTok's templates live in this package.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Response, current_app, request

from .._consent import found as found  # re-exported for the package's modules
from .._current import core
from .._templates import render as render_template
from ._errors import ApiError, OAuthError, log_id

PROTOCOL = "tiktok"
JSON_TYPE = "application/json; charset=utf-8"


def state(key: str, factory: type) -> Any:
    """Per-app state of the TikTok fake that is not the core's (rate-limit windows…)."""
    return current_app.config.setdefault(f"TIKTOK_{key}", factory())


def new_log_id() -> str:
    c = core()
    return log_id(c.now(), c.ids.noise)


async def form() -> dict[str, str]:
    """Form fields of a POST (first value each), overlaid on the query string."""
    out = {k: v for k, v in request.args.items()}
    if request.method == "POST":
        out.update({k: v for k, v in (await request.form).items()})
    return out


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def json_response(data: Any, status: int = 200, *, log: str | None = None) -> Response:
    """JSON as TikTok writes it (compact), with its ``x-tt-logid`` header."""
    response = Response(
        json.dumps(data, separators=(",", ":")), status=status, content_type=JSON_TYPE
    )
    response.headers["Cache-Control"] = "no-store"
    if log:
        response.headers["x-tt-logid"] = log
    return response


def api_error(err: ApiError) -> Response:
    log = new_log_id()
    return json_response(err.body(log), err.status, log=log)


def oauth_error(err: OAuthError) -> Response:
    log = new_log_id()
    status = int(core().profile(PROTOCOL).get("oauth_error_status", 400))
    return json_response(err.body(log), status, log=log)


def page(name: str, status: int = 200, **context: Any) -> Response:
    html = render_template(name, **context)
    return Response(html, status=status, content_type="text/html; charset=utf-8")
