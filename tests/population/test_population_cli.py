"""`conntrack population`: the files it writes, workers, bad options."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conntrack.cli import main


def test_the_command_writes_csv_json_png_and_html_for_1000_companies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["population", "--companies", "1000", "--days", "365", "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "connection-days/s" in printed
    names = sorted(p.name for p in out.iterdir())
    assert names == ["report.html", "series.csv", "series.json", "series.png"]
    doc = json.loads((out / "series.json").read_text())
    assert doc["companies"] == 1000 and len(doc["days"]) == 365
    assert (out / "series.png").read_bytes().startswith(b"\x89PNG")
    first = (out / "series.csv").read_text()
    assert main([*args, "--workers", "2"]) == 0
    assert (out / "series.csv").read_text() == first


def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["population", "--companies", "0", "--out", str(tmp_path)]) == 2
    assert "--companies must be 1 or more" in capsys.readouterr().err
    assert main(["population", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read the population file" in capsys.readouterr().err


def _exit_code(argv: list[str]) -> int | str | None:
    """``conntrack ARGV``'s exit status (argparse exits by itself: SystemExit)."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """``conntrack ARGV`` exits 2 at once (no work done) with one line on stderr."""
    t0 = time.perf_counter()
    assert _exit_code(argv) == 2
    assert time.perf_counter() - t0 < 3, "refused only after doing the work"
    err = capsys.readouterr().err
    assert "Traceback" not in err and "usage:" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("options", "words"),
    [
        # A hang (hours of work), a fork bomb, a seed past what files allow.
        (["--companies", "99999999999"], "--companies must be at most 1 000 000 (a million)"),
        (["--companies", "500000"], "use at most 54 794 companies for 365 days"),
        (["--companies", "1000000", "--days", "21"], "at most 50 000 000 are allowed"),
        (["--workers", "100000"], "--workers must be 1 or more and at most 32, got 100000"),
        (["--workers", "-3"], "--workers must be 1 or more and at most 32, got -3"),
        (["--seed", str(2**200)], "--seed must be at most 2**63 - 1, got 61 digits"),
        (["--seed", "-1"], "--seed must be 0 or more, got -1"),
        (["--days", "-1"], "--days must be 1 or more, got -1"),
        (["--companies", "x"], "argument --companies: invalid int value: 'x'"),
        (["--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
        (["--transport", "asgi", "--companies", "5000"], "at most 5 000 000 are allowed"),
        (["--out", ""], "--out needs a folder name; got an empty one"),
    ],
)
def test_hostile_sizes_are_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], words: str
) -> None:
    """--companies 99999999999 worked for hours and --workers 100000 forked a process
    for each (issue 11): every size has a limit, named with how to stay inside it."""
    err = _refused(capsys, ["population", "--out", str(tmp_path / "o"), *options])
    assert words in err, err


def test_a_population_file_that_is_too_large_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "p.yaml"
    config.write_text("companies: 1000000000\n")
    err = _refused(capsys, ["population", "--config", str(config)])
    assert f"{config}:1: 'companies' must be at most 1 000 000" in err
    config.write_text("companies: 100000\nconnections: [5000, 5000]\n")
    err = _refused(capsys, ["population", "--config", str(config), "--days", "30"])
    assert f"{config}: too large a run: 100 000 companies x 5000 connections x 30 days" in err


def test_out_must_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("keep me")
    err = _refused(capsys, ["population", "--out", str(a_file), "--companies", "2"])
    assert f"--out {a_file} is not a folder" in err
    err = _refused(capsys, ["population", "--out", "/dev/full", "--companies", "2"])
    assert "--out /dev/full is not a folder" in err
    assert a_file.read_text() == "keep me"


ARGS = ["population", "--companies", "3", "--days", "30", "--no-progress"]


def test_ctrl_c_leaves_the_previous_series_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C used to end in a traceback; while the files were written, it left some new
    and some old (or half a file)."""
    from conntrack.population import _plot

    out = tmp_path / "o"
    assert main([*ARGS, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_plot, "write_png", interrupted)  # after the CSV and JSON
    assert main([*ARGS, "--seed", "9", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert err.strip() == f"conntrack: interrupted; nothing written to {out}"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_full_disk_leaves_the_previous_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ) fails writes like a full
    disk does: one line, exit 2, the old files kept whole, no temporary files left."""
    out = tmp_path / "o"
    assert main([*ARGS, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, hard))
    try:
        code = main([*ARGS, "--seed", "9", "--out", str(out)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert code == 2
    err = capsys.readouterr().err
    assert f"cannot write the series to --out {out}: File too large" in err
    assert "the files there were left as they were" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_sigint_in_the_middle_of_a_run_with_workers_exits_130(tmp_path: Path) -> None:
    """A real Ctrl-C (SIGINT to the process group, as a terminal sends it) while two
    workers run: exit 130, one line, no traceback from any process, no output."""
    out = tmp_path / "o"
    argv = [sys.executable, "-m", "conntrack.cli", "population", "--companies", "400000",
            "--days", "30", "--workers", "2", "--no-progress", "--out", str(out)]  # fmt: skip
    child = subprocess.Popen(
        argv, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:  # made just before the run
            time.sleep(0.05)
        time.sleep(1.0)
        os.killpg(child.pid, signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert child.returncode == 130, err
    assert err.strip() == f"conntrack: interrupted; nothing written to {out}", err
    assert list(out.iterdir()) == []
