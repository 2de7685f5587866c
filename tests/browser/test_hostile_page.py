"""A hostile web page in the developer's browser against a real `conntrack serve`
(issue 11 item 5). The page is served by Playwright itself (``page.route``) from an
origin of its own; what it makes the browser send reaches the real server, and is
refused: a cross-origin form post to the index page's forms, a ``text/plain`` JSON post
to the control API (no CORS preflight needed for either), and a DNS-rebinding page that
reads ``/_conntrack/state`` from its own name pointed at 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import control

EVIL = "http://evil.example.test"
EVIL_URI = f"{EVIL}/cb"


def hostile(page: Any, html: str, url: str = f"{EVIL}/") -> None:
    """Open ``url`` in ``page``, answered with ``html`` by Playwright (no server)."""
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(url)


def apps_for_evil(server: str) -> list[Any]:
    apps = control(server, "GET", "apps")["data"]
    return [a for a in apps if EVIL_URI in a["redirect_uris"]]


def test_a_cross_origin_form_post_is_refused(server: str, page: Any) -> None:
    form = f"""<!DOCTYPE html><title>win a prize</title>
<form id="f" method="post" action="{server}/_conntrack/ui/apps">
  <input name="provider" value="facebook"><input name="redirect_uris" value="{EVIL_URI}">
  <input name="csrf_token" value="a-guess">
</form>"""
    hostile(page, form)
    with page.expect_response(lambda r: r.url.endswith("/_conntrack/ui/apps")) as caught:
        page.locator("#f").evaluate("f => f.submit()")
    answer = caught.value
    assert answer.status == 403
    sent = answer.request.all_headers()
    assert sent.get("origin") == EVIL  # the browser said where it came from
    assert apps_for_evil(server) == []


def test_a_text_plain_json_post_is_refused(server: str, bare: Any) -> None:
    page = bare
    body = json.dumps({"provider": "facebook", "redirect_uris": [EVIL_URI]})
    script = f"""<!DOCTYPE html><title>cat pictures</title>
<script>
fetch("{server}/_conntrack/apps", {{method: "POST", mode: "no-cors",
  headers: {{"Content-Type": "text/plain"}}, body: {json.dumps(body)}}});
</script>"""
    with page.expect_response(lambda r: r.url.endswith("/_conntrack/apps")) as caught:
        hostile(page, script)
    answer = caught.value
    # No preflight was needed: the request reached the server, which refused it (its
    # Origin first; as text/plain it would be a 415 even from the server's own page).
    assert answer.request.method == "POST"
    assert answer.request.all_headers().get("content-type") == "text/plain"
    assert answer.status == 403
    assert apps_for_evil(server) == []


@pytest.fixture(scope="module")
def unprotected(chromium: str, browser: Any) -> Iterator[Any]:
    """A Chromium without its own defence (Private Network Access, which stops a public
    page's fetch to 127.0.0.1 before it is sent; Firefox and Safari have none), in which
    ``rebind.evil.test`` resolves to 127.0.0.1, as after a DNS-rebinding attack: what
    such a page sends must reach the server and be refused there."""
    off = (
        "BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,"
        "PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks"
    )
    args = [
        "--no-sandbox",
        f"--disable-features={off}",
        "--host-resolver-rules=MAP rebind.evil.test 127.0.0.1",
    ]
    other = browser.browser_type.launch(executable_path=chromium, headless=True, args=args)
    try:
        yield other
    finally:
        other.close()


@pytest.fixture
def bare(unprotected: Any) -> Iterator[Any]:
    context = unprotected.new_context()
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_dns_rebinding_page_cannot_read_the_state(server: str, bare: Any) -> None:
    rebinding = bare
    control(server, "POST", "apps", provider="facebook", redirect_uris=[EVIL_URI],
            client_secret="the-secret")  # fmt: skip
    port = urlsplit(server).port
    origin = f"http://rebind.evil.test:{port}"
    # The attacker's page, same-origin with the server once the name points at it.
    answer = rebinding.goto(f"{origin}/_conntrack/state")
    assert answer is not None and answer.status == 421
    assert "the-secret" not in rebinding.content()
    assert "--allow-host" in rebinding.content()
