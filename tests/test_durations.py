from datetime import UTC, datetime, timedelta

import pytest

from conntrack._durations import format_duration, format_instant, parse_duration, parse_instant
from conntrack._exceptions import DurationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20d", timedelta(days=20)),
        ("20d 6h", timedelta(days=20, hours=6)),
        ("20d6h", timedelta(days=20, hours=6)),
        ("1w 2d", timedelta(days=9)),
        ("90m", timedelta(minutes=90)),
        ("5183944s", timedelta(seconds=5183944)),
        ("1.5h", timedelta(minutes=90)),
        (3600, timedelta(hours=1)),
        ("45", timedelta(seconds=45)),
    ],
)
def test_parse_duration(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "d", "20x", "20d ago", "-5d", -3, True, "6h 20"])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(DurationError, match="duration"):
        parse_duration(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "d", [timedelta(days=20, hours=6), timedelta(seconds=5183944), timedelta(0)]
)
def test_format_round_trips(d: timedelta) -> None:
    assert parse_duration(format_duration(d)) == d


def test_format_duration_reads_like_scenarios() -> None:
    assert format_duration(timedelta(days=59, hours=23, minutes=59, seconds=4)) == "59d 23h 59m 4s"


def test_instants() -> None:
    t = parse_instant("2026-01-05T10:00:00+01:00")
    assert t == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert format_instant(t) == "2026-01-05T09:00:00Z"
    with pytest.raises(DurationError, match="no time zone"):
        parse_instant("2026-01-05T09:00:00")
    with pytest.raises(DurationError, match="expected an instant"):
        parse_instant("tomorrow")


@pytest.mark.parametrize("text", [86400000000000.0, "99999999999d", float("inf"), "36501d"])
def test_absurdly_long_durations_are_an_error_not_an_overflow(text: object) -> None:
    with pytest.raises(DurationError, match="at most 100 years"):
        parse_duration(text)  # type: ignore[arg-type]
