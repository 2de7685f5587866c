"""Benchmark: the whole scenario library through the CLI, as QA runs it.

Runs ``conntrack run scenarios/`` as a subprocess (process start, imports, loading and
every replay: what a person waits for) several times and prints the best and median wall
time, scenarios per second, and the slowest scenarios by their own replay time.

Environment:
  BENCH_LIBRARY_PATH    what to run (default: the repository's scenarios/)
  BENCH_LIBRARY_REPEAT  how many runs (default 3; the figure is the best of them)
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH = os.environ.get("BENCH_LIBRARY_PATH", str(ROOT / "scenarios"))
REPEAT = int(os.environ.get("BENCH_LIBRARY_REPEAT", "3"))
EXE = Path(sys.executable).parent / "conntrack"

# "PASS  file  name  (120d in 0.41 s, 11/11 expectations)"
LINE = re.compile(r"^(PASS|FAIL)\s+(\S+)\s.*\((\S+) in ([0-9.]+) s,")
TOTAL = re.compile(r"^(\d+) passed, (\d+) failed", re.MULTILINE)


def run_once() -> tuple[float, str, int]:
    t = time.perf_counter()
    proc = subprocess.run(
        [str(EXE), "run", PATH, "--color", "never"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        cwd=ROOT,
    )
    return time.perf_counter() - t, proc.stdout, proc.returncode


def main() -> int:
    runs: list[tuple[float, str, int]] = []
    for _ in range(max(REPEAT, 1)):
        wall, out, code = run_once()
        if code == 2:
            print(f"conntrack run {PATH}: invalid input (exit 2)\n{out}", file=sys.stderr)
            return 1
        runs.append((wall, out, code))
    walls = [w for w, _, _ in runs]
    best, out, code = min(runs)
    total = TOTAL.search(out)
    if total is None:
        print(f"no summary line in the output of conntrack run:\n{out}", file=sys.stderr)
        return 1
    passed, failed = int(total.group(1)), int(total.group(2))
    count = passed + failed
    replays = [
        (float(m.group(4)), m.group(2), m.group(3)) for m in map(LINE.match, out.splitlines()) if m
    ]
    print(
        f"scenario library ({count} scenarios, {passed} passed, {failed} failed) via "
        f"'conntrack run': best {best:.2f} s, median {statistics.median(walls):.2f} s "
        f"of {REPEAT} runs"
    )
    print(f"scenario library: {count / best:.1f} scenarios/s (best run, process start included)")
    if replays:
        in_replay = sum(t for t, _, _ in replays)
        print(
            f"scenario library: {in_replay:.2f} s in replays (best run), "
            f"{best - in_replay:.2f} s in process start, imports and loading"
        )
        slowest = sorted(replays, reverse=True)[:3]
        print(
            "scenario library: slowest "
            + ", ".join(f"{Path(f).name} ({span} in {t:.2f} s)" for t, f, span in slowest)
        )
    if failed:
        print(f"note: {failed} scenario(s) failed in the best run (exit {code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
