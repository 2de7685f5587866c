"""Benchmark: the fake server's memory under a steady token load, and after a reset.

Starts ``conntrack serve --port 0 --providers facebook`` as its own process (as an
integration developer runs it) and loads it for a fixed time over loopback: a few
clients (each one keep-alive ``httpx.AsyncClient``) ask ``fb_exchange_token`` back to
back, so every answer is a new 60-day token the server must keep. Every ``EPOCH``
seconds a driver moves the server's clock ``TRAVEL`` ahead through the control API
(``/_conntrack/clock/advance``) and logs in again (consent page, code, code exchange) for
a fresh short-lived token: the tokens of earlier epochs expire, and once they are past
their profile's ``dead_token_retention`` (30 days) the server may forget them. It prints
the server's RSS (``VmRSS``) every ``SAMPLE`` seconds with the tokens issued so far,
then calls ``/_conntrack/reset`` and prints the RSS again.

A server that keeps every token grows all along; one that forgets dead tokens stays
flat once the first tokens pass their retention.

Traffic goes to 127.0.0.1 only; the load stops at its deadline or after ``MAX_TOKENS``.

Environment:
  BENCH_SERVE_MEMORY_SECONDS  how long the load runs (default 60)
  BENCH_SERVE_MEMORY_CLIENTS  concurrent clients (default 8)
  BENCH_SERVE_MEMORY_MAX      tokens at most (default 200000)
  BENCH_SERVE_MEMORY_TRAVEL   how far the clock moves each epoch (default 31d; 0: it does
                              not move, nothing expires, and the reset has it all to free)
  BENCH_SERVE_MEMORY_STATE    1: serve with ``--state`` (a new file in a temporary folder,
                              the default ``--state-lag``), and print the size of its
                              ``-wal`` with each sample: the file's write-ahead log must
                              not grow without bound under a steady load either
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import GRAPH, serve_and_run, setup

SECONDS = float(os.environ.get("BENCH_SERVE_MEMORY_SECONDS", "60"))
CLIENTS = int(os.environ.get("BENCH_SERVE_MEMORY_CLIENTS", "8"))
MAX_TOKENS = int(os.environ.get("BENCH_SERVE_MEMORY_MAX", "200000"))
EPOCH = 2.0
SAMPLE = 5.0
TRAVEL = os.environ.get("BENCH_SERVE_MEMORY_TRAVEL", "31d")
EXE = Path(sys.executable).parent / "conntrack"
STATE = os.environ.get("BENCH_SERVE_MEMORY_STATE", "") == "1"
#: The state file of a ``--state`` run (None: none).
WAL: Path | None = None


def rss_mib(pid: int) -> float:
    """Resident set size of process ``pid`` in MiB (Linux; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def load(base: str, pid: int) -> None:
    creds = await setup(base)
    issued = 0
    deadline = time.perf_counter() + SECONDS
    done = asyncio.Event()

    async def client() -> None:
        nonlocal issued
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            while not done.is_set():
                r = await http.get(
                    f"{GRAPH}/oauth/access_token",
                    params={
                        "grant_type": "fb_exchange_token",
                        "client_id": creds["client_id"],
                        "client_secret": creds["client_secret"],
                        "fb_exchange_token": creds["short"],
                    },
                )
                if r.status_code == 200:
                    issued += 1
                if issued >= MAX_TOKENS or time.perf_counter() >= deadline:
                    done.set()

    async def driver(http: httpx.AsyncClient) -> None:
        while not done.is_set():
            await asyncio.sleep(EPOCH)
            if TRAVEL not in ("0", "0s", "0d"):
                r = await http.post("/_conntrack/clock/advance", json={"by": TRAVEL})
                r.raise_for_status()
                creds.update(await setup(base))

    async def sampler() -> None:
        t0 = time.perf_counter()
        while True:
            now = time.perf_counter() - t0
            print(
                f"  t={now:4.0f} s  RSS {rss_mib(pid):6.1f} MiB  tokens issued {issued:7,}"
                + ("" if WAL is None else f"  -wal {wal_mib():6.1f} MiB"),
                flush=True,
            )
            if done.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), SAMPLE)

    print(
        f"fake server memory, {CLIENTS} clients asking fb_exchange_token for {SECONDS:.0f} s, "
        f"the clock {TRAVEL} ahead every {EPOCH:.0f} s:"
    )
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        before = rss_mib(pid)
        await asyncio.gather(sampler(), driver(http), *(client() for _ in range(CLIENTS)))
        after_load = rss_mib(pid)
        r = await http.post("/_conntrack/reset", json={})
        r.raise_for_status()
        await asyncio.sleep(0.5)
        print(
            f"fake server memory: RSS {before:.1f} MiB before the load, {after_load:.1f} MiB "
            f"after {issued:,} tokens, {rss_mib(pid):.1f} MiB after /_conntrack/reset"
        )


def wal_mib() -> float:
    """Size of the state file's write-ahead log in MiB (0 if there is none)."""
    try:
        return 0.0 if WAL is None else WAL.stat().st_size / 2**20
    except FileNotFoundError:
        return 0.0


def serve_with_state(folder: str) -> int:
    """As ``bench_server.serve_and_run``, with ``--state`` (a new file in ``folder``); the
    final save may take a while, so the server gets 30 s to stop."""
    global WAL
    state = Path(folder) / "state.db"
    WAL = Path(f"{state}-wal")
    return serve_and_run(load, "--state", str(state), stop_timeout=30)


def main() -> int:
    if STATE:
        with tempfile.TemporaryDirectory() as folder:
            return serve_with_state(folder)
    return serve_and_run(load)


if __name__ == "__main__":
    sys.exit(main())
