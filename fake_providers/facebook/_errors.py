"""Facebook's error bodies, exactly as the real Graph API writes them.

Pure functions from neutral causes (:class:`~fake_providers.core.Reason`, a code
problem) to a :class:`GraphError`: HTTP status, the JSON envelope and the
``WWW-Authenticate`` header. Messages are Facebook's own (PROVIDERS.md §1, and public
clients' logs where marked there); where Facebook's wording is unknown we leave the
optional fields (``error_user_title``/``error_user_msg``) out rather than invent them.

Bodies are serialized like Facebook's: compact, keys in Facebook's order, ``/``
escaped as ``\\/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..core import Reason

MALFORMED = "Invalid OAuth access token - Cannot parse access token"
#: [obs] A token ended on its own, subcode 467 (Magento social-login and
#: pdir/social-feed-bundle#48 logs of Facebook's answer).
LOGGED_OUT = "Error validating access token: The session is invalid because the user logged out."
PASSWORD_CHANGED = (
    "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons."
)
APP_REMOVED = "Error validating access token: The user has not authorized application {app_id}."
CHECKPOINT = (
    "You cannot access the app till you log in to www.facebook.com and follow the "
    "instructions given."
)
EXPIRED = (
    "Error validating access token: Session has expired on {expired}. The current time is {now}."
)
#: [obs] (PROVIDERS.md §1, 190/490) a blocking checkpoint: the account is locked.
LOCKED = "Error validating access token: The user is enrolled in a blocking, logged-in checkpoint"
#: [obs] A page token whose user is no longer an admin of the page (190/492; PROVIDERS.md
#: has no message): the Graph's words logged in snarfed/bridgy#596.
NOT_PAGE_ADMIN = "The user must be an administrator of the page in order to impersonate it."
#: [obs] Graph answer once data access has lapsed (subcode 493).
DATA_ACCESS = (
    "The access token is invalid since the user hasn't engaged the app in longer than {days} days."
)
NO_TOKEN_ME = "An active access token must be used to query information about the current user."
NO_TOKEN = "An access token is required to request this resource."
APP_TOKEN_SIGNATURE = "Invalid OAuth access token signature."

CODE_USED = "This authorization code has been used."
CODE_EXPIRED = "This authorization code has expired."
CODE_FORMAT = "Invalid verification code format."
REDIRECT_MISMATCH = (
    "Error validating verification code. Please make sure your redirect_uri is identical to "
    "the one you used in the OAuth dialog request"
)
CLIENT_SECRET = "Error validating client secret."
APP_ID = "Error validating application. Invalid application ID."
#: [obs] ``/oauth/access_token`` without a ``client_id`` parameter (code 101): logged by
#: authlib#5 and facebookarchive/php-graph-sdk#50. Facebook reads the app from the
#: parameters only, so a client sending HTTP Basic credentials instead gets this.
MISSING_CLIENT_ID = "Missing client_id parameter."

PERMISSION_200 = "(#200) The user hasn't authorized the application to perform this action"
PERMISSION_10 = "(#10) Application does not have permission for this action"
UNSUPPORTED_GET = (
    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due "
    "to missing permissions, or does not support this operation. Please read the Graph API "
    "documentation at https://developers.facebook.com/docs/graph-api"
)
UNKNOWN_PATH = "Unknown path components: {path}"
UNKNOWN_ERROR = "An unknown error has occurred."
#: (PROVIDERS.md §1, code 368 / subcode 1390008) the policy block of a restricted account.
RESTRICTED = "(#368) The action attempted has been deemed abusive or is otherwise disallowed"

# -- provider-wide faults ----------------------------------------------------------------
#: [obs] Code 2 with ``is_transient``, HTTP 500: the Graph is down (koala #425 logs it as
#: ``[HTTP 500]``; facepy #127, facebook-java-business-sdk #319 show the same body).
SERVICE_ERROR = "An unexpected error has occurred. Please retry your request later."
#: [obs] Code 4, the app-level rate limit (PROVIDERS.md §1), ``is_transient`` true.
APP_LIMIT = "(#4) Application request limit reached"
#: [obs] The HTTP status of ``(#4)``: 403 (facebook-android-sdk #582 logs
#: ``HttpStatus: 403, errorCode: 4``); PROVIDERS.md does not give one.
APP_LIMIT_STATUS = 403
#: ``X-App-Usage`` of an app over its limit (percentages, PROVIDERS.md's key order):
#: ``call_count`` at 100. [U] the two time figures while limited.
APP_USAGE_OVER = {"call_count": 100, "total_cputime": 0, "total_time": 0}

SUBCODES = {
    Reason.APP_REMOVED: 458,
    Reason.CHECKPOINT: 459,
    Reason.PASSWORD_CHANGED: 460,
    Reason.EXPIRED: 463,
    Reason.DATA_ACCESS_EXPIRED: 493,
    # [obs]/[U] (PROVIDERS.md §1): a blocking checkpoint or lock; no role on the page.
    Reason.LOCKED: 490,
    Reason.ADMIN_REMOVED: 492,
    # Facebook's subcode table: 467 "Invalid access token: access token has expired,
    # been revoked, or is otherwise invalid". A token ended on its own (the control API's
    # tokens/revoke; Facebook has no per-token revoke but the person's log-out).
    Reason.REVOKED: 467,
}


def dumps(data: Any) -> str:
    """JSON as Facebook writes it: compact, in insertion order, ``/`` escaped."""
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/")


@dataclass
class GraphError(Exception):
    """One Graph API error: status, ``error`` object fields, header kind."""

    status: int
    message: str
    code: int
    type: str = "OAuthException"
    subcode: int | None = None
    auth_error: str = "invalid_request"
    extra: dict[str, Any] = field(default_factory=dict)
    #: Written between ``type`` and ``code`` when set, as Facebook does for transient errors.
    is_transient: bool | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, trace_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.is_transient is not None:
            error["is_transient"] = self.is_transient
        error["code"] = self.code
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error.update(self.extra)
        error["fbtrace_id"] = trace_id
        return {"error": error}

    def www_authenticate(self) -> str:
        return f'OAuth "Facebook Platform" "{self.auth_error}" "{self.message}"'


def fb_time(dt: datetime, tz: str) -> str:
    """``Friday, 06-Mar-26 01:00:00 PST`` — how Facebook writes times in token errors."""
    local = dt.astimezone(ZoneInfo(tz))
    return local.strftime("%A, %d-%b-%y %H:%M:%S %Z")


def token_message(
    reason: Reason,
    *,
    app_id: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    tz: str = "America/Los_Angeles",
    data_access: timedelta | None = None,
) -> str:
    """The message for a token that does not work, for ``reason``."""
    if reason is Reason.PASSWORD_CHANGED:
        return PASSWORD_CHANGED
    if reason is Reason.APP_REMOVED:
        return APP_REMOVED.format(app_id=app_id)
    if reason is Reason.CHECKPOINT:
        return CHECKPOINT
    if reason is Reason.LOCKED:
        return LOCKED
    if reason is Reason.ADMIN_REMOVED:
        return NOT_PAGE_ADMIN
    if reason is Reason.REVOKED:
        return LOGGED_OUT
    if reason is Reason.EXPIRED and since is not None and now is not None:
        return EXPIRED.format(expired=fb_time(since, tz), now=fb_time(now, tz))
    if reason is Reason.DATA_ACCESS_EXPIRED:
        days = 90 if data_access is None else data_access.days
        return DATA_ACCESS.format(days=days)
    return MALFORMED


def token_error(reason: Reason, message: str) -> GraphError:
    """HTTP 400, ``OAuthException`` 190 with the reason's subcode (none when malformed)."""
    return GraphError(400, message, 190, subcode=SUBCODES.get(reason), auth_error="invalid_token")


def code_error(message: str, *, code: int = 100, subcode: int | None = None) -> GraphError:
    """An error of the code exchange (``/oauth/access_token``)."""
    return GraphError(400, message, code, subcode=subcode, auth_error="invalid_code")


def permission_error(code: int) -> GraphError:
    """``(#200)`` or ``(#10)``: HTTP 403 [obs]."""
    return GraphError(403, PERMISSION_200 if code == 200 else PERMISSION_10, code)


def unsupported(method: str, object_id: str) -> GraphError:
    """An object id the Graph does not know (``GraphMethodException`` 100/33)."""
    message = UNSUPPORTED_GET.format(method=method.lower(), id=object_id)
    return GraphError(400, message, 100, type="GraphMethodException", subcode=33)


def unknown_path(path: str) -> GraphError:
    return GraphError(400, UNKNOWN_PATH.format(path=path), 2500)


def missing_parameter(name: str) -> GraphError:
    return GraphError(400, f"(#100) The parameter {name} is required", 100)


def unknown_error() -> GraphError:
    """What the Graph answers when something goes wrong on its side (HTTP 500, code 1)."""
    return GraphError(500, UNKNOWN_ERROR, 1)


def restricted() -> GraphError:
    """A restricted account's policy block (code 368, subcode 1390008)."""
    return GraphError(400, RESTRICTED, 368, subcode=1390008)


def service_unavailable() -> GraphError:
    """An outage of the Graph: HTTP 500, code 2, ``is_transient: true``."""
    return GraphError(500, SERVICE_ERROR, 2, is_transient=True)


def app_rate_limit() -> GraphError:
    """The app over its rate limit: ``(#4)``, HTTP 403, ``is_transient: true``, and the
    ``X-App-Usage`` header at 100 %."""
    usage = json.dumps(APP_USAGE_OVER, separators=(",", ":"))
    return GraphError(
        APP_LIMIT_STATUS, APP_LIMIT, 4, is_transient=True, headers={"X-App-Usage": usage}
    )
