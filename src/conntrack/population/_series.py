"""The daily series of a population run: emails by kind, connections by state,
reconnects and data-gap days. Whole numbers (seconds for gaps) so that two engines, or
two worker layouts, give byte-identical output."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .._lifecycle import STATES

DAY = 86400
EMAIL_KINDS = ("expiry_reminder", "invalid")
STATE_COLUMNS = ("not_connected", *STATES)


@dataclass
class Series:
    start: datetime
    days: int
    emails: dict[str, list[int]] = field(default_factory=dict)
    states: dict[str, list[int]] = field(default_factory=dict)
    reconnects: list[int] = field(default_factory=list)
    gap_seconds: list[int] = field(default_factory=list)
    connections: int = 0
    companies: int = 0

    def __post_init__(self) -> None:
        for kind in EMAIL_KINDS:
            self.emails.setdefault(kind, [0] * self.days)
        for state in STATE_COLUMNS:
            self.states.setdefault(state, [0] * self.days)
        if not self.reconnects:
            self.reconnects = [0] * self.days
        if not self.gap_seconds:
            self.gap_seconds = [0] * self.days
        self._t0 = self.start.timestamp()

    def day(self, at: datetime) -> int:
        return int((at.timestamp() - self._t0) // DAY)

    def email(self, at: datetime, kind: str, count: int) -> None:
        d = self.day(at)
        if 0 <= d < self.days and count:
            self.emails[kind][d] += count

    def reconnect(self, at: datetime) -> None:
        d = self.day(at)
        if 0 <= d < self.days:
            self.reconnects[d] += 1

    def gap(self, start: datetime, end: datetime | None) -> None:
        """A stretch without data, cut into the days it covers."""
        a = int(start.timestamp() - self._t0)
        b = int((end.timestamp() if end else self._t0 + self.days * DAY) - self._t0)
        b = min(b, self.days * DAY)
        while a < b:
            d = a // DAY
            edge = min(b, (d + 1) * DAY)
            if d >= 0:
                self.gap_seconds[d] += edge - a
            a = edge

    def lifeline(self, changes: Iterable[tuple[datetime, str]]) -> None:
        """One connection's states (changes in time order): counted at each day's end."""
        state, d = "not_connected", 0
        for at, new in changes:
            until = min(self.day(at) if at.timestamp() >= self._t0 else 0, self.days)
            # Days that ended before this change saw the old state at their end.
            while d < until:
                self.states[state][d] += 1
                d += 1
            state = new
        while d < self.days:
            self.states[state][d] += 1
            d += 1

    def merge(self, other: Series) -> None:
        for kind in EMAIL_KINDS:
            self.emails[kind] = [
                a + b for a, b in zip(self.emails[kind], other.emails[kind], strict=True)
            ]
        for state in STATE_COLUMNS:
            self.states[state] = [
                a + b for a, b in zip(self.states[state], other.states[state], strict=True)
            ]
        self.reconnects = [a + b for a, b in zip(self.reconnects, other.reconnects, strict=True)]
        self.gap_seconds = [a + b for a, b in zip(self.gap_seconds, other.gap_seconds, strict=True)]
        self.connections += other.connections
        self.companies += other.companies

    # -- output ----------------------------------------------------------------------

    def rows(self) -> list[dict[str, object]]:
        out = []
        for d in range(self.days):
            row: dict[str, object] = {
                "day": d,
                "date": (self.start + timedelta(days=d)).strftime("%Y-%m-%d"),
            }
            for kind in EMAIL_KINDS:
                row[f"emails_{kind}"] = self.emails[kind][d]
            for state in STATE_COLUMNS:
                row[state] = self.states[state][d]
            row["reconnects"] = self.reconnects[d]
            row["data_gap_days"] = round(self.gap_seconds[d] / DAY, 4)
            out.append(row)
        return out

    def to_csv(self) -> str:
        rows = self.rows()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["day"],
                                lineterminator="\n")  # fmt: skip
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()

    def summary(self) -> dict[str, object]:
        last = {s: self.states[s][-1] if self.days else 0 for s in STATE_COLUMNS}
        return {
            "companies": self.companies,
            "connections": self.connections,
            "days": self.days,
            "emails": {k: sum(v) for k, v in self.emails.items()},
            "reconnects": sum(self.reconnects),
            "data_gap_days": round(sum(self.gap_seconds) / DAY, 2),
            "at_the_end": last,
            "peak_expired": max(self.states["expired"], default=0),
            "peak_invalid": max(self.states["invalid"], default=0),
        }

    def to_json(self, **meta: object) -> str:
        doc = {**meta, "summary": self.summary(), "days": self.rows()}
        return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
