"""The thin HTTP layer shared by the Facebook routes: parameters, tokens, responses.

Parameters come from the query string and, for POST, the form (Facebook accepts both);
the access token from ``access_token`` or an ``Authorization: Bearer|OAuth`` header.
Responses are serialized like Facebook's (see :func:`._errors.dumps`).
"""

from __future__ import annotations

import re
from typing import Any

from quart import Response, request

from .._current import core, this_request
from ._errors import GraphError, dumps

VERSION = re.compile(r"v\d+\.\d+")
JSON_TYPE = "application/json; charset=UTF-8"


def split_path(rest: str) -> list[str]:
    """Path segments after the host, without the optional ``vNN.N`` version."""
    parts = [p for p in rest.split("/") if p]
    if parts and VERSION.fullmatch(parts[0]):
        parts = parts[1:]
    return parts


async def params() -> dict[str, str]:
    """Query parameters, overlaid with form fields on POST/DELETE (first value each)."""
    req = this_request()  # one lookup, not one per use (issue 15)
    out = {k: v for k, v in req.args.items()}
    if req.method in ("POST", "DELETE"):
        form = await req.form
        out.update({k: v for k, v in form.items()})
    return out


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return None


async def access_token() -> str | None:
    token = (await params()).get("access_token") or bearer()
    return token or None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(dumps(data), status=status, content_type=JSON_TYPE)
    response.headers["Cache-Control"] = "private, no-cache, no-store, must-revalidate"
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def error_response(error: GraphError) -> Response:
    return json_response(
        error.body(core().trace_id()),
        error.status,
        {"WWW-Authenticate": error.www_authenticate(), **error.headers},
    )
