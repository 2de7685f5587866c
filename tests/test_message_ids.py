"""Every email's ``Message-ID``/``Idempotency-Key`` is its own (issue 11, item 7).

The id used to come from (instant, kind, connection, recipient user) only: two scenarios
of the library that send a reminder about ``ig`` to ``user1`` at the same instant gave
two different people the same id, and a receiver that drops repeats by id (as the README
advises) lost one of them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conntrack._delivery import OutboxFile, deliver, message_id, to_message
from conntrack._records import EmailRecord
from conntrack.cli import main

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "scenarios"
MESSAGE_ID = re.compile(r"<[0-9a-f]{32}@conntrack\.test>")
#: Two scenarios of the library that email the same user ids about the same connection
#: name at the same instants.
TWINS = ["instagram_facebook_60_day_lifespan.yaml", "instagram_monitored_reminders.yaml"]


def outbox_rows(tmp_path: Path, *paths: Path, name: str = "outbox.jsonl") -> list[dict[str, Any]]:
    outbox = tmp_path / name
    assert main(["run", *map(str, paths), "--outbox", str(outbox), "--color", "never"]) == 0
    return [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]


def test_every_email_of_the_library_has_its_own_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = outbox_rows(tmp_path, LIBRARY)
    assert len({r["scenario"] for r in rows}) > 10 and len(rows) > 100
    # What a receiver sees: the id each email is delivered with.
    sent = [message_id(entry.email) for entry in OutboxFile(tmp_path / "outbox.jsonl").load()]
    shared = {k: n for k, n in Counter(sent).items() if n > 1}
    assert shared == {}, f"{sum(shared.values())} of {len(rows)} emails share an id"
    # And each row of the outbox records it.
    assert [r.get("message_id") for r in rows] == sent
    assert all(MESSAGE_ID.fullmatch(i) for i in sent)


def test_ids_are_deterministic_and_distinct_between_twin_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [LIBRARY / name for name in TWINS]
    assert all(p.exists() for p in paths)
    first = outbox_rows(tmp_path, *paths, name="a.jsonl")
    again = outbox_rows(tmp_path, *paths, name="b.jsonl")
    assert [r["message_id"] for r in first] == [r["message_id"] for r in again]
    # The same instant, kind, connection and user id in both scenarios: other people.
    by_key: dict[tuple[str, str, str, str], set[str]] = {}
    for r in first:
        by_key.setdefault((r["at"], r["kind"], r["about"], r["to"]), set()).add(r["message_id"])
    assert any(len(ids) == 2 for ids in by_key.values())


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[EmailRecord] = []

    def send(self, email: EmailRecord) -> None:
        self.sent.append(email)


def test_delivery_uses_the_id_the_outbox_row_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = outbox_rows(tmp_path, LIBRARY / TWINS[0])
    sink = Recording()
    assert deliver(OutboxFile(tmp_path / "outbox.jsonl"), [sink]).ok
    assert [message_id(e) for e in sink.sent] == [r["message_id"] for r in rows]
    assert [to_message(e)["Message-ID"] for e in sink.sent] == [r["message_id"] for r in rows]
    after = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert [r["message_id"] for r in after] == [r["message_id"] for r in rows]


def email(**kw: Any) -> EmailRecord:
    fields: dict[str, Any] = {
        "at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        "kind": "invalid",
        "about": "fb",
        "to": "user1",
        "address": "ann@x.test",
        "subject": "s",
    }
    return EmailRecord(**{**fields, **kw})


def test_an_outbox_line_without_an_id_gets_one_per_scenario_and_address(tmp_path: Path) -> None:
    """Lines of an older outbox file (no ``message_id``) get one when loaded, from their
    scenario and address too, and keep it when the file is rewritten."""
    path = tmp_path / "old.jsonl"
    lines = [
        {"scenario": "a", "at": "2026-01-05T09:00:00Z", "kind": "invalid", "about": "fb",
         "to": "user1", "address": "ann@x.test", "subject": "s"},
        {"scenario": "b", "at": "2026-01-05T09:00:00Z", "kind": "invalid", "about": "fb",
         "to": "user1", "address": "ann@x.test", "subject": "s"},
        {"scenario": "a", "at": "2026-01-05T09:00:00Z", "kind": "invalid", "about": "fb",
         "to": "user1", "address": "bob@x.test", "subject": "s"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    ids = [e.email.message_id for e in OutboxFile(path).load()]
    assert len(set(ids)) == 3 and all(MESSAGE_ID.fullmatch(i) for i in ids)
    assert deliver(OutboxFile(path), [Recording()]).ok
    assert [json.loads(line)["message_id"] for line in path.read_text().splitlines()] == ids
    assert message_id(email(address="bob@x.test")) != message_id(email())


def test_a_malformed_id_in_an_outbox_line_is_refused(tmp_path: Path) -> None:
    from conntrack._delivery import OutboxError

    path = tmp_path / "bad.jsonl"
    line = {"at": "2026-01-05T09:00:00Z", "kind": "invalid", "about": "fb", "to": "user1",
            "address": "ann@x.test", "subject": "s", "message_id": "<a b@c>\r\nBcc: x"}  # fmt: skip
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(OutboxError, match="message_id"):
        OutboxFile(path).load()


def test_two_files_of_one_name_and_seed_in_one_run_keep_their_ids_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of a scenario under another file name (same ``scenario:`` name and seed) run
    in the same ``conntrack run`` sends the same emails to the same people: the ids must
    still differ, or a receiver that drops repeats by id keeps only one run's emails. The
    first file keeps the ids it has when run alone."""
    source = LIBRARY / "facebook_password_change_reconnect.yaml"
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    second.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    both = outbox_rows(tmp_path, first, second, name="both.jsonl")
    alone = outbox_rows(tmp_path, first, name="alone.jsonl")
    capsys.readouterr()
    ids = [row["message_id"] for row in both]
    assert len(both) == 2 * len(alone) > 0
    assert len(set(ids)) == len(ids)
    assert ids[: len(alone)] == [row["message_id"] for row in alone]
