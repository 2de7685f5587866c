"""TikTok's two error shapes, exactly as the real endpoints write them.

- The OAuth endpoints (``/v2/oauth/token/``, ``/v2/oauth/revoke/``) answer a flat
  ``{"error", "error_description", "log_id"}`` (:class:`OAuthError`), with the HTTP
  status of the profile's ``oauth_error_status`` ([obs]: 200);
- every API endpoint (Display API, Content Posting API) answers the envelope
  ``{"data": {...}, "error": {"code", "message", "log_id"}}`` (:class:`ApiError`); the
  ``error`` object is there on success too, with ``code: "ok"``.

Messages of the API errors are TikTok's documented ones (PROVIDERS.md §4, TikTok's
"Error Handling" page, [obs] for the posting codes); where TikTok's wording is not known
the text says so in a comment.

``log_id`` looks like TikTok's: the UTC time ``YYYYMMDDhhmmss`` and 20 upper-case hex
digits from the core's per-request noise stream (34 characters), e.g.
``202308141814065FE27A58513347021AF1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from random import Random
from typing import Any

from ..core import CodeProblem, Reason, RefreshProblem

# -- API (envelope) codes and messages ------------------------------------------------

ACCESS_TOKEN_INVALID = (
    "The access token is invalid or not found in the request. Please refresh the token and retry."
)
SCOPE_NOT_AUTHORIZED = (
    "The user did not authorize the scope required for completing this request. Please "
    "ask the user to authorize and then retry."
)
RATE_LIMIT_EXCEEDED = "The API rate limit was exceeded. Please try again later."
INTERNAL_ERROR = (
    "This is the generic error code for TikTok internal errors. Please refer to the error "
    "message for details and notify TikTok support."
)
# [obs] Content Posting API (403): the messages of TikTok's Direct Post reference.
BANNED_FROM_POSTING = "The user is banned from making new posts."
UNAUDITED_PRIVATE_ONLY = "Unaudited clients can only post to a private account."
ACTIVE_USER_CAP = "The daily quota for active publishing users from your client is reached."

# -- OAuth messages ---------------------------------------------------------------------

#: [obs] TikTok's answer to a token request without ``grant_type`` (or another required
#: parameter).
MALFORMED = "The request parameters are malformed."
#: [obs] An expired authorization code.
CODE_EXPIRED = "Authorization code is expired."
#: A spent code: the profile's ``used_code_description`` (TikTok answers it as an expired
#: one [obs]); this when the profile has none.
CODE_USED = CODE_EXPIRED
# [U] The rest: TikTok's wording is not public; these follow its style.
CODE_INVALID = "Authorization code is invalid."
REDIRECT_MISMATCH = "Redirect URI does not match the one used to request the code."
VERIFIER_MISSING = "Code verifier is required."
VERIFIER_MISMATCH = "Code verifier is invalid."
REFRESH_INVALID = "Refresh token is invalid or expired."
CLIENT_KEY = "Client key is invalid."
CLIENT_SECRET = "Client secret is invalid."
GRANT_TYPE = "Grant type is not supported."
NOT_YOUR_TOKEN = "The token was not issued to this client."

_HEX = "0123456789ABCDEF"


def log_id(now: datetime, noise: Random) -> str:
    """A TikTok-like ``log_id``: the time and 20 hex digits (34 characters)."""
    return now.strftime("%Y%m%d%H%M%S") + "".join(noise.choice(_HEX) for _ in range(20))


@dataclass
class ApiError(Exception):
    """One API error: the HTTP status and the envelope's ``error`` fields."""

    status: int
    code: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def body(self, log: str) -> dict[str, Any]:
        error = {"code": self.code, "message": self.message, "log_id": log}
        return {"data": self.data, "error": error}


@dataclass
class OAuthError(Exception):
    """One OAuth error: ``error`` and ``error_description`` (status from the profile)."""

    error: str
    description: str

    def body(self, log: str) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description, "log_id": log}


def ok_body(data: dict[str, Any], log: str) -> dict[str, Any]:
    """A successful API answer: the data and the ``ok`` error object."""
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": log}}


def token_invalid() -> ApiError:
    """401 ``access_token_invalid``: a dead, expired, revoked or missing token."""
    return ApiError(401, "access_token_invalid", ACCESS_TOKEN_INVALID)


def scope_not_authorized() -> ApiError:
    return ApiError(401, "scope_not_authorized", SCOPE_NOT_AUTHORIZED)


def invalid_params(message: str) -> ApiError:
    """400 ``invalid_params`` (Display API spelling)."""
    return ApiError(400, "invalid_params", message)


def invalid_param(message: str) -> ApiError:
    """400 ``invalid_param`` (the Content Posting API spells it in the singular)."""
    return ApiError(400, "invalid_param", message)


def rate_limited() -> ApiError:
    return ApiError(429, "rate_limit_exceeded", RATE_LIMIT_EXCEEDED)


def internal_error() -> ApiError:
    return ApiError(500, "internal_error", INTERNAL_ERROR)


def banned_from_posting() -> ApiError:
    return ApiError(403, "spam_risk_user_banned_from_posting", BANNED_FROM_POSTING)


def unaudited_private_only() -> ApiError:
    code = "unaudited_client_can_only_post_to_private_accounts"
    return ApiError(403, code, UNAUDITED_PRIVATE_ONLY)


def active_user_cap() -> ApiError:
    return ApiError(403, "reached_active_user_cap", ACTIVE_USER_CAP)


def code_rejected(problem: CodeProblem, used: str = CODE_USED) -> OAuthError:
    """``invalid_grant`` for every code that cannot be spent (RFC 6749 semantics);
    ``used``: the text for a spent code (the profile's ``used_code_description``)."""
    text = {
        CodeProblem.EXPIRED: CODE_EXPIRED,
        CodeProblem.USED: used,
        CodeProblem.REDIRECT_MISMATCH: REDIRECT_MISMATCH,
        CodeProblem.PKCE_MISSING: VERIFIER_MISSING,
        CodeProblem.PKCE_MISMATCH: VERIFIER_MISMATCH,
    }.get(problem, CODE_INVALID)
    return OAuthError("invalid_grant", text)


def refresh_rejected(reason: Reason | RefreshProblem) -> OAuthError:
    """``invalid_grant`` for a refresh token that does not work, whatever the cause:
    TikTok does not say why (expired, rotated out, revoked, app removed)."""
    return OAuthError("invalid_grant", REFRESH_INVALID)
