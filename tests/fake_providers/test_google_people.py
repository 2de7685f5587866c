"""The People API's ``people/me``, the legacy token endpoint on ``accounts.google.com``, and
when Google's token answer carries an ``id_token`` (issue 13, the Google bullet)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from fp_support import REDIRECT
from test_google_oauth import TOKEN, YT, Google, exact

from fake_providers import Core, create_app
from fake_providers.google import HOSTS

PEOPLE = "/people.googleapis.com/v1/people/me"
LEGACY_TOKEN = "/accounts.google.com/o/oauth2/token"
FIELDS = "names,emailAddresses,photos"
PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
MASK_REQUIRED = (
    "personFields mask is required. Please specify one or more valid paths. Valid paths are "
    "documented at https://developers.google.com/people/api/rest/v1/people/get."
)


@pytest.fixture
def google(core: Core, client: httpx.AsyncClient) -> Google:
    app = core.create_app_registration("google", redirect_uris=[REDIRECT], name="Scheduly")
    return Google(core, client, app, core.create_account("google"))


async def me(google: Google, token: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await google.client.get(PEOPLE, params=params, headers=headers)


async def token_for(google: Google, scope: str) -> str:
    return str((await google.tokens(scope=scope))["access_token"])


# -- people/me --------------------------------------------------------------------------


async def test_people_me_answers_the_requested_fields(google: Google) -> None:
    token = await token_for(google, f"openid email profile {YT}")
    r = await me(google, token, personFields=FIELDS)
    assert r.status_code == 200, r.text
    person = r.json()
    account = google.account
    assert person["resourceName"] == f"people/{account.id}"
    assert person["etag"].startswith("%")
    name = person["names"][0]
    assert name["displayName"] == account.name
    assert f"{name['givenName']} {name['familyName']}".strip() == account.name
    assert name["metadata"]["primary"] is True
    assert name["metadata"]["source"] == {"type": "PROFILE", "id": account.id}
    assert person["emailAddresses"][0]["value"] == account.email
    assert person["emailAddresses"][0]["metadata"]["verified"] is True
    assert person["photos"][0]["url"].startswith("https://lh3.googleusercontent.com/")
    # Only what was asked for; the same person at the userinfo endpoint's "sub".
    only = (await me(google, token, personFields="names")).json()
    assert set(only) == {"resourceName", "etag", "names"}
    info = await google.client.get(
        "/openidconnect.googleapis.com/v1/userinfo", headers={"Authorization": f"Bearer {token}"}
    )
    assert person["resourceName"] == "people/" + info.json()["sub"]


async def test_each_field_needs_its_scope(google: Google) -> None:
    profile_only = await token_for(google, "profile")
    person = (await me(google, profile_only, personFields=FIELDS)).json()
    assert "names" in person and "photos" in person and "emailAddresses" not in person
    other = google.core.create_account("google")  # a grant keeps its earlier scopes
    email_only = str((await google.tokens(scope=EMAIL, account=other))["access_token"])
    person = (await me(google, email_only, personFields=FIELDS)).json()
    assert "emailAddresses" in person and "names" not in person and "photos" not in person


async def test_the_deprecated_request_mask_and_the_query_token(google: Google) -> None:
    token = await token_for(google, "email profile")
    r = await google.client.get(
        PEOPLE,
        params={"requestMask.includeField": "person.names", "access_token": token},
    )
    assert r.status_code == 200, r.text
    assert r.json()["names"][0]["displayName"] == google.account.name


async def test_person_fields_are_required(google: Google) -> None:
    token = await token_for(google, "email profile")
    body = {
        "error": {
            "code": 400,
            "message": MASK_REQUIRED,
            "errors": [{"message": MASK_REQUIRED, "domain": "global", "reason": "badRequest"}],
            "status": "INVALID_ARGUMENT",
        }
    }
    exact(await me(google, token), 400, body)
    bad = await me(google, token, personFields="names,shoeSize")
    assert bad.status_code == 400
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert '"shoeSize"' in bad.json()["error"]["message"]


async def test_no_people_scope_is_permission_denied(google: Google) -> None:
    token = await token_for(google, YT)
    r = await me(google, token, personFields=FIELDS)
    message = "Request had insufficient authentication scopes."
    exact(r, 403, {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}})
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    # Scopes are checked before the arguments.
    assert (await me(google, token)).status_code == 403


async def test_credentials(google: Google) -> None:
    r = await me(google, None, personFields=FIELDS)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    r = await me(google, "ya29.nope", personFields=FIELDS)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    token = await token_for(google, "email profile")
    google.core.revoke(token)
    assert (await me(google, token, personFields=FIELDS)).status_code == 401


async def test_faults_reach_the_people_api(google: Google) -> None:
    token = await token_for(google, "email profile")
    google.core.add_fault("google", "rate_limit", count=1)
    r = await me(google, token, personFields=FIELDS)
    assert r.status_code == 429 and r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    google.core.add_fault("google", "error", count=1, error="revoked")
    r = await me(google, token, personFields=FIELDS)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    assert (await me(google, token, personFields=FIELDS)).status_code == 200


async def test_the_host_is_served_and_registered(google: Google) -> None:
    assert "people.googleapis.com" in HOSTS
    assert "people.googleapis.com" in google.core.profile("google").hosts
    token = await token_for(google, "email profile")
    r = await google.client.get(
        "/v1/people/me",
        params={"personFields": "names"},
        headers={"Host": "people.googleapis.com", "Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["names"][0]["displayName"] == google.account.name
    r = await google.client.get("/people.googleapis.com/v1/nothing/here")
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"
    # ``conntrack serve``'s Host allow-list knows the host (another name gets 421).
    transport = httpx.ASGITransport(app=create_app(google.core, allow_hosts=[]))
    async with httpx.AsyncClient(transport=transport, base_url="http://x.test") as served:
        for host, status in (("people.googleapis.com", 200), ("elsewhere.example", 421)):
            r = await served.get(
                "/v1/people/me",
                params={"personFields": "names"},
                headers={"Host": host, "Authorization": f"Bearer {token}"},
            )
            assert r.status_code == status, (host, r.text)


# -- the legacy token endpoint ----------------------------------------------------------


async def test_legacy_token_endpoint_grants_as_the_new_one(google: Google) -> None:
    code = await google.code()
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": google.app.client_id,
        "client_secret": google.app.client_secret,
        "redirect_uri": REDIRECT,
    }
    r = await google.client.post(LEGACY_TOKEN, data=data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == [
        "access_token", "expires_in", "refresh_token", "scope", "token_type", "id_token"
    ]  # fmt: skip
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": google.app.client_id,
        "client_secret": google.app.client_secret,
    }
    r = await google.client.post(LEGACY_TOKEN, data=refresh)
    assert r.status_code == 200 and r.json()["access_token"] != body["access_token"]
    # The same errors as oauth2.googleapis.com/token: a reused code, a GET.
    for url in (LEGACY_TOKEN, TOKEN):
        reused = await google.client.post(url, data=data)
        exact(reused, 400, {"error": "invalid_grant", "error_description": "Bad Request"})
        got = await google.client.get(url)
        exact(
            got, 405, {"error": "invalid_request", "error_description": "Invalid HTTP method: GET"}
        )


async def test_legacy_token_endpoint_answers_json_in_faults(google: Google) -> None:
    google.core.add_fault("google", "outage", count=1)
    r = await google.client.post(LEGACY_TOKEN, data={"grant_type": "refresh_token"})
    assert r.status_code == 503 and r.json()["error"]["status"] == "UNAVAILABLE"


# -- id_token without openid ------------------------------------------------------------


def _claims(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.parametrize("scope", ["email", "profile", EMAIL, PROFILE, f"email {YT}"])
async def test_email_or_profile_without_openid_gets_an_id_token(google: Google, scope: str) -> None:
    body = await google.tokens(scope=scope)
    assert "id_token" in body, body
    claims = _claims(body["id_token"])
    assert claims["sub"] == google.account.id and claims["aud"] == google.app.client_id
    assert ("email" in claims) == ("email" in scope)
    # The refresh answer carries one too.
    again = (await google.refresh(body["refresh_token"])).json()
    assert "id_token" in again


async def test_other_scopes_alone_get_no_id_token(google: Google) -> None:
    body = await google.tokens(scope=f"{YT} https://www.googleapis.com/auth/contacts.readonly")
    assert "id_token" not in body
