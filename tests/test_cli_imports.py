"""What the ``conntrack`` command imports, counted in a fresh process (issue 15).

``conntrack --help`` and ``conntrack run --help`` need the parser only; a run of one
scenario needs the simulation (trio, the fakes' Quart app, httpx, faker) but none of the
other commands' code (population, serve and its state file, the HTML report, a product
harness), nor email delivery unless asked, nor pytest, which ``import trio.testing``
would load. Counts, not seconds: the timing is ``bench/bench_cli.py``'s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "bench" / "facebook_365d.yaml"

#: Loaded by a run, so never by ``--help`` (each costs 10-120 ms to import).
HEAVY = (
    "trio",
    "quart",
    "hypercorn",
    "httpx",
    "yaml",
    "faker",
    "transitions",
    "jsonschema",
    "rich",
    "jinja2",
    "smtplib",
    "fake_providers",
    "conntrack.scenario",
)

#: Not used by a plain run of a scenario with the in-process model.
NOT_IN_A_RUN = (
    "pytest",
    "_pytest",
    "cryptography",
    "sqlite3",
    "conntrack.population",
    "conntrack.product",
    "conntrack._serve",
    "conntrack._statefile",
    "conntrack._html",
    "conntrack._schedule",
    "conntrack.testing",
    "conntrack._delivery",  # only with --smtp, --webhook or an existing --outbox file
    "smtplib",
    # The world serves the scenario's providers only (a Facebook one here).
    "fake_providers.google",
    "fake_providers.instagram",
    "fake_providers.linkedin",
    "fake_providers.tiktok",
    "fake_providers.twitter",
    "oauthlib",
    # Faker is made with the providers whose names it draws, not all 26 locales' worth.
    "faker.providers.address.en_US",
    "faker.providers.bank.en_GB",
    # A file the schema has nothing to say about is checked without jsonschema.
    "jsonschema",
    "referencing",
)


def modules_after(*argv: str) -> set[str]:
    """The modules a fresh process holds after ``conntrack ARGV`` (help exits 0)."""
    code = (
        "import json, sys\n"
        "from conntrack.cli import main\n"
        "try:\n"
        f"    status = main({list(argv)!r})\n"
        "except SystemExit as e:\n"
        "    status = e.code\n"
        "print('\\n' + json.dumps([status, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    status, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert status == 0, proc.stdout
    return set(modules)


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (packages count with their submodules) are in ``modules``."""
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


def test_help_imports_the_parser_only() -> None:
    for argv in (["--help"], ["run", "--help"]):
        modules = modules_after(*argv)
        assert loaded(modules, HEAVY) == [], argv
        ours = sorted(m for m in modules if m.split(".")[0] == "conntrack")
        # The package, the CLI, its parser and what the parser needs: a handful.
        assert len(ours) <= 8, ours


def test_a_run_imports_nothing_it_does_not_use() -> None:
    modules = modules_after("run", str(SCENARIO))
    assert "conntrack.scenario._runner" in modules  # it did run
    assert loaded(modules, NOT_IN_A_RUN) == []


def test_the_clock_takes_trio_testings_own_objects() -> None:
    """``conntrack._clock`` takes ``MockClock`` and ``wait_all_tasks_blocked`` from
    ``trio._core`` (``trio.testing`` would import pytest): they must be the same objects
    ``trio.testing`` exports, or a trio release moved them."""
    import trio.testing

    from conntrack import _clock

    assert _clock.MockClock is trio.testing.MockClock
    assert _clock.wait_all_tasks_blocked is trio.testing.wait_all_tasks_blocked


def _command(*argv: str, own_process: bool) -> tuple[int, int]:
    """Exit status and frozen-object count of a fresh ``conntrack ARGV`` process: as the
    console script calls it (``main()``, ``sys.argv``) or as a caller would (``main(argv)``)."""
    call = "main()" if own_process else f"main({list(argv)!r})"
    code = (
        "import atexit, gc, sys\n"
        "from conntrack.cli import main\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr))\n"
        f"sys.argv = ['conntrack', *{list(argv)!r}]\n"
        f"sys.exit({call})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    return proc.returncode, int(proc.stderr.strip().splitlines()[-1].split()[-1])


def test_the_command_freezes_its_imports_and_writes_the_same(tmp_path: Path) -> None:
    """The ``conntrack`` command's own process takes what it imported out of the garbage
    collector's sight (``cli._freeze_imports``: ~0.13 s less at exit); a caller of
    ``main(argv)`` keeps its collector whole. Reports, outbox and status are the same."""
    written = {}
    for own in (True, False):
        out = tmp_path / str(own)
        out.mkdir()
        argv = ("run", str(SCENARIO), "--run-id", "pinned", "--json", str(out / "r.json"),
                "--junit", str(out / "r.xml"), "--outbox", str(out / "o.jsonl"))  # fmt: skip
        status, frozen = _command(*argv, own_process=own)
        assert status == 0
        assert (frozen > 0) is own
        written[own] = [(out / name).read_bytes() for name in ("r.json", "r.xml", "o.jsonl")]
    assert written[True] == written[False]
    assert all(written[True])
