"""Instagram through Facebook Login reads the account through its Page, and Facebook
lets only someone who can perform tasks on that Page do so ("your Facebook account must
be able to perform Tasks on the Facebook Page connected to the Instagram account",
Instagram API with Facebook Login, Get Started). When the media answer 100/33 (the token
no longer sees the account), the client tells the two causes apart with the page roles,
as the Facebook Page client does after a ``(#200)``: the Page gone from ``me/accounts``
while ``pages_show_list`` is granted is a role lost (``admin_removed``: Meltwater, "the
user who connected … no longer has Admin status"); the Page still listed without an
Instagram account is ``not_eligible`` (unlinked)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx

from conntrack import Reason, TravelClock, load_profile
from conntrack.clients import AppCredentials, ClientContext, TokenInfo, consent
from conntrack.clients.facebook import FacebookClient
from fake_providers import Core, create_app

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REDIRECT = "https://app.example/callback"
BASE = "http://conntrack.test"


@asynccontextmanager
async def world() -> AsyncIterator[tuple[Core, FacebookClient, httpx.AsyncClient, str]]:
    clock = TravelClock(wall=lambda: START)
    core = Core(clock, seed=3)
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    account = core.create_account("facebook", pages=1, linked_instagram=True)
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        ctx = ClientContext(
            http,
            BASE,
            AppCredentials(app.client_id, app.client_secret, REDIRECT),
            load_profile("instagram-facebook"),
            clock,
            resource=account.pages[0].id,
        )
        yield core, FacebookClient(ctx), http, account.id


async def connect(client: FacebookClient, http: httpx.AsyncClient, account_id: str) -> TokenInfo:
    result = await consent(http, client.authorize_url("s1"), account_id=account_id)
    assert result.code is not None
    return await client.connect(result.code, "s1")


async def test_a_page_role_lost_is_admin_removed() -> None:
    async with world() as (core, client, http, account_id):
        info = await connect(client, http, account_id)
        assert (await client.read(info)).ok
        core.fire_event(account_id, "admin_removed", page_id=client.page_id)
        answer = await client.read(info)
        assert answer.verdict.reason is Reason.ADMIN_REMOVED, answer.verdict


async def test_a_login_after_the_role_was_lost_reads_admin_removed_too() -> None:
    """The reconnect of the person who lost the role: its first read says why."""
    async with world() as (core, client, http, account_id):
        await connect(client, http, account_id)
        core.fire_event(account_id, "admin_removed", page_id=client.page_id)
        info = await connect(client, http, account_id)
        answer = await client.read(info)
        assert answer.verdict.reason is Reason.ADMIN_REMOVED, answer.verdict


async def test_an_account_unlinked_from_a_page_still_administered_is_not_eligible() -> None:
    async with world() as (core, client, http, account_id):
        info = await connect(client, http, account_id)
        core.fire_event(account_id, "page_unlinked", page_id=client.page_id)
        answer = await client.read(info)
        assert answer.verdict.reason is Reason.NOT_ELIGIBLE, answer.verdict
