"""What client libraries run inside the fakes (tests/client_libraries/) found the fake
LinkedIn answering differently from LinkedIn, each fixed and held here.

- Field projections on the lite profile: social-core asks for
  ``/v2/me?projection=(firstName,id,lastName)`` and httpx-oauth for ``projection=(id)``;
  LinkedIn answers only the fields named ("Field projections control how much of an
  entity's data is displayed", learn.microsoft.com, LinkedIn API guide, "Field
  Projections"), the fake answered all of them, so a client that forgot a field in its
  projection worked against the fake and not against LinkedIn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fp_support import REDIRECT, ManualClock
from test_linkedin_oauth import LinkedIn

from conntrack import load_profile
from fake_providers import Core, create_app

API = "/api.linkedin.com"
LEGACY = "r_liteprofile r_emailaddress"


@pytest.fixture
async def legacy(clock: ManualClock) -> AsyncIterator[LinkedIn]:
    """A LinkedIn whose app kept the legacy Sign In product (``r_liteprofile``)."""
    scopes = [*load_profile("linkedin").get("app_scopes", []), *LEGACY.split()]
    profiles = {"linkedin": load_profile("linkedin", {"app_scopes": scopes})}
    core = Core(clock, seed=5, profiles=profiles)
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT], name="Scheduly")
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield LinkedIn(core, http, app, core.create_account("linkedin", name="Ada Lovelace"))


async def me(li: LinkedIn, path: str = "/v2/me", **params: str) -> dict[str, Any]:
    token = await li.tokens(scope=LEGACY)
    headers = {"Authorization": f"Bearer {token['access_token']}", "LinkedIn-Version": "202411"}
    r = await li.client.get(f"{API}{path}", params=params, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_projection_narrows_the_lite_profile(legacy: LinkedIn) -> None:
    assert await me(legacy, projection="(id)") == {"id": legacy.account.id}
    social_core = await me(legacy, projection="(firstName,id,lastName)")
    assert set(social_core) == {"firstName", "id", "lastName"}
    assert social_core["firstName"]["localized"] == {"en_US": "Ada"}


async def test_without_a_projection_every_field_comes(legacy: LinkedIn) -> None:
    assert set(await me(legacy)) == {
        "localizedLastName",
        "lastName",
        "firstName",
        "id",
        "localizedFirstName",
    }


async def test_nested_projections_and_the_rest_li_1_spelling(legacy: LinkedIn) -> None:
    nested = await me(
        legacy, projection="(id,localizedFirstName,profilePicture(displayImage~:playableStreams))"
    )
    # profilePicture is not served by the fake: a projection never invents a field.
    assert set(nested) == {"id", "localizedFirstName"}
    assert set(await me(legacy, fields="id,localizedLastName")) == {"id", "localizedLastName"}
    assert set(await me(legacy, "/rest/me", projection="(id)")) == {"id"}
