"""Population runs: a seeded customer base living for a while under a disruption model
and a user-behaviour model; the output is a daily series (see ``conntrack population``)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable

from .._policy import PolicySet, default_policy
from ._generate import Company, company, names
from ._model import PopulationError, PopulationSpec, load_population
from ._series import Series

TRANSPORTS = ("direct", "asgi")


def run_population(
    spec: PopulationSpec,
    *,
    transport: str = "direct",
    policy: PolicySet | None = None,
    companies: Iterable[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Series:
    """Simulate the companies (default: all) and return their daily series."""
    simulate: Callable[[PopulationSpec, int, PolicySet, Series], None]
    if transport == "direct":
        # It generates company i itself, in microseconds, without datetimes.
        from ._direct import simulate_company as simulate
    elif transport == "asgi":
        from ._asgi import simulate_company

        def simulate(spec: PopulationSpec, i: int, policy: PolicySet, series: Series) -> None:
            simulate_company(spec, company(spec, i), policy, series)
    else:
        raise ValueError(f"unknown transport {transport!r}; known: {', '.join(TRANSPORTS)}")
    policy = policy or default_policy()
    series = Series(spec.start, spec.days)
    for i in companies if companies is not None else range(spec.companies):
        simulate(spec, i, policy, series)
        if progress is not None:
            progress(1)
    return series


__all__ = [
    "TRANSPORTS",
    "Company",
    "PopulationError",
    "PopulationSpec",
    "Series",
    "company",
    "load_population",
    "names",
    "run_population",
    "run_sharded",
]


def _jobs(
    spec: PopulationSpec, transport: str, policy: PolicySet, chunk: int
) -> list[tuple[PopulationSpec, str, PolicySet, int, int]]:
    """The arguments of :func:`_chunk` for each range of ``chunk`` companies, in order:
    what a process pool or a cluster runs."""
    return [
        (spec, transport, policy, lo, min(lo + chunk, spec.companies))
        for lo in range(0, spec.companies, chunk)
    ]


def _chunk(args: tuple[PopulationSpec, str, PolicySet, int, int]) -> tuple[Series, int]:
    spec, transport, policy, lo, hi = args
    return run_population(
        spec, transport=transport, policy=policy, companies=range(lo, hi)
    ), hi - lo


def run_sharded(
    spec: PopulationSpec,
    *,
    workers: int,
    transport: str = "direct",
    policy: PolicySet | None = None,
    progress: Callable[[int], None] | None = None,
    chunk: int = 250,
) -> Series:
    """:func:`run_population` over ``workers`` processes, sharded by company.

    Every company is generated from the seed and its index alone and simulated on its
    own, and the series are sums of whole numbers: the result is the same as with one
    process, whatever the layout.
    """
    import multiprocessing

    policy = policy or default_policy()
    if workers <= 1:
        return run_population(spec, transport=transport, policy=policy, progress=progress)
    jobs = _jobs(spec, transport, policy, chunk)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    total = Series(spec.start, spec.days)
    # No more processes than chunks; a Ctrl-C is the parent's to handle (it stops the
    # pool on its way out), so the workers ignore it rather than each print a traceback.
    with multiprocessing.get_context(method).Pool(
        min(workers, len(jobs)), initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)
    ) as pool:
        for part, done in pool.imap_unordered(_chunk, jobs):
            total.merge(part)
            if progress is not None:
                progress(done)
    return total
