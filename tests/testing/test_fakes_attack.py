"""The in-process fakes under attack (1): threads, tasks, cancellation, worlds that end
or nest, the engine stopping, crashes, odd host spellings, ports and proxies, and the
fixture in other test set-ups (anyio, a session that ends with a world active).

What the interceptors hand over and give back, checked against a real server, is in
``test_fakes_attack_http.py``.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import requests
import trio
import urllib3

from conntrack.testing import Fakes, _engine, _intercept, current, fakes
from conntrack.testing._engine import Call

GRAPH = "https://graph.facebook.com/v21.0"
#: urllib3's own pool manager (``urllib3.request`` is urllib3 2 only: these tests also
#: run with urllib3 1.26).
URLLIB3 = urllib3.PoolManager()


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


def test_a_cancelled_asyncio_request_is_cancelled_in_the_fakes(
    conntrack_fakes: Fakes, asyncio_run: Any
) -> None:
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
    assert asyncio_run(main()) == 400  # no access_token: answered at once
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


def test_a_thread_still_calling_after_the_last_world_goes_out_as_without_fakes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no world left, another thread's calls go where they would without the fakes
    (here: a proxy that does not exist, so nothing leaves the machine): answers from the
    fakes, then the library's proxy error; never 'this world has ended', never a hang."""
    proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    seen: list[str] = []
    stop = threading.Event()

    def caller() -> None:
        while not stop.is_set():
            try:
                seen.append(str(requests.get(f"{GRAPH}/debug_token", timeout=5).status_code))
            except Exception as e:
                seen.append(type(e).__name__)

    with fakes():
        thread = threading.Thread(target=caller)
        thread.start()
        assert _eventually(lambda: len(seen) > 5)
    assert _eventually(lambda: seen[-1] == "ProxyError")
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert set(seen) == {"400", "ProxyError"}


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
    "urllib3": lambda url: (lambda r: (r.status, json.loads(r.data)))(URLLIB3.request("GET", url)),
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
        URLLIB3.request("GET", url, retries=1)


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
    # In a process of its own: an asyncio runner cannot start in this one when the
    # browser tests' Playwright left its loop running on the same xdist worker.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "anyio", "-W", "error")
    result.assert_outcomes(passed=2)
