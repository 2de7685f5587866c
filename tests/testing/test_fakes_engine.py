"""The engine at its edges: a request that arrives as the loop is ending gets an answer
(EngineStopped), never a wait for ever nor a crashed loop; an answer is handed over as
the app sent it."""

from __future__ import annotations

import concurrent.futures
import gzip
import threading
from typing import Any

import pytest
import trio

from conntrack.testing._engine import Call, Engine, EngineStopped


def test_a_request_spawned_into_a_closing_nursery_is_refused_not_lost() -> None:
    """Between the loop's nursery closing and the loop ending, a request's spawn finds
    the nursery closed to new arrivals: that must end the request, not the loop."""
    closed: list[trio.Nursery] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        async with trio.open_nursery() as nursery:
            closed.append(nursery)  # closed when the block ends
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    engine = Engine()
    engine.start()
    try:
        assert engine.call(app, Call("GET", "http://stub.test/", timeout=5)).status == 204
        live, engine._nursery = engine._nursery, closed[0]
        answer: concurrent.futures.Future[object] = concurrent.futures.Future()

        def ask() -> None:  # a daemon thread: a regression fails the test, not the exit
            try:
                answer.set_result(engine.call(app, Call("GET", "http://stub.test/", timeout=5)))
            except BaseException as e:
                answer.set_exception(e)

        threading.Thread(target=ask, daemon=True).start()
        with pytest.raises(EngineStopped, match="stopping"):
            answer.result(timeout=5)
        engine._nursery = live
        # The loop lives on: the next request is answered.
        assert engine.call(app, Call("GET", "http://stub.test/", timeout=5)).status == 204
    finally:
        engine.stop()
    assert not engine.running


def test_an_encoded_body_is_handed_over_as_sent() -> None:
    """A gzip answer stays gzip, with its Content-Encoding: the client's library decodes
    it once (decoded here as well, it would try to gunzip plain text)."""
    plain = b'{"ok": true}'
    packed = gzip.compress(plain)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-encoding", b"gzip"), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": packed})

    engine = Engine()
    engine.start()
    try:
        answer = engine.call(app, Call("GET", "http://stub.test/", timeout=5))
    finally:
        engine.stop()
    assert (answer.body, dict(answer.headers)[b"content-encoding"]) == (packed, b"gzip")
    assert gzip.decompress(answer.body) == plain
