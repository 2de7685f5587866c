"""The pictures of a population run: the PNG (matplotlib) and the HTML page (our SVG)."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from conntrack._html import COLOURS
from conntrack.population import PopulationSpec, Series, run_population
from conntrack.population._plot import PNG_DPI, PNG_SIZE, STATE_COLOURS, html_page, write_png

META = {"seed": 5, "transport": "direct", "workers": 2, "wall_seconds": 0.42}


@cache
def series() -> Series:
    return run_population(PopulationSpec(companies=40, days=90, seed=5))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_png_has_the_fixed_size_and_the_same_bytes_for_the_same_series(
    tmp_path: Path,
) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    write_png(series(), a, "40 companies")
    write_png(series(), b, "40 companies")
    data = a.read_bytes()
    assert png_size(data) == (int(PNG_SIZE[0] * PNG_DPI), int(PNG_SIZE[1] * PNG_DPI))
    assert data == b.read_bytes()
    # No text chunk naming the software or a time: nothing that varies between runs.
    assert b"tIME" not in data and b"Software" not in data


def test_a_one_day_series_still_draws(tmp_path: Path) -> None:
    one = run_population(PopulationSpec(companies=2, days=1, seed=1))
    write_png(one, tmp_path / "one.png", "one day")
    assert png_size((tmp_path / "one.png").read_bytes())[0] > 0
    assert "<svg" in html_page(one, "one day", {})


def test_the_html_page_is_self_contained() -> None:
    page = html_page(series(), "40 companies", META)
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 3
    lowered = page.lower()
    for outside in ("<script", "http://", "https://", "src=", "<link", "url(", "@import"):
        assert outside not in lowered, outside


def test_the_html_page_mentions_every_series_the_summary_and_the_meta() -> None:
    s = series()
    page = html_page(s, "40 companies <&>", META)
    assert "<h1>40 companies &lt;&amp;&gt;</h1>" in page
    for column in s.rows()[0]:
        assert f">{column}<" in page, column
    for label in ("connected", "invalid", "expiry reminder", "reconnects", "data-gap days"):
        assert f"</i>{label}</span>" in page, label
    # The state panel stacks the live base only; what came and went is said in words.
    for left_out in ("not connected", "disconnected"):
        assert f"</i>{left_out}</span>" not in page, left_out
    assert f"arrived {sum(s.arrivals)} (" in page
    assert f"disconnected {sum(s.disconnections)} (" in page
    summary = s.summary()
    assert f"{summary['connections']:,}" in page
    assert "at_the_end.expired" in page and "peak_invalid" in page
    for key, value in META.items():
        assert re.search(rf"<th>{key}</th><td[^>]*>{value}</td>", page), key
    # A tooltip a day in each panel, naming the date.
    assert page.count("<title>2026-01-05 (day 0)") == 3


def test_the_html_page_is_the_same_for_the_same_series() -> None:
    again = run_population(PopulationSpec(companies=40, days=90, seed=5))
    assert html_page(series(), "t", META) == html_page(again, "t", META)
    assert html_page(series(), "t", META) != html_page(series(), "t", {**META, "seed": 6})


def test_the_state_panel_shows_the_live_base_and_what_came_and_went() -> None:
    """Connections yet to arrive and disconnected ones are no part of the base: the panel
    stacks the others, so its top is the live base, and the day's arrivals and
    disconnections are in its tooltip."""
    from conntrack.population._plot import LIVE, base_text, live_base

    s = series()
    assert "not_connected" not in LIVE and "disconnected" not in LIVE
    live = live_base(s)
    for d in range(s.days):
        assert live[d] == s.connections - s.states["not_connected"][d] - s.states["disconnected"][d]
    assert base_text(s).startswith(f"live base {live[0]} on day one, {live[-1]} on the last day")
    page = html_page(s, "t", META)
    assert (
        f"<title>2026-01-05 (day 0): connected {s.states['connected'][0]}, " in page
        and f"arrivals {s.arrivals[0]}, disconnections {s.disconnections[0]}</title>" in page
    )


def test_the_states_have_the_scenario_reports_colours() -> None:
    for state, colour in STATE_COLOURS.items():
        assert COLOURS[state.replace("_", " ")] == colour


def test_importing_the_package_does_not_import_matplotlib() -> None:
    code = (
        "import sys, conntrack, conntrack.population, conntrack.population._plot; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("days", [7, 45, 400, 1200])
def test_the_day_axis_labels_stay_few(days: int) -> None:
    from conntrack.population._plot import _Panel

    panel = _Panel(Series(series().start, days), 10)
    ticks = panel.month_ticks()
    assert 1 <= len(ticks) <= 13
    assert all(0 <= d <= days for d, _ in ticks)
