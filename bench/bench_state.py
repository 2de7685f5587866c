"""Benchmark: the state file of ``conntrack serve --state`` with many tokens, and what
writing every change before answering costs.

Builds a core with BENCH_STATE_TOKENS tokens (LinkedIn logins: an access and a refresh
token each, five logins an account, every account with one organization), then prints:

- writing it whole into a new state file (what a layout-1 file's conversion costs), the
  file's size, and one change written afterwards (rows and milliseconds); then one
  account event each (``password_change``, ``app_removed``, ``delete_account``) made and
  written: the rows and milliseconds of that write (an event that listed a whole table
  would rewrite it);
- loading it back in-process: reading the rows, decoding, building the core;
- the start of ``conntrack serve --state FILE`` until its "ready" line (seconds, and the
  server's CPU seconds), against a start without a state file (best of
  BENCH_STATE_REPEAT);
- the token endpoint's throughput (Facebook's ``fb_exchange_token``: every answer is a
  new token) from BENCH_STATE_CLIENTS clients for BENCH_STATE_SECONDS, without
  ``--state``, with a new state file and with the big one, in both modes: ``--state-lag
  0`` (strict: every answer waits for its write) and the default lag (``--state-lag
  BENCH_STATE_LAG``, 20 ms: answers wait only while the writer is more than the lag
  behind);
- kill -9 at that many tokens, in both modes: the same load on the big file,
  ``SIGKILL`` right after an answer once BENCH_STATE_KILL_AFTER seconds passed, then
  every token a client received looked up in what the file holds: tokens lost (strict:
  must be 0; default: with how long before the kill the oldest of them was answered,
  which must be within the bound), and the restart's time.

Traffic goes to 127.0.0.1 only; every loop stops at its deadline.

Environment:
  BENCH_STATE_TOKENS      how many tokens (default 100000)
  BENCH_STATE_REPEAT      how many starts of each kind (default 3)
  BENCH_STATE_CLIENTS     concurrent clients on the token endpoint (default 8)
  BENCH_STATE_SECONDS     how long each throughput run lasts (default 8)
  BENCH_STATE_KILL_AFTER  seconds of load before the kill (default 4)
  BENCH_STATE_LAG         the --state-lag of the default-mode runs, in ms (default 20,
                          conntrack serve's default)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from conntrack._clock import TravelClock
from conntrack._serve import DEFAULT_STATE_LAG
from conntrack._statefile import StateFile
from fake_providers import Core

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import cpu_seconds

TOKENS = int(os.environ.get("BENCH_STATE_TOKENS", "100000"))
REPEAT = int(os.environ.get("BENCH_STATE_REPEAT", "3"))
CLIENTS = int(os.environ.get("BENCH_STATE_CLIENTS", "8"))
SECONDS = float(os.environ.get("BENCH_STATE_SECONDS", "8"))
KILL_AFTER = float(os.environ.get("BENCH_STATE_KILL_AFTER", "4"))
LAG = int(os.environ.get("BENCH_STATE_LAG", f"{DEFAULT_STATE_LAG * 1000:.0f}"))
#: How the default-mode runs are labelled.
DEFAULT = "default" if round(DEFAULT_STATE_LAG * 1000) == LAG else "not the default"
#: A token answered longer than this before a kill -9 must survive it in the default
#: mode: the lag, and a margin for the write under way on a shared machine.
BOUND = LAG / 1000 + 0.2
EXE = Path(sys.executable).parent / "conntrack"
REDIRECT = "https://app.example.test/callback"
SCOPES = ["r_organization_social", "rw_organization_admin"]
GRAPH = "/graph.facebook.com/v21.0"


def build() -> Core:
    core = Core(TravelClock(), seed=1)
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT]).client_id
    for _ in range(max(1, TOKENS // 10)):
        account = core.create_account("linkedin", pages=1).id
        for _ in range(5):
            code = core.approve(app, account, REDIRECT, requested=SCOPES, granted=SCOPES)
            core.issue_from_code(code.value, client_id=app, redirect_uri=REDIRECT)
    return core


# -- a server process ----------------------------------------------------------------


class Serve:
    """``conntrack serve --port 0 ARGS`` until its "ready" line; ``seconds`` to get there."""

    def __init__(self, *args: str) -> None:
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(EXE), "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            match = re.search(r"ready: (http://\S+)", line)
            if match:
                self.url = match.group(1)
                break
        else:
            raise SystemExit(f"conntrack serve {' '.join(args)} did not start")
        self.seconds = time.perf_counter() - started
        #: CPU the server used to get there (user + system): steadier than the wall
        #: time on a shared machine.
        self.cpu = cpu_seconds(self.proc.pid)
        self.killed_at = 0.0
        self.answered_at: list[float] = []
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=120)


def start_seconds(*args: str) -> tuple[float, float]:
    """The best of REPEAT starts: seconds to the "ready" line, and CPU seconds."""
    best, cpu = float("inf"), float("inf")
    for _ in range(REPEAT):
        server = Serve(*args)
        best, cpu = min(best, server.seconds), min(cpu, server.cpu)
        server.stop()
    return best, cpu


# -- load on the token endpoint --------------------------------------------------------


async def _setup(http: httpx.AsyncClient) -> dict[str, str]:
    """A Facebook app, an account and a short-lived token (login form, code exchange)."""

    async def post(path: str, **body: Any) -> Any:
        r = await http.post(f"/_conntrack/{path}", json=body)
        r.raise_for_status()
        return r.json()

    app = await post("apps", provider="facebook", redirect_uris=[REDIRECT])
    account = await post("accounts", provider="facebook")
    r = await http.post(
        "/www.facebook.com/v21.0/dialog/oauth",
        data={
            "client_id": app["client_id"], "redirect_uri": REDIRECT, "state": "s",
            "scope": "pages_show_list", "response_type": "code", "account_id": account["id"],
            "granted": "pages_show_list", "action": "approve",
        },
    )  # fmt: skip
    code = httpx.URL(r.headers["location"]).params["code"]
    r = await http.get(
        f"{GRAPH}/oauth/access_token",
        params={"client_id": app["client_id"], "client_secret": app["client_secret"],
                "redirect_uri": REDIRECT, "code": code},
    )  # fmt: skip
    r.raise_for_status()
    return {
        "grant_type": "fb_exchange_token",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "fb_exchange_token": r.json()["access_token"],
    }


async def load(
    base: str, seconds: float, *, kill: Serve | None = None
) -> tuple[list[str], float, int]:
    """``CLIENTS`` clients exchanging tokens back to back for ``seconds``: the tokens
    answered, the window and the non-200 answers. With ``kill``, that server is killed
    (SIGKILL) right after the first answer past ``seconds``, other requests under way."""
    answered: list[str] = []
    times: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        setup = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30))
        params = await _setup(setup)
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, timeout=30, limits=limits)
            )
            for _ in range(CLIENTS)
        ]
        started = time.perf_counter()
        end = started + seconds
        killed = asyncio.Event()

        async def client(http: httpx.AsyncClient) -> None:
            nonlocal errors
            while not killed.is_set() and time.perf_counter() < end + (60 if kill else 0):
                try:
                    r = await http.get(f"{GRAPH}/oauth/access_token", params=params)
                except httpx.HTTPError:
                    return  # killed
                if r.status_code != 200:
                    errors += 1
                    continue
                answered.append(r.json()["access_token"])
                times.append(time.perf_counter())
                if kill is not None and time.perf_counter() >= end and not killed.is_set():
                    kill.proc.send_signal(signal.SIGKILL)
                    killed.set()
                    kill.killed_at = time.perf_counter()

        await asyncio.gather(*(client(http) for http in clients))
        window = time.perf_counter() - started
    if kill is not None:
        kill.answered_at = times
    return answered, window, errors


def throughput(*args: str) -> tuple[float, float]:
    """Tokens/s on the token endpoint, and the server's CPU time per token (µs): on a
    shared machine the second says more than the first."""
    server = Serve("--providers", "facebook,linkedin", *args)
    try:
        cpu = cpu_seconds(server.proc.pid)
        answered, window, errors = asyncio.run(load(server.url, SECONDS))
        cpu = cpu_seconds(server.proc.pid) - cpu
    finally:
        server.stop()
    if errors:
        raise SystemExit(f"{errors} answers were not 200")
    return len(answered) / window, cpu / max(1, len(answered)) * 1e6


def main() -> None:
    t = time.perf_counter()
    core = build()
    built = time.perf_counter() - t
    tokens = len(core.tokens())
    print(f"core with {tokens} tokens, {len(core.accounts())} accounts built in {built:.1f} s")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        state = StateFile.open(path)
        state.load(Core(TravelClock()))
        state.attach(core)
        t = time.perf_counter()
        state.flush(clock_offset=timedelta(0), now=core.now(), everything=True)
        state.save_random()
        written = time.perf_counter() - t
        app = core.apps()[0].client_id
        account, *victims = [a.id for a in core.accounts()[:4]]
        state.flush(clock_offset=timedelta(0), now=core.now())  # forget the listings
        t = time.perf_counter()
        code = core.approve(app, account, REDIRECT, requested=SCOPES, granted=SCOPES)
        core.issue_from_code(code.value, client_id=app, redirect_uri=REDIRECT)
        state.flush(clock_offset=timedelta(0), now=core.now())
        one = time.perf_counter() - t
        one_rows = state.last_rows
        after_events = []
        for name, victim in zip(
            ["password_change", "app_removed", "delete_account"], victims, strict=True
        ):
            t = time.perf_counter()
            if name == "delete_account":
                core.delete_account(victim)
            else:
                core.fire_event(victim, name)
            made = time.perf_counter() - t
            t = time.perf_counter()
            state.flush(clock_offset=timedelta(0), now=core.now())
            wrote = time.perf_counter() - t
            after_events.append(
                f"{name} {made * 1000:.1f} ms, its write {wrote * 1000:.1f} ms "
                f"({state.last_rows} rows)"
            )
        state.close()
        size = path.stat().st_size
        print(
            f"state file: written whole in {written:.2f} s, {size / 1e6:.1f} MB; a login "
            f"afterwards (code + access and refresh token) issued and written in "
            f"{one * 1000:.1f} ms ({one_rows} rows)"
        )
        print(f"one account event at {tokens} tokens, then the write: {'; '.join(after_events)}")
        del core
        t = time.perf_counter()
        state = StateFile.open(path)
        again = Core(TravelClock())
        state.load(again)
        loaded = time.perf_counter() - t
        state.close()
        print(f"load in-process: {loaded:.2f} s for {len(again.tokens())} tokens")
        del again

        bare, bare_cpu = start_seconds()
        with_state, state_cpu = start_seconds("--state", str(path))
        compiled = (
            "; PYTHONDONTWRITEBYTECODE is set: sources without a cached .pyc are compiled "
            "at every start"
            if sys.flags.dont_write_bytecode
            else ""
        )
        print(
            f"conntrack serve to ready (best of {REPEAT}, load average "
            f"{os.getloadavg()[0]:.1f}): {bare:.2f} s ({bare_cpu:.2f} s CPU) without state, "
            f"{with_state:.2f} s ({state_cpu:.2f} s CPU) with {tokens} tokens{compiled}"
        )

        big = Path(folder) / "big.db"
        shutil.copy(path, big)
        strict, lag = "--state-lag 0 (strict)", f"--state-lag {LAG} ({DEFAULT})"
        cases = {
            "without --state": (),
            f"--state, a new file, {strict}": (
                "--state", str(Path(folder) / "new.db"), "--state-lag", "0",
            ),
            f"--state, {tokens} tokens, {strict}": ("--state", str(big), "--state-lag", "0"),
            f"--state, a new file, {lag}": (
                "--state", str(Path(folder) / "new-lag.db"), "--state-lag", str(LAG),
            ),
            f"--state, {tokens} tokens, {lag}": (
                "--state", str(big), "--state-lag", str(LAG),
            ),
        }  # fmt: skip
        rates: dict[str, list[float]] = {k: [] for k in cases}
        cpus: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(2):  # interleaved, so that the machine's other work hits each alike
            for label, args in cases.items():
                rate, cpu = throughput(*args)
                rates[label].append(rate)
                cpus[label].append(cpu)
        base_rate, base_cpu = max(rates["without --state"]), min(cpus["without --state"])
        for label in cases:
            rate, cpu = max(rates[label]), min(cpus[label])
            print(
                f"token endpoint (fb_exchange_token), {label}: {rate:,.0f} tokens/s "
                f"({rate / base_rate - 1:+.0%}), server CPU {cpu:,.0f} µs a token "
                f"({cpu / base_cpu - 1:+.0%}); best of 2 runs of {SECONDS:.0f} s, "
                f"{CLIENTS} clients"
            )

        kill_9(path, Path(folder) / "victim.db", tokens, "--state-lag", "0")
        kill_9(path, Path(folder) / "victim-lag.db", tokens, "--state-lag", str(LAG))


def kill_9(path: Path, victim: Path, tokens: int, *args: str) -> None:
    """Load on a copy of the big file, SIGKILL right after an answer, then look up every
    answered token in what the file holds."""
    shutil.copy(path, victim)
    server = Serve("--providers", "facebook,linkedin", "--state", str(victim), *args)
    answered, window, _ = asyncio.run(load(server.url, KILL_AFTER, kill=server))
    server.proc.wait(timeout=30)
    wal = Path(f"{victim}-wal")
    wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
    restarted = Serve("--providers", "facebook,linkedin", "--state", str(victim))
    restart = restarted.seconds
    restarted.stop()
    state = StateFile.open(victim)
    after = Core(TravelClock())
    state.load(after)
    state.close()
    ages = [
        server.killed_at - at
        for v, at in zip(answered, server.answered_at, strict=True)
        if not after.check_token(v).valid
    ]
    oldest = f", the oldest answered {max(ages) * 1000:.0f} ms before the kill" if ages else ""
    strict = args[-1] == "0"
    mode = "strict" if strict else DEFAULT
    print(
        f"kill -9 at {tokens} tokens with {' '.join(args)} ({mode}): "
        f"{len(answered)} tokens answered in {window:.1f} s by {CLIENTS} clients, SIGKILL "
        f"right after an answer; tokens lost: {len(ages)}{oldest}; -wal at the kill "
        f"{wal_mb:.1f} MB; restart to ready {restart:.2f} s"
    )
    if ages and strict:
        raise SystemExit(f"{len(ages)} answered tokens lost on kill -9")
    late = [age for age in ages if age > BOUND]
    if late:
        raise SystemExit(f"{len(late)} tokens answered more than {BOUND} s before the kill lost")


if __name__ == "__main__":
    main()
