"""The provider-neutral core: apps, accounts, grants, codes, tokens, account events.

:class:`Core` is assembled from one module per concept: ``_base`` (profiles by
protocol, clock, seq), ``_directory`` (apps, accounts, pages, links, account state),
``_events`` (account events, grants, which events kill tokens), ``_tokens`` (consent,
codes with PKCE, tokens, checks, revocation), ``_refresh`` (refresh tokens and
self-refresh), ``_oauth1`` (OAuth 1.0a), ``_faults`` (outages, rate limits, errors,
statuses and latency), ``_retention`` (dead tokens, codes and request tokens forgotten
``dead_token_retention`` after they died, all through ``forget``). This module adds
time travel, listings and persistence (``_persist``: the whole state as one JSON-ready
document and back).

Pure Python, no HTTP, the clock injected. Blueprints ask it questions ("does this token
work now, and if not why?") and tell it what happened ("the user approved these
scopes"); it answers in neutral terms (:class:`~._model.Reason`,
:class:`~._errors.CodeProblem`) that each blueprint turns into its provider's errors.

The mutation sequence number
----------------------------
``core.seq`` rises by one on every mutation (an app or account created, a consent
recorded, a code or token issued, a code spent, an account event, a permission
revoked, a fault added, removed or counted down) and never on a read. Records store
the seq of the mutation that made or changed them, so "issued before the event"
compares seqs, not timestamps that may be equal in virtual time.
``account.changed_seq`` is the seq of the last mutation that touched one account, for
callers that want a narrower key than ``core.seq``.

``quiet_until(token)`` complements it: for a token that works now, the earliest future
instant at which its answers could change *without* a mutation (its expiry or its
data-access expiry; for a refresh token also its unused and testing-mode deadlines;
an access token's instant never considers its refresh token), or ``None`` if only a
mutation can change them; ``False`` for a
token that does not work now (no promise). So a caller that saw a healthy answer at
seq ``s`` may skip asking again while ``core.seq == s`` (or the account's
``changed_seq`` is unchanged) and the clock is before the quiet instant. While a fault
of the token's provider is active there is no promise (``False``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from conntrack import format_instant

from . import _persist
from ._clock import CanAdvance
from ._errors import ClockError
from ._model import instant
from ._retention import Retention, release_memory
from ._tokenmodel import Token


class Core(Retention):
    """The state of every fake provider, driven by one clock and one seed.

    ``Core(clock, *, seed=0, profiles=None)``: ``profiles`` maps a protocol to the
    profile in force for it; protocols not given get the catalog profile of their name.
    """

    # -- time ----------------------------------------------------------------------

    def advance_clock(self, *, by: timedelta | None = None, to: datetime | None = None) -> datetime:
        """Move a clock that can move (``advance``) forward; never backward."""
        if not isinstance(self.clock, CanAdvance):
            raise ClockError(
                "this clock is virtual: time moves with the simulation, not through this API",
                virtual=True,
            )
        delta = by if by is not None else (to - self.now() if to is not None else timedelta(0))
        if delta < timedelta(0):
            raise ClockError("the clock cannot move backwards", virtual=False)
        self.clock.advance(delta)
        return self.now()

    def can_advance(self) -> bool:
        """Whether :meth:`advance_clock` can move this clock (not a simulation's)."""
        return isinstance(self.clock, CanAdvance)

    def clock_offset(self) -> timedelta | None:
        """How far the clock has travelled ahead of wall time (a ``TravelClock``'s
        ``offset``), or ``None`` for a clock that keeps no offset (a simulation's)."""
        offset = getattr(self.clock, "offset", None)
        return offset if isinstance(offset, timedelta) else None

    # -- reset -----------------------------------------------------------------------

    def reset(self) -> dict[str, int]:
        """Forget everything — apps, accounts (deleted ones too), pages, grants, codes,
        tokens, families, faults — as if the core were new; answer how many of each went.

        Three things stay, on purpose: the clock (it only travels forward, so its offset
        is kept), ``seq`` (it rises by one: a caller that cached an answer at some seq
        must not see that seq again with other data behind it) and the id and token
        generators (they go on, so no token handed out before the reset is issued
        again to someone else).
        """
        counts = {
            "apps": len(self._apps),
            "accounts": len(self._accounts) + len(self._deleted_accounts),
            "grants": len(self._grants),
            "tokens": len(self._tokens),
            "faults": len(self.faults()),
        }
        for table in (
            self._apps, self._accounts, self._deleted_accounts, self._pages, self._grants,
            self._codes, self._tokens, self._families, self._page_tokens, self._requests,
            self._refresh_index, self._faults, self._forget_at, self._account_families,
        ):  # fmt: skip
            table.clear()
        self._bump()
        release_memory()
        return counts

    # -- persistence ---------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything this core keeps, as one JSON-ready document (``_persist``)."""
        return _persist.dump(self)

    def load(self, document: Any) -> None:
        """Replace everything with a document :meth:`dump` made (``_persist``); raises
        ``StateFormatError``/``StateProviderError`` (and changes nothing) for one it
        cannot take."""
        _persist.load(self, document)

    # -- listings ------------------------------------------------------------------

    def token_json(self, token: Token) -> dict[str, Any]:
        check = self.check_token(token.value)
        out: dict[str, Any] = {
            "token": token.prefix,
            "provider": token.provider,
            "kind": str(token.kind),
            "account": token.account_id,
            "app": token.client_id,
            "page": token.page_id,
            "scopes": list(token.scopes),
            "issued_at": format_instant(token.issued_at),
            "expires_at": None if token.expires_at is None else format_instant(token.expires_at),
            "seq": token.seq,
            "family": token.family,
            "refresh": None if token.refresh is None else token.refresh[:12] + "…",
            "origin": token.origin,
            "valid": check.valid,
        }
        out["expires_in"] = self.expires_in(token)
        out["data_access_expires_at"] = instant(self.data_access_expires_at(token))
        if not check.valid:
            out["reason"] = str(check.reason)
        return out

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON-ready data (tokens shown by prefix only)."""
        return {
            "now": format_instant(self.now()),
            "seq": self._seq,
            "apps": [a.to_json() for a in self._apps.values()],
            "accounts": [a.to_json() for a in self._accounts.values()],
            "grants": [g.to_json() for g in self._grants.values()],
            "tokens": [self.token_json(t) for t in self._tokens.values()],
            "families": [f.to_json() for f in self._families.values()],
            "events": [e.to_json() for a in self._accounts.values() for e in a.events],
            "faults": [f.to_json() for f in self.faults()],
            "deleted_accounts": [
                {"id": a.id, "provider": a.provider, "deleted_at": instant(a.deleted_at)}
                for a in self._deleted_accounts.values()
            ],
        }
