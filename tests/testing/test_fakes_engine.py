"""The machinery at its edges: a request that arrives as the loop is ending gets an
answer (EngineStopped), never a wait for ever nor a crashed loop; an answer is handed
over as the app sent it; a loop that outlives stop() leaves the next alone; a failed
install leaves nothing patched."""

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


def test_a_loop_that_outlives_stop_leaves_the_next_loop_alone() -> None:
    """A request that blocks the loop (a sync sleep in an app) holds it past stop()'s
    wait; a start meanwhile runs a new loop. When the old loop ends at last, it must not
    take the new loop's token and nursery with it (the engine would think itself stopped,
    start a third loop and leave the second running for ever)."""
    import time

    async def blocking(scope: Any, receive: Any, send: Any) -> None:
        time.sleep(0.8)  # holds the whole loop
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def quick(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    engine = Engine()
    engine.STOP_TIMEOUT = 0.1
    engine.start()
    loops = [engine._thread]
    engine.submit(blocking, Call("GET", "http://stub.test/", timeout=5))
    time.sleep(0.2)  # the loop is in the sleep
    engine.stop()  # gives up waiting: the first loop is still held
    engine.start()  # as the next world does
    loops.append(engine._thread)
    try:
        assert engine.call(quick, Call("GET", "http://stub.test/", timeout=5)).status == 204
        loops[0].join(timeout=5)  # the first loop ends at last
        assert not loops[0].is_alive()
        assert engine.running and engine._thread is loops[1]
        assert engine.call(quick, Call("GET", "http://stub.test/", timeout=5)).status == 204
        assert engine._thread is loops[1]  # answered by the second loop, no third
    finally:
        engine.STOP_TIMEOUT = 5
        engine.stop()
    assert not any(t is not None and t.is_alive() for t in loops)


def test_a_failed_install_puts_back_what_it_had_patched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first world's patches go in one by one; one that fails takes the others out
    again, so no library is left patched with no world to answer it."""
    import httpx

    from conntrack.testing import _fakes, _intercept, fakes

    with fakes():
        pass  # an app is built, and free
    free = sum(len(apps) for apps in _fakes._FREE.values())
    original = httpx.HTTPTransport.handle_request

    def broken() -> None:
        raise RuntimeError("urllib3 would not be patched")

    monkeypatch.setattr(_intercept, "_install_urllib3", broken)
    with pytest.raises(RuntimeError, match="would not be patched"), fakes():
        pass
    assert httpx.HTTPTransport.handle_request is original
    assert not _intercept.any_active()
    # The world that could not start gave its app back.
    assert sum(len(apps) for apps in _fakes._FREE.values()) == free
