"""X's error bodies, exactly as the real API writes them (PROVIDERS.md §5).

Three families, one exception each, all rendered by ``_http``:

- :class:`ProblemError` — API v2 "problem" objects (``title``, ``type``, ``status``,
  ``detail``; key order as X writes each one): 401 Unauthorized, 403 user-suspended,
  403 locked [U], 403 Forbidden, 429 Too Many Requests, 503 Service Unavailable,
  invalid-request;
- :class:`V1Error` — API v1.1 ``{"errors":[{"code","message"}]}``: 32, 64, 88, 89, 130,
  326, 34 (no such path), 220, 415; and the OAuth 1.0a endpoints' plain-text answers;
- :class:`OAuth2Error` — the OAuth 2.0 token and revoke endpoints'
  ``{"error","error_description"}``.

The neutral causes (a dead token's :class:`~fake_providers.core.Reason`, an account
state) map to these in :func:`dead_token` and :func:`account_problem`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..core import AccountState

# -- API v2 ---------------------------------------------------------------------------

UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
SUSPENDED = {
    "detail": "The user used for authentication is suspended",
    "title": "Forbidden",
    "status": 403,
    "type": "https://api.twitter.com/2/problems/user-suspended",
}
TOO_MANY = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}
#: [U] a user token without the scopes an endpoint needs.
FORBIDDEN = {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}
SERVER_ERROR = {
    "title": "Internal Server Error",
    "type": "about:blank",
    "status": 500,
    "detail": "Internal Server Error",
}
#: An outage: 503 (X's docs: "The Twitter servers are up, but overloaded with requests").
#: [obs] the detail "Service Unavailable" (tweepy #2237 prints it from the body); [U] the
#: key order, taken from TOO_MANY.
SERVICE_UNAVAILABLE = {
    "title": "Service Unavailable",
    "detail": "Service Unavailable",
    "type": "about:blank",
    "status": 503,
}
INVALID_REQUEST_TYPE = "https://api.twitter.com/2/problems/invalid-request"
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"

# -- API v1.1 -------------------------------------------------------------------------

COULD_NOT_AUTHENTICATE = (32, "Could not authenticate you.")
PAGE_NOT_FOUND = (34, "Sorry, that page does not exist")
ACCOUNT_SUSPENDED = (64, "Your account is suspended and is not permitted to access this feature.")
RATE_LIMITED = (88, "Rate limit exceeded")
#: v1.1's answer while X is overloaded (HTTP 503), from X's v1.1 error-code table.
OVER_CAPACITY = (130, "Over capacity")
INVALID_TOKEN = (89, "Invalid or expired token.")
BAD_AUTHENTICATION = (215, "Bad Authentication data.")
NOT_ALLOWED = (220, "Your credentials do not allow access to this resource.")
ACCOUNT_LOCKED = (
    326,
    "To protect our users from spam and other malicious activity, this account is "
    "temporarily locked. Please log in to https://twitter.com to unlock your account.",
)
#: HTTP 403, as X's callback-URL guide shows it (developer.x.com/en/docs/apps/callback-urls).
CALLBACK_NOT_APPROVED = (
    415,
    "Callback URL not approved for this client application. Approved callback URLs can "
    "be adjusted in your application settings.",
)

# OAuth 1.0a /oauth/access_token answers in plain text.
REQUEST_TOKEN_INVALID = "Invalid request token."
REQUEST_TOKEN_MISSING = "Request token missing"
VERIFIER_INVALID = "Error processing your OAuth request: Invalid oauth_verifier parameter"

# -- OAuth 2.0 ------------------------------------------------------------------------

TOKEN_INVALID = "Value passed for the token was invalid."
CODE_INVALID = "Value passed for the authorization code was invalid."
NO_AUTH_HEADER = "Missing valid authorization header"


def dumps(data: Any) -> str:
    """JSON as X writes it: compact, keys in X's order, ``/`` not escaped."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@dataclass
class ProblemError(Exception):
    """An API v2 problem: the body as X writes it (its own key order)."""

    body: dict[str, Any]

    @property
    def status(self) -> int:
        return int(self.body.get("status", 400))


@dataclass
class V1Error(Exception):
    """An API v1.1 error: HTTP status and ``(code, message)`` pairs."""

    status: int
    errors: list[tuple[int, str]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"errors": [{"code": c, "message": m} for c, m in self.errors]}


@dataclass
class TextError(Exception):
    """A plain-text answer of an OAuth 1.0a endpoint (``/oauth/access_token``)."""

    status: int
    text: str


@dataclass
class OAuth2Error(Exception):
    """``{"error", "error_description"}`` of ``/2/oauth2/token`` and ``/2/oauth2/revoke``."""

    status: int
    error: str
    description: str | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error}
        if self.description is not None:
            out["error_description"] = self.description
        return out


def v1(status: int, error: tuple[int, str]) -> V1Error:
    return V1Error(status, [error])


def missing(name: str) -> OAuth2Error:
    """``Missing required parameter [name].`` (HTTP 400 invalid_request)."""
    return OAuth2Error(400, "invalid_request", f"Missing required parameter [{name}].")


def unauthorized_client() -> OAuth2Error:
    """A confidential client without (or with a wrong) HTTP Basic header."""
    return OAuth2Error(401, "unauthorized_client", NO_AUTH_HEADER)


def locked_problem(detail: str) -> dict[str, Any]:
    """[U] v2's answer for a locked account (the detail is a profile setting)."""
    return {"detail": detail, "title": "Forbidden", "status": 403, "type": "about:blank"}


def account_problem(state: AccountState, *, v2: bool, locked_detail: str) -> Exception | None:
    """The error a working token gets because of what its account is now, if any."""
    if state.suspended:
        return ProblemError(dict(SUSPENDED)) if v2 else v1(403, ACCOUNT_SUSPENDED)
    if state.locked:
        return ProblemError(locked_problem(locked_detail)) if v2 else v1(403, ACCOUNT_LOCKED)
    return None


def dead_token(*, v2: bool) -> Exception:
    """A token that does not work (unknown, expired, revoked, killed by an event)."""
    return ProblemError(dict(UNAUTHORIZED)) if v2 else v1(401, INVALID_TOKEN)


def bad_signature(*, v2: bool) -> Exception:
    """An OAuth 1.0a request whose signature (or consumer) does not check out."""
    return ProblemError(dict(UNAUTHORIZED)) if v2 else v1(401, COULD_NOT_AUTHENTICATE)


def rate_limited(*, v2: bool) -> Exception:
    return ProblemError(dict(TOO_MANY)) if v2 else v1(429, RATE_LIMITED)


def unavailable(*, v2: bool) -> Exception:
    """An outage: v2's 503 problem, or v1.1's 130 "Over capacity" (HTTP 503)."""
    return ProblemError(dict(SERVICE_UNAVAILABLE)) if v2 else v1(503, OVER_CAPACITY)


def invalid_parameter(name: str, value: str) -> ProblemError:
    """v2's 400 for a malformed parameter (``id`` that is not a number, …)."""
    return ProblemError(
        {
            "errors": [
                {
                    "parameters": {name: [value]},
                    "message": f"The `{name}` query parameter value [{value}] is not valid",
                }
            ],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID_REQUEST_TYPE,
        }
    )


def not_one_of(name: str, raw: str, bad: str, allowed: list[str]) -> ProblemError:
    """v2's 400 for a ``*.fields`` value it does not know: the parameter as sent, the
    first unknown value and the list X takes ([obs] a recorded ``users/me`` answer:
    ``"parameters": {"user.fields": ["id,wrong_field"]}``, "The `user.fields` query
    parameter value [wrong_field] is not one of [affiliation,…]")."""
    return ProblemError(
        {
            "errors": [
                {
                    "parameters": {name: [raw]},
                    "message": f"The `{name}` query parameter value [{bad}] is not one "
                    f"of [{','.join(allowed)}]",
                }
            ],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID_REQUEST_TYPE,
        }
    )


def user_not_found(user_id: str) -> dict[str, Any]:
    """v2's partial error (inside an HTTP 200) for a user id that does not exist."""
    return {
        "value": user_id,
        "detail": f"Could not find user with id: [{user_id}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": "id",
        "resource_id": user_id,
        "type": NOT_FOUND_TYPE,
    }
