"""The SimPy model of bench/bench_simpy.py does the direct engine's work: the same series
and the same events, so that the bench's ratio compares like with like (issue 15).

SimPy is a bench-only dependency (``pip install -e '.[bench]'``, ``make bench``): without
it these tests skip.
"""

from __future__ import annotations

import dataclasses
import heapq
import importlib.util
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conntrack.population import PopulationSpec, _direct, run_population
from conntrack.population._model import Abandon, Arrivals, Churn, Reaction

pytest.importorskip("simpy", reason="SimPy is a bench-only dependency: pip install -e '.[bench]'")

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


model = _load("_simpy_model")

#: Every provider and kind, frequent disruptions, quick and likely reactions: every path
#: of a connection's life (checkpoints, lost page roles, kills, expiries, reminders,
#: reconnects after an email, refused ones) in a small fresh base.
BUSY = PopulationSpec(
    companies=12, days=240, seed=3,
    providers={"facebook": 3, "instagram-facebook": 2, "instagram": 1, "linkedin": 1,
               "tiktok": 1, "tiktok-2026": 1, "twitter": 1, "google": 1},
    kinds={"owned": 2, "monitored": 1, "paid": 1},
    disruptions={"password_change": 3.0, "app_removed": 1.5, "username_change": 1.0,
                 "checkpoint": 2.0, "admin_removed": 0.5},
    behaviour={"expiry_reminder": Reaction(0.5, timedelta(days=1), 1.0),
               "invalid": Reaction(0.8, timedelta(hours=12), 0.8)},
    day_one="fresh", churn=Churn(0.0, 0.0), unprompted=0.0, abandon=Abandon(chance=0.0),
)  # fmt: skip

#: BUSY with a played past, churn of connections and companies, arrivals of their own
#: mix, unprompted reconnects and abandons: the steady base's paths too.
BUSY_STEADY = dataclasses.replace(
    BUSY, companies=10, days=150, day_one="steady", history=timedelta(days=400),
    churn=Churn(connections=1.5, companies=0.5),
    arrivals=Arrivals(per_day=0.02, providers={"linkedin": 1, "facebook": 1}, kinds={"paid": 1}),
    unprompted=0.08, abandon=Abandon(after=timedelta(days=12), chance=0.6),
)  # fmt: skip


@pytest.mark.parametrize("layout", ["company", "world"])
@pytest.mark.parametrize(
    "spec",
    [BUSY, BUSY_STEADY, PopulationSpec(companies=40, days=120, seed=8)],
    ids=["busy-fresh", "busy-steady", "default"],
)
def test_the_simpy_model_gives_the_direct_engines_series(spec: PopulationSpec, layout: str) -> None:
    direct = run_population(spec)
    series, events = model.run_simpy(spec, layout=layout)
    summary = direct.summary()
    # Busy enough to mean something: emails of both kinds, reconnects after them.
    assert summary["reconnects"] and summary["emails"]["invalid"]
    assert summary["emails"]["expiry_reminder"]
    assert events > direct.connections
    assert series.to_csv() == direct.to_csv()
    assert (series.connections, series.companies) == (direct.connections, direct.companies)


def test_the_simpy_model_wakes_a_connection_as_often_as_the_direct_engine() -> None:
    """Its events are the direct engine's agenda items, one for one: the same work per
    connection, so the bench may divide both times by one count."""
    if getattr(_direct, "heapq", None) is not heapq:
        pytest.skip("the direct engine no longer keeps its agenda through heapq")
    pushes = 0

    def counting(heap: list[Any], item: Any) -> None:
        nonlocal pushes
        pushes += 1
        heapq.heappush(heap, item)

    counter = type("Counting", (), {"heappush": staticmethod(counting),
                                    "heappop": staticmethod(heapq.heappop)})  # fmt: skip
    for spec in (BUSY, BUSY_STEADY):
        pushes = 0
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_direct, "heapq", counter)
            run_population(spec)
        _, events = model.run_simpy(spec)
        assert pushes > 0
        assert events == pushes


def test_a_layout_the_model_does_not_know_is_named() -> None:
    with pytest.raises(ValueError, match="unknown layout 'grid'; known: company, world"):
        model.run_simpy(BUSY, layout="grid")


def test_the_bench_runs_both_engines_on_one_population(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench_simpy's timed run: the same connections and series for both engines."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # the bench adds bench/ to it
    bench = _load("bench_simpy")
    ours, theirs = bench.one("conntrack", 40), bench.one("simpy-company", 40)
    assert ours["connections"] == theirs["connections"] > 0
    assert ours["series"] == theirs["series"]
    assert theirs["events"] > 0 and ours["cpu"] > 0 and theirs["peak_rss"] > 0
