"""Keep-alive connections to the reference product's server (issue 11, item 3).

The harness and outside tools talk to ``conntrack reference-product`` with httpx or
requests, which send a request's headers and its body in two writes. An answer given
before the body arrived (a refused ``Content-Type``, ``Origin`` or ``Host``, a 404, a
405, a bad JSON body) must not leave the connection open but dead: the next request on
it must be answered, or the answer must say ``Connection: close`` and the server close.
A raw socket sends the headers, a pause, the body, then ``GET /health`` on the same
connection, against a real ``hypercorn.trio.serve`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial

import h11
import httpx
import pytest
import trio

from conntrack.product._model import ModelProduct
from conntrack.product._server import serve_product

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE = "/_conntrack_test"
#: Every route of the protocol, the OAuth callback, a 404 and 405s.
CASES = [
    ("POST", f"{BASE}/clock"),
    ("PUT", f"{BASE}/company"),
    ("POST", f"{BASE}/connections/c1/login"),
    ("DELETE", f"{BASE}/connections/c1"),
    ("POST", f"{BASE}/connections"),
    ("GET", f"{BASE}/connections"),
    ("POST", "/oauth/facebook/callback"),
    ("PUT", "/health"),
    ("POST", "/nowhere"),
]
BODIES = {
    "json": ("application/json", json.dumps({"now": "2026-03-02T15:00:00Z"}).encode()),
    "form": ("application/x-www-form-urlencoded", b"now=2026-03-02T15%3A00%3A00Z"),
    "bad-utf8": ("application/json", b'{"now": "\xff\xfe"}'),
}
#: How long the raw client waits for an answer before it calls the connection dead.
WAIT = 2.0
#: The pause between the headers and the body: long enough for a server that does not
#: wait for the body to answer first.
PAUSE = 0.1


@asynccontextmanager
async def served() -> AsyncIterator[int]:
    """The reference product's server on 127.0.0.1 and a free port: the port."""
    product = ModelProduct(fakes_url="http://fakes.invalid", apps={}, start=START)
    async with product.running(), trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve_product, product, "127.0.0.1", 0))
        yield int(binds[0].rsplit(":", 1)[1])
        nursery.cancel_scope.cancel()


def exchange(port: int, method: str, path: str, ctype: str, body: bytes) -> str:
    """Headers, a pause, the body, then ``GET /health`` on the same connection: what
    went wrong ('' when both were answered, or the first said it closes and did)."""
    conn = h11.Connection(h11.CLIENT)
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    host = ("Host", f"127.0.0.1:{port}")

    def response() -> tuple[int, dict[str, str]] | None:
        status, headers = 0, {}
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.EndOfMessage):
                return status, headers
            elif isinstance(event, h11.ConnectionClosed):
                return None

    try:
        head = [host, ("Content-Type", ctype), ("Content-Length", str(len(body)))]
        sock.sendall(conn.send(h11.Request(method=method, target=path, headers=head)) or b"")
        if select.select([sock], [], [], PAUSE)[0]:
            time.sleep(PAUSE)  # it answered before the body: let it finish that exchange
        sock.sendall(
            (conn.send(h11.Data(data=body)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
        )
        first = response()
        if first is None:
            return "closed before the first answer"
        if not (conn.our_state is h11.DONE and conn.their_state is h11.DONE):
            if first[1].get("connection", "").lower() != "close":
                return f"{first[0]}: not reusable, and not said to close"
            return "" if sock.recv(65536) == b"" else f"{first[0]}: said close, stayed open"
        conn.start_next_cycle()
        get = h11.Request(method="GET", target="/health", headers=[host])
        sock.sendall((conn.send(get) or b"") + (conn.send(h11.EndOfMessage()) or b""))
        second = response()
        if second is None:
            return f"{first[0]}: closed without 'Connection: close'"
        return "" if second[0] == 200 else f"second answer {second[0]}"
    except TimeoutError:
        return f"no answer within {WAIT} s"
    finally:
        sock.close()


@pytest.mark.parametrize("kind", list(BODIES))
async def test_body_in_a_second_write_keeps_the_connection_usable(kind: str) -> None:
    ctype, body = BODIES[kind]
    wrong = {}
    async with served() as port:
        for method, path in CASES:
            said = await trio.to_thread.run_sync(exchange, port, method, path, ctype, body)
            if said:
                wrong[f"{method} {path}"] = said
    assert wrong == {}


async def test_httpx_keep_alive_load_has_no_time_outs() -> None:
    """100 requests over one httpx pool, cycling through every case."""

    def load(port: int) -> tuple[int, int]:
        answered = timeouts = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=WAIT) as client:
            for i in range(100):
                method, path = CASES[i % len(CASES)]
                try:
                    client.request(method, path, json={"now": "2026-03-02T15:00:00Z", "i": i})
                    answered += 1
                except httpx.TimeoutException:
                    timeouts += 1
                    if timeouts >= 2:
                        break
        return answered, timeouts

    async with served() as port:
        figures = await trio.to_thread.run_sync(load, port)
    assert figures == (100, 0)
