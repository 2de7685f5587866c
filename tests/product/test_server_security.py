"""The reference product's server takes every web page in the browser as hostile.

A page the developer visits can send requests to ``127.0.0.1:PORT`` (without reading
the answers), or point its own name at that address (DNS rebinding) and then read them.
So the protocol routes refuse a foreign ``Host`` (421), a foreign ``Origin`` or a
cross-site fetch (403), and a body that is not JSON (415: ``text/plain`` and forms need
no CORS preflight); the OAuth callback, a browser's top-level redirect from the
provider's page, only needs an allowed ``Host``. Each refusal is checked to have
changed nothing (the product's clock did not move), and each allowed variant to reach
the product.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest

from conntrack.product._model import ModelProduct
from conntrack.product._server import create_app, refusal, same_origin, split_host

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE = "/_conntrack_test"
LATER = {"now": "2026-03-02T15:00:00Z"}
EARLIER = {"now": "2026-03-02T12:00:00Z"}
ORIGIN = "http://127.0.0.1:8123"
CROSS_SITE_FETCH = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
NAVIGATION = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}


@asynccontextmanager
async def served(**kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The server over ASGI, reached as ``127.0.0.1:8123`` as the harness reaches it."""
    product = ModelProduct(fakes_url="http://fakes.invalid", apps={}, start=START)
    transport = httpx.ASGITransport(app=cast(Any, create_app(product, **kwargs)))
    async with (
        product.running(),
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http,
    ):
        yield http


async def clock_unmoved(http: httpx.AsyncClient) -> bool:
    """Whether the product's clock is still before ``EARLIER`` (a refused ``LATER``
    did not reach it): moving to ``EARLIER`` is then allowed, not a 409."""
    r = await http.post(f"{BASE}/clock", json=EARLIER)
    return r.status_code == 200


def assert_refused(r: httpx.Response, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    for word in words:
        assert word in error


async def test_the_harness_requests_are_served() -> None:
    async with served() as http:
        r = await http.post(f"{BASE}/clock", json=LATER)
        assert r.status_code == 200 and r.json()["now"] == LATER["now"]
        r = await http.get(f"{BASE}/connections")
        assert r.status_code == 200 and r.json() == []


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8123", "127.0.0.1.nip.io:8123", "LOCALHOST.evil."]
)
async def test_a_foreign_host_is_refused_on_every_route(host: str) -> None:
    async with served() as http:
        r = await http.post(f"{BASE}/clock", json=LATER, headers={"Host": host})
        assert_refused(r, 421, split_host(host)[0], "127.0.0.1 or localhost")
        assert await clock_unmoved(http)
        for path in (f"{BASE}/connections", "/oauth/facebook/callback?code=x&state=y"):
            r = await http.get(path, headers={"Host": host, **NAVIGATION})
            assert_refused(r, 421, "does not answer for the host")


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8123", "localhost:8123", "app.localhost", "[::1]:8123", "10.1.2.3"]
)
async def test_loopback_names_and_addresses_are_answered(host: str) -> None:
    async with served() as http:
        r = await http.post(f"{BASE}/clock", json=LATER, headers={"Host": host})
        assert r.status_code == 200, r.text


async def test_allow_hosts_adds_names() -> None:
    async with served(allow_hosts=["Product.Test:8123"]) as http:
        r = await http.post(f"{BASE}/clock", json=LATER, headers={"Host": "product.test:8123"})
        assert r.status_code == 200, r.text
        r = await http.get(f"{BASE}/connections", headers={"Host": "other.test"})
        assert r.status_code == 421


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("text/plain", b'{"now": "2026-03-02T15:00:00Z"}'),
        ("text/plain;charset=UTF-8", b'{"now": "2026-03-02T15:00:00Z"}'),
        ("application/x-www-form-urlencoded", b"now=2026-03-02T15%3A00%3A00Z"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="n"'),
        (None, b'{"now": "2026-03-02T15:00:00Z"}'),
    ],
)
async def test_a_body_that_is_not_json_is_refused(kind: str | None, content: bytes) -> None:
    headers = {} if kind is None else {"Content-Type": kind}
    async with served() as http:
        r = await http.post(f"{BASE}/clock", content=content, headers=headers)
        assert_refused(r, 415, "application/json")
        assert await clock_unmoved(http)
        r = await http.put(f"{BASE}/company", content=content, headers=headers)
        assert_refused(r, 415, "application/json")
        r = await http.request("DELETE", f"{BASE}/connections/fb", content=content, headers=headers)
        assert_refused(r, 415, "application/json")


async def test_json_media_types_and_bodiless_posts_reach_the_routes() -> None:
    async with served() as http:
        r = await http.post(
            f"{BASE}/clock",
            content=b'{"now": "2026-03-02T12:00:00Z"}',
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert r.status_code == 200, r.text
        r = await http.post(
            f"{BASE}/clock",
            content=b'{"now": "2026-03-02T15:00:00Z"}',
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        r = await http.post(f"{BASE}/clock")  # no body: the route says what it misses
        assert_refused(r, 400, "JSON object")


async def test_json_nested_past_the_stack_is_a_bad_request() -> None:
    async with served() as http:
        deep = b"[" * 100_000 + b"]" * 100_000
        r = await http.post(
            f"{BASE}/clock", content=deep, headers={"Content-Type": "application/json"}
        )
        assert_refused(r, 400, "JSON object")


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://127.0.0.1:9999", "http://localhost:8123"]
)
async def test_a_foreign_origin_is_refused(origin: str) -> None:
    async with served() as http:
        r = await http.post(f"{BASE}/clock", json=LATER, headers={"Origin": origin})
        assert_refused(r, 403, origin)
        assert await clock_unmoved(http)
        r = await http.get(f"{BASE}/connections", headers={"Origin": origin})
        assert_refused(r, 403, "another origin")


async def test_the_servers_own_origin_is_answered() -> None:
    async with served() as http:
        r = await http.post(f"{BASE}/clock", json=LATER, headers={"Origin": ORIGIN})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
async def test_a_fetch_from_another_site_is_refused_but_a_navigation_is_not(site: str) -> None:
    async with served() as http:
        for mode in ("no-cors", "cors"):
            headers = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode}
            r = await http.post(f"{BASE}/clock", json=LATER, headers=headers)
            assert_refused(r, 403, site)
            r = await http.get(f"{BASE}/connections", headers=headers)
            assert_refused(r, 403, site)
        assert await clock_unmoved(http)
        navigate = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate"}
        r = await http.get(f"{BASE}/connections", headers=navigate)
        assert r.status_code == 200 and r.json() == []
        r = await http.post(f"{BASE}/clock", json=LATER, headers=navigate)  # a form's post
        assert_refused(r, 403, site)


@pytest.mark.parametrize(
    "headers",
    [
        NAVIGATION,
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"},
        {"Origin": "https://www.facebook.com", **NAVIGATION},
        {},
    ],
)
async def test_the_oauth_callback_is_reached_from_the_providers_page(
    headers: dict[str, str],
) -> None:
    """A top-level redirect from the provider's page gets to the product, which judges
    the callback itself (here: a forged ``state``, refused by the product, not by the
    guard)."""
    async with served() as http:
        r = await http.get("/oauth/facebook/callback?code=x&state=forged", headers=headers)
        assert_refused(r, 400, "state")


async def test_every_answer_forbids_framing_and_sniffing() -> None:
    async with served() as http:
        answers = [
            await http.get(f"{BASE}/connections"),
            await http.post(f"{BASE}/clock", json={"now": "soon"}),
            await http.get("/oauth/facebook/callback?code=x&state=forged"),
            await http.get("/health"),
            await http.get("/nowhere"),
            await http.get("/health", headers={"Host": "evil.example"}),
            await http.post(f"{BASE}/clock", content=b"x", headers={"Content-Type": "text/plain"}),
        ]
        assert [r.status_code for r in answers] == [200, 400, 400, 200, 404, 421, 415]
        for r in answers:
            assert r.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_host_and_origin_parsing() -> None:
    assert split_host("[::1]:8123") == ("::1", 8123)
    assert split_host("Example.COM.") == ("example.com", None)
    assert split_host("::1") == ("::1", None)
    assert same_origin("http://127.0.0.1", "127.0.0.1:80")
    assert same_origin("https://localhost", "localhost:443")
    assert same_origin("http://[::1]:8123", "[::1]:8123")
    assert not same_origin("https://127.0.0.1:8123", "127.0.0.1:80")
    for broken in ("http://[::1", "http://127.0.0.1:99999", "file://", "null", ""):
        assert not same_origin(broken, "127.0.0.1:8123")
    assert not same_origin(ORIGIN, None)


def test_refusal_without_a_host_header_judges_the_rest() -> None:
    """HTTP/1.0 clients may send no ``Host``: nothing to check there, the other rules
    still hold."""
    assert refusal("GET", {}) is None
    assert refusal("POST", {"content-type": "text/plain", "content-length": "2"}) == (
        415,
        "this route takes a JSON body sent as Content-Type: application/json, not text/plain",
    )
    why = refusal("POST", {"Transfer-Encoding": "chunked"})
    assert why is not None and why[0] == 415
    why = refusal("POST", {"ORIGIN": "https://evil.example"})
    assert why is not None and why[0] == 403
