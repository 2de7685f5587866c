"""The daily series of a population run: emails by kind, connections by state,
reconnects, data-gap days, arrivals and disconnections. Whole numbers (seconds for
gaps) so that two engines, or two worker layouts, give byte-identical output."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from .._lifecycle import STATES

DAY = 86400
_US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICRO


EMAIL_KINDS = ("expiry_reminder", "invalid")
STATE_COLUMNS = ("not_connected", *STATES)


class Series:
    """Daily series; state counts and gaps are kept as difference arrays while a run adds
    connections (O(changes) per connection, not O(days)) and summed up when read."""

    def __init__(self, start: datetime, days: int) -> None:
        self.start = start
        self.days = days
        self.emails: dict[str, list[int]] = {kind: [0] * days for kind in EMAIL_KINDS}
        self.reconnects: list[int] = [0] * days
        self.arrivals: list[int] = [0] * days
        """Connections that connected for the first time that day."""
        self.disconnections: list[int] = [0] * days
        """Connections their company disconnected that day (churn, abandoned)."""
        self.connections = 0
        self.companies = 0
        self._t0 = start.timestamp()
        self._state_diff = {state: [0] * (days + 1) for state in STATE_COLUMNS}
        self._gap_edges = [0] * days  # seconds of partial days
        self._gap_full = [0] * (days + 1)  # difference array of whole days in a gap
        self._cache: tuple[dict[str, list[int]], list[int]] | None = None

    @property
    def states(self) -> dict[str, list[int]]:
        """Connections in each state at each day's end."""
        return self._materialise()[0]

    @property
    def gap_seconds(self) -> list[int]:
        """Seconds without data in each day, over all connections."""
        return self._materialise()[1]

    def _materialise(self) -> tuple[dict[str, list[int]], list[int]]:
        if self._cache is None:
            states = {k: list(accumulate(v[: self.days])) for k, v in self._state_diff.items()}
            full = accumulate(self._gap_full[: self.days])
            gaps = [edge + DAY * n for edge, n in zip(self._gap_edges, full, strict=True)]
            self._cache = (states, gaps)
        return self._cache

    # Instants come as aware datetimes or, from the direct engine, as whole microseconds
    # since the epoch (``_us`` methods): ``at.timestamp()`` is exactly ``us / 10**6``
    # (a correctly rounded division either way), so both give the same days and seconds.

    def day(self, at: datetime) -> int:
        return int((at.timestamp() - self._t0) // DAY)

    def day_us(self, at: int) -> int:
        return int((at / _US - self._t0) // DAY)

    def email(self, at: datetime, kind: str, count: int) -> None:
        self.email_us(_micros(at), kind, count)

    def email_us(self, at: int, kind: str, count: int) -> None:
        d = int((at / _US - self._t0) // DAY)
        if 0 <= d < self.days and count:
            self.emails[kind][d] += count

    def reconnect(self, at: datetime) -> None:
        self.reconnect_us(_micros(at))

    def reconnect_us(self, at: int) -> None:
        d = int((at / _US - self._t0) // DAY)
        if 0 <= d < self.days:
            self.reconnects[d] += 1

    def gap(self, start: datetime, end: datetime | None) -> None:
        """A stretch without data, cut into the days it covers."""
        self.gap_us(_micros(start), None if end is None else _micros(end))

    def gap_us(self, start: int, end: int | None) -> None:
        """:meth:`gap` in microseconds."""
        self._cache = None
        horizon = self.days * DAY
        a = max(0, int(start / _US - self._t0))
        b = min(horizon, int((end / _US if end is not None else self._t0 + horizon) - self._t0))
        if a >= b:
            return
        da, db = a // DAY, b // DAY
        if da == db:
            self._gap_edges[da] += b - a
            return
        self._gap_edges[da] += (da + 1) * DAY - a
        if da + 1 < db:
            self._gap_full[da + 1] += 1
            self._gap_full[db] -= 1
        if db < self.days:
            self._gap_edges[db] += b - db * DAY

    def lifeline(self, changes: Iterable[tuple[datetime, str]]) -> None:
        """One connection's states (changes in time order): counted at each day's end."""
        self.lifeline_us([(_micros(at), new) for at, new in changes])

    def lifeline_us(self, changes: Iterable[tuple[int, str]]) -> None:
        """:meth:`lifeline` in microseconds."""
        self._cache = None
        state, d = "not_connected", 0
        t0, days = self._t0, self.days
        for at, new in changes:
            day = int((at / _US - t0) // DAY)
            if (state == "not_connected" or new == "disconnected") and 0 <= day < days:
                (self.arrivals if state == "not_connected" else self.disconnections)[day] += 1
            until = min(max(day, 0), days)
            # Days that ended before this change saw the old state at their end.
            if until > d:
                diff = self._state_diff[state]
                diff[d] += 1
                diff[until] -= 1
                d = until
            state = new
        if d < days:
            diff = self._state_diff[state]
            diff[d] += 1
            diff[days] -= 1

    def merge(self, other: Series) -> None:
        self._cache = None
        for kind in EMAIL_KINDS:
            self.emails[kind] = [
                a + b for a, b in zip(self.emails[kind], other.emails[kind], strict=True)
            ]
        for state in STATE_COLUMNS:
            mine, theirs = self._state_diff[state], other._state_diff[state]
            self._state_diff[state] = [a + b for a, b in zip(mine, theirs, strict=True)]
        self.reconnects = [a + b for a, b in zip(self.reconnects, other.reconnects, strict=True)]
        self.arrivals = [a + b for a, b in zip(self.arrivals, other.arrivals, strict=True)]
        self.disconnections = [
            a + b for a, b in zip(self.disconnections, other.disconnections, strict=True)
        ]
        self._gap_edges = [a + b for a, b in zip(self._gap_edges, other._gap_edges, strict=True)]
        self._gap_full = [a + b for a, b in zip(self._gap_full, other._gap_full, strict=True)]
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
            row["arrivals"] = self.arrivals[d]
            row["disconnections"] = self.disconnections[d]
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
            "arrivals": sum(self.arrivals),
            "disconnections": sum(self.disconnections),
            "data_gap_days": round(sum(self.gap_seconds) / DAY, 2),
            "at_the_end": last,
            "peak_expired": max(self.states["expired"], default=0),
            "peak_invalid": max(self.states["invalid"], default=0),
        }

    def to_json(self, **meta: object) -> str:
        doc = {**meta, "summary": self.summary(), "days": self.rows()}
        return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
