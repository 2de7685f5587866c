"""What widely used Facebook client libraries expect of Facebook Login that the fake did
not answer (issue 13), each pinned to what real Facebook does.

- social-core's Facebook backend sends ``return_scopes=true`` on the dialog and reads
  ``granted_scopes``/``denied_scopes`` from the redirect (python-social-auth#818,
  social-core#277 shows a real login's stored lists).
- python-facebook-api (pyfacebook) exchanges the code through requests-oauthlib, which
  sends the app's credentials as HTTP Basic and no ``client_id`` parameter; Facebook
  reads the app from the parameters and answers "Missing client_id parameter." (code
  101), as logged in authlib#5 and facebookarchive/php-graph-sdk#50.
- pyfacebook's page reads after the admin lost the page (or was locked out) got "Cannot
  parse access token"; its default ``fields`` nest (``attachments{…}``), and a page's
  posts ignored ``fields``; social-core reads ``first_name``/``last_name``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fp_support import REDIRECT, SCOPES

from conntrack.testing import Fakes

DIALOG = "/www.facebook.com/v21.0/dialog/oauth"
TOKEN = "/graph.facebook.com/v21.0/oauth/access_token"


def query(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 302, r.text
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}


async def approve(fb: Any, granted: list[str], **extra: str) -> httpx.Response:
    form = {**fb.dialog_fields(**extra), "account_id": fb.account.id, "action": "approve"}
    form["granted"] = granted
    r: httpx.Response = await fb.client.post(DIALOG, data=form)
    return r


async def test_return_scopes_lists_granted_and_declined_beside_the_code(fb: Any) -> None:
    q = query(await approve(fb, ["pages_show_list"], return_scopes="true"))
    assert q["granted_scopes"] == "pages_show_list"
    assert q["denied_scopes"] == "pages_read_engagement,pages_manage_posts"
    assert q["code"].startswith("AQ") and q["state"] == "st4te"


async def test_return_scopes_without_a_declined_one_has_no_denied_scopes(fb: Any) -> None:
    q = query(await approve(fb, SCOPES.split(","), return_scopes="true"))
    assert q["granted_scopes"] == SCOPES
    assert "denied_scopes" not in q


async def test_granted_scopes_are_every_permission_granted_so_far(fb: Any) -> None:
    await approve(fb, ["pages_show_list"], scope="pages_show_list")
    q = query(await approve(fb, ["email"], scope="email", return_scopes="true"))
    assert q["granted_scopes"].split(",") == ["pages_show_list", "email"]


async def test_without_return_scopes_the_redirect_has_only_code_and_state(fb: Any) -> None:
    assert set(query(await approve(fb, ["pages_show_list"]))) == {"code", "state"}


async def test_the_consent_page_carries_return_scopes_only_when_sent(fb: Any) -> None:
    sent = await fb.client.get(DIALOG, params=fb.dialog_fields(return_scopes="true"))
    assert 'type="hidden" name="return_scopes" value="true"' in sent.text
    plain = await fb.client.get(DIALOG, params=fb.dialog_fields())
    assert 'name="return_scopes"' not in plain.text


async def test_code_exchange_without_client_id_parameter(fb: Any, envelope: Any) -> None:
    code = await fb.code()
    message = "Missing client_id parameter."
    basic = httpx.BasicAuth(fb.app.client_id, fb.app.client_secret)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    for r in (
        await fb.client.post(TOKEN, data=form, auth=basic),
        await fb.exchange(code, client_id=""),
    ):
        assert r.status_code == 400
        assert r.text == envelope(message, 101, r.json()["error"]["fbtrace_id"], None)
        assert r.headers["www-authenticate"] == (
            f'OAuth "Facebook Platform" "invalid_request" "{message}"'
        )
    assert (await fb.exchange(code)).status_code == 200  # the failures did not spend it


# python-facebook-api reads a page with its page token; after the admin loses the page
# role (or is locked out) the error it raises carried "Cannot parse access token", the
# words of a malformed token, for a token Facebook can parse.


async def test_a_page_token_of_a_removed_admin(fb: Any, envelope: Any) -> None:
    user = await fb.long_token()
    page_id = fb.account.pages[0].id
    page_token = (await fb.get(page_id, user, fields="access_token")).json()["access_token"]
    fb.core.fire_event(fb.account.id, "admin_removed", page_id=page_id)
    r = await fb.get(f"{page_id}/posts", page_token)
    message = "The user must be an administrator of the page in order to impersonate it."
    assert r.status_code == 400
    assert r.text == envelope(message, 190, r.json()["error"]["fbtrace_id"], 492)


async def test_a_locked_account(fb: Any, envelope: Any) -> None:
    user = await fb.long_token()
    fb.core.fire_event(fb.account.id, "locked")
    r = await fb.get("me", user)
    message = (
        "Error validating access token: The user is enrolled in a blocking, logged-in checkpoint"
    )
    assert r.status_code == 400
    assert r.text == envelope(message, 190, r.json()["error"]["fbtrace_id"], 490)


# python-facebook-api asks for nested fields by default (``attachments{…}``,
# ``children{…}``): their inner names are not top-level fields. social-core reads
# ``first_name`` and ``last_name`` from ``/me``.


async def test_nested_fields_do_not_leak_into_the_top_level(fb: Any) -> None:
    user = await fb.long_token()
    page_id = fb.account.pages[0].id
    nested = "id,attachments{title,media{image}},created_time,likes.summary(true){id,name}"
    r = await fb.get(f"{page_id}/posts", user, fields=nested, limit="2")
    assert r.status_code == 200, r.text
    assert all(set(p) == {"id", "created_time"} for p in r.json()["data"])
    r = await fb.get(page_id, user, fields="name,cover{source,id},category")
    assert set(r.json()) == {"name", "category", "id"}


async def test_me_has_first_and_last_name(fb: Any) -> None:
    r = await fb.get("me", await fb.long_token(), fields="id,first_name,last_name")
    words = fb.account.name.split()
    assert r.json() == {"id": fb.account.id, "first_name": words[0], "last_name": words[-1]}


def test_a_token_revoked_on_its_own_is_a_logged_out_session(conntrack_fakes: Fakes) -> None:
    """The control API's tokens/revoke ends one token: Facebook answers 190/467, the
    logged-out session, not the 'Cannot parse' of a string it never issued."""
    import requests

    app = conntrack_fakes.create_app("facebook", redirect_uris=["https://app.example/cb"])
    ada = conntrack_fakes.create_account("facebook")
    url = (
        "https://www.facebook.com/v21.0/dialog/oauth?client_id="
        f"{app['client_id']}&redirect_uri=https://app.example/cb&scope=email"
    )
    code = conntrack_fakes.authorize(url, account=ada["id"]).split("code=")[1].split("&")[0]
    token = requests.get(
        "https://graph.facebook.com/v21.0/oauth/access_token",
        params={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": "https://app.example/cb",
            "code": code,
        },
        timeout=5,
    ).json()["access_token"]
    conntrack_fakes.control("POST", "tokens/revoke", {"token": token})
    error = requests.get(
        "https://graph.facebook.com/v21.0/me", params={"access_token": token}, timeout=5
    ).json()["error"]
    assert (error["code"], error["error_subcode"]) == (190, 467)
    assert error["message"] == (
        "Error validating access token: The session is invalid because the user logged out."
    )
