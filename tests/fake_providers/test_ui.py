"""The web pages of the fakes, in process: the index page and its forms, and every
provider's consent page (choose or type an account, untick a permission, approve or
cancel). The same pages in a real browser: tests/browser/."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fp_support import REDIRECT, START, FixedClock

from conntrack.clients._browser import _FormParser
from fake_providers import Core, create_app
from fake_providers._ui import LINK_STATE, LINK_VERIFIER, consent_url

PROVIDERS = ["facebook", "google", "instagram", "linkedin", "tiktok", "twitter"]


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def ui_post(client: httpx.AsyncClient, path: str, **form: str) -> dict[str, str]:
    """POST one of the index page's forms, with the CSRF token the page's forms carry
    (test_security.py: none, none posted); answer the message it came back with."""
    page = (await client.get("/_conntrack/")).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the index page's forms carry no csrf_token"
    r = await client.post(f"/_conntrack/ui/{path}", data={**form, "csrf_token": match[1]})
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/_conntrack/?")
    return query(r.headers["location"])


async def test_bare_root_redirects_to_the_index(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 302 and r.headers["location"] == "/_conntrack/"
    # ... but a provider's Host keeps its own root.
    r = await client.get("/", headers={"Host": "graph.facebook.com"})
    assert r.status_code != 302


async def test_index_lists_apps_accounts_tokens_clock(fb: Any) -> None:
    token = await fb.short_token(granted=["pages_show_list"])
    r = await fb.client.get("/_conntrack/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<script" not in page and "<link" not in page  # self-contained
    assert fb.app.client_id in page and REDIRECT in page and fb.app.client_secret in page
    assert fb.account.id in page and fb.account.name in page
    for p in fb.account.pages:
        assert p.id in page
    assert f'data-prefix="{token[:12]}…"' in page and token not in page
    assert '<span class="valid">valid</span>' in page and ">in 1h<" in page
    assert "pages_manage_posts" in page  # the declined permissions, in the grant
    assert "2026-01-05T09:00:00Z" in page  # the clock
    assert 'value="password_change"' in page and 'value="locked"' in page


async def test_event_button_kills_the_token(fb: Any) -> None:
    token = await fb.short_token()
    said = await ui_post(fb.client, f"accounts/{fb.account.id}/events", type="password_change")
    assert "password_change" in said["ok"]
    assert fb.core.check_token(token).reason == "password_changed"
    page = (await fb.client.get("/_conntrack/", params=said)).text
    assert "invalid: password_changed" in page and said["ok"] in page
    # Flag pairs: the button offered is the one that changes the state now.
    await ui_post(fb.client, f"accounts/{fb.account.id}/events", type="locked")
    page = (await fb.client.get("/_conntrack/")).text
    assert 'value="unlocked"' in page and 'value="locked"' not in page


async def test_event_parameters_and_errors(fb: Any) -> None:
    await fb.short_token()
    url = f"accounts/{fb.account.id}/events"
    said = await ui_post(
        fb.client, url, type="permission_revoked", client_id=fb.app.client_id,
        permission="pages_manage_posts", page_id="", account_type="",
    )  # fmt: skip
    assert "permission=pages_manage_posts" in said["ok"]
    grant = fb.core.grant(fb.app.client_id, fb.account.id)
    assert "pages_manage_posts" not in grant.granted
    said = await ui_post(fb.client, url, type="admin_added")
    assert "page_id is required" in said["error"]
    said = await ui_post(fb.client, url, type="flood")
    assert "unknown event" in said["error"]
    said = await ui_post(fb.client, "accounts/404/events", type="locked")
    assert "404" in said["error"]
    page = (await fb.client.get("/_conntrack/", params=said)).text
    assert 'class="flash error"' in page


async def test_create_app_and_account(client: httpx.AsyncClient, core: Core) -> None:
    said = await ui_post(
        client, "apps", provider="linkedin", redirect_uris=f"{REDIRECT}\n http://x.test/cb \n",
        name="Mine", client_id="", client_secret="", publishing_status="production",
    )  # fmt: skip
    (app,) = core.apps()
    assert app.redirect_uris == (REDIRECT, "http://x.test/cb") and app.name == "Mine"
    assert app.client_id in said["ok"]
    said = await ui_post(client, "accounts", provider="facebook", name="Ada L", pages="2")
    (account,) = core.accounts()
    assert account.name == "Ada L" and len(account.pages) == 2 and account.id in said["ok"]
    await ui_post(client, "accounts", provider="facebook", pages="1", linked_instagram="on")
    assert len(core.accounts("instagram")) == 1
    assert "pages" in (await ui_post(client, "accounts", provider="facebook", pages="x"))["error"]
    assert "provider" in (await ui_post(client, "accounts", provider="myspace"))["error"]
    assert "redirect URI" in (await ui_post(client, "apps", provider="google"))["error"]


async def test_clock_buttons(client: httpx.AsyncClient, core: Core) -> None:
    said = await ui_post(client, "clock", by="60d")
    assert core.now() == START + timedelta(days=60) and "2026-03-06T09:00:00Z" in said["ok"]
    await ui_post(client, "clock", to="2026-03-07T00:00:00Z")
    assert core.now() == START + timedelta(days=60, hours=15)
    page = (await client.get("/_conntrack/")).text
    assert '<span class="clock-now">2026-03-07T00:00:00Z</span>' in page
    assert "duration" in (await ui_post(client, "clock", by="soon"))["error"]
    assert "backwards" in (await ui_post(client, "clock", to="2026-01-01T00:00:00Z"))["error"]
    assert "give a duration" in (await ui_post(client, "clock", by="1d", to="x"))["error"]


async def test_virtual_clock_has_no_buttons() -> None:
    core = Core(FixedClock())
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = (await client.get("/_conntrack/")).text
        assert "cannot be advanced here" in page and 'name="by"' not in page
        said = await ui_post(client, "clock", by="1d")
    assert "virtual" in said["error"] and core.now() == START


async def test_revoke_and_faults(fb: Any) -> None:
    token = await fb.short_token()
    t = fb.core.token(token)
    said = await ui_post(fb.client, "tokens/revoke", prefix=t.prefix, seq=str(t.seq))
    assert fb.core.check_token(token).reason == "revoked" and "revoked" in said["ok"]
    assert "no token" in (await ui_post(fb.client, "tokens/revoke", prefix="x", seq="1"))["error"]
    said = await ui_post(fb.client, "faults", provider="facebook", kind="outage", **{"for": "1h"})
    (fault,) = fb.core.faults()
    assert fault.id in said["ok"]
    page = (await fb.client.get("/_conntrack/")).text
    assert f'id="fault-{fault.id}"' in page
    await ui_post(fb.client, f"faults/{fault.id}/remove")
    assert fb.core.faults() == []
    await ui_post(fb.client, "faults", provider="tiktok", kind="rate_limit", count="2")
    assert "1 fault" in (await ui_post(fb.client, "faults/clear"))["ok"]
    said = await ui_post(fb.client, "faults", provider="facebook", kind="outage")
    assert said["error"]
    said = await ui_post(fb.client, "faults", provider="facebook", kind="outage", count="two")
    assert "count" in said["error"]


# -- every provider's consent page -------------------------------------------------


async def open_consent(
    client: httpx.AsyncClient, core: Core, provider: str
) -> tuple[Any, httpx.Response]:
    app = core.create_app_registration(provider, redirect_uris=[REDIRECT])
    url = consent_url(core, app)
    assert url is not None
    page = await client.get(url)
    assert page.status_code == 200, page.text
    return app, page


def form_of(page: httpx.Response) -> Any:
    parser = _FormParser()
    parser.feed(page.text)
    (form,) = parser.forms
    return form


async def submit(
    client: httpx.AsyncClient, page: httpx.Response, fields: list[tuple[str, str]]
) -> httpx.Response:
    form = form_of(page)
    target = urljoin(str(page.url), form.action or str(page.url))
    data: dict[str, list[str]] = {}
    for k, v in [*form.hidden, *fields]:
        data.setdefault(k, []).append(v)
    r = await client.post(target, data=data)
    assert r.status_code == 302, r.text
    return r


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_consent_page_has_every_control(
    client: httpx.AsyncClient, core: Core, provider: str
) -> None:
    core.create_account(provider)
    _, page = await open_consent(client, core, provider)
    html = page.text
    assert '<select id="account_id" name="account_id"' in html
    assert 'name="typed_account_id"' in html
    assert 'type="checkbox" name="granted"' in html
    assert 'name="action" value="approve"' in html and 'name="action" value="cancel"' in html


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_typed_account_wins_and_a_declined_permission_is_kept(
    client: httpx.AsyncClient, core: Core, provider: str
) -> None:
    listed = core.create_account(provider)
    typed = core.create_account(provider)
    app, page = await open_consent(client, core, provider)
    boxes = [v for k, v in form_of(page).checkboxes if k == "granted"]
    assert len(boxes) >= 2
    fields = [("account_id", listed.id), ("typed_account_id", f"  {typed.id} ")]
    fields += [("granted", s) for s in boxes[1:]] + [("action", "approve")]
    r = await submit(client, page, fields)
    answer = query(r.headers["location"])
    assert answer["code"] and answer["state"] == LINK_STATE
    assert core.grant(app.client_id, listed.id) is None
    grant = core.grant(app.client_id, typed.id)
    assert grant is not None and grant.declined == [boxes[0]]
    assert grant.granted == boxes[1:]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_cancel_answers_the_providers_error_redirect(
    client: httpx.AsyncClient, core: Core, provider: str
) -> None:
    account = core.create_account(provider)
    app, page = await open_consent(client, core, provider)
    r = await submit(client, page, [("account_id", account.id), ("action", "cancel")])
    location = r.headers["location"]
    answer = query(location)
    assert location.startswith(REDIRECT) and "code" not in answer
    assert answer["state"] == LINK_STATE and answer["error"]
    assert core.grant(app.client_id, account.id) is None


async def test_no_account_yet_says_where_to_make_one(client: httpx.AsyncClient, core: Core) -> None:
    _, page = await open_consent(client, core, "facebook")
    assert "No account yet" in page.text and 'href="/_conntrack/"' in page.text


async def test_consent_links_carry_pkce_where_required(core: Core) -> None:
    x = core.create_app_registration("twitter", redirect_uris=[REDIRECT])
    link = query(consent_url(core, x) or "")
    assert link["code_challenge"] == LINK_VERIFIER and link["code_challenge_method"] == "plain"
    fb = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    assert "code_challenge" not in query(consent_url(core, fb) or "")
