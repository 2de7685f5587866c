"""ModelProduct against fakes served over a real port (inside the test's trio run).

The fakes run on a manual clock the test moves, as the harness does; the product runs
on its own clock that only ``advance`` moves. A Facebook connection is made through the
real OAuth flow, syncs, turns invalid on a password change (one email), and comes back
through a reconnect.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

import httpx
import pytest
import trio

import fake_providers
from conntrack._records import EmailRecord
from conntrack._serve import serve
from conntrack.clients import AppCredentials, consent
from conntrack.product import Company, CompanyUser
from conntrack.product._model import (
    CallbackOutbox,
    ClockBackwards,
    ModelProduct,
    UnknownConnection,
)
from conntrack.product._server import create_app, model_from_env, sync_every_of
from conntrack.product._smtp import SmtpCapture

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REDIRECT = "http://127.0.0.1:9/oauth/facebook/callback"
PEOPLE = Company(
    "Europe/Paris",
    (
        CompanyUser("user1", "Ada Admin", "ada@acme.test"),
        CompanyUser("user2", "Bob Boss", "bob@acme.test"),
    ),
)


class TestClock:
    """The fakes' clock: moved only by the test (the harness's role)."""

    __test__ = False

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, by: timedelta) -> None:
        self._now += by


@dataclass
class World:
    clock: TestClock
    base: str
    http: httpx.AsyncClient
    app: AppCredentials
    account: dict[str, Any]

    async def to(self, product: ModelProduct, when: datetime) -> datetime | None:
        """Move the fakes, then the product, to ``when``."""
        self.clock.advance(when - self.clock.now())
        return await product.advance(when)

    async def login(self, product: ModelProduct, action: str) -> Any:
        url = await product.login(
            "fb", provider="facebook", kind="owned", user="user1", action=action
        )
        result = await consent(self.http, url, account_id=str(self.account["id"]))
        return await product.callback(result.redirect)


@asynccontextmanager
async def world() -> AsyncIterator[World]:
    clock = TestClock(START)
    core = fake_providers.Core(clock, seed=3)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, "127.0.0.1", 0, core=core))
        base = binds[0]
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.post(
                "/_conntrack/apps",
                json={"provider": "facebook", "redirect_uris": [REDIRECT], "name": "t"},
            )
            r.raise_for_status()
            app = AppCredentials(r.json()["client_id"], r.json()["client_secret"], REDIRECT)
            r = await http.post(
                "/_conntrack/accounts",
                json={"provider": "facebook", "name": "Ada Admin", "email": "ada@acme.test"},
            )
            r.raise_for_status()
            yield World(clock, base, http, app, r.json())
        nursery.cancel_scope.cancel()


async def test_connect_sync_password_change_reconnect() -> None:
    sent: list[EmailRecord] = []
    async with world() as w:
        product = ModelProduct(
            fakes_url=w.base,
            apps={"facebook": w.app},
            start=START,
            outboxes=[CallbackOutbox(sent.append)],
        )
        async with product.running():
            await product.set_company(PEOPLE)
            assert await w.to(product, START) is None  # nothing due before a connection
            outcome = await w.login(product, "add")
            assert outcome.ok, outcome.detail
            [view] = await product.connections()
            assert (view.name, view.state, view.reason) == ("fb", "connected", None)
            assert view.last_synced_at == START  # the login's check was the first sync
            assert view.state_since == START
            page = w.account["pages"][0]
            assert product.actors["fb"].page_id == str(page["id"])  # found via me/accounts
            # The next instant it has something due: the next sync, 6 hours later.
            nxt = await product.advance(START)
            assert nxt == START + timedelta(hours=6)
            assert await w.to(product, nxt) == nxt + timedelta(hours=6)
            [view] = await product.connections()
            assert view.last_synced_at == nxt

            # The admin changes the password: the next sync finds the token dead.
            changed = nxt + timedelta(hours=2)
            await w.to(product, changed)
            r = await w.http.post(
                f"/_conntrack/accounts/{w.account['id']}/events", json={"type": "password_change"}
            )
            r.raise_for_status()
            due = await w.to(product, changed)
            assert due == nxt + timedelta(hours=6)
            await w.to(product, due)
            [view] = await product.connections()
            assert (view.state, view.reason) == ("invalid", "password_changed")
            assert view.state_since == due
            assert view.last_synced_at == nxt
            assert view.shows == "invalid" and "password changed" in view.banner
            assert [(e.kind, e.about, e.to, e.at) for e in sent] == [
                ("invalid", "fb", "user1", due),
                ("invalid", "fb", "user2", due),
            ]
            assert page["name"] in sent[0].subject + sent[0].body

            # A reconnect brings it back; the banner goes away.
            later = due + timedelta(days=1)
            await w.to(product, later)
            outcome = await w.login(product, "reconnect")
            assert outcome.ok, outcome.detail
            [view] = await product.connections()
            assert (view.state, view.reason, view.banner) == ("reconnected", None, "")
            assert view.last_synced_at == later and view.state_since == later
            assert len(sent) == 2


async def test_a_refused_login_says_why_and_the_clock_only_moves_forward() -> None:
    async with world() as w:
        product = ModelProduct(fakes_url=w.base, apps={"facebook": w.app}, start=START)
        async with product.running():
            await product.set_company(PEOPLE)
            url = await product.login(
                "fb", provider="facebook", kind="owned", user="user1", action="add"
            )
            result = await consent(w.http, url, account_id=str(w.account["id"]), approve=False)
            outcome = await product.callback(result.redirect)
            assert not outcome.ok and outcome.status == 400
            assert "access_denied" in outcome.detail or "denied" in outcome.detail
            assert await product.connections() == []  # never connected: not shown
            replay = await product.callback(result.redirect)  # the state is used up
            assert not replay.ok and "state" in replay.detail
            await product.advance(START + timedelta(hours=1))
            with pytest.raises(ClockBackwards, match="only moves forward"):
                await product.advance(START)
            with pytest.raises(UnknownConnection):
                await product.disconnect("nope", user="user1")


async def test_emails_go_out_over_smtp_dated_at_the_virtual_instant() -> None:
    with SmtpCapture() as smtp:
        async with world() as w:
            apps = {
                "facebook": {
                    "client_id": w.app.client_id,
                    "client_secret": w.app.client_secret,
                    "redirect_uri": REDIRECT,
                }
            }
            env = {
                "CONNTRACK_FAKES_URL": w.base,
                "CONNTRACK_APPS": json.dumps(apps),
                "CONNTRACK_START": "2026-03-02T09:00:00Z",
                "CONNTRACK_SMTP_HOST": smtp.host,
                "CONNTRACK_SMTP_PORT": str(smtp.port),
                "CONNTRACK_SYNC_EVERY": "1h",
            }
            product = model_from_env(env)
            async with product.running():
                await product.set_company(PEOPLE)
                await w.to(product, START)
                assert (await w.login(product, "add")).ok
                r = await w.http.post(
                    f"/_conntrack/accounts/{w.account['id']}/events",
                    json={"type": "password_change"},
                )
                r.raise_for_status()
                await w.to(product, START + timedelta(hours=1))
                # Sent before advance answered: the capture has them now.
                got = smtp.drain()
    assert sorted(a for e in got for a in e.to) == ["ada@acme.test", "bob@acme.test"]
    for e in got:
        assert (e.kind, e.connection) == ("invalid", "fb")
        assert e.at == START + timedelta(hours=1)


def test_sync_every_from_the_environment() -> None:
    assert sync_every_of("") == timedelta(hours=6)
    assert sync_every_of("30m") == timedelta(minutes=30)
    assert sync_every_of('{"fb": "1h"}') == {"fb": timedelta(hours=1)}
    with pytest.raises(Exception, match="CONNTRACK_SYNC_EVERY"):
        sync_every_of("soon")


async def test_the_protocol_routes_answer_json_and_clear_errors() -> None:
    """The served product (``_server.create_app``) over ASGI: shapes and error codes."""
    product = ModelProduct(fakes_url="http://fakes.invalid", apps={}, start=START)
    app = create_app(product)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with (
        product.running(),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8123") as http,
    ):
        base = "/_conntrack_test"
        r = await http.put(f"{base}/company", json=PEOPLE.json())
        assert r.status_code == 204
        r = await http.post(f"{base}/clock", json={"now": "2026-03-02T15:00:00Z"})
        assert r.json() == {"now": "2026-03-02T15:00:00Z", "next": None}
        r = await http.post(f"{base}/clock", json={"now": "2026-03-02T09:00:00Z"})
        assert r.status_code == 409 and "only moves forward" in r.json()["error"]
        r = await http.post(
            f"{base}/clock", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400 and "JSON object" in r.json()["error"]
        r = await http.post(f"{base}/clock", json={"now": "tomorrow"})
        assert r.status_code == 400 and "ISO instant" in r.json()["error"]
        r = await http.request("DELETE", f"{base}/connections/nope", json={"user": "user1"})
        assert r.status_code == 404 and "nope" in r.json()["error"]
        r = await http.post(
            f"{base}/connections/fb/login",
            json={"provider": "myspace", "kind": "owned", "user": "user1", "action": "add"},
        )
        assert r.status_code == 400 and "myspace" in r.json()["error"]
        r = await http.post(f"{base}/connections/fb/login", json={"provider": "facebook"})
        assert r.status_code == 400 and "kind, user, action" in r.json()["error"]
        r = await http.get("/oauth/facebook/callback?code=x&state=forged")
        assert r.status_code == 400 and "state" in r.json()["error"]
        r = await http.get(f"{base}/connections")
        assert r.status_code == 200 and r.json() == []


def test_reference_product_command_starts_says_ready_and_stops_on_sigterm() -> None:
    env = {
        **os.environ,
        "CONNTRACK_FAKES_URL": "http://127.0.0.1:9",
        "CONNTRACK_APPS": "{}",
        "CONNTRACK_START": "2026-03-02T09:00:00Z",
    }
    command = [sys.executable, "-m", "conntrack.cli", "reference-product", "--port", "0"]
    bad = subprocess.run(
        command, env={**env, "CONNTRACK_START": "soon"}, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "CONNTRACK_START" in bad.stderr
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().decode()
        assert "reference product ready: http://127.0.0.1:" in ready
        url = ready.rsplit(" ", 1)[1].strip()
        assert httpx.get(f"{url}/connections", timeout=10).json() == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


class Flaky(httpx.AsyncBaseTransport):
    """The network to the fakes, which can go down (every request refused)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_provider_out_of_reach_is_a_transient_error_not_a_crash() -> None:
    net = Flaky()
    async with world() as w:
        product = ModelProduct(
            fakes_url=w.base, apps={"facebook": w.app}, start=START, transport=net
        )
        async with product.running():
            await product.set_company(PEOPLE)
            assert (await w.login(product, "add")).ok
            # The network goes: the next sync fails, the connection stays connected.
            net.down = True
            first = START + timedelta(hours=6)
            assert await w.to(product, first) == first + timedelta(hours=6)
            [view] = await product.connections()
            assert (view.state, view.last_synced_at) == ("connected", START)
            # A login meanwhile is refused with the reason, and nothing crashed.
            outcome = await w.login(product, "reconnect")
            assert not outcome.ok and "could not be reached" in outcome.detail
            # The network is back: the next sync reads again.
            net.down = False
            second = first + timedelta(hours=6)
            await w.to(product, second)
            [view] = await product.connections()
            assert (view.state, view.last_synced_at) == ("connected", second)
