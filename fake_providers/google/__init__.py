"""The fake Google / YouTube: the consent page on ``accounts.google.com``, the OAuth
endpoints on ``oauth2.googleapis.com``, OpenID Connect userinfo, the People API's
``people/me`` on ``people.googleapis.com``, and the YouTube Data API v3 on
``www.googleapis.com`` and ``youtube.googleapis.com``, each at ``/{host}/…``.

See PROVIDERS.md §6 for the behaviour reproduced. Routes:

- ``GET|POST /accounts.google.com/o/oauth2/v2/auth`` (and ``/o/oauth2/auth``): consent;
- ``POST /oauth2.googleapis.com/token`` (and ``www.googleapis.com/oauth2/v4/token`` and the
  legacy ``accounts.google.com/o/oauth2/token``, the same grants);
- ``GET|POST /oauth2.googleapis.com/revoke`` (and ``accounts.google.com/o/oauth2/revoke``);
- ``GET|POST /oauth2.googleapis.com/tokeninfo`` (and ``www.googleapis.com/oauth2/v3/tokeninfo``);
- ``GET|POST /openidconnect.googleapis.com/v1/userinfo`` (and
  ``www.googleapis.com/oauth2/v3/userinfo``);
- ``GET /people.googleapis.com/v1/people/me?personFields=…``;
- ``GET /accounts.google.com/.well-known/openid-configuration`` (discovery),
  ``/www.googleapis.com/oauth2/v3/certs`` (JWKS) and ``/oauth2/v1/certs`` (X.509): the
  keys that verify the RS256 ``id_token`` (``_keys``);
- ``GET /{www,youtube}.googleapis.com/youtube/v3/channels``;
- the Business Profile APIs (``_business``): ``GET
  /mybusinessaccountmanagement.googleapis.com/v1/accounts``, ``GET
  /mybusinessbusinessinformation.googleapis.com/v1/accounts/{a}/locations`` and
  ``/v1/locations/{l}``, ``GET /mybusiness.googleapis.com/v4/accounts/{a}/locations/{l}/reviews``.

The modules: ``_oauth`` (consent, token), ``_identity`` (id_token, tokeninfo, userinfo,
revoke), ``_keys`` (signing key, JWKS, discovery), ``_people`` (the People API),
``_youtube`` (the Data API), ``_business`` (the Business Profile APIs), ``_errors``
(every body), ``_http`` (the rest).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint, Response, request

from .._faults import outage_page, phrase
from .._registry import register
from ..core import Fault, FaultKind
from . import _business
from . import _errors as e
from ._errors import ApiError, OAuthError
from ._http import error_response, html, render
from ._identity import revoke, tokeninfo, userinfo
from ._keys import discovery, jwks, x509_certs
from ._oauth import consent, token
from ._people import people_me
from ._youtube import channels

ACCOUNTS = "accounts.google.com"
OAUTH2 = "oauth2.googleapis.com"
OIDC = "openidconnect.googleapis.com"
WWW = "www.googleapis.com"
YOUTUBE = "youtube.googleapis.com"
PEOPLE = "people.googleapis.com"
HOSTS = (ACCOUNTS, OAUTH2, OIDC, WWW, YOUTUBE, PEOPLE, *_business.HOSTS)

__all__ = ["HOSTS", "blueprint"]

Handler = Callable[[], Awaitable[Response]]
#: The legacy token endpoint's path on ``accounts.google.com``.
TOKEN = "o/oauth2/token"
#: The OpenID Connect discovery document's path on ``accounts.google.com`` (JSON, not a page).
DISCOVERY = ".well-known/openid-configuration"

#: (host, path after the host) → (methods, handler).
ROUTES: dict[tuple[str, str], tuple[tuple[str, ...], Handler]] = {
    (ACCOUNTS, "o/oauth2/v2/auth"): (("GET", "POST"), consent),
    (ACCOUNTS, "o/oauth2/auth"): (("GET", "POST"), consent),
    (ACCOUNTS, "o/oauth2/revoke"): (("GET", "POST"), revoke),
    # The legacy token endpoint, still the default of widely used libraries; Google
    # moved clients to oauth2.googleapis.com/token, "functionally, the behavior is
    # nearly identical" (golang/oauth2#344).
    (ACCOUNTS, TOKEN): (("POST",), lambda: token(legacy=True)),
    (OAUTH2, "token"): (("POST",), token),
    (OAUTH2, "revoke"): (("GET", "POST"), revoke),
    (OAUTH2, "tokeninfo"): (("GET", "POST"), tokeninfo),
    (OIDC, "v1/userinfo"): (("GET", "POST"), userinfo),
    (WWW, "oauth2/v4/token"): (("POST",), token),
    (WWW, "oauth2/v3/tokeninfo"): (("GET", "POST"), lambda: tokeninfo(legacy=True)),
    (WWW, "oauth2/v3/userinfo"): (("GET", "POST"), userinfo),
    (WWW, "youtube/v3/channels"): (("GET",), channels),
    (YOUTUBE, "youtube/v3/channels"): (("GET",), channels),
    (PEOPLE, "v1/people/me"): (("GET",), people_me),
    (ACCOUNTS, DISCOVERY): (("GET",), discovery),
    (WWW, "oauth2/v3/certs"): (("GET",), jwks),
    (WWW, "oauth2/v1/certs"): (("GET",), x509_certs),
}


def blueprint() -> Blueprint:
    """A fresh blueprint (one per app, so several apps can live in one process)."""
    bp = Blueprint("google", __name__)

    for host in HOSTS:
        endpoint = host.replace(".", "_")

        async def serve(rest: str, host: str = host) -> Response:
            return await dispatch(host, rest.strip("/"))

        bp.add_url_rule(
            f"/{host}/",
            endpoint,
            serve,
            defaults={"rest": ""},
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        )
        bp.add_url_rule(
            f"/{host}/<path:rest>",
            endpoint + "_path",
            serve,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        )
    return bp


async def dispatch(host: str, rest: str) -> Response:
    route = ROUTES.get((host, rest))
    try:
        if host in _business.HOSTS:
            business = await _business.dispatch(host, rest)
            return business if business is not None else not_found(host, rest)
        if route is None:
            return not_found(host, rest)
        methods, handler = route
        if request.method not in methods:
            return method_not_allowed(host, rest)
        return await handler()
    except (OAuthError, ApiError) as err:
        return error_response(err)


def _is_api(host: str, rest: str) -> bool:
    """The Google API envelope's paths: the YouTube Data API, the People API and the
    Business Profile APIs."""
    if host == PEOPLE or host in _business.HOSTS:
        return True
    return host in (WWW, YOUTUBE) and rest.startswith("youtube/")


def not_found(host: str, rest: str) -> Response:
    if _is_api(host, rest):
        return error_response(e.not_found_api(f"/{rest}"))
    return _html_error(404, "Not Found", f"The requested URL /{rest} was not found on this server.")


def method_not_allowed(host: str, rest: str) -> Response:
    if (host, rest) in ((OAUTH2, "token"), (ACCOUNTS, TOKEN)):
        return error_response(OAuthError(405, "invalid_request", "Invalid HTTP method: GET"))
    return _html_error(
        405, "Method Not Allowed", f"The request method {request.method} is inappropriate for "
        f"the URL /{rest}."
    )  # fmt: skip


def _html_error(status: int, name: str, message: str) -> Response:
    """Google's plain error page: "404. That's an error." (curly quote) and a sentence."""
    text = render(
        "google_error.html",
        title=f"Error {status} ({name})!!1",
        heading=f"{status}. That\N{RIGHT SINGLE QUOTATION MARK}s an error.",
        status=status,
        error=None,
        message=message + " That\N{RIGHT SINGLE QUOTATION MARK}s all we know.",
    )
    return html(text, status)


def _host_of(path: str) -> str | None:
    for host in HOSTS:
        if path == f"/{host}" or path.startswith(f"/{host}/"):
            return host
    return None


async def http_error(path: str, status: int, description: str) -> Response | None:
    """Google-shaped answers for HTTP errors no route answered on Google's hosts."""
    host = _host_of(path)
    if host is None:
        return None
    if status == 404:
        return not_found(host, path.removeprefix(f"/{host}").strip("/"))
    return _html_error(status, "Bad Request", description)


async def unexpected(path: str, err: Exception) -> Response | None:
    """HTTP 500 ``backendError`` for an unexpected exception on Google's hosts."""
    return error_response(e.backend_error()) if _host_of(path) else None


#: The data endpoints a rate limit hits: the YouTube Data API, the People API, the
#: Business Profile APIs and userinfo (the OAuth endpoints — token, revoke, tokeninfo,
#: consent — are spared).
def _is_data(host: str, rest: str) -> bool:
    if _is_api(host, rest):
        return True
    return host == OIDC or (host, rest) == (WWW, "oauth2/v3/userinfo")


async def fault(path: str, fault: Fault) -> Response | None:
    """Google during a fault: 503 ``backendError`` (outage) on every JSON endpoint and a
    503 page on ``accounts.google.com``'s pages; 429 ``rateLimitExceeded`` on the data
    endpoints (rate limit). An ``error`` fault answers what a dead token gets on each
    endpoint (:func:`dead_token_error`: Google never says why, so every named error
    answers the same); a ``status`` fault the API envelope with that status
    (:func:`status_error`) on every JSON endpoint and Google's own error page on
    ``accounts.google.com``'s pages."""
    host = _host_of(path)
    if host is None:
        return None
    rest = path.removeprefix(f"/{host}").strip("/")
    page = host == ACCOUNTS and rest not in ("o/oauth2/revoke", TOKEN, DISCOVERY)
    if fault.kind is FaultKind.STATUS:
        assert fault.status is not None
        if page:
            return _html_error(fault.status, phrase(fault.status), phrase(fault.status) + ".")
        return error_response(status_error(fault.status))
    if fault.kind is FaultKind.ERROR:
        return None if page else error_response(dead_token_error(host, rest))
    if fault.kind is FaultKind.OUTAGE:
        if page:
            return outage_page("Google")
        return error_response(e.service_unavailable())
    return error_response(e.rate_limited()) if _is_data(host, rest) else None


def dead_token_error(host: str, rest: str) -> OAuthError | ApiError:
    """What a dead token gets on each JSON endpoint: ``invalid_grant`` on the token
    endpoints, ``invalid_token`` on revoke and tokeninfo, "Invalid Credentials" on
    userinfo, 401 ``authError`` on the YouTube Data API."""
    if rest.endswith("revoke"):
        return e.revoke_failed()
    if rest.endswith("tokeninfo"):
        return e.tokeninfo_invalid(with_error=host == OAUTH2)
    if rest.endswith("userinfo"):
        return e.userinfo_invalid()
    if _is_api(host, rest):
        return e.unauthenticated()
    return e.dead_grant()


#: google.rpc status names of HTTP statuses (Google's API envelope carries one).
RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def status_error(status: int) -> ApiError:
    """[U] Google's API envelope with any status: the reason phrase, ``backendError``
    for a 5xx (``rateLimitExceeded`` for 429, ``badRequest`` otherwise) and the
    google.rpc status name where HTTP has one."""
    message = phrase(status)
    reason = "backendError" if status >= 500 else "badRequest"
    if status == 429:
        reason = "rateLimitExceeded"
    errors = [{"message": message, "domain": "global", "reason": reason}]
    return ApiError(status, message, errors, RPC_STATUS.get(status))


register("google", blueprint, http_error=http_error, unexpected=unexpected, fault=fault)
