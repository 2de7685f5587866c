"""Benchmark: the fake server's throughput under 50 concurrent clients over loopback.

Starts ``conntrack serve --port 0`` as its own process (as an integration developer runs
it), creates a Facebook app and account through the control API, gets a token through the
real OAuth flow (consent page, code, code exchange), then lets 50 concurrent clients
(each its own ``httpx.AsyncClient`` with one keep-alive connection, on asyncio) hammer

- a token endpoint: ``GET /graph.facebook.com/v21.0/oauth/access_token`` with
  ``grant_type=fb_exchange_token`` (a long-lived token for the short one), and
- a data endpoint: ``GET /graph.facebook.com/v21.0/me?access_token=…``,

for a fixed time each, and prints requests/s, p50 and p99 latency, and how busy the
server process and the clients' process were (CPU time over wall time: a server near
100 % is the bottleneck; both well below 100 % means the machine is shared with other
work, since server and clients run on the same 2 cores).

Traffic goes to 127.0.0.1 only; every loop stops at its deadline.

Environment:
  BENCH_SERVER_SECONDS  how long each endpoint is hammered (default 10)
  BENCH_SERVER_CLIENTS  concurrent clients (default 50)
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from conntrack.clients._browser import consent

SECONDS = float(os.environ.get("BENCH_SERVER_SECONDS", "10"))
CLIENTS = int(os.environ.get("BENCH_SERVER_CLIENTS", "50"))
WARMUP = 1.0
REDIRECT_URI = "https://app.example.test/oauth/callback"
GRAPH = "/graph.facebook.com/v21.0"
EXE = Path(sys.executable).parent / "conntrack"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    """``CLIENTS`` clients asking ``path`` back to back for ``SECONDS`` (after a warm-up).

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
        end = start + SECONDS

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
    return latencies, errors, SECONDS


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def bench(base: str, pid: int) -> None:
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
            print(f"fake server, {label}: no answers within {window:.0f} s")
            continue
        print(
            f"fake server, {label}, {CLIENTS} clients, {window:.0f} s: "
            f"{len(latencies) / window:,.0f} requests/s, "
            f"p50 {_pct(latencies, 0.50) * 1000:.1f} ms, "
            f"p99 {_pct(latencies, 0.99) * 1000:.1f} ms, "
            f"mean {statistics.fmean(latencies) * 1000:.1f} ms, "
            f"{errors} non-200; CPU: server {busy:.0%}, clients {clients_busy:.0%}"
        )


def serve_and_run(
    load: Callable[[str, int], Awaitable[None]], *extra: str, stop_timeout: float = 10
) -> int:
    """Start ``conntrack serve --port 0 --providers facebook`` (and ``extra`` options) as
    its own process, run ``load(base_url, pid)`` on asyncio against it, and stop it
    (SIGINT, then kill after ``stop_timeout`` seconds)."""
    with subprocess.Popen(
        [str(EXE), "serve", "--port", "0", "--seed", "1", "--providers", "facebook", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if not match:
                print(f"conntrack serve did not start: {line!r}", file=sys.stderr)
                return 1
            # Keep reading what the server prints, so a full pipe never blocks it.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            asyncio.run(load(match.group(1), proc.pid))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


def main() -> int:
    return serve_and_run(bench)


if __name__ == "__main__":
    sys.exit(main())
