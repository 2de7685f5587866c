"""Shared helpers for the fake-provider tests (imported by conftest and test modules;
pytest puts this directory on ``sys.path``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, Pacific standard time
REDIRECT = "https://app.example/callback"
SCOPES = "pages_show_list,pages_read_engagement,pages_manage_posts"


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t

    def advance(self, by: timedelta) -> None:
        self.t += by


class FixedClock:
    """A clock without ``advance``: the control API cannot move it."""

    def __init__(self, start: datetime = START) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t


def error_body(message: str, code: int, trace: str, subcode: int | None = None, **kw: Any) -> str:
    """The exact Graph error envelope, as Facebook writes it."""
    sub = "" if subcode is None else f',"error_subcode":{subcode}'
    kind = kw.get("type", "OAuthException")
    text = message.replace("/", "\\/").replace('"', '\\"')
    return (
        f'{{"error":{{"message":"{text}","type":"{kind}","code":{code}{sub},'
        f'"fbtrace_id":"{trace}"}}}}'
    )
