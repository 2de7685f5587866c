"""Real delivery of a run's emails: SMTP and webhook sinks, retries, a durable outbox file.

A simulation runs on a mock clock that jumps through virtual time, so it must not wait on
real network I/O. Its emails are collected (``MemoryOutbox``, ``JsonlOutbox``) and
delivered afterwards, in real time, by :func:`deliver`:

- a **sink** sends one email or raises: :class:`SmtpSink` (stdlib ``smtplib``, one
  connection reused for a batch) and :class:`WebhookSink` (a JSON ``POST``, any non-2xx
  answer is a failure);
- every email is tried on every sink up to ``attempts`` times with exponential backoff; a
  refused, dropped or timed-out connection is a failed attempt, never an exception to the
  caller; an answer that retrying cannot change (SMTP 5xx for the recipient, HTTP 4xx other
  than 408/425/429, a message that cannot be built) stops the retries for that email;
- an :class:`OutboxFile` (JSON lines, a superset of ``JsonlOutbox``'s lines) keeps every
  email with its delivery ``status`` (``pending``, ``sent``, ``failed``), ``attempts``,
  ``error`` and ``sink``. Delivering from it retries the pending and failed ones and
  rewrites it atomically, so an email that could not be delivered stays in the file with
  its error until a later ``conntrack deliver`` sends it.

Delivery is at least once: an email whose connection dropped after the server took it is
sent again. The ``Message-ID`` (and the webhook's ``Idempotency-Key``) is the email's
``message_id``, given when the run sent it (from the run's id — random for every run
unless ``--run-id`` pins it — the scenario and seed, the email's instant, kind, connection,
recipient and address: distinct for every email of a run and between runs, also two runs
of the same scenario and seed) and kept in the outbox file, so a retry sends the same id
and a receiver can drop the duplicate and only it.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import re
import smtplib
import ssl
import stat
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

# The options live apart so that the parser (and ``--help``) loads neither httpx nor
# smtplib; named here too, where callers have always found them.
from ._deliveryargs import DEFAULT_SENDER, PASSWORD_ENV, add_deliver_arguments
from ._deliveryargs import add_delivery_options as add_delivery_options
from ._durations import format_instant, parse_instant
from ._exceptions import DurationError, InputError, Problem
from ._records import EmailRecord, email_id

STATUSES = ("pending", "sent", "failed")
MAX_BACKOFF = 30.0
"""No single wait between two attempts is longer than this many seconds."""

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
#: A ``message_id`` an outbox line may hold: ``<id@domain>``, no spaces or brackets inside.
MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")


# -- the message ---------------------------------------------------------------------------


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def message_id(email: EmailRecord, domain: str = "conntrack.test") -> str:
    """``<id@domain>``: the email's ``message_id`` (one derived from its fields for an
    email made by hand, :func:`email_id`), on ``domain``."""
    local = (email.message_id or email_id(email))[1:-1].rpartition("@")[0]
    return f"<{local}@{domain}>"


def to_message(email: EmailRecord, *, sender: str = DEFAULT_SENDER) -> EmailMessage:
    """The email as an RFC 5322 message, dated at its (virtual) instant.

    Raises ``ValueError`` for an email that cannot be a message (an address that does not
    parse, a line break in the subject).
    """
    domain = parseaddr(sender)[1].rpartition("@")[2] or "conntrack.test"
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = Address(display_name=email.to, addr_spec=email.address)
    msg["Subject"] = email.subject
    msg["Date"] = format_datetime(_utc(email.at))
    msg["Message-ID"] = message_id(email, domain)
    # RFC 3834: an automatic message, so that vacation responders do not answer it.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Conntrack-Kind"] = email.kind
    msg["X-Conntrack-Connection"] = email.about
    msg["X-Conntrack-User"] = email.to
    # Quoted-printable keeps a non-ASCII body 7-bit clean (no 8BITMIME needed) and readable.
    cte = None if email.body.isascii() else "quoted-printable"
    msg.set_content(email.body, charset="utf-8", cte=cte)
    return msg


def webhook_payload(email: EmailRecord) -> dict[str, Any]:
    """What :class:`WebhookSink` posts: the email as JSON, ``at`` as ``2026-01-05T09:00:00Z``."""
    return {
        "kind": email.kind,
        "about": email.about,
        "to": email.to,
        "address": email.address,
        "subject": email.subject,
        "body": email.body,
        "at": format_instant(_utc(email.at)),
        "detail": email.detail,
    }


# -- sinks ---------------------------------------------------------------------------------


class Sink(Protocol):
    """Sends one email, or raises. ``name`` identifies it in reports and the outbox file."""

    @property
    def name(self) -> str: ...

    def send(self, email: EmailRecord) -> None: ...


class WebhookError(Exception):
    """A webhook answered with something other than 2xx."""

    def __init__(self, status: int, reason: str, body: str) -> None:
        self.status = status
        text = " ".join(body.split())
        text = text[:200] + ("…" if len(text) > 200 else "")
        super().__init__(f"HTTP {status} {reason}" + (f": {text}" if text else ""))


def _host_port_name(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class SmtpSink:
    """Sends each email as one message to its one recipient over SMTP.

    The connection is opened on the first ``send`` and reused until :meth:`close` (or the
    end of a ``with`` block); after a failure it is dropped and the next ``send`` opens a
    new one. A reused connection that the server closed in the meantime (an idle timeout)
    is reopened once within the same ``send``.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str = DEFAULT_SENDER,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    @property
    def name(self) -> str:
        return _host_port_name("smtp", self.host, self.port)

    def __repr__(self) -> str:
        return f"SmtpSink({self.name!r})"

    def open(self) -> None:
        if self._smtp is not None:
            return
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.username is not None:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp

    def close(self) -> None:
        """Ends the conversation politely (QUIT) if a connection is open."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, email: EmailRecord) -> None:
        msg = to_message(email, sender=self.sender)
        reused = self._smtp is not None
        try:
            self._send(msg, email.address)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            self._send(msg, email.address)  # the server closed an idle connection: reopen

    def _send(self, msg: EmailMessage, address: str) -> None:
        try:
            self.open()
            assert self._smtp is not None
            self._smtp.send_message(msg, to_addrs=[address])
        except BaseException:
            # The conversation is in an unknown state: start the next one afresh.
            self._drop()
            raise


def _redact(url: httpx.URL) -> str:
    """The URL without its password and query (where webhook secrets usually live)."""
    shown = url.copy_with(query=None, fragment=None)
    if url.password:
        shown = shown.copy_with(password="***")
    return str(shown)


class WebhookSink:
    """POSTs each email as JSON (:func:`webhook_payload`) to ``url``; non-2xx fails.

    Each request carries an ``Idempotency-Key`` header (the email's ``Message-ID``) so a
    receiver can ignore a retry of something it already took.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._name = name or _redact(httpx.URL(url))
        self._transport = transport
        self._client: httpx.Client | None = None

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"WebhookSink({self.name!r})"

    def open(self) -> None:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout, headers=self.headers, transport=self._transport
            )

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> WebhookSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, email: EmailRecord) -> None:
        self.open()
        assert self._client is not None
        response = self._client.post(
            self.url,
            json=webhook_payload(email),
            headers={"Idempotency-Key": message_id(email)},
        )
        if not response.is_success:
            raise WebhookError(response.status_code, response.reason_phrase, response.text)


# -- errors --------------------------------------------------------------------------------


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong, for the report and the outbox file."""
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{code} {msg.decode(errors='replace')} <{addr}>"
            for addr, (code, msg) in exc.recipients.items()
        )
        return _one_line(f"{name}: {refused}")
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        return _one_line(f"{name}: {exc.smtp_code} {text}")
    if isinstance(exc, WebhookError):
        return _one_line(str(exc))
    if isinstance(exc, OSError) and exc.strerror:
        return _one_line(f"{name}: {exc.strerror}")
    return _one_line(f"{name}: {exc}" if str(exc) else name)


def is_permanent(exc: BaseException) -> bool:
    """True when trying the same email on the same sink again cannot succeed."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPConnectError):
        return False  # a greeting that refuses us: often load or policy, worth retrying
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return True  # e.g. a non-ASCII address and a server without SMTPUTF8
    if isinstance(exc, WebhookError):
        return 400 <= exc.status < 500 and exc.status not in (408, 425, 429)
    # A message that cannot be built (bad address, line break in a header).
    return isinstance(exc, ValueError)


# -- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """An email a sink did not take: the last error and how many attempts were made.

    ``attempts`` is 0 when the email was not tried at all because the sink had already
    failed several emails in a row in this delivery.
    """

    email: EmailRecord
    error: str
    attempts: int


@dataclass
class SinkReport:
    sink: str
    sent: int = 0
    failed: list[Failure] = field(default_factory=list)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass
class DeliveryReport:
    """What a :func:`deliver` did, per sink."""

    sinks: list[SinkReport]
    kept_in: str | None = None
    """The outbox file that keeps the failed emails (``None``: the caller must keep them)."""
    already_sent: int = 0
    """Emails of the outbox file skipped because an earlier delivery sent them."""
    give_up_after: int | None = None

    @property
    def ok(self) -> bool:
        return not any(s.failed for s in self.sinks)

    @property
    def sent(self) -> int:
        return sum(s.sent for s in self.sinks)

    @property
    def failed(self) -> list[Failure]:
        return [f for s in self.sinks for f in s.failed]

    def _sink_line(self, s: SinkReport) -> str:
        if not s.sent and not s.failed:
            return f"{s.sink}: nothing to deliver"
        parts = [f"{s.sent} sent"]
        tried = [f for f in s.failed if f.attempts]
        skipped = len(s.failed) - len(tried)
        if tried:
            low, high = min(f.attempts for f in tried), max(f.attempts for f in tried)
            after = _plural(high, "attempt") if low == high else f"{low}-{high} attempts"
            errors = Counter(f.error for f in tried).most_common()
            why = errors[0][0]
            if len(errors) > 1:
                why += f"; and {_plural(len(errors) - 1, 'other error')}"
            parts.append(f"{len(tried)} failed after {after} ({why})")
        if skipped:
            parts.append(f"{skipped} not tried after {self.give_up_after} failures in a row")
        line = f"{s.sink}: " + ", ".join(parts)
        if s.failed:
            line += f"; kept in {self.kept_in}" if self.kept_in else "; not delivered"
        return line

    def summary(self, *, details: int = 10) -> str:
        """Console text: a line per sink, then up to ``details`` failed emails per sink."""
        lines = [self._sink_line(s) for s in self.sinks]
        for s in self.sinks:
            tried = [f for f in s.failed if f.attempts]
            for f in tried[:details]:
                e = f.email
                lines.append(
                    f"  {s.sink}: {format_instant(_utc(e.at))} {e.kind} about {e.about} to "
                    f"{e.to} <{e.address}>: {f.error} ({_plural(f.attempts, 'attempt')})"
                )
            if len(tried) > details:
                lines.append(f"  {s.sink}: … and {len(tried) - details} more")
        if self.already_sent:
            lines.append(f"{_plural(self.already_sent, 'email')} already sent earlier")
        if self.failed and self.kept_in:
            emails = len({id(f.email) for f in self.failed})
            lines.append(
                f"{_plural(emails, 'email')} not delivered (kept in {self.kept_in}): "
                f"run `conntrack deliver {self.kept_in}` to retry"
            )
        return "\n".join(lines)


# -- the outbox file -----------------------------------------------------------------------


class OutboxError(InputError):
    """An outbox file that cannot be read: one ``file:line: message`` per bad line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class SinkDelivery:
    """How one email fared on one sink, over every delivery so far."""

    status: str
    attempts: int = 0
    error: str | None = None


@dataclass
class OutboxEntry:
    """One line of an outbox file: an email and how its delivery went."""

    email: EmailRecord
    scenario: str = ""
    status: str = "pending"
    attempts: int = 0
    """Every attempt on every sink, over every delivery so far."""
    error: str | None = None
    sink: str | None = None
    """The sink that ``status`` and ``error`` are about (sinks, comma-separated, once sent)."""
    deliveries: dict[str, SinkDelivery] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields this version does not know, written back unchanged."""

    def __post_init__(self) -> None:
        # Every line records its id: an email from an older file, or made by hand, gets
        # the one derived from its scenario and fields, and keeps it from then on.
        if not self.email.message_id:
            self.email = replace(self.email, message_id=email_id(self.email, self.scenario))

    def to_json(self) -> str:
        data: dict[str, Any] = {
            **self.extra,
            "scenario": self.scenario,
            **asdict(self.email),
            "at": format_instant(_utc(self.email.at)),
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "sink": self.sink,
        }
        if self.deliveries:
            data["deliveries"] = {k: asdict(v) for k, v in self.deliveries.items()}
        else:
            data.pop("deliveries", None)
        return json.dumps(data, sort_keys=True)  # as JsonlOutbox writes its lines

    def record(self, sink: str, ok: bool, attempts: int, error: str | None) -> None:
        """Note one delivery of this email to ``sink`` and update the summary fields."""
        before = self.deliveries.get(sink)
        self.deliveries[sink] = SinkDelivery(
            "sent" if ok else "failed", (before.attempts if before else 0) + attempts, error
        )
        self.attempts += attempts
        self.summarise()

    def summarise(self) -> None:
        """Set ``status``, ``sink`` and ``error`` from the per-sink ``deliveries``."""
        if not self.deliveries:
            self.status, self.sink, self.error = "pending", None, None
            return
        failed = [(k, d) for k, d in sorted(self.deliveries.items()) if d.status == "failed"]
        if failed:
            self.status, self.sink, self.error = "failed", failed[0][0], failed[0][1].error
        else:
            self.status, self.sink, self.error = "sent", ", ".join(sorted(self.deliveries)), None


_EMAIL_FIELDS = ("at", "kind", "about", "to", "address", "subject", "body", "detail", "message_id")
_ENTRY_FIELDS = ("scenario", "status", "attempts", "error", "sink", "deliveries")


def _entry_from(data: object) -> OutboxEntry:
    """One parsed line; raises ``ValueError`` with a message for the user."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    missing = [k for k in ("at", "kind", "about", "to", "address", "subject") if k not in data]
    if missing:
        raise ValueError(f"missing {', '.join(repr(k) for k in missing)}")
    for key in ("kind", "about", "to", "address", "subject", "body", "scenario", "message_id"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key!r} must be a string, got {data[key]!r}")
    if data.get("message_id") and not MESSAGE_ID.fullmatch(data["message_id"]):
        raise ValueError(f"'message_id' must be like <id@domain>, got {data['message_id']!r}")
    try:
        at = parse_instant(data["at"])
    except DurationError as e:
        raise ValueError(f"'at': {e}") from None
    detail = data.get("detail", {})
    if not isinstance(detail, dict):
        raise ValueError(f"'detail' must be an object, got {detail!r}")
    status = data.get("status", "pending")
    if status not in STATUSES:
        raise ValueError(f"'status' must be one of {', '.join(STATUSES)}, got {status!r}")
    attempts = data.get("attempts", 0)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
        raise ValueError(f"'attempts' must be a whole number >= 0, got {attempts!r}")
    for key in ("error", "sink"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"{key!r} must be a string or null, got {data[key]!r}")
    deliveries: dict[str, SinkDelivery] = {}
    raw = data.get("deliveries", {})
    if not isinstance(raw, dict):
        raise ValueError(f"'deliveries' must be an object, got {raw!r}")
    for sink, d in raw.items():
        if (
            not isinstance(d, dict)
            or d.get("status") not in ("sent", "failed")
            or not isinstance(d.get("attempts", 0), int)
        ):
            raise ValueError(
                f"'deliveries'.{sink!r} must be like "
                f'{{"status": "sent", "attempts": 1, "error": null}}, got {d!r}'
            )
        deliveries[sink] = SinkDelivery(d["status"], d.get("attempts", 0), d.get("error"))
    email = EmailRecord(
        at=at,
        kind=data["kind"],
        about=data["about"],
        to=data["to"],
        address=data["address"],
        subject=data["subject"],
        body=data.get("body", ""),
        detail=detail,
        message_id=data.get("message_id", ""),
    )
    return OutboxEntry(
        email=email,
        scenario=data.get("scenario", ""),
        status=status,
        attempts=attempts,
        error=data.get("error"),
        sink=data.get("sink"),
        deliveries=deliveries,
        extra={k: v for k, v in data.items() if k not in _EMAIL_FIELDS + _ENTRY_FIELDS},
    )


class OutboxFile:
    """Emails and their delivery status, one JSON object a line.

    Each line holds ``JsonlOutbox``'s fields (``scenario, at, kind, about, to, address,
    subject, body, detail, message_id``) plus ``status`` (``pending``, ``sent``, ``failed``),
    ``attempts``, ``error``, ``sink`` and, once delivered, ``deliveries`` (per sink). A
    line written by ``JsonlOutbox`` loads as ``pending``. :meth:`save` replaces the file
    atomically: a crash leaves the old file or the new one, never half of one.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"OutboxFile({str(self.path)!r})"

    def load(self) -> list[OutboxEntry]:
        """Every entry; raises :class:`OutboxError` (``file:line: message``) on bad lines."""
        try:
            text = _read_regular(self.path).decode("utf-8")
        except FileNotFoundError:
            raise InputError(f"{self.path}: no such outbox file") from None
        except UnicodeDecodeError as e:
            raise InputError(f"{self.path}: not UTF-8 text ({e.reason})") from None
        except OSError as e:
            raise InputError(f"{self.path}: cannot read: {e.strerror or e}") from None
        entries, problems = [], []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entries.append(_entry_from(json.loads(line)))
            except json.JSONDecodeError as e:
                problems.append(Problem(str(self.path), number, f"not JSON: {e.msg}"))
            except ValueError as e:
                problems.append(Problem(str(self.path), number, str(e)))
        if problems:
            raise OutboxError(problems)
        return entries

    def save(self, entries: Iterable[OutboxEntry]) -> None:
        """Replace the file's content with ``entries`` (temp file, fsync, ``os.replace``)."""
        self._replace(entry.to_json() + "\n" for entry in entries)

    def write(self, emails: Iterable[EmailRecord], scenario: str = "") -> None:
        """Replace the file's content with ``emails``, all ``pending``."""
        self.save(OutboxEntry(email, scenario) for email in emails)

    def append(self, emails: Iterable[EmailRecord], scenario: str = "") -> None:
        """Add ``emails`` as ``pending`` at the end, keeping what the file already holds."""
        with self.path.open("a", encoding="utf-8") as f:
            for email in emails:
                f.write(OutboxEntry(email, scenario).to_json() + "\n")

    def _replace(self, lines: Iterable[str]) -> None:
        folder = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.writelines(lines)
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, self.path.stat().st_mode & 0o7777)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
            with contextlib.suppress(OSError):
                dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)


# -- delivering ----------------------------------------------------------------------------


class _Delivery:
    """Attempts, backoff and the per-sink "stop after N failures in a row" rule."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        attempts: int,
        backoff: float,
        sleep: Callable[[float], object],
        give_up_after: int | None,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        if give_up_after is not None and give_up_after < 1:
            raise ValueError(f"give_up_after must be at least 1 or None, got {give_up_after}")
        self.sinks = list(sinks)
        names = [s.name for s in self.sinks]
        if len(set(names)) != len(names):
            raise ValueError(f"two sinks have the same name: {names}")
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.give_up_after = give_up_after
        self.reports = {s.name: SinkReport(s.name) for s in self.sinks}
        self._in_a_row = dict.fromkeys(names, 0)
        self._last_error: dict[str, str] = {}

    def one(self, sink: Sink, email: EmailRecord) -> tuple[bool, int, str | None]:
        """Deliver ``email`` to ``sink``: (sent?, attempts made, last error)."""
        report = self.reports[sink.name]
        if self.give_up_after is not None and self._in_a_row[sink.name] >= self.give_up_after:
            error = (
                f"not tried: {sink.name} failed {self._in_a_row[sink.name]} emails in a row "
                f"({self._last_error[sink.name]})"
            )
            report.failed.append(Failure(email, error, 0))
            return False, 0, error
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                sink.send(email)
            except Exception as e:
                error = describe_error(e)
                if is_permanent(e):
                    report.failed.append(Failure(email, error, attempt))
                    return False, attempt, error
                if attempt < self.attempts:
                    self.sleep(min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF))
            else:
                report.sent += 1
                self._in_a_row[sink.name] = 0
                return True, attempt, None
        report.failed.append(Failure(email, error, self.attempts))
        self._in_a_row[sink.name] += 1
        self._last_error[sink.name] = error
        return False, self.attempts, error

    def close(self) -> None:
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()

    def report(self, kept_in: str | None = None, already_sent: int = 0) -> DeliveryReport:
        return DeliveryReport(
            [self.reports[s.name] for s in self.sinks], kept_in, already_sent, self.give_up_after
        )


def deliver(
    emails: Iterable[EmailRecord] | OutboxFile,
    sinks: Sequence[Sink],
    *,
    attempts: int = 3,
    backoff: float = 0.5,
    sleep: Callable[[float], object] = time.sleep,
    give_up_after: int | None = 3,
    checkpoint_every: float = 1.0,
) -> DeliveryReport:
    """Deliver every email to every sink; never raises for a failed delivery.

    Each email is tried on each sink up to ``attempts`` times, waiting ``backoff``,
    ``2 * backoff``, ``4 * backoff``… seconds (at most 30) between attempts; an error that
    a retry cannot fix (see :func:`is_permanent`) ends the attempts at once. After
    ``give_up_after`` emails in a row failed every attempt on a sink, the rest are not
    tried on that sink in this delivery (they fail with "not tried"); ``None`` tries all.

    Given an :class:`OutboxFile`, delivers its ``pending`` and ``failed`` emails (a failed
    one only to the sinks that have not taken it yet), records each outcome in the file
    and rewrites it at least every ``checkpoint_every`` seconds and at the end, even on
    an interrupt. Raises :class:`OutboxError`/``InputError`` if the file cannot be read.
    """
    delivery = _Delivery(sinks, attempts, backoff, sleep, give_up_after)
    try:
        if isinstance(emails, OutboxFile):
            return _deliver_file(emails, delivery, checkpoint_every)
        for email in emails:
            for sink in delivery.sinks:
                delivery.one(sink, email)
        return delivery.report()
    finally:
        delivery.close()


def _deliver_file(outbox: OutboxFile, delivery: _Delivery, every: float) -> DeliveryReport:
    entries = outbox.load()
    todo = [e for e in entries if e.status != "sent"]
    changed = False
    saved = time.monotonic()
    try:
        current = {sink.name for sink in delivery.sinks}
        for entry in todo:
            if entry.status == "pending":
                entry.deliveries.clear()  # pending: nothing taken yet, whatever the file says
            # Where this delivery sends decides: a failure on a sink not used any more (the
            # server moved, the webhook was dropped) no longer counts.
            stale = [n for n, d in entry.deliveries.items() if d.status == "failed"]
            for name in set(stale) - current:
                del entry.deliveries[name]
                entry.summarise()
                changed = True
            for sink in delivery.sinks:
                done = entry.deliveries.get(sink.name)
                if done is not None and done.status == "sent":
                    continue
                ok, made, error = delivery.one(sink, entry.email)
                if made or done is None or entry.status == "pending":
                    entry.record(sink.name, ok, made, error)
                    changed = True
            if changed and time.monotonic() - saved >= every:
                outbox.save(entries)
                changed, saved = False, time.monotonic()
    finally:
        if changed:
            outbox.save(entries)
    return delivery.report(str(outbox.path), len(entries) - len(todo))


# -- the command line ----------------------------------------------------------------------


def parse_host_port(text: str, default_port: int = 25, option: str = "--smtp") -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` (an ``smtp://`` prefix is allowed)."""
    example = f"e.g. {option} 127.0.0.1:2525 or {option} mail.example.com"
    raw = text.strip()
    spec = raw.removeprefix("smtp://").rstrip("/")
    if spec.startswith("["):
        m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d*))?", spec)
        if not m:
            raise InputError(f"{option}: {text!r} is not [IPV6]:PORT; {example}")
        host, port_text = m.group(1), m.group(2)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InputError(f"{option}: {host!r} is not an IPv6 address; {example}") from None
    elif spec.count(":") > 1:
        raise InputError(
            f"{option}: {text!r}: write an IPv6 address in brackets, e.g. {option} [::1]:2525"
        )
    else:
        host, colon, port_text = spec.partition(":")
        if not colon:
            port_text = None
    if not host or not re.fullmatch(r"[A-Za-z0-9._:-]+", host):
        raise InputError(f"{option}: {text!r} does not name a host; {example}")
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InputError(
            f"{option}: the port in {text!r} must be a number from 1 to 65535; {example}"
        )
    return host, int(port_text)


def _webhook_url(text: str) -> str:
    example = "e.g. --webhook https://example.com/hooks/conntrack"
    try:
        url = httpx.URL(text.strip())
    except (httpx.InvalidURL, ValueError) as e:
        raise InputError(f"--webhook: {text!r} is not a URL ({e}); {example}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InputError(f"--webhook: {text!r} is not an http:// or https:// URL; {example}")
    return str(url)


def sinks_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> list[Sink]:
    """The sinks the options of :func:`add_delivery_options` ask for (maybe none).

    Raises ``InputError`` (exit status 2) naming the option and how to fix it.
    """
    env = os.environ if environ is None else environ
    sinks: list[Sink] = []
    smtp = getattr(args, "smtp", None)
    sender = getattr(args, "smtp_from", None)
    user = getattr(args, "smtp_user", None)
    starttls = bool(getattr(args, "smtp_starttls", False))
    if smtp is None:
        for option, given in (
            ("--smtp-from", sender is not None),
            ("--smtp-user", user is not None),
            ("--smtp-starttls", starttls),
        ):
            if given:
                raise InputError(f"{option} needs --smtp HOST[:PORT] to say which server")
    else:
        host, port = parse_host_port(smtp)
        if sender is not None:
            addr = parseaddr(sender)[1]
            if "@" not in addr or not addr.partition("@")[2]:
                raise InputError(
                    f"--smtp-from: {sender!r} is not an email address; e.g. "
                    "--smtp-from 'Alerts <alerts@example.com>'"
                )
        password = None
        if user is not None:
            password = env.get(PASSWORD_ENV)
            if password is None:
                raise InputError(
                    f"--smtp-user {user} needs the password in the environment variable "
                    f"{PASSWORD_ENV}"
                )
        sinks.append(
            SmtpSink(
                host,
                port,
                sender=sender or DEFAULT_SENDER,
                starttls=starttls,
                username=user,
                password=password,
            )
        )
    for url in getattr(args, "webhook", None) or []:
        sinks.append(WebhookSink(_webhook_url(url)))
    names = [s.name for s in sinks]
    if len(set(names)) != len(names):
        raise InputError(f"--webhook: the same URL is given twice: {names}")
    return sinks


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file; InputError if it is anything else (a
    folder, a FIFO, a device, a socket), unread: reading a FIFO nobody writes waits for
    ever (hence O_NONBLOCK, and the check on the open file itself) and /dev/zero never
    ends. OSError (FileNotFoundError …) for the caller to word."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(_not_an_outbox(str(path), "not a regular file"))
        return f.read()


def _not_an_outbox(name: str, what: str) -> str:
    return f"OUTBOX_FILE {name!r} is {what}: give the file that 'conntrack run --outbox FILE' wrote"


def check_deliver_args(args: argparse.Namespace) -> None:
    """The rules of ``conntrack deliver``'s arguments that argparse does not check, here so
    that every caller of :func:`cmd_deliver` gets them (not only the ``conntrack`` CLI):
    ``--attempts`` at most ``MAX_ATTEMPTS``, and an OUTBOX_FILE that is a name of a
    regular file (a FIFO, a device or a folder is refused unread; see :func:`_read_regular`)."""
    from ._cliargs import check_attempts

    check_attempts(args)
    if not args.outbox:
        raise InputError(_not_an_outbox(args.outbox, "an empty name"))
    try:
        mode = os.stat(args.outbox).st_mode
    except FileNotFoundError:
        return  # OutboxFile.load says "no such outbox file"
    except OSError as e:
        raise InputError(f"{args.outbox}: cannot read the outbox file: {e.strerror}") from None
    if not stat.S_ISREG(mode):
        raise InputError(_not_an_outbox(args.outbox, "not a regular file"))


def cmd_deliver(
    args: argparse.Namespace, *, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """``conntrack deliver``: 0 all delivered, 1 some kept in the file; raises InputError."""
    out = out or sys.stdout
    err = err or sys.stderr
    check_deliver_args(args)
    sinks = sinks_from_args(args)
    if not sinks:
        raise InputError("nothing to deliver to: give --smtp HOST[:PORT] and/or --webhook URL")
    for sink in sinks:
        if isinstance(sink, SmtpSink) and sink.username and not sink.starttls:
            print(
                f"conntrack deliver: warning: --smtp-user without --smtp-starttls sends the "
                f"password to {sink.name} unencrypted",
                file=err,
            )
    report = deliver(OutboxFile(args.outbox), sinks, attempts=args.attempts)
    print(report.summary(), file=out)
    return EXIT_OK if report.ok else EXIT_FAILED


def deliver_main(
    argv: Sequence[str], *, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """``conntrack deliver OUTBOX_FILE [--smtp …] [--webhook …]`` as a whole program.

    Returns 0 when every email is delivered (or nothing was left), 1 when some stay in the
    file as failed, 2 for bad input (options, a missing or unreadable file, a bad line).
    """
    err = err or sys.stderr
    parser = argparse.ArgumentParser(
        prog="conntrack deliver",
        description="Deliver the pending and failed emails of an outbox file, and record "
        "in it what was sent and what failed (with its error) for the next try.",
    )
    add_deliver_arguments(parser)
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as e:  # argparse has printed the usage and the error
        return e.code if isinstance(e.code, int) else EXIT_INPUT
    try:
        return cmd_deliver(args, out=out, err=err)
    except InputError as e:
        message = str(e)
        print(message if "\n" in message else f"conntrack deliver: {message}", file=err)
        return EXIT_INPUT
    except OSError as e:  # e.g. the file's folder is not writable for the rewrite
        print(f"conntrack deliver: {e.filename or args.outbox}: {e.strerror or e}", file=err)
        return EXIT_INPUT
