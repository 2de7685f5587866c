"""The thin HTTP layer of the Google routes: parameters, Bearer tokens, JSON and HTML.

Google's servers pretty-print JSON with two-space indents (``{\\n  "access_token": …``);
the fake does the same. Parameters come from the query string and, on POST, the form
(Google's token endpoint takes both). HTML pages come from this package's own
``templates`` folder through ``fake_providers._templates.render`` (no worker thread).
"""

from __future__ import annotations

import json
from typing import Any

from quart import Response, request

from .._current import core as core  # re-exported for the package's modules
from .._templates import render as render  # re-exported
from ._errors import ApiError, OAuthError

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
NO_STORE = "no-cache, no-store, max-age=0, must-revalidate"


def html(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type=HTML_TYPE)


async def params() -> dict[str, str]:
    """Query parameters overlaid with form fields on POST (first value of each)."""
    out = {k: v for k, v in request.args.items()}
    if request.method == "POST":
        form = await request.form
        out.update({k: v for k, v in form.items()})
    return out


def bearer() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(dumps(data), status=status, content_type=JSON_TYPE)
    response.headers["Cache-Control"] = NO_STORE
    response.headers["Pragma"] = "no-cache"
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def error_response(err: OAuthError | ApiError) -> Response:
    return json_response(err.body(), err.status, err.headers)
