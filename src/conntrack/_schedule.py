"""The notification schedule of a run: what went out when, to whom, through which channel.

``conntrack notifications SCENARIO`` prints it as a table in the company's local date and
time (``--offsets`` adds each row's offset from the scenario's start), with who each
email left out and why (opted out, left, not yet joined: :mod:`._schedule_people`);
``--by-recipient`` turns it around by person; ``--csv`` and ``--json`` write it; and
``--compare FILE`` replays the scenario under a second policy and lists the differences
date by date (:mod:`._schedule_diff`) before a summary of both: emails sent, the earliest
warning before each expiry, and the connections that expired without any warning. The
rich tables are :mod:`._schedule_view`'s.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ._durations import format_duration, format_instant
from ._lifecycle import TransitionRecord
from ._records import BannerRecord, EmailRecord, EventRecord
from ._schedule_people import (
    LEFT,
    NOT_SENT,
    NOT_YET_JOINED,
    OPTED_OUT,
    Company,
    by_recipient,
    left_out,
    people_dict,
)
from .scenario._runner import RunResult

COLUMNS = (
    "offset",
    "at",
    "local",
    "channel",
    "kind",
    "about",
    "recipients",
    # Added for issue 14 after the columns scripts already read (none removed or moved).
    "date",
    "time",
    "zone",
    "expires_at",
    "opted_out",
    "left",
    "not_yet_joined",
    "not_sent",
    "opted_out_reached",
)


@dataclass(frozen=True)
class Row:
    """One notification: an email send (all its recipients, and who it left out by
    reason), or a change of what the dashboard banner or the settings page shows."""

    offset: str
    """From the scenario's start, exactly (``59d 23h 59m 4s``)."""
    at: str
    """The UTC instant (``2026-07-31T08:59:04Z``)."""
    local: str
    """The company's local date, time and zone (``2026-07-31 10:59 CEST``)."""
    channel: str  # email | banner | settings
    kind: str  # expiry_reminder | invalid | expiring | expired | invalid | none
    about: str
    recipients: str
    """Space-separated user ids (``dashboard`` / ``settings page`` for what a page shows)."""
    date: str = ""
    """The local date (``2026-07-31``)."""
    time: str = ""
    """The local time of day to the minute (``10:59``)."""
    zone: str = ""
    """The zone's abbreviation at that instant (``CEST``)."""
    expires_at: str = ""
    """A reminder's expiry (UTC instant): which expiry it warns of."""
    opted_out: str = ""
    """Members left out because they opted out (space-separated)."""
    left: str = ""
    """People left out because they had left the company."""
    not_yet_joined: str = ""
    """People left out because they joined the company later."""
    not_sent: str = ""
    """Members, opted in, left out for no reason the run knows (never, in the model)."""
    opted_out_reached: str = ""
    """Recipients who had opted out: an invalid email, which an opt-out does not silence
    (unless the policy's ``invalid: {opt_out_silences: true}``)."""

    @property
    def instant(self) -> datetime:
        return datetime.fromisoformat(self.at.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Warning_:
    """How long before one expiry the first warning went out (``None``: no warning)."""

    connection: str
    expired: str
    lead: timedelta | None
    expired_local: str = ""
    """The expiry in the company's local date, time and zone (``2026-07-31 08:59 UTC``)."""


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


def schedule(result: RunResult) -> list[Row]:
    """Every notification of the run, in time order."""
    tl = result.timeline
    tz = ZoneInfo(result.scenario.company.timezone)
    company = Company(result.scenario)
    rows: list[tuple[Row, list[str] | None, dict[str, str]]] = []
    sends: dict[tuple[datetime, str, str], list[str]] = {}
    shown: dict[tuple[str, str], str] = {}
    for rec in tl.records_only:
        if isinstance(rec, EventRecord):
            company.apply(rec)
        elif isinstance(rec, EmailRecord):
            key = (rec.at, rec.kind, rec.about)
            if key not in sends:
                sends[key] = []
                row = _row(rec.at, tl.start, tz, "email", rec.kind, rec.about, "")
                row = replace(row, expires_at=str(rec.detail.get("expires_at", "")))
                why = {u: company.why_not(u) for u in company.everyone}
                rows.append((row, sends[key], why))
            sends[key].append(rec.to)
        elif isinstance(rec, BannerRecord):
            for place, text in (("banner", rec.dashboard), ("settings", rec.settings)):
                shows = rec.shows if text else "none"
                if shown.get((rec.connection, place), "none") != shows:
                    shown[(rec.connection, place)] = shows
                    who = "dashboard" if place == "banner" else "settings page"
                    rows.append(
                        (_row(rec.at, tl.start, tz, place, shows, rec.connection, who), None, {})
                    )
    return [row if to is None else _sent(row, to, company.everyone, why) for row, to, why in rows]


def _sent(row: Row, to: list[str], everyone: Sequence[str], why: dict[str, str]) -> Row:
    out = left_out(everyone, to, why)
    return replace(
        row,
        recipients=" ".join(to),
        opted_out=" ".join(out[OPTED_OUT]),
        left=" ".join(out[LEFT]),
        not_yet_joined=" ".join(out[NOT_YET_JOINED]),
        not_sent=" ".join(out[NOT_SENT]),
        opted_out_reached=" ".join(u for u in to if why.get(u) == OPTED_OUT),
    )


def _row(
    at: datetime, start: datetime, tz: ZoneInfo, channel: str, kind: str, about: str, who: str
) -> Row:
    local = at.astimezone(tz)
    zone = local.tzname() or ""
    return Row(
        offset=format_duration(at - start),
        at=format_instant(at),
        local=f"{local:%Y-%m-%d %H:%M} {zone}",
        channel=channel,
        kind=kind,
        about=about,
        recipients=who,
        date=f"{local:%Y-%m-%d}",
        time=f"{local:%H:%M}",
        zone=zone,
    )


def summarise(result: RunResult) -> Summary:
    """Emails sent, and for every expiry the lead of its first warning."""
    tl = result.timeline
    tz = ZoneInfo(result.scenario.company.timezone)
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
                local = _row(t.at, tl.start, tz, "", "", conn, "").local
                warnings.append(Warning_(conn, format_duration(t.at - tl.start), lead, local))
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
                "expired_local": w.expired_local,
            }
            for w in s.warnings
        ],
        "expired_without_warning": sorted({w.connection for w in s.unwarned}),
    }


def _run_dict(result: RunResult) -> dict[str, object]:
    rows = schedule(result)
    return {
        "summary": _summary_dict(summarise(result)),
        "rows": [asdict(x) for x in rows],
        "people": people_dict(by_recipient(result, rows)),
    }


def to_json(results: Sequence[RunResult]) -> str:
    """One run, or two under two policies (``--compare``, with their differences)."""
    from ._schedule_diff import diff, diff_dict

    first = results[0]
    doc: dict[str, object] = {
        "scenario": first.scenario.name,
        "file": first.scenario.where.file,
        "timezone": first.scenario.company.timezone,
        "runs": [_run_dict(r) for r in results],
    }
    if len(results) == 2:
        doc["differences"] = diff_dict(diff(schedule(results[0]), schedule(results[1])))
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
