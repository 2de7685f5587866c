"""The fake X (Twitter): OAuth 2.0 with PKCE, OAuth 1.0a and the API, on ``x.com``,
``twitter.com``, ``api.x.com`` and ``api.twitter.com``, served at ``/{host}/…``.

See PROVIDERS.md §5 for the behaviour reproduced. Routes:

- ``/{x.com|twitter.com}/i/oauth2/authorize`` — the OAuth 2.0 consent page (``_oauth2``);
- ``/{api host}/2/oauth2/token``, ``/2/oauth2/revoke`` — tokens (``_oauth2``);
- ``/{any host}/oauth/request_token``, ``/oauth/authorize``, ``/oauth/authenticate``,
  ``/oauth/access_token`` — OAuth 1.0a (``_oauth1``);
- ``/{api host}/2/users/me``, ``/2/users/{id}/tweets``,
  ``/1.1/account/verify_credentials.json`` — the API (``_api``).

Anything else on an API host answers v1.1's 404 code 34, on the web hosts an HTML
page; an unexpected exception on an API host answers a v2 500 problem.
"""

from __future__ import annotations

import math
from datetime import timedelta

from quart import Blueprint, Response, request

from .._current import core
from .._faults import outage_page, phrase, rest_of, status_page
from .._registry import register
from ..core import Fault, FaultKind
from . import _errors as e
from ._api import call
from ._errors import OAuth2Error, ProblemError, TextError, V1Error
from ._http import error_response
from ._oauth1 import access_token, request_token
from ._oauth1 import authorize as oauth1_authorize
from ._oauth2 import authorize as oauth2_authorize
from ._oauth2 import page_error, revoke, token

WEB_HOSTS = ("x.com", "twitter.com")
API_HOSTS = ("api.x.com", "api.twitter.com")
HOSTS = WEB_HOSTS + API_HOSTS
METHODS = ["GET", "POST", "PUT", "DELETE"]

__all__ = ["API_HOSTS", "HOSTS", "WEB_HOSTS", "blueprint"]

_PROVIDER_ERRORS = (ProblemError, V1Error, OAuth2Error, TextError)


def blueprint() -> Blueprint:
    """A fresh blueprint (one per app, so several apps can live in one process)."""
    bp = Blueprint("twitter", __name__)

    async def serve(host: str, rest: str) -> Response:
        parts = [p for p in rest.split("/") if p]
        try:
            return await dispatch(host, parts, request.method)
        except _PROVIDER_ERRORS as err:
            return error_response(err)

    for host in HOSTS:
        name = host.replace(".", "_")

        async def view(rest: str = "", _host: str = host) -> Response:
            return await serve(_host, rest)

        bp.add_url_rule(f"/{host}/", f"{name}_root", view, methods=METHODS)
        bp.add_url_rule(f"/{host}/<path:rest>", name, view, methods=METHODS)
    return bp


async def dispatch(host: str, parts: list[str], method: str) -> Response:
    """Route one request under ``host`` (path segments ``parts``)."""
    api = host in API_HOSTS
    if parts == ["i", "oauth2", "authorize"] and not api and method in ("GET", "POST"):
        return await oauth2_authorize()
    if parts[:1] == ["oauth"] and len(parts) == 2:
        leg = parts[1]
        if leg == "request_token" and method == "POST":
            return await request_token()
        if leg in ("authorize", "authenticate") and method in ("GET", "POST"):
            return await oauth1_authorize()
        if leg == "access_token" and method == "POST":
            return await access_token()
    if api and parts == ["2", "oauth2", "token"] and method == "POST":
        return await token()
    if api and parts == ["2", "oauth2", "revoke"] and method == "POST":
        return await revoke()
    if api and method == "GET":
        if parts == ["2", "users", "me"]:
            return await call("users_me", v2=True, rest=[])
        if len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "tweets":
            return await call("user_tweets", v2=True, rest=[parts[2]])
        if parts == ["1.1", "account", "verify_credentials.json"]:
            return await call("verify_credentials", v2=False, rest=[])
    return await not_found(host)


async def not_found(host: str) -> Response:
    if host in API_HOSTS:
        return error_response(e.v1(404, e.PAGE_NOT_FOUND))
    return await page_error(
        "This page doesn't exist", "Try searching for something else.", status=404
    )


def _host_of(path: str) -> str | None:
    first = path.lstrip("/").split("/", 1)[0]
    return first if first in HOSTS else None


async def http_error(path: str, status: int, description: str) -> Response | None:
    """X-shaped answers for HTTP errors no route answered, under X's hosts."""
    host = _host_of(path)
    return None if host is None else await not_found(host)


async def unexpected(path: str, err: Exception) -> Response | None:
    """A v2 500 problem (API hosts) or an HTML page (web hosts) for an unexpected error."""
    host = _host_of(path)
    if host is None:
        return None
    if host in API_HOSTS:
        return error_response(ProblemError(dict(e.SERVER_ERROR)))
    return await page_error("Something went wrong", "Try reloading.", status=500)


#: Consent pages (OAuth 2.0 and 1.0a), on any host: a 503 page in an outage.
PAGES = (["i", "oauth2", "authorize"], ["oauth", "authorize"], ["oauth", "authenticate"])
#: [U] ``x-rate-limit-reset`` of a ``count`` rate limit (no end known): X's 15-minute window.
COUNT_FAULT_WINDOW = timedelta(minutes=15)


def endpoint_of(parts: list[str]) -> str | None:
    """The rate-limit name (profile ``rate_limits``) of an API path, if it has one."""
    if parts == ["2", "users", "me"]:
        return "users_me"
    if len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "tweets":
        return "user_tweets"
    if parts == ["1.1", "account", "verify_credentials.json"]:
        return "verify_credentials"
    return None


def fault_rate_headers(parts: list[str], fault: Fault) -> dict[str, str]:
    """``x-rate-limit-*`` of a rate-limit fault: nothing remaining until the fault ends."""
    c = core()
    spec = (c.profile("twitter").get("rate_limits") or {}).get(endpoint_of(parts) or "")
    limit = int(spec.get("limit", 0)) if isinstance(spec, dict) else 0
    reset = fault.until if fault.until is not None else c.now() + COUNT_FAULT_WINDOW
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(math.ceil(reset.timestamp())),
    }


async def fault(path: str, fault: Fault) -> Response | None:
    """X during a fault. Outage: the API hosts answer 503 (v2's problem; v1.1 and the
    OAuth 1.0a token legs 130 "Over capacity"), the consent pages and web hosts a 503
    page. Rate limit: the API (not ``/2/oauth2/…`` nor ``/oauth/…``) answers 429 (v2's
    problem or v1.1's 88) with ``x-rate-limit-*`` headers whose reset is the fault's end.
    Error: what a dead token gets — v2's 401 problem, v1.1's 89, and on
    ``/2/oauth2/…`` the refused token (400 ``invalid_request``); X does not say why, so
    every named error answers the same. Status: v2's problem or a v1.1 error with that
    status (:func:`status_error`), a plain page on the consent pages and web hosts."""
    host = _host_of(path)
    if host is None:
        return None
    parts = rest_of(path, host)
    v1 = parts[:1] in (["1.1"], ["oauth"])
    page = host in WEB_HOSTS or parts in PAGES
    if fault.kind is FaultKind.STATUS:
        assert fault.status is not None
        if page:
            return status_page("X", fault.status)
        return error_response(status_error(fault.status, v2=not v1))
    if fault.kind is FaultKind.ERROR:
        if page:
            return None
        if parts[:2] == ["2", "oauth2"]:
            return error_response(OAuth2Error(400, "invalid_request", e.TOKEN_INVALID))
        return error_response(e.dead_token(v2=not v1))
    if fault.kind is FaultKind.OUTAGE:
        if page:
            return outage_page("X")
        return error_response(e.unavailable(v2=not v1))
    if host in WEB_HOSTS or parts[:1] == ["oauth"] or parts[:2] == ["2", "oauth2"]:
        return None
    return error_response(e.rate_limited(v2=not v1), fault_rate_headers(parts, fault))


#: v1.1's error for a status, where X's table has one.
V1_STATUS = {
    401: e.COULD_NOT_AUTHENTICATE,
    403: e.NOT_ALLOWED,
    404: e.PAGE_NOT_FOUND,
    429: e.RATE_LIMITED,
    503: e.OVER_CAPACITY,
}
#: X's v1.1 code 131 for an internal error (HTTP 500).
INTERNAL_ERROR = (131, "Internal error")


def status_error(status: int, *, v2: bool) -> Exception:
    """[U] X's generic error with any status: v2's problem (``about:blank``, the reason
    phrase as title and detail, in the key order of its 429 and 503); on v1.1 the code
    of X's table for that status (131 for another 5xx), else the v2 problem."""
    code = V1_STATUS.get(status) or (INTERNAL_ERROR if status >= 500 else None)
    if not v2 and code is not None:
        return e.v1(status, code)
    name = phrase(status)
    return ProblemError({"title": name, "detail": name, "type": "about:blank", "status": status})


register("twitter", blueprint, http_error=http_error, unexpected=unexpected, fault=fault)
