"""The fake Google Business Profile APIs: accounts, locations and reviews behind Google's
OAuth tokens, with Google's error bodies for a dead token, a missing scope, a lost role on
a location, another person's account, a missing ``readMask`` and a spent quota."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, ManualClock
from test_google_api import INSUFFICIENT, UNAUTHENTICATED
from test_google_oauth import Google, exact

from conntrack import load_profile
from fake_providers import Core, EventType, create_app
from fake_providers.google._business import account_name, location_name

SCOPE = "https://www.googleapis.com/auth/business.manage"
SCOPES = f"openid email {SCOPE}"
ACCOUNTS = "/mybusinessaccountmanagement.googleapis.com/v1/accounts"
INFO = "/mybusinessbusinessinformation.googleapis.com/v1"
V4 = "/mybusiness.googleapis.com/v4"
DENIED = {
    "error": {
        "code": 403,
        "message": "The caller does not have permission",
        "errors": [
            {
                "message": "The caller does not have permission",
                "domain": "global",
                "reason": "forbidden",
            }
        ],
        "status": "PERMISSION_DENIED",
    }
}


@pytest.fixture
def gbp(core: Core, client: httpx.AsyncClient) -> Google:
    app = core.create_app_registration("google", redirect_uris=[REDIRECT], name="Scheduly")
    return Google(core, client, app, core.create_account("google", pages=2, page_kind="location"))


async def token_of(g: Google, scope: str = SCOPES) -> str:
    return str((await g.tokens(scope=scope))["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def locations(g: Google, token: str, mask: str | None = "name,title") -> httpx.Response:
    params = {"readMask": mask} if mask is not None else {}
    path = f"{INFO}/{account_name(g.account.id)}/locations"
    return await g.client.get(path, params=params, headers=bearer(token))


async def reviews(g: Google, token: str, page_id: str) -> httpx.Response:
    path = f"{V4}/{account_name(g.account.id)}/{location_name(page_id)}/reviews"
    return await g.client.get(path, headers=bearer(token))


async def test_accounts_lists_the_persons_own_account(gbp: Google) -> None:
    r = await gbp.client.get(ACCOUNTS, headers=bearer(await token_of(gbp)))
    assert r.status_code == 200, r.text
    [account] = r.json()["accounts"]
    assert account["name"] == account_name(gbp.account.id)
    assert account["name"].startswith("accounts/") and len(account["name"]) == 30
    assert account["accountName"] == gbp.account.name and account["type"] == "PERSONAL"


async def test_locations_list_follows_the_read_mask(gbp: Google) -> None:
    token = await token_of(gbp)
    r = await locations(gbp, token)
    assert r.status_code == 200, r.text
    items = r.json()["locations"]
    assert [i["name"] for i in items] == [location_name(p.id) for p in gbp.account.pages]
    assert [i["title"] for i in items] == [p.name for p in gbp.account.pages]
    assert all(set(i) == {"name", "title"} for i in items)
    one = await gbp.client.get(
        f"{INFO}/{items[0]['name']}", params={"readMask": "metadata"}, headers=bearer(token)
    )
    assert one.status_code == 200 and set(one.json()) == {"metadata"}


async def test_a_missing_read_mask_is_an_invalid_argument(gbp: Google) -> None:
    body = {
        "error": {
            "code": 400,
            "message": "Request contains an invalid argument.",
            "errors": [
                {
                    "message": "Request contains an invalid argument.",
                    "domain": "global",
                    "reason": "badRequest",
                }
            ],
            "status": "INVALID_ARGUMENT",
        }
    }
    token = await token_of(gbp)
    exact(await locations(gbp, token, mask=None), 400, body)
    exact(await locations(gbp, token, mask="nonsense"), 400, body)


async def test_an_account_without_locations_answers_an_empty_object(
    core: Core, gbp: Google
) -> None:
    gbp.account = core.create_account("google", pages=0)
    r = await locations(gbp, await token_of(gbp))
    assert r.status_code == 200 and r.json() == {}


async def test_reviews_of_a_location(gbp: Google) -> None:
    page = gbp.account.pages[0]
    r = await reviews(gbp, await token_of(gbp), page.id)
    assert r.status_code == 200, r.text
    body = r.json()
    if not page.posts:
        assert body == {}
        return
    assert body["totalReviewCount"] == len(page.posts) == len(body["reviews"])
    assert 1 <= body["averageRating"] <= 5
    first = body["reviews"][0]
    assert first["name"].startswith(f"{account_name(gbp.account.id)}/{location_name(page.id)}/")
    times = [r["createTime"] for r in body["reviews"]]
    assert times == sorted(times, reverse=True)


async def test_losing_the_role_on_a_location_denies_its_reads(core: Core, gbp: Google) -> None:
    token = await token_of(gbp)
    kept, lost = gbp.account.pages
    core.fire_event(gbp.account.id, EventType.ADMIN_REMOVED, page_id=lost.id)
    exact(await reviews(gbp, token, lost.id), 403, DENIED)
    got = await gbp.client.get(
        f"{INFO}/{location_name(lost.id)}", params={"readMask": "name"}, headers=bearer(token)
    )
    exact(got, 403, DENIED)
    listed = (await locations(gbp, token)).json()["locations"]
    assert [i["name"] for i in listed] == [location_name(kept.id)]
    assert (await reviews(gbp, token, kept.id)).status_code == 200


async def test_another_persons_account_and_unknown_locations(core: Core, gbp: Google) -> None:
    token = await token_of(gbp)
    other = core.create_account("google", pages=1, page_kind="location")
    r = await gbp.client.get(
        f"{INFO}/{account_name(other.id)}/locations", params={"readMask": "name"},
        headers=bearer(token),
    )  # fmt: skip
    exact(r, 403, DENIED)
    missing = await gbp.client.get(
        f"{INFO}/locations/1234567890123456789", params={"readMask": "name"}, headers=bearer(token)
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"
    assert missing.json()["error"]["message"] == "Requested entity was not found."


async def test_token_errors(gbp: Google, clock: ManualClock) -> None:
    youtube_only = await token_of(gbp, "openid email https://www.googleapis.com/auth/youtube")
    r = await gbp.client.get(ACCOUNTS, headers=bearer(youtube_only))
    exact(r, 403, INSUFFICIENT)
    assert SCOPE in r.headers["www-authenticate"]
    token = await token_of(gbp)
    clock.advance(timedelta(seconds=3599))
    exact(await gbp.client.get(ACCOUNTS, headers=bearer(token)), 401, UNAUTHENTICATED)
    missing = await gbp.client.get(ACCOUNTS)
    assert missing.status_code == 401
    assert missing.json()["error"]["errors"][0]["reason"] == "required"


async def test_a_revoked_grant_ends_every_business_read(core: Core, gbp: Google) -> None:
    token = await token_of(gbp)
    core.fire_event(gbp.account.id, EventType.APP_REMOVED, client_id=gbp.app.client_id)
    exact(await gbp.client.get(ACCOUNTS, headers=bearer(token)), 401, UNAUTHENTICATED)
    exact(await locations(gbp, token), 401, UNAUTHENTICATED)


async def test_a_spent_minute_answers_resource_exhausted(clock: ManualClock) -> None:
    profile = load_profile("google-business", {"business_requests_per_minute": 2})
    core = Core(clock, seed=3, profiles={"google": profile})
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://conntrack.test") as c:
        app = core.create_app_registration("google", redirect_uris=[REDIRECT])
        g = Google(core, c, app, core.create_account("google", page_kind="location"))
        token = await token_of(g)
        assert [(await c.get(ACCOUNTS, headers=bearer(token))).status_code for _ in range(2)] == [
            200,
            200,
        ]
        r = await c.get(ACCOUNTS, headers=bearer(token))
        assert r.status_code == 429
        error = r.json()["error"]
        assert error["status"] == "RESOURCE_EXHAUSTED"
        assert error["errors"][0]["reason"] == "rateLimitExceeded"
        assert error["message"].startswith("Quota exceeded for quota metric 'Requests' and limit")
        assert "mybusinessaccountmanagement.googleapis.com" in error["message"]
        [info] = error["details"]
        assert info["reason"] == "RATE_LIMIT_EXCEEDED" and info["domain"] == "googleapis.com"
        # Another API has its own count; the next minute starts afresh.
        assert (await locations(g, token)).status_code == 200
        clock.advance(timedelta(minutes=1))
        assert (await c.get(ACCOUNTS, headers=bearer(token))).status_code == 200


async def test_only_get_is_served(gbp: Google) -> None:
    r = await gbp.client.post(f"{V4}/accounts/1/locations/2/reviews")
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"
    nowhere = await gbp.client.get(f"{INFO}/no/such/route")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["status"] == "NOT_FOUND"


def test_the_in_process_fixture_serves_google_business() -> None:
    """``fakes(providers=["google-business"])`` (as ``conntrack serve --providers``) serves
    the profile: a token of the consent flow reads the person's account and locations
    through an ordinary HTTP client."""
    import requests

    from conntrack.testing import fakes

    with fakes(providers=["google-business"]) as world:
        app = world.create_app("google-business", redirect_uris=[REDIRECT])
        person = world.create_account("google-business", pages=1)
        query = {
            "client_id": app["client_id"], "redirect_uri": REDIRECT, "response_type": "code",
            "scope": SCOPES, "access_type": "offline", "state": "s",
        }  # fmt: skip
        back = world.authorize(
            "https://accounts.google.com/o/oauth2/v2/auth?" + urlencode(query), account=person
        )
        code = parse_qs(urlsplit(back).query)["code"][0]
        token = requests.post(
            "https://oauth2.googleapis.com/token",
            data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "client_id": app["client_id"], "client_secret": app["client_secret"],
            },
            timeout=5,
        ).json()["access_token"]  # fmt: skip
        listed = requests.get(
            "https://mybusinessaccountmanagement.googleapis.com/v1/accounts",
            headers=bearer(token),
            timeout=5,
        )
        assert listed.status_code == 200
        assert listed.json()["accounts"][0]["name"] == account_name(person["id"])
        places = requests.get(
            "https://mybusinessbusinessinformation.googleapis.com/v1/"
            f"{account_name(person['id'])}/locations?readMask=name,title",
            headers=bearer(token),
            timeout=5,
        ).json()["locations"]
        assert places == [
            {"name": location_name(p["id"]), "title": p["name"]} for p in person["pages"]
        ]
