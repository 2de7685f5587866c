"""The engine's loop at its edges: a request that arrives as the loop is ending gets an
answer (EngineStopped), never a wait for ever nor a crashed loop."""

from __future__ import annotations

import concurrent.futures
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
