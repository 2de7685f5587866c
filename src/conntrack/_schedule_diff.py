"""Two schedules of one scenario, under two policies, as a date-by-date difference.

``conntrack notifications SCENARIO --compare FILE`` answers a product manager's question
"what changes for our users if we switch to this policy?" with what changes, not with
two long tables to set side by side by eye:

- an email send **added** or **removed**;
- a send **moved**: the same email (kind, connection, and for a reminder the same expiry
  it warns of) on another date or time, with how much earlier or later;
- a send whose **recipients** changed at the same instant (an opt-out that now silences
  the invalid email);
- a banner or settings-message **window** (what the page shows from when until when:
  ``expiring``, ``expired``, ``invalid``) that starts or ends elsewhere, appears or goes.

Sends that stay as they were are counted, not listed. Pairs are matched in time order
within one kind of email about one connection (one expiry), so "the 10-day reminder is
now the 14-day one" reads as one move, not as one removal and one addition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta

from ._durations import format_duration
from ._schedule import Row

ADDED, REMOVED, MOVED, RECIPIENTS = "added", "removed", "moved", "recipients"
WINDOW_ADDED, WINDOW_REMOVED, WINDOW_MOVED = "window added", "window removed", "window moved"


@dataclass(frozen=True)
class Change:
    """One difference between the first policy's schedule (``was``) and the compared
    one's (``at``): instants in UTC and in the company's local time."""

    change: str
    channel: str
    kind: str
    about: str
    at: str = ""
    """Under the compared policy (``""``: removed)."""
    local: str = ""
    was: str = ""
    """Under the first policy (``""``: added)."""
    was_local: str = ""
    shift: str = ""
    """``4 days earlier``, ``1h later`` (moves only)."""
    until_local: str = ""
    """A window's end under the compared policy (``""``: open until the run ends)."""
    was_until_local: str = ""
    recipients: str = ""
    was_recipients: str = ""
    offset: str = ""
    """``at`` (or ``was``) as an offset from the scenario's start."""

    @property
    def when_local(self) -> str:
        """Where the change is listed: under the compared policy, else the first's."""
        return self.local or self.was_local


@dataclass(frozen=True)
class Diff:
    changes: tuple[Change, ...]
    same_sends: int
    """Email sends at the same instant with the same recipients under both policies."""
    same_windows: int


def shift_text(delta: timedelta) -> str:
    """``4 days earlier``, ``1 day later``, ``3h later`` (``same time`` for none)."""
    if not delta:
        return "same time"
    way = "earlier" if delta < timedelta(0) else "later"
    size = abs(delta)
    if size % timedelta(days=1) == timedelta(0):
        days = size.days
        return f"{days} day{'s' if days != 1 else ''} {way}"
    return f"{format_duration(size)} {way}"


def _pairs(
    was: Sequence[Row], now: Sequence[Row]
) -> tuple[list[tuple[Row, Row]], list[Row], list[Row]]:
    """Rows at the same instant first, then the rest matched in time order."""
    left, right = list(was), list(now)
    same = []
    for a in list(left):
        b = next((b for b in right if b.at == a.at), None)
        if b is not None:
            same.append((a, b))
            left.remove(a)
            right.remove(b)
    moved = list(zip(left, right, strict=False))
    n = len(moved)
    return same + moved, left[n:], right[n:]


def _group(rows: Iterable[Row], key: tuple[str, ...]) -> dict[tuple[str, ...], list[Row]]:
    out: dict[tuple[str, ...], list[Row]] = {}
    for r in rows:
        out.setdefault(tuple(getattr(r, k) for k in key), []).append(r)
    return out


def _email_changes(was: Sequence[Row], now: Sequence[Row]) -> tuple[list[Change], int]:
    key = ("kind", "about", "expires_at")
    a_groups = _group((r for r in was if r.channel == "email"), key)
    b_groups = _group((r for r in now if r.channel == "email"), key)
    changes, same = [], 0
    for k in [*a_groups, *(k for k in b_groups if k not in a_groups)]:
        pairs, removed, added = _pairs(a_groups.get(k, []), b_groups.get(k, []))
        for a, b in pairs:
            if a.at == b.at and a.recipients == b.recipients:
                same += 1
                continue
            change = RECIPIENTS if a.at == b.at else MOVED
            shift = "" if a.at == b.at else shift_text(b.instant - a.instant)
            changes.append(_change(change, b, a, shift=shift))
        changes += [_change(REMOVED, None, a) for a in removed]
        changes += [_change(ADDED, b, None) for b in added]
    return changes, same


def _change(
    change: str,
    now: Row | None,
    was: Row | None,
    *,
    shift: str = "",
    until: str = "",
    was_until: str = "",
) -> Change:
    row = now or was
    assert row is not None
    return Change(
        change=change,
        channel=row.channel,
        kind=row.kind,
        about=row.about,
        at=now.at if now else "",
        local=now.local if now else "",
        was=was.at if was else "",
        was_local=was.local if was else "",
        shift=shift,
        until_local=until,
        was_until_local=was_until,
        recipients=now.recipients if now and now.channel == "email" else "",
        was_recipients=was.recipients if was and was.channel == "email" else "",
        offset=row.offset,
    )


@dataclass(frozen=True)
class _Window:
    start: Row
    end: Row | None


def _windows(rows: Sequence[Row]) -> dict[tuple[str, ...], list[_Window]]:
    """Each page's windows (what it shows from when until when), by (channel, about,
    shows); ``none`` is no window."""
    out: dict[tuple[str, ...], list[_Window]] = {}
    pages = _group((r for r in rows if r.channel != "email"), ("channel", "about"))
    for changes in pages.values():
        for i, r in enumerate(changes):
            if r.kind != "none":
                end = changes[i + 1] if i + 1 < len(changes) else None
                out.setdefault((r.channel, r.about, r.kind), []).append(_Window(r, end))
    return out


def _window_changes(was: Sequence[Row], now: Sequence[Row]) -> tuple[list[Change], int]:
    a_all, b_all = _windows(was), _windows(now)
    changes, same = [], 0
    for k in [*a_all, *(k for k in b_all if k not in a_all)]:
        a_list, b_list = list(a_all.get(k, [])), list(b_all.get(k, []))
        for a in list(a_list):
            b = next((b for b in b_list if _ends(b) == _ends(a)), None)
            if b is not None:
                same += 1
                a_list.remove(a)
                b_list.remove(b)
        for a, b in zip(a_list, b_list, strict=False):
            shift = (
                shift_text(b.start.instant - a.start.instant) if a.start.at != b.start.at else ""
            )
            changes.append(
                _change(
                    WINDOW_MOVED,
                    b.start,
                    a.start,
                    shift=shift,
                    until=_until(b),
                    was_until=_until(a),
                )
            )
        n = min(len(a_list), len(b_list))
        changes += [_change(WINDOW_REMOVED, None, a.start, was_until=_until(a)) for a in a_list[n:]]
        changes += [_change(WINDOW_ADDED, b.start, None, until=_until(b)) for b in b_list[n:]]
    return changes, same


def _ends(w: _Window) -> tuple[str, str]:
    return w.start.at, w.end.at if w.end else ""


def _until(w: _Window) -> str:
    return w.end.local if w.end else ""


def diff(was: Sequence[Row], now: Sequence[Row]) -> Diff:
    """What changes from the first policy's schedule (``was``) to the compared one's
    (``now``), in the compared run's time order (a removal where it used to be)."""
    emails, same_sends = _email_changes(was, now)
    windows, same_windows = _window_changes(was, now)
    changes = sorted(
        [*emails, *windows], key=lambda c: (c.at or c.was, c.channel != "email", c.about)
    )
    return Diff(tuple(changes), same_sends, same_windows)


def diff_dict(d: Diff) -> dict[str, object]:
    """The differences for ``--json``."""
    return {
        "same_sends": d.same_sends,
        "same_windows": d.same_windows,
        "changes": [asdict(c) for c in d.changes],
    }
