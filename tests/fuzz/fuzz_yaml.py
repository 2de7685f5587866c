"""``make fuzz``: a long fuzz of every YAML reader (scenarios, policies, population
models, server configs, product files) with the hostile shapes of ``hostile.py``.

Every document must load, or be refused with ``file:line`` problems, in at most
``--slow`` CPU seconds (a wall-clock alarm of ``--hang`` seconds catches a hang), and
the process's peak RSS must stay under ``--max-rss`` MB. A sample of the scenarios that
load is also run (``--run-every``), for the values a loader accepts but a run cannot
take. Prints how many documents ran, per reader and shape, and every problem with the
seed and index that regenerate its document (``--only INDEX``), which is also saved
under ``--save``. Exit status 1 on any problem.

    python tests/fuzz/fuzz_yaml.py [--count 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile

from conntrack._exceptions import InputError
from conntrack.scenario import load_file
from conntrack.scenario._runner import run_scenario


class Hang(Exception):
    """The wall-clock alarm went off while a document was loading."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_loaded(path: Path) -> str | None:
    """Run a scenario that loaded: it must pass, fail its expectations or refuse input
    with a message, never raise anything else."""
    try:
        for scenario in load_file(path):
            run_scenario(scenario)
    except InputError:
        return None
    except Exception:
        return traceback.format_exc()
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="documents (default 100000)")
    parser.add_argument("--seed", default="1", help="seed of the whole run (default 1)")
    parser.add_argument("--only", type=int, help="just the document of this index")
    parser.add_argument("--slow", type=float, default=5.0, help="CPU seconds a document may take")
    parser.add_argument("--hang", type=int, default=60, help="wall seconds before a hang")
    parser.add_argument("--max-rss", type=float, default=200.0, help="peak RSS allowed (MB)")
    parser.add_argument("--run-every", type=int, default=200, help="run 1 in N loaded scenarios")
    parser.add_argument(
        "--save",
        default=str(Path(tempfile.gettempdir()) / "conntrack-fuzz-failures"),
        help="folder for failing documents (default: in the temporary folder)",
    )
    args = parser.parse_args(argv)

    signal.signal(signal.SIGALRM, _alarm)
    work = Path(tempfile.mkdtemp(prefix="conntrack-fuzz-"))
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    problems: list[str] = []
    slowest = (0.0, "")
    runs = 0
    indices = [args.only] if args.only is not None else range(args.count)
    t0 = time.perf_counter()
    for i in indices:
        rng = random.Random(f"{args.seed}:{i}")
        reader, shape, content = hostile.document(rng)
        counts[reader, shape] += 1
        path = work / f"{i}.yaml"
        path.write_bytes(content)
        cpu = time.process_time()
        signal.alarm(args.hang)
        try:
            found = hostile.check(reader, path)
            if found is None and reader == "scenario" and rng.randrange(args.run_every) == 0:
                runs += 1
                found = run_loaded(path)
        except Hang:
            found = f"no answer after {args.hang} s"
        finally:
            signal.alarm(0)
        spent = time.process_time() - cpu
        if spent > slowest[0]:
            slowest = (spent, f"#{i} {reader}/{shape}")
        if found is None and spent > args.slow:
            found = f"took {spent:.1f} CPU seconds (at most {args.slow})"
        if found is None and peak_rss_mb() > args.max_rss:
            found = f"peak RSS {peak_rss_mb():.0f} MB (at most {args.max_rss:.0f})"
        if found is not None:
            saved = Path(args.save) / f"{args.seed}-{i}-{reader.replace(' ', '_')}-{shape}.yaml"
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_bytes(content)
            problems.append(f"#{i} {reader}/{shape} (saved as {saved}):\n{found}")
            print(problems[-1], file=sys.stderr, flush=True)
        path.unlink()
        if args.only is None and (i + 1) % 10_000 == 0:
            print(
                f"  {i + 1} documents, {len(problems)} problem(s), "
                f"{time.perf_counter() - t0:.0f} s, peak RSS {peak_rss_mb():.0f} MB",
                flush=True,
            )
    wall = time.perf_counter() - t0

    total = sum(counts.values())
    print(f"\n{total} documents across {len(hostile.READERS)} readers in {wall:.0f} s "
          f"(seed {args.seed}); {runs} loaded scenarios also run")  # fmt: skip
    for reader in hostile.READERS:
        per = {s: n for (r, s), n in counts.items() if r == reader}
        shapes = ", ".join(f"{s} {n}" for s, n in sorted(per.items()))
        print(f"  {reader}: {sum(per.values())} ({shapes})")
    print(f"slowest document: {slowest[0]:.2f} CPU s ({slowest[1]}); "
          f"peak RSS {peak_rss_mb():.0f} MB (at most {args.max_rss:.0f})")  # fmt: skip
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
