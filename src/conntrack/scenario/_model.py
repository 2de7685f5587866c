"""The scenario model: what a loaded, validated scenario file becomes.

Every time in the model is an offset from the scenario's ``start`` (a ``timedelta``);
the loader turns absolute UTC instants into offsets. Every element keeps the file and
line it came from (``where``) so that a failed expectation can point at its source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._policy import PolicyPatch

# The timeline events; the loader rejects any other name.
# Account events: fired on the connection's provider account through the fake's control API.
ACCOUNT_EVENTS = (
    "password_change",
    "username_change",
    "app_removed",
    "checkpoint",
    "checkpoint_cleared",
    "locked",
    "unlocked",
    "suspended",
    "reinstated",
    "restricted",
    "unrestricted",
    "admin_removed",
    "admin_added",
    "switched_to_personal",
    "switched_to_professional",
    "page_unlinked",
    "page_linked",
    "permission_revoked",
)
# What a company user does to a connection in the product (through the consent pop-up).
CONNECTION_ACTIONS = ("reconnect", "disconnect", "add")
# What happens to a whole provider for a while (``for: 6h``): faults in the fake.
PROVIDER_EVENTS = ("outage", "rate_limited")
# Changes to the company's people (``user: user5``): who gets the next email.
COMPANY_EVENTS = ("user_joined", "user_left", "opt_out", "opt_in")
EVENTS = (*ACCOUNT_EVENTS, *CONNECTION_ACTIONS, *PROVIDER_EVENTS, *COMPANY_EVENTS)
# The email kinds the notifier sends.
EMAIL_KINDS = ("expiry_reminder", "invalid")
CONNECTION_KINDS = ("owned", "monitored", "paid")


@dataclass(frozen=True)
class Where:
    """Where an element stands in its file (line is 1-based)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class CompanySpec:
    users: int
    """How many users the company has; they are named ``user1`` … ``userN``."""
    opt_out: tuple[str, ...] = ()
    """Users who opted out of reminder emails (the invalid-connection email still reaches them)."""
    name: str | None = None
    timezone: str = "UTC"
    """The company's IANA time zone: reminders go out at the policy's local time of day."""


@dataclass(frozen=True)
class ConnectionSpec:
    id: str
    provider: str
    kind: str
    connected_by: str
    sync_every: timedelta
    where: Where
    connect_at: timedelta = timedelta(0)
    scopes: tuple[str, ...] | None = None
    """The permissions asked for; ``None`` means the profile's ``default_scopes``."""
    account_type: str | None = None
    """Instagram only: ``personal``, ``business`` or ``creator`` (``None``: business). A
    personal account's first connect fails (``not_eligible``)."""
    decline: tuple[str, ...] = ()
    """The permissions the person unticks at the first connect (``decline:``)."""
    linked_to_page: bool = True
    """Instagram through Facebook Login only: whether the Instagram account is linked to
    the person's Facebook Page at the start. Unlinked, the first connect fails
    (``not_eligible``: the Page lists no ``instagram_business_account``) until
    ``page_linked``."""

    @property
    def first_connect_fails(self) -> str | None:
        """The key that makes this connection's first connect fail, as the scenario
        writes it (``account_type: personal``, ``linked_to_page: false``), if any: the
        connection then starts ``disconnected`` and an ``add`` comes first."""
        if self.account_type == "personal":
            return "account_type: personal"
        if not self.linked_to_page:
            return "linked_to_page: false"
        return None


@dataclass(frozen=True)
class TimelineEvent:
    at: timedelta
    event: str
    connection: str | None
    """The connection concerned; ``None`` for company events (``user_joined`` …)."""
    where: Where
    by: str | None = None
    """The company user who acts (``reconnect``, ``add``, ``disconnect``); ``None`` means
    ``connected_by``."""
    permission: str | None = None
    """The permission a ``permission_revoked`` event takes back."""
    user: str | None = None
    """The user a company event is about."""
    duration: timedelta | None = None
    """How long an ``outage`` or ``rate_limited`` lasts (``for:``)."""
    account: str | None = None
    """``other``: the person is logged in to another provider account in the pop-up."""
    popup: str | None = None
    """``blocked``: the browser blocks the pop-up; the provider's page never opens."""
    decline: tuple[str, ...] | str | None = None
    """Permissions the person unticks on the consent page, or ``all`` (they cancel)."""
    cause: str | None = None
    """Why the provider acted (``checkpoint``, ``locked``, ``suspended``, ``restricted``):
    a word of :data:`conntrack._causes.CAUSES`, like ``copyright``; the world's side only."""


@dataclass(frozen=True)
class StateExpect:
    """``{at: 20d 6h, connection: fb, state: invalid, reason: password_changed}``

    With ``until`` (written ``during: A..B``), the state holds from ``at`` through
    ``until``: it is the state at ``at`` and no transition to another state happens inside.
    """

    at: timedelta
    connection: str
    state: str
    where: Where
    reason: str | None = None
    until: timedelta | None = None


@dataclass(frozen=True)
class EmailExpect:
    """``{email: expiry_reminder, about: fb, to: all, at: [50d, 55d], within: 20d..21d}``

    ``to``: ``"all"`` (every current user), a list of user ids, or ``None`` (anyone).
    ``at``: each instant must be matched by one email (per recipient) within
    ``tolerance``, and no other email of that kind and connection may go out.
    ``within``: every matching email lies in the closed window.
    ``count``: exactly that many emails (per recipient); ``0`` means none.
    ``reaches``: look only at the sends that reach these users (``to`` says the exact
    recipients of every send; ``reaches`` what one person receives).
    """

    kind: str
    about: str
    where: Where
    to: str | tuple[str, ...] | None = None
    at: tuple[timedelta, ...] | None = None
    within: tuple[timedelta, timedelta] | None = None
    count: int | None = None
    tolerance: timedelta = timedelta(hours=12)
    reaches: tuple[str, ...] | None = None
    """Only the sends that reach these users count (each must reach all of them)."""
    says: str | None = None
    """A piece of every matching email's subject or body (case-insensitive)."""


@dataclass(frozen=True)
class GapExpect:
    """``{data_gap: fb, from: 20d, to: 23d}``: a gap in synced data from/to (± tolerance).

    ``to: None`` means the gap is still open at the end of the run. With ``total``
    (``{data_gap: fb, total: 3d}``) instead of ``from``, all the connection's gaps add up
    to that length (± tolerance); ``total: 0s`` means no gap at all.
    """

    connection: str
    start: timedelta | None
    end: timedelta | None
    where: Where
    tolerance: timedelta = timedelta(0)
    total: timedelta | None = None


@dataclass(frozen=True)
class TransitionsExpect:
    """``{transitions: fb, are: ['invalid (password_changed)', reconnected]}``: the exact,
    ordered list of states the connection moved to (each with its reason if given)."""

    connection: str
    states: tuple[tuple[str, str | None], ...]
    where: Where


@dataclass(frozen=True)
class ReconnectsExpect:
    """``{reconnects: fb, count: 2, within: 0d..60d, failed: 1}``: how many times users
    reconnected (and, with ``failed``, how many attempts to reconnect or add failed)."""

    connection: str
    count: int
    where: Where
    within: tuple[timedelta, timedelta] | None = None
    failed: int | None = None
    """How many attempts failed (pop-up blocked, wrong account, permission declined …)."""


@dataclass(frozen=True)
class BannerExpect:
    """``{banner: fb, at: 52d, shows: expiring, says: "expires on"}``: what the product's
    dashboard banner (``banner:``) or settings page (``settings:``) shows about a connection
    at an instant or, with ``until`` (``during: A..B``), throughout a window. ``shows`` is
    ``expiring``, ``expired``, ``invalid`` or ``none``; ``says`` a piece of the text."""

    connection: str
    place: str  # banner | settings
    shows: str
    at: timedelta
    where: Where
    until: timedelta | None = None
    says: str | None = None


Expectation = (
    StateExpect | EmailExpect | GapExpect | TransitionsExpect | ReconnectsExpect | BannerExpect
)


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    start: datetime
    until: timedelta
    company: CompanySpec
    connections: dict[str, ConnectionSpec]
    timeline: tuple[TimelineEvent, ...]
    expect: tuple[Expectation, ...]
    where: Where
    description: str = ""
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-provider profile overrides, e.g. ``{facebook: {long_token_lifetime: 30d}}``."""
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-provider app settings, e.g. ``{google: {publishing_status: testing}}``."""
    policy: PolicyPatch | None = None
    """Overrides of the notification policy in force (``policy:``)."""

    @property
    def users(self) -> list[str]:
        """Everyone who is ever a member: the company's users, then those who join."""
        first = [f"user{i}" for i in range(1, self.company.users + 1)]
        joined = [e.user for e in self.timeline if e.event == "user_joined" and e.user]
        return [*first, *dict.fromkeys(u for u in joined if u not in first)]

    def members_at(self, at: timedelta) -> list[str]:
        """The company's users at ``at`` (after the company events due at ``at``)."""
        members = [f"user{i}" for i in range(1, self.company.users + 1)]
        for e in self.timeline:
            if e.at > at:
                break
            if e.event == "user_joined" and e.user not in members and e.user:
                members.append(e.user)
            elif e.event == "user_left" and e.user in members:
                members.remove(e.user)
        return members
