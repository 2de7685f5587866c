"""The core's data: apps, accounts, pages, grants, codes, tokens and account events.

Plain dataclasses without behaviour that needs I/O or a clock; :class:`~._core.Core`
owns them and decides. Every record that a mutation creates or changes carries the
core-wide sequence number (``seq``) of that mutation, so that "issued before the event"
is decided by comparing sequence numbers, never by comparing equal timestamps (in a
simulation many things happen at the same virtual instant).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from conntrack._durations import format_instant


class TokenKind(StrEnum):
    """What a token is: a short- or long-lived user token, or a page token."""

    USER_SHORT = "user_short"
    USER_LONG = "user_long"
    PAGE = "page"


class Reason(StrEnum):
    """Why a token does not work (provider-neutral; each blueprint maps it to its error)."""

    MALFORMED = "malformed"
    EXPIRED = "expired"
    PASSWORD_CHANGED = "password_changed"
    APP_REMOVED = "app_removed"
    CHECKPOINT = "checkpoint"
    DATA_ACCESS_EXPIRED = "data_access_expired"


class EventType(StrEnum):
    """Account events the control API and scenarios fire."""

    PASSWORD_CHANGE = "password_change"
    APP_REMOVED = "app_removed"
    CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class Mark:
    """When something happened: its mutation sequence number and its clock time."""

    seq: int
    at: datetime


@dataclass
class App:
    """A registered OAuth client (a Facebook app)."""

    provider: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "name": self.name,
        }


@dataclass(frozen=True)
class Post:
    """One post on a page; made once, at account creation, so reads never change it."""

    id: str
    message: str
    created_time: datetime


@dataclass
class Page:
    """A page that an account administers."""

    id: str
    name: str
    category: str
    admin_id: str
    posts: list[Post] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "category": self.category}


@dataclass(frozen=True)
class AccountEvent:
    """An event on an account; ``client_id`` limits ``app_removed`` to one app."""

    account_id: str
    type: EventType
    mark: Mark
    client_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "account": self.account_id,
            "type": str(self.type),
            "at": format_instant(self.mark.at),
            "seq": self.mark.seq,
        }
        if self.client_id is not None:
            out["client_id"] = self.client_id
        return out


@dataclass
class Account:
    """A faker-made person at one provider, with the pages they administer."""

    provider: str
    id: str
    name: str
    email: str
    seq: int
    pages: list[Page] = field(default_factory=list)
    events: list[AccountEvent] = field(default_factory=list)
    #: The seq of the last mutation that touched this account (events, grants, tokens).
    changed_seq: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "name": self.name,
            "email": self.email,
            "pages": [{"id": p.id, "name": p.name} for p in self.pages],
        }


@dataclass
class Grant:
    """What one account granted one app: granted and declined scopes, and removals."""

    provider: str
    client_id: str
    account_id: str
    granted: list[str]
    declined: list[str]
    seq: int
    data_access_expires_at: datetime | None
    auth_type: str | None = None
    active: bool = True
    #: Each time the grant was removed (app removed by the user, or all permissions
    #: revoked); tokens issued before one of these marks are dead.
    removals: list[Mark] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "account": self.account_id,
            "granted": list(self.granted),
            "declined": list(self.declined),
            "active": self.active,
            "data_access_expires_at": _instant(self.data_access_expires_at),
        }


@dataclass
class Code:
    """A single-use authorization code from an approved consent."""

    value: str
    provider: str
    client_id: str
    account_id: str
    redirect_uri: str
    issued_at: datetime
    expires_at: datetime
    seq: int
    used: Mark | None = None


@dataclass
class Token:
    """An access token: user (short or long) or page; ``expires_at`` None never expires."""

    value: str
    provider: str
    kind: TokenKind
    client_id: str
    account_id: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime | None
    seq: int
    page_id: str | None = None
    #: The user token a long-lived or page token was made from.
    parent: str | None = None

    @property
    def prefix(self) -> str:
        """Enough of the value to recognise it in a listing without leaking it."""
        return self.value[:12] + "…"


@dataclass(frozen=True)
class TokenCheck:
    """The answer to "does this token work now?": ``reason`` is None when it does.

    ``since`` is when it stopped working (the expiry or the event), ``token`` is None for
    a string the core never issued.
    """

    token: Token | None
    reason: Reason | None
    since: datetime | None = None
    event: AccountEvent | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None


def _instant(dt: datetime | None) -> str | None:
    return None if dt is None else format_instant(dt)
