"""The connection lifecycle: one ``transitions`` table for every connection.

States (as the products in the field show them)::

    connected ──near_expiry──▶ expiring ──expire──▶ expired
        │  ▲                      │                    │
        │  └──────── renew ───────┘                    │
        ├──invalidate(reason)──▶ invalid               │
        │                           │                  │
        └───── reconnect (from expiring, expired, invalid) ──▶ reconnected
    any ──disconnect──▶ disconnected ──add──▶ connected

``reconnected`` counts as healthy and behaves like ``connected``; reconnecting from a
healthy state is allowed any time and keeps the state. The machine is a single
module-level sync ``Machine(model=None)``: models carry only their ``state`` and the
machine never holds a reference to them (``add_model`` costs 10 to 70 KB a model and a
list scan). Triggers are fired with :func:`fire`, which records every transition.
No I/O happens here: actors await their I/O, then fire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from transitions import EventData, Machine, MachineError

from ._exceptions import LifecycleError


class State(StrEnum):
    CONNECTED = "connected"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    INVALID = "invalid"
    RECONNECTED = "reconnected"
    DISCONNECTED = "disconnected"


STATES = tuple(s.value for s in State)
HEALTHY = frozenset({State.CONNECTED, State.RECONNECTED, State.EXPIRING})
"""States in which the connection still syncs data."""


class Reason(StrEnum):
    """Why a connection is ``invalid``; the classifier maps provider errors to these."""

    PASSWORD_CHANGED = "password_changed"
    ACCESS_REVOKED = "access_revoked"
    ADMIN_REMOVED = "admin_removed"
    CHECKPOINT = "checkpoint"
    LOCKED = "locked"
    SUSPENDED = "suspended"
    RESTRICTED = "restricted"
    INSUFFICIENT_ACCESS = "insufficient_access"
    PERMISSION_MISSING = "permission_missing"
    NOT_ELIGIBLE = "not_eligible"
    DATA_ACCESS_EXPIRED = "data_access_expired"
    REFRESH_FAILED = "refresh_failed"
    UNKNOWN = "unknown"


REASONS = tuple(r.value for r in Reason)

_LIVE = ["connected", "reconnected", "expiring"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "near_expiry", "source": ["connected", "reconnected"], "dest": "expiring"},
    {"trigger": "renew", "source": "expiring", "dest": "connected"},
    {"trigger": "expire", "source": _LIVE, "dest": "expired"},
    {"trigger": "invalidate", "source": _LIVE, "dest": "invalid"},
    {"trigger": "reconnect", "source": ["expiring", "expired", "invalid"], "dest": "reconnected"},
    {"trigger": "reconnect", "source": ["connected", "reconnected"], "dest": "="},
    {"trigger": "disconnect", "source": [*_LIVE, "expired", "invalid"], "dest": "disconnected"},
    {"trigger": "add", "source": "disconnected", "dest": "connected"},
]
TRIGGERS = tuple(dict.fromkeys(t["trigger"] for t in TRANSITIONS))


@dataclass(frozen=True)
class TransitionRecord:
    """One transition of one connection, at a virtual instant."""

    at: datetime
    connection: str
    trigger: str
    source: str
    dest: str
    reason: str | None = None
    cause: str | None = None


class Connection:
    """A model of the machine: only the state, plus the id used in records."""

    __slots__ = ("__weakref__", "id", "state")

    def __init__(self, id: str, state: str = State.CONNECTED) -> None:
        self.id = id
        self.state = str(state)


def _after(event: EventData) -> None:
    sink: Callable[[TransitionRecord], None] | None = event.kwargs.get("_sink")
    if sink is None or event.transition is None:
        return
    model: Connection = event.model  # type: ignore[assignment]
    sink(
        TransitionRecord(
            at=event.kwargs["_at"],
            connection=model.id,
            trigger=event.event.name if event.event else "?",
            source=event.transition.source,
            dest=model.state,
            reason=event.kwargs.get("reason"),
            cause=event.kwargs.get("cause"),
        )
    )


MACHINE = Machine(
    model=None,
    states=list(STATES),
    transitions=TRANSITIONS,
    initial=State.CONNECTED.value,
    auto_transitions=False,
    send_event=True,
    after_state_change=[_after],
)


def can_fire(conn: Connection, trigger: str) -> bool:
    """Whether ``trigger`` has a row for the connection's current state."""
    event = MACHINE.events.get(trigger)
    return event is not None and conn.state in event.transitions


def fire(
    conn: Connection,
    trigger: str,
    *,
    at: datetime,
    sink: Callable[[TransitionRecord], None],
    reason: str | None = None,
    cause: str | None = None,
) -> TransitionRecord | None:
    """Fire ``trigger`` on ``conn`` and record the transition through ``sink``.

    Raises :class:`LifecycleError` when the table has no row for the current state.
    """
    event = MACHINE.events.get(trigger)
    if event is None:
        raise LifecycleError(f"unknown trigger {trigger!r}; known: {', '.join(TRIGGERS)}")
    records: list[TransitionRecord] = []

    def both(rec: TransitionRecord) -> None:
        records.append(rec)
        sink(rec)

    try:
        event.trigger(conn, _at=at, _sink=both, reason=reason, cause=cause)
    except MachineError as e:
        raise LifecycleError(
            f"connection {conn.id!r}: cannot {trigger} from state {conn.state!r}"
        ) from e
    return records[0] if records else None


def mermaid() -> str:
    """The state diagram as mermaid text (from the same table)."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.CONNECTED.value}"]
    for t in TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for s in sources:
            dest = s if t["dest"] == "=" else t["dest"]
            lines.append(f"    {s} --> {dest}: {t['trigger']}")
    return "\n".join(lines)
