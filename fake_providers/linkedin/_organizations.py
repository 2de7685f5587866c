"""Organization Lookup: an administered organization by id, what gives a product the
name behind the URN the ``organizationAcls`` finder answers.

``GET /rest/organizations/{id}`` (versioned: ``LinkedIn-Version`` required) and the
legacy unversioned ``GET /v2/organizations/{id}``, as LinkedIn's "Organization Lookup"
page documents them ("Retrieve an Administered Organization"): a 3-legged token with
``rw_organization_admin`` (the page's permission; ``r_organization_admin``, which
``organizationAcls`` also takes, is accepted too [U]), and the member must be an
``ADMINISTRATOR`` of the organization. Non-administrators read public fields through
``organizationsLookup``, which the fake does not serve.

Answers:

- 200: the organization, keys in the order of LinkedIn's published sample
  (``vanityName``, ``localizedName``, ``groups``, ``versionTag``, ``defaultLocale``,
  ``alternativeNames``, ``specialties``, ``localizedSpecialties``, ``industries``,
  ``name``, ``primaryOrganizationType``, ``id``, ``autoCreated``); ``localizedName``
  and ``name.localized.en_US`` are the core page's name, ``id`` its numeric id,
  ``vanityName`` the name in lower case with ``-`` between words [U];
- 403 ``ACCESS_DENIED`` without either scope: "Not enough permissions to access:
  partnerApiOrganizations.GET.{version}" [U: named like ``partnerApiOrganizationAcls``
  and ``partnerApiPostsExternal``]; ``organizations.GET.NO_VERSION`` on ``/v2``;
- 403 ``ACCESS_DENIED`` for a member who does not administer it now (never did, or
  ``admin_removed``): "Viewer don't have permission to the ADMIN_ONLY
  VisibilityReduction for urn:li:organization:{id}" [obs: the message a member with a
  ``REVOKED`` administrator role got, PipedreamHQ/pipedream#21823];
- 404 ``NOT_FOUND`` for an id no LinkedIn organization has [U], 400
  ``ILLEGAL_ARGUMENT`` for an id that is not a number [U].
"""

from __future__ import annotations

import re
from typing import Any

from ..core import Page, Token
from . import _errors as e
from ._http import PROTOCOL, core

#: Either scope lets the member read the organizations it administers.
SCOPES = ("rw_organization_admin", "r_organization_admin")
#: [obs] The 403 for a member who is not (or no longer) an administrator.
NOT_ADMIN = "Viewer don't have permission to the ADMIN_ONLY VisibilityReduction for {urn}"
#: [U] An id no organization has.
NOT_FOUND = "Organization {id} does not exist"
LOCALE = {"country": "US", "language": "en"}


def denied(version: str | None) -> e.ApiError:
    """The 403 without an admin scope (``version`` None on ``/v2``)."""
    if version is None:
        return e.access_denied("organizations", "GET", "NO_VERSION")
    return e.access_denied("partnerApiOrganizations", "GET", version)


def not_admin(org_id: str) -> e.ApiError:
    return e.api_error(
        403, "ACCESS_DENIED", NOT_ADMIN.format(urn=f"urn:li:organization:{org_id}"), 100
    )


def organization(token: Token, org_id: str, version: str | None) -> dict[str, Any]:
    """``GET /organizations/{org_id}`` for ``token``'s member, or its error."""
    c = core()
    if not org_id.isdigit():
        raise e.illegal_argument(f"Invalid organization id: {org_id}")
    if not any(s in c.scopes_now(token) for s in SCOPES):
        raise denied(version)
    page = c.page(org_id)
    if page is None or not is_linkedin(page):
        raise e.api_error(404, "NOT_FOUND", NOT_FOUND.format(id=org_id))
    if token.account_id not in page.admins:
        raise not_admin(org_id)
    return body(page)


def is_linkedin(page: Page) -> bool:
    """Whether ``page`` is a LinkedIn organization (the core holds every provider's)."""
    c = core()
    creator = c.account(page.admin_id)
    return creator is not None and c.protocol_of(creator.provider) == PROTOCOL


def vanity(name: str) -> str:
    """[U] The page's public path as LinkedIn derives it: ``Acme Corp.`` → ``acme-corp``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "company"


def body(page: Page) -> dict[str, Any]:
    """The organization as its administrator reads it."""
    return {
        "vanityName": vanity(page.name),
        "localizedName": page.name,
        "groups": [],
        "versionTag": "0",
        "defaultLocale": dict(LOCALE),
        "alternativeNames": [],
        "specialties": [],
        "localizedSpecialties": [],
        "industries": [],
        "name": {"localized": {"en_US": page.name}, "preferredLocale": dict(LOCALE)},
        "primaryOrganizationType": "NONE",
        "id": int(page.id) if page.id.isdigit() else page.id,
        "autoCreated": False,
    }
