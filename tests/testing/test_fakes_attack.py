"""The in-process fakes under attack: careless users, odd client code, hostile input.

Two kinds of test. Against a world of fakes (``conntrack_fakes``, ``fakes()``): threads,
cancellation, worlds that end or nest across threads, crashes, proxies. Against a stub
world (:class:`Stub`, activated like a world): what the interceptors hand over and give
back, compared where it matters with the same library talking to a real HTTP server on
loopback that answers the same (:class:`Loopback`), so "as the library does for real" is
checked, not assumed.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import gzip
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import trio
import urllib3
from urllib3.util.retry import Retry

from conntrack.testing import Fakes, _engine, _intercept, current, fakes
from conntrack.testing._engine import Answer, Call

GRAPH = "https://graph.facebook.com/v21.0"
STUB = "stub.conntrack.test"
OTHER = "other.conntrack.test"

# -- a stub world and a real server that answer the same ---------------------------------

Reply = tuple[int, list[tuple[str, str]], bytes]


def reply(status: int = 200, body: bytes = b"{}", **headers: str) -> Reply:
    named = [(k.replace("_", "-"), v) for k, v in headers.items()]
    return status, [("Content-Length", str(len(body))), *named], body


@dataclass
class Script:
    """What a server answers, by path (the last reply repeats), and what it was sent."""

    replies: dict[str, list[Reply]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def next(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        self.seen.append((method, path, headers, body))
        queue = self.replies.get(path.split("?", 1)[0]) or [reply(404, b"{}")]
        return queue.pop(0) if len(queue) > 1 else queue[0]


class Stub:
    """A world that answers STUB and OTHER from a :class:`Script` (the Router protocol)."""

    def __init__(self, script: Script) -> None:
        self.script = script

    def routes(self, host: str) -> bool:
        return host in (STUB, OTHER)

    def answer(self, call: Call) -> Answer:
        parts = httpx.URL(call.url)
        headers = {k.decode().lower(): v.decode() for k, v in call.headers}
        path = parts.raw_path.decode()
        status, sent, body = self.script.next(call.method, path, headers, call.body)
        return Answer(status, [(k.encode(), v.encode()) for k, v in sent], body)

    async def aanswer(self, call: Call) -> Answer:
        return self.answer(call)


@pytest.fixture
def stub() -> Iterator[Script]:
    script = Script()
    world = Stub(script)
    _intercept.activate(world)
    try:
        yield script
    finally:
        _intercept.deactivate(world)


class Loopback:
    """A real HTTP/1.1 server on 127.0.0.1 answering from a :class:`Script`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, sent, data = owner.script.next(self.command, self.path, headers, body)
                self.send_response(status)
                for k, v in sent:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_token(f: Fakes) -> tuple[str, str]:
    app = f.create_app("facebook", redirect_uris=["https://app.example/cb"])
    form = {
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
    }
    token = requests.post(f"{GRAPH}/oauth/access_token", data=form, timeout=5).json()
    return app["client_id"], token["access_token"]


def debug_app_id(token: str, get: Any = requests.get) -> str:
    answer = get(f"{GRAPH}/debug_token", params={"access_token": token, "input_token": token})
    return str(answer.json()["data"]["app_id"])


# -- threads, cancellation, worlds that end ----------------------------------------------


def test_fifty_threads_each_get_their_own_answers(conntrack_fakes: Fakes) -> None:
    apps = [app_token(conntrack_fakes) for _ in range(5)]

    def worker(i: int) -> list[tuple[str, str]]:
        with requests.Session() as session:
            got = []
            for j in range(20):
                app_id, token = apps[(i + j) % len(apps)]
                got.append((app_id, debug_app_id(token, lambda u, **kw: session.get(u, **kw))))
            return got

    with ThreadPoolExecutor(50) as pool:
        results = [r for rs in pool.map(worker, range(50), timeout=30) for r in rs]
    assert len(results) == 1000
    assert all(asked == answered for asked, answered in results)


def test_a_cancelled_asyncio_request_is_cancelled_in_the_fakes(conntrack_fakes: Fakes) -> None:
    _, token = app_token(conntrack_fakes)
    conntrack_fakes.fault("facebook", "latency", delay_ms=5000, endpoint="/v21.0/me", count=5)
    engine = _engine.shared_engine()

    async def main() -> int:
        async with httpx.AsyncClient() as client:
            slow = asyncio.create_task(client.get(f"{GRAPH}/me"))
            await asyncio.sleep(0.1)
            assert engine.in_flight == 1
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            answer = await client.get(f"{GRAPH}/debug_token", params={"input_token": token})
            return answer.status_code

    started = time.monotonic()
    assert asyncio.run(main()) == 400  # no access_token: answered at once
    assert time.monotonic() - started < 2
    assert _eventually(lambda: engine.in_flight == 0)


async def test_a_trio_cancel_scope_cancels_the_request_in_the_fakes(
    conntrack_fakes: Fakes,
) -> None:
    conntrack_fakes.fault("facebook", "latency", delay_ms=5000, endpoint="/v21.0/me", count=5)
    engine = _engine.shared_engine()
    async with httpx.AsyncClient() as client:
        with trio.move_on_after(0.1) as scope:
            await client.get(f"{GRAPH}/me")
        assert scope.cancelled_caught
        assert _eventually(lambda: engine.in_flight == 0)
        assert (await client.get(f"{GRAPH}/debug_token")).status_code == 400


def _eventually(check: Any, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_frozen_clock_does_not_freeze_the_fakes_timeouts_and_delays(
    conntrack_fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """freezegun's ``freeze_time`` replaces ``perf_counter`` (and ``monotonic``) in every
    loaded module, trio's own included. A real server in its own process is not frozen:
    its delays end and the client's timeout fires; in process neither may wait for ever."""
    import trio._core._run

    frozen = trio._core._run.perf_counter()
    monkeypatch.setattr(trio._core._run, "perf_counter", lambda: frozen)  # as freezegun does
    conntrack_fakes.fault("facebook", "latency", delay_ms=200, endpoint="/v21.0/me", count=1)
    outcome: list[object] = []

    def calls() -> None:
        outcome.append(requests.get(f"{GRAPH}/me", timeout=3).status_code)
        conntrack_fakes.fault("facebook", "latency", delay_ms=5000, endpoint="/v21.0/me", count=1)
        try:
            requests.get(f"{GRAPH}/me", timeout=0.3)
        except requests.exceptions.ReadTimeout:
            outcome.append("timed out")

    thread = threading.Thread(target=calls, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert outcome == [400, "timed out"]


def test_an_exception_inside_the_block_restores_the_patches() -> None:
    originals = (httpx.HTTPTransport.handle_request, urllib3.HTTPConnectionPool.urlopen)
    with pytest.raises(KeyError), fakes():
        assert httpx.HTTPTransport.handle_request is not originals[0]
        raise KeyError("the code under test failed")
    assert (httpx.HTTPTransport.handle_request, urllib3.HTTPConnectionPool.urlopen) == originals
    assert not _intercept.any_active()


def test_a_world_left_while_another_thread_calls_hands_it_to_the_next_world() -> None:
    """Thread B keeps calling while the main thread leaves world 1 for world 2: every
    answer comes from a world (never 'this world has ended', never a hang)."""
    seen: list[object] = []
    stop = threading.Event()

    def caller() -> None:
        while not stop.is_set():
            try:
                seen.append(requests.get(f"{GRAPH}/debug_token", timeout=5).status_code)
            except Exception as e:  # what must not happen, kept to be shown
                seen.append(repr(e))

    with fakes():
        with fakes():  # the outer world stays active: the calls never leave the process
            thread = threading.Thread(target=caller)
            thread.start()
            time.sleep(0.1)
        for _ in range(20):
            with fakes():
                time.sleep(0.005)
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert seen and set(seen) == {400}, [s for s in seen if s != 400][:3]


def test_two_threads_each_have_their_own_world() -> None:
    """Two threads inside a world each at once: each is answered by its own (and so is
    what it runs in a copy of its context); neither sees the other's app."""
    barrier = threading.Barrier(2, timeout=10)
    out: dict[str, Any] = {}

    def test_thread(name: str) -> None:
        with fakes() as world:
            app = world.create_app("facebook", redirect_uris=["https://a.example/cb"])
            barrier.wait()  # both worlds active now
            ids = [a["client_id"] for a in current().control("GET", "apps")["data"]]
            form = {"grant_type": "client_credentials", "client_id": app["client_id"]}
            form["client_secret"] = app["client_secret"]
            answer = requests.post(f"{GRAPH}/oauth/access_token", data=form, timeout=5)
            with ThreadPoolExecutor(1) as pool:
                inherited = pool.submit(contextvars.copy_context().run, current).result()
            out[name] = (current() is world, ids == [app["client_id"]], answer.status_code)
            out[name + " inherited"] = inherited is world
            barrier.wait()

    threads = [threading.Thread(target=test_thread, args=(name,)) for name in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert out == {
        "A": (True, True, 200),
        "B": (True, True, 200),
        "A inherited": True,
        "B inherited": True,
    }


def test_one_decorator_used_by_two_threads_at_once_keeps_their_worlds_apart() -> None:
    """A function decorated once (``@fakes()``) and called from two threads: the call
    that entered first and returns first ends its own world, not the other call's."""
    first_in, second_in = threading.Event(), threading.Event()

    @fakes()
    def job(first: bool) -> object:
        world = current()
        app = world.create_app("facebook", redirect_uris=["https://a.example/cb"])
        if first:
            first_in.set()
            second_in.wait(10)
            return "left"
        second_in.set()
        time.sleep(0.2)  # the first call has left meanwhile
        ids = [a["client_id"] for a in world.control("GET", "apps")["data"]]
        return current() is world and ids == [app["client_id"]]

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(job, True)
        assert first_in.wait(10)
        second = pool.submit(job, False)
        assert (first.result(timeout=20), second.result(timeout=20)) == ("left", True)


def test_a_bare_worker_thread_is_answered_by_the_test_s_world(conntrack_fakes: Fakes) -> None:
    _, token = app_token(conntrack_fakes)
    with ThreadPoolExecutor(2) as pool:
        assert pool.submit(current).result() is conntrack_fakes
        assert pool.submit(debug_app_id, token).result() == token.split("|")[0]


def test_the_engine_stopped_under_an_active_world_starts_again() -> None:
    with fakes() as f:
        _engine.stop_shared_engine()
        assert f.create_account("facebook")["id"]
        assert requests.get(f"{GRAPH}/debug_token", timeout=5).status_code == 400


def test_a_request_under_way_when_the_engine_stops_is_a_dropped_connection(
    conntrack_fakes: Fakes,
) -> None:
    """Stopping the fakes' loop mid-request is what a server going away is to the
    library: its own connection error at once (not a hang, not a foreign exception), and
    the next request is answered."""
    conntrack_fakes.fault("facebook", "latency", delay_ms=5000, endpoint="/v21.0/me", count=9)
    outcomes: dict[str, BaseException] = {}

    def call(name: str, send: Any) -> None:
        try:
            send(f"{GRAPH}/me")
        except BaseException as e:
            outcomes[name] = e

    calls = [
        threading.Thread(target=call, args=("requests", lambda u: requests.get(u, timeout=9))),
        threading.Thread(target=call, args=("httpx", lambda u: httpx.get(u, timeout=9))),
    ]
    for thread in calls:
        thread.start()
    engine = _engine.shared_engine()
    assert _eventually(lambda: engine.in_flight == 2)
    started = time.monotonic()
    _engine.stop_shared_engine()
    for thread in calls:
        thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert isinstance(outcomes["requests"], requests.ConnectionError), outcomes
    assert isinstance(outcomes["httpx"], httpx.RemoteProtocolError), outcomes
    assert requests.get(f"{GRAPH}/debug_token", timeout=5).status_code == 400


# CPython's socketpair() leaves its second socket unclosed when the first is refused:
# not the fakes' socket, collected (and so reported) inside this test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_sockets_blocked_as_pytest_socket_blocks_them_say_how_to_allow_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest-socket's ``--disable-socket`` replaces ``socket.socket`` with a class that
    refuses to be made: trio's loop cannot make the socket pair it wakes up with. The
    fakes open no network socket, so the message says what to allow."""

    class SocketBlockedError(RuntimeError):
        pass

    class GuardedSocket(socket.socket):
        def __new__(cls, *args: object, **kwargs: object) -> GuardedSocket:
            raise SocketBlockedError("A test tried to use socket.socket.")

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    engine = _engine.Engine()
    with pytest.raises(_engine.EngineStopped, match="--allow-unix-socket"):
        engine.start()
    assert not engine.running
    del engine
    gc.collect()


def test_the_session_end_of_an_inner_pytest_keeps_the_outer_world(
    conntrack_fakes: Fakes, pytester: pytest.Pytester
) -> None:
    """An in-process pytest run (pytester) ends its session inside this test: the
    world of this test keeps answering."""
    pytester.makepyfile(
        test_inner="def test_inner(conntrack_fakes):\n    conntrack_fakes.create_app('x')\n"
    )
    pytester.runpytest("-p", "no:cacheprovider", "-q").assert_outcomes(failed=1)
    assert conntrack_fakes.create_account("facebook")["id"]
    assert current() is conntrack_fakes


def test_a_world_still_active_when_the_session_ends_answers_until_exit(
    pytester: pytest.Pytester,
) -> None:
    """A conftest enters a world and never leaves it: the session's end does not pull
    the fakes from under it (code at exit still gets answers), and the run exits."""
    pytester.makeconftest(
        """
        import atexit, pathlib, requests
        from conntrack.testing import fakes

        WORLD = fakes().__enter__()

        def at_exit():  # registered after the fakes' own: runs before they stop
            try:
                got = requests.get("https://api.x.com/2/users/me", timeout=5).status_code
            except Exception as e:
                got = repr(e)
            pathlib.Path("at_exit.txt").write_text(str(got))

        def pytest_sessionstart(session):
            WORLD.create_account("twitter")
            atexit.register(at_exit)
        """
    )
    pytester.makepyfile(test_project="def test_nothing():\n    pass\n")
    started = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "at_exit.txt").read_text() == "401"
    assert time.monotonic() - started < 30


def test_a_crash_in_a_handler_is_the_provider_s_500(
    conntrack_fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fake_providers._app

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug in the fakes")

    monkeypatch.setattr(fake_providers._app, "fault_answer", crash)
    graph = requests.get(f"{GRAPH}/me", timeout=5)
    assert graph.status_code == 500
    assert graph.json()["error"]["code"] == 1  # the Graph's "An unknown error has occurred."
    google = httpx.get("https://oauth2.googleapis.com/tokeninfo")
    assert google.status_code == 500 and google.headers["content-type"].startswith(
        "application/json"
    )


def test_an_exception_escaping_the_app_is_a_bare_500_not_a_hang() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("broken app")

    answer = _engine.shared_engine().call(broken, Call("GET", "https://x.com/", timeout=5))
    assert answer.status == 500 and b"RuntimeError: broken app" in answer.body


# -- hosts, ports and proxies ----------------------------------------------------------------

SPELLINGS = [
    "https://GRAPH.Facebook.COM/v21.0/debug_token",
    "https://graph.facebook.com./v21.0/debug_token",
    "https://graph.facebook.com:443/v21.0/debug_token",
    "https://user:secret@graph.facebook.com/v21.0/debug_token",
    "http://graph.facebook.com/v21.0/debug_token",
]
LIBRARIES = {
    "requests": lambda url: (lambda r: (r.status_code, r.json()))(requests.get(url, timeout=5)),
    "httpx": lambda url: (lambda r: (r.status_code, r.json()))(httpx.get(url)),
    "urllib3": lambda url: (lambda r: (r.status, r.json()))(urllib3.request("GET", url)),
}


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_a_provider_host_in_any_spelling_is_the_fakes(conntrack_fakes: Fakes, library: str) -> None:
    call = LIBRARIES[library]
    status, plain = call(f"{GRAPH}/debug_token")
    assert status == 400
    for url in SPELLINGS:
        got_status, got = call(url)
        assert got_status == status, url
        assert got["error"]["code"] == plain["error"]["code"], url


def test_a_provider_host_on_another_port_is_a_connection_error(conntrack_fakes: Fakes) -> None:
    url = "https://graph.facebook.com:8443/v21.0/me"
    with pytest.raises(httpx.ConnectError, match="does not listen on port 8443"):
        httpx.get(url)
    with pytest.raises(requests.ConnectionError, match="does not listen on port 8443"):
        requests.get(url, timeout=5)
    with pytest.raises(urllib3.exceptions.MaxRetryError, match="NewConnectionError"):
        urllib3.request("GET", url, retries=1)


def test_an_ipv6_literal_is_not_taken(conntrack_fakes: Fakes) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://[::1]:{closed_port()}/", timeout=2)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://[::1]:{closed_port()}/", timeout=2)


def test_proxies_from_the_environment(
    conntrack_fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy that does not exist: provider calls are still answered in process, other
    hosts go to the proxy as usual (and fail there)."""
    proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for url in (f"{GRAPH}/debug_token", "http://graph.facebook.com/v21.0/debug_token"):
        assert requests.get(url, timeout=5).status_code == 400
        assert httpx.get(url).status_code == 400
        with urllib3.ProxyManager(proxy) as manager:
            assert manager.request("GET", url, retries=False).status == 400
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get("https://elsewhere.invalid/", timeout=5)
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://elsewhere.invalid/")


# -- what the interceptors hand over and give back (stub world) ---------------------------


def test_streamed_answers_read_as_from_a_socket(stub: Script) -> None:
    body = b"x" * 10_000
    stub.replies["/big"] = [reply(200, body)]
    url = f"https://{STUB}/big"
    streamed = requests.get(url, stream=True, timeout=5)
    assert b"".join(streamed.iter_content(1000)) == body
    with httpx.Client() as client, client.stream("GET", url) as answer:
        assert b"".join(answer.iter_raw(1000)) == body
        assert answer.num_bytes_downloaded == len(body)

    async def read_async() -> bytes:
        async with httpx.AsyncClient() as client, client.stream("GET", url) as answer:
            return b"".join([chunk async for chunk in answer.aiter_raw()])

    assert asyncio.run(read_async()) == body
    raw = urllib3.request("GET", url, preload_content=False)
    assert b"".join(raw.stream(1000)) == body


def test_gzip_answers_are_decoded_by_the_client(stub: Script) -> None:
    stub.replies["/gz"] = [reply(200, gzip.compress(b'{"a": 1}'), Content_Encoding="gzip")]
    url = f"https://{STUB}/gz"
    assert requests.get(url, timeout=5).json() == {"a": 1}
    assert httpx.get(url).json() == {"a": 1}
    with httpx.Client() as client, client.stream("GET", url) as answer:
        assert gzip.decompress(b"".join(answer.iter_raw())) == b'{"a": 1}'


def test_request_bodies_arrive_as_sent(stub: Script) -> None:
    stub.replies["/up"] = [reply(200)]
    url = f"https://{STUB}/up"
    requests.post(url, files={"source": ("a.png", b"\x89PNG\r\n")}, data={"c": "1"}, timeout=5)
    method, _, headers, body = stub.seen[-1]
    assert method == "POST" and headers["content-type"].startswith("multipart/form-data")
    assert b"\x89PNG\r\n" in body and b'name="c"' in body

    def chunks() -> Iterator[bytes]:
        yield b"a=1&"
        yield b"b=2"

    requests.post(url, data=chunks(), timeout=5)
    httpx.post(url, content=chunks())
    urllib3.request("POST", url, body=chunks())
    assert [seen[3] for seen in stub.seen[-3:]] == [b"a=1&b=2"] * 3
    import array

    urllib3.request("POST", url, body=array.array("B", b"raw"))  # a buffer, sent as is
    assert stub.seen[-1][3] == b"raw"
    packed = gzip.compress(b"a=1")
    requests.post(url, data=packed, headers={"Content-Encoding": "gzip"}, timeout=5)
    assert stub.seen[-1][3] == packed and stub.seen[-1][2]["content-encoding"] == "gzip"
    requests.Session().send(requests.Request("PUT", url, data={"p": "1"}).prepare())
    assert stub.seen[-1][:1] == ("PUT",) and stub.seen[-1][3] == b"p=1"


def test_a_header_that_would_split_the_request_is_refused(stub: Script) -> None:
    stub.replies["/h"] = [reply(200)]
    url = f"https://{STUB}/h"
    with pytest.raises(ValueError, match="Invalid header value"):
        urllib3.request("GET", url, headers={"X-A": "1\r\nX-B: 2"})
    with pytest.raises(httpx.LocalProtocolError):
        httpx.get(url, headers={"X-A": "1\r\nX-B: 2"})
    with pytest.raises(httpx.LocalProtocolError):
        httpx.get(url, headers={"X-A": "1\x00"})
    assert stub.seen == []
    urllib3.request("GET", url, headers={"X-A": "1\x00"})  # http.client sends it
    assert stub.seen[-1][2]["x-a"] == "1\x00"


def test_cookies_an_answer_sets_are_kept_by_a_session(stub: Script) -> None:
    stub.replies["/login"] = [reply(200, Set_Cookie="sid=abc; Path=/")]
    stub.replies["/me"] = [reply(200)]
    with requests.Session() as session:
        session.get(f"https://{STUB}/login", timeout=5)
        session.get(f"https://{STUB}/me", timeout=5)
    with httpx.Client() as client:
        client.get(f"https://{STUB}/login")
        client.get(f"https://{STUB}/me")
    assert [seen[2].get("cookie") for seen in stub.seen if seen[1] == "/me"] == ["sid=abc"] * 2


def test_redirects_across_provider_hosts(stub: Script) -> None:
    stub.replies["/a"] = [reply(302, Location=f"https://{OTHER}/b")]
    stub.replies["/b"] = [reply(200, b'{"b": 1}')]
    url = f"https://{STUB}/a"
    followed = requests.get(url, timeout=5)
    assert followed.json() == {"b": 1} and [r.status_code for r in followed.history] == [302]
    assert requests.get(url, allow_redirects=False, timeout=5).status_code == 302
    answer = httpx.get(url, follow_redirects=True)
    assert answer.json() == {"b": 1} and str(answer.url) == f"https://{OTHER}/b"
    assert httpx.get(url).status_code == 302


def test_httpx_clients_of_every_kind(stub: Script) -> None:
    stub.replies["/x"] = [reply(200, b'{"x": 1}')]
    url = f"https://{STUB}/x"
    hooks: list[object] = []
    with httpx.Client(
        transport=httpx.HTTPTransport(retries=2),
        event_hooks={"request": [hooks.append], "response": [hooks.append]},
    ) as client:
        assert client.get(url).json() == {"x": 1}
    assert [type(h).__name__ for h in hooks] == ["Request", "Response"]
    with httpx.Client(http2=True) as client:
        assert client.get(url).json() == {"x": 1}


# -- urllib3's own redirects and retries, compared with a real server -------------------


def _pool_run(pool: urllib3.HTTPConnectionPool, retries: Retry) -> tuple[Any, ...]:
    answer = pool.urlopen("POST", "/start", body=b"form", retries=retries, redirect=True)
    history = [(h.status, h.redirect_location) for h in answer.retries.history]
    return answer.status, answer.data, [(h[0], h[1] is not None) for h in history]


def _compare(script_replies: dict[str, list[Reply]], retries: Retry, stub: Script) -> None:
    """The same urllib3 pool code, against a real server and against the stub world,
    gives the same answer, history, requests and sleeps."""
    slept: dict[str, list[float]] = {}
    real = Script({k: list(v) for k, v in script_replies.items()})
    with Loopback(real) as server, pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            "urllib3.util.retry.time.sleep", lambda s: slept.setdefault("real", []).append(s)
        )
        with urllib3.HTTPConnectionPool("127.0.0.1", server.port) as pool:
            expected = _pool_run(pool, retries)
    stub.replies.update({k: list(v) for k, v in script_replies.items()})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            "urllib3.util.retry.time.sleep", lambda s: slept.setdefault("stub", []).append(s)
        )
        with urllib3.HTTPConnectionPool(STUB, 80) as pool:
            got = _pool_run(pool, retries)
    assert got == expected
    assert [(m, p, b) for m, p, _, b in stub.seen] == [(m, p, b) for m, p, _, b in real.seen]
    assert slept.get("stub") == slept.get("real")


def test_a_pool_used_directly_follows_redirects_as_urllib3_does(stub: Script) -> None:
    _compare(
        {
            "/start": [reply(303, Location="/next")],
            "/next": [reply(302, Location="/last")],
            "/last": [reply(200, b"done")],
        },
        Retry(total=5),
        stub,
    )


def test_a_pool_follows_redirects_until_its_retries_are_spent(stub: Script) -> None:
    stub.replies["/start"] = [reply(302, Location="/start")]
    with (
        urllib3.HTTPConnectionPool(STUB, 80) as pool,
        pytest.raises(urllib3.exceptions.MaxRetryError, match="too many redirects"),
    ):
        pool.urlopen("GET", "/start", retries=Retry(total=3))
    stub.replies["/away"] = [reply(302, Location="https://elsewhere.invalid/")]
    with (
        urllib3.HTTPConnectionPool(STUB, 80) as pool,
        pytest.raises(urllib3.exceptions.HostChangedError),
    ):
        pool.urlopen("GET", "/away")


def test_retry_after_and_backoff_sleep_as_urllib3_sleeps(stub: Script) -> None:
    """A 429 with ``Retry-After: 3600`` twice: urllib3 sleeps an hour each time for real
    (up to its retry_after_max); in process it asks for the very same sleeps."""
    _compare(
        {"/start": [reply(429, Retry_After="3600"), reply(503), reply(200, b"ok")]},
        Retry(total=3, backoff_factor=0.5, status_forcelist=[429, 503], allowed_methods=None),
        stub,
    )


def test_a_rate_limit_fault_with_a_retry_sleeps_as_against_a_real_server(
    conntrack_fakes: Fakes,
) -> None:
    """A Retry with backoff and status_forcelist on the fakes' rate limit (an hour long):
    the same sleeps and the same last 429 as requests gets from a real server answering
    the fakes' 429 (which, as the providers' own, has no Retry-After)."""
    url = "https://api.linkedin.com/v2/userinfo"
    conntrack_fakes.fault("linkedin", "rate_limit", for_="1h")
    limited = requests.get(url, timeout=5)
    assert limited.status_code == 429
    replayed = reply(
        limited.status_code,
        limited.content,
        **{
            k.replace("-", "_"): v
            for k, v in limited.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        },
    )

    def run(target: str) -> tuple[list[float], int, bytes]:
        slept: list[float] = []
        retry = Retry(total=3, backoff_factor=0.1, status_forcelist=[429], raise_on_status=False)
        with pytest.MonkeyPatch.context() as mp, requests.Session() as session:
            mp.setattr("urllib3.util.retry.time.sleep", slept.append)
            adapter = requests.adapters.HTTPAdapter(max_retries=retry)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            answer = session.get(target, timeout=5)
        return slept, answer.status_code, answer.content

    started = time.monotonic()
    in_process = run(url)
    assert time.monotonic() - started < 2
    with Loopback(Script({"/v2/userinfo": [replayed]})) as server:
        assert in_process == run(f"http://127.0.0.1:{server.port}/v2/userinfo")


# -- the anyio pytest plugin, in a project of its own ------------------------------------


def test_the_fixture_with_the_anyio_plugin_on_asyncio(pytester: pytest.Pytester) -> None:
    """``@pytest.mark.anyio`` on asyncio runs the test in a task of anyio's own runner:
    the fixture's world answers it (and a second test gets a fresh world).
    (Under pytest-xdist, ``-n 2``, each worker has its own engine and worlds: checked by
    hand, too slow for this file: every worker starts a whole pytest.)"""
    pytester.makepyfile(
        test_project="""
        import httpx, pytest

        GRAPH = "https://graph.facebook.com/v21.0"

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        @pytest.mark.parametrize("n", range(2))
        async def test_async(conntrack_fakes, n):
            assert conntrack_fakes.control("GET", "apps")["data"] == []
            conntrack_fakes.create_app("facebook", redirect_uris=["https://a.example/cb"])
            async with httpx.AsyncClient() as client:
                assert (await client.get(GRAPH + "/me")).status_code == 400
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "anyio", "-W", "error")
    result.assert_outcomes(passed=2)
