"""The product harness: the world plays a scenario against a product and records what
it observes into the same timeline the in-process engine makes.

Two tiny products written here:

- :class:`ScriptedProduct`, in process: it takes logins (its callback checks ``state``
  and the provider's answer, and asks for no token), syncs at every ``advance`` while
  healthy, and turns a connection invalid when its script says, sending the invalid
  email to everyone. Just enough to watch what the world records.
- ``broken_product.py``, a process started from a product file (the standard library's
  ``http.server``), which breaks the protocol in the way ``BROKEN`` says; it writes its
  pid and the ports the harness gave it, so the tests can check nothing is left running.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import trio

from conntrack import InputError
from conntrack._notify import MemoryOutbox
from conntrack._profiles import load_profile
from conntrack._records import BannerRecord, EventRecord
from conntrack.product._harness import ProductEnv, product_env, run_product_scenario
from conntrack.product._interface import (
    CapturedEmail,
    Company,
    ConnectionView,
    LoginOutcome,
)
from conntrack.scenario import load_file
from conntrack.scenario._model import Scenario

SCENARIO = """\
scenario: the world watches a product
seed: 3
start: 2026-03-02T09:00:00Z
until: 20d
company: {users: 3}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
timeline:
  - {at: 10d, event: password_change, connection: fb}
  - {at: 12d, event: reconnect, connection: fb, by: user2, decline: all}
  - {at: 13d, event: reconnect, connection: fb, by: user2}
expect:
  - {at: 10d 6h, connection: fb, state: invalid, reason: password_changed}
  - {at: 15d, connection: fb, state: reconnected}
  - {transitions: fb, are: ['invalid (password_changed)', reconnected]}
  - {reconnects: fb, count: 1, failed: 1}
  - {email: invalid, about: fb, to: all, within: 10d..10d 6h}
  - {data_gap: fb, from: 10d 6h, to: 13d}
  - {banner: fb, at: 11d, shows: invalid}
  - {banner: fb, at: 14d, shows: none}
"""


def scenario(tmp_path: Path, text: str = SCENARIO) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return load_file(path)[0]


class ScriptedProduct:
    """A product in process (see the module docstring). ``breaks`` maps a connection to
    the offset from ``start`` at which its next sync finds it invalid, and the reason."""

    def __init__(self, env: ProductEnv, breaks: dict[str, tuple[timedelta, str]]) -> None:
        self.env = env
        self.breaks = dict(breaks)
        self.now = env.start
        self.company = Company("UTC", ())
        self.views: dict[str, ConnectionView] = {}
        self.pending: dict[str, str] = {}
        self.advances: list[datetime] = []

    async def advance(self, now: datetime) -> datetime | None:
        assert now >= self.now
        self.now = now
        self.advances.append(now)
        for name, view in list(self.views.items()):
            if view.state != "connected":
                continue
            at, reason = self.breaks.get(name, (None, ""))
            if at is not None and now >= self.env.start + at:
                del self.breaks[name]
                self.views[name] = ConnectionView(
                    name, "invalid", reason, "Reconnect fb", "", "invalid",
                    view.last_synced_at, now,
                )  # fmt: skip
                self.env.outbox.append(
                    CapturedEmail(
                        at=now,
                        kind="invalid",
                        connection=name,
                        to=tuple(u.email.upper() for u in self.company.users),
                        subject=f"{name} needs a reconnect",
                    )
                )
            else:
                self.views[name] = ConnectionView(name, "connected", last_synced_at=now)
        return None

    async def set_company(self, company: Company) -> None:
        self.company = company

    async def login(self, name: str, *, provider: str, kind: str, user: str, action: str) -> str:
        assert provider == "facebook" and kind == "owned"
        assert action == ("add" if name not in self.views else "reconnect")
        state = f"{name}-{len(self.pending)}"
        self.pending[state] = name
        app = self.env.apps["facebook"]
        profile = load_profile("facebook")
        query = urlencode(
            {
                "client_id": app.client_id,
                "redirect_uri": app.redirect_uri,
                "state": state,
                "scope": ",".join(profile["default_scopes"]),
                "response_type": "code",
            }
        )
        return f"{self.env.fakes_url}/www.facebook.com/v21.0/dialog/oauth?{query}"

    async def callback(self, url: str) -> LoginOutcome:
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        name = self.pending.pop(query.get("state", ""), None)
        if name is None or "error" in query:
            return LoginOutcome(False, f"not connected: {query.get('error', 'bad state')}", 400)
        self.views[name] = ConnectionView(name, "connected", last_synced_at=self.now)
        return LoginOutcome(True, "", 302)

    async def disconnect(self, name: str, *, user: str) -> None:
        self.views[name] = ConnectionView(name, "disconnected")

    async def connections(self) -> list[ConnectionView]:
        return list(self.views.values())


def test_the_world_records_what_it_observes_and_the_expectations_judge_it(
    tmp_path: Path,
) -> None:
    made: list[ScriptedProduct] = []

    def factory(env: ProductEnv) -> ScriptedProduct:
        made.append(ScriptedProduct(env, {"fb": (timedelta(days=10, hours=6), "password_changed")}))
        return made[0]

    outbox = MemoryOutbox()
    s = scenario(tmp_path)
    result = run_product_scenario(s, product=factory, outboxes=[outbox])
    assert result.error is None and result.skipped is None
    failed = [f"{o.summary}: {o.actual}" for o in result.outcomes if not o.passed]
    assert not failed
    assert result.passed

    tl = result.timeline
    day = timedelta(days=1)
    # States: the break dated at the product's state_since, the reconnect at the login
    # the world played, and "connected" read as "reconnected" from then on.
    assert [(t.at - s.start, t.trigger, t.source, t.dest, t.reason) for t in tl.transitions("fb")] == [
        (10 * day + timedelta(hours=6), "invalidate", "connected", "invalid", "password_changed"),
        (13 * day, "reconnect", "invalid", "reconnected", None),
    ]  # fmt: skip
    assert tl.state_at("fb", s.start + 19 * day) == ("reconnected", None)
    # The failed attempt: declined on the provider's page, refused by the product.
    failed_events = [
        r for r in tl.records_only if isinstance(r, EventRecord) and r.event == "connect_failed"
    ]
    assert [(r.at - s.start, r.by) for r in failed_events] == [(12 * day, "user2")]
    assert "access_denied" in failed_events[0].detail
    assert "not connected" in failed_events[0].detail  # the product's own words
    # The world's own events are in the timeline, as in process.
    events = [(r.at - s.start, r.event) for r in tl.records_only if isinstance(r, EventRecord)]
    assert events[0] == (timedelta(0), "connected")
    assert (10 * day, "password_change") in events
    # Emails: one record a recipient, attributed by address (whatever its case).
    emails = tl.emails("invalid", "fb")
    assert sorted(e.to for e in emails) == ["user1", "user2", "user3"]
    assert {e.to: e.address.lower() for e in emails} == {u.id: u.email for u in result.users}
    assert all(e.at == s.start + 10 * day + timedelta(hours=6) for e in emails)
    assert [e.message_id for e in outbox.emails] == [e.message_id for e in emails]
    assert len({e.message_id for e in emails}) == 3
    # Banners on change only; gaps from last_synced_at.
    banners = [(b.at - s.start, b.shows) for b in tl.records_only if isinstance(b, BannerRecord)]
    assert banners == [(10 * day + timedelta(hours=6), "invalid"), (13 * day, "none")]
    assert [(g.start - s.start, g.end and g.end - s.start) for g in tl.gaps["fb"]] == [
        (10 * day + timedelta(hours=6), 13 * day)
    ]
    # The walk: the 6 h grid (the product never says next), and no instant twice.
    product = made[0]
    assert product.advances == sorted(product.advances)
    grid = {s.start + k * timedelta(hours=6) for k in range(0, 20 * 4 + 1)}
    assert grid <= set(product.advances)
    assert result.stats.timers_fired == len(set(product.advances))


def test_a_product_that_says_next_is_advanced_there_and_not_on_a_grid(tmp_path: Path) -> None:
    text = (
        SCENARIO.split("timeline:")[0] + "expect:\n  - {at: 5d, connection: fb, state: connected}\n"
    )
    seen: list[datetime] = []

    class Lazy(ScriptedProduct):
        async def advance(self, now: datetime) -> datetime | None:
            await super().advance(now)
            seen.append(now)
            return self.env.start + timedelta(days=3 * (1 + (now - self.env.start).days // 3))

    s = scenario(tmp_path, text)
    result = run_product_scenario(s, product=lambda env: Lazy(env, {}))
    assert result.passed
    offsets = sorted({(t - s.start).days for t in seen})
    assert offsets == [0, 3, 5, 6, 9, 12, 15, 18, 20]  # next, the expectation, until


@pytest.mark.parametrize("back", [timedelta(0), timedelta(days=1)])
def test_a_next_not_after_now_says_nothing_and_the_grid_stays(
    tmp_path: Path, back: timedelta
) -> None:
    # A product answering ``next`` equal to now (or before it) has not said when it next
    # has work: the 6 h grid must go on, or its syncs (and the password change they find
    # at 10d 6h) would be seen only at the next event, days late.
    class Confused(ScriptedProduct):
        async def advance(self, now: datetime) -> datetime | None:
            await super().advance(now)
            return now - back

    s = scenario(tmp_path)
    made: list[Confused] = []

    def make(env: ProductEnv) -> Confused:
        made.append(Confused(env, {"fb": (timedelta(days=10, hours=6), "password_changed")}))
        return made[0]

    result = run_product_scenario(s, product=make)
    assert result.passed, [o.actual for o in result.outcomes if not o.passed]
    grid = {s.start + k * timedelta(hours=6) for k in range(0, 20 * 4 + 1)}
    assert grid <= set(made[0].advances)


def test_a_stale_date_header_is_dated_when_received(tmp_path: Path) -> None:
    class Stale(ScriptedProduct):
        async def advance(self, now: datetime) -> datetime | None:
            await super().advance(now)
            if now == self.env.start + timedelta(days=2):
                self.env.outbox.append(
                    CapturedEmail(
                        datetime(2001, 1, 1, tzinfo=now.tzinfo), "expiry_reminder", "fb",
                        ("stranger@else.test",), "soon",
                    )
                )  # fmt: skip
            return None

    s = scenario(tmp_path)
    result = run_product_scenario(s, product=lambda env: Stale(env, {}))
    [email] = result.timeline.emails("expiry_reminder")
    assert email.at == s.start + timedelta(days=2)
    assert email.to == "stranger@else.test"  # no company user has that address


# -- a product file: skips, and a product that breaks the protocol ------------------------

BROKEN_PRODUCT = r"""
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BROKEN = os.environ["BROKEN"]
with open(os.environ["REPORT"], "w") as f:
    json.dump({"pid": os.getpid(), "smtp": int(os.environ["CONNTRACK_SMTP_PORT"]),
               "fakes": os.environ["CONNTRACK_FAKES_URL"],
               "apps": json.loads(os.environ["CONNTRACK_APPS"])}, f)

class H(BaseHTTPRequestHandler):
    def reply(self, status, body=b"", kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if BROKEN == "malformed" and self.path == "/_t/connections":
            return self.reply(200, b"<html>oops, not json", "text/html")
        self.reply(200, b"[]")

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(204)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/_t/clock":
            return self.reply(404, b'{"error": "no such route"}')
        if BROKEN == "hang":
            time.sleep(60)
        self.reply(200, b'{"next": null}')

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["CONNTRACK_PRODUCT_PORT"])), H).serve_forever()
"""


def product_file(
    tmp_path: Path, broken: str, *, providers: str = "[facebook]", script: str = BROKEN_PRODUCT
) -> Path:
    program = tmp_path / "broken_product.py"
    program.write_text(script)
    path = tmp_path / "product.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: broken
            base: http://127.0.0.1:{{port}}/_t
            redirect_uri: http://127.0.0.1:{{port}}/oauth/{{protocol}}/callback
            start:
              command: [{json.dumps(sys.executable)}, {json.dumps(str(program))}]
              env: {{BROKEN: {broken}, REPORT: {json.dumps(str(tmp_path / "report.json"))}}}
              stop_timeout: 2s
            providers: {providers}
            timeouts: {{clock: 1s, request: 2s}}
            """
        )
    )
    return path


def nothing_left_running(tmp_path: Path) -> None:
    report = json.loads((tmp_path / "report.json").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(report["pid"], 0)
    fakes = urlsplit(report["fakes"])
    for port in (report["smtp"], fakes.port):
        with socket.socket() as s, pytest.raises(ConnectionRefusedError):
            s.connect(("127.0.0.1", port))
    assert set(report["apps"]) == {"facebook"}
    assert report["apps"]["facebook"]["redirect_uri"].endswith("/oauth/facebook/callback")


def test_a_scenario_with_a_provider_the_product_lacks_is_skipped_without_starting_it(
    tmp_path: Path,
) -> None:
    path = product_file(tmp_path, "none", providers="[linkedin]")
    result = run_product_scenario(scenario(tmp_path), path)
    assert result.skipped is not None
    assert "connection 'fb'" in result.skipped and "'facebook'" in result.skipped
    assert "linkedin" in result.skipped
    assert result.outcomes == [] and result.error is None
    assert not (tmp_path / "report.json").exists()  # never started


@pytest.mark.parametrize(
    ("broken", "says", "request_", "answer"),
    [
        (
            "none",  # every route but /clock, /company and /connections is missing
            "POST /connections/{name}/login: the route is missing (HTTP 404)",
            "/_t/connections/fb/login",
            'HTTP 404 (application/json): {"error": "no such route"}',
        ),
        ("malformed", "GET /connections: the answer is not JSON", "GET http", "oops, not json"),
        ("hang", "no answer within 1s", "/_t/clock", ""),
    ],
)
def test_a_product_that_breaks_the_protocol_ends_the_scenario_as_an_error(
    tmp_path: Path, broken: str, says: str, request_: str, answer: str
) -> None:
    # Connected on day 1: the start's clock and connections calls come first.
    text = SCENARIO.replace("sync_every: 6h}", "sync_every: 6h, connect_at: 1d}")
    started = time.perf_counter()
    result = run_product_scenario(scenario(tmp_path, text), product_file(tmp_path, broken))
    assert time.perf_counter() - started < 15
    assert result.error is not None
    assert not result.passed and result.outcomes == []
    assert says in result.error
    assert "request: " in result.error and request_ in result.error
    assert answer in result.error
    nothing_left_running(tmp_path)


def test_a_product_that_does_not_start_raises_its_start_error_unwrapped(tmp_path: Path) -> None:
    script = "import sys; print('cannot open the database', file=sys.stderr); sys.exit(3)"
    path = product_file(tmp_path, "none", script=script)
    with pytest.raises(InputError) as info:  # not an exception group: the CLI exits 2
        run_product_scenario(scenario(tmp_path), path)
    assert "status 3" in str(info.value) and "cannot open the database" in str(info.value)


def test_a_product_error_inside_the_products_own_nursery_is_the_runs_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A product whose ``next`` never lets go is stopped with an error, also when it
    runs tasks of its own (its ProductError comes wrapped in an exception group)."""
    monkeypatch.setattr("conntrack.product._walk.MAX_INSTANTS", 50)

    class Eager(ScriptedProduct):
        async def advance(self, now: datetime) -> datetime | None:
            await super().advance(now)
            return now + timedelta(seconds=1)

    @asynccontextmanager
    async def running(env: ProductEnv) -> AsyncIterator[Eager]:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            yield Eager(env, {})
            nursery.cancel_scope.cancel()

    result = run_product_scenario(scenario(tmp_path), product=running)
    assert result.error is not None and "reached 50 instants" in result.error
    assert not result.passed


def test_a_ready_product_is_taken_as_it_is(tmp_path: Path) -> None:
    """Given a Product rather than a factory, the harness uses it as it is. This one
    knows no app of the fakes: the provider's page refuses its login, which the world
    records as a failed attempt in the provider's words."""

    class Stranger:
        async def advance(self, now: datetime) -> datetime | None:
            return None

        async def set_company(self, company: Company) -> None:
            pass

        async def login(
            self, name: str, *, provider: str, kind: str, user: str, action: str
        ) -> str:
            query = urlencode({"client_id": "nobody", "redirect_uri": "https://x.test/cb"})
            return f"http://conntrack.local/www.facebook.com/v21.0/dialog/oauth?{query}"

        async def callback(self, url: str) -> LoginOutcome:
            raise AssertionError("the browser never gets back")

        async def disconnect(self, name: str, *, user: str) -> None:
            pass

        async def connections(self) -> list[ConnectionView]:
            return []

    s = scenario(tmp_path)
    result = run_product_scenario(s, product=Stranger())
    assert result.error is None and not result.passed
    failed = [r for r in result.timeline.records_only if isinstance(r, EventRecord)]
    assert failed[0].event == "connect_failed" and failed[0].at == s.start
    assert "HTTP 4" in failed[0].detail
    assert result.timeline.state_at("fb", s.start + timedelta(days=1)) == (None, None)


def loopback_proxy_env(tmp_path: Path, environ: dict[str, str]) -> dict[str, str]:
    env = product_env(
        scenario(tmp_path),
        fakes_url="http://127.0.0.1:1",
        apps={},
        smtp=("127.0.0.1", 2),
        port=3,
        data=tmp_path / "data",
        environ=environ,
    )
    return {k: v for k, v in env.items() if k.lower() == "no_proxy"}


def test_loopback_joins_no_proxy_after_what_the_user_set(tmp_path: Path) -> None:
    """The product reaches the fakes and SMTP on loopback, never through the user's
    proxy; what the user excluded from the proxy stays excluded, in both spellings (tools
    read one or the other)."""
    loopback = ["127.0.0.1", "localhost", "::1"]
    got = loopback_proxy_env(tmp_path, {"HTTP_PROXY": "http://proxy.test:3128"})
    assert {k: v.split(",") for k, v in got.items()} == {
        "NO_PROXY": loopback,
        "no_proxy": loopback,
    }
    got = loopback_proxy_env(tmp_path, {"NO_PROXY": "corp.test, .internal,localhost"})
    assert got["NO_PROXY"].split(",") == ["corp.test", ".internal", "localhost", "127.0.0.1", "::1"]
    assert got["no_proxy"] == got["NO_PROXY"]
    got = loopback_proxy_env(tmp_path, {"NO_PROXY": "upper.test", "no_proxy": "lower.test"})
    assert got["NO_PROXY"].split(",")[0] == "upper.test"
    assert got["no_proxy"].split(",")[0] == "lower.test"
    assert all(set(loopback) <= set(v.split(",")) for v in got.values())
    # "*" (no proxy for anything) already covers loopback, and some tools only take it alone.
    assert loopback_proxy_env(tmp_path, {"no_proxy": "*"}) == {"NO_PROXY": "*", "no_proxy": "*"}


def test_a_product_behind_a_dead_proxy_still_reaches_the_fakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference product (its HTTP client reads the proxy variables) started by a
    user whose HTTP_PROXY points at a port where nothing listens: its calls to the fakes
    on 127.0.0.1 go direct, and the scenario passes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    root = Path(__file__).resolve().parents[2]
    s = load_file(Path(__file__).resolve().parent / "data" / "short_password_change.yaml")[0]
    result = run_product_scenario(s, root / "examples" / "reference" / "product.yaml")
    assert result.error is None, result.error
    assert result.passed
