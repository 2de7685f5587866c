"""X's API through HTTP: ``/2/users/me``, ``/2/users/{id}/tweets``, v1.1
``verify_credentials``, account states, rate limits, unknown paths — X's exact bodies."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, ManualClock

from conntrack import load_profile
from fake_providers import Account, Core, create_app
from fake_providers.core._tokens import s256

VERIFIER = "dBjftJeZ4CK-P5zk0sIbR6w0Hv9lT2tyIpEdsnW8Zsga"
UNAUTHORIZED = '{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}'
SUSPENDED = (
    '{"detail":"The user used for authentication is suspended","title":"Forbidden",'
    '"status":403,"type":"https://api.twitter.com/2/problems/user-suspended"}'
)
TOO_MANY = (
    '{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}'
)
LOCKED_326 = (
    "To protect our users from spam and other malicious activity, this account is "
    "temporarily locked. Please log in to https://twitter.com to unlock your account."
)


async def login(core: Core, client: httpx.AsyncClient, account: Account, scope: str) -> str:
    app = core.apps("twitter")[0]
    form = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "s",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "account_id": account.id,
        "granted": scope.split(),
        "action": "approve",
    }
    r = await client.post("/x.com/i/oauth2/authorize", data=form)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    basic = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
    r = await client.post(
        "/api.x.com/2/oauth2/token",
        data={
            "code": code,
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    return str(r.json()["access_token"])


@pytest.fixture
def account(core: Core) -> Account:
    core.create_app_registration("twitter", redirect_uris=[REDIRECT], name="Postly")
    return core.create_account("twitter", name="Ada Lovelace")


@pytest.fixture
async def token(core: Core, client: httpx.AsyncClient, account: Account) -> str:
    return await login(core, client, account, "tweet.read users.read offline.access")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_users_me(client: httpx.AsyncClient, account: Account, token: str) -> None:
    r = await client.get("/api.x.com/2/users/me", headers=bearer(token))
    assert r.status_code == 200
    user = f'"id":"{account.id}","name":"Ada Lovelace","username":"AdaLovelace"'
    assert r.text == f'{{"data":{{{user}}}}}'
    assert r.headers["x-rate-limit-limit"] == "75"
    assert r.headers["x-rate-limit-remaining"] == "74"
    assert int(r.headers["x-rate-limit-reset"]) > 0


async def test_user_tweets(client: httpx.AsyncClient, account: Account, token: str) -> None:
    url = f"/api.twitter.com/2/users/{account.id}/tweets"
    r = await client.get(url, headers=bearer(token), params={"tweet.fields": "created_at"})
    assert r.status_code == 200 and r.headers["x-rate-limit-limit"] == "900"
    body = r.json()
    assert body["meta"]["result_count"] == len(body["data"]) == 5
    first = body["data"][0]
    assert list(first) == ["id", "text", "edit_history_tweet_ids", "created_at"]
    assert len(first["id"]) == 19 and first["edit_history_tweet_ids"] == [first["id"]]
    assert first["created_at"].endswith(".000Z")
    assert body["meta"]["newest_id"] == first["id"]
    times = [t["created_at"] for t in body["data"]]
    assert times == sorted(times, reverse=True)
    r = await client.get(url, headers=bearer(token), params={"max_results": "5"})
    assert "next_token" not in r.json()["meta"]


async def test_user_tweets_bad_and_unknown_ids(client: httpx.AsyncClient, token: str) -> None:
    r = await client.get("/api.x.com/2/users/abc/tweets", headers=bearer(token))
    assert r.status_code == 400
    body = r.json()
    assert body["title"] == "Invalid Request"
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    r = await client.get("/api.x.com/2/users/999/tweets", headers=bearer(token))
    assert r.status_code == 200
    assert r.json()["errors"][0]["detail"] == "Could not find user with id: [999]."


async def test_no_missing_or_dead_token_is_401(
    core: Core, client: httpx.AsyncClient, account: Account, token: str, clock: ManualClock
) -> None:
    for headers in ({}, bearer("made-up")):
        r = await client.get("/api.x.com/2/users/me", headers=headers)
        assert r.status_code == 401 and r.text == UNAUTHORIZED
    clock.advance(timedelta(hours=2))
    r = await client.get("/api.x.com/2/users/me", headers=bearer(token))
    assert r.status_code == 401 and r.text == UNAUTHORIZED


@pytest.mark.parametrize("event", ["password_change", "app_removed"])
async def test_killing_events_make_401(
    core: Core, client: httpx.AsyncClient, account: Account, token: str, event: str
) -> None:
    core.fire_event(account.id, event)
    r = await client.get(f"/api.x.com/2/users/{account.id}/tweets", headers=bearer(token))
    assert r.status_code == 401 and r.text == UNAUTHORIZED


async def test_suspended_and_reinstated(
    core: Core, client: httpx.AsyncClient, account: Account, token: str
) -> None:
    core.fire_event(account.id, "suspended")
    r = await client.get(f"/api.x.com/2/users/{account.id}/tweets", headers=bearer(token))
    assert r.status_code == 403 and r.text == SUSPENDED
    assert "x-rate-limit-remaining" in r.headers
    core.fire_event(account.id, "reinstated")
    r = await client.get(f"/api.x.com/2/users/{account.id}/tweets", headers=bearer(token))
    assert r.status_code == 200


async def test_locked_v2_answer(
    core: Core, client: httpx.AsyncClient, account: Account, token: str
) -> None:
    core.fire_event(account.id, "locked")
    r = await client.get("/api.x.com/2/users/me", headers=bearer(token))
    assert r.status_code == 403
    assert r.json() == {
        "detail": LOCKED_326,
        "title": "Forbidden",
        "status": 403,
        "type": "about:blank",
    }


async def test_missing_scope_is_forbidden(
    core: Core, client: httpx.AsyncClient, account: Account
) -> None:
    token = await login(core, client, account, "tweet.read")
    r = await client.get("/api.x.com/2/users/me", headers=bearer(token))
    assert r.status_code == 403 and r.json()["detail"] == "Forbidden"


async def test_v1_rejects_bearer_and_no_auth(client: httpx.AsyncClient, token: str) -> None:
    path = "/api.x.com/1.1/account/verify_credentials.json"
    r = await client.get(path, headers=bearer(token))
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == 220
    r = await client.get(path)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 215


async def test_rate_limit_window(clock: ManualClock) -> None:
    profile = load_profile("twitter", {"rate_limits": {"users_me": {"limit": 2, "window": "15m"}}})
    core = Core(clock, seed=4, profiles={"twitter": profile})
    core.create_app_registration("twitter", redirect_uris=[REDIRECT])
    account = core.create_account("twitter")
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        token = await login(core, client, account, "tweet.read users.read")
        reset = int((clock.now() + timedelta(minutes=15)).timestamp())
        answers = [
            await client.get("/api.x.com/2/users/me", headers=bearer(token)) for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].text == TOO_MANY
        assert [a.headers["x-rate-limit-remaining"] for a in answers] == ["1", "0", "0"]
        assert {a.headers["x-rate-limit-reset"] for a in answers} == {str(reset)}
        clock.advance(timedelta(minutes=15))
        r = await client.get("/api.x.com/2/users/me", headers=bearer(token))
        assert r.status_code == 200 and r.headers["x-rate-limit-remaining"] == "1"


async def test_unknown_paths(client: httpx.AsyncClient) -> None:
    r = await client.get("/api.x.com/2/nothing/here")
    assert r.status_code == 404
    assert r.text == '{"errors":[{"code":34,"message":"Sorry, that page does not exist"}]}'
    r = await client.get("/x.com/nothing")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
