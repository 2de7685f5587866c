"""Reports of finished runs: plain text lines, a JSON document and JUnit XML.

The console's table (``conntrack run``, the pytest plugin's failures) lives in
:mod:`conntrack._console`; the plain one-line-a-record text here is what JUnit's
``system-out`` and ``failure`` carry.

The JSON report holds no wall-clock figure, so the same scenario and seed always give a
byte-identical file. Times appear twice: as UTC instants and as offsets from ``start``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

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


def describe(rec: Record, timeline: Timeline) -> str:
    """One line for one record, as the timeline shows it."""
    when = format_duration(rec.at - timeline.start)
    if isinstance(rec, TransitionRecord):
        what = f"{rec.source} → {rec.dest}" + (f" ({rec.reason})" if rec.reason else "")
        return f"{when:>16}  {rec.connection:<10} {rec.trigger:<12} {what}" + (
            f"  ← {rec.cause}" if rec.cause else ""
        )
    if isinstance(rec, EmailRecord):
        return f"{when:>16}  {rec.about:<10} email        {rec.kind} to {rec.to} <{rec.address}>"
    if isinstance(rec, EventRecord):
        by = f" by {rec.by}" if rec.by else ""
        detail = f"  ({rec.detail})" if rec.detail else ""
        return f"{when:>16}  {rec.connection:<10} event        {rec.event}{by}{detail}"
    if isinstance(rec, BannerRecord):
        if rec.shows == "none":
            shown = "cleared"
        else:
            shown = f"shows {rec.shows}" + (f": {rec.dashboard[:120]}" if rec.dashboard else "")
        return f"{when:>16}  {rec.connection:<10} banner       {shown}"
    assert isinstance(rec, SyncErrorRecord)
    return (
        f"{when:>16}  {rec.connection:<10} {rec.step + ' error':<12} HTTP {rec.status} {rec.code} "
        f"→ {rec.action}: {rec.message[:120]}"
    )


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
            lines.append(f"{when:>16}  {first.about:<10} email        {first.kind} to {to}")
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
    s = result.scenario
    passed = sum(o.passed for o in result.outcomes)
    status = "PASS" if result.passed else "FAIL"
    head = (
        f"{status}  {s.where.file}  {s.name}  "
        f"({format_duration(s.until)} in {result.stats.wall_seconds:.2f} s, "
        f"{passed}/{len(result.outcomes)} expectations)"
    )
    lines = [head]
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


def result_dict(result: RunResult) -> dict[str, Any]:
    s, tl = result.scenario, result.timeline
    records = []
    for rec in tl.records_only:
        d = _jsonable(record_dict(rec))
        d["offset"] = format_duration(rec.at - tl.start)
        records.append(d)
    return {
        "scenario": s.name,
        "file": s.where.file,
        "line": s.where.line,
        "seed": s.seed,
        "policy": result.policy.name if result.policy else "default",
        "timezone": s.company.timezone,
        "start": format_instant(s.start),
        "until": format_instant(s.start + s.until),
        "passed": result.passed,
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


def json_report(results: Sequence[RunResult]) -> str:
    doc = {
        "version": REPORT_VERSION,
        "passed": all(r.passed for r in results),
        "scenarios": [result_dict(r) for r in results],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def junit_report(results: Sequence[RunResult]) -> str:
    """JUnit XML: one testsuite, one testcase per scenario, a failure per broken expectation.

    CI systems (GitLab, Jenkins, GitHub test reporters) read this; like the JSON report it
    holds no wall-clock figure, so it is byte-identical across runs.
    """
    import xml.etree.ElementTree as ET

    failures = sum(not r.passed for r in results)
    suite = ET.Element(
        "testsuite",
        {
            "name": "conntrack",
            "tests": str(len(results)),
            "failures": str(failures),
            "errors": "0",
            "skipped": "0",
        },
    )
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
