"""The floors under ``conntrack serve``: what hypercorn's trio worker costs a request
with nothing of conntrack on top, for ``bench_server.py``.

``python bench/_floor_server.py raw`` serves a bare ASGI app (no framework: one
``http.response.start`` and one body, the bytes of Facebook's ``GET /me``);
``python bench/_floor_server.py quart`` serves a minimal ``QuartTrio`` app with that one
route. Both on 127.0.0.1, a free port, access log off, as ``conntrack serve`` runs
hypercorn; the first line printed is the URL. They stop on SIGINT/SIGTERM.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio

ME = {"id": "11546492854128181", "name": "Jonathan Simpson"}
BODY = b'{"id":"11546492854128181","name":"Jonathan Simpson"}'
HEADERS = [
    (b"content-type", b"application/json; charset=UTF-8"),
    (b"content-length", str(len(BODY)).encode()),
]


async def raw_app(scope: Any, receive: Any, send: Any) -> None:
    """Every request: the same 200 and body, in two sends (as every ASGI app answers)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def quart_app() -> QuartTrio:
    app = QuartTrio("floor")

    @app.get("/graph.facebook.com/v21.0/me")
    async def me() -> dict[str, str]:
        return ME

    return app


async def main(kind: str) -> None:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    app: Any = raw_app if kind == "raw" else quart_app()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def serving(task_status: trio.TaskStatus[list[str]]) -> None:
                await serve(app, config, task_status=task_status)

            urls = await nursery.start(serving)
            print(f"listening on {urls[0]}", flush=True)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("raw", "quart"):
        sys.exit("usage: python bench/_floor_server.py raw|quart")
    trio.run(main, sys.argv[1])
