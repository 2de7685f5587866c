"""Durations (``20d 6h``, ``90m``, ``5183944s``) and instants, as scenarios write them.

A duration is one or more ``<number><unit>`` parts separated by optional spaces, units
``w d h m s`` (weeks, days, hours, minutes, seconds); a bare number is seconds. An
instant is an ISO 8601 date-time with a UTC offset (``2026-01-05T09:00:00Z``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ._exceptions import DurationError
from ._limits import MAX_SECONDS

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([wdhms])")


def _bounded(seconds: float, text: object) -> timedelta:
    # No duration is longer than 100 years: a run or a lifetime beyond that is a typo.
    if seconds != seconds or seconds > MAX_SECONDS:  # NaN, inf, or absurdly long
        raise DurationError(f"a duration must be at most 100 years (36500d), got {text!r}")
    return timedelta(seconds=seconds)


def parse_duration(text: str | int | float) -> timedelta:
    """Parse ``"20d 6h"`` (or a number of seconds) into a ``timedelta``."""
    if isinstance(text, bool):
        raise DurationError(f"expected a duration like '20d 6h', got {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise DurationError(f"a duration cannot be negative, got {text!r}")
        # min() first: float() of a huge int overflows.
        return _bounded(float(min(text, MAX_SECONDS + 1)), text)
    s = str(text).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return _bounded(float(s), text)
    pos, total, seen = 0, 0.0, False
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise DurationError(
                f"expected a duration like '20d 6h' (units w, d, h, m, s), got {text!r}"
            )
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos, seen = m.end(), True
        while pos < len(s) and s[pos] == " ":
            pos += 1
    if not seen:
        raise DurationError(f"expected a duration like '20d 6h', got {text!r}")
    return _bounded(total, text)


def format_duration(d: timedelta) -> str:
    """The inverse of :func:`parse_duration`: ``timedelta(days=20, hours=6)`` → ``20d 6h``."""
    secs = d.total_seconds()
    sign = "-" if secs < 0 else ""
    secs = abs(secs)
    whole = int(secs)
    frac = secs - whole
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        n, whole = divmod(whole, size)
        if n:
            parts.append(f"{n}{unit}")
    if whole or frac or not parts:
        s = f"{whole + frac:g}" if frac else str(whole)
        parts.append(f"{s}s")
    return sign + " ".join(parts)


def parse_instant(text: str | datetime) -> datetime:
    """Parse an ISO 8601 instant with an offset; the result is in UTC."""
    if isinstance(text, datetime):
        dt = text
    else:
        try:
            dt = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
        except ValueError:
            raise DurationError(
                f"expected an instant like '2026-01-05T09:00:00Z', got {text!r}"
            ) from None
    if dt.tzinfo is None:
        raise DurationError(
            f"the instant {text!r} has no time zone: add 'Z' for UTC or an offset like +01:00"
        )
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-02:00 is in year 10000 in UTC
        raise DurationError(
            f"the instant {text!r} is outside the calendar (years 1 to 9999) in UTC"
        ) from None


def format_instant(dt: datetime) -> str:
    """``2026-01-05T09:00:00Z`` — the one way instants are written in reports."""
    dt = dt.astimezone(UTC)
    s = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    return s.replace("+00:00", "Z")
