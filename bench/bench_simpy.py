"""Benchmark: conntrack's direct population engine against a SimPy model of the same
population (issue 15), at 10 000, 100 000 and 1 000 000 connections x 365 days.

The SimPy model is ``bench/_simpy_model.py``: the same generated companies and
connections (conntrack's own generator), the same events, the same daily series; it
wakes a connection only when something can change it (a SimPy timeout per event, never
one per sync). See its docstring for what "the same work" means and how it uses SimPy.

For each size (connections, about: ``companies`` = size / 2.5, the default spec's mean;
the exact count comes from the result), every engine runs in a fresh Python process,
interleaved (conntrack, SimPy, conntrack, SimPy...), and the best of the repeats is kept
(by CPU time). Each run is the whole job: generating the companies, simulating them and
building the series, after the imports and a one-company warm-up (profiles, policies).
Printed for each engine: wall and CPU time, events, microseconds of CPU per event,
connection-days per second, peak resident memory (``ru_maxrss`` of its process); then the
ratio of conntrack's throughput to SimPy's (CPU and wall) and whether the two series
are byte-identical (compared at every size, by a hash of the CSV).

Events are counted the same way for both: one event is one wake-up of one connection (an
agenda item of the direct engine, a ``Timeout`` of the SimPy model: a connect, a
disruption, a leave, the start of the ``expiring`` window, a reminder, an expiry, the
sync that first sees a dead token, a reconnect attempt, an abandon), stale ones
included, within the run. The SimPy model counts them as it schedules them; the direct
engine's are counted in a separate, untimed run at the smallest size (its agenda pushes),
and must be equal there.

SimPy layouts (BENCH_SIMPY_LAYOUTS): ``company`` runs each company in an Environment of
its own, as the direct engine runs each connection on its own: the stronger yardstick,
and the one the target is judged on; ``world`` puts the whole base in one Environment,
as a SimPy model of a population is most often written (its heap and memory grow with
the base: at 100 000 connections it already takes three times the CPU of ``company`` and
357 MiB, so by default it runs up to 100 000 connections only). Which base
(BENCH_SIMPY_MODEL): ``fresh`` (the default, as bench_population.py's: every connection
connects on day one, no churn, no arrivals, only emails move people to reconnect) or
``steady`` (the default model since issue 14: a steady base whose past is played too,
churn, arrivals, unprompted reconnects, abandons).

Target (issue 15): conntrack's throughput >= SimPy's at every size (ratio >= 1.0x).

Environment:
  BENCH_SIMPY_SIZES    connection counts (default 10000,100000,1000000)
  BENCH_SIMPY_DAYS     days (default 365)
  BENCH_SIMPY_REPEAT   timed runs per engine and size, the best is kept (default 3, and 1
                       at 1 000 000 connections and above unless this is set)
  BENCH_SIMPY_LAYOUTS  SimPy layouts (default company,world; the target uses company)
  BENCH_SIMPY_WORLD_UPTO  the largest size the world layout runs at (default 100000)
  BENCH_SIMPY_MODEL    fresh (default) or steady, see above

``python bench/bench_simpy.py --profile SIZE`` prints cProfile's view of both engines
(company layout) at SIZE connections instead: where each spends its time per event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PER_COMPANY = 2.5  # the default spec's mean connections per company: (1 + 4) / 2
TARGET_RATIO = 1.0
HERE = Path(__file__).resolve().parent


def _env_ints(name: str, default: str) -> list[int]:
    raw = os.environ.get(name, default)
    return [int(x) for x in raw.replace(" ", "").replace("_", "").split(",") if x]


SIZES = _env_ints("BENCH_SIMPY_SIZES", "10000,100000,1000000")
DAYS = int(os.environ.get("BENCH_SIMPY_DAYS", "365"))
REPEAT_SET = "BENCH_SIMPY_REPEAT" in os.environ
REPEAT = max(1, int(os.environ.get("BENCH_SIMPY_REPEAT", "3")))
LAYOUTS = [x for x in os.environ.get("BENCH_SIMPY_LAYOUTS", "company,world").split(",") if x]
WORLD_UPTO = int(os.environ.get("BENCH_SIMPY_WORLD_UPTO", "100000"))
MODEL = os.environ.get("BENCH_SIMPY_MODEL", "fresh")
if MODEL not in ("fresh", "steady"):
    raise SystemExit(f"BENCH_SIMPY_MODEL must be fresh or steady, got {MODEL!r}")
if not LAYOUTS or any(x not in ("company", "world") for x in LAYOUTS):
    raise SystemExit(f"BENCH_SIMPY_LAYOUTS must be company and/or world, got {LAYOUTS!r}")

CONNTRACK = "conntrack"
ENGINES = [CONNTRACK, *(f"simpy-{layout}" for layout in LAYOUTS)]
LABELS = {CONNTRACK: "conntrack direct", "simpy-company": "SimPy (company)",
          "simpy-world": "SimPy (world)"}  # fmt: skip


def _spec(size: int) -> Any:
    from conntrack.population import PopulationSpec
    from conntrack.population._model import Abandon, Churn

    spec = PopulationSpec(
        companies=max(1, round(size / PER_COMPANY)), days=DAYS, sync_every=timedelta(hours=6)
    )
    if MODEL == "fresh":
        spec = dataclasses.replace(
            spec, day_one="fresh", churn=Churn(0.0, 0.0), unprompted=0.0,
            abandon=Abandon(chance=0.0),
        )  # fmt: skip
    return spec


def _maxrss() -> int:
    """Peak resident memory of this process in bytes (ru_maxrss: KiB on Linux)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def _rss_now() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def one(engine: str, size: int) -> dict[str, Any]:
    """One timed run of ``engine`` at ``size`` connections, in this (fresh) process."""
    from conntrack.population import PopulationSpec, run_population

    spec = _spec(size)
    if engine == CONNTRACK:

        def work() -> tuple[Any, int | None]:
            return run_population(spec), None

        run_population(PopulationSpec(companies=1, days=DAYS))  # warm-up
    else:
        sys.path.insert(0, str(HERE))
        from _simpy_model import run_simpy

        layout = engine.removeprefix("simpy-")

        def work() -> tuple[Any, int | None]:
            return run_simpy(spec, layout=layout)

        run_simpy(PopulationSpec(companies=1, days=DAYS))  # warm-up
    baseline = _rss_now()
    t, cpu = time.perf_counter(), time.process_time()
    series, events = work()
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    return {
        "engine": engine,
        "companies": spec.companies,
        "connections": series.connections,
        "wall": wall,
        "cpu": cpu,
        "events": events,
        "baseline_rss": baseline,
        "peak_rss": _maxrss(),
        "series": hashlib.sha256(series.to_csv().encode()).hexdigest(),
    }


def count_direct(size: int) -> int | None:
    """The direct engine's events at ``size``: its agenda pushes, counted through its
    ``heapq`` (``None`` if the engine no longer keeps its agenda that way)."""
    import heapq

    from conntrack.population import _direct, run_population

    if getattr(_direct, "heapq", None) is not heapq:
        return None
    pushes = 0

    class Counting:
        heappop = staticmethod(heapq.heappop)

        @staticmethod
        def heappush(heap: list[Any], item: Any) -> None:
            nonlocal pushes
            pushes += 1
            heapq.heappush(heap, item)

    _direct.heapq = Counting
    try:
        run_population(_spec(size))
    finally:
        _direct.heapq = heapq
    return pushes


def _child(*args: str) -> Any:
    """Run this file with ``args`` in a fresh interpreter; its last line, as JSON."""
    cmd = [sys.executable, __file__, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _line(r: dict[str, Any], events: int | None) -> str:
    conn_days = r["connections"] * DAYS
    per_event = f"{r['cpu'] / events * 1e6:.2f} µs/event" if events else "? µs/event"
    return (
        f"  {LABELS[r['engine']]:<17} wall {r['wall']:8.2f} s  CPU {r['cpu']:8.2f} s  "
        f"{events or 0:>12,} events  {per_event}  "
        f"{conn_days / r['cpu'] / 1e6:6.2f} M connection-days/s CPU "
        f"({conn_days / r['wall'] / 1e6:.2f} M wall)  "
        f"peak RSS {r['peak_rss'] / 2**20:,.0f} MiB (baseline {r['baseline_rss'] / 2**20:,.0f})"
    )


def main() -> int:
    try:
        import simpy
    except ImportError:
        raise SystemExit(
            "bench_simpy.py needs SimPy, a bench-only dependency: pip install -e '.[bench]' "
            "(make bench installs it)"
        ) from None

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"population ({MODEL} base), conntrack direct engine vs SimPy {simpy.__version__}, "
        f"{DAYS} days, 6-hour syncs; {now}, load average {_load()} ({os.cpu_count()} cores, "
        f"Python {platform.python_version()})"
    )
    verdicts: list[tuple[int, float | None]] = []
    counted: dict[int, int | None] = {}
    for size in SIZES:
        repeat = REPEAT if REPEAT_SET or size < 1_000_000 else 1
        engines = [e for e in ENGINES if e != "simpy-world" or size <= WORLD_UPTO]
        if len(engines) == 1:
            raise SystemExit(f"nothing to compare at {size:,}: BENCH_SIMPY_WORLD_UPTO")
        runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
        for _ in range(repeat):
            for engine in engines:
                runs[engine].append(_child("--one", engine, str(size)))
        best = {e: min(rs, key=lambda r: r["cpu"]) for e, rs in runs.items()}
        simpy_events = next((r["events"] for e, r in best.items() if e != CONNTRACK), None)
        if size == min(SIZES):
            counted[size] = _child("--count", str(size))
        direct_events = counted.get(size) or simpy_events
        ours = best[CONNTRACK]
        print(
            f"{ours['connections']:,} connections ({ours['companies']:,} companies) x {DAYS} "
            f"days, best of {repeat} (by CPU), load average now {_load()}:"
        )
        for engine in engines:
            r = best[engine]
            print(_line(r, direct_events if engine == CONNTRACK else r["events"]))
        if size in counted:
            n = counted[size]
            same = "the same" if n == simpy_events else f"NOT the same (SimPy {simpy_events:,})"
            print(
                f"  events: the direct engine's agenda pushes, counted apart, {n:,}: {same}"
                if n is not None
                else "  events: the direct engine's agenda can no longer be counted through "
                "its heapq; SimPy's count is used for both"
            )
        if engines != ENGINES:
            print(
                f"  SimPy (world): not run above {WORLD_UPTO:,} connections "
                "(BENCH_SIMPY_WORLD_UPTO): its time and memory grow faster than the base"
            )
        digests = {best[e]["series"] for e in engines}
        print(
            "  daily series: "
            + ("byte-identical" if len(digests) == 1 else "DIFFER between the engines")
            + f" (sha256 of the CSV {ours['series'][:12]}"
            + ("" if len(digests) == 1 else ", ".join(best[e]["series"][:12] for e in engines))
            + ")"
        )
        ratio: float | None = None
        for engine in engines[1:]:
            r = best[engine]
            cpu_ratio, wall_ratio = r["cpu"] / ours["cpu"], r["wall"] / ours["wall"]
            if engine == "simpy-company" or ratio is None:
                ratio = cpu_ratio
            print(
                f"  throughput conntrack / {LABELS[engine]}: {cpu_ratio:.2f}x by CPU, "
                f"{wall_ratio:.2f}x by wall"
            )
        verdicts.append((size, ratio))
    judged = "SimPy (company)" if "company" in LAYOUTS else "SimPy (world)"
    ok = all(r is not None and r >= TARGET_RATIO for _, r in verdicts)
    print(
        f"target: conntrack's throughput >= {judged}'s at every size: "
        f"{'HOLDS' if ok else 'MISSED'} ("
        + ", ".join(f"{s:,}: {r:.2f}x" if r is not None else f"{s:,}: ?" for s, r in verdicts)
        + f", by CPU); load average at the end {_load()}"
    )
    if DAYS != 365:
        print(f"note: this run simulated {DAYS} days, not 365")
    return 0


def profile(size: int) -> int:
    """cProfile of both engines at ``size`` (company layout): the top functions."""
    import cProfile
    import pstats

    from conntrack.population import PopulationSpec, run_population

    sys.path.insert(0, str(HERE))
    from _simpy_model import run_simpy

    spec = _spec(size)
    run_population(PopulationSpec(companies=1, days=DAYS))
    run_simpy(PopulationSpec(companies=1, days=DAYS))
    for name, job in (("conntrack direct", run_population), ("SimPy (company)", run_simpy)):
        prof = cProfile.Profile()
        prof.enable()
        job(spec)
        prof.disable()
        print(f"== {name}, {size:,} connections x {DAYS} days (cProfile, by own time)")
        pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(16)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2], int(sys.argv[3]))))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "--count":
        print(json.dumps(count_direct(int(sys.argv[2]))))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "--profile":
        sys.exit(profile(int(sys.argv[2])))
    if len(sys.argv) > 1:
        raise SystemExit(f"usage: {sys.argv[0]} [--profile SIZE] (sizes by BENCH_SIMPY_SIZES)")
    sys.exit(main())
