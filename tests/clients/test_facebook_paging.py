"""The Facebook client reads every page of ``me/accounts``, not only the first.

The Graph pages ``me/accounts`` (25 Pages by default, at most 100 a request) and says
where the rest is in ``paging.next``. A person who manages many Pages (Traackr: "if you
are managing multiple Facebook pages") may find the connection's Page past the first
request: the page-role check after a ``(#200)`` and the search for the Instagram account
linked to the Page must follow ``paging.next``, or a Page the person still administers
looks like a lost role (``admin_removed``) or an Instagram account with no Page
(``not_eligible``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
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
PERMISSION_200 = "(#200) The user hasn't authorized the application to perform this action"


@asynccontextmanager
async def connected(profile: str) -> AsyncIterator[tuple[Core, FacebookClient, TokenInfo, str]]:
    """A person administering more Pages than one request of ``me/accounts`` answers
    (101 Pages, at most 100 a request; for Instagram 30, past the default 25), connected
    about the last one."""
    clock = TravelClock(wall=lambda: START)
    core = Core(clock, seed=5)
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    instagram = profile == "instagram-facebook"
    if instagram:
        account = core.create_account("facebook", pages=30, linked_instagram=True)
        page_id = account.pages[-1].id
    else:
        account = core.create_account("facebook", pages=100)
        page_id = core.create_account("facebook", pages=1).pages[0].id
        core.fire_event(account.id, "admin_added", page_id=page_id)
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        ctx = ClientContext(
            http,
            BASE,
            AppCredentials(app.client_id, app.client_secret, REDIRECT),
            load_profile(profile),
            clock,
            resource=page_id,
        )
        client = FacebookClient(ctx)
        result = await consent(http, client.authorize_url("s1"), account_id=account.id)
        assert result.code is not None
        info = await client.connect(result.code, "s1")
        yield core, client, info, account.id


def graph_with_two_pages_of_roles(page_id: str) -> Callable[[httpx.Request], httpx.Response]:
    """A Graph that answers the Page's posts with ``(#200)`` and lists the person's Pages
    over two requests, the connection's Page on the second (the fakes answer ``(#200)``
    only to someone who lost the role, so a role kept is played here)."""

    def handle(request: httpx.Request) -> httpx.Response:
        path, query = request.url.path, request.url.params
        if path.endswith(f"/{page_id}/posts"):
            return httpx.Response(403, json={"error": {"message": PERMISSION_200,
                                                       "type": "OAuthException", "code": 200}})  # fmt: skip
        if path.endswith("/me/accounts"):
            if query.get("after") == "c1":
                return httpx.Response(200, json={"data": [{"id": page_id, "tasks": ["MANAGE"]}]})
            nxt = request.url.copy_merge_params({"after": "c1"})
            first = [{"id": str(n), "tasks": ["MANAGE"]} for n in range(100)]
            return httpx.Response(200, json={"data": first, "paging": {"next": str(nxt)}})
        if path.endswith("/me/permissions"):
            return httpx.Response(200, json={"data": [{"permission": "pages_show_list",
                                                       "status": "granted"}]})  # fmt: skip
        return httpx.Response(404, json={"error": {"message": "unexpected", "code": 100}})

    return handle


async def test_a_page_past_the_first_request_is_still_administered() -> None:
    """A ``(#200)`` on a Page the person still administers, listed on the second request
    of me/accounts: the role check follows ``paging.next``, finds it, and the ``(#200)``
    keeps its meaning (permission_missing), not a lost role."""
    page_id = "900"
    transport = httpx.MockTransport(graph_with_two_pages_of_roles(page_id))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        ctx = ClientContext(
            http,
            BASE,
            AppCredentials("app", "secret", REDIRECT),
            load_profile("facebook"),
            TravelClock(wall=lambda: START),
            resource=page_id,
        )
        info = TokenInfo(access_token="EAA-token", expires_at=None, hard_expiry=None)
        answer = await FacebookClient(ctx).read(info)
    assert answer.status == 403 and answer.verdict.reason is Reason.PERMISSION_MISSING


async def test_a_role_lost_on_a_page_past_the_first_request_is_admin_removed() -> None:
    async with connected("facebook") as (core, client, info, account_id):
        assert client.page_id is not None
        core.fire_event(account_id, "admin_removed", page_id=client.page_id)
        answer = await client.read(info)
        assert answer.verdict.reason is Reason.ADMIN_REMOVED


async def test_the_instagram_account_of_a_page_past_the_first_request_is_found() -> None:
    """Instagram through Facebook Login: the account linked to the last of 30 Pages is
    found at connect and read, not taken for an account with no Page."""
    async with connected("instagram-facebook") as (_core, client, info, _account_id):
        assert client.target is not None
        answer = await client.read(info)
        assert answer.ok, answer.body
