"""Real delivery of emails: a real SMTP server (aiosmtpd) and a real HTTP server, both
started by the tests on free ports, servers that refuse or drop the connection, retries,
and the outbox file that keeps what could not be delivered."""

from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import io
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conntrack._delivery import (
    DEFAULT_SENDER,
    OutboxFile,
    SmtpSink,
    WebhookSink,
    add_delivery_options,
    deliver,
    deliver_main,
    message_id,
    parse_host_port,
    sinks_from_args,
    to_message,
    webhook_payload,
)
from conntrack._exceptions import InputError
from conntrack._notify import JsonlOutbox
from conntrack._records import EmailRecord

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def mail(n: int = 1, **kw: Any) -> EmailRecord:
    fields: dict[str, Any] = {
        "at": AT,
        "kind": "expiry_reminder",
        "about": "fb",
        "to": f"user{n}",
        "address": f"user{n}@example.com",
        "subject": "Your Facebook connection Acme expires in 10 days",
        "body": "Reconnect: https://app.conntrack.test/connections/fb/reconnect\n",
        "detail": {"days_before": 10},
    }
    fields.update(kw)
    return EmailRecord(**fields)


class Sleeps(list[float]):
    """A fake ``time.sleep`` that records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# -- servers -------------------------------------------------------------------------------


class _Handler:
    def __init__(self, rcpt_answer: str | None = None) -> None:
        self.received: list[tuple[Any, Any]] = []  # (client address, envelope)
        self.rcpt_answer = rcpt_answer

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_answer:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((session.peer, envelope))
        return "250 OK"


class _FreePortController(Controller):
    """aiosmtpd's controller, listening on a port the OS chose (``port=0``)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: _Handler

    @property
    def messages(self) -> list[EmailMessage]:
        """What the server received, parsed back (line ends as Python writes them)."""
        return [
            email.message_from_bytes(
                env.original_content.replace(b"\r\n", b"\n"), policy=email.policy.default
            )
            for _, env in self.handler.received
        ]

    @property
    def sessions(self) -> int:
        return len({peer for peer, _ in self.handler.received})


def _start_smtp(handler: _Handler, **kw: Any) -> Iterator[SmtpServer]:
    controller = _FreePortController(handler, hostname="127.0.0.1", port=0, **kw)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from _start_smtp(_Handler())


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound by this test but not listening: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@dataclass
class DroppingServer:
    """Greets like an SMTP server, reads the client's first command, then hangs up."""

    port: int = 0
    connections: int = 0
    _sock: socket.socket = field(default_factory=socket.socket)

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed by the test
            with conn, contextlib.suppress(OSError):
                self.connections += 1
                conn.sendall(b"220 flaky.test ESMTP\r\n")
                conn.recv(1024)  # EHLO ...


@pytest.fixture
def dropping_server() -> Iterator[DroppingServer]:
    server = DroppingServer()
    server._sock.bind(("127.0.0.1", 0))
    server._sock.listen()
    server.port = server._sock.getsockname()[1]
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._sock.close()
        with socket.socket() as poke:  # unblock accept() on platforms where close does not
            poke.settimeout(0.2)
            with contextlib.suppress(OSError):
                poke.connect(("127.0.0.1", server.port))
        thread.join(timeout=5)


@dataclass
class WebhookServer:
    url: str
    answers: list[int]
    """Status codes to answer, in order; 200 once they run out."""
    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    state = WebhookServer("", [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers), json.loads(body)))
            status = state.answers.pop(0) if state.answers else 200
            answer = b'{"error": "try later"}' if status >= 300 else b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks/conntrack?token=s3cret"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- the message ---------------------------------------------------------------------------


def test_message_headers_and_body() -> None:
    msg = to_message(mail())
    assert msg["From"] == DEFAULT_SENDER
    assert msg["To"] == "user1 <user1@example.com>"
    assert msg["Subject"] == "Your Facebook connection Acme expires in 10 days"
    assert msg["Date"] == "Mon, 05 Jan 2026 09:00:00 +0000"
    assert msg["X-Conntrack-Kind"] == "expiry_reminder"
    assert msg["X-Conntrack-Connection"] == "fb"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content() == mail().body


def test_message_id_is_deterministic_and_distinct() -> None:
    assert to_message(mail())["Message-ID"] == to_message(mail())["Message-ID"]
    assert message_id(mail(1)) != message_id(mail(2))
    assert message_id(mail(kind="invalid")) != message_id(mail())
    assert message_id(mail(about="ig")) != message_id(mail())
    assert message_id(mail(at=AT.replace(hour=10))) != message_id(mail())
    assert to_message(mail(), sender="Ops <ops@example.org>")["Message-ID"].endswith(
        "@example.org>"
    )


def test_non_ascii_subject_name_and_body_encode() -> None:
    e = mail(to="Zoë Müller", subject="Ihre Verbindung läuft ab — bald ✓", body="Grüße ✓\n")
    raw = to_message(e).as_bytes()
    raw.decode("ascii")  # every header and the body are 7-bit on the wire
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert back["Subject"] == e.subject
    assert back["To"].addresses[0].display_name == "Zoë Müller"
    assert back.get_content() == "Grüße ✓\n"


def test_a_line_break_in_the_subject_is_refused() -> None:
    with pytest.raises(ValueError):
        to_message(mail(subject="Hi\r\nBcc: everyone@example.com"))


# -- SMTP ----------------------------------------------------------------------------------


def test_smtp_delivers_real_messages_over_one_connection(smtp_server: SmtpServer) -> None:
    emails = [mail(1), mail(2, subject="Ünïcödé ✓ subject", to="Zoë")]
    report = deliver(emails, [SmtpSink(smtp_server.host, smtp_server.port)])
    assert report.ok and report.sent == 2
    assert report.summary() == f"smtp://127.0.0.1:{smtp_server.port}: 2 sent"
    assert smtp_server.sessions == 1
    assert [env.rcpt_tos for _, env in smtp_server.handler.received] == [
        ["user1@example.com"],
        ["user2@example.com"],
    ]
    first, second = smtp_server.messages
    assert first["Subject"] == "Your Facebook connection Acme expires in 10 days"
    assert first["To"] == "user1 <user1@example.com>"
    assert first["Date"] == "Mon, 05 Jan 2026 09:00:00 +0000"
    assert first["Message-ID"] == message_id(mail(1))
    assert first["X-Conntrack-Connection"] == "fb"
    assert first.get_content() == mail(1).body
    assert second["Subject"] == "Ünïcödé ✓ subject"
    assert second["To"].addresses[0].display_name == "Zoë"


def test_smtp_reopens_a_connection_the_server_closed(smtp_server: SmtpServer) -> None:
    sink = SmtpSink(smtp_server.host, smtp_server.port)
    sink.send(mail(1))
    assert sink._smtp is not None and sink._smtp.sock is not None
    sink._smtp.sock.shutdown(socket.SHUT_RDWR)  # as if the server had dropped it, idle
    sink.send(mail(2))  # no failed attempt: reopened within the same send
    sink.close()
    assert [m["To"] for m in smtp_server.messages] == [
        "user1 <user1@example.com>",
        "user2 <user2@example.com>",
    ]
    assert smtp_server.sessions == 2


def test_smtp_login(smtp_server: SmtpServer) -> None:
    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"pw", handled=False)

    handler = _Handler()
    for server in _start_smtp(handler, authenticator=authenticator, auth_require_tls=False):
        good = SmtpSink(server.host, server.port, username="alice", password="pw")
        assert deliver([mail()], [good]).ok
        bad = SmtpSink(server.host, server.port, username="alice", password="nope")
        report = deliver([mail()], [bad], sleep=Sleeps())
        (failure,) = report.failed
        assert "SMTPAuthenticationError: 535" in failure.error
        assert failure.attempts == 1  # a wrong password does not get better by retrying
    # smtplib tries each mechanism the server offers (PLAIN, LOGIN) before giving up.
    assert seen[0] == (b"alice", b"pw")
    assert set(seen[1:]) == {(b"alice", b"nope")}
    assert len(handler.received) == 1


def test_refused_connection_is_kept_as_failed_then_sent(
    tmp_path: Path, refused_port: int, smtp_server: SmtpServer
) -> None:
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    outbox.write([mail()], scenario="reminders")
    sleeps = Sleeps()

    report = deliver(outbox, [SmtpSink("127.0.0.1", refused_port)], sleep=sleeps)

    assert not report.ok
    (failure,) = report.failed
    assert failure.attempts == 3
    assert failure.error == "ConnectionRefusedError: Connection refused"
    assert sleeps == [0.5, 1.0]
    name = f"smtp://127.0.0.1:{refused_port}"
    assert report.summary().splitlines()[0] == (
        f"{name}: 0 sent, 1 failed after 3 attempts "
        f"(ConnectionRefusedError: Connection refused); kept in {outbox.path}"
    )
    (line,) = lines(outbox.path)
    assert line["status"] == "failed"
    assert line["attempts"] == 3
    assert line["error"] == "ConnectionRefusedError: Connection refused"
    assert line["sink"] == name
    assert line["scenario"] == "reminders"

    # The next delivery, against a server that works, sends it and says so in the file.
    working = SmtpSink(smtp_server.host, smtp_server.port)
    report = deliver(outbox, [working], sleep=sleeps)
    assert report.ok and report.sent == 1
    (line,) = lines(outbox.path)
    assert line["status"] == "sent"
    assert line["attempts"] == 4
    assert line["error"] is None
    assert line["sink"] == working.name
    assert len(smtp_server.messages) == 1

    # Once sent, an email is not sent again.
    report = deliver(outbox, [working])
    assert report.ok and report.sent == 0 and report.already_sent == 1
    assert "1 email already sent earlier" in report.summary()
    assert len(smtp_server.messages) == 1


def test_connection_dropped_mid_conversation(
    tmp_path: Path, dropping_server: DroppingServer, smtp_server: SmtpServer
) -> None:
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    outbox.write([mail()])
    sleeps = Sleeps()

    report = deliver(
        outbox, [SmtpSink("127.0.0.1", dropping_server.port)], attempts=4, sleep=sleeps
    )

    (failure,) = report.failed
    assert failure.attempts == 4
    assert failure.error.startswith(("SMTPServerDisconnected", "ConnectionResetError"))
    assert dropping_server.connections == 4
    assert sleeps == [0.5, 1.0, 2.0]
    (line,) = lines(outbox.path)
    assert (line["status"], line["attempts"], line["error"]) == ("failed", 4, failure.error)

    assert deliver(outbox, [SmtpSink(smtp_server.host, smtp_server.port)]).ok
    assert lines(outbox.path)[0]["status"] == "sent"
    assert smtp_server.messages[0]["Message-ID"] == message_id(mail())


def test_recipient_refused_is_not_retried(tmp_path: Path) -> None:
    for server in _start_smtp(_Handler(rcpt_answer="550 5.1.1 no such user")):
        report = deliver([mail()], [SmtpSink(server.host, server.port)], sleep=Sleeps())
    (failure,) = report.failed
    assert failure.attempts == 1
    assert failure.error == "SMTPRecipientsRefused: 550 5.1.1 no such user <user1@example.com>"
    assert report.summary().splitlines()[0].endswith("; not delivered")


def test_stops_trying_a_sink_after_failures_in_a_row(tmp_path: Path, refused_port: int) -> None:
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    outbox.write([mail(n) for n in range(1, 6)])
    sleeps = Sleeps()

    report = deliver(outbox, [SmtpSink("127.0.0.1", refused_port)], give_up_after=2, sleep=sleeps)

    assert [f.attempts for f in report.failed] == [3, 3, 0, 0, 0]
    assert len(sleeps) == 4
    assert "2 failed after 3 attempts" in report.summary()
    assert "3 not tried after 2 failures in a row" in report.summary()
    saved = lines(outbox.path)
    assert [line["status"] for line in saved] == ["failed"] * 5
    assert [line["attempts"] for line in saved] == [3, 3, 0, 0, 0]
    assert saved[4]["error"].startswith(
        f"not tried: smtp://127.0.0.1:{refused_port} failed 2 emails in a row"
    )


# -- retries with a fake sink --------------------------------------------------------------


class FlakySink:
    def __init__(self, failures: int, exc: Exception | None = None, name: str = "flaky") -> None:
        self._name = name
        self.failures = failures
        self.exc = exc or ConnectionResetError(104, "Connection reset by peer")
        self.sent: list[EmailRecord] = []
        self.closed = 0

    @property
    def name(self) -> str:
        return self._name

    def send(self, email: EmailRecord) -> None:
        if self.failures:
            self.failures -= 1
            raise self.exc
        self.sent.append(email)

    def close(self) -> None:
        self.closed += 1


def test_retries_with_exponential_backoff_until_sent() -> None:
    sink, sleeps = FlakySink(failures=2), Sleeps()
    report = deliver([mail()], [sink], attempts=3, backoff=0.25, sleep=sleeps)
    assert report.ok and sink.sent == [mail()]
    assert sleeps == [0.25, 0.5]
    assert sink.closed == 1


def test_an_interrupted_delivery_keeps_what_was_sent(tmp_path: Path) -> None:
    class Interrupting(FlakySink):
        def send(self, email: EmailRecord) -> None:
            if self.sent:
                raise KeyboardInterrupt
            super().send(email)

    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    outbox.write([mail(1), mail(2)])
    with pytest.raises(KeyboardInterrupt):
        deliver(outbox, [Interrupting(0)], checkpoint_every=3600)
    assert [line["status"] for line in lines(outbox.path)] == ["sent", "pending"]


# -- webhook -------------------------------------------------------------------------------


def test_webhook_posts_json_and_retries_a_500(webhook_server: WebhookServer) -> None:
    webhook_server.answers = [500]
    sink, sleeps = WebhookSink(webhook_server.url), Sleeps()
    report = deliver([mail(subject="Ünïcödé ✓")], [sink], sleep=sleeps)
    assert report.ok and report.sent == 1
    assert sleeps == [0.5]
    assert len(webhook_server.requests) == 2
    headers, payload = webhook_server.requests[-1]
    assert payload == {
        "kind": "expiry_reminder",
        "about": "fb",
        "to": "user1",
        "address": "user1@example.com",
        "subject": "Ünïcödé ✓",
        "body": mail().body,
        "at": "2026-01-05T09:00:00Z",
        "detail": {"days_before": 10},
    }
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == message_id(mail())
    # The secret in the query string is not shown in reports or written to the outbox.
    assert "s3cret" not in sink.name and sink.name.endswith("/hooks/conntrack")


def test_webhook_that_keeps_failing_is_kept(tmp_path: Path, webhook_server: WebhookServer) -> None:
    webhook_server.answers = [500, 502, 503]
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    outbox.write([mail()])
    report = deliver(outbox, [WebhookSink(webhook_server.url)], sleep=Sleeps())
    (failure,) = report.failed
    assert failure.attempts == 3
    assert failure.error == 'HTTP 503 Service Unavailable: {"error": "try later"}'
    line = lines(outbox.path)[0]
    assert (line["status"], line["attempts"]) == ("failed", 3)
    assert deliver(outbox, [WebhookSink(webhook_server.url)]).ok
    assert lines(outbox.path)[0]["status"] == "sent"


def test_webhook_4xx_is_not_retried(webhook_server: WebhookServer) -> None:
    webhook_server.answers = [404]
    report = deliver([mail()], [WebhookSink(webhook_server.url)], sleep=Sleeps())
    assert [f.attempts for f in report.failed] == [1]
    assert len(webhook_server.requests) == 1


def test_webhook_nobody_listening(refused_port: int) -> None:
    sink = WebhookSink(f"http://127.0.0.1:{refused_port}/hook")
    report = deliver([mail()], [sink], attempts=2, sleep=Sleeps())
    (failure,) = report.failed
    assert failure.attempts == 2
    assert failure.error.startswith("ConnectError")


def test_payload_at_is_utc_iso() -> None:
    assert webhook_payload(mail())["at"] == "2026-01-05T09:00:00Z"


# -- several sinks and the outbox file ------------------------------------------------------


def test_a_retry_skips_the_sinks_that_already_took_the_email(
    tmp_path: Path, smtp_server: SmtpServer, webhook_server: WebhookServer
) -> None:
    webhook_server.answers = [500, 500, 500]
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    outbox.write([mail()])
    sinks = [SmtpSink(smtp_server.host, smtp_server.port), WebhookSink(webhook_server.url)]

    report = deliver(outbox, sinks, sleep=Sleeps())
    assert [(s.sent, len(s.failed)) for s in report.sinks] == [(1, 0), (0, 1)]
    line = lines(outbox.path)[0]
    assert (line["status"], line["sink"], line["attempts"]) == ("failed", sinks[1].name, 4)
    assert line["deliveries"][sinks[0].name]["status"] == "sent"

    report = deliver(outbox, sinks, sleep=Sleeps())
    assert report.ok
    assert [(s.sent, len(s.failed)) for s in report.sinks] == [(0, 0), (1, 0)]
    assert len(smtp_server.messages) == 1  # no second copy by SMTP
    line = lines(outbox.path)[0]
    assert (line["status"], line["error"], line["attempts"]) == ("sent", None, 5)
    assert line["sink"] == ", ".join(sorted(s.name for s in sinks))


def test_a_failure_on_a_sink_no_longer_used_does_not_count(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    outbox.write([mail()])
    a, b = FlakySink(0, name="a"), FlakySink(9, name="b")
    deliver(outbox, [a, b], attempts=1)
    assert lines(outbox.path)[0]["status"] == "failed"
    report = deliver(outbox, [a])  # b is not used any more; a took the email already
    assert report.ok and report.sent == 0 and a.sent == [mail()]
    line = lines(outbox.path)[0]
    assert (line["status"], line["sink"], line["error"]) == ("sent", "a", None)


def test_reads_jsonl_outbox_lines_and_keeps_their_fields(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    jsonl = JsonlOutbox.open(path)
    jsonl.scenario = "owned facebook"
    jsonl.deliver(mail(1))
    jsonl.deliver(mail(2, detail={"days_before": 5}))
    jsonl.close()
    before = lines(path)
    with path.open("a", encoding="utf-8") as f:  # a field from a newer version
        f.write(json.dumps({**before[0], "to": "user3", "priority": "high"}) + "\n")

    entries = OutboxFile(path).load()
    assert [e.status for e in entries] == ["pending"] * 3
    assert entries[1].email == mail(2, detail={"days_before": 5})
    assert entries[0].scenario == "owned facebook"

    sink = FlakySink(0)
    assert deliver(OutboxFile(path), [sink]).ok
    assert [e.to for e in sink.sent] == ["user1", "user2", "user3"]
    after = lines(path)
    for old, new in zip(before, after, strict=False):
        assert {k: new[k] for k in old} == old  # the JsonlOutbox fields are unchanged
    assert after[2]["priority"] == "high"
    assert {line["status"] for line in after} == {"sent"}


def test_rewrite_is_atomic_and_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    OutboxFile(path).write([mail()])
    os.chmod(path, 0o640)
    deliver(OutboxFile(path), [FlakySink(0)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outbox.jsonl"]


def test_append_adds_pending_emails(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    outbox.write([mail(1)])
    deliver(outbox, [FlakySink(0)])
    outbox.append([mail(2)], scenario="later")
    assert [(e.email.to, e.status) for e in outbox.load()] == [
        ("user1", "sent"),
        ("user2", "pending"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"at": "2026-01-05T09:00:00Z"}', "missing 'kind', 'about', 'to', 'address', 'subject'"),
        (
            '{"at": "2026-01-05", "kind": "k", "about": "a", "to": "t", "address": "x@y", "subject": "s"}',
            "'at': the instant '2026-01-05' has no time zone",
        ),
        (
            '{"at": "2026-01-05T09:00:00Z", "kind": "k", "about": "a", "to": "t", "address": "x@y", "subject": "s", "status": "lost"}',
            "'status' must be one of pending, sent, failed, got 'lost'",
        ),
        (
            '{"at": "2026-01-05T09:00:00Z", "kind": "k", "about": "a", "to": "t", "address": "x@y", "subject": 3}',
            "'subject' must be a string, got 3",
        ),
    ],
)
def test_bad_lines_give_file_line_message(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "outbox.jsonl"
    OutboxFile(path).write([mail()])
    with path.open("a", encoding="utf-8") as f:
        f.write("\n" + line + "\n")
    with pytest.raises(InputError) as info:
        OutboxFile(path).load()
    assert str(info.value).startswith(f"{path}:3: {message}")


# -- the command line ----------------------------------------------------------------------


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = deliver_main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_deliver_main_sends_and_exits_0(tmp_path: Path, smtp_server: SmtpServer) -> None:
    path = tmp_path / "outbox.jsonl"
    OutboxFile(path).write([mail(1), mail(2)])
    code, out, err = _run([str(path), "--smtp", f"127.0.0.1:{smtp_server.port}"])
    assert (code, err) == (0, "")
    assert out == f"smtp://127.0.0.1:{smtp_server.port}: 2 sent\n"
    assert len(smtp_server.messages) == 2
    code, out, _ = _run([str(path), "--smtp", f"127.0.0.1:{smtp_server.port}"])
    assert code == 0 and "nothing to deliver" in out and "2 emails already sent" in out


def test_deliver_main_keeps_failures_and_exits_1(tmp_path: Path, refused_port: int) -> None:
    path = tmp_path / "outbox.jsonl"
    OutboxFile(path).write([mail()])
    code, out, _ = _run([str(path), "--smtp", f"127.0.0.1:{refused_port}", "--attempts", "1"])
    assert code == 1
    assert "0 sent, 1 failed after 1 attempt (ConnectionRefusedError" in out
    assert f"run `conntrack deliver {path}` to retry" in out
    assert lines(path)[0]["status"] == "failed"


def test_deliver_main_webhook(tmp_path: Path, webhook_server: WebhookServer) -> None:
    path = tmp_path / "outbox.jsonl"
    OutboxFile(path).write([mail()])
    code, out, _ = _run([str(path), "--webhook", webhook_server.url])
    assert code == 0 and "1 sent" in out and "s3cret" not in out + path.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to deliver to: give --smtp HOST[:PORT] and/or --webhook URL"),
        (["--smtp", "mail:abc"], "--smtp: the port in 'mail:abc' must be a number from 1 to 65535"),
        (["--smtp", "mail:70000"], "--smtp: the port in 'mail:70000' must be a number"),
        (["--smtp", "::1"], "--smtp: '::1': write an IPv6 address in brackets"),
        (["--smtp", ":25"], "--smtp: ':25' does not name a host"),
        (["--webhook", "ftp://example.com/x"], "--webhook: 'ftp://example.com/x' is not an http"),
        (["--webhook", "example.com/hook"], "--webhook: 'example.com/hook' is not an http"),
        (["--smtp-starttls"], "--smtp-starttls needs --smtp HOST[:PORT]"),
        (["--smtp", "mail", "--smtp-from", "nobody"], "--smtp-from: 'nobody' is not an email"),
        (
            ["--smtp", "mail", "--smtp-user", "alice"],
            "--smtp-user alice needs the password in the environment variable CONNTRACK_SMTP_PASSWORD",
        ),
    ],
)
def test_deliver_main_bad_options_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.delenv("CONNTRACK_SMTP_PASSWORD", raising=False)
    path = tmp_path / "outbox.jsonl"
    OutboxFile(path).write([mail()])
    before = path.read_bytes()
    code, out, err = _run([str(path), *args])
    assert code == 2 and out == ""
    assert err.startswith(f"conntrack deliver: {message}")
    assert path.read_bytes() == before


def test_deliver_main_bad_attempts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _run([str(tmp_path / "x.jsonl"), "--smtp", "mail", "--attempts", "0"])
    assert code == 2
    assert "--attempts: must be at least 1, got 0" in capsys.readouterr().err


def test_deliver_main_bad_file_exit_2(tmp_path: Path) -> None:
    code, _, err = _run([str(tmp_path / "missing.jsonl"), "--smtp", "mail"])
    assert code == 2
    assert err == f"conntrack deliver: {tmp_path / 'missing.jsonl'}: no such outbox file\n"

    path = tmp_path / "outbox.jsonl"
    OutboxFile(path).write([mail()])
    with path.open("a", encoding="utf-8") as f:
        f.write("oops\n")
    before = path.read_bytes()
    code, out, err = _run([str(path), "--smtp", "mail"])
    assert (code, out) == (2, "")
    assert err == f"conntrack deliver: {path}:2: not JSON: Expecting value\n"
    assert path.read_bytes() == before  # nothing sent, nothing rewritten


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail.example.com", ("mail.example.com", 25)),
        ("127.0.0.1:2525", ("127.0.0.1", 2525)),
        ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525)),
        ("[::1]:2525", ("::1", 2525)),
        ("[::1]", ("::1", 25)),
    ],
)
def test_parse_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


def test_sinks_from_args() -> None:
    parser = argparse.ArgumentParser()
    add_delivery_options(parser)
    args = parser.parse_args(
        [
            "--smtp",
            "[::1]:2525",
            "--smtp-from",
            "Alerts <alerts@example.com>",
            "--smtp-starttls",
            "--smtp-user",
            "alice",
            "--webhook",
            "https://example.com/a",
            "--webhook",
            "https://example.com/b",
        ]
    )
    smtp, hook_a, hook_b = sinks_from_args(args, environ={"CONNTRACK_SMTP_PASSWORD": "pw"})
    assert isinstance(smtp, SmtpSink)
    assert (smtp.name, smtp.sender, smtp.starttls, smtp.username, smtp.password) == (
        "smtp://[::1]:2525",
        "Alerts <alerts@example.com>",
        True,
        "alice",
        "pw",
    )
    assert [hook_a.name, hook_b.name] == ["https://example.com/a", "https://example.com/b"]
    assert args.attempts == 3
    assert sinks_from_args(parser.parse_args([])) == []


def test_non_ascii_round_trips_through_the_outbox_file(tmp_path: Path) -> None:
    e = mail(to="Zoë", subject="Ihre Verbindung läuft ab ✓", body="Grüße\n", detail={"ü": "✓"})
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    outbox.write([e])
    (entry,) = outbox.load()
    assert entry.email == e


def test_run_delivers_a_scenarios_emails_over_smtp_and_keeps_what_fails(
    tmp_path: Path, smtp_server: SmtpServer, refused_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole path a product team uses: run → SMTP; a refused server → deliver later."""
    from conntrack.cli import main

    scenario = str(Path(__file__).parent.parent / "scenarios" / "facebook_60_day_lifespan.yaml")
    outbox = tmp_path / "out.jsonl"
    args = ["run", scenario, "--outbox", str(outbox), "--attempts", "1"]
    assert main([*args, "--smtp", f"127.0.0.1:{refused_port}"]) == 1  # passed, not delivered
    assert "not delivered" in capsys.readouterr().out
    kept = lines(outbox)
    assert kept and all(line["status"] == "failed" for line in kept)
    assert "Connection refused" in kept[0]["error"]
    # The next run will not overwrite emails that still wait to be delivered.
    assert main(args) == 2
    assert "still holds" in capsys.readouterr().err
    assert main(["deliver", str(outbox), "--smtp", f"{smtp_server.host}:{smtp_server.port}"]) == 0
    assert {line["status"] for line in lines(outbox)} == {"sent"}
    got = smtp_server.messages
    assert len(got) == len(kept)
    assert {m["Subject"] for m in got} == {line["subject"] for line in kept}
    assert all("Reconnect: https://app.conntrack.test/connections/fb/reconnect" in m.get_content()
               for m in got)  # fmt: skip


# -- every caller gets the checks (not only the conntrack CLI) ------------------------------


@pytest.mark.parametrize("attempts", ["11", "1000000000"])
def test_deliver_main_caps_attempts(tmp_path: Path, attempts: str) -> None:
    """--attempts 1000000000 against a dead sink waited 30 s an attempt, for ever: the cap
    holds for deliver_main (and any caller of cmd_deliver), not only for ``conntrack``."""
    path = tmp_path / "outbox.jsonl"
    OutboxFile(path).write([mail()])
    before = path.read_bytes()
    code, out, err = _run([str(path), "--webhook", "http://127.0.0.1:9/", "--attempts", attempts])
    assert (code, out) == (2, "")
    assert err.startswith(f"conntrack deliver: --attempts must be at most 10, got {attempts}")
    assert err.count("\n") == 1
    assert path.read_bytes() == before


def test_deliver_main_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """A FIFO nobody writes waited for ever; /dev/zero read until memory ran out; /dev/null
    passed for an empty outbox. Each is refused at once, unread, in one line."""
    targets = [str(tmp_path)]
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        targets.append(str(fifo))
    targets += [d for d in ("/dev/null", "/dev/zero") if Path(d).exists()]
    for target in targets:
        code, out, err = _run([target, "--webhook", "http://127.0.0.1:9/"])
        assert (code, out) == (2, ""), target
        assert err == (
            f"conntrack deliver: OUTBOX_FILE {target!r} is not a regular file: give the file "
            "that 'conntrack run --outbox FILE' wrote\n"
        )
    code, _, err = _run(["", "--webhook", "http://127.0.0.1:9/"])
    assert code == 2 and "OUTBOX_FILE '' is an empty name" in err


def test_outbox_file_load_does_not_wait_on_a_fifo(tmp_path: Path) -> None:
    """OutboxFile.load itself refuses a FIFO (reading one waits for a writer)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("named pipes are POSIX")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is not a regular file"):
        OutboxFile(fifo).load()
