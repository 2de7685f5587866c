"""The run's in-process client skips httpx's cookie jar where it would find nothing
(issue 15), and still keeps and sends a cookie an answer sets.

A first login's answers set no cookie, and httpx handing each one to the standard
library's jar cost about 5 % of the login's Python calls; the skip must not change what
the client does with an answer that does set one.
"""

from __future__ import annotations

from typing import Any, cast

import httpx
import trio

from conntrack.scenario._runner import BASE, QuietCookies, world_client

Scope = dict[str, Any]


async def _app(scope: Scope, receive: Any, send: Any) -> None:
    """``/set`` sets a cookie; every answer echoes the request's Cookie header."""
    assert scope["type"] == "http"
    while (await receive()).get("more_body"):
        pass
    sent = dict(scope["headers"]).get(b"cookie", b"")
    headers = [(b"content-type", b"text/plain")]
    if scope["path"] == "/set":
        headers.append((b"set-cookie", b"session=abc; Path=/"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": sent})


def _exchange(paths: list[str]) -> tuple[list[bytes], int, httpx.Cookies]:
    """GET each path on a world client: the bodies, the requests counted, the jar."""
    counted = 0

    async def count(request: httpx.Request) -> None:
        nonlocal counted
        counted += 1

    async def main() -> tuple[list[bytes], httpx.Cookies]:
        async with world_client(_app, count) as http:
            bodies = [(await http.get(p)).content for p in paths]
            return bodies, http.cookies

    bodies, jar = trio.run(main)
    return bodies, counted, jar


def test_the_world_client_uses_the_quiet_jar_and_counts_requests() -> None:
    async def count(request: httpx.Request) -> None:
        return None

    http = world_client(_app, count)
    assert isinstance(http.cookies, QuietCookies)
    assert str(http.base_url).rstrip("/") == BASE
    bodies, counted, jar = _exchange(["/a", "/b"])
    assert (bodies, counted, len(jar)) == ([b"", b""], 2, 0)


def test_an_answer_without_a_cookie_never_reaches_the_jar(monkeypatch: Any) -> None:
    reached: list[object] = []
    monkeypatch.setattr(
        httpx.Cookies, "extract_cookies", lambda self, response: reached.append(response)
    )
    _exchange(["/a", "/b"])
    assert reached == []


def test_a_cookie_set_is_kept_and_sent_as_with_httpx_own_jar() -> None:
    bodies, counted, jar = _exchange(["/a", "/set", "/b"])
    assert counted == 3
    assert dict(jar) == {"session": "abc"}
    assert bodies == [b"", b"", b"session=abc"]

    async def plain() -> list[bytes]:
        transport = httpx.ASGITransport(app=cast(Any, _app))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            return [(await http.get(p)).content for p in ["/a", "/set", "/b"]]

    assert trio.run(plain) == bodies


URLS = [
    f"{BASE}/v19.0/oauth/access_token",
    f"{BASE}/v19.0/me/accounts",
    "http://graph.facebook.local/v19.0/debug_token",
    "/relative/path",
    "relative",
    f"{BASE}/a path/with spaces/ü",
    f"{BASE}/p%2Fq/%zz",
    f"{BASE}/already?x=1",
    f"{BASE}/frag#top",
    f"{BASE}/",
]
PARAMS: list[Any] = [
    None,
    {},
    {"access_token": "EAAB|x.y-z_~", "limit": "25"},
    {"input_token": "a b+c&d=e", "access_token": "1234|s3cr3t/=?#"},
    {"fields": "id,name,picture{url}", "q": "ünï cödé ☃", "empty": ""},
    {"multi": ["1", "2", "3"], "n": 7, "flag": True, "none": None},
    [("a", "1"), ("a", "2"), ("b", "%41")],
    "x=1&y=2",
    {"redirect_uri": "https://app.conntrack.test/oauth/callback?a=1&b=[2]"},
]


def _sent(url: httpx.URL) -> tuple[object, ...]:
    """What httpx's ASGI transport puts in the scope from a URL, and its text."""
    return (url.scheme, url.host, url.port, url.path, url.raw_path, url.query, str(url))


def test_a_request_with_params_goes_out_as_httpx_would_send_it() -> None:
    async def count(request: httpx.Request) -> None:
        return None

    plain = httpx.AsyncClient(base_url=BASE)
    world = world_client(_app, count)
    for url in URLS:
        for params in PARAMS:
            for method in ("GET", "POST"):
                ours = world.build_request(method, url, params=params)
                theirs = plain.build_request(method, url, params=params)
                assert _sent(ours.url) == _sent(theirs.url), (url, params)
                assert str(ours.url) == str(theirs.url), (url, params)
                assert ours.headers.raw == theirs.headers.raw, (url, params)
                assert ours.method == theirs.method


def test_a_client_with_params_of_its_own_merges_them_as_httpx_does() -> None:
    async def count(request: httpx.Request) -> None:
        return None

    world = world_client(_app, count)
    world.params = httpx.QueryParams({"v": "1"})
    plain = httpx.AsyncClient(base_url=BASE, params={"v": "1"})
    for params in PARAMS:
        ours = world.build_request("GET", URLS[0], params=params)
        assert _sent(ours.url) == _sent(plain.build_request("GET", URLS[0], params=params).url)
