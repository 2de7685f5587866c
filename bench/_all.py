"""`make bench`: run every ``bench/bench_*.py`` and keep what they printed.

Each script runs in its own process, one after the other (a benchmark measured while
another runs measures the other); its lines are shown as they come and collected. When
every script has finished, the whole output goes to ``docs/bench/make-bench.txt`` under a
header that says when, on what machine and at which commit it was measured. The docs'
performance page (docs/performance.md) includes that file, so the figures the site shows
are the ones ``make bench`` wrote, not numbers copied by hand (issues 15 and 16). After a
run on a quiet machine, commit the file.

A script that fails stops the run (exit 1) and the output so far goes to
``make-bench.partial.txt`` beside it; the committed file is left as it was.

Environment:
  BENCH_ONLY   comma-separated script names to run (e.g. ``bench_cli,bench_server``);
               the output then goes to ``make-bench.partial.txt`` as well, since it is
               not a whole run
  BENCH_OUT    where a whole run's output goes (default docs/bench/make-bench.txt)
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("BENCH_OUT", ROOT / "docs" / "bench" / "make-bench.txt"))


def _machine() -> str:
    """One line about the machine: cores, memory, CPU model, Python."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        memory = "? GiB"
    return (
        f"{os.cpu_count()} cores{', ' + cpu if cpu else ''}, {memory}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def _commit() -> str:
    """The commit measured, and whether the tree had changes on top of it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown (no git)"
    return f"{head}{' with uncommitted changes' if dirty else ''}" if head else "unknown"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    only = {n.strip().removesuffix(".py") for n in os.environ.get("BENCH_ONLY", "").split(",")}
    only.discard("")
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    if only:
        unknown = only - {s.stem for s in scripts}
        if unknown:
            names = ", ".join(s.stem for s in scripts)
            print(f"BENCH_ONLY: no such bench {', '.join(sorted(unknown))}; there are: {names}")
            return 2
        scripts = [s for s in scripts if s.stem in only]
    started = time.monotonic()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# make bench, {now}",
        f"# machine: {_machine()}",
        f"# commit: {_commit()}",
        f"# load average at the start: {_load()}",
        "",
    ]
    for line in lines:
        print(line)
    failed = None
    for script in scripts:
        head = f"== bench/{script.name}"
        print(head, flush=True)
        lines.append(head)
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
        if proc.wait() != 0:
            failed = script.name
            break
    took = time.monotonic() - started
    outcome = f"stopped: {failed} failed" if failed else "done"
    tail = f"# {outcome} after {took / 60:.1f} min; load average at the end: {_load()}"
    print(tail)
    lines.append(tail)
    target = OUT.with_name("make-bench.partial.txt") if failed or only else OUT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"# written to {os.path.relpath(target, ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
