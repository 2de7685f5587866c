"""Benchmark: ``conntrack serve`` under wrk, against oauth2-mock-server, in one run.

Starts ``conntrack serve --port 0 --providers facebook`` as its own process (as an
integration developer runs it), creates a Facebook app and account through the control
API and gets a token through the real OAuth flow (consent page, code, code exchange).
Then, when wrk is installed, ``wrk -t2 -c50 --latency`` (the issue's load) over loopback,
case after case, in ``BENCH_SERVER_ROUNDS`` interleaved rounds (so every case sees the
same machine state), on:

- conntrack's token endpoint: ``GET /graph.facebook.com/v21.0/oauth/access_token`` with
  ``grant_type=fb_exchange_token`` (the app's id and secret and a user token in, a new
  long-lived token out);
- conntrack's ``GET /graph.facebook.com/v21.0/me?access_token=…``;
- oauth2-mock-server's token endpoint (``POST /token``) with ``grant_type=
  client_credentials``: one access token out, as ``fb_exchange_token`` answers one; its
  ``refresh_token`` grant (a token in, as ``fb_exchange_token``) is shown too, but it
  signs two JWTs (an ``id_token`` besides) and is the slower, so the target is held
  against ``client_credentials``, the harder bar;
- the floors: a bare ASGI app and a minimal ``QuartTrio`` app with one route, both on
  hypercorn's trio worker as conntrack runs it (``_floor_server.py``): what a request
  costs before any of conntrack's own work;
- both cores: two ``conntrack serve`` processes, each under its own wrk of half the
  connections at once (``-t1 -c25`` twice): the most a shared-nothing split of the load
  over two processes could give, before any cost of keeping one provider state.

For each it prints requests/s, p50 and p99 latency (the median of the rounds), the
server's CPU a request (its process's CPU time from ``/proc`` before and after, all
threads: Node signs tokens on a thread pool) and wrk's own, then the ratios against the
issue's targets (>= 1.0x oauth2-mock-server's token endpoint; <= 0.3 ms of server CPU a
``GET /me``), with the date and the load average before and after.

Without wrk (or without oauth2-mock-server) it says how to get them (``make
bench-tools``) and measures what it can: without wrk, the former measurement, 50
``httpx.AsyncClient``s on asyncio, which shows the server's CPU a request but not its
throughput (the clients take as much CPU as the server does).

Traffic goes to 127.0.0.1 only; every run stops at its deadline, and every server this
starts is stopped (SIGINT, then killed) also on failure.

Environment:
  BENCH_SERVER_SECONDS  seconds of each case in each round (default 5; with wrk)
  BENCH_SERVER_ROUNDS   interleaved rounds (default 3: 15 s a case, the issue's -d15s)
  BENCH_SERVER_CLIENTS  concurrent connections (default 50)
  BENCH_OAUTH2_MOCK_SERVER  oauth2-mock-server's CLI, if not where make bench-tools puts it
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _wrk import HOW_TO_GET, Load, Tally, cpu_seconds, mock_server_command, run, wrk_path

from conntrack.clients._browser import consent

SECONDS = float(os.environ.get("BENCH_SERVER_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_SERVER_ROUNDS", "3"))
CLIENTS = int(os.environ.get("BENCH_SERVER_CLIENTS", "50"))
#: The httpx fallback's window (without wrk).
HTTPX_SECONDS = 10.0
#: Seconds of warm-up before measuring (httpx clients; each wrk case, not counted).
WARMUP = 1.0
REDIRECT_URI = "https://app.example.test/oauth/callback"
GRAPH = "/graph.facebook.com/v21.0"
EXE = Path(sys.executable).parent / "conntrack"
FLOOR = Path(__file__).resolve().parent / "_floor_server.py"
#: The issue's targets.
TOKEN_RATIO_TARGET = 1.0
ME_CPU_TARGET_MS = 0.3

__all__ = ["GRAPH", "cpu_seconds", "serve_and_run", "setup"]


async def _control(http: httpx.AsyncClient, path: str, **body: Any) -> Any:
    r = await http.post(f"/_conntrack/{path}", json=body)
    r.raise_for_status()
    return r.json()


async def setup(base: str) -> dict[str, str]:
    """An app, an account and a short-lived user token, the way a product gets one."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        app = await _control(http, "apps", provider="facebook", redirect_uris=[REDIRECT_URI])
        account = await _control(http, "accounts", provider="facebook")
        state = secrets.token_urlsafe(8)
        url = httpx.URL(
            f"{base}/www.facebook.com/v21.0/dialog/oauth",
            params={
                "client_id": app["client_id"],
                "redirect_uri": REDIRECT_URI,
                "state": state,
                "response_type": "code",
                "scope": "pages_show_list,pages_read_engagement",
            },
        )
        result = await consent(http, str(url), account_id=account["id"])
        assert result.code and result.state == state, result
        token = await http.get(
            f"{GRAPH}/oauth/access_token",
            params={
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "redirect_uri": REDIRECT_URI,
                "code": result.code,
            },
        )
        token.raise_for_status()
        return {
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "short": token.json()["access_token"],
        }


async def hammer(base: str, path: str, params: dict[str, str]) -> tuple[list[float], int, float]:
    """``CLIENTS`` clients asking ``path`` back to back for ``HTTPX_SECONDS`` (after a
    warm-up).

    Returns the latencies (s) of the answers within the measured window, the number of
    answers that were not 200, and the window's length.
    """
    latencies: list[float] = []
    errors = 0
    # Clients are made before the clock starts, sharing one TLS context: making an httpx
    # client loads the CA bundle (tens of ms of CPU), which would otherwise eat the window.
    tls = ssl.create_default_context()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, timeout=30, limits=limits, verify=tls)
            )
            for _ in range(CLIENTS)
        ]
        start = time.perf_counter() + WARMUP
        end = start + HTTPX_SECONDS

        async def client(http: httpx.AsyncClient) -> None:
            nonlocal errors
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    return
                r = await http.get(path, params=params)
                t1 = time.perf_counter()
                if t0 >= start:
                    latencies.append(t1 - t0)
                    if r.status_code != 200:
                        errors += 1

        await asyncio.gather(*(client(http) for http in clients))
    return latencies, errors, HTTPX_SECONDS


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def bench_httpx(base: str, pid: int) -> None:
    """The fallback without wrk: 50 ``httpx.AsyncClient``s on each endpoint in turn."""
    creds = await setup(base)
    cases = [
        (
            "token endpoint (fb_exchange_token)",
            f"{GRAPH}/oauth/access_token",
            {
                "grant_type": "fb_exchange_token",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "fb_exchange_token": creds["short"],
            },
        ),
        ("data endpoint (/me)", f"{GRAPH}/me", {"access_token": creds["short"]}),
    ]
    for label, path, params in cases:
        cpu0, own0, wall0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
        latencies, errors, window = await hammer(base, path, params)
        wall = time.perf_counter() - wall0
        busy = (cpu_seconds(pid) - cpu0) / wall
        clients_busy = (time.process_time() - own0) / wall
        latencies.sort()
        if not latencies:
            print(f"fake server (httpx clients), {label}: no answers within {window:.0f} s")
            continue
        print(
            f"fake server (httpx clients), {label}, {CLIENTS} clients, {window:.0f} s: "
            f"{len(latencies) / window:,.0f} requests/s, "
            f"p50 {_pct(latencies, 0.50) * 1000:.1f} ms, "
            f"p99 {_pct(latencies, 0.99) * 1000:.1f} ms, "
            f"mean {statistics.fmean(latencies) * 1000:.1f} ms, "
            f"{errors} non-200; CPU: server {busy:.0%}, clients {clients_busy:.0%}"
        )


@contextlib.contextmanager
def started(command: list[str], stop_timeout: float = 10) -> Iterator[tuple[str, int]]:
    """Start ``command`` (a server that prints ``listening on http://127.0.0.1:PORT`` or
    hypercorn's ``Running on …`` first), yield its base URL and pid, and stop it: SIGINT,
    then kill after ``stop_timeout`` seconds, also when the caller fails."""
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        try:
            assert proc.stdout is not None
            seen = []
            for line in proc.stdout:
                seen.append(line)
                match = re.search(r"(?:listening|Running) on (http://127\.0\.0\.1:\d+)", line)
                if match:
                    break
            else:
                raise RuntimeError(f"{command[0]} did not start: {''.join(seen)!r}")
            # Keep reading what the server prints, so a full pipe never blocks it.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            yield match.group(1), proc.pid
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _serve_command(*extra: str) -> list[str]:
    return [str(EXE), "serve", "--port", "0", "--seed", "1", "--providers", "facebook", *extra]


def serve_and_run(
    load: Callable[[str, int], Coroutine[Any, Any, None]], *extra: str, stop_timeout: float = 10
) -> int:
    """Start ``conntrack serve --port 0 --providers facebook`` (and ``extra`` options) as
    its own process, run ``load(base_url, pid)`` on asyncio against it, and stop it
    (SIGINT, then kill after ``stop_timeout`` seconds)."""
    with started(_serve_command(*extra), stop_timeout) as (base, pid):
        asyncio.run(load(base, pid))
    return 0


def _token_load(base: str, pid: int, creds: dict[str, str]) -> Load:
    query = (
        f"grant_type=fb_exchange_token&client_id={creds['client_id']}"
        f"&client_secret={creds['client_secret']}&fb_exchange_token={creds['short']}"
    )
    return Load(f"{base}{GRAPH}/oauth/access_token?{query}", pid)


def _me_load(base: str, pid: int, creds: dict[str, str]) -> Load:
    return Load(f"{base}{GRAPH}/me?access_token={creds['short']}", pid)


def _machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, load average {load}, {os.cpu_count()} CPUs"


def _line(label: str, tally: Tally) -> str:
    return (
        f"{label}: {tally.rate:,.0f} requests/s, "
        f"p50 {statistics.median(tally.p50):.1f} ms, p99 {statistics.median(tally.p99):.1f} ms, "
        f"server CPU {tally.per_request(tally.server_cpu):.3f} ms a request "
        f"({tally.server_cpu / tally.seconds:.0%} of a core), "
        f"wrk {tally.per_request(tally.wrk_cpu):.3f} ms a request, {tally.errors} errors "
        f"({tally.requests:,} requests in {tally.seconds:.1f} s)"
    )


def bench_wrk() -> int:
    """Every case under wrk, interleaved; the figures and the targets."""
    mock = mock_server_command()
    if mock is None:
        print(f"oauth2-mock-server is not installed: no comparison. {HOW_TO_GET}")
    print(f"wrk -t2 -c{CLIENTS}, {ROUNDS} rounds of {SECONDS:g} s a case; {_machine()}")
    python = sys.executable
    with contextlib.ExitStack() as stack:
        one, one_pid = stack.enter_context(started(_serve_command()))
        two, two_pid = stack.enter_context(started(_serve_command()))
        raw, raw_pid = stack.enter_context(started([python, str(FLOOR), "raw"]))
        quart, quart_pid = stack.enter_context(started([python, str(FLOOR), "quart"]))
        creds, creds_two = asyncio.run(setup(one)), asyncio.run(setup(two))
        cases: dict[str, list[Load]] = {
            "conntrack serve, token endpoint (fb_exchange_token)": [
                _token_load(one, one_pid, creds)
            ],
            "conntrack serve, GET /me": [_me_load(one, one_pid, creds)],
        }
        if mock is not None:
            o2, o2_pid = stack.enter_context(started([*mock, "-a", "127.0.0.1", "-p", "0"]))
            cases["oauth2-mock-server, token endpoint (client_credentials)"] = [
                Load(f"{o2}/token", o2_pid, "grant_type=client_credentials&scope=read")
            ]
            cases["oauth2-mock-server, token endpoint (refresh_token)"] = [
                Load(f"{o2}/token", o2_pid, "grant_type=refresh_token&refresh_token=r&client_id=c")
            ]
        cases["floor: bare ASGI app on hypercorn's trio worker"] = [
            Load(f"{raw}{GRAPH}/me", raw_pid)
        ]
        cases["floor: minimal QuartTrio app, one route"] = [Load(f"{quart}{GRAPH}/me", quart_pid)]
        cases["two conntrack serve processes, token endpoint"] = [
            _token_load(one, one_pid, creds),
            _token_load(two, two_pid, creds_two),
        ]
        cases["two conntrack serve processes, GET /me"] = [
            _me_load(one, one_pid, creds),
            _me_load(two, two_pid, creds_two),
        ]
        tallies = {label: Tally() for label in cases}
        for loads in cases.values():  # warm-up, not counted: Node's JIT, first requests
            run(loads, WARMUP, CLIENTS, Tally())
        for _ in range(ROUNDS):
            for label, loads in cases.items():
                run(loads, SECONDS, CLIENTS, tallies[label])
    for label, tally in tallies.items():
        print(_line(label, tally))
    _verdicts(tallies)
    print(f"done: {_machine()}")
    return 0


def _verdicts(t: dict[str, Tally]) -> None:
    token = t["conntrack serve, token endpoint (fb_exchange_token)"]
    me = t["conntrack serve, GET /me"]
    mock = t.get("oauth2-mock-server, token endpoint (client_credentials)")
    if mock is not None and mock.rate:
        ratio = token.rate / mock.rate
        verdict = "holds" if ratio >= TOKEN_RATIO_TARGET else "misses"
        print(
            f"target token endpoint >= {TOKEN_RATIO_TARGET:.1f}x oauth2-mock-server "
            f"(client_credentials): {ratio:.2f}x ({token.rate:,.0f} vs {mock.rate:,.0f} "
            f"requests/s): {verdict}"
        )
    me_ms = me.per_request(me.server_cpu)
    verdict = "holds" if me_ms <= ME_CPU_TARGET_MS else "misses"
    raw = t["floor: bare ASGI app on hypercorn's trio worker"]
    quart = t["floor: minimal QuartTrio app, one route"]
    print(
        f"target GET /me <= {ME_CPU_TARGET_MS} ms of server CPU: {me_ms:.3f} ms: {verdict} "
        f"(floors, same run: bare ASGI on hypercorn-trio {raw.per_request(raw.server_cpu):.3f}"
        f" ms, minimal QuartTrio {quart.per_request(quart.server_cpu):.3f} ms)"
    )
    for what, single in (("token endpoint", token), ("GET /me", me)):
        both = t[f"two conntrack serve processes, {what}"]
        print(
            f"both cores, {what}: two processes {both.rate:,.0f} requests/s, "
            f"{both.rate / single.rate:.2f}x one process ({single.rate:,.0f}); "
            f"CPU a request: servers {both.per_request(both.server_cpu):.3f} ms, "
            f"wrk {both.per_request(both.wrk_cpu):.3f} ms"
        )


def main() -> int:
    if wrk_path() is None:
        print(f"wrk is not installed: measuring with Python clients instead. {HOW_TO_GET}")
        return serve_and_run(bench_httpx)
    return bench_wrk()


if __name__ == "__main__":
    sys.exit(main())
