"""The HTML report: one self-contained page, failures first, each scenario as bands.

No scripts, no external files: the CSS is inline, so the page opens anywhere (a CI
artifact, an email attachment) without the network. Like the JSON report it holds no
wall-clock figure: the same run gives the same bytes.

What the page shows, in this order:

- a summary line (``2 scenarios: 1 passed, 1 failed, 0 skipped``; errors too against a
  product under test) and an index;
- the scenarios that failed (or where the product broke the protocol), then those that
  passed, then those skipped; run order within each group;
- for each failed expectation, on top of its scenario: what was expected, what happened,
  and the timeline around it as text, the very table the console prints
  (:func:`conntrack._console.timeline_table`, rendered plain): readable without hovering;
- the chart: a row per connection, its state band across the whole width of the chart
  (positions are percentages of the row's track, so it fits any window), the state
  named in the band as well as coloured (and hatched when it is bad); markers above it,
  each kind its own shape and colour (invalid-connection email, expiry reminder, other
  email, world event) and below it (sync error, a failed expectation), each with a
  tooltip and a text alternative; a legend with the same shapes;
- the expectations as a table, failed ones first, each linked to its excerpt.

A skipped scenario says why (and has no chart: nothing ran); one where the product broke
the protocol shows the request and the answer above what happened until then.

The markup is a Jinja template (``templates/report/page.html.j2``) with autoescape on:
every text that comes from a scenario (names, descriptions, ``says:``, provider messages)
is data, never markup. The view below computes what the template shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources

import jinja2
from markupsafe import Markup

from ._console import render_plain, timeline_table
from ._durations import format_duration, format_instant
from ._lifecycle import TransitionRecord
from ._records import EmailRecord, EventRecord, Record, SyncErrorRecord, Timeline
from ._report import Status, status
from .scenario._expectations import Outcome
from .scenario._runner import RunResult

COLOURS = {
    "not connected": "#e5e7eb",
    "connected": "#22c55e",
    "reconnected": "#14b8a6",
    "expiring": "#f59e0b",
    "expired": "#6b7280",
    "invalid": "#ef4444",
    "disconnected": "#1f2937",
}
"""The band's states, in the legend's order, and their colours (the population plot's
too); each has a CSS class ``st-…``."""
TEXT_COLOURS = {"expired": "#fff", "disconnected": "#fff", "invalid": "#450a0a"}
"""The colour of a state's name in its band where black would not read well."""
HATCHES = {"invalid": "#f87171", "expired": "#4b5563"}
"""The bad states are striped as well as coloured: told apart without colour."""

MARKERS = {
    "invalid-email": "invalid-connection email",
    "reminder-email": "expiry reminder email",
    "other-email": "other email",
    "event": "world event",
    "sync-error": "sync error",
    "failed": "failed expectation",
}
"""Marker kinds (CSS class ``mk-…``) and what the legend calls them."""

LANES = {
    "event": "events",
    "invalid-email": "emails",
    "reminder-email": "emails",
    "other-email": "emails",
    "sync-error": "errors",
    "failed": "checks",
}
"""Which lane of a row a marker sits in: events and emails above the band, sync errors
and failed expectations below it, each kind of thing in a lane of its own, so that
markers of one instant do not hide each other."""

ORDER: dict[Status, int] = {"failed": 0, "error": 1, "passed": 2, "skipped": 3}
"""The page's order of scenarios: what needs looking at first."""

BADGES: dict[Status, tuple[str, str]] = {
    "passed": ("pass", "PASS"),
    "failed": ("fail", "FAIL"),
    "skipped": ("skip", "SKIPPED"),
    "error": ("error", "ERROR"),
}
EMAIL_MARKERS = {"invalid": "invalid-email", "expiry_reminder": "reminder-email"}
TICK_STEPS = (1, 2, 5, 7, 10, 15, 30, 60, 90, 180, 365, 730)


@dataclass(frozen=True)
class Band:
    """One stretch of one state: ``left`` and ``width`` in percent of the track."""

    left: str
    width: str
    state: str
    text: str


@dataclass(frozen=True)
class Marker:
    """Things of one kind at one instant: ``left`` in percent of the track."""

    left: str
    kind: str
    text: str


@dataclass
class Row:
    """One connection (``""``: the company's row, its people's events only)."""

    name: str
    bands: list[Band] = field(default_factory=list)
    lanes: dict[str, list[Marker]] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """A failed expectation as the page shows it on top of its scenario."""

    anchor: str
    outcome: Outcome
    around: str | None
    excerpt: str | None


@dataclass
class ScenarioView:
    """What the template shows of one scenario: its failures with their excerpts, the
    chart's ticks and rows, and the expectations (failed first, with their excerpt's
    anchor)."""

    anchor: str
    result: RunResult
    status: Status
    badge: tuple[str, str]
    span: str
    ticks: list[tuple[str, str]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    outcomes: list[tuple[Outcome, str | None]] = field(default_factory=list)


def _pct(t: datetime, tl: Timeline) -> float:
    """Where instant ``t`` falls on the track, in percent, rounded so that the widths of
    consecutive bands add up to exactly 100."""
    span = (tl.until - tl.start).total_seconds() or 1.0
    share = (t - tl.start).total_seconds() / span
    return round(100 * min(max(share, 0.0), 1.0), 3)


def _num(value: float) -> str:
    """A percentage for CSS: at most three decimals, no trailing zeros."""
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _bands(tl: Timeline, connection: str) -> list[Band]:
    """The connection's states from the start to the end of the run, touching each
    other: the first starts at 0 %, the last ends at 100 %."""
    first = tl.initial.get(connection)
    segs: list[tuple[datetime, datetime, str, str]] = []
    if first is None:
        segs.append((tl.start, tl.until, "not connected", ""))
    else:
        if first[0] > tl.start:
            segs.append((tl.start, first[0], "not connected", ""))
        state, since, why = first[1], first[0], ""
        for t in tl.transitions(connection):
            if t.dest != state:
                segs.append((since, t.at, state, why))
                state, since, why = t.dest, t.at, _why(t) + _cause(tl, t)
        segs.append((since, tl.until, state, why))
    bands = []
    for a, b, state, why in segs:
        left, right = _pct(a, tl), _pct(b, tl)
        if right <= left:
            continue
        text = f"{state}{why}: {format_duration(a - tl.start)} → {format_duration(b - tl.start)}"
        bands.append(Band(_num(left), _num(right - left), state, text))
    return bands


def _why(t: TransitionRecord) -> str:
    """`` (reason) ← cause`` of the transition that began a band."""
    return (f" ({t.reason})" if t.reason else "") + (f" ← {t.cause}" if t.cause else "")


def _cause(tl: Timeline, rec: Record) -> str:
    """`` (cause: …)`` for what a world event's ``cause:`` led to (an invalid band, the
    invalid email of that incident), else ``""``."""
    event = tl.cause_of(rec)
    return f" (cause: {event.detail})" if event is not None else ""


def _marker_text(rec: object, company: bool) -> tuple[str, str] | None:
    """(kind, text) of a record shown as a marker; ``None`` for the others."""
    if isinstance(rec, EmailRecord):
        kind = EMAIL_MARKERS.get(rec.kind, "other-email")
        return kind, f"{rec.kind} email to {rec.to}"
    if isinstance(rec, EventRecord):
        who = f" {rec.by}" if rec.by and company else f" by {rec.by}" if rec.by else ""
        return "event", rec.event + who + (f" ({rec.detail})" if rec.detail else "")
    if isinstance(rec, SyncErrorRecord):
        return "sync-error", f"{rec.step} error {rec.status} {rec.code}"
    return None


def _row(tl: Timeline, connection: str, failures: Sequence[Failure]) -> Row:
    row = Row(connection, _bands(tl, connection) if connection else [])
    found: dict[tuple[str, datetime], list[str]] = {}
    for rec in tl.records_only:
        about = getattr(rec, "connection", getattr(rec, "about", None))
        if about != connection or isinstance(rec, TransitionRecord):
            continue
        shown = _marker_text(rec, company=not connection)
        if shown is not None:
            found.setdefault((shown[0], rec.at), []).append(shown[1] + _cause(tl, rec))
    for f in failures:
        o = f.outcome
        if o.at is not None and (o.connection or "") == connection:
            found.setdefault(("failed", o.at), []).append(f"✗ {o.summary}")
    for (kind, at), texts in found.items():
        text = f"{format_duration(at - tl.start)}: " + "; ".join(dict.fromkeys(texts))
        lane = row.lanes.setdefault(LANES[kind], [])
        lane.append(Marker(_num(_pct(at, tl)), kind, text))
    return row


def _ticks(tl: Timeline) -> list[tuple[str, str]]:
    days = max(1, (tl.until - tl.start).days)
    step = next(s for s in TICK_STEPS if days / s <= 12)
    return [(_num(round(100 * d / days, 3)), f"{d}d") for d in range(0, days + 1, step)]


def _failure(outcome: Outcome, tl: Timeline, anchor: str) -> Failure:
    """The failed ``outcome`` with the console's excerpt of the timeline around it."""
    if not outcome.context:
        return Failure(anchor, outcome, None, None)
    around = format_duration(outcome.at - tl.start) if outcome.at else "?"
    excerpt = render_plain(timeline_table(outcome.context, tl, failed=outcome))
    return Failure(anchor, outcome, around, excerpt)


def _view(r: RunResult, anchor: str) -> ScenarioView:
    s, tl, verdict = r.scenario, r.timeline, status(r)
    span = f"{format_instant(s.start)} + {format_duration(s.until)}"
    view = ScenarioView(anchor, r, verdict, BADGES[verdict], span)
    if r.skipped is not None:
        return view
    failed = [o for o in r.outcomes if not o.passed]
    view.failures = [_failure(o, tl, f"{anchor}-x{i + 1}") for i, o in enumerate(failed)]
    links = iter(f.anchor for f in view.failures)
    view.outcomes = [(o, next(links)) for o in failed]
    view.outcomes += [(o, None) for o in r.outcomes if o.passed]
    view.ticks = _ticks(tl)
    connections = list(s.connections)
    if any(isinstance(rec, EventRecord) and rec.connection == "" for rec in tl.records_only):
        connections.append("")  # users joining, leaving, opting out or in
    view.rows = [_row(tl, cid, view.failures) for cid in connections]
    return view


def _state_css() -> str:
    rules = []
    for state, colour in COLOURS.items():
        fill = colour
        if state in HATCHES:
            fill = f"repeating-linear-gradient(135deg,{colour} 0 6px,{HATCHES[state]} 6px 12px)"
        text = TEXT_COLOURS.get(state, "#111827")
        rules.append(f".st-{state.replace(' ', '-')}{{background:{fill};color:{text}}}")
    return "\n".join(rules)


def summary_line(results: Sequence[RunResult], product: str | None = None) -> str:
    """``3 scenarios: 1 passed, 1 failed, 1 skipped`` (``, 1 error`` when a product broke
    the protocol; `` · product NAME`` against a product)."""
    verdicts = [status(r) for r in results]
    n = len(results)
    line = f"{n} scenario{'' if n == 1 else 's'}: " + ", ".join(
        f"{verdicts.count(v)} {v}" for v in ("passed", "failed", "skipped")
    )
    if errors := verdicts.count("error"):
        line += f", {errors} error{'s' if errors > 1 else ''}"
    return line + (f" · product {product}" if product is not None else "")


@cache
def _css() -> str:
    return (resources.files("conntrack") / "templates" / "report" / "page.css").read_text("utf-8")


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("conntrack", "templates"),
        autoescape=True,  # scenario text is data, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def html_report(results: Sequence[RunResult], *, product: str | None = None) -> str:
    """The page of a run; ``product`` (its name) for a run against a product under test."""
    ordered = sorted(results, key=lambda r: ORDER[status(r)])
    views = [_view(r, f"s{i + 1}") for i, r in enumerate(ordered)]
    title = "conntrack report" if product is None else f"conntrack report: {product}"
    return (
        _env()
        .get_template("report/page.html.j2")
        .render(
            title=title,
            summary=summary_line(results, product),
            views=views,
            states=list(COLOURS),
            markers=MARKERS,
            lanes=("events", "emails", "band", "errors", "checks"),
            css=Markup(_css() + _state_css()),
        )
    )
