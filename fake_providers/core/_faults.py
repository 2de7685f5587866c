"""Faults: what a provider does wrong for a while — an outage, a rate limit, a named
error, an HTTP status, latency — on all its endpoints or on one.

A :class:`Fault` says "Facebook is down" (``outage``), "LinkedIn rate-limits us"
(``rate_limit``), "X answers the password-changed error on ``/2/users/me``"
(``error``), "Google's token endpoint answers 502" (``status``) or "TikTok answers
everything 2 s late" (``latency``), from the instant it is added until one limit is
reached: a duration (``for_``), an instant (``until``) or a number of faulted answers
(``count``: 1 is a one-shot). ``endpoint`` narrows it to the paths it matches
(:func:`endpoint_matches`). The core only keeps faults; each provider package turns an
active fault into its own answer, and the app asks before every request of a provider
host (``fake_providers._faults``).

Time limits are checked lazily against the core's clock: no timer fires when a fault
ends, it is simply no longer active the next time someone asks. Adding a fault,
removing one and counting down a ``count`` fault are mutations (``core.seq`` rises);
a fault ending by time is not (nothing happened, time passed).

``quiet_until`` (the promise "this token's answers cannot change before …") gives no
promise while a fault of the token's provider is active: a caller then asks for real,
so it never skips a sync across the end of a fault.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from conntrack import format_instant

from ._errors import Conflict, InvalidRequest, NotFound
from ._model import Fault, FaultError, FaultKind
from ._oauth1 import OAuth1

#: The order faults are asked in: latency first (it delays, then lets the others
#: answer), then an outage (nothing is served at all), a status, a named error, and a
#: rate limit last.
_ORDER = {
    FaultKind.LATENCY: 0,
    FaultKind.OUTAGE: 1,
    FaultKind.STATUS: 2,
    FaultKind.ERROR: 3,
    FaultKind.RATE_LIMIT: 4,
}
#: The parameter each kind needs; the others are refused for it.
_PARAMS = {FaultKind.ERROR: "error", FaultKind.STATUS: "status", FaultKind.LATENCY: "delay_ms"}
#: Statuses a ``status`` fault may answer: any client or server error.
STATUS_RANGE = range(400, 600)
#: The longest latency: 10 minutes (longer is a hang, which an outage plays better).
MAX_DELAY_MS = 600_000
_SEGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%-]+")


def endpoint_segments(endpoint: str) -> list[str]:
    """The segments of an endpoint pattern (``/v21.0/me/accounts`` → three)."""
    return [p for p in endpoint.split("/") if p]


def endpoint_matches(endpoint: str, hosts: tuple[str, ...], path: str) -> bool:
    """Whether a request on ``path`` (``/{host}/…``, query excluded) matches ``endpoint``.

    ``endpoint`` is a path after the host (``/v21.0/me/accounts``, matched on every one
    of the provider's ``hosts``) or a path that starts with one of them
    (``/graph.facebook.com/v21.0/me``: on that host only). It matches the path itself
    and every path below it (a prefix of whole segments; a trailing slash does not
    matter), and ``*`` in a segment stands for any characters but ``/``
    (``/v2/users/*/tweets``, ``/*/me``).
    """
    parts = [p for p in path.split("/") if p]
    if not parts:
        return False
    host, rest = parts[0].lower(), parts[1:]
    pattern = endpoint_segments(endpoint)
    if pattern and pattern[0].lower() in hosts:
        if pattern[0].lower() != host:
            return False
        pattern = pattern[1:]
    if len(pattern) > len(rest):
        return False
    return all(_segment_matches(p, r) for p, r in zip(pattern, rest, strict=False))


def _segment_matches(pattern: str, segment: str) -> bool:
    if "*" not in pattern:
        return pattern == segment
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.fullmatch(regex, segment) is not None


class Faults(OAuth1):
    """Faults (part of :class:`~._core.Core`)."""

    def add_fault(
        self,
        provider: str,
        kind: str | FaultKind,
        *,
        for_: timedelta | None = None,
        until: datetime | None = None,
        count: int | None = None,
        endpoint: str | None = None,
        error: str | FaultError | None = None,
        status: int | None = None,
        delay_ms: int | None = None,
    ) -> Fault:
        """Start a fault of ``provider`` (a protocol or catalog profile name) now.

        Give exactly one limit: ``for_`` (a positive duration), ``until`` (an instant
        after now) or ``count`` (how many answers it faults, at least 1). ``endpoint``
        (optional) limits it to the paths it matches (:func:`endpoint_matches`). Kind
        ``error`` needs ``error`` (a :class:`FaultError` name), ``status`` needs
        ``status`` (400 to 599), ``latency`` needs ``delay_ms`` (1 to 600000); each of these
        is refused with another kind. Raises :class:`InvalidRequest` naming the field
        (``provider``, ``kind``, ``for``, ``until``, ``count``, ``endpoint``, ``error``,
        ``status``, ``delay_ms``).
        """
        protocol = self.protocol_of(provider)
        try:
            fault_kind = FaultKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in FaultKind)
            raise InvalidRequest(
                f"unknown fault kind {kind!r}; known: {known}", field="kind"
            ) from None
        named, code, delay = self._fault_params(fault_kind, error, status, delay_ms)
        pattern = self._fault_endpoint(protocol, endpoint)
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
                raise Conflict(f"until must be after now ({format_instant(now)})", field="until")
            end = until
        elif isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidRequest("count must be a whole number of at least 1", field="count")
        mark = self._bump()
        fault = Fault(
            f"flt{mark.seq}", protocol, fault_kind, now, end, count, mark.seq,
            endpoint=pattern, error=named, status=code, delay_ms=delay,
        )  # fmt: skip
        self._faults[fault.id] = fault
        return fault

    @staticmethod
    def _fault_params(
        kind: FaultKind, error: object, status: object, delay_ms: object
    ) -> tuple[FaultError | None, int | None, int | None]:
        """Check the kind's own parameter (and that no other kind's is given)."""
        values = {"error": error, "status": status, "delay_ms": delay_ms}
        needed = _PARAMS.get(kind)
        for name, value in values.items():
            if value is not None and name != needed:
                raise InvalidRequest(f"{name} does not apply to a {kind} fault", field=name)
        if needed is not None and values[needed] is None:
            raise InvalidRequest(f"a {kind} fault needs {needed}", field=needed)
        if kind is FaultKind.ERROR:
            named = next((e for e in FaultError if e.value == error), None)
            if named is None:
                known = ", ".join(e.value for e in FaultError)
                raise InvalidRequest(f"unknown error {error!r}; known: {known}", field="error")
            return named, None, None
        if kind is FaultKind.STATUS:
            if (
                isinstance(status, bool)
                or not isinstance(status, int)
                or status not in STATUS_RANGE
            ):
                raise InvalidRequest(
                    "status must be an HTTP status from 400 to 599", field="status"
                )
            return None, status, None
        if kind is FaultKind.LATENCY:
            if (
                isinstance(delay_ms, bool)
                or not isinstance(delay_ms, int)
                or not 1 <= delay_ms <= MAX_DELAY_MS
            ):
                raise InvalidRequest(
                    f"delay_ms must be a whole number of milliseconds from 1 to {MAX_DELAY_MS}",
                    field="delay_ms",
                )
            return None, None, delay_ms
        return None, None, None

    def _fault_endpoint(self, protocol: str, endpoint: object) -> str | None:
        """Check an endpoint pattern: a path (``/…``) of segments, its host (if it
        names one) one of the provider's."""
        if endpoint is None:
            return None
        if not isinstance(endpoint, str) or not endpoint.startswith("/"):
            raise InvalidRequest(
                "endpoint must be a path that starts with '/', like /v21.0/me/accounts",
                field="endpoint",
            )
        path = endpoint.split("?", 1)[0]
        segments = endpoint_segments(path)
        if "?" in endpoint or not segments or not all(_SEGMENT.fullmatch(p) for p in segments):
            raise InvalidRequest(
                "endpoint must be a path of one or more segments (no query, '*' for any "
                "characters in a segment)",
                field="endpoint",
            )
        first = segments[0].lower()
        hosts = tuple(h.lower() for h in self._profiles[protocol].hosts)
        if (
            "." in first
            and first not in hosts
            and any(first in (h.lower() for h in p.hosts) for p in self._profiles.values())
        ):
            raise InvalidRequest(
                f"endpoint names host {first!r}, which is not {protocol}'s ({', '.join(hosts)})",
                field="endpoint",
            )
        return "/" + "/".join(segments)

    def fault_hosts(self, provider: str) -> tuple[str, ...]:
        """The hosts (lower case) a provider's faults apply to."""
        return tuple(h.lower() for h in self.profile(provider).hosts)

    def faults(self, provider: str | None = None) -> list[Fault]:
        """The faults active now (of one provider if given), in the order they are asked
        (latency, outage, status, error, rate limit), oldest first within a kind.

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
