"""Benchmark: memory per connection, actor engine against direct engine.

The same world for both: one company of 5 users with N Facebook Pages (owned, synced
every 6 hours, no account events), for a number of days. The actor engine runs it as a
scenario (fakes in process, a task per connection, a timeline of records); the direct
engine runs it as a one-company population. Each run is in a fresh interpreter, after a
small warm-up run, under tracemalloc; it reports the peak of Python allocations above the
baseline. Two sizes (N and N/4) also give the marginal cost of one more connection,
without the fixed cost of the fakes, templates and policies.

Environment:
  BENCH_MEMORY_CONNECTIONS  N (default 200)
  BENCH_MEMORY_DAYS         days (default 365)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

CONNECTIONS = int(os.environ.get("BENCH_MEMORY_CONNECTIONS", "200"))
DAYS = int(os.environ.get("BENCH_MEMORY_DAYS", "365"))
USERS = 5


def _scenario(connections: int, days: int) -> Path:
    conns = "\n".join(
        f"  fb{i}: {{provider: facebook, kind: owned, connected_by: user{i % USERS + 1}, "
        "sync_every: 6h}"
        for i in range(connections)
    )
    text = (
        f"scenario: memory, {connections} Facebook Pages\n"
        "seed: 1\n"
        "start: 2026-01-05T09:00:00Z\n"
        f"until: {days}d\n"
        f"company: {{users: {USERS}}}\n"
        f"connections:\n{conns}\n"
    )
    path = Path(tempfile.mkdtemp(prefix="bench_memory_")) / "memory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def actor(connections: int) -> dict[str, float]:
    from conntrack.scenario import load_file
    from conntrack.scenario._runner import run_scenario

    [warm] = load_file(_scenario(1, 2))
    run_scenario(warm)
    [scenario] = load_file(_scenario(connections, DAYS))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t = time.perf_counter()
    run_scenario(scenario)
    wall = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] - base
    return {"connections": connections, "peak": peak, "wall": wall}


def direct(connections: int) -> dict[str, float]:
    from conntrack.population import PopulationSpec, run_population
    from conntrack.population._model import Churn

    spec = PopulationSpec(
        companies=1,
        days=DAYS,
        users=(USERS, USERS),
        opt_out=0.0,
        connections=(connections, connections),
        sync_every=timedelta(hours=6),
        providers={"facebook": 1.0},
        kinds={"owned": 1.0},
        disruptions={},
        # Like the scenario it is compared with: every connection from day one, for good.
        day_one="fresh",
        churn=Churn(0.0, 0.0),
    )
    run_population(PopulationSpec(companies=1, days=2))  # warm-up: profiles, policies
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t = time.perf_counter()
    series = run_population(spec)
    wall = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] - base
    return {"connections": series.connections, "peak": peak, "wall": wall}


def measure(engine: str, connections: int) -> dict[str, float]:
    args = [sys.executable, __file__, "--one", engine, str(connections)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    small = max(1, CONNECTIONS // 4)
    print(
        f"memory per connection: one company, {CONNECTIONS} Facebook Pages, {DAYS} days, "
        "6-hour syncs, tracemalloc peak above the baseline"
    )
    for engine in ("actor", "direct"):
        big, little = measure(engine, CONNECTIONS), measure(engine, small)
        per = big["peak"] / big["connections"]
        marginal = (big["peak"] - little["peak"]) / max(
            1, big["connections"] - little["connections"]
        )
        label = "actor engine (scenario)" if engine == "actor" else "direct engine (population)"
        print(
            f"{label}: {per / 1024:,.2f} KiB per connection "
            f"(peak {big['peak'] / 2**20:,.2f} MiB for {int(big['connections'])}; "
            f"marginal {marginal / 1024:,.2f} KiB per connection between "
            f"{int(little['connections'])} and {int(big['connections'])}; "
            f"{big['wall']:.1f} s traced)"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        run = actor if sys.argv[2] == "actor" else direct
        print(json.dumps(run(int(sys.argv[3]))))
        sys.exit(0)
    sys.exit(main())
