"""The console report of ``conntrack run``: a header line per scenario, its expectations
and the timeline as a rich table.

One table row per transition, email send (the emails of one send folded into one row),
banner change, sync error and world event, in time order. States are coloured as the
HTML report's bands are (healthy green, expiring yellow, expired or invalid red,
disconnected grey); a failed expectation shows what was expected, what happened, and
the rows around it with a red row where it was checked.

Colour is rich's business: on a terminal the table is coloured, anywhere else (a pipe,
a CI log, pytest's capture) it is plain text without ANSI codes, unless ``--color
always`` or ``FORCE_COLOR`` asks for colour; ``NO_COLOR`` and ``--color never`` turn
it off. Away from a terminal the width is 120 columns (or ``COLUMNS``), so CI logs
neither wrap at 80 nor run on forever. The plain one-line-a-record text of
:func:`~conntrack._report.describe` stays for JUnit's ``system-out``.

Against a product under test a scenario may also be ``SKIPPED`` (with the reason: a
provider the product does not support) or end in an ``ERROR`` (the product broke the
protocol: the request and its answer follow, and with ``-v`` the timeline up to then).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from typing import IO, Literal

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ._durations import format_duration, format_instant
from ._lifecycle import TransitionRecord
from ._records import BannerRecord, EmailRecord, EventRecord, Record, SyncErrorRecord, Timeline
from ._report import group_sends, headline, status
from .scenario._expectations import Outcome
from .scenario._runner import RunResult

ColorMode = Literal["auto", "always", "never"]
COLOR_MODES: tuple[ColorMode, ...] = ("auto", "always", "never")

PLAIN_WIDTH = 120
"""Width when the output is not a terminal (and ``COLUMNS`` does not say otherwise)."""
WIDE = 140
"""From this width on, the table also shows each row's UTC instant."""
DETAIL_CHARS = 120
"""Provider messages and banner texts are cut here: the row says what, not everything."""

STATE_STYLES = {
    "connected": "green",
    "reconnected": "green",
    "expiring": "yellow",
    "expired": "red",
    "invalid": "red",
    "disconnected": "bright_black",
}
KIND_STYLES = {
    "email": "blue",
    "event": "magenta",
    "banner": "cyan",
    "error": "red",
}
FAILED = "bold red"
HEAD_STYLES = {
    "passed": "bold green",
    "failed": FAILED,
    "skipped": "bold yellow",
    "error": "bold magenta",
}


def make_console(color: ColorMode = "auto", file: IO[str] | None = None) -> Console:
    """A console for ``conntrack run``'s output (``file`` defaults to stdout at print time).

    ``auto`` leaves the choice to rich, which colours a terminal and honours
    ``FORCE_COLOR``, ``NO_COLOR`` and ``TTY_COMPATIBLE``; ``always`` colours even a pipe
    (a command-line flag overrides ``NO_COLOR``); ``never`` writes no ANSI code at all.
    """
    if color not in COLOR_MODES:
        raise ValueError(f"color must be one of {', '.join(COLOR_MODES)}, got {color!r}")
    target = file if file is not None else sys.stdout
    try:
        tty = target.isatty()
    except (AttributeError, ValueError):
        tty = False
    width = None if tty or os.environ.get("COLUMNS", "").isdigit() else PLAIN_WIDTH
    return Console(
        file=file,
        force_terminal={"auto": None, "always": True, "never": False}[color],
        no_color=False if color == "always" else None,
        width=width,
        # Scenario names, provider messages and banner texts are data, never markup.
        markup=False,
        emoji=False,
        highlight=False,
    )


def render_plain(renderable: RenderableType, width: int = PLAIN_WIDTH) -> str:
    """``renderable`` as plain text (no ANSI codes, no trailing spaces): pytest's output."""
    console = Console(
        file=io.StringIO(),
        width=width,
        force_terminal=False,
        color_system=None,
        markup=False,
        emoji=False,
        highlight=False,
    )
    return _rendered(console, renderable)


def _rendered(console: Console, renderable: RenderableType) -> str:
    with console.capture() as capture:
        # crop=False: a header or expectation line longer than the width is left whole.
        console.print(renderable, crop=False)
    return "\n".join(line.rstrip() for line in capture.get().splitlines())


def _state(state: str | None) -> Text:
    return Text(state or "?", style=STATE_STYLES.get(state or "", ""))


def _cut(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def _row(rec: Record | tuple[EmailRecord, ...]) -> tuple[str, Text, Text]:
    """(connection, what, detail) of one row."""
    if isinstance(rec, tuple):
        first = rec[0]
        to = ", ".join(e.to for e in rec)
        return first.about, Text("email", KIND_STYLES["email"]), Text(f"{first.kind} to {to}")
    if isinstance(rec, TransitionRecord):
        detail = Text.assemble(_state(rec.source), " → ", _state(rec.dest))
        if rec.reason:
            detail.append(f" ({rec.reason})", style=STATE_STYLES.get(rec.dest, ""))
        if rec.cause:
            detail.append(f"  ← {_cut(rec.cause)}", style="dim")
        return rec.connection, Text(rec.trigger, "bold"), detail
    if isinstance(rec, EmailRecord):  # a single email outside a send (not from group_sends)
        return rec.about, Text("email", KIND_STYLES["email"]), Text(f"{rec.kind} to {rec.to}")
    if isinstance(rec, EventRecord):
        detail = Text(rec.event + (f" by {rec.by}" if rec.by else ""))
        if rec.detail:
            detail.append(f"  ({rec.detail})", style="dim")
        return rec.connection, Text("event", KIND_STYLES["event"]), detail
    if isinstance(rec, BannerRecord):
        if rec.shows == "none" and rec.settings:  # a working connection's note
            detail = Text(f"settings: {_cut(rec.settings)}")
        elif rec.shows == "none":
            detail = Text("cleared", style="dim")
        else:
            detail = Text.assemble("shows ", _state(rec.shows))
            if rec.dashboard:
                detail.append(f": {_cut(rec.dashboard)}")
        return rec.connection, Text("banner", KIND_STYLES["banner"]), detail
    assert isinstance(rec, SyncErrorRecord)
    detail = Text(f"HTTP {rec.status} {rec.code} → {rec.action}: {_cut(rec.message)}")
    return rec.connection, Text(f"{rec.step} error", KIND_STYLES["error"]), detail


def timeline_table(
    records: Sequence[Record],
    timeline: Timeline,
    *,
    wide: bool = False,
    failed: Outcome | None = None,
) -> Table:
    """The records as a table, one row per record (per send for emails), in time order.

    With ``failed``, a red row says what that expectation wanted, placed after
    everything that happened at its instant (where the check looked).
    """
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        header_style="dim",
    )
    table.add_column("offset", justify="right", no_wrap=True)
    if wide:
        table.add_column("UTC", no_wrap=True, style="dim")
    table.add_column("connection", no_wrap=True)
    table.add_column("what", no_wrap=True)
    table.add_column("detail", overflow="fold")

    def add(at_text: str, utc: str, cells: tuple[str, Text, Text], style: str = "") -> None:
        table.add_row(at_text, *([utc] if wide else []), *cells, style=style)

    pending = failed if failed is not None and failed.at is not None else None
    for item in group_sends(records):
        at = item[0].at if isinstance(item, tuple) else item.at
        if pending is not None and pending.at is not None and at > pending.at:
            add(*_marker(pending, timeline), style=FAILED)
            pending = None
        cells = _row(item)
        event = timeline.cause_of(item[0] if isinstance(item, tuple) else item)
        if event is not None:  # what a world event's cause: led to
            cells[2].append(f"  (cause: {event.detail})", style="dim")
        add(format_duration(at - timeline.start), format_instant(at), cells)
    if pending is not None:
        add(*_marker(pending, timeline), style=FAILED)
    return table


def _marker(failed: Outcome, timeline: Timeline) -> tuple[str, str, tuple[str, Text, Text]]:
    """The red row of a failed expectation: (offset, UTC, cells)."""
    assert failed.at is not None
    detail = Text.assemble(failed.expected, (f"  (actual: {failed.actual})", "dim"))
    return (
        format_duration(failed.at - timeline.start),
        format_instant(failed.at),
        (failed.connection or "", Text("✗ expected"), detail),
    )


def _line(*parts: str | tuple[str, str]) -> Text:
    """One line that never wraps: grep finds it whole, whatever the width."""
    text = Text.assemble(*parts)
    text.no_wrap = True
    text.overflow = "ignore"
    return text


def _indent(renderable: RenderableType, columns: int) -> Padding:
    return Padding(renderable, (0, 0, 0, columns), expand=False)


def header(result: RunResult) -> Text:
    """``PASS  file  name  (120d in 0.35 s, 5/5 expectations)``: the line people grep.
    ``SKIPPED  file  name  (why)`` and ``ERROR  file  name  (…)`` against a product."""
    word, what, detail = headline(result)
    return _line((word, HEAD_STYLES[status(result)]), f"  {what}  ", (detail, "dim"))


def error_view(error: str) -> Group:
    """What the product broke, one line of the error's text a line (its message, the
    request, the answer), as written: an answer's body is shown whole."""
    lines = error.splitlines() or [""]
    return Group(
        *(_line("  ", (line, "magenta" if i == 0 else "")) for i, line in enumerate(lines))
    )


def outcome_view(outcome: Outcome, timeline: Timeline, *, wide: bool = False) -> Group:
    """One expectation; a failed one with expected, actual and the timeline around it."""
    if outcome.passed:
        return Group(_line("  ", ("✓", "green"), f" {outcome.where}: {outcome.summary}"))
    parts: list[RenderableType] = [
        _line("  ", ("✗", FAILED), " ", (f"{outcome.where}: {outcome.summary}", "bold")),
        _line("      expected: ", (outcome.expected, "green")),
        _line("      actual:   ", (outcome.actual, "red")),
    ]
    if outcome.context:
        at = format_duration(outcome.at - timeline.start) if outcome.at else "?"
        parts.append(_line(f"      timeline around {at}:"))
        table = timeline_table(outcome.context, timeline, wide=wide, failed=outcome)
        parts.append(_indent(table, 8))
    return Group(*parts)


def result_view(result: RunResult, *, verbose: bool = False, wide: bool = False) -> Group:
    """One scenario as ``conntrack run`` shows it: the header line; the expectations if
    any failed (all of them with ``verbose``); the whole timeline with ``verbose``. A
    skipped scenario is its header line; an error adds what the product broke."""
    parts: list[RenderableType] = [header(result)]
    if result.skipped is not None:
        return Group(*parts)
    if result.error is not None:
        parts.append(error_view(result.error))
    if verbose or not result.passed:
        parts.extend(outcome_view(o, result.timeline, wide=wide) for o in result.outcomes)
    if verbose:
        parts.append(_line("  timeline:"))
        tl = result.timeline
        parts.append(_indent(timeline_table(tl.records_only, tl, wide=wide), 4))
    return Group(*parts)


def print_result(console: Console, result: RunResult, *, verbose: bool = False) -> None:
    """Print one scenario; away from a terminal, as plain lines without trailing spaces."""
    view = result_view(result, verbose=verbose, wide=console.width >= WIDE)
    if console.is_terminal:
        console.print(view, crop=False)
    else:
        console.file.write(_rendered(console, view) + "\n")
