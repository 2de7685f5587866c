"""``python -m acme``: serve acme on 127.0.0.1:$CONNTRACK_PRODUCT_PORT (hypercorn,
asyncio). SIGTERM or Ctrl-C stops it."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import warnings

from hypercorn.asyncio import serve
from hypercorn.config import Config

from .settings import SettingsError, load


async def _main() -> None:
    settings = load()
    # authlib 1.9 warns at import that its httpx integration moves to httpx2.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from .web import create_app

    app = create_app(settings)
    config = Config()
    config.bind = [f"127.0.0.1:{settings.port}"]
    config.accesslog = None
    config.errorlog = "-"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bugs = f" with bugs {', '.join(sorted(settings.bugs))}" if settings.bugs else ""
    print(f"acme: listening on http://127.0.0.1:{settings.port}{bugs}", flush=True)
    await serve(app, config, shutdown_trigger=stop.wait)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="acme: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(_main())
    except SettingsError as e:
        print(f"acme: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
