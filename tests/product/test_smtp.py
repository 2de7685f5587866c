"""The SMTP capture: real mail sent with smtplib to a port the OS chose, read back and
classified by the product file's ``emails:`` rules."""

from __future__ import annotations

import smtplib
import socket
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conntrack.product._file import EmailRules, load_product
from conntrack.product._smtp import UNKNOWN, SmtpCapture, parse_email


def message(
    *,
    subject: str = "Your Facebook connection expires in 10 days",
    body: str = "Reconnect fb before it stops syncing.",
    headers: dict[str, str] | None = None,
    to: str = "ada@example.com",
    date: datetime | None = datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "acme@example.com"
    msg["To"] = to
    msg["Subject"] = subject
    if date is not None:
        msg["Date"] = format_datetime(date)
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg


def send(smtp: SmtpCapture, msg: EmailMessage, to: list[str] | None = None) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
        client.send_message(msg, to_addrs=to)


def product_file(tmp_path: Path, emails: str) -> Path:
    path = tmp_path / "product.yaml"
    path.write_text(
        "base: http://127.0.0.1:{port}/t\n"
        "redirect_uri: http://127.0.0.1:{port}/cb/{protocol}\n"
        "start: {command: [python, -m, acme]}\n" + emails
    )
    return path


def test_default_headers_classify_and_date_is_the_send_instant() -> None:
    with SmtpCapture() as smtp:
        assert smtp.port > 0 and smtp.running
        headers = {"X-Conntrack-Kind": "expiry_reminder", "X-Conntrack-Connection": "fb"}
        send(smtp, message(headers=headers, to="Ada <ada@example.com>, bob@example.com"))
        send(smtp, message(headers={**headers, "X-Conntrack-Kind": "invalid"}))
        got = smtp.drain()
        assert smtp.drain() == []
        assert smtp.received == 2
    assert not smtp.running
    assert [(e.kind, e.connection) for e in got] == [("expiry_reminder", "fb"), ("invalid", "fb")]
    first = got[0]
    assert first.at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert first.to == ("ada@example.com", "bob@example.com")
    assert first.subject == "Your Facebook connection expires in 10 days"
    assert first.body.strip() == "Reconnect fb before it stops syncing."
    assert first.headers["X-Conntrack-Connection"] == "fb"


def test_envelope_recipients_win_over_the_to_header() -> None:
    with SmtpCapture() as smtp:
        send(smtp, message(to="all@example.com"), to=["bcc@example.com", "ada@example.com"])
        (got,) = smtp.drain()
    assert got.to == ("bcc@example.com", "ada@example.com")


def test_an_email_the_rules_cannot_classify_is_kept_as_unknown() -> None:
    with SmtpCapture() as smtp:
        send(smtp, message())  # no headers at all
        send(smtp, message(headers={"X-Conntrack-Kind": "newsletter"}))  # not a kind
        send(smtp, message(date=None))
        got = smtp.drain()
    assert [(e.kind, e.connection) for e in got] == [(UNKNOWN, "")] * 3
    assert got[2].at is None
    assert got[1].headers["X-Conntrack-Kind"] == "newsletter"


def test_header_rules_with_a_map(tmp_path: Path) -> None:
    path = product_file(
        tmp_path,
        "emails:\n"
        "  kind: {header: X-Acme-Kind, map: {reminder: expiry_reminder, broken: invalid}}\n"
        "  connection: {header: X-Acme-Connection}\n",
    )
    rules = load_product(path).emails
    with SmtpCapture(rules) as smtp:
        send(smtp, message(headers={"x-acme-kind": "reminder", "X-Acme-Connection": " li "}))
        send(smtp, message(headers={"X-Acme-Kind": "broken", "X-Acme-Connection": "tw"}))
        send(smtp, message(headers={"X-Acme-Kind": "invalid", "X-Acme-Connection": "tw"}))
        got = smtp.drain()
    assert [(e.kind, e.connection) for e in got] == [
        ("expiry_reminder", "li"),
        ("invalid", "tw"),
        ("invalid", "tw"),  # a word that is conntrack's own needs no map entry
    ]


def test_subject_and_body_patterns(tmp_path: Path) -> None:
    path = product_file(
        tmp_path,
        "emails:\n"
        "  kind: {subject: {'expires in \\d+ days?': expiry_reminder, 'stopped': invalid}}\n"
        "  connection: {body: 'connection (?P<connection>[\\w-]+)'}\n",
    )
    rules = load_product(path).emails
    with SmtpCapture(rules) as smtp:
        send(smtp, message(subject="fb expires in 1 day", body="Your connection fb-page is..."))
        send(smtp, message(subject="Syncing stopped", body="The connection li2 needs you"))
        send(smtp, message(subject="Welcome", body="no name here"))
        got = smtp.drain()
    assert [(e.kind, e.connection) for e in got] == [
        ("expiry_reminder", "fb-page"),
        ("invalid", "li2"),
        (UNKNOWN, ""),
    ]


def test_html_only_body_and_a_date_without_zone() -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi\r\n"
        b"Date: Sun, 01 Mar 2026 09:00:00 -0000\r\nX-Conntrack-Kind: invalid\r\n"
        b"X-Conntrack-Connection: fb\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>fb is invalid</p>\r\n"
    )
    got = parse_email(raw, EmailRules())
    assert (got.kind, got.connection, got.to) == ("invalid", "fb", ("b@example.com",))
    assert got.at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert "<p>fb is invalid</p>" in got.body
    broken = parse_email(b"Date: yesterday\r\nSubject: x\r\n\r\nbody")
    assert broken.at is None and broken.kind == UNKNOWN and broken.body.strip() == "body"


def test_messages_from_several_threads_are_all_kept() -> None:
    with SmtpCapture() as smtp:
        headers = {"X-Conntrack-Kind": "invalid"}

        def sender(i: int) -> None:
            for j in range(5):
                send(smtp, message(headers={**headers, "X-Conntrack-Connection": f"c{i}-{j}"}))

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = smtp.drain()
    assert sorted(e.connection for e in got) == sorted(
        f"c{i}-{j}" for i in range(4) for j in range(5)
    )


def test_stop_is_idempotent_and_frees_the_port() -> None:
    smtp = SmtpCapture().start()
    port = smtp.port
    smtp.stop()
    smtp.stop()
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(2)
        s.connect(("127.0.0.1", port))


def test_a_failing_start_leaves_nothing_running(monkeypatch: pytest.MonkeyPatch) -> None:
    from conntrack.product import _smtp

    def refuse(self: object) -> None:
        raise OSError("no")

    monkeypatch.setattr(_smtp._Controller, "_trigger_server", refuse)
    before = threading.active_count()
    smtp = SmtpCapture()
    with pytest.raises(OSError):
        smtp.start()
    assert not smtp.running
    assert threading.active_count() == before


def test_a_server_that_cannot_bind_is_an_error_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conntrack.product import _smtp

    monkeypatch.setattr(_smtp, "HOST", "203.0.113.1")  # TEST-NET-3: not this machine's
    before = threading.active_count()
    smtp = SmtpCapture()
    with pytest.raises(OSError):
        smtp.start()
    assert not smtp.running
    assert threading.active_count() == before
    smtp.stop()


def test_headers_are_read_unfolded_decoded_and_whatever_their_case() -> None:
    raw = (
        b"from: a@example.com\r\nto: Ada <ada@example.com>\r\n"
        b"subject: =?utf-8?q?Votre_connexion_expire_bient=C3=B4t?=\r\n"
        b"x-conntrack-kind: expiry_reminder\r\nX-Conntrack-Connection:\r\n  fb-page\r\n"
        b"date: Sun, 01 Mar 2026 10:00:00 +0100\r\n\r\nbody\r\n"
    )
    got = parse_email(raw)
    assert got.subject == "Votre connexion expire bientôt"
    assert (got.kind, got.connection, got.to) == (
        "expiry_reminder",
        "fb-page",
        ("ada@example.com",),
    )
    assert got.at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from([b"Date", b"Subject", b"To", b"Cc", b"X-Conntrack-Kind",
                             b"Content-Type", b"Content-Transfer-Encoding", b"From"]),
            st.one_of(
                st.binary(max_size=30),
                st.sampled_from([b"<", b"=?utf-8?b?////?=", b"=?x-nope?q?a?=", b"\xff\xfe",
                                 b"text/plain; charset=x-nope", b"base64", b"a@, <b@>, ;;",
                                 b"multipart/mixed; boundary=\"b\"", b"Mon, 32 Foo 99999"]),
            ),
        ),
        max_size=6,
    ),
    body=st.binary(max_size=100),
)  # fmt: skip
def test_a_malformed_message_is_read_never_raised(
    headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    raw = b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n" + body
    got = parse_email(raw)
    assert isinstance(got.subject, str) and isinstance(got.body, str)
    assert got.kind in ("expiry_reminder", "invalid", UNKNOWN)
    got.subject.encode("utf-8")  # text a report can write
    got.body.encode("utf-8")


def test_the_server_keeps_a_malformed_message() -> None:
    with SmtpCapture() as smtp, smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
        client.sendmail("a@example.com", ["b@example.com"], b"To: <\r\nSubject: \xff\r\n\r\nhi\r\n")
        (got,) = smtp.drain()
    assert got.to == ("b@example.com",) and got.kind == UNKNOWN


def test_bodies_in_an_unknown_charset_or_without_text() -> None:
    odd = parse_email(
        b"Subject: x\r\nContent-Type: text/plain; charset=x-nope\r\n\r\nfb expires \xff soon\r\n"
    )
    assert odd.body.startswith("fb expires ") and odd.body.rstrip().endswith(" soon")
    attachment = parse_email(
        b"Subject: x\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01binary\r\n"
    )
    assert attachment.body == ""


def test_a_message_the_parser_fails_on_is_still_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from conntrack.product import _smtp

    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(_smtp, "parse_email", broken)
    with SmtpCapture() as smtp:
        send(smtp, message(subject="kept"))
        (got,) = smtp.drain()
    assert got.kind == UNKNOWN and "Subject: kept" in got.body and got.to == ("ada@example.com",)
    assert "a bug" in got.headers["X-Conntrack-Error"]
