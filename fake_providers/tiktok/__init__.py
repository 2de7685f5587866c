"""The fake TikTok: Login Kit v2's authorize page on ``www.tiktok.com``, the OAuth and API
endpoints on ``open.tiktokapis.com``, both served at ``/{host}/…``.

See PROVIDERS.md §4 for the behaviour reproduced. Routes:

- ``GET|POST /www.tiktok.com/v2/auth/authorize/`` — the consent page (``_oauth``);
- ``POST /open.tiktokapis.com/v2/oauth/token/`` and ``/v2/oauth/revoke/`` (``_oauth``);
- ``GET /open.tiktokapis.com/v2/user/info/``, ``POST /v2/video/list/``,
  ``POST /v2/post/publish/creator_info/query/``, ``POST /v2/post/publish/video/init/``
  (``_api``).

Paths match with or without their trailing slash. Error bodies live in ``_errors``: flat
OAuth bodies on the OAuth endpoints, the ``{"data", "error"}`` envelope everywhere else
on ``open.tiktokapis.com`` (unknown paths and methods included), an HTML page on
``www.tiktok.com``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint, Response, request

from .._faults import fault_reason, outage_page, phrase, status_page, under
from .._registry import register
from ..core import Fault, FaultKind
from . import _api, _oauth
from . import _errors as e
from ._errors import ApiError, OAuthError, internal_error, rate_limited
from ._http import api_error, form, oauth_error

WWW = "www.tiktok.com"
API = "open.tiktokapis.com"

__all__ = ["API", "WWW", "blueprint"]

#: API routes: path (without slashes at the ends) → (method, handler).
ROUTES: dict[str, tuple[str, Callable[[], Awaitable[Response]]]] = {
    "v2/user/info": ("GET", _api.user_info),
    "v2/video/list": ("POST", _api.video_list),
    "v2/post/publish/creator_info/query": ("POST", _api.creator_info),
    "v2/post/publish/video/init": ("POST", _api.video_init),
}
OAUTH = {"v2/oauth/token": _oauth.token, "v2/oauth/revoke": _oauth.revoke}


def blueprint() -> Blueprint:
    """A fresh blueprint (one per app, so several apps can live in one process)."""
    bp = Blueprint("tiktok", __name__)

    @bp.route(f"/{WWW}/", defaults={"rest": ""}, methods=["GET", "POST"])
    @bp.route(f"/{WWW}/<path:rest>", methods=["GET", "POST"])
    async def www(rest: str) -> Response:
        if rest.strip("/") == "v2/auth/authorize":
            return await _oauth.authorize()
        return _oauth.error_page("This page isn't available.", 404)

    @bp.route(f"/{API}/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "DELETE"])
    @bp.route(f"/{API}/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
    async def api(rest: str) -> Response:
        path = rest.strip("/")
        if path in OAUTH:
            try:
                if request.method != "POST":
                    raise OAuthError("invalid_request", f"{request.method} is not supported.")
                return OAUTH[path](await form())
            except OAuthError as err:
                return oauth_error(err)
        try:
            route = ROUTES.get(path)
            if route is None:
                raise ApiError(404, "invalid_params", f"Unknown path: /{path}/.")
            method, handler = route
            if request.method != method:
                raise ApiError(405, "invalid_params", f"{request.method} is not supported.")
            return await handler()
        except ApiError as err:
            return api_error(err)

    return bp


def _is_api(path: str) -> bool:
    return path == f"/{API}" or path.startswith(f"/{API}/")


async def http_error(path: str, status: int, description: str) -> Response | None:
    """TikTok-shaped answers for HTTP errors no route answered on the API host."""
    if not _is_api(path):
        return None
    return api_error(ApiError(status, "invalid_params", description or "Bad request."))


async def unexpected(path: str, err: Exception) -> Response | None:
    """``internal_error`` (500) for an unexpected exception on the API host."""
    return api_error(internal_error()) if _is_api(path) else None


async def fault(path: str, fault: Fault) -> Response | None:
    """TikTok during a fault: every path of the API host answers ``internal_error`` (500)
    in an outage — the envelope, as for any failure on TikTok's side — and the API
    endpoints (not ``/v2/oauth/…``) ``rate_limit_exceeded`` (429) in a rate limit; the
    authorize page is a 503 page in an outage. An ``error`` fault answers
    ``access_token_invalid`` (401) on the API — TikTok gives every dead token that one
    answer — and the refused refresh (``invalid_grant``) on the OAuth endpoints; a
    ``status`` fault the envelope with that status (:func:`status_error`) everywhere on
    the API host and a plain page on the authorize page."""
    oauth = _is_api(path) and path.removeprefix(f"/{API}").strip("/") in OAUTH
    if fault.kind is FaultKind.STATUS:
        assert fault.status is not None
        if _is_api(path):
            return api_error(status_error(fault.status))
        return status_page("TikTok", fault.status) if under(path, WWW) else None
    if fault.kind is FaultKind.ERROR:
        if not _is_api(path):
            return None
        if oauth:
            return oauth_error(e.refresh_rejected(fault_reason(fault)))
        return api_error(e.token_invalid())
    outage = fault.kind is FaultKind.OUTAGE
    if _is_api(path):
        if outage:
            return api_error(internal_error())
        if oauth:
            return None
        return api_error(rate_limited())
    if outage and under(path, WWW):
        return outage_page("TikTok")
    return None


def status_error(status: int) -> ApiError:
    """[U] TikTok's envelope with any status: ``internal_error`` for a 5xx,
    ``rate_limit_exceeded`` for 429, ``access_token_invalid`` for 401, and
    ``invalid_params`` with the reason phrase for any other."""
    if status >= 500:
        return ApiError(status, "internal_error", e.INTERNAL_ERROR)
    if status == 429:
        return ApiError(status, "rate_limit_exceeded", e.RATE_LIMIT_EXCEEDED)
    if status == 401:
        return ApiError(status, "access_token_invalid", e.ACCESS_TOKEN_INVALID)
    return ApiError(status, "invalid_params", f"{phrase(status)}.")


register("tiktok", blueprint, http_error=http_error, unexpected=unexpected, fault=fault)
