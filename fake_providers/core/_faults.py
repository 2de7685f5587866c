"""Provider-wide faults: an outage or a rate limit of one whole provider, for a while.

A :class:`Fault` says "Facebook is down" (``outage``) or "LinkedIn rate-limits us"
(``rate_limit``) from the instant it is added until one limit is reached: a duration
(``for_``), an instant (``until``) or a number of faulted answers (``count``). The core
only keeps them; each provider package turns an active fault into its own error (its
5xx, its rate-limit answer), and the app asks before every request of a provider host
(``fake_providers._faults``).

Time limits are checked lazily against the core's clock: no timer fires when a fault
ends, it is simply no longer active the next time someone asks. Adding a fault,
removing one and counting down a ``count`` fault are mutations (``core.seq`` rises);
a fault ending by time is not (nothing happened, time passed).

``quiet_until`` (the promise "this token's answers cannot change before …") gives no
promise while a fault of the token's provider is active: a caller then asks for real,
so it never skips a sync across the end of a fault.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from conntrack._durations import format_instant

from ._errors import InvalidRequest, NotFound
from ._model import Fault, FaultKind
from ._oauth1 import OAuth1

#: Outages first: when both are active an outage answers (nothing is served at all).
_ORDER = {FaultKind.OUTAGE: 0, FaultKind.RATE_LIMIT: 1}


class Faults(OAuth1):
    """Provider-wide faults (part of :class:`~._core.Core`)."""

    def add_fault(
        self,
        provider: str,
        kind: str | FaultKind,
        *,
        for_: timedelta | None = None,
        until: datetime | None = None,
        count: int | None = None,
    ) -> Fault:
        """Start a fault of ``provider`` (a protocol or catalog profile name) now.

        Give exactly one limit: ``for_`` (a positive duration), ``until`` (an instant
        after now) or ``count`` (how many answers it fault, at least 1). Raises
        :class:`InvalidRequest` naming the field (``provider``, ``kind``, ``for``,
        ``until``, ``count``).
        """
        protocol = self.protocol_of(provider)
        try:
            fault_kind = FaultKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in FaultKind)
            raise InvalidRequest(
                f"unknown fault kind {kind!r}; known: {known}", field="kind"
            ) from None
        limits = (("for", for_), ("until", until), ("count", count))
        given = [name for name, value in limits if value is not None]
        if not given:
            raise InvalidRequest(
                "give one limit: 'for' (a duration), 'until' (an instant) or 'count'", field="for"
            )
        if len(given) > 1:
            raise InvalidRequest(
                f"give only one of 'for', 'until' and 'count', not {' and '.join(given)}",
                field=given[1],
            )
        now = self.now()
        end: datetime | None = None
        if for_ is not None:
            if not isinstance(for_, timedelta) or for_ <= timedelta(0):
                raise InvalidRequest("for must be a positive duration", field="for")
            end = now + for_
        elif until is not None:
            if not isinstance(until, datetime) or until.tzinfo is None:
                raise InvalidRequest("until must be an instant with a UTC offset", field="until")
            if until <= now:
                raise InvalidRequest(
                    f"until must be after now ({format_instant(now)})", field="until"
                )
            end = until
        elif isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidRequest("count must be a whole number of at least 1", field="count")
        mark = self._bump()
        fault = Fault(f"flt{mark.seq}", protocol, fault_kind, now, end, count, mark.seq)
        self._faults[fault.id] = fault
        return fault

    def faults(self, provider: str | None = None) -> list[Fault]:
        """The faults active now (of one provider if given), outages first, oldest first.

        Faults that have ended are dropped here (lazily; not a mutation)."""
        table = self._faults
        if not table:
            return []
        now = self.now()
        for fault_id in [i for i, f in table.items() if not f.active(now)]:
            del table[fault_id]
        protocol = None if provider is None else self.protocol_of(provider)
        out = [f for f in table.values() if protocol is None or f.provider == protocol]
        return sorted(out, key=lambda f: (_ORDER[f.kind], f.seq))

    def fault(self, fault_id: str) -> Fault | None:
        """An active fault by id, or ``None``."""
        return next((f for f in self.faults() if f.id == fault_id), None)

    def remove_fault(self, fault_id: str) -> Fault:
        """End an active fault now (a mutation); :class:`NotFound` (``fault_id``) if none."""
        fault = self.fault(fault_id)
        if fault is None:
            raise NotFound(f"no active fault {fault_id!r}", field="fault_id")
        del self._faults[fault.id]
        self._bump()
        return fault

    def clear_faults(self, provider: str | None = None) -> list[Fault]:
        """End every active fault (of one provider if given); one mutation if any ended."""
        ended = self.faults(provider)
        if ended:
            table = self._faults
            for fault in ended:
                del table[fault.id]
            self._bump()
        return ended

    def fault_hit(self, fault: Fault) -> None:
        """Count one faulted answer: a ``count`` fault has one fewer to give (a mutation);
        a time-limited fault does not change."""
        if fault.remaining is None:
            return
        fault.remaining = max(0, fault.remaining - 1)
        self._bump()
        if fault.remaining == 0:
            self._faults.pop(fault.id, None)

    def quiet_until(self, value: str) -> datetime | Literal[False] | None:
        """As :meth:`Tokens.quiet_until`, but no promise (``False``) while a fault of the
        token's provider is active: its answers change when the fault ends, and a
        ``count`` fault ends with no instant known in advance."""
        quiet = super().quiet_until(value)
        if quiet is False:
            return False
        token = self._tokens.get(value)
        if token is not None and self.faults(token.provider):
            return False
        return quiet
