"""Every error the reference product's server sends is JSON in the protocol's documented
shape (``openapi.json``'s ``Error``: ``{"error": "<text>"}``), whatever went wrong: an
unknown path (404), a method a route does not take (405, with ``Allow`` naming the
ones it does), a product that fails unexpectedly (500). Quart's own answers were HTML
pages, which a harness reading ``error`` could not show."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, cast

import httpx
import jsonschema

from conntrack.product._model import ModelProduct
from conntrack.product._server import create_app

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE = "/_conntrack_test"
ORIGIN = "http://127.0.0.1:8123"
#: Each route and the methods it takes (HEAD and OPTIONS come with them).
ROUTES = {
    f"{BASE}/clock": {"POST"},
    f"{BASE}/company": {"PUT"},
    f"{BASE}/connections/acme/login": {"POST"},
    f"{BASE}/connections/acme": {"DELETE"},
    f"{BASE}/connections": {"GET"},
    "/oauth/facebook/callback": {"GET"},
    "/health": {"GET"},
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def error_schema() -> dict[str, Any]:
    document = (files("conntrack.product") / "openapi.json").read_text(encoding="utf-8")
    schema = json.loads(document)["components"]["schemas"]["Error"]
    return {**schema, "required": ["error"]}


def assert_documented_error(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.text
    body = r.json()
    jsonschema.validate(body, error_schema())
    assert isinstance(body["error"], str) and body["error"], body


@asynccontextmanager
async def served(product: Any = None) -> AsyncIterator[httpx.AsyncClient]:
    product = product or ModelProduct(fakes_url="http://fakes.invalid", apps={}, start=START)
    transport = httpx.ASGITransport(app=cast(Any, create_app(product)))
    async with (
        product.running(),
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http,
    ):
        yield http


async def test_a_method_a_route_does_not_take_is_a_json_405_with_allow() -> None:
    async with served() as http:
        tried = 0
        for path, takes in ROUTES.items():
            for method in METHODS:
                if method in takes:
                    continue
                r = await http.request(method, path, json={} if method != "GET" else None)
                assert_documented_error(r, 405)
                allow = {m.strip() for m in r.headers["allow"].split(",")}
                assert takes <= allow and allow <= takes | {"HEAD", "OPTIONS"}, (path, allow)
                assert method in r.json()["error"], r.json()
                tried += 1
        assert tried == 28


async def test_an_unknown_path_is_a_json_404() -> None:
    async with served() as http:
        for method in METHODS:
            for path in ("/", "/nope", f"{BASE}/clocks", f"{BASE}/connections/a/b/c"):
                r = await http.request(method, path, json={} if method != "GET" else None)
                assert_documented_error(r, 404)


async def test_a_product_that_fails_unexpectedly_is_a_json_500() -> None:
    class Broken(ModelProduct):
        async def connections(self) -> Any:
            raise RuntimeError("the database went away")

    product = Broken(fakes_url="http://fakes.invalid", apps={}, start=START)
    async with served(product) as http:
        r = await http.get(f"{BASE}/connections")
        assert_documented_error(r, 500)
        # The server keeps answering.
        assert (await http.get("/health")).status_code == 200
