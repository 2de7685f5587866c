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


def test_runs_with_other_seeds_appended_to_one_file_keep_their_ids_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same scenario run with two seeds, and a copy under another name, each to its
    own outbox, the outboxes then appended to one file: every id is still its own."""
    source = (LIBRARY / "facebook_password_change_reconnect.yaml").read_text(encoding="utf-8")
    assert "\nseed: 7\n" in source and source.startswith("scenario: ")
    variants = {
        "seed7.yaml": source,
        "seed8.yaml": source.replace("\nseed: 7\n", "\nseed: 8\n"),
        "renamed.yaml": source.replace("scenario: ", "scenario: Renamed ", 1),
    }
    rows: list[dict[str, Any]] = []
    for name, text in variants.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        rows += outbox_rows(tmp_path, tmp_path / name, name=f"{name}.jsonl")
    capsys.readouterr()
    ids = [r["message_id"] for r in rows]
    assert len(rows) > 6 and len(set(ids)) == len(ids)
    # The three runs email the same user ids at the same instants about the same
    # connection (the renamed copy to the same addresses too): only the id differs.
    same = {(r["at"], r["kind"], r["about"], r["to"]) for r in rows}
    assert len(same) * 3 == len(rows)
    by_address = {(r["at"], r["kind"], r["about"], r["to"], r["address"]) for r in rows}
    assert len(by_address) * 3 == len(rows) * 2


def test_a_retried_webhook_delivery_keeps_its_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A receiver that fails every other request: each email arrives, across retries and
    a second ``conntrack deliver``, only ever with the id its outbox row records, so a
    receiver that drops repeats by ``Idempotency-Key`` keeps exactly one of each."""
    import httpx

    from conntrack._delivery import WebhookSink

    rows = outbox_rows(tmp_path, *(LIBRARY / name for name in TWINS))
    capsys.readouterr()
    seen: list[str] = []
    kept: dict[str, dict[str, Any]] = {}

    def flaky(request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        seen.append(key)
        if len(seen) % 2:
            return httpx.Response(503)
        kept.setdefault(key, json.loads(request.content))
        return httpx.Response(200)

    sink = WebhookSink("https://hooks.example.test/in", transport=httpx.MockTransport(flaky))
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    deliver(outbox, [sink], attempts=1, sleep=lambda s: None)  # half fail, kept as failed
    assert deliver(outbox, [sink], attempts=3, sleep=lambda s: None).ok
    ids = [r["message_id"] for r in rows]
    assert len(seen) > len(rows) and set(seen) == set(ids)
    assert sorted(kept) == sorted(ids)  # one of each, each under its own row's id
    assert {(b["at"], b["kind"], b["about"], b["to"]) for b in kept.values()} == {
        (r["at"], r["kind"], r["about"], r["to"]) for r in rows
    }
