"""The thin HTTP layer of the X routes: parameters, client credentials, responses, and
the per-endpoint rate-limit windows.

Rate limits are kept per app, per user and per endpoint (X's user-context limits) in
fixed windows read from the profile's ``rate_limits`` (``{name: {limit, window}}``);
a window opens with its first call and resets ``window`` later on the core's clock.
Counting is not a core mutation: a rate limit changes an answer without changing the
world, just as it does at X.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from quart import Response, current_app, request

from conntrack import parse_duration

from .._current import core
from ._errors import OAuth2Error, ProblemError, TextError, V1Error, dumps

JSON_TYPE = "application/json; charset=utf-8"
FORM_TYPE = "text/html; charset=utf-8"  # X answers OAuth 1.0a token bodies as text/html


async def params() -> dict[str, str]:
    """Query parameters, overlaid with form fields on POST (first value each)."""
    out = {k: v for k, v in request.args.items()}
    if request.method == "POST":
        form = await request.form
        out.update({k: v for k, v in form.items()})
    return out


def basic_auth() -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from an ``Authorization: Basic`` header, if any."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:
        return ("", "")
    user, sep, password = decoded.partition(":")
    if not sep:
        return ("", "")
    # RFC 6749 §2.3.1: both halves are form-urlencoded before being joined.
    return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))


def bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(dumps(data), status=status, content_type=JSON_TYPE)
    response.headers["Cache-Control"] = "no-cache, no-store, max-age=0"
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def form_response(data: dict[str, str]) -> Response:
    """An OAuth 1.0a token answer: ``a=1&b=2`` (values are URL-safe already)."""
    body = "&".join(f"{k}={v}" for k, v in data.items())
    return Response(body, status=200, content_type=FORM_TYPE)


def error_response(err: Exception, headers: dict[str, str] | None = None) -> Response:
    """The response for one of ``_errors``' exceptions."""
    if isinstance(err, ProblemError):
        return json_response(err.body, err.status, headers)
    if isinstance(err, V1Error):
        return json_response(err.body(), err.status, headers)
    if isinstance(err, OAuth2Error):
        return json_response(err.body(), err.status, headers)
    if isinstance(err, TextError):
        return Response(err.text, status=err.status, content_type="text/plain; charset=utf-8")
    raise err


# -- rate limits -----------------------------------------------------------------------


@dataclass
class Window:
    limit: int
    used: int
    resets_at: datetime


class RateLimits:
    """Fixed windows per (endpoint, app, user); one instance per app (blueprint)."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, str], Window] = {}

    def take(self, endpoint: str, client_id: str, account_id: str) -> tuple[bool, dict[str, str]]:
        """Count one call; answer whether it is allowed and the ``x-rate-limit-*`` headers."""
        c = core()
        profile = c.profile("twitter")
        spec = (profile.get("rate_limits") or {}).get(endpoint)
        if not isinstance(spec, dict):
            return True, {}
        limit = int(spec.get("limit", 0))
        length = parse_duration(str(spec.get("window", "15m")))
        now = c.now()
        key = (endpoint, client_id, account_id)
        current = self._windows.get(key)
        if current is None or now >= current.resets_at:
            current = Window(limit, 0, now + length)
            self._windows[key] = current
        allowed = current.used < current.limit
        if allowed:
            current.used += 1
        headers = {
            "x-rate-limit-limit": str(current.limit),
            "x-rate-limit-remaining": str(max(0, current.limit - current.used)),
            "x-rate-limit-reset": str(int(current.resets_at.timestamp())),
        }
        return allowed, headers


def rate_limits() -> RateLimits:
    """The app's rate-limit windows (made on first use)."""
    limits = current_app.config.get("TWITTER_RATE_LIMITS")
    if not isinstance(limits, RateLimits):
        limits = RateLimits()
        current_app.config["TWITTER_RATE_LIMITS"] = limits
    return limits
