"""Benchmark: the in-process fakes (``conntrack.testing``) against ``conntrack serve``.

What an integration's test suite pays for the fakes, measured in one run:

- **a world**: entering and leaving ``fakes()`` (a fresh core and app per test), and the
  first one of a process (the engine's thread, the imports);
- **a whole login**: create an app and an account, play the consent page, exchange the
  code and read ``/me`` with ``requests``: what one typical test does;
- **one request** (``GET graph.facebook.com/v21.0/me``) per client, in process through
  the interceptors, and the same client against ``conntrack serve`` over loopback HTTP:
  requests.Session, httpx.Client, and httpx.AsyncClient with 10 requests at a time.

Environment: ``BENCH_FAKES_REQUESTS`` requests per client (default 1000).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

N = int(os.environ.get("BENCH_FAKES_REQUESTS", "1000"))
REDIRECT = "https://app.example.test/cb"


def login(f, graph: str, www: str) -> str:  # type: ignore[no-untyped-def]
    import requests

    app = f.create_app("facebook", redirect_uris=[REDIRECT])
    ada = f.create_account("facebook", name="Ada")
    url = f"{www}/v21.0/dialog/oauth?" + urlencode(
        {"client_id": app["client_id"], "redirect_uri": REDIRECT, "scope": "email"}
    )
    code = parse_qs(urlsplit(f.authorize(url, account=ada["id"])).query)["code"][0]
    token = requests.get(
        f"{graph}/oauth/access_token",
        params={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT,
            "code": code,
        },
        timeout=10,
    ).json()["access_token"]
    assert requests.get(f"{graph}/me", params={"access_token": token}, timeout=10).ok
    return str(token)


def per_request(label: str, run: Callable[[], None], n: int) -> float:
    t = time.perf_counter()
    run()
    seconds = time.perf_counter() - t
    print(f"  {label:<44} {seconds / n * 1e3:7.3f} ms/request  {n / seconds:8.0f} req/s")
    return seconds / n


def clients(graph: str, token: str) -> dict[str, float]:
    import httpx
    import requests

    params = {"access_token": token}
    out: dict[str, float] = {}

    def with_requests() -> None:
        with requests.Session() as s:
            for _ in range(N):
                assert s.get(f"{graph}/me", params=params, timeout=10).ok

    def with_httpx() -> None:
        with httpx.Client() as c:
            for _ in range(N):
                assert c.get(f"{graph}/me", params=params).is_success

    def with_async_httpx() -> None:
        async def main() -> None:
            async with httpx.AsyncClient() as c:
                for _ in range(N // 10):
                    got = await asyncio.gather(
                        *(c.get(f"{graph}/me", params=params) for _ in range(10))
                    )
                    assert all(r.is_success for r in got)

        asyncio.run(main())

    out["requests.Session"] = per_request("requests.Session", with_requests, N)
    out["httpx.Client"] = per_request("httpx.Client", with_httpx, N)
    out["httpx.AsyncClient x10"] = per_request(
        "httpx.AsyncClient, 10 at a time", with_async_httpx, N
    )
    return out


class Remote:
    """The control API of a `conntrack serve` process, with the Fakes API's names."""

    def __init__(self, base: str) -> None:
        self.base = base

    def _post(self, path: str, **body: object) -> dict:  # type: ignore[type-arg]
        import httpx

        r = httpx.post(f"{self.base}/_conntrack/{path}", json=body)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def create_app(self, provider: str, redirect_uris: list[str]) -> dict:  # type: ignore[type-arg]
        return self._post("apps", provider=provider, redirect_uris=redirect_uris)

    def create_account(self, provider: str, **fields: object) -> dict:  # type: ignore[type-arg]
        return self._post("accounts", provider=provider, **fields)

    def authorize(self, url: str, account: str) -> str:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.real_clients.conftest import approve

        return approve(url, account)


def main() -> int:
    t = time.perf_counter()
    from conntrack.testing import fakes

    with fakes():
        pass
    first = time.perf_counter() - t
    print(f"first world of a process (imports, engine thread): {first * 1e3:7.1f} ms")
    worlds = []
    for _ in range(30):
        t = time.perf_counter()
        with fakes():
            pass
        worlds.append(time.perf_counter() - t)
    print(f"{'each further world (median of 30):':<51}{statistics.median(worlds) * 1e3:7.1f} ms")

    graph, www = "https://graph.facebook.com/v21.0", "https://www.facebook.com"
    logins = []
    with fakes() as f:
        for _ in range(20):
            t = time.perf_counter()
            token = login(f, graph, www)
            logins.append(time.perf_counter() - t)
        print(
            f"{'a whole login (app, account, consent, code, /me):':<51}"
            f"{statistics.median(logins) * 1e3:7.1f} ms"
        )
        print(f"in process, {N} requests per client:")
        inproc = clients(graph, token)

    exe = Path(sys.executable).parent / "conntrack"
    with subprocess.Popen(
        [str(exe), "serve", "--port", "0"], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            match = re.search(r"listening on (http://\S+)", proc.stdout.readline())
            assert match, "conntrack serve did not start"
            base = match.group(1)
            token = login(
                Remote(base), f"{base}/graph.facebook.com/v21.0", f"{base}/www.facebook.com"
            )
            print(f"conntrack serve over loopback, {N} requests per client:")
            served = clients(f"{base}/graph.facebook.com/v21.0", token)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=10)
    print("in process / served, time per request:")
    for name in inproc:
        print(f"  {name:<44} {inproc[name] / served[name]:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
