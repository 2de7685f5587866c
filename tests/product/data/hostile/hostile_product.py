"""A hostile product under test: it speaks the protocol well enough to start, then does
one bad thing on purpose, chosen by ``HOSTILE`` (the standard library only).

- ``exit_mid``: exits (status 5) at its second clock call, mid-walk;
- ``hang_company`` / ``hang_connections`` / ``hang_clock``: that route never answers;
- ``huge`` / ``huge_chunked``: ``GET /connections`` answers a 100 MB body (with a
  ``Content-Length`` / without one);
- ``latin1``: ``POST /clock`` answers bytes that are not UTF-8;
- ``next_past`` / ``next_9999`` / ``next_ms``: ``next`` is a day before ``now``, in
  year 9999, or one millisecond after ``now``;
- ``mails``: at its first clock call it sends ``HOSTILE_MAILS`` emails (default 10 000);
- ``bad_mail``: it sends one email with a malformed ``Date:`` and no recipient header
  (delivered to one envelope recipient) and one to nobody at all;
- ``hang_callback``: its OAuth callback (the harness's browser GET) never answers (with
  ``callback_nested``: it refuses the login with a JSON error nested 100 000 deep);
- ``conn_null`` / ``conn_strings`` / ``conn_unknown`` / ``conn_dup`` / ``conn_nested``:
  ``GET /connections`` answers ``null``, a list of names, a connection the scenario does
  not have, one connection twice, or a list nested 100 000 deep;
- ``next_garbage``: ``next`` is not an instant;
- ``authorize_elsewhere`` / ``authorize_bad_client``: the login's ``authorize_url`` points
  at a cloud's metadata address, or carries a client id the fakes do not know;
- ``weird``: ``GET /connections`` answers a state and a reason no mapping knows;
- ``no_port``: it never listens (it sleeps);
- ``noisy``: it prints ``HOSTILE_NOISE`` MB (default 50) to stdout before it listens;
- ``sleep_start``: it sleeps ``HOSTILE_SLEEP`` seconds before it listens;
- empty: a well-formed, empty product.

``HOSTILE_REPORT``, when set, is where it writes (JSON) its process id and the SMTP and
fakes addresses the harness gave it, so a test can check that all of them are gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import smtplib
import sys
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

BASE = "/_t"
MODE = os.environ.get("HOSTILE", "")
CLOCKS = [0]
ODD_CONNECTIONS = {
    "conn_null": b"null",
    "conn_strings": b'["fb"]',
    "conn_unknown": b'[{"name": "zz", "state": "connected"}]',
    "conn_dup": b'[{"name": "fb", "state": "connected"}, {"name": "fb", "state": "expired"}]',
    "conn_nested": b"[" * 100_000 + b"]" * 100_000,
}


def _instant(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _authorize_url() -> str:
    app = json.loads(os.environ["CONNTRACK_APPS"])["facebook"]
    query = urlencode(
        {
            "client_id": app["client_id"],
            "redirect_uri": app["redirect_uri"],
            "state": "s",
            "scope": "pages_show_list",
            "response_type": "code",
        }
    )
    return f"{os.environ['CONNTRACK_FAKES_URL']}/www.facebook.com/v21.0/dialog/oauth?{query}"


def _send_mails() -> None:
    host, port = os.environ["CONNTRACK_SMTP_HOST"], int(os.environ["CONNTRACK_SMTP_PORT"])
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        if MODE == "bad_mail":
            smtp.sendmail(
                "acme@example.com",
                ["user1@example.com"],
                "Date: the day after tomorrow\r\nSubject: hi\r\n\r\nbody\r\n",
            )
            with contextlib.suppress(smtplib.SMTPException):
                smtp.sendmail("acme@example.com", [], "Subject: nobody\r\n\r\nbody\r\n")
            return
        for i in range(int(os.environ.get("HOSTILE_MAILS", "10000"))):
            smtp.sendmail(
                "acme@example.com",
                ["user1@example.com"],
                f"To: user1@example.com\r\nSubject: mail {i}\r\nX-Conntrack-Kind: invalid\r\n"
                f"X-Conntrack-Connection: fb\r\n\r\nbody {i}\r\n",
            )


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: bytes = b"", kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        if self.path.startswith("/oauth/"):
            if MODE == "hang_callback":
                time.sleep(3600)
            if MODE == "callback_nested":
                self._answer(400, b"[" * 100_000 + b"]" * 100_000)
                return
            self._answer(200, b"{}")
        elif self.path != f"{BASE}/connections":
            self._answer(404, b'{"error": "no such route"}')
        elif MODE == "hang_connections" and CLOCKS[0] > 0:
            time.sleep(3600)
        elif MODE == "huge":
            self._answer(200, b"[" + b" " * (100 * 1024 * 1024) + b"]")
        elif MODE == "huge_chunked":  # no Content-Length: read until the server closes
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"[" + b" " * (100 * 1024 * 1024) + b"]")
            self.close_connection = True
        elif MODE in ODD_CONNECTIONS:
            self._answer(200, ODD_CONNECTIONS[MODE])
        elif MODE == "weird":
            row = {"name": "fb", "state": "sideways", "reason": "moon_phase"}
            self._answer(200, json.dumps([row]).encode())
        else:
            self._answer(200, b"[]")

    def do_PUT(self) -> None:
        self._body()
        if MODE == "hang_company":
            time.sleep(3600)
        self._answer(204 if self.path == f"{BASE}/company" else 404)

    def do_POST(self) -> None:
        body = self._body()
        if self.path.endswith("/login"):
            url = _authorize_url()
            if MODE == "authorize_elsewhere":
                url = "http://169.254.169.254/latest/meta-data/"
            elif MODE == "authorize_bad_client":
                url = url.replace("client_id=", "client_id=nope")
            self._answer(200, json.dumps({"authorize_url": url}).encode())
            return
        if self.path != f"{BASE}/clock":
            self._answer(404, b'{"error": "no such route"}')
            return
        CLOCKS[0] += 1
        now = json.loads(body or b"{}").get("now")
        when = datetime.fromisoformat(now.replace("Z", "+00:00"))
        nxt: str | None = None
        if MODE == "exit_mid" and CLOCKS[0] >= 2:
            print("hostile: exiting mid-run (on purpose)", file=sys.stderr, flush=True)
            os._exit(5)
        elif MODE == "hang_clock":
            time.sleep(3600)
        elif MODE == "latin1":
            self._answer(200, b'{"now": "\xe9t\xe9", "next": null}')
            return
        elif MODE == "next_past":
            nxt = _instant(when - timedelta(days=1))
        elif MODE == "next_9999":
            nxt = "9999-12-31T23:59:59Z"
        elif MODE == "next_garbage":
            self._answer(200, b'{"now": null, "next": "tomorrow"}')
            return
        elif MODE == "next_ms":
            nxt = _instant(when + timedelta(milliseconds=1))
        elif MODE in ("mails", "bad_mail") and CLOCKS[0] == 1:
            _send_mails()
        self._answer(200, json.dumps({"now": now, "next": nxt}).encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    if os.environ.get("HOSTILE_REPORT"):
        report = {
            "pid": os.getpid(),
            "smtp": int(os.environ["CONNTRACK_SMTP_PORT"]),
            "fakes": os.environ["CONNTRACK_FAKES_URL"],
        }
        with open(os.environ["HOSTILE_REPORT"] + ".tmp", "w") as f:
            json.dump(report, f)
        os.replace(os.environ["HOSTILE_REPORT"] + ".tmp", os.environ["HOSTILE_REPORT"])
    if MODE == "no_port":
        time.sleep(3600)
    if MODE == "noisy":
        line = "x" * 1023 + "\n"
        for _ in range(int(os.environ.get("HOSTILE_NOISE", "50")) * 1024):
            sys.stdout.write(line)
        sys.stdout.flush()
    if MODE == "sleep_start":
        time.sleep(float(os.environ.get("HOSTILE_SLEEP", "3600")))
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["CONNTRACK_PRODUCT_PORT"])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
