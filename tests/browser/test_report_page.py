"""The HTML report in headless Chromium: what a reader sees, measured by the browser.

The page is made in process (a failing scenario and two passing ones) and opened from a
file; the browser says where things are: every band spans its chart's whole track and
the track the whole width of the scenario's box, at a narrow and a wide window; the
failed expectation's excerpt is on screen as text, before the chart; invalid-connection
emails and reminders (and every other kind of marker) differ in shape and in colour; and
the page asks the network for nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conntrack._html import html_report
from conntrack.scenario import load_file
from conntrack.scenario._runner import RunResult, run_scenario

ROOT = Path(__file__).resolve().parents[2]
FILES = (
    ROOT / "scenarios" / "facebook_password_change_reconnect.yaml",
    ROOT / "tests" / "data" / "failing_expectations.yaml",
    ROOT / "scenarios" / "facebook_user_leaves_company.yaml",
)
PX = 1.0
"""Layout tolerance: percentages land on sub-pixel positions."""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results: list[RunResult] = []
    for path in FILES:
        [scenario] = load_file(path)
        results.append(run_scenario(scenario))
    target = tmp_path_factory.mktemp("report") / "report.html"
    target.write_text(html_report(results), encoding="utf-8")
    return target


@pytest.fixture
def opened(page: Any, report: Path) -> Iterator[tuple[Any, list[str]]]:
    """The report open in ``page``; the list of every other URL the page asked for."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(report.as_uri())
    yield page, [url for url in asked if url != report.as_uri()]


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, "not rendered"
    return dict(found)


def right(b: dict[str, float]) -> float:
    return b["x"] + b["width"]


@pytest.mark.parametrize("width", [760, 1400])
def test_bands_span_the_full_width_of_the_chart(opened: tuple[Any, list[str]], width: int) -> None:
    page, asked = opened
    page.set_viewport_size({"width": width, "height": 900})
    assert asked == []
    rows = page.locator("div.conn:has(div.band)")
    assert rows.count() >= len(FILES)
    for i in range(rows.count()):
        row = rows.nth(i)
        track = box(row.locator(".track"))
        segs = row.locator(".seg")
        boxes = [box(segs.nth(j)) for j in range(segs.count())]
        assert abs(boxes[0]["x"] - track["x"]) <= PX
        for a, b in itertools.pairwise(boxes):
            assert abs(right(a) - b["x"]) <= PX  # no gap, no overlap
        assert abs(right(boxes[-1]) - right(track)) <= PX
        assert abs(sum(b["width"] for b in boxes) - track["width"]) <= PX * len(boxes)
        # The track fills what the scenario's box leaves beside the label column.
        inner = row.evaluate(
            """row => { const s = row.closest('section'), cs = getComputedStyle(s);
            const r = s.getBoundingClientRect();
            return r.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight); }"""
        )
        assert abs(right(track) - inner) <= PX
        label = box(row.locator(".label"))
        assert abs(label["x"] + label["width"] - track["x"]) <= PX
    # Nothing pushes the page wider than the window (a long excerpt scrolls in its box).
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_failed_expectation_shows_its_timeline_without_hovering(
    opened: tuple[Any, list[str]],
) -> None:
    page, _ = opened
    page.set_viewport_size({"width": 1200, "height": 900})
    first = page.locator("section.scenario").first
    assert "failed" in (first.get_attribute("class") or "")
    assert box(first)["y"] < box(page.locator("section.scenario").nth(1))["y"]
    excerpts = first.locator("pre.excerpt")
    assert excerpts.count() >= 2
    excerpt = excerpts.first
    assert excerpt.is_visible()
    text = excerpt.inner_text()
    assert "password_change" in text and "✗ expected" in text and "invalid (checkpoint)" in text
    assert box(excerpt)["height"] > 80  # several lines, not a tooltip
    assert box(excerpt)["y"] < box(first.locator("figure"))["y"]
    # It is on screen once scrolled to, and a link in the table leads to it.
    first.locator("tr.broken a").first.click()
    assert page.evaluate(
        "() => { const r = document.querySelector(location.hash).getBoundingClientRect();"
        " return r.top > -1 && r.top < innerHeight; }"
    )


def _look(locator: Any) -> dict[str, str]:
    return dict(
        locator.evaluate(
            """e => { const s = getComputedStyle(e);
            return {colour: s.backgroundColor, shape: [s.clipPath, s.borderRadius,
            s.width].join(' ')}; }"""
        )
    )


def test_markers_differ_in_shape_and_colour(opened: tuple[Any, list[str]]) -> None:
    page, _ = opened
    page.set_viewport_size({"width": 1200, "height": 900})
    legend = page.locator(".legend .mk")
    looks = [_look(legend.nth(i)) for i in range(legend.count())]
    assert len(looks) >= 6
    assert len({look["colour"] for look in looks}) == len(looks)
    assert len({look["shape"] for look in looks}) == len(looks)
    section = page.locator("section.scenario", has_text="Facebook password change, then")
    invalid = section.locator(".mk-invalid-email")
    reminder = section.locator(".mk-reminder-email").first
    assert invalid.count() == 1 and invalid.is_visible() and reminder.is_visible()
    a, b = _look(invalid), _look(reminder)
    assert a["colour"] != b["colour"] and a["shape"] != b["shape"]
    # The chart's markers look as the legend's of the same kind.
    assert a == _look(page.locator(".legend .mk-invalid-email"))
    # At 20d an event, an invalid email and a sync error: none hides another.
    same_instant = [
        box(section.locator(f".{kind}").first)
        for kind in ("mk-event", "mk-invalid-email", "mk-sync-error")
    ]
    for i, p in enumerate(same_instant):
        for q in same_instant[i + 1 :]:
            apart = p["y"] + p["height"] <= q["y"] or q["y"] + q["height"] <= p["y"]
            assert apart, (p, q)
    # Each marker says what it is in words, for screen readers and on hover.
    assert (invalid.get_attribute("aria-label") or "").startswith("invalid-connection email")
    assert "invalid email to user1" in (invalid.get_attribute("title") or "")


def test_bands_name_their_state(opened: tuple[Any, list[str]]) -> None:
    page, _ = opened
    page.set_viewport_size({"width": 1200, "height": 900})
    section = page.locator("section.scenario", has_text="Facebook password change, then")
    reconnected = section.locator(".seg.st-reconnected")
    assert reconnected.inner_text() == "reconnected"
    assert reconnected.evaluate("e => e.scrollWidth <= e.clientWidth")  # not cut off
    assert (reconnected.get_attribute("aria-label") or "").startswith("reconnected")
