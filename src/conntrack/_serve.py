"""``conntrack serve``: every fake provider on one port, for real clients over real HTTP.

The fakes run on a :class:`~conntrack._clock.TravelClock` (wall time plus a forward-only
offset the control API moves), never on a free-running virtual clock: outside clients
wait on real sockets. Served by hypercorn's trio worker.
"""

from __future__ import annotations

import logging

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

import fake_providers

from ._clock import TravelClock

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8400


def make_config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("conntrack.serve")
    return config


async def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    seed: int = 0,
    core: fake_providers.Core | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the fakes until cancelled; reports the bound URLs through ``task_status``."""
    core = core or fake_providers.Core(TravelClock(), seed=seed)
    app = fake_providers.create_app(core)
    await hypercorn_serve(app, make_config(host, port), task_status=task_status)
