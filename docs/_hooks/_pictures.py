"""Pictures the docs build makes, cached under ``build/docs-cache/`` (gitignored).

- the lifecycle diagram, drawn by ``transitions``' own diagram extension from
  :data:`conntrack._lifecycle.TRANSITIONS` itself: an SVG made by Graphviz
  (``graph_engine="graphviz"``; ``dot`` from Debian's ``graphviz``, which ``make docs``
  installs like Chromium), so the picture is in the site and reads offline; without
  ``dot``, its Mermaid text (``graph_engine="mermaid"``), which Material draws in the
  reader's browser;
- a screenshot of a failing scenario's HTML report (``report_example.yaml`` beside this
  file), taken by headless Chromium (the one the browser tests drive: ``$CHROMIUM``,
  ``chromium``, ``/usr/bin/chromium``; ``make test`` installs Debian's when it can);
- the population plot, ``conntrack population``'s own ``series.png``.

Each picture is cached under a key made of the files it is made from, so a second build
costs nothing; a changed input makes it again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any, Literal

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.conntrack")

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "docs-cache"
HERE = Path(__file__).resolve().parent
REPORT_SCENARIO = HERE / "report_example.yaml"
#: The population plotted: the README's steady base (2 000 companies, a year, seed 1).
POPULATION_ARGS = ["--companies", "2000", "--days", "365", "--seed", "1"]
#: Chromium's window for the report screenshot (CSS pixels).
WINDOW = "1200,900"
TIMEOUT_S = 180


def _lifecycle_model(engine: Literal["graphviz", "mermaid"]) -> Any:
    """A throw-away model on a ``GraphMachine`` of the lifecycle table (``engine``:
    ``graphviz`` or ``mermaid``, transitions' own diagram engines)."""
    from transitions.extensions import GraphMachine

    from conntrack import _lifecycle

    class _Model:
        """The diagram shows the table, not a connection."""

    model = _Model()
    GraphMachine(
        model=model,
        states=list(_lifecycle.STATES),
        transitions=_lifecycle.TRANSITIONS,
        initial=_lifecycle.State.CONNECTED.value,
        auto_transitions=False,
        graph_engine=engine,
        title="Connection lifecycle",
    )
    return model


def lifecycle_dot() -> str:
    """The lifecycle diagram's Graphviz source, as ``transitions`` writes it."""
    return str(_lifecycle_model("graphviz").get_graph().source)


def lifecycle_mermaid() -> str:
    """The lifecycle diagram as Mermaid text, as ``transitions`` writes it."""
    return str(_lifecycle_model("mermaid").get_graph().draw(None))


def lifecycle_svg() -> bytes | None:
    """The lifecycle diagram drawn by Graphviz's ``dot`` (an SVG), or ``None`` when
    ``dot`` is not installed (``make docs`` installs Debian's graphviz when it can)."""
    if shutil.which("dot") is None:
        log.info(
            "conntrack docs: no Graphviz 'dot' on the PATH: the lifecycle diagram is left "
            "to Mermaid in the reader's browser; `make docs` as root installs Debian's "
            "graphviz (apt-get install graphviz)"
        )
        return None
    svg = _lifecycle_model("graphviz").get_graph().pipe(format="svg")
    return bytes(svg)


def files_key(paths: Iterable[Path], *extra: str) -> str:
    """A hash of the files' paths and bytes (folders: every file in them) and ``extra``."""
    digest = hashlib.sha256("\0".join(extra).encode())
    for path in sorted(paths):
        members = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for member in members:
            if "__pycache__" in member.parts:
                continue
            digest.update(str(member.relative_to(ROOT)).encode())
            digest.update(member.read_bytes())
    return digest.hexdigest()[:16]


def run(command: list[str], what: str, timeout: float = TIMEOUT_S) -> CompletedProcess[str]:
    """Run ``command`` (output captured, no check); a hung one is a clear build error,
    not a traceback."""
    try:
        return subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        shown = " ".join(command)
        raise PluginError(f"{what} did not finish in {timeout:.0f} s: {shown}") from None


def _conntrack() -> list[str]:
    """The ``conntrack`` command of the Python running the build."""
    return [sys.executable, "-m", "conntrack.cli"]


def find_chromium() -> str | None:
    """The Chromium the browser tests use (``tests/browser/_chromium.py``'s rules)."""
    wanted = os.environ.get("CHROMIUM")
    names = (
        (wanted,)
        if wanted
        else (
            "chromium",
            "chromium-browser",
            "/usr/bin/chromium",
            "/usr/lib/chromium/chromium",
        )
    )
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


def _placeholder(target: Path, text: str) -> None:
    """A PNG that says why the real picture is missing."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig = plt.figure(figsize=(8, 2))
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    fig.savefig(target)
    plt.close(fig)


def report_screenshot() -> Path:
    """A PNG of the failing scenario's HTML report (cached)."""
    sources = [REPORT_SCENARIO, ROOT / "src" / "conntrack", ROOT / "fake_providers"]
    target = CACHE / f"report-failing-{files_key(sources, WINDOW)}.png"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    chromium = find_chromium()
    if chromium is None:
        fallback = CACHE / "report-failing-placeholder.png"
        log.info(
            "conntrack docs: no Chromium (chromium, chromium-browser, /usr/bin/chromium or "
            "$CHROMIUM): the report screenshot is a placeholder; `make docs` installs "
            "Debian's chromium when run as root"
        )
        _placeholder(
            fallback,
            "No Chromium was found when these docs were built:\n"
            "the screenshot of the HTML report is missing.",
        )
        return fallback
    with tempfile.TemporaryDirectory(prefix="conntrack-docs-") as tmp:
        html = Path(tmp) / "report.html"
        done_run = run(  # the scenario fails on purpose: its exit status is 1
            [*_conntrack(), "run", str(REPORT_SCENARIO.relative_to(ROOT)), "--html", str(html)],
            "conntrack run (the report to photograph)",
        )
        if not html.exists():
            raise PluginError(
                f"conntrack run wrote no HTML report for {REPORT_SCENARIO}: "
                f"{done_run.stderr[-2000:]}"
            )
        shot = Path(tmp) / "shot.png"
        done = run(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={Path(tmp) / 'profile'}",
                f"--window-size={WINDOW}",
                f"--screenshot={shot}",
                html.as_uri(),
            ],
            "Chromium (the report screenshot)",
        )
        if not shot.exists():
            raise PluginError(
                f"{chromium} made no screenshot of the report (exit {done.returncode}): "
                f"{done.stderr[-2000:]}"
            )
        shutil.move(str(shot), target)
    return target


def population_plot() -> Path:
    """``conntrack population``'s PNG of the docs' steady base (cached)."""
    sources = [ROOT / "src" / "conntrack"]
    target = CACHE / f"population-{files_key(sources, *POPULATION_ARGS)}.png"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="conntrack-docs-") as tmp:
        done = run(
            [*_conntrack(), "population", *POPULATION_ARGS, "--out", tmp, "--no-progress"],
            "conntrack population (the plot)",
        )
        png = Path(tmp) / "series.png"
        if done.returncode != 0 or not png.exists():
            raise PluginError(
                f"conntrack population failed (exit {done.returncode}): {done.stderr[-2000:]}"
            )
        shutil.move(str(png), target)
    return target
