"""Smoke test: the app served by hypercorn's trio worker, called over the network."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import httpx
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from fake_providers import Core, create_app


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


async def test_serves_over_loopback() -> None:
    core = Core(WallClock(), seed=1)
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, create_app(core), config))
        base = binds[0]
        async with httpx.AsyncClient(base_url=base) as client:
            r = await client.get("/_conntrack/health")
            assert r.status_code == 200 and r.json() == {"status": "ok"}
            r = await client.post("/_conntrack/accounts", json={"provider": "facebook", "pages": 1})
            assert r.status_code == 201
            r = await client.get("/graph.facebook.com/v21.0/me")
            assert r.status_code == 400 and r.json()["error"]["code"] == 2500
        nursery.cancel_scope.cancel()
