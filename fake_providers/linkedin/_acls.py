"""Organization Access Control: which organizations the member holds a role on.

``GET /rest/organizationAcls?q=roleAssignee[&role=…][&state=…][&start=…&count=…]``
(versioned: ``LinkedIn-Version`` required) and the legacy unversioned
``GET /v2/organizationAcls?q=roleAssignee``, as LinkedIn's "Organization Access Control
by Role" page documents them: the ``roleAssignee`` finder answers the authenticated
member's role assignments, needs ``rw_organization_admin`` or ``r_organization_admin``
(else 403 ``ACCESS_DENIED`` "Not enough permissions to access:
partnerApiOrganizationAcls.FINDER-roleAssignee.{version}" [obs]; on ``/v2``
``organizationAcls.FINDER-roleAssignee.NO_VERSION`` [obs]).

Each element is ``{"roleAssignee","state","lastModified","role","created",
"organization"}`` in the order of LinkedIn's published sample; ``paging`` is
``{"start","count","links"}`` without ``total`` (as in that sample).

Where the rows come from: the core's pages. The fake only knows one role,
``ADMINISTRATOR`` (a Designated Admin). Every page the member ever administered — those
it created and those an ``admin_added`` or ``admin_removed`` event named — is a row:
``APPROVED`` while the member administers it, ``REVOKED`` ("previously approved, but then
revoked", LinkedIn's definition) once an ``admin_removed`` took it away. ``state=APPROVED``
therefore lists only what the member administers now. [U] whether the real finder
lists revoked rows when no ``state`` is given: documented states include ``REVOKED``, so
the fake lists them; a product must filter. [U] ``created.time`` for a page the member
created: its oldest post (the core keeps no page creation instant).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quart import request

from ..core import Account, EventType, Page, Token
from . import _errors as e
from ._http import core

#: Either scope lets the member read its own role assignments.
SCOPES = ("rw_organization_admin", "r_organization_admin")
#: The roles and role states LinkedIn documents (a filter outside them is a 400 [U]).
ROLES = (
    "ADMINISTRATOR",
    "DIRECT_SPONSORED_CONTENT_POSTER",
    "RECRUITING_POSTER",
    "LEAD_CAPTURE_ADMINISTRATOR",
    "LEAD_GEN_FORMS_MANAGER",
    "ANALYST",
    "CURATOR",
    "CONTENT_ADMINISTRATOR",
)
STATES = ("APPROVED", "REJECTED", "REQUESTED", "REVOKED")


def denied(version: str | None) -> e.ApiError:
    """The 403 without the scope: the /rest resource is named ``partnerApi…`` [obs]."""
    if version is None:
        return e.access_denied("organizationAcls", "FINDER-roleAssignee", "NO_VERSION")
    return e.access_denied("partnerApiOrganizationAcls", "FINDER-roleAssignee", version)


def role_assignee(
    token: Token, account: Account, version: str | None, window: tuple[int, int]
) -> dict[str, Any]:
    """The ``roleAssignee`` finder for ``token``'s member (``version`` None on ``/v2``;
    ``window`` the page asked for, ``(start, count)``)."""
    args = request.args
    if args.get("q") != "roleAssignee":
        raise e.illegal_argument("Invalid query parameter: q must be roleAssignee")
    if not any(s in core().scopes_now(token) for s in SCOPES):
        raise denied(version)
    role, state = args.get("role"), args.get("state")
    if role is not None and role not in ROLES:
        raise e.illegal_argument(f"Invalid value for query parameter role: {role}")
    if state is not None and state not in STATES:
        raise e.illegal_argument(f"Invalid value for query parameter state: {state}")
    start, count = window
    rows = [
        r
        for r in rows_of(account)
        if (role is None or r["role"] == role) and (state is None or r["state"] == state)
    ]
    return {
        "paging": {"start": start, "count": count, "links": []},
        "elements": rows[start : start + count],
    }


def rows_of(account: Account) -> list[dict[str, Any]]:
    """Every ``ADMINISTRATOR`` assignment the member holds or held, created pages first."""
    c = core()
    person = f"urn:li:person:{account.id}"
    pages: dict[str, Page] = {p.id: p for p in account.pages}
    added: dict[str, datetime] = {}
    changed: dict[str, datetime] = {}
    for event in account.events:
        if event.type is EventType.ADMIN_ADDED and event.page_id:
            page = c.page(event.page_id)
            if page is not None:
                pages.setdefault(page.id, page)
                added.setdefault(page.id, event.mark.at)
                changed[page.id] = event.mark.at
        elif event.type is EventType.ADMIN_REMOVED:
            for pid in [event.page_id] if event.page_id else list(pages):
                if pid in pages:
                    changed[pid] = event.mark.at
    rows = []
    for page in pages.values():
        created = added.get(page.id) or first_post(page) or c.now()
        modified = changed.get(page.id, created)
        rows.append(
            {
                "roleAssignee": person,
                "state": "APPROVED" if account.id in page.admins else "REVOKED",
                "lastModified": {"actor": person, "time": millis(modified)},
                "role": "ADMINISTRATOR",
                "created": {"actor": person, "time": millis(created)},
                "organization": f"urn:li:organization:{page.id}",
            }
        )
    return rows


def first_post(page: Page) -> datetime | None:
    return min((p.created_time for p in page.posts), default=None)


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)
