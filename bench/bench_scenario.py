"""Benchmark: one 365-day Facebook scenario, wall time beyond process start.

Prints the import time of the package and its dependencies, then the best and median
wall time of loading and replaying bench/facebook_365d.yaml, with syncs elided where
their answer cannot change (the default) and with every sync a real request.
Target (issue 2): under 1 s beyond process start.
"""

from __future__ import annotations

import statistics
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


def main() -> int:
    print(f"import conntrack + dependencies: {IMPORT_S:.3f} s")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
