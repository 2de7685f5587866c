"""`conntrack population`: the files it writes, workers, bad options."""

from __future__ import annotations

import json
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
