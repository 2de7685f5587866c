"""Every email's ``Message-ID``/``Idempotency-Key`` is its own (issue 11, item 7).

The id used to come from (instant, kind, connection, recipient user) only: two scenarios
of the library that send a reminder about ``ig`` to ``user1`` at the same instant gave
two different people the same id, and a receiver that drops repeats by id (as the README
advises) lost one of them. Then it came from the scenario's name and seed too, but not
from the run: running the same scenario and seed again (a second ``conntrack run``, a
nightly job, a pytest session run twice) sent new emails under the old ids, and such a
receiver dropped every one of them. Each run now has a run id (random unless pinned with
``--run-id``) that is part of every email's id.
"""

from __future__ import annotations

import email as email_parser
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conntrack._delivery import OutboxFile, deliver, message_id, to_message
from conntrack._lifecycle import State
from conntrack._records import EmailRecord
from conntrack.cli import main

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "scenarios"
MESSAGE_ID = re.compile(r"<[0-9a-f]{32}@conntrack\.test>")
#: Two scenarios of the library that email the same user ids about the same connection
#: name at the same instants.
TWINS = ["instagram_facebook_60_day_lifespan.yaml", "instagram_monitored_reminders.yaml"]


def outbox_rows(
    tmp_path: Path, *paths: Path, name: str = "outbox.jsonl", extra: Sequence[str] = ()
) -> list[dict[str, Any]]:
    outbox = tmp_path / name
    argv = ["run", *map(str, paths), "--outbox", str(outbox), "--color", "never", *extra]
    assert main(argv) == 0
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


def test_ids_are_reproducible_under_a_pinned_run_id_and_distinct_between_twin_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [LIBRARY / name for name in TWINS]
    assert all(p.exists() for p in paths)
    pinned = ["--run-id", "twins"]
    first = outbox_rows(tmp_path, *paths, name="a.jsonl", extra=pinned)
    again = outbox_rows(tmp_path, *paths, name="b.jsonl", extra=pinned)
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
    first file keeps the ids it has when run alone (under the same pinned run id)."""
    source = LIBRARY / "facebook_password_change_reconnect.yaml"
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    second.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    pinned = ["--run-id", "copies"]
    both = outbox_rows(tmp_path, first, second, name="both.jsonl", extra=pinned)
    alone = outbox_rows(tmp_path, first, name="alone.jsonl", extra=pinned)
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


# -- one run id per run: a second run of the same scenario and seed is other emails -------

#: A small library scenario: 8 emails (4 reminders to 2 people) in well under a second.
SMALL = LIBRARY / "facebook_60_day_lifespan.yaml"
#: What an outbox row says about its delivery, and its ids: the rest is the email.
NOT_THE_EMAIL = {"message_id", "run_id", "status", "attempts", "error", "sink", "deliveries"}


@dataclass
class Receiver:
    """A receiver that drops repeats by id, as the README advises: ``kept`` holds the
    first email under each id, ``seen`` every id it was sent."""

    url: str = ""
    seen: list[str] = field(default_factory=list)
    kept: dict[str, Any] = field(default_factory=dict)

    def take(self, key: str, email: Any) -> None:
        self.seen.append(key)
        self.kept.setdefault(key, email)


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.take(self.headers["Idempotency-Key"], json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks/in"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def smtp() -> Iterator[Receiver]:
    from aiosmtpd.controller import Controller

    receiver = Receiver()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            msg = email_parser.message_from_bytes(envelope.original_content)
            receiver.take(str(msg["Message-ID"]), msg)
            return "250 OK"

    class FreePort(Controller):
        def _trigger_server(self) -> None:
            assert self.server is not None
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    controller = FreePort(Handler(), hostname="127.0.0.1", port=0)
    controller.start()
    receiver.url = f"127.0.0.1:{controller.port}"
    try:
        yield receiver
    finally:
        controller.stop()


def test_two_runs_of_one_scenario_and_seed_are_other_emails_with_other_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], webhook: Receiver, smtp: Receiver
) -> None:
    """Two ``conntrack run SCENARIO --outbox A`` / ``--outbox B`` of the same scenario and
    seed, each delivered to the same SMTP server and webhook: their ids are disjoint, so a
    receiver that drops repeats by ``Message-ID``/``Idempotency-Key`` keeps both runs'
    emails (it used to drop every email of the second run)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for name in ("a", "b"):
        deliver_to = ["--smtp", smtp.url, "--webhook", webhook.url]
        report = ["--json", str(tmp_path / f"{name}.json")]
        runs[name] = outbox_rows(tmp_path, SMALL, name=f"{name}.jsonl", extra=deliver_to + report)
    capsys.readouterr()
    a, b = ([r["message_id"] for r in rows] for rows in runs.values())
    assert len(a) == len(b) > 0 and len(set(a)) == len(a) and len(set(b)) == len(b)
    assert set(a).isdisjoint(b)
    # The same emails otherwise: to the same people at the same instants, same text.
    same = [
        [{k: v for k, v in r.items() if k not in NOT_THE_EMAIL} for r in rows]
        for rows in runs.values()
    ]
    assert same[0] == same[1]
    # What a receiver that drops repeats keeps: every email of both runs, once.
    for receiver in (webhook, smtp):
        assert sorted(receiver.seen) == sorted(a + b)
        assert sorted(receiver.kept) == sorted(a + b)
    # Each run's id: the same in its report and on each of its outbox rows; two runs, two.
    run_ids = []
    for name, rows in runs.items():
        [scenario] = json.loads((tmp_path / f"{name}.json").read_text())["scenarios"]
        assert {r["run_id"] for r in rows} == {scenario["run_id"]}
        assert [r["message_id"] for r in scenario["records"] if r["type"] == "email"] == [
            r["message_id"] for r in rows
        ]
        run_ids.append(scenario["run_id"])
    assert run_ids[0] != run_ids[1] and all(run_ids)


def test_a_pinned_run_id_brings_the_same_ids_back_on_purpose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--run-id TEXT`` makes a run reproducible to the byte, ids included: the same text
    twice gives the same ids (a receiver that drops repeats then drops the second run, as
    asked); another text gives other ids."""
    outputs: dict[str, list[dict[str, Any]]] = {}
    for name, run_id in (("a", "nightly 2026-12-04"), ("b", "nightly 2026-12-04"), ("c", "x")):
        extra = ["--run-id", run_id, "--json", str(tmp_path / f"{name}.json")]
        outputs[name] = outbox_rows(tmp_path, SMALL, name=f"{name}.jsonl", extra=extra)
    capsys.readouterr()
    ids = {name: [r["message_id"] for r in rows] for name, rows in outputs.items()}
    assert ids["a"] == ids["b"] and len(ids["a"]) > 0
    assert set(ids["a"]).isdisjoint(ids["c"])
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    [scenario] = json.loads((tmp_path / "a.json").read_text())["scenarios"]
    assert scenario["run_id"] == "nightly 2026-12-04"
    assert {r["run_id"] for r in outputs["a"]} == {"nightly 2026-12-04"}


@pytest.mark.parametrize(
    "run_id",
    ["", "   ", "two\nlines", "a\ttab", "\x1b[31mred", "nul\x00", "x" * 129, " padded", "\udcff"],
    ids=["empty", "blank", "newline", "tab", "escape", "nul", "too-long", "padded", "undecodable"],
)
def test_a_bad_run_id_is_refused_before_anything_runs(
    run_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outbox = tmp_path / "o.jsonl"
    assert main(["run", str(SMALL), "--outbox", str(outbox), "--run-id", run_id]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("conntrack: --run-id ") and "128" in err, err
    assert captured.out == "" and not outbox.exists()


def test_the_longest_run_id_is_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = "é" + "x" * 127
    rows = outbox_rows(tmp_path, SMALL, extra=["--run-id", run_id])
    assert {r["run_id"] for r in rows} == {run_id}


def test_the_python_api_gives_each_run_its_own_ids_unless_pinned() -> None:
    from conntrack._report import json_report
    from conntrack.scenario import load_file
    from conntrack.scenario._runner import run_scenario

    [scenario] = load_file(SMALL)

    def ids(result: Any) -> list[str]:
        return [e.message_id for e in result.timeline.emails()]

    a, b = run_scenario(scenario), run_scenario(scenario)
    assert a.run_id and b.run_id and a.run_id != b.run_id
    assert len(ids(a)) > 0 and set(ids(a)).isdisjoint(ids(b))
    assert a.timeline.records_only == b.timeline.records_only  # ids aside, the same run
    p, q = run_scenario(scenario, run_id="pinned"), run_scenario(scenario, run_id="pinned")
    assert p.run_id == q.run_id == "pinned" and ids(p) == ids(q)
    assert json_report([p]) == json_report([q])
    with pytest.raises(ValueError, match="run id"):
        run_scenario(scenario, run_id="bad\nid")


def test_a_product_run_gets_a_run_id_of_its_own() -> None:
    """The product harness (``conntrack run --product``, the pytest plugin with a
    product): the emails it records from the product are named by a run id too."""
    from conntrack.product import model_product, run_product_scenario
    from conntrack.scenario import load_file

    [scenario] = load_file(SMALL)
    a = run_product_scenario(scenario, product=model_product)
    b = run_product_scenario(scenario, product=model_product)
    first, second = ([e.message_id for e in r.timeline.emails()] for r in (a, b))
    assert len(first) > 0 and set(first).isdisjoint(second)
    assert a.run_id and b.run_id and a.run_id != b.run_id


def test_a_notifier_without_a_run_name_is_a_run_of_its_own() -> None:
    """The model product's notifier names no run: its emails' ids (its SMTP
    ``Message-ID``s) must still differ from one product run to the next."""
    from conntrack._clock import Scheduler, SimClock
    from conntrack._notify import MemoryOutbox, Notifier, Subject, User
    from conntrack._records import Recorder

    def sent() -> list[str]:
        clock = SimClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        outbox = MemoryOutbox()
        notifier = Notifier(
            Scheduler(clock),
            Recorder(),
            [User("user1", "Ann", "ann@x.test")],
            [outbox],
            state_of=lambda cid: State.INVALID,
        )
        subject = Subject("fb", "facebook", "owned", "Acme", "Facebook")
        notifier.turned_invalid(subject, "checkpoint")
        return [e.message_id for e in outbox.emails]

    first, second = sent(), sent()
    assert len(first) > 0 and set(first).isdisjoint(second)
