"""The control API under ``/_conntrack/``."""

from __future__ import annotations

from typing import Any

import httpx
from fp_support import REDIRECT, START, FixedClock

from fake_providers import Core, create_app


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/_conntrack/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_apps(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/_conntrack/apps", json={"provider": "facebook", "redirect_uris": [REDIRECT]}
    )
    assert r.status_code == 201
    app = r.json()
    assert app["client_id"].isdigit() and len(app["client_secret"]) == 32
    assert app["redirect_uris"] == [REDIRECT]
    r = await client.post(
        "/_conntrack/apps",
        json={
            "provider": "facebook",
            "redirect_uris": [REDIRECT],
            "client_id": "111",
            "client_secret": "sek",
            "name": "Mine",
        },
    )
    assert r.json()["client_id"] == "111" and r.json()["name"] == "Mine"
    listed = (await client.get("/_conntrack/apps")).json()["data"]
    assert [a["client_id"] for a in listed] == [app["client_id"], "111"]


async def test_app_errors_name_the_field(client: httpx.AsyncClient) -> None:
    cases: list[tuple[Any, str | None]] = [
        ({"redirect_uris": [REDIRECT]}, "provider"),
        ({"provider": "facebook"}, "redirect_uris"),
        ({"provider": "facebook", "redirect_uris": "x"}, "redirect_uris"),
        ({"provider": "nope", "redirect_uris": [REDIRECT]}, "provider"),
        ({"provider": "facebook", "redirect_uris": [REDIRECT], "client_id": 5}, "client_id"),
        ([1, 2], None),
    ]
    for body, field in cases:
        r = await client.post("/_conntrack/apps", json=body)
        assert r.status_code == 400, body
        assert r.json()["error"]["field"] == field and r.json()["error"]["message"]
    r = await client.post("/_conntrack/apps", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["field"] is None


async def test_accounts(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/_conntrack/accounts", json={"provider": "facebook", "name": "Ada L", "pages": 2}
    )
    assert r.status_code == 201
    account = r.json()
    assert set(account) == {"id", "provider", "name", "email", "pages"}
    assert account["name"] == "Ada L" and len(account["pages"]) == 2
    assert set(account["pages"][0]) == {"id", "name"}
    assert (await client.get("/_conntrack/accounts")).json()["data"] == [account]
    one = (await client.get(f"/_conntrack/accounts/{account['id']}")).json()
    assert one["id"] == account["id"] and one["events"] == [] and one["grants"] == []
    r = await client.get("/_conntrack/accounts/404404")
    assert r.status_code == 404 and r.json()["error"]["field"] == "account_id"
    r = await client.post("/_conntrack/accounts", json={"provider": "facebook", "pages": "two"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "pages"


async def test_events(fb: Any) -> None:
    token = await fb.short_token()
    url = f"/_conntrack/accounts/{fb.account.id}/events"
    r = await fb.client.post(url, json={"type": "password_change"})
    assert r.status_code == 200
    body = r.json()
    assert body["account"] == fb.account.id and body["type"] == "password_change"
    assert body["at"] == "2026-01-05T09:00:00Z"
    assert (await fb.get("me", token)).json()["error"]["error_subcode"] == 460
    r = await fb.client.post(url, json={"type": "app_removed", "client_id": fb.app.client_id})
    assert r.status_code == 200 and r.json()["client_id"] == fb.app.client_id
    r = await fb.client.post(url, json={"type": "flood"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "type"
    r = await fb.client.post(url, json={"type": "app_removed", "client_id": "nope"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "client_id"
    r = await fb.client.post("/_conntrack/accounts/1/events", json={"type": "checkpoint"})
    assert r.status_code == 404


async def test_tokens_listing_shows_prefix_and_reason(fb: Any) -> None:
    token = await fb.short_token()
    await fb.client.post(
        f"/_conntrack/accounts/{fb.account.id}/events", json={"type": "checkpoint"}
    )
    r = await fb.client.get("/_conntrack/tokens")
    assert token not in r.text
    (listed,) = r.json()["data"]
    assert listed["kind"] == "user_short" and listed["account"] == fb.account.id
    assert listed["app"] == fb.app.client_id and listed["valid"] is False
    assert listed["reason"] == "checkpoint" and token.startswith(listed["token"].rstrip("…"))
    assert listed["issued_at"] == "2026-01-05T09:00:00Z"
    assert listed["expires_at"] == "2026-01-05T10:00:00Z"


async def test_clock(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_conntrack/clock")).json() == {"now": "2026-01-05T09:00:00Z"}
    r = await client.post("/_conntrack/clock/advance", json={"by": "60d"})
    assert r.json() == {"now": "2026-03-06T09:00:00Z"}
    r = await client.post("/_conntrack/clock/advance", json={"to": "2026-03-07T00:00:00Z"})
    assert r.json() == {"now": "2026-03-07T00:00:00Z"}
    r = await client.post("/_conntrack/clock/advance", json={"to": "2026-01-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "to"
    r = await client.post("/_conntrack/clock/advance", json={"by": "soon"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "by"
    r = await client.post("/_conntrack/clock/advance", json={})
    assert r.status_code == 400


async def test_virtual_clock_cannot_be_moved() -> None:
    core = Core(FixedClock())
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.post("/_conntrack/clock/advance", json={"by": "1d"})
    assert r.status_code == 409 and "virtual" in r.json()["error"]["message"]
    assert core.now() == START


async def test_state_and_unknown_route(client: httpx.AsyncClient) -> None:
    state = (await client.get("/_conntrack/state")).json()
    assert state["seq"] == 0 and state["apps"] == []
    r = await client.get("/_conntrack/nothing")
    assert r.status_code == 404 and "error" in r.json()
