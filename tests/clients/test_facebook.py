"""The product's Facebook Page client against the in-process fake: a ``(#200)`` on the
Page is read with the page roles, so a person who lost their role shows as
``admin_removed`` and a missing permission stays ``permission_missing``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conntrack import Action, Reason, TravelClock, classify, load_profile
from conntrack.clients import AppCredentials, ClientContext, consent
from conntrack.clients.facebook import FacebookClient
from fake_providers import Core, create_app

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REDIRECT = "https://app.example/callback"
BASE = "http://conntrack.test"


@dataclass
class World:
    core: Core
    http: httpx.AsyncClient
    client: FacebookClient
    account_id: str
    page_id: str

    async def connect(self, **kw: Any) -> Any:
        url = self.client.authorize_url("s1")
        result = await consent(self.http, url, account_id=self.account_id, **kw)
        assert result.code is not None and result.state == "s1"
        return await self.client.connect(result.code, "s1")


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = TravelClock(wall=lambda: START)
    core = Core(clock, seed=11)
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    account = core.create_account("facebook", pages=1)
    page_id = account.pages[0].id
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        ctx = ClientContext(
            http,
            BASE,
            AppCredentials(app.client_id, app.client_secret, REDIRECT),
            load_profile("facebook"),
            clock,
            resource=page_id,
        )
        yield World(core, http, FacebookClient(ctx), account.id, page_id)


def test_the_classifier_alone_says_permission_missing_for_200() -> None:
    body = {
        "error": {
            "message": "(#200) The user hasn't authorized the application to perform this action",
            "type": "OAuthException",
            "code": 200,
        }
    }
    v = classify("facebook", 403, {}, body)
    assert (v.action, v.reason) == (Action.RECONNECT, Reason.PERMISSION_MISSING)


async def test_a_healthy_page_reads(world: World) -> None:
    info = await world.connect()
    assert (await world.client.read(info)).ok


async def test_admin_removed_after_200_is_admin_removed(world: World) -> None:
    info = await world.connect()
    world.core.fire_event(world.account_id, "admin_removed", page_id=world.page_id)
    answer = await world.client.read(info)
    assert answer.status == 403 and answer.body["error"]["code"] == 200
    assert answer.verdict.action is Action.RECONNECT
    assert answer.verdict.reason is Reason.ADMIN_REMOVED
    assert answer.verdict.code == "200" and "(#200)" in answer.verdict.message


async def test_a_missing_read_permission_stays_permission_missing(world: World) -> None:
    info = await world.connect()
    world.core.fire_event(
        world.account_id,
        "permission_revoked",
        client_id=world.client.app.client_id,
        permission="pages_read_engagement",
    )
    answer = await world.client.read(info)
    assert answer.status == 403 and answer.verdict.reason is Reason.PERMISSION_MISSING


async def test_without_pages_show_list_a_lost_role_cannot_be_told(world: World) -> None:
    """The roles cannot be listed without ``pages_show_list``: an empty list proves
    nothing, so the ``(#200)`` keeps its own meaning."""
    info = await world.connect()
    world.core.fire_event(
        world.account_id,
        "permission_revoked",
        client_id=world.client.app.client_id,
        permission="pages_show_list",
    )
    world.core.fire_event(world.account_id, "admin_removed", page_id=world.page_id)
    answer = await world.client.read(info)
    assert answer.status == 403 and answer.verdict.reason is Reason.PERMISSION_MISSING
