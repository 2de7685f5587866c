"""`conntrack population --cluster`: the company ranges on Dask distributed.

The series must be those of one process byte for byte; a bad address, a scheduler that
does not answer and a missing extra are clear exit-2 errors; without `--cluster` Dask is
never imported.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conntrack.cli import main
from conntrack.population import _cluster as cluster_mod
from conntrack.population import load_population, run_population
from conntrack.population._cluster import Cluster, ClusterError, parse_cluster, run_on_cluster

pytest.importorskip("distributed", reason="the extra conntrack[cluster] is not installed")

BASE = ["population", "--days", "30", "--no-progress"]


def test_the_accepted_forms_parse() -> None:
    assert parse_cluster("local:3") == Cluster(None, 3)
    assert 1 <= parse_cluster("local").workers <= 32
    assert parse_cluster("tcp://10.0.0.5:8786") == Cluster("tcp://10.0.0.5:8786")
    assert parse_cluster("tls://sched.example.com:8786").address == "tls://sched.example.com:8786"
    assert parse_cluster("tcp://[::1]:8786").address == "tcp://[::1]:8786"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("local:0", "local:N takes a number of workers from 1 to 32, got '0'"),
        ("local:33", "from 1 to 32, got '33'"),
        ("local:two", "got 'two'"),
        ("http://host:8786", "use local, local:N (N workers, 1 to 32), tcp://HOST:PORT or tls"),
        ("tcp://host", "is not an address conntrack knows"),
        ("tcp://host:99999", "is not an address conntrack knows"),
        ("", "is not an address conntrack knows"),
    ],
)
def test_a_bad_cluster_is_refused_with_the_accepted_forms(
    value: str, says: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([*BASE, "--companies", "5", "--cluster", value, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_cluster_and_workers_do_not_mix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = [*BASE, "--companies", "5", "--cluster", "local:2", "--workers", "2"]
    assert main([*args, "--out", str(tmp_path)]) == 2
    assert "--cluster and --workers cannot be combined" in capsys.readouterr().err


def test_without_the_extra_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    assert main([*BASE, "--companies", "5", "--cluster", "local:2", "--out", str(tmp_path)]) == 2
    assert "pip install 'conntrack[cluster]'" in capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_scheduler_that_does_not_answer_is_a_clear_error_in_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(cluster_mod, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    assert main([*BASE, "--companies", "5", "--cluster", address, "--out", str(tmp_path)]) == 2
    assert time.monotonic() - t0 < 8
    err = capsys.readouterr().err
    assert f"--cluster {address}: no Dask scheduler answered within 1 s" in err
    assert "dask scheduler" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_local_2_writes_the_series_of_one_process_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two worker processes of a LocalCluster, started and closed by the command."""
    args = [*BASE, "--companies", "600", "--seed", "4"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--cluster", "local:2", "--out", str(tmp_path / "two")]) == 0
    assert "ran on a local Dask cluster of 2 worker processes" in capsys.readouterr().out
    for name in ("series.csv", "series.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_many_small_parts_merge_to_one_process_series_and_the_progress_follows_them() -> None:
    """Thread workers (quick), a part per 7 companies: whatever order the futures finish
    in, the merged series equals one process's, and every part advances the bar."""
    spec = load_population(None)
    spec = dataclasses.replace(spec, companies=60, days=20, seed=9)
    seen: list[int] = []
    series = run_on_cluster(spec, Cluster(None, 3), chunk=7, processes=False, progress=seen.append)
    assert series.to_csv() == run_population(spec).to_csv()
    assert series.companies == 60
    assert sorted(seen) == sorted([7] * 8 + [4]) and sum(seen) == 60


def test_a_failing_task_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_population(None)
    spec = dataclasses.replace(spec, companies=4, days=5)
    with pytest.raises(ClusterError, match=r"failed: ValueError: unknown transport 'nope'"):
        run_on_cluster(spec, Cluster(None, 1), transport="nope", processes=False)


def test_a_run_without_cluster_never_imports_dask(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from conntrack.cli import main\n"
        f"assert main(['population', '--companies', '20', '--days', '10', '--no-progress', "
        f"'--out', {str(tmp_path)!r}]) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print('LOADED', loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout


@pytest.mark.parametrize("workers", [2, 0])
def test_a_running_scheduler_over_tcp(
    workers: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--cluster tcp://HOST:PORT` joins a scheduler someone else started (here a
    LocalCluster of thread workers on a free port); with no workers it says to start some."""
    from distributed import LocalCluster

    args = [*BASE, "--companies", "300", "--seed", "2"]
    with LocalCluster(
        n_workers=workers,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address="127.0.0.1:0",
    ) as running:
        address = running.scheduler_address
        code = main([*args, "--cluster", address, "--out", str(tmp_path / "two")])
    if workers:
        assert code == 0
        assert f"ran on the Dask scheduler at {address}" in capsys.readouterr().out
        assert main([*args, "--out", str(tmp_path / "one")]) == 0
        one, two = tmp_path / "one" / "series.csv", tmp_path / "two" / "series.csv"
        assert one.read_bytes() == two.read_bytes()
    else:
        assert code == 2
        assert f"the scheduler has no workers; start some with `dask worker {address}`" in (
            capsys.readouterr().err
        )
