"""What a newcomer's first product runs into, each said so that they know what to do.

Found by writing a small product from the README alone: a ``redirect_uri`` that is not
the product's callback read as a refused login saying only "Not Found"; a handler that
crashed and dropped the connection read as "could not reach the product" although its
traceback was in the product's log.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import trio

from conntrack.product._client import HttpProduct
from conntrack.product._file import ProductFile, load_product
from conntrack.product._interface import ProductError
from conntrack.product._process import ProductProcess

BASE = "http://product.test/_t"

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
            timeouts: {clock: 2s, request: 1s}
            """
        )
    )
    return load_product(path)


async def with_product(
    file: ProductFile, handler: Handler, test: Callable[[HttpProduct], Awaitable[None]]
) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await test(HttpProduct(file, BASE, http))


async def test_a_missing_callback_route_asks_about_redirect_uri(file: ProductFile) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cb":
            return httpx.Response(404, text="Not Found")
        return httpx.Response(400, json={"error": "wrong account"})

    async def test(product: HttpProduct) -> None:
        missing = await product.callback("http://product.test/cb?code=c&state=s")
        assert not missing.ok and missing.status == 404
        assert missing.detail.startswith("Not Found")
        assert "HTTP 404 at /cb" in missing.detail and "redirect_uri" in missing.detail
        refused = await product.callback("http://product.test/oauth/x/callback?code=c")
        assert refused.detail == "wrong account"  # a refusal reads as the product says

    await with_product(file, handler, test)


#: A product that is up and has logged a handler's traceback.
CRASHED_HANDLER = textwrap.dedent(
    """
    import sys, time
    print("Traceback (most recent call last):", file=sys.stderr)
    print("RuntimeError: boom in the callback", file=sys.stderr, flush=True)
    time.sleep(60)
    """
)


async def running(tmp_path: Path) -> ProductProcess:
    p = ProductProcess(
        [sys.executable, "-c", CRASHED_HANDLER], log=tmp_path / "product.log", stop_timeout=2
    )
    p.start()
    with trio.fail_after(10):
        while "boom" not in p.log_tail():
            await trio.sleep(0.02)
    return p


async def test_a_live_product_that_dropped_the_connection_shows_its_log(tmp_path: Path) -> None:
    p = await running(tmp_path)
    try:
        dropped = ProductError(
            "could not reach the product: RemoteProtocolError: Server disconnected",
            request="GET http://127.0.0.1:1/oauth/twitter/callback?code=c",
        )
        explained = await p.explain(dropped)
        text = str(explained)
        assert text.startswith("could not reach the product: RemoteProtocolError")
        assert "still running; the end of its log:" in text
        assert "  | RuntimeError: boom in the callback" in text
        assert explained.request == dropped.request
        failed = ProductError("GET /connections: the product failed (HTTP 500)", answer="HTTP 500")
        assert "boom in the callback" in str(await p.explain(failed))
        missing = ProductError("GET /connections: the route is missing", answer="HTTP 404")
        assert await p.explain(missing) is missing  # its log has nothing to add
    finally:
        p.stop()
    assert not p.running
