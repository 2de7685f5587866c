"""The LinkedIn Organization Lookup ``GET /rest/organizations/{id}`` through HTTP: the
name behind an ``organizationAcls`` URN, its scopes, the administrator check (and what
``admin_removed``/``admin_added`` do to it), version header, token errors, day limit."""

from __future__ import annotations

import httpx
import pytest
from fp_support import REDIRECT, ManualClock
from test_linkedin_acls import acls
from test_linkedin_api import VERSION, denied, exactly, token
from test_linkedin_oauth import LinkedIn

from conntrack import load_profile
from fake_providers import Core, create_app

REST = "/api.linkedin.com/rest/organizations/"
LEGACY = "/api.linkedin.com/v2/organizations/"
REST_DENIED = denied("partnerApiOrganizations.GET.20241101")


@pytest.fixture
def li(core: Core, client: httpx.AsyncClient) -> LinkedIn:
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT], name="Scheduly")
    return LinkedIn(core, client, app, core.create_account("linkedin", pages=2))


async def get(
    li: LinkedIn,
    value: str | None,
    org_id: str,
    *,
    path: str = REST,
    version: str | None = VERSION,
) -> httpx.Response:
    headers = {"X-Restli-Protocol-Version": "2.0.0"}
    if value is not None:
        headers["Authorization"] = f"Bearer {value}"
    if version is not None:
        headers["LinkedIn-Version"] = version
    return await li.client.get(path + org_id, headers=headers)


def not_admin(org_id: str) -> str:
    return (
        '{"status":403,"serviceErrorCode":100,"code":"ACCESS_DENIED","message":"Viewer '
        "don't have permission to the ADMIN_ONLY VisibilityReduction for "
        f'urn:li:organization:{org_id}"}}'
    )


async def test_the_acl_urn_names_the_page_the_core_holds(li: LinkedIn) -> None:
    value = await token(li)
    listed = (await acls(li, value, role="ADMINISTRATOR", state="APPROVED")).json()
    for element, page in zip(listed["elements"], li.account.pages, strict=True):
        org_id = str(element["organization"]).rsplit(":", 1)[-1]
        r = await get(li, value, org_id)
        assert r.status_code == 200 and r.headers["x-restli-protocol-version"] == "2.0.0"
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["localizedName"] == page.name
        assert body["name"]["localized"]["en_US"] == page.name
        assert str(body["id"]) == page.id == org_id and isinstance(body["id"], int)


async def test_linkedins_shape(li: LinkedIn) -> None:
    body = (await get(li, await token(li), li.account.pages[0].id)).json()
    assert list(body) == [
        "vanityName",
        "localizedName",
        "groups",
        "versionTag",
        "defaultLocale",
        "alternativeNames",
        "specialties",
        "localizedSpecialties",
        "industries",
        "name",
        "primaryOrganizationType",
        "id",
        "autoCreated",
    ]
    vanity = body["vanityName"]
    assert vanity and vanity == vanity.lower() and " " not in vanity
    assert body["name"]["preferredLocale"] == body["defaultLocale"]


async def test_the_legacy_path_answers_the_same(li: LinkedIn) -> None:
    value = await token(li)
    org_id = li.account.pages[1].id
    legacy = await get(li, value, org_id, path=LEGACY, version=None)
    assert legacy.status_code == 200 and legacy.json() == (await get(li, value, org_id)).json()


# -- scopes and roles -------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["rw_organization_admin", "r_organization_admin"])
async def test_either_admin_scope_is_enough(li: LinkedIn, scope: str) -> None:
    page = li.account.pages[0]
    r = await get(li, await token(li, scope=f"r_organization_social {scope}"), page.id)
    assert r.status_code == 200 and r.json()["localizedName"] == page.name


async def test_without_an_admin_scope_access_denied(li: LinkedIn) -> None:
    value = await token(li, scope="r_organization_social w_organization_social")
    org_id = li.account.pages[0].id
    exactly(await get(li, value, org_id), 403, REST_DENIED)
    legacy = await get(li, value, org_id, path=LEGACY, version=None)
    exactly(legacy, 403, denied("organizations.GET.NO_VERSION"))


async def test_a_revoked_admin_scope_is_access_denied(li: LinkedIn) -> None:
    value = await token(li)
    li.core.revoke_permission(li.account.id, li.app.client_id, "rw_organization_admin")
    exactly(await get(li, value, li.account.pages[0].id), 403, REST_DENIED)


async def test_someone_elses_organization_is_admin_only(li: LinkedIn) -> None:
    other = li.core.create_account("linkedin", pages=1).pages[0].id
    exactly(await get(li, await token(li), other), 403, not_admin(other))


async def test_admin_removed_denies_and_admin_added_restores(li: LinkedIn) -> None:
    value = await token(li)
    kept, lost = li.account.pages[0].id, li.account.pages[1].id
    li.core.fire_event(li.account.id, "admin_removed", page_id=lost)
    exactly(await get(li, value, lost), 403, not_admin(lost))
    assert (await get(li, value, kept)).status_code == 200
    li.core.fire_event(li.account.id, "admin_added", page_id=lost)
    assert (await get(li, value, lost)).json()["localizedName"] == li.account.pages[1].name


async def test_unknown_and_malformed_ids(li: LinkedIn, core: Core) -> None:
    value = await token(li)
    r = await get(li, value, "9" * 17)
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    facebook = core.create_account("facebook", pages=1).pages[0].id  # not LinkedIn's
    r = await get(li, value, facebook)
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    r = await get(li, value, "urn:li:organization:1")
    assert r.status_code == 400 and r.json()["code"] == "ILLEGAL_ARGUMENT"
    r = await li.client.get(REST.rstrip("/"), headers={"Authorization": f"Bearer {value}"})
    assert r.status_code == 404 and r.json()["code"] == "RESOURCE_NOT_FOUND"


# -- versions, tokens, limits -----------------------------------------------------------


async def test_the_version_header(li: LinkedIn) -> None:
    value = await token(li)
    org_id = li.account.pages[0].id
    r = await get(li, value, org_id, version=None)
    assert r.status_code == 400 and r.json()["code"] == "VERSION_MISSING"
    r = await get(li, value, org_id, version="202306")
    assert r.status_code == 426 and r.json()["code"] == "NONEXISTENT_VERSION"


async def test_token_errors(li: LinkedIn) -> None:
    org_id = li.account.pages[0].id
    assert (await get(li, None, org_id)).status_code == 401
    r = await get(li, "AQVnever-issued", org_id)
    assert r.status_code == 401 and r.json()["serviceErrorCode"] == 65600


async def test_the_application_day_limit_counts_organization_calls(clock: ManualClock) -> None:
    profile = load_profile("linkedin", {"app_day_limit": 1})
    core = Core(clock, seed=4, profiles={"linkedin": profile})
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT])
        li = LinkedIn(core, http, app, core.create_account("linkedin"))
        value = await token(li)
        org_id = li.account.pages[0].id
        assert (await get(li, value, org_id)).status_code == 200
        r = await get(li, value, org_id)
        assert r.status_code == 429 and r.json()["code"] == "TOO_MANY_REQUESTS"


async def test_other_methods_are_not_allowed(li: LinkedIn) -> None:
    r = await li.client.delete(REST + li.account.pages[0].id)
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
