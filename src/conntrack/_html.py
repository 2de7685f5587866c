"""The HTML report: one self-contained page, every scenario as bands coloured by state.

No scripts, no external files: inline CSS and SVG, so the page opens anywhere (a CI
artifact, an email attachment). Each connection is a band across the run, coloured by
its state; emails, world events and sync errors are markers above it, each with a
tooltip; the expectations follow as a table of what was expected and what happened. Like
the JSON report it holds no wall-clock figure: the same run gives the same bytes.

A run against a product under test names the product under the title; a scenario it
skipped says why (and has no bands: nothing ran), one where the product broke the
protocol shows the request and the answer above the bands of what happened until then.
An in-process run's page is byte for byte what it was before products existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from ._durations import format_duration, format_instant
from ._lifecycle import TransitionRecord
from ._records import EmailRecord, EventRecord, SyncErrorRecord, Timeline
from ._report import status
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
WIDTH, LEFT, ROW, BAND = 960, 110, 46, 18

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111827}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 2px}
.summary{color:#374151;margin-bottom:12px} .index{columns:2;font-size:13px;margin:0 0 12px}
a{color:#1d4ed8;text-decoration:none}
.pass{color:#15803d;font-weight:600} .fail{color:#b91c1c;font-weight:600}
.scenario{border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin:16px 0}
.meta{color:#6b7280;font-size:12px} .desc{margin:6px 0 8px;color:#374151}
table{border-collapse:collapse;margin-top:8px;width:100%;font-size:13px}
td,th{border-top:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{color:#6b7280;font-weight:500} td.ok{color:#15803d} td.ko{color:#b91c1c}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;
vertical-align:-1px}
svg text{font:11px system-ui,sans-serif;fill:#374151}
"""
PRODUCT_CSS = """.skip{color:#a16207;font-weight:600} .error{color:#7e22ce;font-weight:600}
pre.error{font-weight:400;white-space:pre-wrap;background:#faf5ff;padding:8px;border-radius:4px}
p.skip{font-weight:400}
"""
"""Added only to a product run's page, so an in-process page keeps its bytes."""

BADGES = {
    "passed": ("pass", "PASS"),
    "failed": ("fail", "FAIL"),
    "skipped": ("skip", "SKIPPED"),
    "error": ("error", "ERROR"),
}


def _x(t: datetime, tl: Timeline) -> float:
    span = (tl.until - tl.start).total_seconds() or 1.0
    return LEFT + (WIDTH - LEFT - 10) * (t - tl.start).total_seconds() / span


def _segments(tl: Timeline, connection: str) -> list[tuple[datetime, datetime, str]]:
    first = tl.initial.get(connection)
    segs: list[tuple[datetime, datetime, str]] = []
    if first is None:
        return [(tl.start, tl.until, "not connected")]
    if first[0] > tl.start:
        segs.append((tl.start, first[0], "not connected"))
    state, since = first[1], first[0]
    for t in tl.transitions(connection):
        if t.dest != state:
            segs.append((since, t.at, state))
            state, since = t.dest, t.at
    segs.append((since, tl.until, state))
    return [s for s in segs if s[1] > s[0]]


def _axis(tl: Timeline, height: float) -> list[str]:
    days = max(1, (tl.until - tl.start).days)
    step = next(s for s in (1, 2, 5, 7, 10, 15, 30, 60, 90, 180, 365, 730) if days / s <= 12)
    out = []
    for d in range(0, days + 1, step):
        x = LEFT + (WIDTH - LEFT - 10) * d / days
        out.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{height}" stroke="#f3f4f6"/>')
        out.append(f'<text x="{x:.1f}" y="10" text-anchor="middle">{d}d</text>')
    return out


def _band(tl: Timeline, connection: str, y: float) -> list[str]:
    """One connection's band (``""``: the company's row, its people's events only)."""
    label = connection or "company"
    out = [f'<text x="0" y="{y + BAND - 5}">{escape(label)}</text>']
    for a, b, state in _segments(tl, connection) if connection else []:
        x1, x2 = _x(a, tl), _x(b, tl)
        tip = f"{state}: {format_duration(a - tl.start)} → {format_duration(b - tl.start)}"
        out.append(
            f'<rect x="{x1:.1f}" y="{y}" width="{max(x2 - x1, 0.8):.1f}" height="{BAND}" '
            f'fill="{COLOURS.get(state, "#9ca3af")}"><title>{escape(tip)}</title></rect>'
        )
    marks: dict[tuple[datetime, str], list[str]] = {}
    for rec in tl.records_only:
        about = getattr(rec, "connection", getattr(rec, "about", None))
        if about != connection or isinstance(rec, TransitionRecord):
            continue
        if isinstance(rec, EmailRecord):
            key, text = (rec.at, "email"), f"{rec.kind} email to {rec.to}"
        elif isinstance(rec, EventRecord):
            who = "" if not rec.by else f" {rec.by}" if not connection else f" by {rec.by}"
            key, text = (
                (rec.at, "event"),
                rec.event + who + (f" ({rec.detail})" if rec.detail else ""),
            )
        elif isinstance(rec, SyncErrorRecord):
            key, text = (rec.at, "error"), f"{rec.step} error {rec.status} {rec.code}"
        else:
            continue
        marks.setdefault(key, []).append(text)
    for (at, kind), texts in marks.items():
        x = _x(at, tl)
        tip = escape(f"{format_duration(at - tl.start)}: " + "; ".join(dict.fromkeys(texts)))
        if kind == "email":
            out.append(
                f'<rect x="{x - 4:.1f}" y="{y - 12}" width="8" height="6" fill="#fff" '
                f'stroke="#2563eb"><title>{tip}</title></rect>'
            )
        elif kind == "event":
            out.append(
                f'<path d="M{x:.1f} {y - 13} l4 4 l-4 4 l-4 -4 z" fill="#7c3aed">'
                f"<title>{tip}</title></path>"
            )
        else:
            out.append(
                f'<line x1="{x:.1f}" y1="{y + BAND}" x2="{x:.1f}" y2="{y + BAND + 6}" '
                f'stroke="#dc2626" stroke-width="2"><title>{tip}</title></line>'
            )
    return out


def _svg(tl: Timeline, connections: Sequence[str]) -> str:
    if any(isinstance(r, EventRecord) and r.connection == "" for r in tl.records_only):
        connections = [*connections, ""]  # users joining, leaving, opting out or in
    height = 22 + ROW * len(connections)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img">'
    ]
    parts += _axis(tl, height)
    for i, cid in enumerate(connections):
        parts += _band(tl, cid, 30 + ROW * i)
    parts.append("</svg>")
    return "\n".join(parts)


def _anchor(i: int) -> str:
    return f"s{i + 1}"


def _badge(r: RunResult, lower: bool = False) -> str:
    cls, word = BADGES[status(r)]
    return f'<span class="{cls}">{word.lower() if lower else word}</span>'


def _scenario(r: RunResult, anchor: str) -> str:
    s, tl = r.scenario, r.timeline
    head = (
        f'<section class="scenario" id="{anchor}"><h2>{_badge(r)} {escape(s.name)}</h2>'
        f'<div class="meta">{escape(s.where.file)} · seed {s.seed} · '
        f"{escape(format_instant(s.start))} + {escape(format_duration(s.until))}</div>"
        f'<div class="desc">{escape(s.description.strip())}</div>'
    )
    if r.skipped is not None:
        return f'{head}<p class="skip">skipped: {escape(r.skipped)}</p></section>'
    broke = f'<pre class="error">{escape(r.error)}</pre>' if r.error is not None else ""
    rows = []
    for o in r.outcomes:
        cls, mark = ("ok", "✓") if o.passed else ("ko", "✗")
        rows.append(
            f'<tr><td class="{cls}">{mark}</td><td>{escape(str(o.where))}</td>'
            f"<td>{escape(o.summary)}</td><td>{escape(o.actual) if not o.passed else ''}</td></tr>"
        )
    if rows:
        table = (
            "<table><tr><th></th><th>where</th><th>expectation</th><th>what happened</th></tr>"
            + "".join(rows)
            + "</table>"
        )
    elif r.error is not None:
        table = "<p class='meta'>no expectation was judged: the product broke the protocol</p>"
    else:
        table = "<p class='meta'>no expectations</p>"
    return f"{head}{broke}{_svg(tl, list(s.connections))}{table}</section>"


def html_report(results: Sequence[RunResult], *, product: str | None = None) -> str:
    """The page of a run; ``product`` (its name) for a run against a product under test."""
    passed = sum(r.passed for r in results)
    legend = "".join(
        f'<span><i style="background:{c}"></i>{escape(name)}</span>' for name, c in COLOURS.items()
    )
    legend += (
        '<span><i style="background:#fff;border:1px solid #2563eb"></i>email</span>'
        '<span><i style="background:#7c3aed"></i>event</span>'
        '<span><i style="background:#dc2626"></i>sync error</span>'
    )
    body = "\n".join(_scenario(r, _anchor(i)) for i, r in enumerate(results))
    index = "".join(
        f'<li><a href="#{_anchor(i)}">{escape(r.scenario.name)}</a> '
        + _badge(r, lower=True)
        + "</li>"
        for i, r in enumerate(results)
    )
    title, css, summary = "conntrack report", CSS, f"{passed} of {len(results)} scenarios passed"
    verdicts = [status(r) for r in results]
    if product is not None or {"skipped", "error"} & set(verdicts):
        css += PRODUCT_CSS
    if product is not None:
        title = f"conntrack report: {product}"
        summary = f"{verdicts.count('passed')} of {len(results)} scenarios passed"
        if skipped := verdicts.count("skipped"):
            summary += f", {skipped} skipped"
        if errors := verdicts.count("error"):
            summary += f", {errors} error{'s' if errors > 1 else ''}"
        summary += f" · product {product}"
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title>"
        f"<style>{css}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<div class="summary">{escape(summary)}</div>'
        f'<ul class="index">{index}</ul>'
        f'<div class="legend">{legend}</div>{body}</body></html>\n'
    )
