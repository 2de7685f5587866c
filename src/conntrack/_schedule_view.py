"""The notification schedule as a product manager reads it: rich tables for the console.

- :func:`schedule_table`: one row per send or page change, the company's local date and
  time first (a date once per day), who got each email and who was left out and why;
  ``--offsets`` adds the offset from the scenario's start (what an expectation's ``at:``
  says), written ``50d - 56s`` rather than ``49d 23h 59m 4s`` when a row falls just short
  of a whole day (a Facebook token lives 5 183 944 s, 56 s short of 60 days);
- :func:`people_table`: the same sends by person (``--by-recipient``);
- :func:`diff_table`: two policies' differences, date by date (``--compare``);
- :func:`summary_table`: emails sent, earliest warnings, unwarned expiries per policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

from rich import box
from rich.table import Table
from rich.text import Text

from ._durations import format_duration, parse_duration
from ._schedule import Row, Summary
from ._schedule_diff import (
    ADDED,
    MOVED,
    RECIPIENTS,
    REMOVED,
    WINDOW_ADDED,
    WINDOW_MOVED,
    WINDOW_REMOVED,
    Change,
    Diff,
)
from ._schedule_people import Person, left_out_text

_SHORT_OF_A_DAY = timedelta(hours=1)
"""An offset this close below a whole day reads as ``50d - 56s``."""

_STYLES = {"invalid": "red", "expired": "red", "expiry_reminder": "yellow", "expiring": "yellow"}
_CHANGE_STYLES = {
    ADDED: "green",
    WINDOW_ADDED: "green",
    REMOVED: "red",
    WINDOW_REMOVED: "red",
    MOVED: "yellow",
    WINDOW_MOVED: "yellow",
    RECIPIENTS: "yellow",
}


def offset_text(offset: str) -> str:
    """An offset for people: ``50d - 56s`` for ``49d 23h 59m 4s``, else as written."""
    d = parse_duration(offset)
    short = timedelta(days=d.days + 1) - d
    if d.days and d.seconds and short < _SHORT_OF_A_DAY:
        return f"{d.days + 1}d - {format_duration(short)}"
    return offset


def day_text(local: str) -> str:
    """``Tue 2026-07-21`` for the local ``2026-07-21 09:00 CEST``."""
    return f"{date.fromisoformat(local[:10]):%a %Y-%m-%d}"


def time_text(local: str) -> str:
    """``09:00 CEST`` for the local ``2026-07-21 09:00 CEST``."""
    return local[11:]


def lead_text(lead: timedelta | None) -> str:
    """How long before the expiry the first warning went, for people: ``10d - 56s
    before`` for 9d 23h 59m 4s, as offsets read (:func:`offset_text`)."""
    return "no warning" if lead is None else f"{offset_text(format_duration(lead))} before"


def _columns(table: Table, names: Sequence[str], offsets: bool) -> None:
    table.add_column("date", no_wrap=True)
    table.add_column("time", no_wrap=True)
    if offsets:
        table.add_column("offset", justify="right", no_wrap=True)
    for name in names:
        # What an email or window is stays on one line; people's lists wrap.
        table.add_column(
            name,
            no_wrap=name in ("offset", "channel", "kind", "email", "change", "what"),
            min_width=21 if name.startswith("left out") else None,
        )


def _when(local: str, offset: str, last_day: str, offsets: bool) -> list[str]:
    """The date (only on a day's first row), the time, and the offset if asked for."""
    day = day_text(local)
    cells = [day if day != last_day else "", time_text(local)]
    return [*cells, offset_text(offset)] if offsets else cells


def _pages_merged(rows: Sequence[Row]) -> list[tuple[Row, str]]:
    """Rows with their channel as shown: a banner and a settings message that change
    alike at one instant are one row (``banner + settings``); the CSV and JSON keep both."""
    out: list[tuple[Row, str]] = []
    for r in rows:
        if out and r.channel == "settings":
            prev, _ = out[-1]
            same = (prev.channel, prev.at, prev.kind, prev.about) == (
                "banner",
                r.at,
                r.kind,
                r.about,
            )
            if same:
                out[-1] = (prev, "banner + settings")
                continue
        out.append((r, r.channel))
    return out


def schedule_table(rows: Sequence[Row], title: str = "", *, offsets: bool = False) -> Table:
    """The schedule: local date and time, channel, kind, about, recipients, left out."""
    table = Table(box=box.SIMPLE_HEAD, title=title or None, title_justify="left")
    _columns(table, ("channel", "kind", "about", "recipients", "left out (why)"), offsets)
    if not any(r.channel == "email" and left_out_text(r) for r in rows):
        table.columns[-1].min_width = None  # nobody left out: no room kept for it
    last = ""
    for r, channel in _pages_merged(rows):
        shown = "cleared" if r.kind == "none" else r.kind
        kind = Text(shown, style=_STYLES.get(r.kind, ""))
        table.add_row(
            *_when(r.local, r.offset, last, offsets),
            channel,
            kind,
            r.about,
            r.recipients if r.channel == "email" else "",
            left_out_text(r, "\n"),
        )
        last = day_text(r.local)
    if not rows:
        table.add_row(
            "", "", *([""] if offsets else []), "", "nothing was sent or shown", "", "", ""
        )
    return table


def people_table(people: Sequence[Person], title: str = "", *, offsets: bool = False) -> Table:
    """Each person: every email send, whether it reached them and, if not, why."""
    table = Table(box=box.SIMPLE_HEAD, title=title or None, title_justify="left")
    table.add_column("person")
    _columns(table, ("email", "about", "gets it?"), offsets)
    for p in people:
        who = f"{p.user} ({p.name})" if p.name else p.user
        count = f"gets {p.received} of {len(p.sends)} sends"
        heads = [Text(who, style="bold"), Text(count)]
        if len(p.sends) < 2:
            heads = [Text(f"{who}\n{count}")]
        if not p.sends:
            table.add_row(
                heads[0], "", "", *([""] if offsets else []), "no email in the run", "", ""
            )
        last = ""
        for i, s in enumerate(p.sends):
            if s.sent:
                despite = p.user in s.row.opted_out_reached.split()
                got = Text("yes, despite the opt-out" if despite else "yes", style="green")
            else:
                got = Text(f"no: {s.why}", style="red")
            table.add_row(
                heads[i] if i < len(heads) else "",
                *_when(s.row.local, s.row.offset, last, offsets),
                Text(s.row.kind, style=_STYLES.get(s.row.kind, "")),
                s.row.about,
                got,
            )
            last = day_text(s.row.local)
        table.add_section()
    return table


def _at(local: str) -> str:
    """``Tue 21 Jul 09:00`` (the zone is the table's; the year is the date column's)."""
    return f"{date.fromisoformat(local[:10]):%a %d %b} {local[11:16]}"


def change_text(c: Change) -> str:
    """What one difference means, in words (times in the company's zone)."""
    if c.change == MOVED:
        return f"{c.shift}\n(was {_at(c.was_local)})\nto {c.recipients}"
    if c.change == ADDED:
        return f"new\nto {c.recipients}"
    if c.change == REMOVED:
        return f"no longer sent\n(went to {c.was_recipients})"
    if c.change == RECIPIENTS:
        now, was = c.recipients.split(), c.was_recipients.split()
        parts = []
        if gained := [u for u in now if u not in was]:
            parts.append("now also " + " ".join(gained))
        if lost := [u for u in was if u not in now]:
            parts.append("no longer " + " ".join(lost))
        return "\n".join(parts)
    if c.change == WINDOW_ADDED:
        return f"shown {_until_text(c.until_local)}\n(not shown before)"
    if c.change == WINDOW_REMOVED:
        return f"no longer shown\n(was from {_at(c.was_local)} {_until_text(c.was_until_local)})"
    starts = f"starts {c.shift}\n(was {_at(c.was_local)})" if c.shift else "starts as before"
    ends = (
        f"ends as before\n({_at(c.until_local) if c.until_local else 'when the run ends'})"
        if c.until_local == c.was_until_local
        else f"{_until_text(c.until_local)} (was {_until_text(c.was_until_local)})"
    )
    return f"{starts}\n{ends}"


def _until_text(local: str) -> str:
    return f"until {_at(local)}" if local else "until the run ends"


def _merged(changes: Sequence[Change]) -> list[tuple[Change, str]]:
    """Changes with what they are about; a banner and a settings message that change
    alike are one row (``expiring banner and settings message``)."""
    out: list[tuple[Change, str]] = []
    for c in changes:
        name = c.kind if c.channel == "email" else f"{c.kind} {_PLACES[c.channel]}"
        if out and c.channel == "settings" and out[-1][0] == replace(c, channel="banner"):
            out[-1] = (out[-1][0], f"{c.kind} banner + settings")
            continue
        out.append((c, name))
    return out


_PLACES = {"banner": "banner", "settings": "settings message"}


def diff_table(d: Diff, title: str = "", *, offsets: bool = False) -> Table:
    """The differences, date by date: where each one happens under the compared policy
    (a removal: where it used to be), what it is and what it means."""
    table = Table(box=box.SIMPLE_HEAD, title=title or None, title_justify="left")
    _columns(table, ("change", "what", "about", "how"), offsets)
    last = ""
    for c, name in _merged(d.changes):
        change = Text(c.change, style=_CHANGE_STYLES.get(c.change, ""))
        what = Text(name, style=_STYLES.get(c.kind, ""))
        table.add_row(
            *_when(c.when_local, c.offset, last, offsets), change, what, c.about, change_text(c)
        )
        last = day_text(c.when_local)
    if not d.changes:
        table.add_row("", "", *([""] if offsets else []), "none", "the same schedule", "", "")
    table.caption = (
        f"unchanged: {d.same_sends} email send{'s' if d.same_sends != 1 else ''}, "
        f"{d.same_windows} banner/settings window{'s' if d.same_windows != 1 else ''}"
    )
    table.caption_justify = "left"
    return table


def summary_table(summaries: Sequence[Summary], *, offsets: bool = False) -> Table:
    """One column per policy: emails sent, earliest warnings, unwarned expiries (each
    expiry at its local date and time, or its offset with ``offsets``)."""
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("")
    for s in summaries:
        table.add_column(f"policy {s.policy}", justify="left")
    table.add_row("email sends", *[str(s.sends) for s in summaries])
    table.add_row("emails (one per recipient)", *[str(s.emails) for s in summaries])
    kinds = sorted({k for s in summaries for k in s.by_kind})
    for kind in kinds:
        table.add_row(f"  {kind} sends", *[str(s.by_kind.get(kind, 0)) for s in summaries])
    expiries = summaries[0].warnings
    for i, w in enumerate(expiries):
        cells = [lead_text(s.warnings[i].lead) if i < len(s.warnings) else "?" for s in summaries]
        when = w.expired if offsets else f"{day_text(w.expired_local)} {time_text(w.expired_local)}"
        table.add_row(f"earliest reminder: {w.connection} expiring at {when}", *cells)
    if not expiries:
        table.add_row("earliest reminder", *["no expiry in the run" for _ in summaries])
    table.add_row(
        "expired without a warning",
        *[", ".join(sorted({w.connection for w in s.unwarned})) or "none" for s in summaries],
    )
    return table
