"""The API on ``api.linkedin.com`` that the engine and integrations read.

- ``GET /v2/userinfo``, ``GET /v2/me``, ``GET /rest/me`` (versioned) and ``GET
  /v2/emailAddress?q=members`` — who the member is, for the scopes granted
  (``_members``);
- ``GET /rest/posts?q=author&author=urn:li:organization:{id}`` — an organization's
  posts, what the sync reads: ``r_organization_social``, and the member must
  administer the organization (a Designated Admin), else 403 ``ACCESS_DENIED``.
  Versioned: ``LinkedIn-Version: YYYYMM`` is required (400 without it [U]); a version
  older than the profile's ``oldest_api_version``, or newer than the clock's month,
  answers 426 ``NONEXISTENT_VERSION``. ``X-Restli-Protocol-Version`` is not enforced;
- ``GET /rest/organizationAcls?q=roleAssignee`` (versioned) and the legacy
  ``GET /v2/organizationAcls?q=roleAssignee`` — the organizations the member
  administers or did (``_acls``);
- ``GET /rest/organizations/{id}`` (versioned) and the legacy ``GET
  /v2/organizations/{id}`` — an organization the member administers, its name
  (``_organizations``).

Every call first resolves its token (``Authorization: Bearer``, or the legacy
``oauth2_access_token`` parameter) through the core; see :func:`member_token` for how
the core's reasons become LinkedIn's 401s. The profile's ``app_day_limit`` (0: none)
caps ``/rest``, ``organizationAcls`` and ``organizations`` calls per app and UTC day
with LinkedIn's 429.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from quart import Response, current_app, request

from ..core import Page, Reason, Token
from . import _errors as e
from ._acls import role_assignee
from ._http import PROTOCOL, bearer, core, json_response
from ._members import email_address, me, userinfo
from ._organizations import organization

#: Reading an organization's posts needs this scope.
READ_ORGANIZATION = "r_organization_social"
#: Reading the member's own posts needs this one.
READ_MEMBER = "r_member_social"
VERSION = re.compile(r"(\d{4})(\d{2})(?:\.(\d{2}))?")
MAX_COUNT = 100
#: The paths served (segments after the host).
ROUTES = (
    ["v2", "userinfo"],
    ["v2", "me"],
    ["v2", "emailAddress"],
    ["rest", "me"],
    ["rest", "posts"],
    ["rest", "organizationAcls"],
    ["v2", "organizationAcls"],
)


def member_token() -> Token:
    """The working access token of this call, or LinkedIn's 401 for it.

    No token: the empty-token body. Never issued, or not an access token: 65600.
    Expired: 65602. Any other death (revoked, app removed, password changed) and a
    member account that is locked, suspended, restricted or at a checkpoint: 65601 [U
    for the account flags]. With ``revoked_after_refresh_quirk`` a token made by a
    refresh answers 65601 for that long after it was issued [obs].
    """
    value = bearer()
    if not value:
        raise e.empty_token()
    c = core()
    check = c.check_token(value, provider=PROTOCOL)
    token = check.token
    if token is None or not c.is_access_token(token):
        raise e.token_error(Reason.MALFORMED)
    if check.reason is not None:
        raise e.token_error(check.reason)
    quirk = c.profile(PROTOCOL).lifetime("revoked_after_refresh_quirk")
    if token.origin == "refresh" and quirk and c.now() < token.issued_at + quirk:
        raise e.token_error(Reason.REVOKED)
    state = c.account_state(token.account_id)
    if state.locked or state.suspended or state.restricted or state.checkpoint:
        raise e.token_error(Reason.REVOKED)
    return token


def api_version(now: datetime) -> str:
    """The ``LinkedIn-Version`` of this call, as LinkedIn names it in messages
    (``202411`` → ``20241101``), or its 400/426."""
    raw = request.headers.get("LinkedIn-Version", "").strip()
    if not raw:
        raise e.version_missing()
    m = VERSION.fullmatch(raw)
    if m is None:
        raise e.not_active(raw)
    year, month, revision = m.group(1), m.group(2), m.group(3) or "01"
    named = f"{year}{month}{revision}"
    oldest = str(core().profile(PROTOCOL).get("oldest_api_version", "000000"))[:6]
    if not 1 <= int(month) <= 12 or year + month < oldest:
        raise e.not_active(named)
    if int(year + month) > now.year * 100 + now.month:
        raise e.not_active(named)  # not released yet
    return named


def count_call(token: Token) -> None:
    """LinkedIn's daily application limit (profile ``app_day_limit``, 0: none)."""
    c = core()
    limit = c.profile(PROTOCOL).get("app_day_limit", 0)
    if not isinstance(limit, int) or limit <= 0:
        return
    calls: dict[tuple[str, str], int] = current_app.config.setdefault("LINKEDIN_DAY_CALLS", {})
    key = (token.client_id, c.now().date().isoformat())
    if calls.get(key, 0) >= limit:
        raise e.day_limit()
    calls[key] = calls.get(key, 0) + 1


async def dispatch(method: str, parts: list[str]) -> Response:
    """Route one API call (path segments after the host)."""
    if parts not in ROUTES and not is_organization(parts):
        raise e.no_resource()
    if method != "GET":
        raise e.method_not_allowed(method)
    token = member_token()
    c = core()
    account = c.account(token.account_id)
    assert account is not None
    if parts == ["v2", "userinfo"]:
        return json_response(userinfo(token, account))
    if parts == ["v2", "me"]:
        return json_response(me(token, account))
    if parts == ["v2", "emailAddress"]:
        return json_response(email_address(token, account))
    version = api_version(c.now()) if parts[0] == "rest" else None
    count_call(token)
    if parts == ["rest", "me"]:
        assert version is not None
        return json_response(
            me(token, account, version), headers={"X-RestLi-Protocol-Version": "2.0.0"}
        )
    if is_organization(parts):
        found = organization(token, parts[2], version)
        return json_response(found, headers={"X-RestLi-Protocol-Version": "2.0.0"})
    if parts[1] == "organizationAcls":
        page = window(request.args.get("start"), request.args.get("count"))
        found = role_assignee(token, account, version, page)
        return json_response(found, headers={"X-RestLi-Protocol-Version": "2.0.0"})
    assert version is not None
    return json_response(posts(token, version), headers={"X-RestLi-Protocol-Version": "2.0.0"})


def is_organization(parts: list[str]) -> bool:
    """``/rest/organizations/{id}`` or ``/v2/organizations/{id}``."""
    return len(parts) == 3 and parts[0] in ("rest", "v2") and parts[1] == "organizations"


def posts(token: Token, version: str) -> dict[str, Any]:
    """The ``author`` finder of ``/rest/posts``: an organization's posts, newest first."""
    args = request.args
    if args.get("q") != "author":
        raise e.illegal_argument("Invalid query parameter: q must be author")
    author = args.get("author", "")
    if not author:
        raise e.illegal_argument("Invalid query parameter: author is required")
    c = core()
    denied = e.access_denied("partnerApiPostsExternal", "FINDER-author", version)
    scopes = c.scopes_now(token)
    kind, ident = urn(author)
    items: list[dict[str, Any]] = []
    if kind == "organization":
        page = c.page(ident)
        if READ_ORGANIZATION not in scopes or page is None or token.account_id not in page.admins:
            raise denied
        items = [element(author, page, i) for i in range(len(page.posts))]
    elif kind == "person":
        if ident != token.account_id or READ_MEMBER not in scopes:
            raise denied
    else:
        raise e.illegal_argument(f"Invalid author URN: {author}")
    start, count = window(args.get("start"), args.get("count"))
    return {
        "paging": {"start": start, "count": count, "links": [], "total": len(items)},
        "elements": items[start : start + count],
    }


def urn(value: str) -> tuple[str, str]:
    """``urn:li:organization:123`` → ``("organization", "123")``; ``("", "")`` if not a URN."""
    parts = value.split(":")
    if len(parts) == 4 and parts[0] == "urn" and parts[1] == "li" and parts[3]:
        return parts[2], parts[3]
    return "", ""


def window(start: str | None, count: str | None) -> tuple[int, int]:
    try:
        first = max(0, int(start or "0"))
        size = max(1, min(MAX_COUNT, int(count or "10")))
    except ValueError:
        raise e.illegal_argument(
            "Invalid query parameter: start and count must be numbers"
        ) from None
    return first, size


def element(author: str, page: Page, index: int) -> dict[str, Any]:
    post = page.posts[index]
    at = int(post.created_time.timestamp() * 1000)
    return {
        "isReshareDisabledByAuthor": False,
        "createdAt": at,
        "lifecycleState": "PUBLISHED",
        "lastModifiedAt": at,
        "visibility": "PUBLIC",
        "publishedAt": at,
        "author": author,
        "id": f"urn:li:share:{post.id.rpartition('_')[2]}",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "commentary": post.message,
        "lifecycleStateInfo": {"isEditedByAuthor": False},
    }
