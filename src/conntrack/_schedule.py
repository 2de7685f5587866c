"""The notification schedule of a run: what went out when, to whom, through which channel.

``conntrack notifications SCENARIO`` prints it as a table (``--csv``, ``--json``), and with
``--compare FILE`` replays the scenario under a second policy and sets the two side by
side: emails sent, the earliest warning before each expiry, and the connections that
expired without any warning.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rich import box
from rich.table import Table
from rich.text import Text

from ._durations import format_duration, format_instant
from ._lifecycle import TransitionRecord
from ._records import BannerRecord, EmailRecord
from .scenario._runner import RunResult

COLUMNS = ("offset", "at", "local", "channel", "kind", "about", "recipients")


@dataclass(frozen=True)
class Row:
    """One notification: an email send (all its recipients), or a change of what the
    dashboard banner or the settings page shows."""

    offset: str
    at: str
    local: str
    channel: str  # email | banner | settings
    kind: str  # expiry_reminder | invalid | expiring | expired | invalid | none
    about: str
    recipients: str


@dataclass(frozen=True)
class Warning_:
    """How long before one expiry the first warning went out (``None``: no warning)."""

    connection: str
    expired: str
    lead: timedelta | None


@dataclass(frozen=True)
class Summary:
    policy: str
    sends: int
    emails: int
    by_kind: dict[str, int]
    warnings: tuple[Warning_, ...]

    @property
    def unwarned(self) -> list[Warning_]:
        return [w for w in self.warnings if w.lead is None]


def _local(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def schedule(result: RunResult) -> list[Row]:
    """Every notification of the run, in time order."""
    tl = result.timeline
    tz = ZoneInfo(result.scenario.company.timezone)
    rows: list[tuple[Row, list[str] | None]] = []
    sends: dict[tuple[datetime, str, str], list[str]] = {}
    shown: dict[tuple[str, str], str] = {}
    for rec in tl.records_only:
        if isinstance(rec, EmailRecord):
            key = (rec.at, rec.kind, rec.about)
            if key not in sends:
                sends[key] = []
                rows.append(
                    (_row(rec.at, tl.start, tz, "email", rec.kind, rec.about, ""), sends[key])
                )
            sends[key].append(rec.to)
        elif isinstance(rec, BannerRecord):
            for place, text in (("banner", rec.dashboard), ("settings", rec.settings)):
                shows = rec.shows if text else "none"
                if shown.get((rec.connection, place), "none") != shows:
                    shown[(rec.connection, place)] = shows
                    who = "dashboard" if place == "banner" else "settings page"
                    rows.append(
                        (_row(rec.at, tl.start, tz, place, shows, rec.connection, who), None)
                    )
    return [
        row if to is None else Row(**{**asdict(row), "recipients": " ".join(to)})
        for row, to in rows
    ]


def _row(
    at: datetime, start: datetime, tz: ZoneInfo, channel: str, kind: str, about: str, who: str
) -> Row:
    return Row(format_duration(at - start), format_instant(at), _local(at, tz), channel, kind,
               about, who)  # fmt: skip


def summarise(result: RunResult) -> Summary:
    """Emails sent, and for every expiry the lead of its first warning."""
    tl = result.timeline
    emails = tl.emails()
    by_kind: dict[str, int] = {}
    for kind in sorted({e.kind for e in emails}):
        by_kind[kind] = len({(e.at, e.about) for e in emails if e.kind == kind})
    warnings = []
    for conn in result.scenario.connections:
        since = tl.start
        for t in tl.transitions(conn):
            if t.dest == "expired":
                warned = [e.at for e in tl.emails("expiry_reminder", conn) if since <= e.at <= t.at]
                lead = t.at - min(warned) if warned else None
                warnings.append(Warning_(conn, format_duration(t.at - tl.start), lead))
            if _restarts(t):
                since = t.at
    return Summary(
        policy=result.policy.name if result.policy else "default",
        sends=len({(e.at, e.kind, e.about) for e in emails}),
        emails=len(emails),
        by_kind=by_kind,
        warnings=tuple(warnings),
    )


def _restarts(t: TransitionRecord) -> bool:
    """A new token: warnings before it were about another expiry."""
    return t.trigger in ("reconnect", "add")


def to_csv(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([getattr(row, c) for c in COLUMNS])
    return out.getvalue()


def _summary_dict(s: Summary) -> dict[str, object]:
    return {
        "policy": s.policy,
        "sends": s.sends,
        "emails": s.emails,
        "sends_by_kind": s.by_kind,
        "expiries": [
            {
                "connection": w.connection,
                "expired": w.expired,
                "earliest_warning": format_duration(w.lead) if w.lead is not None else None,
            }
            for w in s.warnings
        ],
        "expired_without_warning": sorted({w.connection for w in s.unwarned}),
    }


def to_json(results: Sequence[RunResult]) -> str:
    """One run, or two under two policies (``--compare``)."""
    first = results[0]
    doc: dict[str, object] = {
        "scenario": first.scenario.name,
        "file": first.scenario.where.file,
        "timezone": first.scenario.company.timezone,
        "runs": [
            {"summary": _summary_dict(summarise(r)), "rows": [asdict(x) for x in schedule(r)]}
            for r in results
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def lead_text(lead: timedelta | None) -> str:
    return "no warning" if lead is None else f"{format_duration(lead)} before"


def schedule_table(rows: Sequence[Row], title: str = "") -> Table:
    """The schedule as a rich table: when, local time, channel, kind, about, recipients."""
    table = Table(box=box.SIMPLE_HEAD, title=title or None, title_justify="left")
    for name, justify in (
        ("when", "right"),
        ("local time", "left"),
        ("channel", "left"),
        ("kind", "left"),
        ("about", "left"),
        ("recipients", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        style = (
            "red"
            if r.kind in ("invalid", "expired")
            else ("yellow" if r.kind in ("expiry_reminder", "expiring") else "")
        )
        table.add_row(r.offset, r.local, r.channel, Text(r.kind, style=style), r.about,
                      r.recipients)  # fmt: skip
    if not rows:
        table.add_row("", "", "", "nothing was sent or shown", "", "")
    return table


def summary_table(summaries: Sequence[Summary]) -> Table:
    """One column per policy: emails sent, earliest warnings, unwarned expiries."""
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
        table.add_row(f"earliest reminder: {w.connection} expiring at {w.expired}", *cells)
    if not expiries:
        table.add_row("earliest reminder", *["no expiry in the run" for _ in summaries])
    table.add_row(
        "expired without a warning",
        *[", ".join(sorted({w.connection for w in s.unwarned})) or "none" for s in summaries],
    )
    return table
