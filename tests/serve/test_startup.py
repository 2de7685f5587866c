"""What ``conntrack serve --state FILE`` does before its "ready" line (issue 11 item 8:
ready within 2 s at 100 000 tokens): no test tools imported, the tables read in a
worker thread while the load decodes, and that thread never outliving the load — also
when the file's rows cannot be read."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conntrack._statefile import StateError, StateFile
from fake_providers import Core, StateFormatError

from .support import ManualClock, populated_state_file


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "state-reader"]


def test_serve_imports_no_test_tools() -> None:
    """``trio.testing`` imports pytest (a fifth of a second of every start): what
    ``conntrack serve`` imports must not pull it in."""
    code = (
        "import sys; import conntrack.cli, conntrack._serve, fake_providers.journal; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_a_load_reads_every_table_back(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    core = populated_state_file(path)
    state = StateFile.open(path)
    again = Core(ManualClock(), seed=4)
    try:
        assert state.load(again) is not None
    finally:
        state.close()
    assert again.dump() == core.dump()
    assert _readers() == []


@pytest.mark.parametrize("table", ["pages", "tokens", "faults"])
def test_a_row_that_cannot_be_read_leaves_no_reader_behind(tmp_path: Path, table: str) -> None:
    """A bad row early (pages: read first), in the middle or last: the load's error,
    the core unchanged, and the reading thread finished."""
    path = tmp_path / "state.db"
    populated_state_file(path)
    db = sqlite3.connect(path)
    with db:
        assert db.execute(f"UPDATE {table} SET body = '{{' WHERE rowid = 1").rowcount == 1
    db.close()
    state = StateFile.open(path)
    again = Core(ManualClock(), seed=4)
    try:
        with pytest.raises((StateFormatError, StateError), match=table):
            state.load(again)
    finally:
        state.close()
    assert again.tokens() == [] and again.accounts() == []
    assert _readers() == []
