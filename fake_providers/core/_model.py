"""The core's people-side data: apps, accounts, pages, grants, account events and states;
and the faults (outages, rate limits, errors, statuses, latency) that ``_faults`` keeps.

Plain dataclasses without behaviour that needs I/O or a clock; :class:`~._core.Core`
owns them and decides. Every record that a mutation creates or changes carries the
core-wide sequence number (``seq``) of that mutation, so that "issued before the event"
is decided by comparing sequence numbers, never by comparing equal timestamps (in a
simulation many things happen at the same virtual instant).

``provider`` on every record is the *protocol* (``facebook``, ``instagram``,
``linkedin``, ``tiktok``, ``twitter``, ``google``): the fake that speaks it. Token-side
records (codes, families, tokens) live in :mod:`._tokenmodel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from conntrack import format_instant


class Reason(StrEnum):
    """Why a token does not work (provider-neutral; each blueprint maps it to its error).

    ``MALFORMED`` is a string the core never issued. The account-event reasons appear
    only where the protocol's profile lists the event in ``token_killing_events``
    (``APP_REMOVED`` always: a removed grant is a removed grant).
    """

    MALFORMED = "malformed"
    EXPIRED = "expired"
    DATA_ACCESS_EXPIRED = "data_access_expired"
    # the token family or this very token was ended
    REVOKED = "revoked"
    ROTATED_OUT = "rotated_out"
    UNUSED_TOO_LONG = "unused_too_long"
    CAPPED = "capped"
    TESTING_EXPIRED = "testing_expired"
    # account events
    PASSWORD_CHANGED = "password_changed"
    APP_REMOVED = "app_removed"
    CHECKPOINT = "checkpoint"
    LOCKED = "locked"
    SUSPENDED = "suspended"
    RESTRICTED = "restricted"
    ADMIN_REMOVED = "admin_removed"
    NOT_ELIGIBLE = "not_eligible"


class EventType(StrEnum):
    """Account events the control API and scenarios fire (see ``Core.fire_event``)."""

    PASSWORD_CHANGE = "password_change"
    #: [obs] Facebook and Instagram end the sessions of a renamed account like those of a
    #: changed password (190/460 "…or Facebook has changed the session for security reasons").
    USERNAME_CHANGE = "username_change"
    APP_REMOVED = "app_removed"
    CHECKPOINT = "checkpoint"
    CHECKPOINT_CLEARED = "checkpoint_cleared"
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    RESTRICTED = "restricted"
    UNRESTRICTED = "unrestricted"
    ADMIN_REMOVED = "admin_removed"
    ADMIN_ADDED = "admin_added"
    SWITCHED_TO_PERSONAL = "switched_to_personal"
    SWITCHED_TO_PROFESSIONAL = "switched_to_professional"
    PAGE_UNLINKED = "page_unlinked"
    PAGE_LINKED = "page_linked"
    PERMISSION_REVOKED = "permission_revoked"


class AccountType(StrEnum):
    """An account's type (Instagram's professional/personal distinction, for all)."""

    BUSINESS = "business"
    CREATOR = "creator"
    PERSONAL = "personal"


@dataclass(frozen=True)
class Mark:
    """When something happened: its mutation sequence number and its clock time."""

    seq: int
    at: datetime


@dataclass
class App:
    """A registered OAuth client; ``publishing_status`` is ``production`` or ``testing``."""

    provider: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str
    seq: int
    publishing_status: str = "production"

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "name": self.name,
            "publishing_status": self.publishing_status,
        }


@dataclass(frozen=True)
class Post:
    """One post on a page; made once, at account creation, so reads never change it."""

    id: str
    message: str
    created_time: datetime


@dataclass
class Page:
    """A page, organization or channel (``kind``) that accounts administer.

    ``admin_id`` is the account that created it; ``admins`` who administers it now.
    ``instagram_account_id`` is the Instagram account linked to it (a Facebook Page);
    the link counts only while that account also names this page as its
    ``linked_page_id`` and is professional (``Core.instagram_business_account``).
    """

    id: str
    name: str
    category: str
    admin_id: str
    posts: list[Post] = field(default_factory=list)
    admins: set[str] = field(default_factory=set)
    kind: str = "page"
    instagram_account_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "category": self.category}


@dataclass(frozen=True)
class AccountEvent:
    """An event on an account with its parameters (``None`` when not given)."""

    account_id: str
    type: EventType
    mark: Mark
    client_id: str | None = None
    page_id: str | None = None
    permission: str | None = None
    account_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "account": self.account_id,
            "type": str(self.type),
            "at": format_instant(self.mark.at),
            "seq": self.mark.seq,
        }
        for key in ("client_id", "page_id", "permission"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.account_type is not None:
            out["account_type"] = self.account_type
        return out


@dataclass(frozen=True)
class AccountState:
    """What an account is now, from the latest event of each pair: the flags the
    blueprints consult for events that do not kill tokens."""

    locked: bool
    suspended: bool
    restricted: bool
    checkpoint: bool
    type: AccountType
    #: The Facebook Page an Instagram account is linked to (None: not linked).
    linked_page_id: str | None
    #: The pages (organizations, channels) the account administers now.
    admin_of: tuple[str, ...]

    @property
    def professional(self) -> bool:
        return self.type is not AccountType.PERSONAL


@dataclass
class Account:
    """A faker-made person at one provider, with the pages they created."""

    provider: str
    id: str
    name: str
    email: str
    seq: int
    pages: list[Page] = field(default_factory=list)
    events: list[AccountEvent] = field(default_factory=list)
    #: The seq of the last mutation that touched this account (events, grants, tokens).
    changed_seq: int = 0
    type: AccountType = AccountType.BUSINESS
    linked_page_id: str | None = None
    locked: bool = False
    suspended: bool = False
    restricted: bool = False
    checkpoint: bool = False
    #: When the account last cleared a security checkpoint (logins to apps wait after it).
    checkpoint_cleared_at: datetime | None = None
    #: When the account was deleted (``Core.delete_account``); ``None`` while it exists.
    deleted_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        pages = []
        for p in self.pages:
            one: dict[str, Any] = {"id": p.id, "name": p.name}
            if p.instagram_account_id is not None:
                one["instagram_account"] = p.instagram_account_id
            pages.append(one)
        return {
            "id": self.id,
            "provider": self.provider,
            "name": self.name,
            "email": self.email,
            "type": str(self.type),
            "linked_page": self.linked_page_id,
            "pages": pages,
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
            "provider": self.provider,
            "client_id": self.client_id,
            "account": self.account_id,
            "granted": list(self.granted),
            "declined": list(self.declined),
            "active": self.active,
            "data_access_expires_at": instant(self.data_access_expires_at),
            "removed_at": [format_instant(m.at) for m in self.removals],
        }


def instant(dt: datetime | None) -> str | None:
    return None if dt is None else format_instant(dt)


class FaultKind(StrEnum):
    """What a fault does to the requests it matches (its provider's hosts, or only the
    paths its ``endpoint`` names)."""

    #: Every endpoint answers its 5xx (a 503 page on web pages).
    OUTAGE = "outage"
    #: The provider's data/API endpoints answer its rate-limit error (not OAuth endpoints).
    RATE_LIMIT = "rate_limit"
    #: The JSON endpoints answer a named provider error (:class:`FaultError`): what a
    #: token dead for that reason gets there (web pages are untouched).
    ERROR = "error"
    #: Every endpoint answers ``status`` with the provider's generic body for it.
    STATUS = "status"
    #: The answer comes ``delay_ms`` later, then as usual (``trio.sleep``: real time in
    #: ``conntrack serve``, virtual time in a simulation).
    LATENCY = "latency"


class FaultError(StrEnum):
    """The named provider errors of an ``error`` fault, and the token reason each one
    plays: the provider answers as for a token dead for that reason."""

    PASSWORD_CHANGED = "password_changed"
    EXPIRED = "expired"
    REVOKED = "revoked"
    INVALID_TOKEN = "invalid_token"

    @property
    def reason(self) -> Reason:
        return _FAULT_REASONS[self]


_FAULT_REASONS = {
    FaultError.PASSWORD_CHANGED: Reason.PASSWORD_CHANGED,
    FaultError.EXPIRED: Reason.EXPIRED,
    FaultError.REVOKED: Reason.REVOKED,
    FaultError.INVALID_TOKEN: Reason.MALFORMED,
}


@dataclass
class Fault:
    """One fault of one provider. ``until`` is ``None`` for a ``count`` fault;
    ``remaining`` is ``None`` for a time-limited one. ``endpoint`` (``None``: every path
    of the provider's hosts) is a path pattern (see ``_faults.endpoint_matches``);
    ``error``, ``status`` and ``delay_ms`` belong to the kinds of the same names
    (``delay_ms`` to ``latency``) and are ``None`` otherwise."""

    id: str
    provider: str
    kind: FaultKind
    start: datetime
    until: datetime | None
    remaining: int | None
    seq: int
    endpoint: str | None = None
    error: FaultError | None = None
    status: int | None = None
    delay_ms: int | None = None

    def active(self, now: datetime) -> bool:
        """Whether the fault still answers at ``now``."""
        if self.until is not None and now >= self.until:
            return False
        return self.remaining is None or self.remaining > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "kind": str(self.kind),
            "endpoint": self.endpoint,
            "error": None if self.error is None else str(self.error),
            "status": self.status,
            "delay_ms": self.delay_ms,
            "start": format_instant(self.start),
            "until": None if self.until is None else format_instant(self.until),
            "remaining": self.remaining,
        }
