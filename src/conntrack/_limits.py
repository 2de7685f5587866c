"""The limits every input file is held to, in one place (docs/qa/limits.md).

A file from a careless or hostile author must end in ``file:line: message`` within a
second and a few tens of megabytes, never in a hang, a traceback or the kernel's OOM
killer. Each limit is far above what a real file needs (of the 54 scenarios in
``scenarios/``, ``tests/`` and ``bench/`` the largest is 1.4 KB, nests 4 levels, has 9
timeline events and syncs a connection at most 35 040 times), and each message says
how to stay inside it.

Measured here: validating a scenario of 98 000 values (14 000 events, 750 KB) takes
1.7 s and 104 MB RSS in all; a run replays about 29 000 syncs a second (under 3 500 with
``--exact-sync``), so 100 000 syncs of one connection cost ~3.5 s (~30 s exact).
"""

from __future__ import annotations

from datetime import UTC, datetime

MAX_FILE_BYTES = 1_000_000
"""A YAML file holds at most 1 MB (the largest real scenario is 1.4 KB)."""

MAX_DEPTH = 50
"""Lists and mappings nest at most 50 deep (a scenario needs 4)."""

MAX_NODES = 100_000
"""A file expands to at most 100 000 YAML values (keys, scalars, lists, mappings),
counting an alias ``*a`` as everything its anchor ``&a`` holds, each time it is used:
this is what stops the "billion laughs" alias bomb."""

MAX_EVENTS = 10_000
"""A scenario's timeline holds at most 10 000 events, and its ``expect`` at most 10 000
expectations (a population run is the tool for a crowd)."""

MAX_INTEGER = 2**63 - 1
"""A whole number in a file lies within ±(2^63 - 1): beyond that Python turns it into
text only slowly (and refuses past 4 300 digits)."""

MAX_SECONDS = 100 * 365 * 86400
"""No duration, and no instant after a run's start, is more than 100 years (36500d)."""

MAX_DAYS = MAX_SECONDS // 86400
"""A population runs at most 36 500 days (100 years), like a scenario's ``until``."""

FIRST_START = datetime(2000, 1, 1, tzinfo=UTC)
LAST_START = datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)
"""A run starts between 2000 and 2199. Then the start, plus a run of at most 100 years,
plus a token lifetime and every other duration of at most 100 years each, stays far
inside ``datetime``'s years 1..9999; and the fakes, which date an account's posts up
to 30 days before "now", never step below year 1."""

MAX_SYNCS = 100_000
"""A connection syncs at most 100 000 times in a run (``until / sync_every``): every
6 h for 68 years, every minute for 69 days. More takes minutes to replay."""

MAX_RUN_SYNCS = 5_000_000
"""A run syncs at most 5 000 000 times in all (``until / sync_every`` summed over its
connections), about three minutes of replay: 200 Pages synced every 6 h for a year are
292 000, an agency's 5 000 Pages every 6 h for a quarter 1 825 000."""

MAX_CONNECTIONS = 5_000
"""A scenario has at most 5 000 connections. Each is an OAuth flow and a task (a
thousand take ~12 s of CPU to replay 30 days, linearly: bench/bench_actors.py), but an
agency with thousands of Pages is a real customer, and 2 000 Pages ran before this limit
existed; a population run is the tool for a crowd. (5 000 connections written one a
line also stay inside MAX_FILE_BYTES and MAX_NODES.)"""


def start_problem(start: datetime) -> str | None:
    """Why ``start`` is outside the years a run may start in (``None``: it is not)."""
    if FIRST_START <= start <= LAST_START:
        return None
    return (
        f"must be between {FIRST_START.year} and {LAST_START.year} (a run may start in "
        f"those years only, so that it, plus token lifetimes of up to 100 years, stays "
        f"inside the calendar); got year {start.year}: write a start like "
        "2026-01-05T09:00:00Z"
    )


def syncs_problem(run_seconds: float, sync_seconds: float) -> str | None:
    """Why syncing every ``sync_seconds`` over ``run_seconds`` is too many syncs, with the
    shortest ``sync_every`` that fits (``None`` when it fits)."""
    if sync_seconds <= 0 or run_seconds / sync_seconds <= MAX_SYNCS:
        return None
    count = int(run_seconds // sync_seconds)
    least = -(-int(run_seconds) // MAX_SYNCS)  # ceil: the shortest interval that fits
    return (
        f"makes {count} syncs per connection; at most {MAX_SYNCS} are allowed: sync every "
        f"{_seconds(least)} or less often, or shorten the run"
    )


def run_syncs_problem(run_seconds: float, sync_seconds: list[float]) -> str | None:
    """Why connections syncing every ``sync_seconds`` over ``run_seconds`` make too many
    syncs in all, with the interval that would fit if each synced at it."""
    total = sum(run_seconds / s for s in sync_seconds if s > 0)
    if total <= MAX_RUN_SYNCS:
        return None
    least = -(-int(run_seconds) * len(sync_seconds) // MAX_RUN_SYNCS)
    return (
        f"make {int(total)} syncs in all; at most {MAX_RUN_SYNCS} are allowed in one run: "
        f"have them each sync every {_seconds(least)} or less often, shorten the run, or "
        "split the connections over several scenarios"
    )


def _seconds(n: int) -> str:
    # Local to avoid an import cycle with _durations (which imports these limits).
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        q, n = divmod(n, size)
        if q:
            parts.append(f"{q}{unit}")
    if n or not parts:
        parts.append(f"{n}s")
    return " ".join(parts)
