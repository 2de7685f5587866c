"""Reports of finished runs: plain text lines, a JSON document and JUnit XML.

The console's table (``conntrack run``, the pytest plugin's failures) lives in
:mod:`conntrack._console`; the plain one-line-a-record text here is what JUnit's
``system-out`` and ``failure`` carry.

The JSON report holds no wall-clock figure, so the same scenario, seed and run id (each
run's is random unless ``--run-id`` pins it; it is part of every email's id) always give
a byte-identical file. Times appear twice: as UTC instants and as offsets from ``start``.

A run against a product under test (``conntrack run --product FILE``) has two more
verdicts than pass and fail: *skipped* (a scenario for a provider the product does not
support; not a failure) and *error* (the product broke the product test protocol, so no
expectation was judged). :func:`status` names a result's verdict; the reports of a
product run say the product's name and each scenario's status, and those of an
in-process run stay as they were, byte for byte.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from ._durations import format_duration, format_instant
from ._lifecycle import TransitionRecord
from ._records import (
    BannerRecord,
    EmailRecord,
    EventRecord,
    Record,
    SyncErrorRecord,
    Timeline,
    record_dict,
)
from .scenario._expectations import Outcome
from .scenario._runner import RunResult

REPORT_VERSION = 1

Status = Literal["passed", "failed", "skipped", "error"]
HEADS: dict[Status, str] = {
    "passed": "PASS",
    "failed": "FAIL",
    "skipped": "SKIPPED",
    "error": "ERROR",
}
"""The word a result's line starts with, in the console, JUnit and pytest."""


def status(result: RunResult) -> Status:
    """The verdict: ``skipped`` (not run, ``result.skipped`` says why), ``error`` (the
    product broke the protocol, ``result.error`` says how), else ``passed`` or
    ``failed`` by the expectations."""
    if result.skipped is not None:
        return "skipped"
    if result.error is not None:
        return "error"
    return "passed" if result.passed else "failed"


def ok(result: RunResult) -> bool:
    """Whether ``result`` lets a run exit 0: it passed, or it was skipped."""
    return status(result) in ("passed", "skipped")


def summary(results: Sequence[RunResult]) -> str:
    """``3 passed, 1 failed``, with ``, 2 skipped`` and ``, 1 error(s)`` when there are
    any (an in-process run never has them, and its line stays as it was)."""
    counts = Counter(status(r) for r in results)
    line = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        line += f", {counts['skipped']} skipped"
    if counts["error"]:
        line += f", {counts['error']} error{'s' if counts['error'] > 1 else ''}"
    return line


def headline(result: RunResult) -> tuple[str, str, str]:
    """(status word, ``file  name``, the parenthesised detail) of a result's first line:
    the expectations for a finished run, the reason for a skip, the time it ran for an
    error."""
    s = result.scenario
    verdict = status(result)
    if verdict == "skipped":
        detail = f"({result.skipped})"
    elif verdict == "error":
        detail = f"(the product broke the protocol, in {result.stats.wall_seconds:.2f} s)"
    else:
        passed = sum(o.passed for o in result.outcomes)
        detail = (
            f"({format_duration(s.until)} in {result.stats.wall_seconds:.2f} s, "
            f"{passed}/{len(result.outcomes)} expectations)"
        )
    return HEADS[verdict], f"{s.where.file}  {s.name}", detail


def describe(rec: Record, timeline: Timeline) -> str:
    """One line for one record, as the timeline shows it."""
    when = format_duration(rec.at - timeline.start)
    if isinstance(rec, TransitionRecord):
        what = f"{rec.source} → {rec.dest}" + (f" ({rec.reason})" if rec.reason else "")
        return (
            f"{when:>16}  {rec.connection:<10} {rec.trigger:<12} {what}"
            + (f"  ← {rec.cause}" if rec.cause else "")
            + _because(rec, timeline)
        )
    if isinstance(rec, EmailRecord):
        return (
            f"{when:>16}  {rec.about:<10} email        {rec.kind} to {rec.to} <{rec.address}>"
            + _because(rec, timeline)
        )
    if isinstance(rec, EventRecord):
        by = f" by {rec.by}" if rec.by else ""
        detail = f"  ({rec.detail})" if rec.detail else ""
        return f"{when:>16}  {rec.connection:<10} event        {rec.event}{by}{detail}"
    if isinstance(rec, BannerRecord):
        if rec.shows == "none":
            # A working connection's settings page may still carry a note (an optional
            # permission declined: "Connected without …").
            shown = f"settings: {rec.settings[:160]}" if rec.settings else "cleared"
        else:
            shown = f"shows {rec.shows}" + (f": {rec.dashboard[:120]}" if rec.dashboard else "")
        return f"{when:>16}  {rec.connection:<10} banner       {shown}"
    assert isinstance(rec, SyncErrorRecord)
    return (
        f"{when:>16}  {rec.connection:<10} {rec.step + ' error':<12} HTTP {rec.status} {rec.code} "
        f"→ {rec.action}: {rec.message[:120]}"
    )


def _because(rec: Record, timeline: Timeline) -> str:
    """``  (cause: Facebook held the account at a security check after …)`` for what an
    event with ``cause:`` led to (:meth:`Timeline.cause_of`), else ``""``."""
    event = timeline.cause_of(rec)
    return f"  (cause: {event.detail})" if event is not None else ""


def group_sends(records: Sequence[Record]) -> list[Record | tuple[EmailRecord, ...]]:
    """The records with the emails of one send (same instant, kind and connection, one
    after the other) folded into one tuple: the timeline shows a send, not each copy."""
    items: list[Record | tuple[EmailRecord, ...]] = []
    i = 0
    while i < len(records):
        rec = records[i]
        if isinstance(rec, EmailRecord):
            group = [rec]
            while i + 1 < len(records):
                nxt = records[i + 1]
                if not (
                    isinstance(nxt, EmailRecord)
                    and nxt.at == rec.at
                    and nxt.kind == rec.kind
                    and nxt.about == rec.about
                ):
                    break
                group.append(nxt)
                i += 1
            items.append(tuple(group))
        else:
            items.append(rec)
        i += 1
    return items


def _grouped_emails(records: Sequence[Record], timeline: Timeline) -> list[str]:
    """Timeline lines with the emails of one send folded into one line."""
    lines: list[str] = []
    for item in group_sends(records):
        if isinstance(item, tuple):
            first = item[0]
            when = format_duration(first.at - timeline.start)
            to = ", ".join(e.to for e in item)
            lines.append(
                f"{when:>16}  {first.about:<10} email        {first.kind} to {to}"
                + _because(first, timeline)
            )
        else:
            lines.append(describe(item, timeline))
    return lines


def format_outcome(outcome: Outcome, timeline: Timeline) -> str:
    mark = "✓" if outcome.passed else "✗"
    lines = [f"  {mark} {outcome.where}: {outcome.summary}"]
    if not outcome.passed:
        lines.append(f"      expected: {outcome.expected}")
        lines.append(f"      actual:   {outcome.actual}")
        if outcome.context:
            at = format_duration(outcome.at - timeline.start) if outcome.at else "?"
            lines.append(f"      timeline around {at}:")
            lines.extend("      " + line for line in _grouped_emails(outcome.context, timeline))
    return "\n".join(lines)


def format_result(result: RunResult, *, verbose: bool = False) -> str:
    word, what, detail = headline(result)
    lines = [f"{word}  {what}  {detail}"]
    if result.skipped is not None:
        return lines[0]
    if result.error is not None:
        lines.extend("  " + line for line in result.error.splitlines())
    if verbose or not result.passed:
        lines.extend(format_outcome(o, result.timeline) for o in result.outcomes)
    if verbose:
        lines.append("  timeline:")
        lines.extend(
            "  " + line for line in _grouped_emails(result.timeline.records_only, result.timeline)
        )
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def result_dict(result: RunResult, *, product: bool = False) -> dict[str, Any]:
    """One scenario's part of the JSON report; a ``product`` run's also says its
    ``status`` and, as text or ``null``, why it was ``skipped`` and what ``error``
    the product made (``passed`` is then true for a scenario that ran and passed only)."""
    s, tl = result.scenario, result.timeline
    records = []
    for rec in tl.records_only:
        d = _jsonable(record_dict(rec))
        d["offset"] = format_duration(rec.at - tl.start)
        event = tl.cause_of(rec)
        if event is not None:  # the world's cause of this incident, not the product's
            d["incident_cause"] = event.cause
            d["incident_cause_text"] = event.detail
        records.append(d)
    return {
        "scenario": s.name,
        "file": s.where.file,
        "line": s.where.line,
        "seed": s.seed,
        # Part of every email's id: random unless pinned (--run-id), so a report is
        # byte-identical to another only under the same run id.
        "run_id": result.run_id,
        "policy": result.policy.name if result.policy else "default",
        "timezone": s.company.timezone,
        "start": format_instant(s.start),
        "until": format_instant(s.start + s.until),
        # A product run's skipped scenario did not pass (nor fail): its status says so.
        "passed": status(result) == "passed" if product else result.passed,
        **(
            {"status": status(result), "skipped": result.skipped, "error": result.error}
            if product
            else {}
        ),
        "expectations": [
            {
                "where": str(o.where),
                "summary": o.summary,
                "passed": o.passed,
                "expected": o.expected,
                "actual": o.actual,
            }
            for o in result.outcomes
        ],
        "users": [
            {"id": u.id, "name": u.name, "email": u.email, "opted_out": u.opted_out}
            for u in result.users
        ],
        "records": records,
        "data_gaps": [
            {
                "connection": g.connection,
                "from": format_duration(g.start - tl.start),
                "to": format_duration(g.end - tl.start) if g.end else None,
            }
            for gaps in tl.gaps.values()
            for g in gaps
        ],
        "syncs": {
            cid: {"ok": c.ok + c.elided, "failed": c.failed, "refreshed": c.refreshed}
            for cid, c in sorted(tl.syncs.items())
        },
    }


def json_report(results: Sequence[RunResult], *, product: str | None = None) -> str:
    """The JSON document of a run. With ``product`` (its name: a run against a product
    under test) it says ``"product"``, each scenario's status, and ``"passed"`` is true
    when none failed or ended in an error (skips allowed)."""
    doc: dict[str, Any] = {"version": REPORT_VERSION}
    if product is not None:
        doc["product"] = product
        doc["passed"] = all(ok(r) for r in results)
    else:
        doc["passed"] = all(r.passed for r in results)
    doc["scenarios"] = [result_dict(r, product=product is not None) for r in results]
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def junit_report(results: Sequence[RunResult], *, product: str | None = None) -> str:
    """JUnit XML: one testsuite, one testcase per scenario, a failure per broken expectation.

    CI systems (GitLab, Jenkins, GitHub test reporters) read this; like the JSON report it
    holds no wall-clock figure, so it is byte-identical across runs. A scenario skipped
    for a product has ``<skipped message=reason>``; one where the product broke the
    protocol has ``<error message=... type="ProductError">`` with the request and the
    answer. ``product`` (its name) becomes the suite's ``product`` property.
    """
    import xml.etree.ElementTree as ET

    counts = Counter(status(r) for r in results)
    suite = ET.Element(
        "testsuite",
        {
            "name": "conntrack",
            "tests": str(len(results)),
            "failures": str(counts["failed"]),
            "errors": str(counts["error"]),
            "skipped": str(counts["skipped"]),
        },
    )
    if product is not None:
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "product", "value": product})
    for r in results:
        s = r.scenario
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": s.where.file.replace("/", ".").removesuffix(".yaml"),
                "name": s.name,
                "file": s.where.file,
                "line": str(s.where.line),
            },
        )
        if r.skipped is not None:
            ET.SubElement(case, "skipped", {"message": r.skipped})
            continue
        if r.error is not None:
            error = ET.SubElement(
                case,
                "error",
                {"message": r.error.splitlines()[0] if r.error else "", "type": "ProductError"},
            )
            error.text = r.error
        broken = [o for o in r.outcomes if not o.passed]
        if broken:
            failure = ET.SubElement(
                case,
                "failure",
                {
                    "message": f"{len(broken)} of {len(r.outcomes)} expectations failed",
                    "type": "ExpectationFailed",
                },
            )
            failure.text = "\n".join(format_outcome(o, r.timeline) for o in broken)
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(_grouped_emails(r.timeline.records_only, r.timeline))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, "unicode") + "\n"
