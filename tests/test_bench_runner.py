"""`make bench`'s runner (bench/_all.py): a name it does not know is a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_unknown_bench_name_is_refused_with_the_names_there_are(tmp_path: Path) -> None:
    env = dict(os.environ, BENCH_ONLY="bench_nope", BENCH_OUT=str(tmp_path / "out.txt"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "_all.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no such bench bench_nope" in done.stdout
    assert "bench_cli" in done.stdout  # the names that exist are listed
    assert not (tmp_path / "out.txt").exists()
