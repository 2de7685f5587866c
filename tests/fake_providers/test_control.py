"""The control API under ``/_conntrack/``."""

from __future__ import annotations

from datetime import timedelta
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
    # (sent as JSON: a body of another content type is a 415, test_security.py)
    r = await client.post(
        "/_conntrack/apps", content=b"{not json", headers={"Content-Type": "application/json"}
    )
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
    ready = {"status": "ready", "can_advance": True}
    r = await client.get("/_conntrack/clock")
    assert r.json() == {"now": "2026-01-05T09:00:00Z", "offset": "0s", **ready}
    r = await client.post("/_conntrack/clock/advance", json={"by": "60d"})
    assert r.json() == {
        "now": "2026-03-06T09:00:00Z",
        "offset": "60d",
        "advanced_by": "60d",
        "done": True,
        **ready,
    }
    r = await client.post("/_conntrack/clock/advance", json={"to": "2026-03-07T00:00:00+01:00"})
    assert r.json()["now"] == "2026-03-06T23:00:00Z" and r.json()["advanced_by"] == "14h"
    r = await client.get("/_conntrack/clock")
    assert r.json() == {"now": "2026-03-06T23:00:00Z", "offset": "60d 14h", **ready}
    r = await client.post("/_conntrack/clock/advance", json={"to": "2026-03-06T23:00:00Z"})
    assert r.status_code == 200 and r.json()["advanced_by"] == "0s"


async def test_clock_errors_name_the_field(client: httpx.AsyncClient) -> None:
    cases: list[tuple[Any, str | None]] = [
        ({"to": "2026-01-06T00:00:00"}, "to"),  # no zone
        ({"to": 5}, "to"),
        ({"by": "soon"}, "by"),
        ({"by": "-1d"}, "by"),
        ({"by": 3}, "by"),
        ({}, "by"),
        ({"by": "1d", "to": "2026-02-01T00:00:00Z"}, "to"),
        ({"by": "1d", "speed": 2}, "speed"),
        ("1d", None),
    ]
    for body, field in cases:
        r = await client.post("/_conntrack/clock/advance", json=body)
        assert r.status_code == 400, body
        assert r.json()["error"]["field"] == field and r.json()["error"]["message"], body
    # Backwards: a well-formed request the clock's state refuses (409).
    r = await client.post("/_conntrack/clock/advance", json={"to": "2026-01-01T00:00:00Z"})
    assert r.status_code == 409 and r.json()["error"]["field"] == "to"
    assert "backwards" in r.json()["error"]["message"]
    now = (await client.get("/_conntrack/clock")).json()["now"]
    assert now == "2026-01-05T09:00:00Z"
    r = await client.get("/_conntrack/clock", params={"tz": "UTC"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "tz"


async def test_tokens_expire_as_the_clock_advances(fb: Any) -> None:
    token = await fb.long_token()
    assert (await fb.get("me", token)).status_code == 200
    listed = (await fb.client.get("/_conntrack/tokens")).json()["data"]
    assert [t["expires_in"] for t in listed] == [3600, 5183944]
    r = await fb.client.post("/_conntrack/clock/advance", json={"by": "60d"})
    assert r.json()["done"] is True
    r = await fb.get("me", token)
    assert r.status_code == 400 and r.json()["error"]["error_subcode"] == 463
    listed = (await fb.client.get("/_conntrack/tokens")).json()["data"]
    assert [(t["valid"], t["reason"], t["expires_in"]) for t in listed] == [
        (False, "expired", 0),
        (False, "expired", 0),
    ]


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
        ({"provider": "instagram", "linked_page": "404"}, "linked_page"),
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


# -- unknown keys, grants, deleting accounts, reset ------------------------------------


async def test_unknown_body_keys_and_query_parameters_are_named(client: httpx.AsyncClient) -> None:
    base = {"provider": "facebook", "redirect_uris": [REDIRECT]}
    cases: list[tuple[str, str, dict[str, Any] | None, dict[str, str] | None, str]] = [
        ("POST", "/_conntrack/apps", {**base, "scopes": ["x"]}, None, "scopes"),
        ("POST", "/_conntrack/accounts", {"provider": "facebook", "age": 3}, None, "age"),
        ("POST", "/_conntrack/tokens/revoke", {"token": "x", "why": "y"}, None, "why"),
        ("POST", "/_conntrack/reset", {"clock": "reset"}, None, "clock"),
        ("GET", "/_conntrack/accounts", None, {"type": "personal"}, "type"),
        ("GET", "/_conntrack/tokens", None, {"app": "1"}, "app"),
        ("GET", "/_conntrack/faults", None, {"kind": "outage"}, "kind"),
        ("DELETE", "/_conntrack/faults", None, {"all": "1"}, "all"),
    ]
    for method, url, body, params, field in cases:
        r = await client.request(method, url, json=body, params=params)
        assert r.status_code == 400, (url, body, params)
        assert r.json()["error"]["field"] == field and field in r.json()["error"]["message"]


async def test_grants_list_scopes_declined_and_data_access(fb: Any, clock: Any) -> None:
    await fb.long_token(granted=["pages_show_list", "pages_read_engagement"])
    other = fb.core.create_account("linkedin")
    r = await fb.client.get("/_conntrack/grants")
    (grant,) = r.json()["data"]
    assert grant == {
        "provider": "facebook",
        "client_id": fb.app.client_id,
        "account": fb.account.id,
        "granted": ["pages_show_list", "pages_read_engagement"],
        "declined": ["pages_manage_posts"],
        "active": True,
        "data_access_expires_at": "2026-04-05T09:00:00Z",  # 90 days after the consent
        "data_access_expired": False,
        "removed_at": [],
    }
    await fb.client.post(
        f"/_conntrack/accounts/{fb.account.id}/events",
        json={"type": "permission_revoked", "client_id": fb.app.client_id,
              "permission": "pages_read_engagement"},
    )  # fmt: skip
    clock.advance(timedelta(days=90))
    (grant,) = (await fb.client.get("/_conntrack/grants")).json()["data"]
    assert grant["granted"] == ["pages_show_list"]
    assert grant["declined"] == ["pages_manage_posts", "pages_read_engagement"]
    assert grant["data_access_expired"] is True
    await fb.client.post(
        f"/_conntrack/accounts/{fb.account.id}/events", json={"type": "app_removed"}
    )
    (grant,) = (await fb.client.get("/_conntrack/grants")).json()["data"]
    assert grant["active"] is False and grant["removed_at"] == ["2026-04-05T09:00:00Z"]
    for params in ({"provider": "linkedin"}, {"account": other.id}):
        assert (await fb.client.get("/_conntrack/grants", params=params)).json()["data"] == []
    r = await fb.client.get("/_conntrack/grants", params={"client_id": fb.app.client_id})
    assert len(r.json()["data"]) == 1


async def test_tokens_filtered_by_provider_account_and_app(fb: Any) -> None:
    await fb.long_token()
    other_app = fb.core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    assert len((await fb.client.get("/_conntrack/tokens")).json()["data"]) == 2
    for params, count in (
        ({"provider": "instagram-facebook"}, 2),
        ({"provider": "google"}, 0),
        ({"account": fb.account.id}, 2),
        ({"client_id": other_app.client_id}, 0),
    ):
        body = (await fb.client.get("/_conntrack/tokens", params=params)).json()
        assert len(body["data"]) == count, params
        assert len(body["families"]) == (1 if count else 0)


async def test_deleting_an_account(fb: Any) -> None:
    token = await fb.long_token()
    ig = fb.core.create_account("instagram", linked_page=fb.account.pages[0].id)
    url = f"/_conntrack/accounts/{fb.account.id}"
    seq = fb.core.seq
    r = await fb.client.delete(url)
    assert r.status_code == 200 and fb.core.seq == seq + 1
    body = r.json()
    assert body["id"] == fb.account.id and body["deleted_at"] == "2026-01-05T09:00:00Z"
    assert len(body["revoked_families"]) == 1
    # Its tokens answer as revoked ones do, and stay listed as such.
    r = await fb.get("me", token)
    assert r.status_code == 400 and r.json()["error"]["code"] == 190
    listed = (await fb.client.get("/_conntrack/tokens")).json()["data"]
    assert {(t["valid"], t["reason"]) for t in listed} == {(False, "revoked")}
    # Gone from the listings; its page (nobody else administers it) and link too.
    assert [a["id"] for a in (await fb.client.get("/_conntrack/accounts")).json()["data"]] == [
        ig.id
    ]
    assert (await fb.client.get("/_conntrack/grants")).json()["data"] == []
    assert fb.core.page(fb.account.pages[0].id) is None
    assert fb.core.account_state(ig.id).linked_page_id is None
    state = (await fb.client.get("/_conntrack/state")).json()
    assert state["deleted_accounts"] == [
        {"id": fb.account.id, "provider": "facebook", "deleted_at": "2026-01-05T09:00:00Z"}
    ]
    # Named again anywhere: 409 naming the field.
    for method, path, body_ in (
        ("GET", url, None),
        ("DELETE", url, None),
        ("POST", f"{url}/events", {"type": "password_change"}),
        ("POST", f"{url}/events", {"type": "flood"}),
    ):
        r = await fb.client.request(method, path, json=body_)
        assert r.status_code == 409, (method, path)
        assert (
            r.json()["error"]["field"] == "account_id" and "deleted" in r.json()["error"]["message"]
        )
    r = await fb.client.delete("/_conntrack/accounts/404")
    assert r.status_code == 404 and r.json()["error"]["field"] == "account_id"
    # The consent page no longer lets it log in.
    r = await fb.approve()
    assert r.status_code != 302


async def test_a_shared_page_stays_with_its_other_admins(
    core: Core, client: httpx.AsyncClient
) -> None:
    owner = core.create_account("linkedin", pages=1)
    helper = core.create_account("linkedin", pages=0)
    page = owner.pages[0].id
    core.fire_event(helper.id, "admin_added", page_id=page)
    assert (await client.delete(f"/_conntrack/accounts/{owner.id}")).status_code == 200
    assert core.page(page) is not None and core.account_state(helper.id).admin_of == (page,)


async def test_reset_forgets_everything_but_time(fb: Any, clock: Any) -> None:
    await fb.long_token()
    fb.core.add_fault("facebook", "outage", for_=timedelta(days=5))
    doomed = fb.core.create_account("google")
    await fb.client.delete(f"/_conntrack/accounts/{doomed.id}")
    clock.advance(timedelta(days=3))
    seq = fb.core.seq
    r = await fb.client.post("/_conntrack/reset")
    assert r.status_code == 200
    assert r.json() == {
        "removed": {"apps": 1, "accounts": 2, "grants": 1, "tokens": 2, "faults": 1},
        "seq": seq + 1,
        "now": "2026-01-08T09:00:00Z",
        "offset": "3d",
        "status": "ready",
        "can_advance": True,
    }
    state = (await fb.client.get("/_conntrack/state")).json()
    for key in ("apps", "accounts", "grants", "tokens", "families", "events", "faults"):
        assert state[key] == [], key
    assert state["deleted_accounts"] == [] and state["now"] == "2026-01-08T09:00:00Z"
    # A deleted account is forgotten too: now simply unknown.
    r = await fb.client.get(f"/_conntrack/accounts/{doomed.id}")
    assert r.status_code == 404
    # New things get new ids and tokens, never one handed out before the reset.
    again = fb.core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    assert again.client_id != fb.app.client_id


async def test_an_account_with_a_chosen_id(client: httpx.AsyncClient) -> None:
    r = await client.post("/_conntrack/accounts", json={"provider": "facebook", "id": "acme-admin"})
    assert r.status_code == 201 and r.json()["id"] == "acme-admin"
    assert (await client.get("/_conntrack/accounts/acme-admin")).status_code == 200
    again = await client.post(
        "/_conntrack/accounts", json={"provider": "linkedin", "id": "acme-admin"}
    )
    # Taken: a conflict with what exists (409), not a malformed request.
    assert again.status_code == 409 and again.json()["error"]["field"] == "id"
    assert "already exists" in again.json()["error"]["message"]
    bad = await client.post("/_conntrack/accounts", json={"provider": "facebook", "id": "a b"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "id"


async def test_x_account_ids_are_numbers(client: httpx.AsyncClient) -> None:
    """X ids are unsigned 64-bit integers sent as digits (docs.x.com, "X IDs") and
    clients parse them as integers: a word, a leading zero or a number past 2**64 - 1 is
    refused with what to give instead, and no account is made."""
    for given in ("ada", "0123", "-5", "12.5", str(2**64)):
        r = await client.post("/_conntrack/accounts", json={"provider": "twitter", "id": given})
        assert r.status_code == 400, given
        error = r.json()["error"]
        assert error["field"] == "id"
        message = error["message"]
        assert repr(given) in message and "64-bit integers" in message
        assert "digits only" in message and "leave id out" in message
        assert (await client.get(f"/_conntrack/accounts/{given}")).status_code == 404
    for given in ("2244994945", str(2**64 - 1)):
        r = await client.post("/_conntrack/accounts", json={"provider": "twitter", "id": given})
        assert r.status_code == 201 and r.json()["id"] == given
    made = await client.post("/_conntrack/accounts", json={"provider": "twitter"})
    assert made.status_code == 201 and int(made.json()["id"]) < 2**64
    # Other providers keep their word ids.
    r = await client.post("/_conntrack/accounts", json={"provider": "facebook", "id": "ada"})
    assert r.status_code == 201


async def test_a_key_sent_to_a_route_that_takes_none_says_so(client: httpx.AsyncClient) -> None:
    # The message listed what the route takes: nothing, so it ended in "takes: ".
    r = await client.post("/_conntrack/reset", json={"everything": True})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["field"] == "everything"
    assert "takes no fields" in error["message"] and "{}" in error["message"]


async def test_a_client_id_in_use_is_a_conflict(client: httpx.AsyncClient) -> None:
    body = {"provider": "facebook", "redirect_uris": ["https://a.example/cb"], "client_id": "42"}
    assert (await client.post("/_conntrack/apps", json=body)).status_code == 201
    r = await client.post("/_conntrack/apps", json={**body, "provider": "google"})
    assert r.status_code == 409 and r.json()["error"]["field"] == "client_id"
    assert "already registered" in r.json()["error"]["message"]


async def test_whole_numbers_written_with_a_fraction_are_whole_numbers(
    client: httpx.AsyncClient,
) -> None:
    """JSON Schema's ``integer`` takes ``2.0`` (found by schemathesis: ``count:
    10000001.0`` was refused); so does the API. ``2.5`` stays refused."""
    r = await client.post(
        "/_conntrack/faults", json={"provider": "facebook", "kind": "outage", "count": 2.0}
    )
    assert r.status_code == 201 and r.json()["remaining"] == 2, r.text
    for body in (
        {"provider": "facebook", "kind": "status", "status": 503.0, "for": "1h"},
        {"provider": "facebook", "kind": "latency", "delay_ms": 5.0, "for": "1h"},
    ):
        r = await client.post("/_conntrack/faults", json=body)
        assert r.status_code == 201, r.text
        assert isinstance(r.json()["status"] or r.json()["delay_ms"], int)
    r = await client.post("/_conntrack/accounts", json={"provider": "facebook", "pages": 2.0})
    assert r.status_code == 201 and len(r.json()["pages"]) == 2, r.text
    r = await client.post(
        "/_conntrack/faults", json={"provider": "facebook", "kind": "outage", "count": 2.5}
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "count"


async def test_refusals_the_state_makes_are_conflicts(client: httpx.AsyncClient) -> None:
    """A well-formed request the current state refuses is 409, as a client_id in use is:
    a fault ``until`` an instant already past, ``page_unlinked`` on an account linked to
    no page, ``page_linked`` to a page another account holds, ``page_unlinked`` naming a
    page the account is not linked to, or a page linked to no account. A malformed one
    stays 400."""
    now = (await client.get("/_conntrack/clock")).json()["now"]
    for until in (now, "2001-01-01T00:00:00Z"):
        r = await client.post(
            "/_conntrack/faults", json={"provider": "facebook", "kind": "outage", "until": until}
        )
        assert r.status_code == 409 and r.json()["error"]["field"] == "until", r.text
        assert "after now" in r.json()["error"]["message"]
    r = await client.post(
        "/_conntrack/faults", json={"provider": "facebook", "kind": "outage", "until": "soon"}
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "until"
    fb = (await client.post("/_conntrack/accounts", json={"provider": "facebook"})).json()
    page = fb["pages"][0]["id"]
    ig = (await client.post("/_conntrack/accounts", json={"provider": "instagram"})).json()
    other = (await client.post("/_conntrack/accounts", json={"provider": "instagram"})).json()
    ig_url = f"/_conntrack/accounts/{ig['id']}/events"
    other_url = f"/_conntrack/accounts/{other['id']}/events"
    fb_url = f"/_conntrack/accounts/{fb['id']}/events"
    # Linked to no page yet.
    r = await client.post(ig_url, json={"type": "page_unlinked"})
    assert r.status_code == 409 and r.json()["error"]["field"] == "page_id", r.text
    # The page admin unlinks a page that has no Instagram account.
    r = await client.post(fb_url, json={"type": "page_unlinked", "page_id": page})
    assert r.status_code == 409 and r.json()["error"]["field"] == "page_id", r.text
    assert (await client.post(ig_url, json={"type": "page_linked", "page_id": page})).is_success
    r = await client.post(other_url, json={"type": "page_linked", "page_id": page})
    assert r.status_code == 409 and r.json()["error"]["field"] == "page_id", r.text
    fb2 = (await client.post("/_conntrack/accounts", json={"provider": "facebook"})).json()
    r = await client.post(ig_url, json={"type": "page_unlinked", "page_id": fb2["pages"][0]["id"]})
    assert r.status_code == 409 and r.json()["error"]["field"] == "page_id", r.text
    # Unknown pages stay 404, malformed bodies 400.
    r = await client.post(other_url, json={"type": "page_linked", "page_id": "nope"})
    assert r.status_code == 404
    r = await client.post(ig_url, json={"type": "page_unlinked", "page_id": ""})
    assert r.status_code == 400


#: Redirect URIs a real provider registers: web apps, loopback, native apps' own schemes.
GOOD_REDIRECTS = (
    "https://app.example/callback",
    "http://localhost:3000/callback",
    "http://127.0.0.1:8080/cb?x=1",
    "com.example.app:/oauth2redirect",
    "myapp://callback",
    "fb123456789://authorize",
    "urn:ietf:wg:oauth:2.0:oob",
)
#: What a browser runs or reads locally instead of returning to an app, written as an
#: attacker would: any case, whitespace or control characters browsers strip.
BAD_REDIRECTS = (
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "JAVASCRIPT://%0aalert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "javascript\n:alert(1)",
    "\x00javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "FILE://localhost/etc/passwd",
    "blob:https://app.example/1234",
    "about:blank",
    "https:evil.example",
    "https:///path",
    "http:/cb",
    "callback",
    "/relative/cb",
    "://no-scheme",
    "1app://cb",
    "myapp:",
)


async def test_redirect_uris_a_browser_would_run_are_refused(client: httpx.AsyncClient) -> None:
    """``javascript:``, ``data:``, ``vbscript:``, ``file:`` (and the other schemes a browser
    handles itself) are never a place to send a user back to: 400 naming redirect_uris
    and saying which schemes are allowed; http(s) with a host and a native app's own
    scheme stay allowed. No app is made."""
    for uri in BAD_REDIRECTS:
        r = await client.post(
            "/_conntrack/apps",
            json={"provider": "google", "redirect_uris": ["https://ok.example/cb", uri]},
        )
        assert r.status_code == 400, (uri, r.text)
        error = r.json()["error"]
        assert error["field"] == "redirect_uris", uri
        assert "https://" in error["message"] and "myapp://callback" in error["message"], error
    assert (await client.get("/_conntrack/apps")).json()["data"] == []
    for uri in GOOD_REDIRECTS:
        r = await client.post(
            "/_conntrack/apps", json={"provider": "google", "redirect_uris": [uri]}
        )
        assert r.status_code == 201 and r.json()["redirect_uris"] == [uri], (uri, r.text)
    # PATCH apps/{id} takes publishing_status only: no way to swap the URIs in.
    cid = r.json()["client_id"]
    r = await client.patch(
        f"/_conntrack/apps/{cid}", json={"redirect_uris": ["javascript:alert(1)"]}
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "redirect_uris"
    assert (await client.get("/_conntrack/apps")).json()["data"][-1]["redirect_uris"] == [uri]


def test_the_documented_redirect_uri_pattern_is_what_the_api_takes() -> None:
    """The OpenAPI document's pattern takes exactly the URIs the core takes."""
    import re

    from fake_providers import redirect_uri_problem
    from fake_providers._control import openapi_document
    from fake_providers.core._redirecturi import REDIRECT_URI_PATTERN

    schema = openapi_document()["components"]["schemas"]["AppCreate"]
    written = schema["properties"]["redirect_uris"]["items"]["pattern"]
    assert written == REDIRECT_URI_PATTERN
    pattern = re.compile(written)
    for uri in (*GOOD_REDIRECTS, *BAD_REDIRECTS):
        assert (pattern.search(uri) is not None) == (redirect_uri_problem(uri) is None), uri
