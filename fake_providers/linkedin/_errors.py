"""LinkedIn's error bodies, exactly as the real endpoints write them (PROVIDERS.md §3).

Two families:

- the OAuth endpoints on ``www.linkedin.com`` answer RFC 6749 bodies,
  ``{"error","error_description"}`` (:class:`OAuthError`);
- the API on ``api.linkedin.com`` answers Rest.li envelopes,
  ``{"status","serviceErrorCode","code","message"}`` (:class:`ApiError`), keys in
  LinkedIn's order — except the empty-token answer, which LinkedIn writes in another
  order and without ``code``.

Pure functions from neutral causes (:class:`~fake_providers.core.Reason`, a code
problem) to errors; messages are LinkedIn's own where public clients logged them
(marked [obs]), and marked [U] where we had to choose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..core import CodeProblem, Reason

# -- OAuth (www.linkedin.com) --------------------------------------------------------

#: [obs] A code that cannot be exchanged (unknown, used, expired, other app, other URI).
CODE_INVALID = (
    "Unable to retrieve access token: appid/redirect uri/code verifier does not match "
    "authorization code. Or authorization code expired. Or external member binding exists"
)
#: A refresh token that cannot be used (PROVIDERS.md §3).
REFRESH_INVALID = (
    "The provided authorization grant or refresh token is invalid, expired or revoked."
)
#: [obs] An unknown client id or a wrong client secret.
CLIENT_AUTH = "Client authentication failed"
#: [obs] A missing form field.
MISSING = 'A required parameter "{name}" is missing'
#: [U] A grant type LinkedIn does not serve here.
UNSUPPORTED_GRANT = "Unsupported grant type: {grant}"
#: [U] Introspection or revocation of a token another app holds.
OTHER_CLIENT = "The token does not belong to this client"
#: [U] Introspection of a string LinkedIn never issued.
UNKNOWN_TOKEN = "The token is invalid"

#: [obs] The redirect errors of the authorization page: error → description.
CANCELLED_LOGIN = ("user_cancelled_login", "The user cancelled LinkedIn login")
CANCELLED_AUTHORIZE = ("user_cancelled_authorize", "The user cancelled the authorization")
UNAUTHORIZED_SCOPE = "unauthorized_scope_error"
SCOPE_NOT_AUTHORIZED = "Scope {quote}{scope}{quote} is not authorized for your application"


def scope_not_authorized(scope: str, *, html_quotes: bool) -> str:
    """The description of ``unauthorized_scope_error``; LinkedIn writes the quotes as
    ``&quot;`` [obs] (profile ``scope_error_html_quotes``)."""
    return SCOPE_NOT_AUTHORIZED.format(scope=scope, quote="&quot;" if html_quotes else '"')


@dataclass
class OAuthError(Exception):
    """An error of the OAuth endpoints: HTTP status, ``error``, ``error_description``."""

    status: int
    error: str
    description: str

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description}


def missing(name: str) -> OAuthError:
    return OAuthError(400, "invalid_request", MISSING.format(name=name))


def client_auth() -> OAuthError:
    return OAuthError(401, "invalid_client", CLIENT_AUTH)


def code_rejected(problem: CodeProblem) -> OAuthError:
    """One description for every bad code; a wrong ``redirect_uri`` is named [obs]."""
    error = (
        "invalid_redirect_uri" if problem is CodeProblem.REDIRECT_MISMATCH else "invalid_request"
    )
    return OAuthError(400, error, CODE_INVALID)


def refresh_rejected() -> OAuthError:
    return OAuthError(400, "invalid_request", REFRESH_INVALID)


#: [U] The OAuth endpoints during an outage: RFC 6749's ``temporarily_unavailable``
#: (LinkedIn's own wording is not known).
TEMPORARILY_UNAVAILABLE = "The service is temporarily unavailable. Please try again later."


def oauth_unavailable() -> OAuthError:
    """[U] An outage of ``accessToken``, ``introspectToken``, ``revoke``: HTTP 503."""
    return OAuthError(503, "temporarily_unavailable", TEMPORARILY_UNAVAILABLE)


# -- the API (api.linkedin.com) ------------------------------------------------------

INVALID_TOKEN = (65600, "INVALID_ACCESS_TOKEN", "Invalid access token")
REVOKED_TOKEN = (
    65601,
    "REVOKED_ACCESS_TOKEN",
    "The token used in the request has been revoked by the user",
)
EXPIRED_TOKEN = (65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
NOT_ENOUGH = "Not enough permissions to access: {resource}.{method}.{version}"
NOT_ACTIVE = "Requested version {version} is not active"
#: [U] No ``LinkedIn-Version`` header on a versioned (``/rest``) call.
VERSION_MISSING = (
    "A version must be present. Please specify a version by adding the LinkedIn-Version header."
)
#: [obs] LinkedIn's message for a path it does not serve.
NO_RESOURCE = "No virtual resource found"
#: [obs] The daily application limit.
DAY_LIMIT = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."


@dataclass
class ApiError(Exception):
    """An API error: HTTP status and the Rest.li envelope, keys in LinkedIn's order."""

    status: int
    envelope: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return self.envelope


def api_error(status: int, code: str, message: str, service: int | None = None) -> ApiError:
    envelope: dict[str, Any] = {"status": status}
    if service is not None:
        envelope["serviceErrorCode"] = service
    envelope["code"] = code
    envelope["message"] = message
    return ApiError(status, envelope)


def empty_token() -> ApiError:
    """No token at all: LinkedIn's older envelope, in its own key order."""
    return ApiError(
        401, {"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401}
    )


def token_error(reason: Reason) -> ApiError:
    """The 401 for a token that does not work now.

    ``malformed`` (never issued, or not an access token) → 65600; ``expired`` → 65602;
    every other death — revoked through ``/revoke``, the app removed, the password
    changed, the member's account restricted — → 65601 (LinkedIn says "revoked by the
    user" for all of them).
    """
    if reason is Reason.MALFORMED:
        service, code, message = INVALID_TOKEN
    elif reason is Reason.EXPIRED:
        service, code, message = EXPIRED_TOKEN
    else:
        service, code, message = REVOKED_TOKEN
    return api_error(401, code, message, service)


def access_denied(resource: str, method: str, version: str) -> ApiError:
    """403 ``ACCESS_DENIED``: a missing scope, or no admin role on the organization."""
    message = NOT_ENOUGH.format(resource=resource, method=method, version=version)
    return api_error(403, "ACCESS_DENIED", message, 100)


def not_active(version: str) -> ApiError:
    """426 ``NONEXISTENT_VERSION`` for a sunset (or not yet released) version [obs]."""
    return api_error(426, "NONEXISTENT_VERSION", NOT_ACTIVE.format(version=version))


def version_missing() -> ApiError:
    return api_error(400, "VERSION_MISSING", VERSION_MISSING)


def illegal_argument(message: str) -> ApiError:
    """[U] A bad query parameter of a finder."""
    return api_error(400, "ILLEGAL_ARGUMENT", message)


def no_resource() -> ApiError:
    return api_error(404, "RESOURCE_NOT_FOUND", NO_RESOURCE)


def method_not_allowed(method: str) -> ApiError:
    """[U] A method the resource does not serve."""
    return api_error(405, "METHOD_NOT_ALLOWED", f"Method {method} is not allowed")


def day_limit() -> ApiError:
    return api_error(429, "TOO_MANY_REQUESTS", DAY_LIMIT, 101)


def internal_error() -> ApiError:
    """[U] Something went wrong on LinkedIn's side."""
    return api_error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")


def service_unavailable() -> ApiError:
    """[U] An outage of the API: HTTP 503 in the Rest.li envelope (status, code and
    message; LinkedIn's wording is not known, the shape is that of its other errors)."""
    return api_error(503, "SERVICE_UNAVAILABLE", "Service Unavailable")


def dumps(data: Any) -> str:
    """JSON as LinkedIn writes it: compact, keys in insertion order."""
    return json.dumps(data, separators=(",", ":"))
