"""Benchmark: one 365-day Facebook scenario, wall time beyond process start.

Prints the import time of the package and its dependencies, then the best and median
wall time of loading and replaying bench/facebook_365d.yaml, with syncs elided where
their answer cannot change (the default) and with every sync a real request.
Targets: under 1 s beyond process start (issue 2); no more than 1.3 times the bare import
time of the package's dependencies (issue 7), measured in fresh processes.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

t0 = time.perf_counter()
from conntrack.scenario import load_file  # noqa: E402
from conntrack.scenario._runner import run_scenario  # noqa: E402

IMPORT_S = time.perf_counter() - t0
HERE = Path(__file__).parent


def measure(exact: bool, repeat: int = 5) -> tuple[list[float], object]:
    """Wall times of ``repeat`` load+replay runs; the first one is cold (faker locales, …)."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        [scenario] = load_file(HERE / "facebook_365d.yaml")
        result = run_scenario(scenario, exact_sync=exact)
        times.append(time.perf_counter() - t)
        assert result.passed, "the benchmark scenario must pass"
    return times, result


DEPENDENCIES = (
    "trio, transitions, quart, quart_trio, hypercorn, httpx, faker, yaml, jsonschema, rich, "
    "jinja2, tzdata"
)


def bare_import() -> float:
    """Best of 3 fresh processes importing the dependencies alone (not conntrack)."""
    code = (
        "import time; t = time.perf_counter(); "
        f"import {DEPENDENCIES}; print(time.perf_counter() - t)"
    )
    runs = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(3)
    ]
    return min(runs)


def main() -> int:
    print(f"import conntrack + dependencies: {IMPORT_S:.3f} s")
    deps = bare_import()
    print(f"bare import of the dependencies (fresh process, best of 3): {deps:.3f} s")
    for exact in (False, True):
        times, result = measure(exact)
        stats = result.stats  # type: ignore[attr-defined]
        label = "every sync a request" if exact else "healthy syncs elided"
        print(
            f"365-day Facebook scenario ({label}): best {min(times):.3f} s, "
            f"median {statistics.median(times):.3f} s, first (cold) {times[0]:.3f} s, "
            f"{stats.requests} HTTP requests, "
            f"{stats.timers_fired} wake-ups"
        )
        if not exact:
            ratio = min(times) / deps
            verdict = "met" if ratio <= 1.3 else "NOT met"
            print(f"  = {ratio:.2f} x the dependencies' import time (target <= 1.3: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
