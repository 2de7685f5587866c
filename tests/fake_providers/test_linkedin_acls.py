"""The LinkedIn ``roleAssignee`` finder of ``organizationAcls`` through HTTP: which
organizations the member administers (or did), its scopes, its version header, what
``admin_removed``/``admin_added`` do to it, and paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fp_support import REDIRECT, ManualClock
from test_linkedin_api import VERSION, denied, exactly, token
from test_linkedin_oauth import LinkedIn

from conntrack import load_profile
from fake_providers import Core, create_app

ACLS = "/api.linkedin.com/rest/organizationAcls"
LEGACY = "/api.linkedin.com/v2/organizationAcls"
ACLS_DENIED = denied("partnerApiOrganizationAcls.FINDER-roleAssignee.20241101")


@pytest.fixture
def li(core: Core, client: httpx.AsyncClient) -> LinkedIn:
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT], name="Scheduly")
    return LinkedIn(core, client, app, core.create_account("linkedin", pages=3))


async def acls(
    li: LinkedIn,
    value: str | None,
    *,
    path: str = ACLS,
    version: str | None = VERSION,
    **params: str,
) -> httpx.Response:
    headers = {"X-Restli-Protocol-Version": "2.0.0"}
    if value is not None:
        headers["Authorization"] = f"Bearer {value}"
    if version is not None:
        headers["LinkedIn-Version"] = version
    return await li.client.get(path, params={"q": "roleAssignee", **params}, headers=headers)


def orgs(body: dict[str, Any]) -> list[str]:
    return [str(e["organization"]) for e in body["elements"]]


def urns(li: LinkedIn, *indexes: int) -> list[str]:
    return [f"urn:li:organization:{li.account.pages[i].id}" for i in indexes]


async def test_the_members_organizations_in_linkedins_shape(li: LinkedIn) -> None:
    r = await acls(li, await token(li), role="ADMINISTRATOR", state="APPROVED")
    assert r.status_code == 200 and r.headers["x-restli-protocol-version"] == "2.0.0"
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["paging"] == {"start": 0, "count": 10, "links": []}
    assert orgs(body) == urns(li, 0, 1, 2)
    person = f"urn:li:person:{li.account.id}"
    first = body["elements"][0]
    assert list(first) == [
        "roleAssignee",
        "state",
        "lastModified",
        "role",
        "created",
        "organization",
    ]
    assert (first["roleAssignee"], first["role"], first["state"]) == (
        person,
        "ADMINISTRATOR",
        "APPROVED",
    )
    assert first["created"]["actor"] == person and isinstance(first["created"]["time"], int)
    oldest = min(p.created_time for p in li.account.pages[0].posts)
    assert first["created"]["time"] == int(oldest.timestamp() * 1000)
    assert first["lastModified"] == first["created"]


async def test_no_filters_and_the_legacy_path(li: LinkedIn) -> None:
    value = await token(li)
    assert orgs((await acls(li, value)).json()) == urns(li, 0, 1, 2)
    legacy = await acls(li, value, path=LEGACY, version=None)  # unversioned
    assert legacy.status_code == 200 and legacy.json() == (await acls(li, value)).json()


async def test_a_stranger_sees_only_its_own_rows(li: LinkedIn) -> None:
    li.account = li.core.create_account("linkedin", pages=0)  # administers nothing
    r = await acls(li, await token(li), state="APPROVED")
    assert r.status_code == 200 and r.json()["elements"] == []


async def test_a_role_the_fake_does_not_hold_lists_nothing(li: LinkedIn) -> None:
    r = await acls(li, await token(li), role="ANALYST")
    assert r.status_code == 200 and r.json()["elements"] == []


async def test_bad_finder_parameters(li: LinkedIn) -> None:
    value = await token(li)
    for params in ({"q": "organization"}, {"role": "OWNER"}, {"state": "GONE"}, {"count": "x"}):
        r = await acls(li, value, **params)
        assert r.status_code == 400 and r.json()["code"] == "ILLEGAL_ARGUMENT", params


# -- scopes and versions ----------------------------------------------------------------


@pytest.mark.parametrize("scope", ["rw_organization_admin", "r_organization_admin"])
async def test_either_admin_scope_is_enough(li: LinkedIn, scope: str) -> None:
    r = await acls(li, await token(li, scope=f"r_organization_social {scope}"))
    assert r.status_code == 200 and orgs(r.json()) == urns(li, 0, 1, 2)


async def test_without_an_admin_scope_access_denied(li: LinkedIn) -> None:
    value = await token(li, scope="r_organization_social w_organization_social")
    exactly(await acls(li, value), 403, ACLS_DENIED)
    legacy = await acls(li, value, path=LEGACY, version=None)
    exactly(legacy, 403, denied("organizationAcls.FINDER-roleAssignee.NO_VERSION"))


async def test_a_revoked_admin_scope_is_access_denied(li: LinkedIn) -> None:
    value = await token(li)
    li.core.revoke_permission(li.account.id, li.app.client_id, "rw_organization_admin")
    exactly(await acls(li, value), 403, ACLS_DENIED)


async def test_the_version_header(li: LinkedIn) -> None:
    value = await token(li)
    r = await acls(li, value, version=None)
    assert r.status_code == 400 and r.json()["code"] == "VERSION_MISSING"
    r = await acls(li, value, version="202306")
    assert r.status_code == 426 and r.json()["code"] == "NONEXISTENT_VERSION"


async def test_token_errors(li: LinkedIn) -> None:
    assert (await acls(li, None)).status_code == 401
    r = await acls(li, "AQVnever-issued")
    assert r.status_code == 401 and r.json()["serviceErrorCode"] == 65600


# -- admin roles ------------------------------------------------------------------------


async def test_a_lost_admin_role_is_revoked_and_a_new_one_approved(
    li: LinkedIn, clock: ManualClock
) -> None:
    value = await token(li)
    page = li.account.pages[1].id
    event = li.core.fire_event(li.account.id, "admin_removed", page_id=page)
    assert orgs((await acls(li, value, state="APPROVED")).json()) == urns(li, 0, 2)
    revoked = (await acls(li, value, state="REVOKED")).json()["elements"]
    assert [e["organization"] for e in revoked] == urns(li, 1)
    assert revoked[0]["lastModified"]["time"] == int(event.mark.at.timestamp() * 1000)
    everything = (await acls(li, value)).json()["elements"]
    assert [e["state"] for e in everything] == ["APPROVED", "REVOKED", "APPROVED"]
    li.core.fire_event(li.account.id, "admin_added", page_id=page)
    assert orgs((await acls(li, value, state="APPROVED")).json()) == urns(li, 0, 1, 2)


async def test_admin_removed_everywhere(li: LinkedIn) -> None:
    value = await token(li)
    li.core.fire_event(li.account.id, "admin_removed")
    assert (await acls(li, value, state="APPROVED")).json()["elements"] == []
    assert orgs((await acls(li, value, state="REVOKED")).json()) == urns(li, 0, 1, 2)


async def test_a_page_someone_else_made_the_member_admin_of(li: LinkedIn) -> None:
    other = li.core.create_account("linkedin", pages=1)
    page = other.pages[0].id
    event = li.core.fire_event(li.account.id, "admin_added", page_id=page)
    body = (await acls(li, await token(li), state="APPROVED")).json()
    assert orgs(body) == [*urns(li, 0, 1, 2), f"urn:li:organization:{page}"]
    added = body["elements"][-1]
    assert added["created"]["time"] == int(event.mark.at.timestamp() * 1000)
    li.account = other  # the page's creator still administers it too
    assert orgs((await acls(li, await token(li))).json()) == [f"urn:li:organization:{page}"]


# -- paging and limits ------------------------------------------------------------------


async def test_paging_with_start_and_count(li: LinkedIn) -> None:
    value = await token(li)
    r = await acls(li, value, start="1", count="1")
    assert r.json()["paging"] == {"start": 1, "count": 1, "links": []}
    assert orgs(r.json()) == urns(li, 1)
    assert orgs((await acls(li, value, start="2", count="5")).json()) == urns(li, 2)
    assert (await acls(li, value, start="3")).json()["elements"] == []


async def test_the_application_day_limit_counts_acl_calls(clock: ManualClock) -> None:
    profile = load_profile("linkedin", {"app_day_limit": 1})
    core = Core(clock, seed=4, profiles={"linkedin": profile})
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT])
        li = LinkedIn(core, http, app, core.create_account("linkedin"))
        value = await token(li)
        assert (await acls(li, value)).status_code == 200
        r = await acls(li, value)
        assert r.status_code == 429 and r.json()["code"] == "TOO_MANY_REQUESTS"


async def test_other_methods_are_not_allowed(li: LinkedIn) -> None:
    r = await li.client.delete(ACLS)
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
