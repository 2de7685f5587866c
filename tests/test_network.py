"""The product's client code against `conntrack serve` over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import trio

from conntrack import Action, Reason, TravelClock, load_profile
from conntrack._serve import serve
from conntrack.clients import AppCredentials, ClientContext, FacebookClient, consent

REDIRECT = "https://app.example.test/callback"


async def test_facebook_client_over_the_network() -> None:
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, "127.0.0.1", 0)
        base = binds[0]
        assert base.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            app = (
                await http.post(
                    "/_conntrack/apps", json={"provider": "facebook", "redirect_uris": [REDIRECT]}
                )
            ).json()
            account = (
                await http.post("/_conntrack/accounts", json={"provider": "facebook"})
            ).json()
            page = str(account["pages"][0]["id"])
            client = FacebookClient(
                ClientContext(
                    http=http,
                    base=base,
                    app=AppCredentials(app["client_id"], app["client_secret"], REDIRECT),
                    profile=load_profile("facebook"),
                    clock=TravelClock(),
                    resource=page,
                )
            )
            result = await consent(http, client.authorize_url("s1"), account_id=str(account["id"]))
            assert result.state == "s1" and result.code
            info = await client.connect(result.code, "s1")
            assert info.expires_at is not None and info.hard_expiry == info.expires_at
            assert (await client.read(info)).ok

            r = await http.post(
                f"/_conntrack/accounts/{account['id']}/events", json={"type": "password_change"}
            )
            assert r.status_code == 200
            answer = await client.read(info)
            assert answer.status == 400
            assert answer.verdict.action is Action.RECONNECT
            assert answer.verdict.reason is Reason.PASSWORD_CHANGED
        nursery.cancel_scope.cancel()


def test_conntrack_serve_command() -> None:
    exe = Path(sys.executable).parent / "conntrack"
    with subprocess.Popen(
        [str(exe), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            assert match, line
            r = httpx.get(match.group(1) + "/_conntrack/health", timeout=10)
            assert r.status_code == 200
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Traceback" not in err and "stopped" in err


def test_serve_rejects_a_bad_port() -> None:
    exe = Path(sys.executable).parent / "conntrack"
    proc = subprocess.run(
        [str(exe), "serve", "--port", "70000"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "--port" in proc.stderr and "Traceback" not in proc.stderr
