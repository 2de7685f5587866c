"""The boundary between the world and the product: one interface, two sides.

The **world** is everything conntrack plays: the fake providers, the clock, the
company's people and their browsers, the SMTP capture, the scenario driver and the
recorder (:mod:`._harness`). The **product** is what is tested, seen only through
:class:`Product`:

- :class:`~._client.HttpProduct` — a real product reached through the product test
  protocol (``POST {base}/clock``, ``PUT {base}/company``,
  ``POST {base}/connections/{name}/login``, ``DELETE {base}/connections/{name}``,
  ``GET {base}/connections``; emails over SMTP). The protocol is ``openapi.json`` in
  this package.
- :class:`~._model.ModelProduct` — conntrack's own model (connection actors, notifier)
  behind the same interface; ``conntrack reference-product`` serves it over the
  protocol (:mod:`._server`).

The world drives time and events and observes; the product reacts. Like Stripe's test
clocks, time only moves forward and :meth:`Product.advance` returns once the product has
done everything that was due. The product's words (its states, reasons, banner texts)
are mapped to conntrack's by the product file (:mod:`._file`) before the world sees them.

(The in-process engine, :func:`conntrack.scenario.run_scenario`, stays the fast default:
it runs the same model on one mock clock with the fakes in the same ``trio.run``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .._exceptions import ConntrackError


@dataclass(frozen=True)
class CompanyUser:
    """One of the company's people, as ``PUT {base}/company`` sends them."""

    id: str
    name: str
    email: str
    opt_out: bool = False

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "opt_out": self.opt_out}


@dataclass(frozen=True)
class Company:
    """The company's time zone and its members at this moment."""

    timezone: str
    users: tuple[CompanyUser, ...]

    def json(self) -> dict[str, Any]:
        return {"timezone": self.timezone, "users": [u.json() for u in self.users]}


@dataclass(frozen=True)
class ConnectionView:
    """What the product shows about one connection, in conntrack's words.

    ``state`` is one of :data:`conntrack.STATES` (``connected`` where the product does
    not say ``reconnected``: the world infers that from the login it played); ``reason``
    one of :data:`conntrack.REASONS` or ``None``; ``banner`` the dashboard banner's text
    and ``settings`` the settings page's message (``""`` when nothing is shown);
    ``shows`` what the banner is about (``expiring``, ``expired``, ``invalid`` or
    ``none``). ``last_synced_at`` is the instant of the last sync that read data;
    ``state_since``, when the product says it, the instant the connection entered its
    state (else the world takes the instant it observed the change). ``raw`` is the
    product's own JSON object, shown in reports.
    """

    name: str
    state: str
    reason: str | None = None
    banner: str = ""
    settings: str = ""
    shows: str = "none"
    last_synced_at: datetime | None = None
    state_since: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class LoginOutcome:
    """What the product's OAuth callback made of the browser's arrival.

    ``ok`` when the product took the tokens (its callback answered below 400);
    ``detail`` says why not, in the product's words (its answer's text or JSON
    ``error``), or what was kept.
    """

    ok: bool
    detail: str = ""
    status: int = 0


@dataclass(frozen=True)
class CapturedEmail:
    """One email the product sent, as the world's SMTP capture read it, classified by the
    product file's rules: ``kind`` is conntrack's (``expiry_reminder``, ``invalid``…),
    ``connection`` the connection's name; ``to`` the recipients' addresses. ``at`` is the
    instant the product says it sent it (its ``Date:`` header), when that is given and
    plausible, else the instant the world received it."""

    at: datetime | None
    kind: str
    connection: str
    to: tuple[str, ...]
    subject: str
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict, compare=False)


class ProductError(ConntrackError):
    """The product broke the protocol: a route missing, malformed JSON, an answer that
    did not come in time, a process that exited. The scenario ends as an *error* (not a
    failure); ``request`` and ``answer`` say what was asked and what came back."""

    def __init__(self, message: str, *, request: str = "", answer: str = "") -> None:
        self.request = request
        self.answer = answer
        parts = [message]
        if request:
            parts.append(f"request: {request}")
        if answer:
            parts.append(f"answer: {answer}")
        super().__init__("\n".join(parts))


class Product(Protocol):
    """The product under test, as the world sees it. Every method may raise
    :class:`ProductError`."""

    async def advance(self, now: datetime) -> datetime | None:
        """Set the product's clock to ``now`` (never earlier than the last) and run
        everything due up to it; return once done. Answers when the product next has
        something due, if it says (``None``: it does not say)."""
        ...

    async def set_company(self, company: Company) -> None:
        """The company's people and time zone, sent again on every change."""
        ...

    async def login(self, name: str, *, provider: str, kind: str, user: str, action: str) -> str:
        """``user`` starts the product's OAuth flow for connection ``name`` (``action``
        is ``add`` or ``reconnect``); answers the provider URL the browser opens."""
        ...

    async def callback(self, url: str) -> LoginOutcome:
        """The browser arrives at the product's redirect URI, ``url`` (with ``code`` and
        ``state``, or the provider's ``error``)."""
        ...

    async def disconnect(self, name: str, *, user: str) -> None:
        """``user`` disconnects connection ``name``."""
        ...

    async def connections(self) -> list[ConnectionView]:
        """Every connection the product knows, in conntrack's words."""
        ...
