"""What the world records of a product it can only observe: the spec's step 5.

The in-process engine records each transition as it fires. A product under test is a
black box: the world sees, at each instant of interest, what ``GET /connections`` shows
and which emails arrived, and knows what it did itself (logins and their outcomes). The
:class:`Observer` turns that into the same records (:mod:`conntrack._records`) so that
timelines, expectations and every report work unchanged:

- a :class:`TransitionRecord` on each observed state change, its trigger inferred from
  the two states (``near_expiry``, ``renew``, ``expire``, ``invalidate``, ``disconnect``,
  ``add``), dated at the product's ``state_since`` when it gives one (never before the
  last instant the old state was seen, nor before the world last acted on the
  connection), else at the instant it was seen;
- a successful login played by the world: ``connected`` the first time, ``reconnect``
  (to ``reconnected`` from expiring, expired or invalid; unchanged from a healthy state)
  or ``add`` (from disconnected); the product's later ``connected`` reads as
  ``reconnected`` until the next change, as conntrack's lifecycle says;
- an :class:`EmailRecord` per recipient, the recipient's company user id found by
  address (an unknown address stays an address, so a report shows it);
- a :class:`BannerRecord` when what the banner or settings page shows changes;
- data gaps from ``last_synced_at`` (see :mod:`._harness`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from .._lifecycle import TransitionRecord
from .._notify import Outbox, User
from .._records import BannerRecord, EmailIds, EmailRecord, EventRecord, Recorder, SyncCounts
from ..scenario._model import Scenario
from ._interface import CapturedEmail, ConnectionView

HEALTHY = ("connected", "reconnected", "expiring")
BROKEN = ("expired", "invalid", "disconnected")
NOTHING = ("none", "", "")


def infer_trigger(source: str, dest: str) -> str:
    """The lifecycle trigger that takes a connection from ``source`` to ``dest`` when
    the world only saw both states (no login of its own between them)."""
    if dest == "expiring":
        return "near_expiry"
    if dest == "expired":
        return "expire"
    if dest == "invalid":
        return "invalidate"
    if dest == "disconnected":
        return "disconnect"
    if source == "disconnected":
        return "add"
    # expiring -> connected is a renewal; from expired or invalid without a login the
    # product healed it by itself, which conntrack's lifecycle also calls a renewal.
    return "renew"


class Observer:
    """Records what the world sees of the product (see the module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        users: Sequence[User],
        *,
        run: str = "",
        outboxes: Sequence[Outbox] = (),
    ) -> None:
        self.scenario = scenario
        self.recorder = Recorder()
        self.run = run
        self.outboxes = list(outboxes)
        self.by_address = {u.email.lower(): u.id for u in users}
        self.state: dict[str, str] = {}
        self.reason: dict[str, str | None] = {}
        self.seen_at: dict[str, datetime] = {}
        """The last instant each connection's current state was seen (or recorded)."""
        self.synced: dict[str, datetime] = {}
        self.shown: dict[str, tuple[str, str, str]] = {}
        self.cause: dict[str, str] = {}
        """Why the next observed change happens, when the world knows (a disconnect)."""
        self.floor: dict[str, datetime] = {}
        """The last instant the world acted on each connection (an account event, a
        fault, a disconnect): what the product finds then is dated no earlier."""
        self._email_id = EmailIds(run)

    # -- what the world did ------------------------------------------------------------

    def event(self, rec: EventRecord) -> None:
        self.recorder.add(rec)

    def connect_failed(self, at: datetime, connection: str, by: str, detail: str) -> None:
        self.recorder.add(EventRecord(at, connection, "connect_failed", by, detail))

    def login_ok(self, at: datetime, connection: str, event: str, by: str) -> None:
        """The product took a login the world played (its callback answered < 400)."""
        if connection not in self.state:
            self.recorder.connected(connection, at)
            self.recorder.add(EventRecord(at, connection, "connected", by, event))
            self._set(connection, "connected", None, at)
            return
        source = self.state[connection]
        if event == "add":
            if source == "disconnected":
                self._transition(at, connection, "add", "connected", None, f"added by {by}")
            return
        if source in ("expiring", "expired", "invalid"):
            dest = "reconnected"
        elif source in ("connected", "reconnected"):
            dest = source
        else:
            return  # a disconnected connection is added again, not reconnected
        self._transition(at, connection, "reconnect", dest, None, f"{event} by {by}")

    def disconnecting(self, at: datetime, connection: str, by: str) -> None:
        self.cause[connection] = f"disconnected by {by}"
        self.acted(at, connection)

    def disconnected(self, at: datetime, connection: str, views: Sequence[ConnectionView]) -> None:
        """What the product shows of ``connection`` right after the world disconnected
        it: seen only at the end of the instant, a disconnect followed by an add at the
        same instant would not show at all. The cause is the disconnect's only."""
        self.observe(at, views, only=connection)
        self.cause.pop(connection, None)

    def acted(self, at: datetime, connection: str) -> None:
        """The world changed ``connection``'s provider account (or its provider) at
        ``at``, before the product's advance to ``at``. A product that catches up then
        (it does not answer ``next``, so its syncs due since the last instant run late)
        finds the world already at ``at``: its changes and emails about the connection
        are dated no earlier than ``at``, never before their cause."""
        self.floor[connection] = at

    # -- what the world sees -----------------------------------------------------------

    def observe(
        self, t: datetime, views: Sequence[ConnectionView], *, only: str | None = None
    ) -> None:
        """Record what ``GET /connections`` shows at ``t`` (of connection ``only``)."""
        seen = {v.name: v for v in views}
        for cid in self.scenario.connections:
            if cid not in self.state or (only is not None and cid != only):
                continue  # never connected (a product listing it on its own means nothing)
            view = seen.get(cid)
            changed_at = self._state(t, cid, view)
            if view is not None:
                self._synced(cid, view.last_synced_at)
            if only is None or self.state[cid] in BROKEN:
                # Right after a disconnect the product has not advanced to ``t`` yet: a
                # sync due at ``t`` is not missing.
                self._gap(t, cid, view, changed_at)
            self._banner(changed_at or t, cid, view)
            self.seen_at[cid] = t

    def _state(self, t: datetime, cid: str, view: ConnectionView | None) -> datetime | None:
        """Record a change of state (or of reason); the instant it is dated, if any."""
        old, old_reason = self.state[cid], self.reason.get(cid)
        if view is None:
            # The product no longer lists the connection: it forgot it.
            new, reason, since = "disconnected", None, None
        else:
            new, reason, since = view.state, view.reason, view.state_since
            if new == "connected" and old == "reconnected":
                new = "reconnected"
        if new == old and (new != "invalid" or reason == old_reason):
            return None
        at = t
        seen = self.seen_at.get(cid)
        if since is not None and since <= t and (seen is None or since > seen):
            # The product says when; only after the old state was last seen is believed
            # (a product whose clock lagged, as during a disconnect before ``advance``,
            # dates it at its previous instant).
            at = since
        at = max(at, self.floor.get(cid, at))
        trigger = infer_trigger(old, new) if new != old else "invalidate"
        cause = self.cause.pop(cid, None)
        if cause is None and view is not None:
            # In the product's own words (the mapped ones are in the row already).
            word = view.raw.get("state", new)
            said = view.raw.get("reason") or reason
            cause = f"the product shows {word!r}" + (f" ({said})" if said else "")
        self._transition(at, cid, trigger, new, reason if new == "invalid" else None, cause)
        return at

    def _transition(
        self,
        at: datetime,
        cid: str,
        trigger: str,
        dest: str,
        reason: str | None,
        cause: str | None,
    ) -> None:
        source = self.state[cid]
        self.recorder.add(TransitionRecord(at, cid, trigger, source, dest, reason, cause))
        self._set(cid, dest, reason, at)

    def _set(self, cid: str, state: str, reason: str | None, at: datetime) -> None:
        self.state[cid], self.reason[cid] = state, reason
        self.seen_at[cid] = max(at, self.seen_at.get(cid, at))

    def _synced(self, cid: str, last: datetime | None) -> None:
        """A later ``last_synced_at``: a sync brought data; it closes an open gap."""
        before = self.synced.get(cid)
        if last is None or (before is not None and last <= before):
            return
        self.synced[cid] = last
        self.recorder.syncs.setdefault(cid, SyncCounts()).ok += 1
        gaps = self.recorder.gaps.get(cid)
        if gaps and gaps[-1].end is None and last > gaps[-1].start:
            gaps[-1].end = last

    def _gap(
        self, t: datetime, cid: str, view: ConnectionView | None, changed_at: datetime | None
    ) -> None:
        """Open a gap at the earlier of a sync due that brought nothing and the instant
        the connection stopped syncing (expired, invalid, disconnected)."""
        gaps = self.recorder.gaps.get(cid)
        if gaps and gaps[-1].end is None:
            return
        state = self.state[cid]
        candidates = []
        limit = t
        if changed_at is not None and state in BROKEN:
            candidates.append(changed_at)
            limit = changed_at  # only a sync due before it stopped counts
        last = self.synced.get(cid)
        if last is not None and (state in HEALTHY or candidates):
            due = last + self.scenario.connections[cid].sync_every
            if due <= limit:
                candidates.append(due)
        if candidates:
            start = min(candidates)
            self.recorder.open_gap(cid, max(start, self.floor.get(cid, start)))

    def _banner(self, at: datetime, cid: str, view: ConnectionView | None) -> None:
        shown = NOTHING if view is None else (view.shows, view.banner, view.settings)
        if shown[0] == "none" and not shown[1] and not shown[2]:
            shown = NOTHING
        if self.shown.get(cid, NOTHING) == shown:
            return
        self.shown[cid] = shown
        self.recorder.add(BannerRecord(at, cid, *shown))

    # -- emails ------------------------------------------------------------------------

    def emails(self, lo: datetime | None, t: datetime, captured: Sequence[CapturedEmail]) -> None:
        """Record the emails received by ``t`` (one record a recipient). An email is
        dated by its ``Date:`` when that lies in ``[lo, t]``, else at ``t``."""
        for mail in captured:
            at = mail.at if mail.at is not None and (lo or mail.at) <= mail.at <= t else t
            if mail.connection in self.floor:
                at = max(at, self.floor[mail.connection])
            for address in dict.fromkeys(a.strip() for a in mail.to if a.strip()):
                rec = EmailRecord(
                    at=at,
                    kind=mail.kind,
                    about=mail.connection,
                    to=self.by_address.get(address.lower(), address),
                    address=address,
                    subject=mail.subject,
                    body=mail.body,
                )
                rec = replace(rec, message_id=self._email_id(rec))
                self.recorder.add(rec)
                for outbox in self.outboxes:
                    outbox.deliver(rec)
