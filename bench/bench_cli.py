"""Benchmark: one 365-day scenario as a whole CLI process, against the bare import of the
dependencies, and ``conntrack --help``.

Each figure is a fresh process, run BENCH_CLI_REPEAT times (default 7) interleaved
(bare import, ``--help``, ``run --help``, the scenario; then again), so that a machine
loaded by other work slows all of them alike. Prints the best CPU time (user + system
of the child, from ``wait4``) and the best wall time of each, the ratio of the scenario
to the bare import (target: <= 1.3, issue 15), the modules each process imported, the
date and the load average.

The bare import is what a run cannot avoid: ``python -c 'import trio, quart, quart_trio,
transitions, httpx, yaml, faker, hypercorn'`` (the figure issue 15 compares against).

Environment:
  BENCH_CLI_REPEAT  how many runs of each (default 7)
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

REPEAT = int(os.environ.get("BENCH_CLI_REPEAT", "7"))
HERE = Path(__file__).parent
DEPENDENCIES = "trio, quart, quart_trio, transitions, httpx, yaml, faker, hypercorn"
#: How many modules the process holds once done (printed to stderr, so it is not timed
#: apart from one line at exit).
COUNT = "import atexit, sys; atexit.register(lambda: print(len(sys.modules), file=sys.stderr))"

CASES = {
    "bare import": ["-c", f"{COUNT}; import {DEPENDENCIES}"],
    "conntrack --help": ["-c", f"{COUNT}; from conntrack.cli import main; main(['--help'])"],
    "conntrack run --help": [
        "-c",
        f"{COUNT}; from conntrack.cli import main; main(['run', '--help'])",
    ],
    "conntrack run (365 days)": [
        "-c",
        f"{COUNT}; import sys; from conntrack.cli import main; "
        f"sys.exit(main(['run', {str(HERE / 'facebook_365d.yaml')!r}]))",
    ],
}
"""Each case: the ``python`` arguments (``-c``: the same interpreter start as the
``conntrack`` script, without the console-script shim's own imports)."""


def once(args: list[str]) -> tuple[float, float, int]:
    """CPU seconds (user + system), wall seconds and modules of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0,):
        raise SystemExit(f"{args} exited {proc.returncode}: {err}")
    return usage.ru_utime + usage.ru_stime, wall, int(err.strip().splitlines()[-1])


def main() -> int:
    load = os.getloadavg()
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in CASES}
    for _ in range(REPEAT):
        for name, args in CASES.items():
            results[name].append(once(args))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    after = os.getloadavg()
    print(
        f"{now}, {os.cpu_count()} cores, load average {load[0]:.2f} before, "
        f"{after[0]:.2f} after; best of {REPEAT}, interleaved"
    )
    best = {}
    for name, runs in results.items():
        cpu = min(r[0] for r in runs)
        wall = min(r[1] for r in runs)
        best[name] = (cpu, wall)
        print(f"{name:26} CPU {cpu:.3f} s  wall {wall:.3f} s  {runs[0][2]} modules")
    bare_cpu, bare_wall = best["bare import"]
    run_cpu, run_wall = best["conntrack run (365 days)"]
    ratio = run_cpu / bare_cpu
    verdict = "met" if ratio <= 1.3 else "NOT met"
    print(
        f"365-day scenario as a process = {ratio:.2f} x the bare import in CPU time "
        f"({run_wall / bare_wall:.2f} x in wall time); target <= 1.3: {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
