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
    assert set(account) == {"id", "provider", "name", "email", "type", "linked_page", "pages"}
    assert account["type"] == "business" and account["linked_page"] is None
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


async def test_app_publishing_status(client: httpx.AsyncClient) -> None:
    body = {"provider": "google", "redirect_uris": [REDIRECT], "publishing_status": "testing"}
    r = await client.post("/_conntrack/apps", json=body)
    assert r.status_code == 201 and r.json()["publishing_status"] == "testing"
    cid = r.json()["client_id"]
    r = await client.patch(f"/_conntrack/apps/{cid}", json={"publishing_status": "production"})
    assert r.status_code == 200 and r.json()["publishing_status"] == "production"
    r = await client.post("/_conntrack/apps", json={**body, "publishing_status": "beta"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "publishing_status"
    r = await client.patch("/_conntrack/apps/nope", json={"publishing_status": "testing"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "client_id"


async def test_accounts_with_type_kind_and_links(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/_conntrack/accounts",
        json={"provider": "facebook", "pages": 1, "linked_instagram": True},
    )
    assert r.status_code == 201
    fb = r.json()
    (ig,) = fb["linked_accounts"]
    assert ig["provider"] == "instagram" and ig["linked_page"] == fb["pages"][0]["id"]
    assert fb["pages"][0]["instagram_account"] == ig["id"]
    r = await client.post(
        "/_conntrack/accounts",
        json={"provider": "linkedin", "type": "personal", "page_kind": "organization"},
    )
    assert r.status_code == 201 and r.json()["type"] == "personal"
    one = (await client.get(f"/_conntrack/accounts/{r.json()['id']}")).json()
    assert one["state"]["type"] == "personal" and one["state"]["locked"] is False
    assert one["state"]["admin_of"] == [r.json()["pages"][0]["id"]]
    for body, field in (
        ({"provider": "instagram", "type": "alien"}, "type"),
        ({"provider": "instagram", "linked_page": "404"}, "page_id"),
        ({"provider": "facebook", "linked_instagram": "yes"}, "linked_instagram"),
    ):
        r = await client.post("/_conntrack/accounts", json=body)
        assert r.status_code in (400, 404) and r.json()["error"]["field"] == field, body


async def test_new_events_through_the_control_api(client: httpx.AsyncClient) -> None:
    fb = (await client.post("/_conntrack/accounts", json={"provider": "facebook"})).json()
    ig = (await client.post("/_conntrack/accounts", json={"provider": "instagram"})).json()
    url = f"/_conntrack/accounts/{fb['id']}/events"
    page = fb["pages"][0]["id"]
    r = await client.post(url, json={"type": "admin_removed", "page_id": page})
    assert r.status_code == 200 and r.json()["page_id"] == page
    r = await client.post(url, json={"type": "locked"})
    assert r.status_code == 200
    state = (await client.get(f"/_conntrack/accounts/{fb['id']}")).json()["state"]
    assert state["locked"] is True and state["admin_of"] == []
    ig_url = f"/_conntrack/accounts/{ig['id']}/events"
    r = await client.post(ig_url, json={"type": "switched_to_professional", "account_type": "x"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "account_type"
    r = await client.post(ig_url, json={"type": "page_linked", "page_id": page})
    assert r.status_code == 200
    r = await client.post(ig_url, json={"type": "page_linked"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "page_id"
    r = await client.post(ig_url, json={"type": "locked", "colour": "red"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "colour"
    r = await client.post(url, json={"type": "admin_added", "page_id": "404"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "page_id"
    r = await client.post(url, json={"type": "permission_revoked", "client_id": "1"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "permission"


async def test_tokens_families_and_revoke(fb: Any) -> None:
    token = await fb.long_token()
    r = await fb.client.get("/_conntrack/tokens")
    body = r.json()
    kinds = [t["kind"] for t in body["data"]]
    assert kinds == ["user_short", "user_long"]
    (family,) = body["families"]
    assert all(t["family"] == family["id"] for t in body["data"]) and family["tokens"] == 2
    r = await fb.client.post("/_conntrack/tokens/revoke", json={"token": token})
    assert r.status_code == 200 and r.json()["was_valid"] is True
    assert r.json()["valid"] is False and r.json()["reason"] == "revoked"
    r = await fb.client.post("/_conntrack/tokens/revoke", json={"token": "nope"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "token"
    r = await fb.client.post("/_conntrack/tokens/revoke", json={})
    assert r.status_code == 400 and r.json()["error"]["field"] == "token"
    listed = (await fb.client.get("/_conntrack/tokens")).json()["families"][0]
    assert listed["revoked_at"] == "2026-01-05T09:00:00Z"
