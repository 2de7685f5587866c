"""Pictures of a population's daily series: a PNG (matplotlib) and an HTML page (our SVG).

Both show the same three panels over the run's days:

1. the live base — the connections that exist that day, by state at its end, stacked —
   with the connections that arrived and were disconnected during the run in its title
   (not as bands: connections yet to arrive and disconnected ones are no part of the
   base, and stacked they made it look smaller and the picture grow dark over a year);
2. emails sent that day, by kind, as stacked bars;
3. reconnects that day as bars, and data-gap days that day as a line (right-hand axis).

The PNG is drawn by matplotlib on its Agg canvas, created directly (not through pyplot,
so no global backend or figure state is touched), under matplotlib's default style
(a user's ``matplotlibrc`` cannot change it), at a fixed size and resolution and without
the "Software" text chunk: the same series gives the same bytes. matplotlib is imported
only by :func:`write_png`, so ``import conntrack`` does not pay for it.

The HTML page is one self-contained file: inline CSS and SVG drawn here, no scripts, no
external URLs (it works as a CI artifact or an email attachment), with a tooltip per day,
the summary table, the run's facts given by the caller (seed, transport, workers, wall
time…) and the daily figures behind the pictures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from html import escape
from pathlib import Path
from typing import Any

from ._series import DAY, EMAIL_KINDS, STATE_COLUMNS, Series

#: Colours of the states: the same as the scenario report's bands (``_html.COLOURS``).
STATE_COLOURS = {
    "not_connected": "#e5e7eb",
    "connected": "#22c55e",
    "reconnected": "#14b8a6",
    "expiring": "#f59e0b",
    "expired": "#6b7280",
    "invalid": "#ef4444",
    "disconnected": "#1f2937",
}
#: Every state column, bottom up: healthy states first, then the dead ones, then those
#: that are no part of the base (not yet arrived, disconnected).
STACK = (
    "connected",
    "reconnected",
    "expiring",
    "expired",
    "invalid",
    "disconnected",
    "not_connected",
)
#: What the state panel stacks: the live base, the connections that exist that day.
LIVE = STACK[:5]
EMAIL_COLOURS = {"expiry_reminder": "#2563eb", "invalid": "#dc2626"}
RECONNECT_COLOUR = "#14b8a6"
GAP_COLOUR = "#7c3aed"

#: The PNG: inches and dots per inch (1200 x 1000 pixels).
PNG_SIZE = (12.0, 10.0)
PNG_DPI = 100

assert set(STACK) == set(STATE_COLUMNS) == set(STATE_COLOURS)
assert set(EMAIL_KINDS) == set(EMAIL_COLOURS)


def _gap_days(series: Series) -> list[float]:
    return [s / DAY for s in series.gap_seconds]


def live_base(series: Series) -> list[int]:
    """Connections that exist at each day's end: arrived and not disconnected."""
    return [sum(series.states[s][d] for s in LIVE) for d in range(series.days)]


def _n(v: float) -> str:
    return f"{v:,.0f}".replace(",", " ")


def base_text(series: Series) -> str:
    """The live base's size and what came and went, in a line."""
    live, days = live_base(series), max(series.days, 1)
    came, went = sum(series.arrivals), sum(series.disconnections)
    first, last = (live[0], live[-1]) if live else (0, 0)
    return (
        f"live base {_n(first)} on day one, {_n(last)} on the last day; arrived "
        f"{_n(came)} ({came / days:.1f} a day), disconnected {_n(went)} ({went / days:.1f} a day)"
    )


# -- PNG ---------------------------------------------------------------------------------


def write_png(series: Series, path: Path, title: str) -> None:
    """Write the three panels of ``series`` as a PNG of 1200 x 1000 pixels to ``path``."""
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    start = series.start.date()
    # Day d covers [start + d, start + d + 1): one more edge than days. Every panel is
    # drawn as filled stairs between cumulative series: bars a day wide, without the cost
    # of one patch per bar.
    edges = [start + timedelta(days=d) for d in range(series.days + 1)]

    def stack(ax: Any, columns: Sequence[tuple[str, Sequence[float], str]]) -> None:
        lower = [0.0] * series.days
        handles = []
        for label, values, colour in columns:
            upper = [a + b for a, b in zip(lower, values, strict=True)]
            handles.append(
                ax.stairs(
                    upper, edges, baseline=lower, fill=True, color=colour, label=label, linewidth=0
                )
            )
            lower = upper
        ax.set_ylim(0, max(max(lower, default=0) * 1.05, 1))
        # Legend top-down in the order of the stack.
        ax.legend(
            handles=handles[::-1],
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            frameon=False,
        )

    with matplotlib.style.context("default"):
        fig = Figure(figsize=PNG_SIZE, dpi=PNG_DPI, layout="constrained")
        FigureCanvasAgg(fig)
        states, emails, other = fig.subplots(3, 1, sharex=True, height_ratios=(3, 2, 2))
        fig.suptitle(title)

        stack(states, [(s.replace("_", " "), series.states[s], STATE_COLOURS[s]) for s in LIVE])
        states.set_ylabel("live connections")
        states.set_title(
            f"live connections by state at the end of each day — {base_text(series)}",
            loc="left",
            fontsize=10,
        )

        stack(
            emails, [(k.replace("_", " "), series.emails[k], EMAIL_COLOURS[k]) for k in EMAIL_KINDS]
        )
        emails.set_ylabel("emails")
        emails.set_title("emails sent per day, by kind", loc="left", fontsize=10)

        bars = other.stairs(
            series.reconnects,
            edges,
            fill=True,
            color=RECONNECT_COLOUR,
            label="reconnects",
            linewidth=0,
        )
        other.set_ylim(0, max(max(series.reconnects, default=0) * 1.05, 1))
        other.set_ylabel("reconnects")
        other.set_title("reconnects and data-gap days per day", loc="left", fontsize=10)
        gaps = other.twinx()
        line = gaps.stairs(
            _gap_days(series),
            edges,
            color=GAP_COLOUR,
            linewidth=1.2,
            label="data-gap days",
            baseline=None,
        )
        gaps.set_ylim(0, max(max(_gap_days(series), default=0.0) * 1.05, 1))
        gaps.set_ylabel("data-gap days")
        other.legend(
            handles=[bars, line],
            loc="upper left",
            bbox_to_anchor=(1.06, 1.0),
            fontsize=8,
            frameon=False,
        )

        locator = AutoDateLocator()
        other.xaxis.set_major_locator(locator)
        other.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        other.set_xlim(edges[0], edges[-1])
        for ax in (states, emails, other):
            ax.grid(axis="y", color="#e5e7eb", linewidth=0.6)
            ax.set_axisbelow(True)
        # No "Software" chunk and no time stamp: the same series, the same bytes.
        fig.savefig(path, format="png", dpi=PNG_DPI, metadata={"Software": None})


# -- HTML --------------------------------------------------------------------------------

WIDTH, LEFT, RIGHT, PANEL, TOP, BOTTOM = 960, 64, 64, 210, 12, 26

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111827}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:24px 0 4px}
.meta{color:#6b7280;font-size:13px;margin-bottom:8px}
table{border-collapse:collapse;font-size:13px;margin-top:6px}
td,th{border-top:1px solid #e5e7eb;padding:3px 10px 3px 6px;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums} th{color:#6b7280;font-weight:500}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;
vertical-align:-1px}
.facts{display:flex;gap:48px;flex-wrap:wrap}
svg text{font:11px system-ui,sans-serif;fill:#374151}
svg .hover rect{fill:transparent} svg .hover rect:hover{fill:rgba(17,24,39,.08)}
details{margin-top:20px} summary{cursor:pointer;color:#1d4ed8}
"""


def _nice_step(top: float, ticks: int = 6) -> float:
    """The smallest round step (1, 2, 2.5 or 5 times a power of ten) that reaches ``top``
    in at most ``ticks`` steps; whole numbers for a ``top`` of 1 or more."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    step = next((m * power for m in (1, 2, 2.5, 5) if m * power >= raw), 10 * power)
    if top >= 1 and step != int(step):
        step = math.ceil(step)
    return step


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}".rstrip("0").rstrip(".")


class _Panel:
    """One SVG panel: the day axis across, one value axis up (two with ``right``)."""

    def __init__(self, series: Series, top: float, right_top: float | None = None) -> None:
        self.days = max(series.days, 1)
        self.start = series.start.date()
        self.w = WIDTH - LEFT - RIGHT
        self.h = PANEL - TOP - BOTTOM
        self.step = _nice_step(top)
        self.top = max(self.step * -(-top // self.step), self.step)
        self.rstep = self.rtop = 0.0
        if right_top is not None:
            self.rstep = _nice_step(right_top)
            self.rtop = max(self.rstep * -(-right_top // self.rstep), self.rstep)
        self.parts: list[str] = []

    def x(self, day: float) -> float:
        return LEFT + self.w * day / self.days

    def y(self, v: float, right: bool = False) -> float:
        top = self.rtop if right else self.top
        return TOP + self.h * (1 - v / top)

    def axes(self, label: str, right_label: str = "") -> None:
        p = self.parts
        v = 0.0
        while v <= self.top + 1e-9:
            y = self.y(v)
            p.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                f'stroke="#f3f4f6"/>'
            )
            p.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
            v += self.step
        if self.rtop:
            v = 0.0
            while v <= self.rtop + 1e-9:
                y = self.y(v, right=True)
                p.append(
                    f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}" fill="{GAP_COLOUR}">'
                    f"{_fmt(v)}</text>"
                )
                v += self.rstep
        base = TOP + self.h
        p.append(
            f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#9ca3af"/>'
        )
        for day, text in self.month_ticks():
            x = self.x(day)
            p.append(
                f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#9ca3af"/>'
            )
            p.append(f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{text}</text>')
        p.append(
            f'<text x="12" y="{TOP + self.h / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {TOP + self.h / 2:.1f})">{escape(label)}</text>'
        )
        if right_label:
            x = WIDTH - 10
            p.append(
                f'<text x="{x}" y="{TOP + self.h / 2:.1f}" text-anchor="middle" '
                f'fill="{GAP_COLOUR}" transform="rotate(90 {x} {TOP + self.h / 2:.1f})">'
                f"{escape(right_label)}</text>"
            )

    def month_ticks(self) -> list[tuple[int, str]]:
        """The first day of each month in the run (every k-th, at most 13 labels)."""
        firsts = []
        for d in range(self.days + 1):
            day = self.start + timedelta(days=d)
            if day.day == 1:
                firsts.append((d, day))
        if not firsts or (len(firsts) < 2 and self.days < 60):
            return [
                (d, (self.start + timedelta(days=d)).strftime("%d %b"))
                for d in range(0, self.days + 1, max(1, self.days // 6))
            ]
        k = 1
        while len(firsts) / k > 13:
            k = next(n for n in (2, 3, 6, 12, 24, 60, 120) if n > k)
        out = []
        for i, (d, day) in enumerate(firsts[::k]):
            out.append(
                (d, day.strftime("%b %Y") if i == 0 or day.month == 1 else day.strftime("%b"))
            )
        return out

    def area(self, lower: Sequence[float], upper: Sequence[float], colour: str) -> None:
        """A stepped band between two cumulative series (one value per day)."""
        pts = []
        for d, v in enumerate(upper):
            y = self.y(v)
            pts.append(f"{self.x(d):.1f},{y:.1f} {self.x(d + 1):.1f},{y:.1f}")
        for d in range(len(lower) - 1, -1, -1):
            y = self.y(lower[d])
            pts.append(f"{self.x(d + 1):.1f},{y:.1f} {self.x(d):.1f},{y:.1f}")
        if any(a != b for a, b in zip(lower, upper, strict=True)):
            self.parts.append(f'<polygon points="{" ".join(pts)}" fill="{colour}"/>')

    def bars(self, lower: Sequence[float], upper: Sequence[float], colour: str) -> None:
        """One bar a day from ``lower`` to ``upper`` (days with nothing draw nothing)."""
        d_path = []
        width = self.w / self.days
        for d, (a, b) in enumerate(zip(lower, upper, strict=True)):
            if b > a:
                y0, y1 = self.y(b), self.y(a)
                d_path.append(f"M{self.x(d):.1f} {y0:.1f}h{width:.2f}V{y1:.1f}h{-width:.2f}z")
        if d_path:
            self.parts.append(f'<path d="{"".join(d_path)}" fill="{colour}"/>')

    def line(self, values: Sequence[float], colour: str) -> None:
        """A stepped line on the right-hand axis."""
        pts = []
        for d, v in enumerate(values):
            y = self.y(v, right=True)
            pts.append(f"{self.x(d):.1f},{y:.1f} {self.x(d + 1):.1f},{y:.1f}")
        if pts:
            self.parts.append(
                f'<polyline points="{" ".join(pts)}" fill="none" '
                f'stroke="{colour}" stroke-width="1.5"/>'
            )

    def hover(self, tips: Sequence[str]) -> None:
        """A transparent column a day whose tooltip holds that day's figures."""
        width = self.w / self.days
        self.parts.append('<g class="hover">')
        for d, tip in enumerate(tips):
            self.parts.append(
                f'<rect x="{self.x(d):.1f}" y="{TOP}" width="{width:.2f}" '
                f'height="{self.h}"><title>{escape(tip)}</title></rect>'
            )
        self.parts.append("</g>")

    def svg(self, label: str) -> str:
        return (
            f'<svg width="{WIDTH}" height="{PANEL}" viewBox="0 0 {WIDTH} {PANEL}" '
            f'role="img" aria-label="{escape(label)}">' + "".join(self.parts) + "</svg>"
        )


def _cumulative(columns: Sequence[Sequence[float]], days: int) -> list[list[float]]:
    """Running sums: ``out[i]`` is the top of column ``i`` (``out[-1]`` is all zeros)."""
    acc = [0.0] * days
    out = []
    for col in columns:
        acc = [a + b for a, b in zip(acc, col, strict=True)]
        out.append(acc)
    return out


def _legend(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="legend">'
        + "".join(f'<span><i style="background:{c}"></i>{escape(name)}</span>' for name, c in items)
        + "</div>"
    )


def _stacked_svg(
    series: Series,
    dates: Sequence[str],
    columns: Sequence[tuple[str, list[int], str]],
    *,
    bars: bool,
    label: str,
    title: str,
    extra: Sequence[tuple[str, list[int]]] = (),
) -> str:
    """A panel of ``(name, daily values, colour)`` stacked in order, as areas or bars;
    ``extra`` ``(name, daily values)`` are in the tooltips only."""
    days = series.days
    tops = _cumulative([values for _, values, _ in columns], days)
    panel = _Panel(series, max(tops[-1], default=0))
    panel.axes(label)
    lower = [0.0] * days
    for (_, _, colour), upper in zip(columns, tops, strict=True):
        (panel.bars if bars else panel.area)(lower, upper, colour)
        lower = upper
    panel.hover(
        [
            f"{dates[d]} (day {d}): "
            + ", ".join(f"{n} {values[d]}" for n, values, *_ in (*columns, *extra))
            for d in range(days)
        ]
    )
    return panel.svg(title)


def _states_svg(series: Series, dates: Sequence[str]) -> str:
    columns = [(s, series.states[s], STATE_COLOURS[s]) for s in LIVE]
    extra = [("arrivals", series.arrivals), ("disconnections", series.disconnections)]
    return _stacked_svg(series, dates, columns, bars=False, label="live connections",
                        title="live connections by state at the end of each day",
                        extra=extra)  # fmt: skip


def _emails_svg(series: Series, dates: Sequence[str]) -> str:
    columns = [(k, series.emails[k], EMAIL_COLOURS[k]) for k in EMAIL_KINDS]
    return _stacked_svg(series, dates, columns, bars=True, label="emails",
                        title="emails sent per day, by kind")  # fmt: skip


def _other_svg(series: Series, dates: Sequence[str]) -> str:
    days = series.days
    gaps = _gap_days(series)
    panel = _Panel(series, max(series.reconnects, default=0), max(gaps, default=0.0))
    panel.axes("reconnects", "data-gap days")
    panel.bars([0.0] * days, series.reconnects, RECONNECT_COLOUR)
    panel.line(gaps, GAP_COLOUR)
    panel.hover(
        [
            f"{dates[d]} (day {d}): reconnects {series.reconnects[d]}, data-gap days {gaps[d]:.2f}"
            for d in range(days)
        ]
    )
    return panel.svg("reconnects and data-gap days per day")


def _flat(summary: Mapping[str, Any], prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for k, v in summary.items():
        if isinstance(v, Mapping):
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


def _kv_table(rows: Sequence[tuple[str, object]]) -> str:
    def cell(v: object) -> str:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return f"<td>{escape(str(v))}</td>"
        return f'<td class="n">{_fmt(float(v))}</td>'

    return (
        "<table>" + "".join(f"<tr><th>{escape(k)}</th>{cell(v)}</tr>" for k, v in rows) + "</table>"
    )


def _daily_table(series: Series) -> str:
    rows = series.rows()
    if not rows:
        return "<p class='meta'>no days</p>"
    head = "".join(f'<th class="n">{escape(k)}</th>' for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{escape(str(v))}</td>' for v in row.values()) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def html_page(series: Series, title: str, meta: Mapping[str, object]) -> str:
    """One self-contained HTML page: the three panels, the summary, ``meta`` and the days.

    ``meta`` is what the caller knows about the run (seed, transport, workers, wall
    time…), shown as given. The page holds nothing else that varies between runs.
    """
    start: date = series.start.date()
    dates = [(start + timedelta(days=d)).isoformat() for d in range(series.days)]
    first, last = (dates[0], dates[-1]) if dates else ("", "")
    state_legend = _legend([(s.replace("_", " "), STATE_COLOURS[s]) for s in reversed(LIVE)])
    email_legend = _legend([(k.replace("_", " "), EMAIL_COLOURS[k]) for k in EMAIL_KINDS])
    other_legend = _legend([("reconnects", RECONNECT_COLOUR), ("data-gap days", GAP_COLOUR)])
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<div class="meta">{series.companies} companies, {series.connections} connections, '
        f"{series.days} days: {first} to {last}</div>"
        "<h2>Live connections by state</h2>"
        '<div class="meta">the connections that exist at the end of each day (arrived, not '
        f"disconnected), stacked; hover for the figures. {escape(base_text(series))}</div>"
        f"{state_legend}{_states_svg(series, dates)}"
        "<h2>Emails</h2>"
        '<div class="meta">sent per day, by kind, stacked</div>'
        f"{email_legend}{_emails_svg(series, dates)}"
        "<h2>Reconnects and data gaps</h2>"
        '<div class="meta">reconnects per day (left axis); days without data per day, '
        "summed over connections (right axis)</div>"
        f"{other_legend}{_other_svg(series, dates)}"
        '<div class="facts"><div><h2>Summary</h2>'
        f"{_kv_table(_flat(series.summary()))}</div>"
        f"<div><h2>Run</h2>{_kv_table(list(meta.items()))}</div></div>"
        f"<details><summary>Daily figures ({series.days} days)</summary>"
        f"{_daily_table(series)}</details>"
        "</body></html>\n"
    )
