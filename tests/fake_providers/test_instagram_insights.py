"""An optional permission as the fake Facebook plays it (issue 14, optional permissions).

The product asks for ``instagram_manage_insights`` beside the permissions it needs
(profile ``instagram-facebook``, ``optional_scopes``). A person who unticks it on the
consent page still gets a code; Facebook reports the permission as declined the ways a
real app reads it — ``denied_scopes`` beside the code (``return_scopes=true``),
``status: declined`` in ``/me/permissions``, missing from ``debug_token``'s ``scopes`` —
and the one call that needs it, ``GET /{ig-user-id}/insights``, answers ``(#10)`` while
the media, which need only ``instagram_basic``, still read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fp_support import REDIRECT

from fake_providers import Core

INSIGHTS = "instagram_manage_insights"
REQUIRED = "instagram_basic,pages_show_list,pages_read_engagement"
ASKED = f"{REQUIRED},{INSIGHTS}"


@pytest.fixture
def linked(fb: Any, core: Core) -> Any:
    """The Facebook helper with a Page that has a linked Instagram business account."""
    fb.account = core.create_account("facebook", pages=1, linked_instagram=True)
    return fb


def ig_id(fb: Any) -> str:
    return str(fb.account.pages[0].instagram_account_id)


async def test_declining_the_optional_one_is_reported_as_declined(linked: Any) -> None:
    form = {**linked.dialog_fields(ASKED, return_scopes="true"), "account_id": linked.account.id}
    form.update(granted=REQUIRED.split(","), action="approve")
    r = await linked.client.post("/www.facebook.com/v21.0/dialog/oauth", data=form)
    assert r.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    assert query["denied_scopes"] == INSIGHTS and query["code"]
    assert query["granted_scopes"].split(",") == REQUIRED.split(",")
    assert urlsplit(r.headers["location"]).geturl().startswith(REDIRECT)
    token = await linked.long_token(scope=ASKED, granted=REQUIRED.split(","))
    perms = (await linked.get("me/permissions", token)).json()["data"]
    assert {"permission": INSIGHTS, "status": "declined"} in perms
    debug = await linked.get("debug_token", linked.app_token, input_token=token)
    assert INSIGHTS not in debug.json()["data"]["scopes"]


async def test_insights_need_the_permission_media_do_not(linked: Any) -> None:
    token = await linked.long_token(scope=ASKED, granted=REQUIRED.split(","))
    media = await linked.get(f"{ig_id(linked)}/media", token)
    assert media.status_code == 200 and media.json()["data"]
    refused = await linked.get(f"{ig_id(linked)}/insights", token, metric="reach", period="day")
    error = refused.json()["error"]
    assert refused.status_code == 403 and error["code"] == 10
    assert error["message"] == "(#10) Application does not have permission for this action"


async def test_insights_with_the_permission(linked: Any) -> None:
    token = await linked.long_token(scope=ASKED)
    r = await linked.get(f"{ig_id(linked)}/insights", token, metric="reach,views", period="day")
    assert r.status_code == 200
    data = r.json()["data"]
    assert [m["name"] for m in data] == ["reach", "views"]
    assert all(m["period"] == "day" and m["values"][0]["value"] > 0 for m in data)
    assert data[0]["id"] == f"{ig_id(linked)}/insights/reach/day"
    # The same read twice gives the same figures (nothing changed in between).
    again = await linked.get(f"{ig_id(linked)}/insights", token, metric="reach,views")
    assert again.json()["data"] == data


async def test_an_unknown_metric_is_refused(linked: Any) -> None:
    token = await linked.long_token(scope=ASKED)
    r = await linked.get(f"{ig_id(linked)}/insights", token, metric="impressionz")
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    assert "metric[0] must be one of" in r.json()["error"]["message"]


async def test_taken_back_later_the_token_loses_it(linked: Any, core: Core) -> None:
    token = await linked.long_token(scope=ASKED)
    assert (await linked.get(f"{ig_id(linked)}/insights", token)).status_code == 200
    core.revoke_permission(linked.account.id, linked.app.client_id, INSIGHTS)
    assert (await linked.get(f"{ig_id(linked)}/insights", token)).status_code == 403
    assert (await linked.get(f"{ig_id(linked)}/media", token)).status_code == 200
