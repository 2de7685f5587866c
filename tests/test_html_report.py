"""The HTML report's page, parsed: failures first, the failed expectation's timeline
excerpt as text, a band per connection from 0 % to 100 %, markers by kind, and scenario
text that stays text. (tests/browser/test_html_report_browser.py checks the layout in a
real Chromium.)"""

from __future__ import annotations

import dataclasses
import itertools
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conntrack._console import render_plain, timeline_table
from conntrack._html import MARKERS, html_report
from conntrack.scenario import load_file
from conntrack.scenario._runner import RunResult, run_scenario

ROOT = Path(__file__).resolve().parent.parent
LIFESPAN = ROOT / "scenarios" / "facebook_60_day_lifespan.yaml"
RECONNECT = ROOT / "scenarios" / "facebook_password_change_reconnect.yaml"
FAILING = Path(__file__).parent / "data" / "failing_expectations.yaml"
HOSTILE = """\
scenario: "<script>alert('name')</script> & co"
description: "</div><img src=x onerror=alert('description')> \\"quoted\\""
seed: 7
start: 2026-01-05T09:00:00Z
until: 30d
company: {users: 2}
connections:
  fb: {provider: facebook, connected_by: user1, sync_every: 6h}
timeline:
  - {at: 10d, event: password_change, connection: fb}
expect:
  - {banner: fb, at: 11d, shows: invalid, says: "<script>alert('says')</script>"}
"""


@dataclasses.dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = dataclasses.field(default_factory=list)
    text: str = ""

    def iter(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        """This element and every one under it, in document order, of ``tag`` and
        with ``cls`` among its classes, when given."""
        found = []
        if (tag is None or self.tag == tag) and (cls is None or cls in self.classes):
            found.append(self)
        for child in self.children:
            found.extend(child.iter(tag, cls))
        return found

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)

    def style(self, name: str) -> float:
        match = re.search(rf"(?:^|;){name}:([\d.]+)%", self.attrs.get("style", ""))
        assert match, f"no {name} in {self.attrs}"
        return float(match.group(1))


VOID = {"meta", "br", "img", "input", "link", "hr", "col"}


class Tree(HTMLParser):
    """The page as a tree of elements (the standard library's parser, no dependency)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        # Text after a child goes to a text node of its own, so all_text keeps the order.
        self.stack[-1].children.append(Element("#text", {}, text=data))


def run(path: Path) -> RunResult:
    [scenario] = load_file(path)
    return run_scenario(scenario)


@pytest.fixture(scope="module")
def results() -> list[RunResult]:
    """A passing scenario, a failing one, and another passing one, in that run order."""
    return [run(LIFESPAN), run(FAILING), run(RECONNECT)]


@pytest.fixture(scope="module")
def page(results: list[RunResult]) -> str:
    return html_report(results)


@pytest.fixture(scope="module")
def tree(page: str) -> Element:
    return Tree(page).root


def sections(tree: Element) -> list[Element]:
    return tree.iter("section", "scenario")


def name_of(section: Element) -> str:
    [h2] = section.iter("h2")
    return h2.all_text().split(" ", 1)[1]


def test_the_page_is_well_formed_and_needs_nothing_else(page: str, tree: Element) -> None:
    assert page.startswith("<!doctype html>")
    assert not tree.iter("script") and not tree.iter("link") and not tree.iter("img")
    for element in tree.iter():
        for name in ("src", "href"):
            assert not element.attrs.get(name, "#").partition("#")[0], element.attrs
    assert "url(" not in page and "@import" not in page


def test_the_page_is_the_same_for_the_same_run(results: list[RunResult], page: str) -> None:
    assert html_report(results) == page


def test_failed_scenarios_come_first_and_the_summary_counts(
    tree: Element, results: list[RunResult]
) -> None:
    [summary] = tree.iter("p", "summary")
    assert summary.all_text() == "3 scenarios: 2 passed, 1 failed, 0 skipped"
    names = [name_of(s) for s in sections(tree)]
    assert names == [results[1].scenario.name, results[0].scenario.name, results[2].scenario.name]
    assert [s.classes[1] for s in sections(tree)] == ["failed", "passed", "passed"]
    # The index follows the page's order.
    index = [a.all_text() for a in tree.iter("ul", "index")[0].iter("a")]
    assert index == names


def test_skips_come_last_and_errors_after_failures(results: list[RunResult]) -> None:
    passed, failed, _ = results
    skipped = dataclasses.replace(passed, skipped="the product does not support facebook")
    broke = dataclasses.replace(passed, error="POST /clock: the answer is not JSON")
    tree = Tree(html_report([skipped, passed, broke, failed], product="tiny")).root
    assert [s.classes[1] for s in sections(tree)] == ["failed", "error", "passed", "skipped"]
    [summary] = tree.iter("p", "summary")
    assert summary.all_text() == (
        "4 scenarios: 1 passed, 1 failed, 1 skipped, 1 error · product tiny"
    )
    assert not sections(tree)[3].iter("figure")  # nothing ran: no chart


def test_failed_expectations_are_on_top_with_the_console_excerpt(
    tree: Element, results: list[RunResult]
) -> None:
    failing = results[1]
    section = sections(tree)[0]
    broken = [o for o in failing.outcomes if not o.passed]
    failures = section.iter("div", "failure")
    assert len(failures) == len(broken) >= 2
    for box, outcome in zip(failures, broken, strict=True):
        assert str(outcome.where) in box.iter("h3")[0].all_text()
        assert box.iter("dd", "expected")[0].all_text() == outcome.expected
        assert box.iter("dd", "actual")[0].all_text() == outcome.actual
        [excerpt] = box.iter("pre", "excerpt")
        # The very table the console prints (what precedes the excerpt in the page).
        console = render_plain(timeline_table(outcome.context, failing.timeline, failed=outcome))
        assert excerpt.all_text() == console
        assert "✗ expected" in excerpt.all_text()
    # The excerpts come before the chart, and the chart before the table.
    order = [e.tag for e in section.iter() if e.tag in ("pre", "figure", "table")]
    assert order == ["pre"] * len(broken) + ["figure", "table"]
    # In the table, the failed expectations first, each linked to its excerpt.
    rows = section.iter("tr")[1:]
    marks = [r.iter("td")[0].all_text() for r in rows]
    assert marks == ["✗"] * len(broken) + ["✓"] * (len(rows) - len(broken))
    links = [r.iter("a")[0].attrs["href"] for r in rows[: len(broken)]]
    assert links == ["#" + f.attrs["id"] for f in failures]


def test_a_passing_scenario_has_no_excerpt(tree: Element) -> None:
    for section in sections(tree)[1:]:
        assert not section.iter("div", "failure") and not section.iter("pre")


def test_bands_touch_and_span_the_whole_track(tree: Element, results: list[RunResult]) -> None:
    for section in sections(tree):
        rows = section.iter("div", "conn")
        assert rows
        for row in rows:
            segs = row.iter("span", "seg")
            assert segs, row.attrs
            assert segs[0].style("left") == 0
            for a, b in itertools.pairwise(segs):
                assert a.style("left") + a.style("width") == pytest.approx(b.style("left"))
            assert segs[-1].style("left") + segs[-1].style("width") == pytest.approx(100)
    # The lifespan's band: connected, then expiring, then expired, each named in it.
    lifespan = next(s for s in sections(tree) if name_of(s) == results[0].scenario.name)
    segs = lifespan.iter("span", "seg")
    assert [s.all_text() for s in segs] == ["connected", "expiring", "expired"]
    assert [s.classes[1] for s in segs] == ["st-connected", "st-expiring", "st-expired"]
    assert segs[1].attrs["title"].startswith("expiring ← ")  # what began it, on hover
    assert all(s.attrs["role"] == "img" and s.attrs["aria-label"] for s in segs)


def test_invalid_emails_and_reminders_have_their_own_markers(
    tree: Element, results: list[RunResult]
) -> None:
    reconnect = next(s for s in sections(tree) if name_of(s) == results[2].scenario.name)
    marks = reconnect.iter("span", "mk")
    kinds = {m.classes[1] for m in marks}
    assert {"mk-invalid-email", "mk-reminder-email", "mk-event", "mk-sync-error"} <= kinds
    invalid = [m for m in marks if "mk-invalid-email" in m.classes]
    reminders = [m for m in marks if "mk-reminder-email" in m.classes]
    tl = results[2].timeline
    assert len(invalid) == len({e.at for e in tl.emails("invalid")}) == 1
    assert len(reminders) == len({e.at for e in tl.emails("expiry_reminder")}) == 4
    assert "invalid email to user1" in invalid[0].attrs["title"]
    assert all("expiry_reminder email to" in m.attrs["title"] for m in reminders)
    for m in marks:  # a text alternative naming the kind, not only a shape
        kind = m.classes[1].removeprefix("mk-")
        assert m.attrs["aria-label"].startswith(MARKERS[kind] + " at ")
    # The failing scenario marks where each failed expectation was checked (one marker
    # an instant, its tooltip naming every expectation checked then).
    broken = [o for o in results[1].outcomes if not o.passed]
    failed = sections(tree)[0].iter("span", "mk-failed")
    assert len(failed) == len({o.at for o in broken}) >= 2
    assert all(f"✗ {o.summary}" in "".join(m.attrs["title"] for m in failed) for o in broken)
    # The legend shows every kind of marker, with the same classes as the chart.
    [legend] = tree.iter("div", "legend")
    assert {m.classes[1] for m in legend.iter("i", "mk")} == {f"mk-{k}" for k in MARKERS}


def test_markers_of_one_instant_are_in_lanes_of_their_own(tree: Element) -> None:
    for row in tree.iter("div", "conn"):
        for lane in row.iter("div", "lane"):
            kinds = {m.classes[1] for m in lane.iter("span", "mk")}
            emails = {"mk-invalid-email", "mk-reminder-email", "mk-other-email"}
            assert len(kinds) == 1 or kinds <= emails, kinds


def test_scenario_text_is_escaped(tmp_path: Path) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE)
    result = run(path)
    assert not result.passed  # the says: fails, so it shows in the failure box too
    page = html_report([result])
    tree = Tree(page).root
    assert not tree.iter("script") and not tree.iter("img")
    assert "<script>" not in page and "<img" not in page
    [section] = sections(tree)
    assert name_of(section) == "<script>alert('name')</script> & co"
    assert section.iter("div", "desc")[0].all_text().startswith("</div><img src=x onerror=")
    [failure] = section.iter("div", "failure")
    assert "<script>alert('says')</script>" in failure.all_text()
    # Attributes too: a title or aria-label cannot be closed by a quote.
    for element in tree.iter():
        assert not any(name.startswith("on") for name in element.attrs)
