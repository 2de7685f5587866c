"""The in-process fakes under attack (2): what the interceptors hand over and give back.

Against a stub world (:class:`Stub`, activated as a world is), the requests of odd client
code (streams, multipart, chunked generators, gzip bodies, buffers, prepared requests,
cookies, redirects across hosts, every kind of httpx client, headers that would split a
request) arrive as sent and come back as the library reads a socket's; urllib3's own
redirects, retries, ``Retry-After`` and backoff sleeps are compared with the same code
against a real HTTP server on loopback answering the same (:class:`Loopback`), so "as
the library does for real" is checked, not assumed.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import urllib3
from urllib3.util.retry import Retry

from conntrack.testing import Fakes, _intercept
from conntrack.testing._engine import Answer, Call

GRAPH = "https://graph.facebook.com/v21.0"
#: urllib3's own pool manager (``urllib3.request`` is urllib3 2 only: these tests also
#: run with urllib3 1.26).
URLLIB3 = urllib3.PoolManager()
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


# -- what the interceptors hand over and give back (stub world) ---------------------------


def test_streamed_answers_read_as_from_a_socket(stub: Script, asyncio_run: Any) -> None:
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

    assert asyncio_run(read_async()) == body
    raw = URLLIB3.request("GET", url, preload_content=False)
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
    URLLIB3.request("POST", url, body=chunks())
    assert [seen[3] for seen in stub.seen[-3:]] == [b"a=1&b=2"] * 3
    import array

    URLLIB3.request("POST", url, body=array.array("B", b"raw"))  # a buffer, sent as is
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
        URLLIB3.request("GET", url, headers={"X-A": "1\r\nX-B: 2"})
    with pytest.raises(httpx.LocalProtocolError):
        httpx.get(url, headers={"X-A": "1\r\nX-B: 2"})
    with pytest.raises(httpx.LocalProtocolError):
        httpx.get(url, headers={"X-A": "1\x00"})
    assert stub.seen == []
    URLLIB3.request("GET", url, headers={"X-A": "1\x00"})  # http.client sends it
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
