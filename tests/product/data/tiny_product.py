"""A tiny product under test that speaks the product test protocol badly on purpose.

The standard library only (``http.server``): the CLI and pytest plugin tests start it
through a product file to see what a run reports when a product breaks the protocol,
hangs, or does not start. ``TINY_BREAK`` says how it misbehaves:

- ``clock``: ``POST {base}/clock`` answers 200 with a body that is not JSON;
- ``hang``: ``POST {base}/clock`` never answers (a Ctrl-C or the clock timeout ends it);
- ``exit``: it prints a line and exits 3 before listening;
- empty: it answers every protocol route with an empty, well-formed answer.

``TINY_PIDFILE``, when set, is where it writes its process id, so a test can check that
the harness stopped it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE = "/_t"
BREAK = os.environ.get("TINY_BREAK", "")


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: bytes = b"", kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # http.server names the handlers
        if self.path == f"{BASE}/connections":
            self._answer(200, b"[]")
        else:
            self._answer(404, b'{"error": "no such route"}')

    def do_PUT(self) -> None:
        self._body()
        self._answer(204 if self.path == f"{BASE}/company" else 404)

    def do_POST(self) -> None:
        body = self._body()
        if self.path != f"{BASE}/clock":
            self._answer(404, b'{"error": "no such route"}')
        elif BREAK == "clock":
            self._answer(200, b"<html>not json {", "text/html")
        elif BREAK == "hang":
            time.sleep(3600)
        else:
            now = json.loads(body or b"{}").get("now")
            self._answer(200, json.dumps({"now": now, "next": None}).encode())

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the harness keeps the product's log tail


def main() -> None:
    if os.environ.get("TINY_PIDFILE"):
        with open(os.environ["TINY_PIDFILE"], "w") as f:
            f.write(str(os.getpid()))
    if BREAK == "exit":
        print("tiny: cannot open its database (on purpose)", file=sys.stderr, flush=True)
        sys.exit(3)
    port = int(os.environ["CONNTRACK_PRODUCT_PORT"])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
