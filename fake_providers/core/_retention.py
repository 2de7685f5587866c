"""Retention: dead tokens, spent codes and request tokens leave memory once no client
can tell.

A server under load issues tokens without end; keeping every one makes memory grow
without end. But a dead token must keep answering the way it died — Facebook's
"Session has expired on …" (190/463) with its expiry instant, LinkedIn's 65602,
a revoked token its own subcode — and a string the provider never issued answers
differently (Facebook's "Cannot parse access token", LinkedIn's 65600). So:

- a token is kept whole, answering exactly as before, while it works and for
  ``dead_token_retention`` (a profile setting, default :data:`DEFAULT_RETENTION`;
  ``never`` keeps dead tokens for ever) after it died for good: the earliest of its
  expiry, its family's revocation, its own end (rotated out, capped), an unused or
  testing-mode deadline and a killing account event. A data-access expiry alone is not
  death for good: a re-consent lifts it.
- after that it is forgotten: it answers as a string never issued. Codes and OAuth 1.0a
  request tokens go the same way, ``dead_token_retention`` after their own expiry.

:meth:`Retention.forget` is the one way anything leaves these tables (besides
``reset``): it takes a token out of every index at once — tokens, its family (a family
with no tokens left goes too), the refresh-token index, the page-token map — or a code,
or a request token.

When: a token is looked at again a retention after its first deadline (its expiry,
its unused or testing-mode deadline), a retention after its family's revocation or its
own end (rotated out, capped), and — one without any deadline — every retention while it
works. At that look it is forgotten if it died for good at least a retention ago, else
looked at again when that will be so (or, still working, at its next deadline). So a
dead token answers as it died for at least ``dead_token_retention``, and is gone at the
latest a retention after its expiry — or, killed by an account event without an expiry
of its own, two retentions after its death (later only while a backlog is worked off).

Cost: a :class:`Schedule` — values in one-second buckets, a heap of the buckets' seconds
(about 10 bytes and a few microseconds per token), no listing of any table. Each write
(``_bump``) first takes out what is due, at most :data:`SWEEP_BATCH` records (a long
time travel leaves a backlog that the next writes work off). Reads never change
anything, so a run under a virtual clock stays deterministic: what is forgotten depends
only on the writes and their instants. Every removal goes through
:meth:`Retention.forget`, which finds each record by its key, so a table that tracks the
keys it is asked for (``_journal``) sees each removal as one.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ._faults import Faults
from ._model import Mark, Reason
from ._tokenmodel import Code, Token, TokenCheck, TokenKind, TokenPair

#: How long a token that died for good keeps answering as it died, when the profile
#: does not say (``dead_token_retention``).
DEFAULT_RETENTION = timedelta(days=30)

#: At most this many records looked at by one write: after a long time travel, the
#: backlog is worked off over the next writes instead of stalling one request.
SWEEP_BATCH = 1000

#: Causes that can end: a re-consent renews data access.
_NOT_FOR_GOOD = (Reason.DATA_ACCESS_EXPIRED,)


class Schedule:
    """Values to look at again from some instant on: one-second buckets of values and a
    heap of the buckets' POSIX seconds (an entry costs one list slot, not a tuple and a
    ``datetime``). A value lands in the bucket of the second at or after its instant, so
    it is never due early."""

    def __init__(self) -> None:
        self._buckets: dict[int, list[str]] = {}
        self._seconds: list[int] = []
        #: ``dead_token_retention`` by provider (profiles do not change during a run).
        self.keep: dict[str, timedelta | None] = {}
        #: ``refresh_token_unused_lifetime`` by provider, for the same reason: parsed
        #: once, not once a refresh token (a load schedules tens of thousands).
        self.unused: dict[str, timedelta | None] = {}
        #: The token table this schedule was made for: a load that replaces the tables
        #: (``_persist``) makes the next sweep schedule everything again.
        self.source: dict[str, Token] | None = None

    def __len__(self) -> int:
        return sum(len(b) for b in self._buckets.values())

    def push(self, at: datetime, value: str) -> None:
        second = math.ceil(at.timestamp())
        bucket = self._buckets.get(second)
        if bucket is None:
            self._buckets[second] = bucket = []
            heapq.heappush(self._seconds, second)
        bucket.append(value)

    def extend(self, entries: Iterable[tuple[datetime, str]]) -> None:
        """:meth:`push` of many (instant, value) pairs, in their order; the heap made
        once at the end instead of an insertion a new second (a load schedules every
        record it read)."""
        buckets = self._buckets
        ceil = math.ceil
        for at, value in entries:
            second = ceil(at.timestamp())
            bucket = buckets.get(second)
            if bucket is None:
                buckets[second] = [value]
            else:
                bucket.append(value)
        if len(buckets) != len(self._seconds):
            self._seconds = list(buckets)
            heapq.heapify(self._seconds)

    def due(self, now: datetime, limit: int) -> list[str]:
        """Take out up to ``limit`` values due at ``now``, in the order they became due."""
        out: list[str] = []
        end = now.timestamp()
        while self._seconds and self._seconds[0] <= end and len(out) < limit:
            second = self._seconds[0]
            bucket = self._buckets[second]
            take = limit - len(out)
            if len(bucket) <= take:
                heapq.heappop(self._seconds)
                del self._buckets[second]
                out.extend(bucket)
            else:
                out.extend(bucket[:take])
                del bucket[:take]
        return out

    def clear(self) -> None:
        self._buckets.clear()
        self._seconds.clear()
        self.keep.clear()
        self.unused.clear()


class Retention(Faults):
    """Forgetting what no client can use any more (part of :class:`~._core.Core`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: When to look at a token, code or request token again.
        self._forget_at = Schedule()
        self._forget_at.source = self._tokens

    # -- the one removal -----------------------------------------------------------

    def forget(self, value: str) -> bool:
        """Take the token, code or request token ``value`` out of every table.

        The one way a record leaves the core besides :meth:`reset`: a token leaves the
        token table, its family's list (and the family, once empty; a family whose
        current refresh token goes has none any more), the refresh-token index and the
        page-token map. Answers whether anything was there.
        """
        token = self._tokens.pop(value, None)
        if token is not None:
            family = self._families.get(token.family)
            if family is not None:
                # In place, found by identity at the front most of the time (tokens die
                # roughly in the order they were issued): one family may hold thousands.
                with contextlib.suppress(ValueError):
                    family.tokens.remove(value)
                if family.refresh == value:
                    family.refresh = None
                if not family.tokens:
                    del self._families[family.id]
                    self._account_families.remove(self._families, family)
            pair = (token.client_id, token.account_id)
            index = self._refresh_index.get(pair)
            if index is not None and value in index:
                # A new list, not an edit in place: a caller may be iterating the old one.
                rest = [v for v in index if v != value]
                if rest:
                    self._refresh_index[pair] = rest
                else:
                    del self._refresh_index[pair]
            if token.page_id is not None and token.parent is not None:
                key = (token.parent, token.page_id)
                if self._page_tokens.get(key) == value:
                    del self._page_tokens[key]
            return True
        if self._requests.pop(value, None) is not None:
            return True
        return self._codes.pop(value, None) is not None

    # -- when ----------------------------------------------------------------------

    def dead_token_retention(self, provider: str) -> timedelta | None:
        """How long a dead token of ``provider`` keeps answering as it died (``None``:
        for ever)."""
        known = self._forget_at.keep
        if provider not in known:
            if self._has(provider, "dead_token_retention"):
                known[provider] = self._lifetime(provider, "dead_token_retention")
            else:
                known[provider] = DEFAULT_RETENTION
        return known[provider]

    def _unused_lifetime(self, provider: str) -> timedelta | None:
        """``refresh_token_unused_lifetime`` of ``provider`` (None: none or never)."""
        known = self._forget_at.unused
        if provider not in known:
            known[provider] = self._lifetime(provider, "refresh_token_unused_lifetime")
        return known[provider]

    def _dead_since(self, token: Token) -> datetime | None:
        """When ``token`` died for good, or ``None`` if it has not (or might recover)."""
        ends = [at for at, _, reason, _ in self._causes(token) if reason not in _NOT_FOR_GOOD]
        return min(ends) if ends else None

    def _first_deadline(self, token: Token) -> datetime | None:
        times = [at for at, _ in self._deadlines(token)]
        if token.kind is TokenKind.REFRESH and token.last_used_at is None:
            unused = self._unused_lifetime(token.provider)
            if unused is not None:
                times.append(token.issued_at + unused)
        return min(times) if times else None

    def _schedule(self, value: str, at: datetime | None, provider: str) -> None:
        """Look at ``value`` again ``dead_token_retention`` after ``at``."""
        keep = self.dead_token_retention(provider)
        if at is not None and keep is not None:
            self._forget_at.push(at + keep, value)

    def _schedule_token(self, token: Token) -> None:
        """Look at ``token`` again a retention after its first deadline; one without a
        deadline (a page token that never expires, an OAuth 1.0a token) a retention
        from now, and so on while it works: an account event may kill it at any time,
        and finding the event's tokens would mean listing every family."""
        at = self._first_deadline(token)
        self._schedule(token.value, at if at is not None else self.now(), token.provider)

    def _sweep(self) -> None:
        """Forget what is due (see the module docstring)."""
        if self._forget_at.source is not self._tokens:
            self._rebuild_retention()
        now = self.now()
        for value in self._forget_at.due(now, SWEEP_BATCH):
            token = self._tokens.get(value)
            if token is not None:
                keep = self.dead_token_retention(token.provider)
                if keep is None:
                    continue
                since = self._dead_since(token)
                if since is None:
                    self._schedule_token(token)
                elif since + keep <= now:
                    self.forget(value)
                else:
                    self._forget_at.push(since + keep, value)
                continue
            record: Token | Code | None = self._requests.get(value) or self._codes.get(value)
            if record is None or record.expires_at is None:
                continue
            keep = self.dead_token_retention(record.provider)
            if keep is None:
                continue
            if record.expires_at + keep <= now:
                self.forget(value)
            else:
                self._forget_at.push(record.expires_at + keep, value)

    def _rebuild_retention(self) -> None:
        """Schedule every record again, when the tables were replaced (a load).

        Each record is looked at first when the running core would have: a retention
        after its first deadline, its family's revocation or its own end, and one
        without any of these a retention after its issue — not after the load, which
        would put off forgetting such a token by up to a retention at every restart
        (for ever, restarted more often than that). The look checks it in full, as
        the running core's does. Reads each record alone, and the tables with
        ``dict.values`` and ``dict.get`` themselves: a table that tracks what it is
        asked for (``_journal``) must not take this read-only pass for a change of
        every record."""
        schedule = self._forget_at = Schedule()
        schedule.source = self._tokens
        keep_of, first_look = self.dead_token_retention, self._first_look
        entries: list[tuple[datetime, str]] = []
        for token in list(dict.values(self._tokens)):
            keep = keep_of(token.provider)
            if keep is not None:
                entries.append((first_look(token) + keep, token.value))
        records: list[Token | Code] = [*dict.values(self._requests), *dict.values(self._codes)]
        for record in records:
            keep = keep_of(record.provider)
            if keep is not None:
                at = record.expires_at if record.expires_at is not None else record.issued_at
                entries.append((at + keep, record.value))
        schedule.extend(entries)

    def _first_look(self, token: Token) -> datetime:
        """:meth:`_first_deadline`, the family's revocation and the token's end, the
        earliest, else its issue; without noting the family as looked up."""
        times = [] if token.expires_at is None else [token.expires_at]
        family = dict.get(self._families, token.family)
        if token.kind is TokenKind.REFRESH:
            unused = self._unused_lifetime(token.provider)
            if unused is not None:
                times.append((token.last_used_at or token.issued_at) + unused)
            if family is not None and family.testing_expires_at is not None:
                times.append(family.testing_expires_at)
        if family is not None and family.revoked is not None:
            times.append(family.revoked.at)
        if token.ended is not None:
            times.append(token.ended[1].at)
        return min(times) if times else token.issued_at

    # -- hooks on the writes -----------------------------------------------------------

    def _bump(self) -> Mark:
        self._sweep()
        return super()._bump()

    def _issue(self, *args: Any, **kwargs: Any) -> Token:
        token = super()._issue(*args, **kwargs)
        self._schedule_token(token)
        return token

    def approve(self, *args: Any, **kwargs: Any) -> Code:
        code = super().approve(*args, **kwargs)
        self._schedule(code.value, code.expires_at, code.provider)
        return code

    def oauth1_request_token(self, client_id: str, callback: str) -> Token:
        token = super().oauth1_request_token(client_id, callback)
        self._schedule(token.value, token.expires_at, token.provider)
        return token

    def revoke(self, token_value: str, *, client_id: str | None = None) -> TokenCheck:
        token = self._tokens.get(token_value)
        family = None if token is None else self._families.get(token.family)
        already = family is None or family.revoked is not None
        check = super().revoke(token_value, client_id=client_id)
        if not already and family is not None and family.revoked is not None:
            # Once per family: revoking it again (a client retrying) adds nothing.
            for value in family.tokens:
                self._schedule(value, family.revoked.at, family.provider)
        return check

    def refresh(self, refresh_value: str, *, client_id: str) -> TokenPair:
        pair = super().refresh(refresh_value, client_id=client_id)
        old = self._tokens.get(refresh_value)
        if old is not None and old.ended is not None:
            self._schedule(old.value, old.ended[1].at, old.provider)
        return pair

    def _apply_cap(self, mark: Mark, pair: tuple[str, str]) -> None:
        before = list(self._refresh_index.get(pair, ()))
        super()._apply_cap(mark, pair)
        for value in before:
            token = self._tokens.get(value)
            if token is not None and token.ended is not None:
                self._schedule(value, token.ended[1].at, token.provider)


def release_memory() -> None:
    """Give freed memory back to the system: collect cycles, then (glibc) trim the
    heap. Without the trim, the allocator keeps freed arenas and RSS stays high after
    a reset although the records are gone."""
    gc.collect()
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)
