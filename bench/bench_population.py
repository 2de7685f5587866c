"""Benchmark: population runs in direct mode, a year of 10 000 and 100 000 connections.

For each size (connections, about: ``companies`` = size / 2.5, the default spec's mean;
the exact count comes from the result) and each number of worker processes, one fresh
Python process runs ``run_sharded(PopulationSpec(companies, days=365, sync_every=6h))``
and reports its wall time (and CPU time: on a shared machine the wall time also counts
waiting for a core), connection-days per second and peak resident memory
(``ru_maxrss``: its own and its largest worker's). Memory per connection is
(peak during the run - baseline before it) / connections; the baseline is taken after the
imports and a one-company warm-up, so one-off costs (profiles, policies) are not charged
to connections.

tracemalloc's peak of Python allocations is measured in a separate run (one worker),
because tracing every allocation slows the engine about tenfold: by default at the
smallest size only (BENCH_POP_TRACE_SIZES to change that).

Targets (issue 7): 100 000 connections x 365 days in <= 60 s and <= 3 KiB per connection
on the 2-core machine, in direct mode.

Which base (BENCH_POP_MODEL): ``fresh`` (the default) is the workload these figures were
always measured on — every connection connects on day one, no churn, no arrivals, and
only emails move people to reconnect (``unprompted`` 0, nothing abandoned) — so they
compare across versions of the engine; ``steady`` is the default model since issue 14
(a steady base whose past before day one is played too, churn, arrivals, unprompted
reconnects, dead connections abandoned): it does more work for the same days.

Environment:
  BENCH_POP_SIZES        connection counts (default 10000,100000)
  BENCH_POP_WORKERS      worker counts (default 1,2)
  BENCH_POP_DAYS         days (default 365)
  BENCH_POP_REPEAT       timed runs per configuration, the best is kept (default 1)
  BENCH_POP_TRACE_SIZES  sizes also run under tracemalloc (default: the smallest; '' none)
  BENCH_POP_MODEL        fresh (default) or steady, see above
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta

PER_COMPANY = 2.5  # the default spec's mean connections per company: (1 + 4) / 2
TARGET_SECONDS = 60.0
TARGET_BYTES = 3 * 1024
TARGET_CONNECTIONS = 100_000


def _env_ints(name: str, default: str) -> list[int]:
    raw = os.environ.get(name, default)
    return [int(x) for x in raw.replace(" ", "").split(",") if x]


SIZES = _env_ints("BENCH_POP_SIZES", "10000,100000")
WORKERS = _env_ints("BENCH_POP_WORKERS", "1,2")
DAYS = int(os.environ.get("BENCH_POP_DAYS", "365"))
REPEAT = max(1, int(os.environ.get("BENCH_POP_REPEAT", "1")))
TRACE_SIZES = _env_ints("BENCH_POP_TRACE_SIZES", str(min(SIZES)))
MODEL = os.environ.get("BENCH_POP_MODEL", "fresh")
if MODEL not in ("fresh", "steady"):
    raise SystemExit(f"BENCH_POP_MODEL must be fresh or steady, got {MODEL!r}")


def _rss_now() -> int:
    """Resident memory of this process now, in bytes (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _maxrss(who: int) -> int:
    """Peak resident memory in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(who).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def one(size: int, workers: int, trace: bool) -> dict[str, float]:
    """One configuration, in this (fresh) process."""
    import tracemalloc

    from conntrack.population import PopulationSpec, run_population, run_sharded
    from conntrack.population._model import Abandon, Churn

    companies = max(1, round(size / PER_COMPANY))
    spec = PopulationSpec(companies=companies, days=DAYS, sync_every=timedelta(hours=6))
    if MODEL == "fresh":
        spec = dataclasses.replace(
            spec,
            day_one="fresh",
            churn=Churn(0.0, 0.0),
            unprompted=0.0,
            abandon=Abandon(chance=0.0),
        )
    run_population(PopulationSpec(companies=1, days=DAYS))  # warm-up: profiles, policies
    baseline_rss = _rss_now()
    if trace:
        tracemalloc.start()
        baseline_py = tracemalloc.get_traced_memory()[0]
    t, cpu = time.perf_counter(), _cpu()
    series = run_sharded(spec, workers=workers)
    wall, cpu = time.perf_counter() - t, _cpu() - cpu
    out = {
        "companies": companies,
        "connections": series.connections,
        "wall": wall,
        "cpu": cpu,
        "baseline_rss": baseline_rss,
        "peak_rss": _maxrss(resource.RUSAGE_SELF),
        "peak_rss_worker": _maxrss(resource.RUSAGE_CHILDREN) if workers > 1 else 0,
    }
    if trace:
        out["traced_peak"] = tracemalloc.get_traced_memory()[1] - baseline_py
        tracemalloc.stop()
    return out


def measure(size: int, workers: int, trace: bool = False) -> dict[str, float]:
    """:func:`one` in a fresh interpreter, so that ru_maxrss is this run's alone."""
    args = [sys.executable, __file__, "--one", str(size), str(workers)]
    proc = subprocess.run(
        [*args, "--trace"] if trace else args, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _kib(n: float) -> str:
    return f"{n / 1024:,.2f} KiB"


def main() -> int:
    print(
        f"population ({MODEL} base), direct engine, {DAYS} days, 6-hour syncs, best of {REPEAT} "
        f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    verdict_time: list[tuple[int, float, int]] = []
    verdict_mem: list[tuple[str, float]] = []
    for size in SIZES:
        for workers in WORKERS:
            runs = [measure(size, workers) for _ in range(REPEAT)]
            r = min(runs, key=lambda x: x["wall"])
            conns = int(r["connections"])
            rate = conns * DAYS / r["wall"]
            peak = max(r["peak_rss"], r["peak_rss_worker"])
            per_conn = (peak - r["baseline_rss"]) / conns
            print(
                f"population {conns:,} connections ({int(r['companies']):,} companies) x {DAYS} "
                f"days, {workers} worker{'s' if workers > 1 else ''}: {r['wall']:.2f} s, "
                f"{rate:,.0f} connection-days/s (CPU {r['cpu']:.2f} s, "
                f"{r['cpu'] / conns * 1e6:.1f} µs of CPU a connection)"
            )
            worker = (
                f", largest worker {r['peak_rss_worker'] / 2**20:,.1f} MiB" if workers > 1 else ""
            )
            print(
                f"population {conns:,} connections, {workers} worker"
                f"{'s' if workers > 1 else ''}: peak RSS {r['peak_rss'] / 2**20:,.1f} MiB"
                f"{worker} (baseline {r['baseline_rss'] / 2**20:,.1f} MiB): "
                f"{_kib(per_conn)} per connection"
            )
            if size >= TARGET_CONNECTIONS:
                verdict_time.append((workers, r["wall"], conns))
                verdict_mem.append((f"RSS, {workers} worker(s), {conns:,} connections", per_conn))
        if size in TRACE_SIZES:
            r = measure(size, 1, trace=True)
            conns = int(r["connections"])
            per_conn = r["traced_peak"] / conns
            print(
                f"population {conns:,} connections, 1 worker, under tracemalloc "
                f"({r['wall']:.1f} s traced): peak of Python allocations "
                f"{r['traced_peak'] / 2**20:,.2f} MiB above the baseline, "
                f"{_kib(per_conn)} per connection"
            )
            verdict_mem.append((f"tracemalloc, {conns:,} connections", per_conn))
    if verdict_time:
        best_workers, best_wall, conns = min(verdict_time, key=lambda x: x[1])
        # The target is for 100 000 connections: scale the measured run to that count.
        scaled = best_wall * TARGET_CONNECTIONS / conns
        ok = scaled <= TARGET_SECONDS
        print(
            f"target 100,000 connections x 365 days <= {TARGET_SECONDS:.0f} s: "
            f"{'HOLDS' if ok else 'MISSED'} ({scaled:.1f} s scaled to 100,000, "
            f"best with {best_workers} worker(s); "
            + ", ".join(f"{w} worker(s) {t:.1f} s" for w, t, _ in verdict_time)
            + ")"
        )
        if DAYS != 365:
            print(f"note: this run simulated {DAYS} days, not 365")
    else:
        print(f"target 100,000 connections x 365 days: not measured (sizes {SIZES})")
    if verdict_mem:
        worst = max(v for _, v in verdict_mem)
        ok = worst <= TARGET_BYTES
        print(
            f"target <= 3 KiB per connection: {'HOLDS' if ok else 'MISSED'} ("
            + "; ".join(f"{what}: {_kib(v)}" for what, v in verdict_mem)
            + ")"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--one":
        print(json.dumps(one(int(sys.argv[2]), int(sys.argv[3]), "--trace" in sys.argv)))
        sys.exit(0)
    sys.exit(main())
