"""Benchmark: the scenario library through the reference product, against the in-process run.

Three ways to run every scenario of the library, each timed over the whole library
(loading excluded, same process):

- **in-process**: :func:`conntrack.scenario._runner.run_scenario`, one ``trio.run`` on a
  mock clock, the fakes in-process (the fast default);
- **reference product, in process**: the harness
  (:func:`conntrack.product._harness.run_product_scenario`) walks the scenario's instants
  of interest against :class:`~conntrack.product._model.ModelProduct` as a Python object
  (the fakes over an in-process transport, emails through an outbox);
- **reference product, subprocess**: the same through ``examples/reference/product.yaml``
  (``conntrack reference-product`` started once per scenario, the fakes over loopback
  HTTP, emails over SMTP): what an outside product costs.

It prints the wall time of each, the ratio to the in-process run, and how many verdicts
agree. Run it from the repository's virtualenv (the product file starts ``python``).

Environment:
  BENCH_PRODUCT_PATH     what to run (default: the repository's scenarios/)
  BENCH_PRODUCT_PROCESS  how many scenarios to run through the subprocess (default: all;
                         0 skips it)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from conntrack.product._harness import run_product_scenario
from conntrack.product._model import model_product
from conntrack.scenario import load_paths
from conntrack.scenario._runner import RunResult, run_scenario

ROOT = Path(__file__).resolve().parent.parent
PATH = os.environ.get("BENCH_PRODUCT_PATH", str(ROOT / "scenarios"))
PRODUCT_FILE = ROOT / "examples" / "reference" / "product.yaml"


def _verdict(result: RunResult) -> str:
    if getattr(result, "error", None):
        return "error"
    if getattr(result, "skipped", None):
        return "skipped"
    return "pass" if result.passed else "fail"


def main() -> int:
    scenarios = load_paths([PATH])
    limit = int(os.environ.get("BENCH_PRODUCT_PROCESS", str(len(scenarios))))
    print(f"{len(scenarios)} scenarios from {PATH}")

    t = time.perf_counter()
    base = {s.name: _verdict(run_scenario(s)) for s in scenarios}
    in_process = time.perf_counter() - t
    print(f"in-process run:                 {in_process:7.2f} s  (1.0x)")

    t = time.perf_counter()
    model = {s.name: _verdict(run_product_scenario(s, product=model_product)) for s in scenarios}
    wall = time.perf_counter() - t
    same = sum(model[n] == v for n, v in base.items())
    print(
        f"reference product, in process:  {wall:7.2f} s  ({wall / in_process:.1f}x), "
        f"{same}/{len(base)} verdicts as in-process"
    )

    if limit > 0:
        chosen = scenarios[:limit]
        t = time.perf_counter()
        served = {s.name: _verdict(run_product_scenario(s, PRODUCT_FILE)) for s in chosen}
        wall = time.perf_counter() - t
        same = sum(served[n] == base[n] for n in served)
        share = sum(1 for _ in chosen) / len(scenarios)
        print(
            f"reference product, subprocess:  {wall:7.2f} s  "
            f"({wall / (in_process * share):.1f}x) for {len(chosen)} scenarios, "
            f"{wall / len(chosen):.2f} s each, {same}/{len(chosen)} verdicts as in-process"
        )
    differ = sorted(n for n, v in base.items() if model[n] != v)
    if differ:
        print("verdicts that differ (in process): " + ", ".join(differ), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
