"""acme's emails: the expiry reminders and the "connection needs attention" email.

Real RFC 5322 messages through :mod:`smtplib`, one per recipient (each is greeted by
name). The ``Date:`` header is acme's virtual clock at the send, and the
``X-Acme-Connection`` header names the connection (the subject says what the email is
about: ``product.yaml`` reads the kind from it).
"""

from __future__ import annotations

import asyncio
import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from .settings import Settings
from .store import Connection, Store, User

SENDER = "Acme Publisher <notifications@acme.example>"
DASHBOARD = "https://app.acme.example/settings/connections"


def when(days: int) -> str:
    return "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"


def local_day(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y}"


class Mailer:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def reminder(
        self, conn: Connection, days: int, users: list[User], at: datetime, tz: ZoneInfo
    ) -> None:
        assert conn.hard_expiry is not None
        what = _what(conn)
        subject = f"[Acme] Your {what} connection expires {when(days)}"
        body = (
            "Hi {name},\n\n"
            f"Acme's connection to your {what} expires {when(days)}, on "
            f"{local_day(conn.hard_expiry, tz)}. After that Acme can no longer publish to it "
            "or read its posts.\n\n"
            f"Reconnect it now: {DASHBOARD}/{conn.name}/reconnect\n\n— Acme\n"
        )
        await self._send("reminder", conn, users, at, subject, body)

    async def needs_attention(
        self, conn: Connection, why: str, step: str, users: list[User], at: datetime
    ) -> None:
        what = _what(conn)
        subject = f"[Acme] Action needed: your {what} connection stopped working"
        body = (
            "Hi {name},\n\n"
            f"Acme can no longer reach your {what}: {why}. Nothing is "
            "published or synced until someone reconnects it.\n\n"
            f"What to do: {step}\n\n"
            f"Reconnect it now: {DASHBOARD}/{conn.name}/reconnect\n\n— Acme\n"
        )
        await self._send("broken", conn, users, at, subject, body)

    async def _send(
        self, kind: str, conn: Connection, users: list[User], at: datetime, subject: str, body: str
    ) -> None:
        if not users:
            return
        messages = []
        for user in users:
            msg = EmailMessage()
            msg["From"] = SENDER
            msg["To"] = f"{user.name} <{user.email}>"
            msg["Subject"] = subject
            msg["Date"] = format_datetime(at)
            msg["Message-ID"] = make_msgid(domain="acme.example")
            msg["X-Acme-Connection"] = conn.name
            msg.set_content(body.replace("{name}", user.name.split(" ")[0] or user.name))
            messages.append((user.email, msg))
        await asyncio.to_thread(self._deliver, messages)
        self.store.log_email(at, kind, conn.name, [u.email for u in users], subject)

    def _deliver(self, messages: list[tuple[str, EmailMessage]]) -> None:
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=10) as smtp:
            for address, msg in messages:
                smtp.send_message(msg, to_addrs=[address])


def _what(conn: Connection) -> str:
    label = {"facebook": "Facebook Page", "linkedin": "LinkedIn page", "twitter": "X account"}
    name = conn.resource_name or conn.name
    if conn.provider == "twitter":
        name = f"@{name}"
    return f'{label.get(conn.provider, conn.provider)} "{name}"'
