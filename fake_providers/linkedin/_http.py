"""The thin HTTP layer shared by the LinkedIn routes: the core, parameters, tokens,
JSON and HTML responses.

HTML pages come from this package's ``templates/`` folder through
``fake_providers._templates.render``, synchronously on the calling task (never Quart's
``render_template``, which runs in a worker thread).
"""

from __future__ import annotations

from typing import Any

from quart import Response, request

from .._consent import found as found  # re-exported for the package's modules
from .._current import core as core  # re-exported for the package's modules
from .._templates import render as render_template
from ._errors import ApiError, OAuthError, dumps

WWW = "www.linkedin.com"
API = "api.linkedin.com"
PROTOCOL = "linkedin"
JSON_TYPE = "application/json"


async def params() -> dict[str, str]:
    """Query parameters, overlaid with form fields on POST (first value each): LinkedIn
    reads the token endpoints' fields from either."""
    out = {k: v for k, v in request.args.items()}
    if request.method == "POST":
        form = await request.form
        out.update({k: v for k, v in form.items()})
    return out


def bearer() -> str | None:
    """The access token of an API call: ``Authorization: Bearer``, or the legacy
    ``oauth2_access_token`` query parameter."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.args.get("oauth2_access_token") or None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(dumps(data), status=status, content_type=JSON_TYPE)
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def oauth_response(err: OAuthError) -> Response:
    return json_response(err.body(), err.status, {"Cache-Control": "no-cache, no-store"})


def api_response(err: ApiError) -> Response:
    return json_response(err.body(), err.status, {"X-RestLi-Protocol-Version": "2.0.0"})


def html(name: str, status: int = 200, **context: Any) -> Response:
    """Render ``templates/name`` as an HTML response."""
    page = render_template(name, **context)
    return Response(page, status=status, content_type="text/html; charset=utf-8")


def error_page(message: str, status: int = 400) -> Response:
    """LinkedIn's error page for a request it will not redirect back (bad client id or
    redirect URI): an HTML page, never a redirect to a URI nobody registered."""
    return html("linkedin_error.html", status, message=message)
