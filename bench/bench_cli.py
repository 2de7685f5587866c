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

Bytecode: the dependencies' modules are compiled when they are installed; conntrack's and
the fakes' are compiled here first (``compileall``, as pip does for an installed wheel),
so that no timed process compiles a module from source. Without it, a checkout run with
``PYTHONDONTWRITEBYTECODE=1`` (as on this machine) recompiles every module edited since
its ``__pycache__`` was written, in every process: ~50 modules, ~50 ms.

The command freezes what it imported (``gc.freeze``: the collector no longer walks those
objects, neither at full collections nor at exit, where it cost ~0.13 s); the ratio is
also printed against a bare import that does the same, for a like-for-like reading.

Then one more set of processes says where the run's time goes (best of each part, CPU):
the dependencies' import, conntrack's own imports, loading the scenario, the replay (the
first in the process: it also builds the fakes' app and renders the first templates),
and a second replay of the same scenario (what the first-time work costs is the
difference).

Environment:
  BENCH_CLI_REPEAT  how many runs of each (default 7)
"""

from __future__ import annotations

import datetime
import json
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

#: Where the run's time goes, in one process: CPU seconds after each part.
PARTS = f"""
import json, resource, sys
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
marks = [cpu()]
import {DEPENDENCIES}
marks.append(cpu())
from conntrack.cli import main
from conntrack.scenario import load_paths
from conntrack.scenario._runner import run_scenario
from conntrack._console import make_console, print_result
from conntrack._report import summary
marks.append(cpu())
(scenario,) = load_paths([{str(HERE / "facebook_365d.yaml")!r}])
marks.append(cpu())
run_scenario(scenario)
marks.append(cpu())
run_scenario(scenario)
marks.append(cpu())
print(json.dumps([b - a for a, b in zip(marks, marks[1:])]))
"""
PART_NAMES = (
    "import of the dependencies",
    "conntrack's own imports",
    "loading the scenario",
    "first replay (builds the app)",
    "second replay (warm)",
)

#: What the ``conntrack`` console script does before it calls ``main()``.
COMMAND = "import sys; from conntrack.cli import main; sys.argv = ['conntrack']"

CASES = {
    "bare import": ["-c", f"{COUNT}; import {DEPENDENCIES}"],
    "bare import, gc.freeze()": ["-c", f"{COUNT}; import {DEPENDENCIES}, gc; gc.freeze()"],
    "conntrack --help": ["-c", f"{COUNT}; {COMMAND}; sys.argv[1:] = ['--help']; main()"],
    "conntrack run --help": [
        "-c",
        f"{COUNT}; {COMMAND}; sys.argv[1:] = ['run', '--help']; main()",
    ],
    "conntrack run (365 days)": [
        "-c",
        f"{COUNT}; {COMMAND}; sys.argv[1:] = ['run', {str(HERE / 'facebook_365d.yaml')!r}]; "
        "sys.exit(main())",
    ],
}
"""Each case: the ``python`` arguments (``-c``: the same interpreter start and the same
call as the ``conntrack`` script, ``sys.exit(main())`` with the arguments in
``sys.argv``, without the console-script shim's own imports)."""


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


def compile_sources() -> None:
    """Write current bytecode for conntrack and the fakes (see the module docstring)."""
    import compileall

    import conntrack
    import fake_providers

    for package in (conntrack, fake_providers):
        assert package.__file__ is not None
        compileall.compile_dir(Path(package.__file__).parent, quiet=2)


def parts() -> list[float]:
    """CPU seconds of each of :data:`PART_NAMES` in one fresh process."""
    done = subprocess.run([sys.executable, "-c", PARTS], capture_output=True, text=True, check=True)
    figures: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    compile_sources()
    load = os.getloadavg()
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in CASES}
    split: list[list[float]] = []
    for _ in range(REPEAT):
        for name, args in CASES.items():
            results[name].append(once(args))
        split.append(parts())
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    after = os.getloadavg()
    print(
        f"{now}, {os.cpu_count()} cores, load average {load[0]:.2f} before, "
        f"{after[0]:.2f} after; best of {REPEAT}, interleaved; conntrack's and the fakes' "
        "bytecode compiled first (compileall)"
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
    frozen_cpu = best["bare import, gc.freeze()"][0]
    print(
        f"against a bare import that also freezes its objects (as the command does after "
        f"its imports, cli._freeze_imports): {run_cpu / frozen_cpu:.2f} x"
    )
    print(f"where the run's time goes (CPU, best of {REPEAT} for each part, one process):")
    for i, name in enumerate(PART_NAMES):
        print(f"  {name:32} {min(s[i] for s in split):.3f} s")
    print(f"  (the run's budget at 1.3 x the bare import: {1.3 * bare_cpu:.3f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
