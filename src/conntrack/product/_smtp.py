"""The world's SMTP capture: the product under test sends its real emails here.

A product tells its users by email (the expiry reminders, the invalid-connection email),
and the harness must see those emails as the product really sends them: over SMTP, as
RFC 5322 messages. :class:`SmtpCapture` is an aiosmtpd server on ``127.0.0.1`` and a
port the OS chooses, in a thread of its own (aiosmtpd runs an asyncio loop; the harness
runs trio, so the two never share a loop). Every message it receives is parsed with the
standard :mod:`email` package and classified by the product file's ``emails:`` rules
(:class:`~._file.EmailRules`; by default the headers ``X-Conntrack-Kind`` and
``X-Conntrack-Connection``) into a :class:`~._interface.CapturedEmail`, which
:meth:`SmtpCapture.drain` hands over.

An email the rules cannot classify is **kept**, not dropped nor raised: its ``kind`` is
``"unknown"`` (also when the rules read a word that is not one of conntrack's kinds) and
its ``connection`` is ``""`` when none is found, so a report shows it next to the
expectations it failed to meet instead of hiding it. ``at`` is the ``Date:`` header (the
product's virtual send instant) in UTC, or ``None`` when it is missing or unreadable.

Ordering: an SMTP client's ``DATA`` command completes only once the handler here has
stored the message, so every email a product sent (synchronously) before it answered
``POST {base}/clock`` is in the next :meth:`~SmtpCapture.drain`.
"""

from __future__ import annotations

import asyncio
import email
import email.header
import email.policy
import email.utils
import re
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from ._file import EmailRules
from ._interface import CapturedEmail

UNKNOWN = "unknown"
"""The kind of an email the product file's rules cannot classify."""

HOST = "127.0.0.1"


class _Controller(Controller):
    """aiosmtpd's threaded controller, on the port the OS chose (``port=0``): it learns
    the port from the bound socket before it connects to itself to check it is up. A
    server that cannot listen fails the start at once (aiosmtpd's own waits its whole
    ``ready_timeout`` for a thread that has already ended)."""

    def _run(self, ready_event: threading.Event) -> None:
        try:
            super()._run(ready_event)
        finally:
            ready_event.set()

    def _trigger_server(self) -> None:
        if self._thread_exception is not None:
            raise self._thread_exception
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _Handler:
    """aiosmtpd's handler: runs in the server's thread, appends under the lock."""

    def __init__(self, capture: SmtpCapture) -> None:
        self.capture = capture

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        rcpt = tuple(str(a) for a in envelope.rcpt_tos)
        self.capture._received(content, rcpt)
        return "250 Message accepted for delivery"


class SmtpCapture:
    """An SMTP server capturing the product's emails (see the module docstring).

    Use it as a context manager (``with SmtpCapture(rules) as smtp:``), which starts it
    and always stops it; ``host`` and ``port`` are where the product sends.
    """

    def __init__(self, rules: EmailRules | None = None, *, ready_timeout: float = 10.0) -> None:
        self.rules = rules or EmailRules()
        self.host = HOST
        self.port = 0
        self._ready_timeout = ready_timeout
        self._lock = threading.Lock()
        self._emails: list[CapturedEmail] = []
        self._count = 0
        self._controller: _Controller | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> SmtpCapture:
        """Listen on ``127.0.0.1`` and a free port (``self.port``)."""
        if self._controller is not None:
            return self
        controller = _Controller(
            _Handler(self),
            hostname=HOST,
            port=0,
            server_hostname="conntrack-smtp.test",  # not socket.getfqdn(): no DNS lookup
            ready_timeout=self._ready_timeout,
        )
        self._controller = controller
        try:
            controller.start()
        except BaseException:
            self.stop()
            raise
        self.port = int(controller.port)
        return self

    def stop(self) -> None:
        """Stop listening and end the server's thread. Idempotent."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        try:
            controller.stop(no_assert=True)
        except RuntimeError:  # its loop is already closed: the server's thread has ended
            pass
        finally:
            if not controller.loop.is_closed() and not controller.loop.is_running():
                controller.loop.close()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpCapture:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the emails ----------------------------------------------------------------------

    def drain(self) -> list[CapturedEmail]:
        """The emails received since the last drain, in the order they arrived."""
        with self._lock:
            out, self._emails = self._emails, []
        return out

    @property
    def received(self) -> int:
        """How many emails arrived since the start (drained or not)."""
        with self._lock:
            return self._count

    def _received(self, content: bytes, rcpt: tuple[str, ...]) -> None:
        try:
            captured = parse_email(content, self.rules, rcpt)
        except Exception as e:  # a bug of ours must not lose the email: keep it whole
            text = _text(content.decode("utf-8", "replace"))
            captured = CapturedEmail(
                None, UNKNOWN, "", rcpt, "", text, {"X-Conntrack-Error": repr(e)}
            )
        with self._lock:
            self._emails.append(captured)
            self._count += 1


def parse_email(
    content: bytes, rules: EmailRules | None = None, rcpt: tuple[str, ...] = ()
) -> CapturedEmail:
    """One RFC 5322 message as a :class:`CapturedEmail`, classified by ``rules``.

    ``to`` is the envelope's recipients (``rcpt``) when given, else the ``To``/``Cc``
    addresses. Never raises for a malformed message: what cannot be read is empty.
    """
    rules = rules or EmailRules()
    message = email.message_from_bytes(content, policy=email.policy.default)
    headers: dict[str, str] = {}
    for key, raw in message.raw_items():  # unparsed: a malformed header cannot raise
        headers.setdefault(key, _header_text(raw))

    def header(name: str) -> str:
        return next((v for k, v in headers.items() if k.lower() == name.lower()), "")

    subject = header("Subject")
    body = _body(message)
    kind, connection = rules.classify(headers, subject, body)
    return CapturedEmail(
        at=_date(header("Date")),
        kind=kind or UNKNOWN,
        connection=connection or "",
        to=rcpt or _addresses(header("To"), header("Cc")),
        subject=subject,
        body=body,
        headers=headers,
    )


def _header_text(raw: Any) -> str:
    """A raw header value as text: unfolded, RFC 2047 words decoded when they can be."""
    text = re.sub(r"\r?\n(?=[ \t])", "", str(raw)).strip()
    try:
        decoded = str(email.header.make_header(email.header.decode_header(text)))
    except Exception:  # an unknown charset, a broken encoded word: keep it as written
        decoded = text
    return _text(decoded)


def _addresses(*fields: str) -> tuple[str, ...]:
    try:
        pairs = email.utils.getaddresses([f for f in fields if f])
    except Exception:  # an address list not even the lenient parser reads
        return ()
    return tuple(address for _, address in pairs if address)


def _body(message: Any) -> str:
    """The text of the message: its plain-text part, else its HTML part, else ``""``. A
    part in an unknown charset is read as UTF-8, with what does not decode replaced."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # a broken multipart structure
        part = None
    if part is None:
        part = message
    try:
        if part.get_content_maintype() != "text":
            return ""
        content = part.get_content()
        if isinstance(content, str):
            return _text(content)
    except Exception:  # an unknown charset or transfer encoding: read the bytes
        pass
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return ""
    return _text(payload.decode("utf-8", "replace")) if isinstance(payload, bytes) else ""


def _text(text: str) -> str:
    """``text`` without lone surrogates (what an undecodable byte became), so a report
    can write it."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _date(value: str | None) -> datetime | None:
    """The ``Date:`` header as a UTC instant; ``None`` when missing or unreadable. A date
    without a zone (``-0000``) is taken as UTC."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        return None
