"""Expectations: each one checked against the finished run's timeline.

A check gives an :class:`Outcome` that says what was expected and what happened, in the
scenario's own terms (times as offsets from ``start``, like ``20d 6h``), plus the records
around the moment that matters, so a failure reads without opening any other file.

Email expectations count *sends*: one send is one notification at one instant, delivered
to each of its recipients. ``at`` instants match sends within ``tolerance`` (12 h by
default: "on that day"), one to one. ``says`` is a piece of text every counted email must
hold in its subject or body (case-insensitive), as for banners.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .._durations import format_duration
from .._notify import User
from .._records import BannerRecord, EmailRecord, EventRecord, Record, Timeline
from ._model import (
    BannerExpect,
    EmailExpect,
    Expectation,
    GapExpect,
    ReconnectsExpect,
    Scenario,
    StateExpect,
    TransitionsExpect,
    Where,
)


@dataclass
class Outcome:
    where: Where
    summary: str
    passed: bool
    expected: str
    actual: str
    connection: str | None = None
    at: datetime | None = None
    context: list[Record] = field(default_factory=list)


def _rel(timeline: Timeline, at: datetime | None) -> str:
    if at is None:
        return "never"
    return format_duration(at - timeline.start)


def check_all(scenario: Scenario, timeline: Timeline, users: Sequence[User]) -> list[Outcome]:
    return [check(exp, scenario, timeline, users) for exp in scenario.expect]


def check(
    exp: Expectation, scenario: Scenario, timeline: Timeline, users: Sequence[User]
) -> Outcome:
    if isinstance(exp, StateExpect):
        return _check_state(exp, timeline)
    if isinstance(exp, EmailExpect):
        return _check_email(exp, timeline, scenario)
    if isinstance(exp, BannerExpect):
        return _check_banner(exp, timeline)
    if isinstance(exp, TransitionsExpect):
        return _check_transitions(exp, timeline)
    if isinstance(exp, ReconnectsExpect):
        return _check_reconnects(exp, timeline)
    return _check_gap(exp, timeline)


def _check_state(exp: StateExpect, tl: Timeline) -> Outcome:
    if exp.until is not None:
        return _check_state_during(exp, tl)
    at = tl.start + exp.at
    state, reason = tl.state_at(exp.connection, at)
    want = exp.state + (f" ({exp.reason})" if exp.reason else "")
    got = (state or "not connected yet") + (f" ({reason})" if reason and exp.reason else "")
    ok = state == exp.state and (exp.reason is None or reason == exp.reason)
    return Outcome(
        where=exp.where,
        summary=f"{exp.connection} is {want} at {format_duration(exp.at)}",
        passed=ok,
        expected=want,
        actual=got,
        connection=exp.connection,
        at=at,
        context=tl.around(at, exp.connection),
    )


def _check_state_during(exp: StateExpect, tl: Timeline) -> Outcome:
    assert exp.until is not None
    lo, hi = tl.start + exp.at, tl.start + exp.until
    want = exp.state + (f" ({exp.reason})" if exp.reason else "")
    window = f"{format_duration(exp.at)}..{format_duration(exp.until)}"
    state, reason = tl.state_at(exp.connection, lo)

    def matches(s: str | None, r: str | None) -> bool:
        return s == exp.state and (exp.reason is None or r == exp.reason)

    problems = []
    if not matches(state, reason):
        problems.append(f"{state or 'not connected yet'} at {format_duration(exp.at)}")
    for t in tl.transitions(exp.connection):
        if lo < t.at <= hi and not matches(t.dest, t.reason):
            label = t.dest + (f" ({t.reason})" if t.reason else "")
            problems.append(f"{label} from {_rel(tl, t.at)}")
    return Outcome(
        where=exp.where,
        summary=f"{exp.connection} is {want} throughout {window}",
        passed=not problems,
        expected=f"{want} throughout {window}",
        actual="; ".join(problems) if problems else want,
        connection=exp.connection,
        at=lo,
        context=tl.around(lo, exp.connection),
    )


def _check_transitions(exp: TransitionsExpect, tl: Timeline) -> Outcome:
    def label(state: str, reason: str | None) -> str:
        return state + (f" ({reason})" if reason else "")

    got = [(t.dest, t.reason) for t in tl.transitions(exp.connection) if t.dest != t.source]
    ok = len(got) == len(exp.states) and all(
        g[0] == w[0] and (w[1] is None or g[1] == w[1])
        for g, w in zip(got, exp.states, strict=False)
    )
    want = " → ".join(label(*w) for w in exp.states) or "none"
    actual = " → ".join(label(*g) for g in got) or "none"
    return Outcome(
        where=exp.where,
        summary=f"{exp.connection} moves through {want}",
        passed=ok,
        expected=want,
        actual=actual,
        connection=exp.connection,
        at=tl.start,
        context=[] if ok else list[Record](tl.transitions(exp.connection)[:12]),
    )


def _check_reconnects(exp: ReconnectsExpect, tl: Timeline) -> Outcome:
    lo = tl.start + exp.within[0] if exp.within else tl.start
    hi = tl.start + exp.within[1] if exp.within else tl.until
    done = [
        t for t in tl.transitions(exp.connection) if t.trigger == "reconnect" and lo <= t.at <= hi
    ]
    failed = [
        r
        for r in tl.records_only
        if isinstance(r, EventRecord)
        and r.connection == exp.connection
        and r.event == "connect_failed"
        and lo <= r.at <= hi
    ]
    window = (
        f" within {format_duration(exp.within[0])}..{format_duration(exp.within[1])}"
        if exp.within
        else ""
    )
    expected = f"{exp.count} reconnect(s){window}"
    actual = f"{len(done)} reconnect(s)" + (
        f" at {', '.join(_rel(tl, t.at) for t in done)}" if done else ""
    )
    passed = len(done) == exp.count
    if exp.failed is not None:
        expected += f" and {exp.failed} failed attempt(s)"
        actual += f"; {len(failed)} failed attempt(s)" + (
            ": " + "; ".join(f"{_rel(tl, r.at)} {r.detail}" for r in failed) if failed else ""
        )
        passed = passed and len(failed) == exp.failed
    return Outcome(
        where=exp.where,
        summary=f"{exp.connection} reconnected {exp.count} time(s){window}"
        + (f", {exp.failed} failed attempt(s)" if exp.failed is not None else ""),
        passed=passed,
        expected=expected,
        actual=actual,
        connection=exp.connection,
        at=lo,
        context=tl.around(lo, exp.connection),
    )


def _check_banner(exp: BannerExpect, tl: Timeline) -> Outcome:
    where_ = "dashboard banner" if exp.place == "banner" else "settings page"
    lo = tl.start + exp.at
    hi = tl.start + exp.until if exp.until is not None else lo

    def text(rec: BannerRecord | None) -> str:
        if rec is None:
            return ""
        return rec.dashboard if exp.place == "banner" else rec.settings

    def matches(rec: BannerRecord | None) -> bool:
        shows = rec.shows if rec else "none"
        if shows != exp.shows:
            return False
        return exp.says is None or exp.says.lower() in text(rec).lower()

    def label(rec: BannerRecord | None) -> str:
        if rec is not None and rec.shows == "none" and text(rec):
            return f"no warning: '{text(rec)}'"  # a working connection's note
        if rec is None or rec.shows == "none":
            return "nothing"
        return f"{rec.shows}: '{text(rec)}'"

    banners = [
        r for r in tl.records_only if isinstance(r, BannerRecord) and r.connection == exp.connection
    ]
    current = None
    for r in banners:
        if r.at > lo:
            break
        current = r
    problems = [] if matches(current) else [f"{label(current)} at {format_duration(exp.at)}"]
    for r in banners:
        if lo < r.at <= hi and not matches(r):
            problems.append(f"{label(r)} from {_rel(tl, r.at)}")
    want = exp.shows
    if exp.shows == "none":  # with says: a working connection's note
        want = "no warning" if exp.says else "nothing"
    if exp.says:
        want += f" saying '{exp.says}'"
    when = (
        f"at {format_duration(exp.at)}"
        if exp.until is None
        else f"throughout {format_duration(exp.at)}..{format_duration(exp.until)}"
    )
    return Outcome(
        where=exp.where,
        summary=f"the {where_} of {exp.connection} shows {want} {when}",
        passed=not problems,
        expected=f"{want} {when}",
        actual="; ".join(problems) if problems else label(current),
        connection=exp.connection,
        at=lo,
        context=tl.around(lo, exp.connection),
    )


def _sends(emails: list[EmailRecord]) -> list[tuple[datetime, frozenset[str]]]:
    groups: dict[datetime, set[str]] = defaultdict(set)
    for e in emails:
        groups[e.at].add(e.to)
    return [(at, frozenset(to)) for at, to in sorted(groups.items())]


def _describe_sends(tl: Timeline, sends: list[tuple[datetime, frozenset[str]]]) -> str:
    if not sends:
        return "no email"
    return "; ".join(f"{_rel(tl, at)} to {', '.join(sorted(to))}" for at, to in sends)


def _unsaid(exp: EmailExpect, tl: Timeline, emails: list[EmailRecord]) -> list[str]:
    """The sends (among those counted) whose email lacks ``exp.says``, as problems."""
    if exp.says is None:
        return []
    want = exp.says.lower()
    problems: list[str] = []
    seen: set[datetime] = set()
    for e in emails:
        if exp.reaches and e.to not in exp.reaches:
            continue
        if e.at in seen or want in f"{e.subject}\n{e.body}".lower():
            continue
        seen.add(e.at)
        first = next((line for line in e.body.splitlines() if line.strip()), "")
        problems.append(
            f"the send at {_rel(tl, e.at)} does not say '{exp.says}' "
            f"(subject '{e.subject}'; body '{first}' …)"
        )
    return problems


def _check_email(exp: EmailExpect, tl: Timeline, scenario: Scenario) -> Outcome:
    emails = tl.emails(exp.kind, exp.about)
    sends = _sends(emails)
    problems: list[str] = []
    expected_parts: list[str] = []
    if exp.reaches:
        who = frozenset(exp.reaches)
        expected_parts.append(f"reaching {', '.join(sorted(who))}")
        for at, to in sends:
            if to & who and not who <= to:
                problems.append(f"the send at {_rel(tl, at)} missed {', '.join(sorted(who - to))}")
        sends = [(at, to & who) for at, to in sends if to & who]
    if exp.to is not None:
        # "all": every member of the company at the moment of each send.
        def wanted(at: datetime) -> frozenset[str]:
            if exp.to == "all":
                return frozenset(scenario.members_at(at - tl.start))
            return frozenset(exp.to or ())

        first = wanted(sends[0][0] if sends else tl.start)
        label = ", ".join(sorted(first))
        changes = any(e.event in ("user_joined", "user_left") for e in scenario.timeline)
        if exp.to != "all":
            expected_parts.append(f"to {label}")
        else:
            expected_parts.append("to all members" if changes else f"to all ({label})")
        for at, to in sends:
            want_to = wanted(at)
            if to != want_to:
                missing, extra = sorted(want_to - to), sorted(to - want_to)
                bits = []
                if missing:
                    bits.append(f"missing {', '.join(missing)}")
                if extra:
                    bits.append(f"also to {', '.join(extra)}")
                problems.append(f"the send at {_rel(tl, at)} went {'; '.join(bits)}")
    if exp.at is not None:
        instants = ", ".join(format_duration(a) for a in exp.at)
        expected_parts.append(f"at {instants} (± {format_duration(exp.tolerance)})")
        unmatched = list(sends)
        for want in exp.at:
            target = tl.start + want
            best = min(
                (s for s in unmatched if abs(s[0] - target) <= exp.tolerance),
                key=lambda s: abs(s[0] - target),
                default=None,
            )
            if best is None:
                problems.append(f"none at {format_duration(want)}")
            else:
                unmatched.remove(best)
        for at, _ in unmatched:
            problems.append(f"an unexpected one at {_rel(tl, at)}")
    if exp.within is not None:
        lo, hi = (tl.start + exp.within[0], tl.start + exp.within[1])
        expected_parts.append(
            f"within {format_duration(exp.within[0])}..{format_duration(exp.within[1])}"
        )
        inside = [s for s in sends if lo <= s[0] <= hi]
        for at, _ in sends:
            if not lo <= at <= hi:
                problems.append(f"one at {_rel(tl, at)}, outside the window")
        if not inside and exp.count != 0:
            problems.append("none inside the window")
    if exp.count is not None:
        expected_parts.append(f"{exp.count} send(s)" if exp.count else "none")
        if len(sends) != exp.count:
            problems.append(f"{len(sends)} send(s), not {exp.count}")
    if not expected_parts:
        expected_parts.append("at least one")
        if not sends:
            problems.append("no email")
    if exp.says is not None:
        expected_parts.append(f"saying '{exp.says}'")
        problems.extend(_unsaid(exp, tl, emails))
    at = tl.start + (exp.at[0] if exp.at else exp.within[0] if exp.within else timedelta(0))
    return Outcome(
        where=exp.where,
        summary=f"{exp.kind} email about {exp.about}: {'; '.join(expected_parts)}",
        passed=not problems,
        expected="; ".join(expected_parts),
        actual=_describe_sends(tl, sends) + (f" — {'; '.join(problems)}" if problems else ""),
        connection=exp.about,
        at=at,
        context=tl.around(at, exp.about),
    )


def _check_gap(exp: GapExpect, tl: Timeline) -> Outcome:
    gaps = tl.gaps.get(exp.connection, [])
    if exp.total is not None:
        total = sum((g.length(tl.until) for g in gaps), timedelta(0))
        want = format_duration(exp.total) + (
            f" (± {format_duration(exp.tolerance)})" if exp.tolerance else ""
        )
        return Outcome(
            where=exp.where,
            summary=f"data gaps of {exp.connection} add up to {want}",
            passed=abs(total - exp.total) <= exp.tolerance,
            expected=f"{want} in all",
            actual=f"{format_duration(total)} in {len(gaps)} gap(s)",
            connection=exp.connection,
            at=gaps[0].start if gaps else tl.start,
            context=tl.around(gaps[0].start if gaps else tl.start, exp.connection),
        )
    assert exp.start is not None
    start = tl.start + exp.start
    end = tl.start + exp.end if exp.end is not None else None

    def close(a: datetime | None, b: datetime | None) -> bool:
        if a is None or b is None:
            return a is b
        return abs(a - b) <= exp.tolerance

    ok = any(close(g.start, start) and close(g.end, end) for g in gaps)
    want = f"from {format_duration(exp.start)} to " + (
        format_duration(exp.end) if exp.end is not None else "the end of the run"
    )
    if exp.tolerance:
        want += f" (± {format_duration(exp.tolerance)})"
    got = (
        "; ".join(
            f"from {_rel(tl, g.start)} to {_rel(tl, g.end) if g.end else 'the end of the run'}"
            for g in gaps
        )
        or "no data gap"
    )
    return Outcome(
        where=exp.where,
        summary=f"data gap of {exp.connection} {want}",
        passed=ok,
        expected=want,
        actual=got,
        connection=exp.connection,
        at=start,
        context=tl.around(start, exp.connection),
    )
