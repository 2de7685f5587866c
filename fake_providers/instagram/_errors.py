"""Instagram's error bodies: the ``api.instagram.com`` envelope and the Graph errors
peculiar to Instagram.

Two shapes (PROVIDERS.md §2a):

- ``api.instagram.com`` (the code exchange) answers
  ``{"error_type":"OAuthException","code":400,"error_message":"…"}`` — an
  :class:`InstagramOAuthError`;
- ``graph.instagram.com`` answers the Graph envelope of §1 (a Facebook
  :class:`~fake_providers.facebook._errors.GraphError`, reused as is), with a few
  Instagram-only errors built here: a personal account, the publishing limit, a refresh
  that comes too early, a suspended or restricted account.

Facts marked [obs] were seen in real responses logged by public clients; [U] ones are
unconfirmed and come from the profile where a setting exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import Response

from ..core import Reason
from ..facebook import _errors as fb
from ..facebook._errors import GraphError, dumps
from ..facebook._http import JSON_TYPE

# -- api.instagram.com/oauth/access_token ([obs], PROVIDERS.md §2a) ---------------------
CODE_USED = "This authorization code has been used"
CODE_NOT_FOUND = "Matching code was not found or was already used"
INVALID_APP = "Invalid platform app"
REDIRECT_MISMATCH = "Redirect URI doesn't match original redirect URI"
#: [obs] the older api.instagram.com wording for a wrong or missing secret.
CLIENT_SECRET = "Invalid Client Secret"
NO_CLIENT_SECRET = "You must provide a client_secret"
NO_CODE = "You must provide a code"
#: [U] an unsupported grant_type on api.instagram.com.
GRANT_TYPE = "Invalid grant_type"

# -- graph.instagram.com -------------------------------------------------------------
#: [obs] HTTP 400, code 10: the account is not professional (Business or Creator).
NOT_BUSINESS = "(#10) The user is not an Instagram Business"
#: [obs] code 9 / subcode 2207042: the daily publishing limit of the Content Publishing
#: API (user title and message from Meta's error-code table).
PUBLISH_LIMIT = "Application request limit reached"
PUBLISH_LIMIT_TITLE = "Max publish limit reached"
PUBLISH_LIMIT_MSG = (
    "You reached maximum number of posts that is allowed to be published by Content Publishing API."
)
#: [U] refresh_access_token with a token under ``refresh_min_age`` (profile
#: ``refresh_too_young_code`` / ``refresh_too_young_message``).
TOO_YOUNG = "The access token can only be refreshed once it is at least 24 hours old."
#: [U] refresh_access_token with a token that is not long-lived.
NOT_LONG_LIVED = "Invalid OAuth access token - the token is not a long-lived token"
#: [U] a suspended account (profile ``suspended_message``).
SUSPENDED = "Error validating access token: The user account has been suspended."
#: [obs for Facebook; U for Instagram] a restricted account: the policy block.
RESTRICTED = "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
#: [U] a media_publish creation_id that is not a container of this account.
NO_CONTAINER = "The media with id {id} does not exist or is not a container of this user."


@dataclass
class InstagramOAuthError(Exception):
    """An error of ``api.instagram.com``: always ``OAuthException``, HTTP 400."""

    message: str
    status: int = 400

    def body(self) -> dict[str, Any]:
        return {"error_type": "OAuthException", "code": self.status, "error_message": self.message}

    def response(self) -> Response:
        return Response(dumps(self.body()), status=self.status, content_type=JSON_TYPE)


def not_business() -> GraphError:
    """A personal (non-professional) account: HTTP 400, ``(#10)`` [obs]."""
    return GraphError(400, NOT_BUSINESS, 10)


def publish_limit() -> GraphError:
    """The daily publishing limit: code 9, subcode 2207042 (HTTP 400)."""
    extra = {
        "is_transient": False,
        "error_user_title": PUBLISH_LIMIT_TITLE,
        "error_user_msg": PUBLISH_LIMIT_MSG,
    }
    return GraphError(400, PUBLISH_LIMIT, 9, subcode=2207042, extra=extra)


def too_young(code: int, message: str) -> GraphError:
    """[U] ``refresh_access_token`` too early: the profile's code and message."""
    auth = "invalid_token" if code == 190 else "invalid_request"
    return GraphError(400, message, code, auth_error=auth)


def suspended(message: str) -> GraphError:
    """[U] a suspended account: 190 without subcode, the profile's message."""
    return GraphError(400, message, 190, auth_error="invalid_token")


def restricted() -> GraphError:
    return GraphError(400, RESTRICTED, 368)


def service_unavailable() -> GraphError:
    """An outage of ``graph.instagram.com``: Facebook's code 2, HTTP 500 (the Graph
    envelope of §1)."""
    return fb.service_unavailable()


def app_rate_limit() -> GraphError:
    """The app over its rate limit on ``graph.instagram.com``: Facebook's ``(#4)``, HTTP
    403, with ``X-App-Usage``. [U] for Instagram: the header (PROVIDERS.md names
    ``X-Business-Use-Case-Usage`` for Instagram tokens, inner shape unknown)."""
    return fb.app_rate_limit()


def oauth_unavailable() -> InstagramOAuthError:
    """[U] An outage of ``api.instagram.com``'s code exchange: HTTP 500 in this host's
    envelope, with the Graph's code-2 message."""
    return InstagramOAuthError(fb.SERVICE_ERROR, 500)


def token_error(reason: Reason, message: str) -> GraphError:
    """The 190 error for a token that does not work (Facebook's subcodes)."""
    return fb.token_error(reason, message)
