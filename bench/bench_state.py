"""Benchmark: the state file of ``conntrack serve --state`` with many tokens.

Builds a core with BENCH_STATE_TOKENS tokens (LinkedIn logins: an access and a refresh
token each, five logins an account, every account with one organization), then prints:

- a snapshot: ``Core.dump()`` (the part that holds up requests: it runs between two
  requests), then JSON encoding and the SQLite write (in a worker thread while serving),
  and the file's size;
- loading it back: reading, JSON decoding and ``Core.load``;
- the start of ``conntrack serve --state FILE`` until its "ready" line, against a start
  without a state file (best of BENCH_STATE_REPEAT).

Environment:
  BENCH_STATE_TOKENS  how many tokens (default 100000)
  BENCH_STATE_REPEAT  how many starts of each kind (default 3)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from conntrack._clock import TravelClock
from conntrack._statefile import StateFile
from fake_providers import Core

TOKENS = int(os.environ.get("BENCH_STATE_TOKENS", "100000"))
REPEAT = int(os.environ.get("BENCH_STATE_REPEAT", "3"))
EXE = Path(sys.executable).parent / "conntrack"
REDIRECT = "https://app.example.test/callback"
SCOPES = ["r_organization_social", "rw_organization_admin"]


def build() -> Core:
    core = Core(TravelClock(), seed=1)
    app = core.create_app_registration("linkedin", redirect_uris=[REDIRECT]).client_id
    for _ in range(max(1, TOKENS // 10)):
        account = core.create_account("linkedin", pages=1).id
        for _ in range(5):
            code = core.approve(app, account, REDIRECT, requested=SCOPES, granted=SCOPES)
            core.issue_from_code(code.value, client_id=app, redirect_uri=REDIRECT)
    return core


def start_seconds(*args: str) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        t = time.perf_counter()
        with subprocess.Popen(
            [str(EXE), "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if "ready:" in line:
                    break
            else:
                raise SystemExit(f"conntrack serve {' '.join(args)} did not start")
            best = min(best, time.perf_counter() - t)
            proc.terminate()
            proc.wait(timeout=60)
    return best


def main() -> None:
    t = time.perf_counter()
    core = build()
    built = time.perf_counter() - t
    print(
        f"core with {len(core.tokens())} tokens, {len(core.accounts())} accounts "
        f"built in {built:.1f} s"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        state = StateFile.open(path)
        t = time.perf_counter()
        document = core.dump()
        dumped = time.perf_counter() - t
        t = time.perf_counter()
        state.write(document, seq=core.seq, clock_offset=timedelta(0), now=core.now())
        written = time.perf_counter() - t
        size = path.stat().st_size
        print(
            f"snapshot: dump {dumped * 1000:.0f} ms (holds up requests) + encode and write "
            f"{written * 1000:.0f} ms (worker thread) = {(dumped + written) * 1000:.0f} ms; "
            f"file {size / 1e6:.1f} MB"
        )
        t = time.perf_counter()
        snapshot = state.read()
        assert snapshot is not None
        read = time.perf_counter() - t
        t = time.perf_counter()
        Core(TravelClock()).load(snapshot.document)
        loaded = time.perf_counter() - t
        state.close()
        print(f"load: read and decode {read * 1000:.0f} ms + Core.load {loaded * 1000:.0f} ms")
        bare = start_seconds()
        with_state = start_seconds("--state", str(path))
        print(
            f"conntrack serve to ready: {bare:.2f} s without state, {with_state:.2f} s with "
            f"{len(core.tokens())} tokens (best of {REPEAT})"
        )


if __name__ == "__main__":
    main()
