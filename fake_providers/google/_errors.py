"""Google's error bodies, exactly as its OAuth endpoints and the YouTube Data API write them.

Two shapes coexist at Google (PROVIDERS.md §6):

- the OAuth endpoints (``oauth2.googleapis.com/token``, ``/revoke``, ``/tokeninfo``)
  answer RFC 6749 style: ``{"error": "invalid_grant", "error_description": "…"}``;
- the APIs (YouTube Data API v3) answer the Google API envelope:
  ``{"error": {"code", "message", "errors": [{"message", "domain", "reason", …}],
  "status"}}``.

Pure data: each function returns an :class:`OAuthError` or :class:`ApiError`, the
HTTP layer (``_http``) serializes it. Messages marked [U] are plausible but not
confirmed from a real response; every other text was checked against real responses
logged by public clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core import Reason

# -- OAuth endpoints --------------------------------------------------------------------

#: A refresh token that no longer works, for whatever reason (Google never says which).
DEAD_GRANT = "Token has been expired or revoked."
#: A code (or refresh token) string Google never issued, a reused or expired code.
BAD_REQUEST = "Bad Request"
MALFORMED_CODE = "Malformed auth code."
MISSING_VERIFIER = "Missing code verifier."
INVALID_VERIFIER = "Invalid code verifier."
CLIENT_NOT_FOUND = "The OAuth client was not found."
UNAUTHORIZED = "Unauthorized"
#: ``/revoke`` for a token that does not work (or never existed).
REVOKE_FAILED = "Token expired or revoked"
#: ``/tokeninfo`` for a token that does not work.
INVALID_VALUE = "Invalid Value"
#: ``/userinfo`` without a working token ([obs] www.googleapis.com/oauth2/v3/userinfo).
INVALID_CREDENTIALS = "Invalid Credentials"


@dataclass
class OAuthError(Exception):
    """An RFC 6749 style error of Google's OAuth endpoints."""

    status: int
    error: str | None
    description: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.error is not None:
            out["error"] = self.error
        out["error_description"] = self.description
        return out


def dead_grant() -> OAuthError:
    """HTTP 400 ``invalid_grant`` "Token has been expired or revoked." (any dead grant)."""
    return OAuthError(400, "invalid_grant", DEAD_GRANT)


def bad_grant(description: str = BAD_REQUEST) -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


def invalid_client(description: str = UNAUTHORIZED) -> OAuthError:
    """HTTP 401 ``invalid_client``: "Unauthorized" (bad secret) or "The OAuth client
    was not found." (unknown client id)."""
    return OAuthError(401, "invalid_client", description)


def unauthorized_client() -> OAuthError:
    """HTTP 401 ``unauthorized_client``: a refresh token issued to another client."""
    return OAuthError(401, "unauthorized_client", UNAUTHORIZED)


def redirect_mismatch() -> OAuthError:
    return OAuthError(400, "redirect_uri_mismatch", BAD_REQUEST)


def missing_parameter(name: str) -> OAuthError:
    return OAuthError(400, "invalid_request", f"Missing required parameter: {name}")


def unsupported_grant(grant_type: str) -> OAuthError:
    return OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def revoke_failed() -> OAuthError:
    return OAuthError(400, "invalid_token", REVOKE_FAILED)


def tokeninfo_invalid(*, with_error: bool = True) -> OAuthError:
    """``oauth2.googleapis.com/tokeninfo`` names the error; the older
    ``www.googleapis.com/oauth2/v3/tokeninfo`` gives only the description."""
    return OAuthError(400, "invalid_token" if with_error else None, INVALID_VALUE)


def userinfo_invalid() -> OAuthError:
    return OAuthError(
        401,
        "invalid_request",
        INVALID_CREDENTIALS,
        {"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'},
    )


#: Reasons for which a refresh token answers ``invalid_grant`` "Token has been expired or
#: revoked." — Google gives every dead grant the same answer.
DEAD_REASONS = frozenset(
    {
        Reason.EXPIRED,
        Reason.REVOKED,
        Reason.ROTATED_OUT,
        Reason.UNUSED_TOO_LONG,
        Reason.CAPPED,
        Reason.TESTING_EXPIRED,
        Reason.PASSWORD_CHANGED,
        Reason.APP_REMOVED,
        Reason.CHECKPOINT,
        Reason.LOCKED,
        Reason.SUSPENDED,
        Reason.RESTRICTED,
        Reason.ADMIN_REMOVED,
        Reason.NOT_ELIGIBLE,
        Reason.DATA_ACCESS_EXPIRED,
    }
)

# -- the APIs ---------------------------------------------------------------------------

REALM = "https://accounts.google.com/"
INVALID_AUTH = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
MISSING_AUTH = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INSUFFICIENT_SCOPES = "Request had insufficient authentication scopes."
QUOTA = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
    'getting-started#quota">quota</a>.'
)
#: [U] the wording of the 429 answer (Google's generic RESOURCE_EXHAUSTED message).
EXHAUSTED = "Resource has been exhausted (e.g. check quota)."
#: [U] the message (the YouTube docs' description of the reason).
SUSPENDED = "The YouTube account of the authenticated user is suspended."
INTERNAL = "Internal error encountered."
#: [obs] A Google API that is down (HTTP 503; public clients' logs of Google APIs, the
#: older ones said "Backend Error" in the same envelope).
UNAVAILABLE = "The service is currently unavailable."


@dataclass
class ApiError(Exception):
    """One Google API error: HTTP status, the envelope's fields, extra headers."""

    status: int
    message: str
    errors: list[dict[str, str]]
    grpc_status: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message}
        if self.errors:
            error["errors"] = self.errors
        if self.grpc_status is not None:
            error["status"] = self.grpc_status
        return {"error": error}


def _auth_header(error: str, scope: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}", error="{error}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


def unauthenticated() -> ApiError:
    """HTTP 401 for a token that does not work (expired, revoked, unknown)."""
    return ApiError(
        401,
        INVALID_AUTH,
        [
            {
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
        "UNAUTHENTICATED",
        _auth_header("invalid_token"),
    )


def login_required() -> ApiError:
    """HTTP 401 for a request without any credential."""
    return ApiError(
        401,
        MISSING_AUTH,
        [
            {
                "message": "Login Required.",
                "domain": "global",
                "reason": "required",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
        "UNAUTHENTICATED",
        {"WWW-Authenticate": f'Bearer realm="{REALM}"'},
    )


def insufficient_scopes(needed: str) -> ApiError:
    """HTTP 403 ``insufficientPermissions``: the token lacks every scope that would do."""
    return ApiError(
        403,
        INSUFFICIENT_SCOPES,
        [
            {
                "message": "Insufficient Permission",
                "domain": "global",
                "reason": "insufficientPermissions",
            }
        ],
        "PERMISSION_DENIED",
        _auth_header("insufficient_scope", needed),
    )


def signup_required() -> ApiError:
    """HTTP 401 ``youtubeSignupRequired``: the Google account has no YouTube channel."""
    return ApiError(
        401,
        UNAUTHORIZED,
        [
            {
                "message": UNAUTHORIZED,
                "domain": "youtube.header",
                "reason": "youtubeSignupRequired",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
    )


def account_suspended() -> ApiError:
    """[U] HTTP 403 ``authenticatedUserAccountSuspended`` (domain and exact message)."""
    return ApiError(
        403,
        SUSPENDED,
        [
            {
                "message": SUSPENDED,
                "domain": "youtube.common",
                "reason": "authenticatedUserAccountSuspended",
            }
        ],
    )


def quota_exceeded() -> ApiError:
    """HTTP 403 ``quotaExceeded`` (the message carries an HTML link, as YouTube's does)."""
    return ApiError(
        403, QUOTA, [{"message": QUOTA, "domain": "youtube.quota", "reason": "quotaExceeded"}]
    )


def rate_limited() -> ApiError:
    """[U] HTTP 429 ``RESOURCE_EXHAUSTED`` (throttling)."""
    return ApiError(
        429,
        EXHAUSTED,
        [{"message": EXHAUSTED, "domain": "global", "reason": "rateLimitExceeded"}],
        "RESOURCE_EXHAUSTED",
    )


def missing_part() -> ApiError:
    """[U] HTTP 400: ``part`` is required on every YouTube list call."""
    return ApiError(
        400,
        "Required parameter: part",
        [
            {
                "message": "Required parameter: part",
                "domain": "global",
                "reason": "required",
                "location": "part",
                "locationType": "parameter",
            }
        ],
        "INVALID_ARGUMENT",
    )


def no_filter() -> ApiError:
    """[U] HTTP 400: channels.list needs one filter (``mine``, ``id`` …)."""
    message = (
        "No filter selected. Expected one of: mine, forHandle, managedByMe, id, "
        "categoryId, forUsername, mySubscribers"
    )
    return ApiError(
        400,
        message,
        [
            {
                "message": message,
                "domain": "youtube.parameter",
                "reason": "missingRequiredParameter",
                "location": "parameters.",
                "locationType": "other",
            }
        ],
        "INVALID_ARGUMENT",
    )


def not_found_api(path: str) -> ApiError:
    """[U] An API path nothing serves (Google answers HTML there; JSON is kinder)."""
    message = f"Method not found: {path}"
    return ApiError(
        404, message, [{"message": message, "domain": "global", "reason": "notFound"}], "NOT_FOUND"
    )


def service_unavailable() -> ApiError:
    """HTTP 503 ``backendError`` / ``UNAVAILABLE``: an outage."""
    return ApiError(
        503,
        UNAVAILABLE,
        [{"message": UNAVAILABLE, "domain": "global", "reason": "backendError"}],
        "UNAVAILABLE",
    )


def backend_error() -> ApiError:
    """HTTP 500 ``backendError`` (an unexpected failure on the fake's side)."""
    return ApiError(
        500,
        INTERNAL,
        [{"message": INTERNAL, "domain": "global", "reason": "backendError"}],
        "INTERNAL",
    )
