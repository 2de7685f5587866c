"""HttpProduct: the Product interface over the product test protocol.

The product here is an httpx ``MockTransport`` handler written in each test: what it
answers is exactly what the test says, so every way a product can break the protocol
(a missing route, a server error, malformed JSON, a wrong shape, no answer in time, no
server at all) can be shown to end in a ProductError that names the request and the
answer.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trio

from conntrack.product._client import HttpProduct
from conntrack.product._file import ProductFile, load_product
from conntrack.product._interface import Company, CompanyUser, ProductError

BASE = "http://product.test/_t"
NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@pytest.fixture
def file(tmp_path: Path) -> ProductFile:
    path = tmp_path / "product.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            base: http://127.0.0.1:{port}/_t
            redirect_uri: http://127.0.0.1:{port}/oauth/{protocol}/callback
            start: {command: [python, -m, tiny]}
            states: {active: connected, broken: invalid, soon: expiring}
            reasons: {pw: password_changed}
            timeouts: {clock: 2s, request: 1s}
            """
        )
    )
    return load_product(path)


def run(
    file: ProductFile, handler: Handler, test: Callable[[HttpProduct], Awaitable[None]]
) -> None:
    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await test(HttpProduct(file, BASE, http))

    trio.run(main)


def answer(status: int, body: object = None, *, text: str | None = None) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers={"content-type": "text/html"})
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status)

    return handler


def broken(
    file: ProductFile, handler: Handler, call: Callable[[HttpProduct], Awaitable[object]]
) -> ProductError:
    caught: list[ProductError] = []

    async def test(product: HttpProduct) -> None:
        with pytest.raises(ProductError) as info:
            await call(product)
        caught.append(info.value)

    run(file, handler, test)
    return caught[0]


# -- the protocol spoken right ----------------------------------------------------------


def test_every_route_sends_what_the_protocol_says_and_reads_the_answers(file: ProductFile) -> None:
    seen: list[tuple[str, str, object]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, request.url.path, body))
        path = request.url.path
        if path.endswith("/clock"):
            return httpx.Response(200, json={"now": body["now"], "next": "2026-03-01T15:00:00Z"})
        if path.endswith("/login"):
            return httpx.Response(200, json={"authorize_url": "http://fakes.test/dialog?x=1"})
        if path.endswith("/connections"):
            return httpx.Response(
                200,
                json=[
                    {
                        "name": "fb",
                        "state": "broken",
                        "reason": "pw",
                        "banner": "Reconnect your Page",
                        "settings": None,
                        "last_synced_at": "2026-03-01T03:00:00Z",
                        "state_since": "2026-03-01T06:00:00+00:00",
                    }
                ],
            )
        return httpx.Response(204)

    async def test(product: HttpProduct) -> None:
        assert await product.advance(NOW) == datetime(2026, 3, 1, 15, tzinfo=UTC)
        await product.set_company(
            Company("Europe/Paris", (CompanyUser("user1", "A B", "a@b.test"),))
        )
        url = await product.login(
            "fb", provider="facebook", kind="owned", user="user1", action="add"
        )
        assert url == "http://fakes.test/dialog?x=1"
        await product.disconnect("fb", user="user2")
        [view] = await product.connections()
        assert (view.name, view.state, view.reason) == ("fb", "invalid", "password_changed")
        assert view.shows == "invalid" and view.banner == "Reconnect your Page"
        assert view.last_synced_at == datetime(2026, 3, 1, 3, tzinfo=UTC)
        assert view.state_since == datetime(2026, 3, 1, 6, tzinfo=UTC)
        assert view.raw["state"] == "broken"

    run(file, handler, test)
    assert seen[0] == ("POST", "/_t/clock", {"now": "2026-03-01T09:00:00Z"})
    assert seen[1][:2] == ("PUT", "/_t/company")
    assert seen[1][2] == {
        "timezone": "Europe/Paris",
        "users": [{"id": "user1", "name": "A B", "email": "a@b.test", "opt_out": False}],
    }
    assert seen[2] == (
        "POST",
        "/_t/connections/fb/login",
        {"provider": "facebook", "kind": "owned", "user": "user1", "action": "add"},
    )
    assert seen[3] == ("DELETE", "/_t/connections/fb", {"user": "user2"})
    assert seen[4] == ("GET", "/_t/connections", None)


@pytest.mark.parametrize("response", [httpx.Response(204), httpx.Response(200, json={"now": "x"})])
def test_a_clock_answer_without_next_says_nothing_about_next(
    file: ProductFile, response: httpx.Response
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return response

    async def test(product: HttpProduct) -> None:
        assert await product.advance(NOW) is None

    run(file, handler, test)


def test_the_callback_is_taken_below_400_and_refused_with_the_products_words(
    file: ProductFile,
) -> None:
    answers = {
        "/ok": httpx.Response(302, headers={"location": "/settings"}),
        "/json": httpx.Response(400, json={"error": "wrong account: log in as the Page admin"}),
        "/html": httpx.Response(403, text="<html><body><p>Permission   declined</p></body></html>"),
    }

    async def handler(request: httpx.Request) -> httpx.Response:
        return answers[request.url.path]

    async def test(product: HttpProduct) -> None:
        ok = await product.callback("http://product.test/ok?code=c&state=s")
        assert ok.ok and ok.status == 302
        refused = await product.callback("http://product.test/json?code=c&state=s")
        assert not refused.ok and refused.status == 400
        assert refused.detail == "wrong account: log in as the Page admin"
        page = await product.callback("http://product.test/html?error=access_denied")
        assert not page.ok and page.detail == "Permission declined"

    run(file, handler, test)


# -- the protocol broken: each a ProductError with the request and the answer --------------


def test_a_missing_route_names_the_route_the_request_and_the_answer(file: ProductFile) -> None:
    e = broken(file, answer(404, text="<h1>Not Found</h1>"), lambda p: p.advance(NOW))
    assert "POST /clock: the route is missing (HTTP 404)" in str(e)
    assert e.request == f'POST {BASE}/clock {{"now": "2026-03-01T09:00:00Z"}}'
    assert e.answer.startswith("HTTP 404 (text/html): <h1>Not Found</h1>")
    e = broken(file, answer(405, {"error": "method"}), lambda p: p.connections())
    assert "GET /connections: the route is missing (HTTP 405)" in str(e)
    assert e.request == f"GET {BASE}/connections"


def test_a_server_error_and_a_clock_going_back_are_errors(file: ProductFile) -> None:
    e = broken(
        file, answer(500, text="Traceback (most recent call last): boom"), lambda p: p.advance(NOW)
    )
    assert "the product failed (HTTP 500)" in str(e) and "boom" in e.answer
    e = broken(file, answer(409, {"error": "earlier"}), lambda p: p.advance(NOW))
    assert "time only moves forward" in str(e)
    e = broken(
        file, answer(502, text="bad gateway"), lambda p: p.callback("http://product.test/cb")
    )
    assert "OAuth callback" in str(e) and e.request == "GET http://product.test/cb"


def test_malformed_json_shows_the_start_of_the_answer(file: ProductFile) -> None:
    e = broken(file, answer(200, text="<html>not json {" + "x" * 2000), lambda p: p.connections())
    assert "GET /connections: the answer is not JSON" in str(e)
    assert e.answer.startswith("HTTP 200 (text/html): <html>not json {")
    assert len(e.answer) < 600  # the first ~500 characters, not the whole body


@pytest.mark.parametrize(
    ("body", "call", "says"),
    [
        ({"next": 5}, "advance", "'next' must be an ISO 8601 instant"),
        ({"next": "soon"}, "advance", "'next'"),
        (["now"], "advance", "must answer a JSON object"),
        ({"url": "x"}, "login", "authorize_url"),
        ({"authorize_url": "javascript:alert(1)"}, "login", "authorize_url"),
        ({"name": "fb"}, "connections", "must answer a JSON list"),
        ([{"name": "fb", "state": "weird"}], "connections", "state 'weird'"),
    ],
)
def test_a_wrong_shape_is_an_error_naming_what_is_wrong(
    file: ProductFile, body: object, call: str, says: str
) -> None:
    calls: dict[str, Callable[[HttpProduct], Awaitable[object]]] = {
        "advance": lambda p: p.advance(NOW),
        "login": lambda p: p.login("fb", provider="facebook", kind="owned", user="u", action="add"),
        "connections": lambda p: p.connections(),
    }
    e = broken(file, answer(200, body), calls[call])
    assert says in str(e)
    assert e.request and e.answer  # what was asked, and what came back


def test_no_answer_within_the_clock_timeout_is_an_error(file: ProductFile) -> None:
    quick = replace(file, clock_timeout=timedelta(seconds=0.2))

    async def handler(request: httpx.Request) -> httpx.Response:
        await trio.sleep(30)
        return httpx.Response(200)

    started = time.perf_counter()
    e = broken(quick, handler, lambda p: p.advance(NOW))
    assert time.perf_counter() - started < 5  # the clock timeout, not the handler's 30 s
    assert "no answer within" in str(e)
    assert e.request.startswith(f"POST {BASE}/clock")


def test_a_product_that_is_not_there_is_an_error(file: ProductFile) -> None:
    async def main() -> None:
        with trio.socket.socket() as s:  # a port nobody listens on
            await s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        async with httpx.AsyncClient() as http:
            product = HttpProduct(file, f"http://127.0.0.1:{port}/_t", http)
            with pytest.raises(ProductError) as info:
                await product.connections()
            assert "could not reach the product" in str(info.value)
            assert info.value.request == f"GET http://127.0.0.1:{port}/_t/connections"

    trio.run(main)
