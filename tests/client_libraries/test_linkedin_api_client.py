"""LinkedIn through LinkedIn's own Python client (linkedin-api-client: ``AuthClient`` and
``RestliClient``), unmodified, inside the fakes.

``AuthClient``: the member authorization URL, the code exchange, the programmatic
refresh (LinkedIn's refresh tokens, whose 365 days do not restart), introspection.
``RestliClient``: ``GET /v2/userinfo`` and ``/v2/me`` (non-versioned), and the
versioned (``LinkedIn-Version``) finders and gets the engine reads:
``/rest/organizationAcls?q=roleAssignee``, ``/rest/organizations/{id}``,
``/rest/posts?q=author``.

Both clients send their requests with ``Session.send``; the fakes answer those too.
Neither raises on an HTTP error: the response object carries ``status_code`` and, for
Rest.li, the error envelope as ``entity`` (``serviceErrorCode``, ``code``); a refused
token exchange has ``access_token`` None and the RFC 6749 body in ``response``. The
tests assert that shape, which is how an integration on this client sees LinkedIn's
errors.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from linkedin_api.clients.auth.client import AuthClient
from linkedin_api.clients.auth.response import AccessToken3LResponse
from linkedin_api.clients.restli.client import RestliClient

from conntrack.testing import Fakes

REDIRECT = "https://app.example/linkedin/callback"
SCOPES = ["openid", "profile", "email", "r_organization_social", "rw_organization_admin"]
VERSION = "202411"
ACCESS_LIFE = 5183999
REFRESH_LIFE = 31536059


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def connect(f: Fakes) -> tuple[AuthClient, AccessToken3LResponse, dict[str, Any]]:
    """The library's authorization URL, the member's consent, the library's exchange."""
    app = f.create_app("linkedin", redirect_uris=[REDIRECT])
    account = f.create_account("linkedin", name="Ada Lovelace", pages=1)
    auth = AuthClient(app["client_id"], app["client_secret"], REDIRECT)
    url = auth.generate_member_auth_url(SCOPES, state="c5rf")
    landed = query_of(f.authorize(url, account=account["id"]))
    assert landed["state"] == "c5rf"
    token = auth.exchange_auth_code_for_access_token(landed["code"])
    assert token.status_code == 200, token.response.text
    return auth, token, account


def test_flow(conntrack_fakes: Fakes) -> None:
    _, token, _ = connect(conntrack_fakes)
    assert token.access_token and token.access_token.startswith("AQV")
    assert token.expires_in == ACCESS_LIFE
    assert token.refresh_token and token.refresh_token_expires_in == REFRESH_LIFE
    # "A comma-separated list of scopes authorized by the member", as the client says.
    assert token.scope == ",".join(SCOPES)


def test_a_reused_code_is_refused(conntrack_fakes: Fakes) -> None:
    auth, _, account = connect(conntrack_fakes)
    url = auth.generate_member_auth_url(SCOPES)
    code = query_of(conntrack_fakes.authorize(url, account=account["id"]))["code"]
    assert auth.exchange_auth_code_for_access_token(code).status_code == 200
    again = auth.exchange_auth_code_for_access_token(code)
    assert again.status_code == 400 and again.access_token is None
    assert again.response.json()["error"] == "invalid_request"


def test_programmatic_refresh_counts_down_the_refresh_token(conntrack_fakes: Fakes) -> None:
    auth, token, _ = connect(conntrack_fakes)
    conntrack_fakes.travel("59d")
    assert token.refresh_token is not None
    new = auth.exchange_refresh_token_for_access_token(token.refresh_token)
    assert new.status_code == 200
    assert new.access_token != token.access_token
    assert new.refresh_token == token.refresh_token
    assert new.expires_in == ACCESS_LIFE
    assert abs(new.refresh_token_expires_in - (REFRESH_LIFE - 59 * 86400)) <= 2
    facts = auth.introspect_access_token(new.access_token)
    assert facts.active is True and facts.status == "active" and facts.auth_type == "3L"
    assert facts.expires_at - int(conntrack_fakes.now.timestamp()) in range(
        ACCESS_LIFE - 2, ACCESS_LIFE + 1
    )


def test_reads_userinfo_and_the_organizations_posts(conntrack_fakes: Fakes) -> None:
    _, token, account = connect(conntrack_fakes)
    assert token.access_token is not None
    restli = RestliClient()
    who = restli.get(resource_path="/userinfo", access_token=token.access_token)
    assert who.status_code == 200
    assert isinstance(who.entity, dict) and who.entity["sub"] == account["id"]
    acls = restli.finder(
        resource_path="/organizationAcls",
        finder_name="roleAssignee",
        access_token=token.access_token,
        version_string=VERSION,
    )
    assert acls.status_code == 200 and acls.elements is not None
    organization = account["pages"][0]["id"]
    assert [a["organization"] for a in acls.elements] == [f"urn:li:organization:{organization}"]
    assert acls.elements[0]["role"] == "ADMINISTRATOR" and acls.elements[0]["state"] == "APPROVED"
    org = restli.get(
        resource_path="/organizations/{id}",
        path_keys={"id": organization},
        access_token=token.access_token,
        version_string=VERSION,
    )
    assert org.status_code == 200
    assert isinstance(org.entity, dict)
    assert org.entity["localizedName"] == account["pages"][0]["name"]
    posts = restli.finder(
        resource_path="/posts",
        finder_name="author",
        query_params={"author": f"urn:li:organization:{organization}", "count": 2},
        access_token=token.access_token,
        version_string=VERSION,
    )
    assert posts.status_code == 200 and posts.elements is not None
    assert len(posts.elements) == 2 and posts.paging.count == 2
    assert posts.paging.total is not None and posts.paging.total >= 2
    assert all(p["author"] == f"urn:li:organization:{organization}" for p in posts.elements)


def test_the_legacy_me_is_denied_to_the_openid_scopes(conntrack_fakes: Fakes) -> None:
    """``/v2/me`` (the client's README example) needs ``r_liteprofile``, which no app
    made since August 2023 has: LinkedIn's 403 (linkedin-api-python-client#49)."""
    _, token, _ = connect(conntrack_fakes)
    assert token.access_token is not None
    me = RestliClient().get(resource_path="/me", access_token=token.access_token)
    assert me.status_code == 403
    assert me.entity == {
        "status": 403,
        "serviceErrorCode": 100,
        "code": "ACCESS_DENIED",
        "message": "Not enough permissions to access: me.GET.NO_VERSION",
    }


@pytest.mark.parametrize("event", ["password_change", "app_removed"])
def test_after_an_account_event(conntrack_fakes: Fakes, event: str) -> None:
    auth, token, account = connect(conntrack_fakes)
    assert token.access_token is not None and token.refresh_token is not None
    conntrack_fakes.event("linkedin", account["id"], event)
    who = RestliClient().get(resource_path="/userinfo", access_token=token.access_token)
    assert who.status_code == 401
    assert isinstance(who.entity, dict)
    assert who.entity["serviceErrorCode"] == 65601 and who.entity["code"] == "REVOKED_ACCESS_TOKEN"
    refused = auth.exchange_refresh_token_for_access_token(token.refresh_token)
    assert refused.status_code == 400 and refused.access_token is None
    assert refused.response.json()["error"] == "invalid_request"
    facts = auth.introspect_access_token(token.access_token)
    assert facts.active is False and facts.status == "revoked"


def test_after_the_admin_role_is_removed(conntrack_fakes: Fakes) -> None:
    _, token, account = connect(conntrack_fakes)
    assert token.access_token is not None
    organization = account["pages"][0]["id"]
    conntrack_fakes.event("linkedin", account["id"], "admin_removed", page_id=organization)
    posts = RestliClient().finder(
        resource_path="/posts",
        finder_name="author",
        query_params={"author": f"urn:li:organization:{organization}"},
        access_token=token.access_token,
        version_string=VERSION,
    )
    assert posts.status_code == 403 and posts.elements is None
    assert posts.response.json()["code"] == "ACCESS_DENIED"
