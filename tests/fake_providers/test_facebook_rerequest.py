"""Facebook Login does not ask again for a permission the person declined for the app,
unless the dialog URL carries ``auth_type=rerequest``.

Facebook Login for the Web, "Re-asking for Declined Permissions": once someone declines
a permission, the Login Dialog does not re-ask for it unless the app says it is
re-asking (``auth_type: 'rerequest'`` in ``FB.login``, ``auth_type=rerequest`` on the
manual dialog URL); Auth0's page on declined permissions says the same ("this selection
is made only when the user authorizes the app for the first time"). A permission the
person took back later shows as declined in ``/me/permissions`` and is held back the same
way. Removing the app forgets everything: the next login asks for all again.

The fake's page does not know who is logged in before the person picks an account, so it
shows every permission asked and names, for each account, what stays declined; approving
as that account leaves it declined whatever the form posts.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fp_support import SCOPES

from conntrack.clients._browser import consent

DIALOG = "/www.facebook.com/v21.0/dialog/oauth"
GRAPH = "/graph.facebook.com/v21.0"
ASKED = SCOPES.split(",")
DECLINED = "pages_read_engagement"


def held(fb: Any, page: httpx.Response) -> set[str]:
    """The permissions the consent page says stay declined for ``fb.account``."""
    assert page.status_code == 200, page.text
    found = re.search(rf"Declined earlier by [^<:]*\({fb.account.id}\): ([^.<]*)\.", page.text)
    return set() if found is None else set(found.group(1).split(", "))


def redirect_query(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 302, r.text
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}


async def post(fb: Any, granted: list[str], **extra: str) -> dict[str, str]:
    """Approve the dialog by a post that ticks ``granted`` (what a person could not do
    for a permission the page does not show; a hand-made post tries it)."""
    form = {**fb.dialog_fields(**extra), "account_id": fb.account.id, "action": "approve"}
    form["granted"] = granted
    return redirect_query(await fb.client.post(DIALOG, data=form))


async def permissions(fb: Any, code: str) -> dict[str, str]:
    """``/me/permissions`` of a token from ``code``: permission -> status."""
    r = await fb.exchange(code)
    assert r.status_code == 200, r.text
    me = await fb.client.get(
        f"{GRAPH}/me/permissions", params={"access_token": r.json()["access_token"]}
    )
    assert me.status_code == 200, me.text
    return {p["permission"]: p["status"] for p in me.json()["data"]}


async def login(fb: Any, decline: frozenset[str] = frozenset(), **extra: str) -> str:
    """A person's login through the consent page, unticking ``decline``; the code."""
    url = f"{DIALOG}?{urlencode(fb.dialog_fields(**extra))}"
    result = await consent(fb.client, url, account_id=fb.account.id, decline=decline)
    assert result.code is not None, result
    return result.code


async def test_a_declined_permission_is_not_asked_again_without_rerequest(fb: Any) -> None:
    await login(fb, decline=frozenset({DECLINED}))
    page = await fb.client.get(DIALOG, params=fb.dialog_fields())
    assert held(fb, page) == {DECLINED}
    # A post that ticks it anyway (a hand-made form): the permission stays declined.
    q = await post(fb, ASKED, return_scopes="true")
    assert q["denied_scopes"] == DECLINED
    assert DECLINED not in q["granted_scopes"].split(",")
    assert (await permissions(fb, q["code"]))[DECLINED] == "declined"


async def test_with_rerequest_the_declined_permission_is_offered_and_granted(fb: Any) -> None:
    await login(fb, decline=frozenset({DECLINED}))
    page = await fb.client.get(DIALOG, params=fb.dialog_fields(auth_type="rerequest"))
    assert held(fb, page) == set()
    code = await login(fb, auth_type="rerequest")
    assert (await permissions(fb, code))[DECLINED] == "granted"
    q = await post(fb, ASKED, return_scopes="true", auth_type="rerequest")
    assert "denied_scopes" not in q


async def test_with_rerequest_the_person_may_decline_it_again(fb: Any) -> None:
    await login(fb, decline=frozenset({DECLINED}))
    code = await login(fb, decline=frozenset({DECLINED}), auth_type="rerequest")
    assert (await permissions(fb, code))[DECLINED] == "declined"


async def test_other_auth_types_do_not_re_ask(fb: Any) -> None:
    """``reauthenticate`` asks for the password again and ``reauthorize`` renews data
    access; neither is documented to re-ask a declined permission [U]."""
    await login(fb, decline=frozenset({DECLINED}))
    for auth_type in ("reauthenticate", "reauthorize"):
        page = await fb.client.get(DIALOG, params=fb.dialog_fields(auth_type=auth_type))
        assert held(fb, page) == {DECLINED}, auth_type


async def test_a_permission_taken_back_is_held_back_too(fb: Any) -> None:
    await login(fb)
    fb.core.revoke_permission(fb.account.id, fb.app.client_id, DECLINED)
    code = await login(fb)
    assert (await permissions(fb, code))[DECLINED] == "declined"
    code = await login(fb, auth_type="rerequest")
    assert (await permissions(fb, code))[DECLINED] == "granted"


async def test_after_the_app_is_removed_every_permission_is_asked_again(fb: Any) -> None:
    await login(fb, decline=frozenset({DECLINED}))
    fb.core.fire_event(fb.account.id, "app_removed", client_id=fb.app.client_id)
    page = await fb.client.get(DIALOG, params=fb.dialog_fields())
    assert held(fb, page) == set()
    code = await login(fb)
    assert (await permissions(fb, code))[DECLINED] == "granted"


async def test_a_permission_never_asked_before_is_asked(fb: Any) -> None:
    """Only what was declined is held back: a permission the app adds later is asked."""
    await login(fb, decline=frozenset({DECLINED}), scope="pages_show_list,pages_read_engagement")
    page = await fb.client.get(DIALOG, params=fb.dialog_fields())
    assert held(fb, page) == {DECLINED}
