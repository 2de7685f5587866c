"""A person at a real browser (headless Chromium) against a real `conntrack serve`.

They open a provider's consent page, choose or type an account, untick a permission and
approve, or cancel; the browser's request to the app's ``redirect_uri`` (a host that
does not resolve) carries what the provider sends. On
the index page they fire a password change and see the token turn invalid.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from .conftest import REDIRECT_URI, control

FB_SCOPES = ["pages_show_list", "pages_read_engagement", "pages_manage_posts"]
PROVIDERS = ["facebook", "google", "instagram", "linkedin", "tiktok", "twitter"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def follow_to_callback(page: Any, button: Any) -> tuple[dict[str, str], str]:
    """Click ``button``; answer the query of the request the browser then made to the
    app's redirect URI, and the provider's ``Location`` it followed (with a fragment
    where the provider adds one). The app's host does not resolve (see conftest): the
    page ends on Chromium's error page, which is fine, the request is what counts."""
    with page.expect_request(lambda r: r.url.startswith(REDIRECT_URI)) as caught:
        button.click()
    request = caught.value
    assert request.is_navigation_request() and request.redirected_from is not None
    # Wait for Chromium to commit its error page for the unresolvable host: until then
    # that navigation is still pending, and a test's next page.goto would be
    # interrupted by it ("interrupted by another navigation to chrome-error://").
    page.wait_for_url(lambda url: url.startswith("chrome-error:"))
    location = request.redirected_from.response().header_value("location")
    return query_of(request.url), location


def facebook_dialog(base: str, app: dict[str, Any], state: str) -> str:
    query = {
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT_URI,
        "state": state,
        "scope": ",".join(FB_SCOPES),
        "response_type": "code",
    }
    return f"{base}/www.facebook.com/v21.0/dialog/oauth?{urlencode(query)}"


def new_facebook(server: str) -> tuple[dict[str, Any], dict[str, Any]]:
    app = control(server, "POST", "apps", provider="facebook", redirect_uris=[REDIRECT_URI])
    control(server, "POST", "accounts", provider="facebook", name="Someone Else")
    account = control(server, "POST", "accounts", provider="facebook", name="Ada Lovelace")
    return app, account


def exchange(server: str, app: dict[str, Any], code: str) -> str:
    r = httpx.get(
        f"{server}/graph.facebook.com/v21.0/oauth/access_token",
        params={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT_URI,
            "code": code,
        },
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_decline_a_permission_by_clicking(server: str, page: Any) -> None:
    app, account = new_facebook(server)
    page.goto(facebook_dialog(server, app, "st-decline"))
    page.get_by_label("Continue as").select_option(account["id"])
    box = page.get_by_label("pages_manage_posts")
    box.uncheck()
    assert not box.is_checked() and page.get_by_label("pages_show_list").is_checked()
    answer, location = follow_to_callback(page, page.get_by_role("button", name="Continue"))
    assert answer["state"] == "st-decline" and answer["code"]
    assert location.startswith(REDIRECT_URI + "?") and location.endswith("#_=_")

    token = exchange(server, app, answer["code"])
    graph = f"{server}/graph.facebook.com/v21.0"
    me = httpx.get(f"{graph}/me", params={"access_token": token}).json()
    assert me["id"] == account["id"]
    perms = httpx.get(f"{graph}/me/permissions", params={"access_token": token}).json()["data"]
    assert {p["permission"]: p["status"] for p in perms} == {
        "pages_show_list": "granted",
        "pages_read_engagement": "granted",
        "pages_manage_posts": "declined",
    }
    debug = httpx.get(
        f"{graph}/debug_token",
        params={"input_token": token, "access_token": f"{app['client_id']}|{app['client_secret']}"},
    ).json()["data"]
    assert "pages_manage_posts" not in debug["scopes"]


def test_cancel_answers_facebooks_error_redirect(server: str, page: Any) -> None:
    app, account = new_facebook(server)
    page.goto(facebook_dialog(server, app, "st-cancel"))
    page.get_by_label("Continue as").select_option(account["id"])
    answer, _ = follow_to_callback(page, page.get_by_role("button", name="Cancel"))
    assert answer == {
        "error": "access_denied",
        "error_code": "200",
        "error_description": "Permissions error",
        "error_reason": "user_denied",
        "state": "st-cancel",
    }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_consent_page_from_the_index(server: str, page: Any, provider: str) -> None:
    """From the index page's link: type an account id, untick the first permission."""
    app = control(server, "POST", "apps", provider=provider, redirect_uris=[REDIRECT_URI])
    typed = control(server, "POST", "accounts", provider=provider)
    page.goto(f"{server}/")
    page.locator(f"#app-{app['client_id']} a.consent-link").click()
    boxes = page.locator('input[name="granted"]')
    first = boxes.first.get_attribute("value")
    rest = [boxes.nth(i).get_attribute("value") for i in range(1, boxes.count())]
    boxes.first.uncheck()
    page.locator("#typed_account_id").fill(typed["id"])
    approve = page.locator('button[name="action"][value="approve"]')
    answer, _ = follow_to_callback(page, approve)
    assert answer["code"] and answer["state"] == "conntrack-index"
    (grant,) = control(server, "GET", f"accounts/{typed['id']}")["grants"]
    assert grant["client_id"] == app["client_id"]
    assert grant["declined"] == [first] and grant["granted"] == rest


def test_index_page_password_change_turns_the_token_invalid(server: str, page: Any) -> None:
    app, account = new_facebook(server)
    page.goto(facebook_dialog(server, app, "st-index"))
    page.get_by_label("Continue as").select_option(account["id"])
    answer, _ = follow_to_callback(page, page.get_by_role("button", name="Continue"))
    token = exchange(server, app, answer["code"])

    page.goto(f"{server}/")
    assert page.url == f"{server}/_conntrack/"
    row = page.locator(f'tr.token[data-prefix="{token[:12]}…"]')
    assert row.locator(".status").inner_text() == "valid"
    card = page.locator(f"#account-{account['id']}")
    card.get_by_role("button", name="Password change").click()
    page.wait_for_url("**/_conntrack/?ok=*")
    assert "password_change" in page.locator("#flash").inner_text()
    status = page.locator(f'tr.token[data-prefix="{token[:12]}…"] .status').inner_text()
    assert status.startswith("invalid: password_changed")
    r = httpx.get(f"{server}/graph.facebook.com/v21.0/me", params={"access_token": token})
    assert r.status_code == 400 and r.json()["error"]["error_subcode"] == 460

    # Creating an account from its form: it gets a card of its own.
    page.locator("#create-account").evaluate("form => form.closest('details').open = true")
    form = page.locator("#create-account")
    form.get_by_label("provider").select_option("linkedin")
    form.get_by_label("name").fill("Grace Hopper")
    form.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/_conntrack/?ok=*")
    assert page.locator(".card h3", has_text="Grace Hopper").count() == 1

    # A day later by one click: the offset says so, and the short-lived token expired.
    page.get_by_role("button", name="+1d").click()
    page.wait_for_url("**/_conntrack/?ok=*")
    assert page.locator("#offset").inner_text() == "1d"
