"""The world's walk through a scenario's time, against a product (the spec's step 4).

:class:`Walk` moves the fakes' clock and the product's together over the instants of
interest (:func:`instants_of_interest`, the ``step`` grid, the product's ``next``) and,
at each, plays what the scenario says happens then — account events and faults on the
fakes' control API (through :class:`~conntrack._worldcontrol.WorldControl`, as the
in-process driver does), company changes, disconnects, logins through the fakes' consent
page — then hands what it sees to the :class:`~._observe.Observer`.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import httpx

from .._durations import format_duration, format_instant
from .._exceptions import ConntrackError
from .._notify import User
from .._records import EventRecord
from .._worldcontrol import (
    POPUP_BLOCKED,
    WorldControl,
    WorldEvent,
    login_detail,
    login_misfit,
    world_events,
)
from ..clients import consent
from ..scenario._model import (
    BannerExpect,
    EmailExpect,
    GapExpect,
    ReconnectsExpect,
    Scenario,
    StateExpect,
)
from ._interface import CapturedEmail, Company, CompanyUser, Product, ProductError

if TYPE_CHECKING:
    from ._observe import Observer

LOGINS = ("connect", "reconnect", "add")
MAX_INSTANTS = 200_000
"""More instants than this in one scenario: a product whose ``next`` never lets go."""
TIGHT_NEXT = timedelta(seconds=1)
MAX_TIGHT = 1_000
"""More ``next`` answers than this in a row, each less than :data:`TIGHT_NEXT` after its
instant: a product in a busy loop (a second of its time took a thousand clock calls).
Caught in a second or two, where :data:`MAX_INSTANTS` would take minutes."""
COMPANY = ("user_joined", "user_left", "opt_out", "opt_in")


class _Clock(Protocol):
    def now(self) -> datetime: ...

    def set(self, when: datetime) -> None: ...


class _Emails(Protocol):
    def drain(self) -> list[CapturedEmail]: ...


@dataclass
class WorldAccount:
    """A connection's provider account, as the world made it (and who connected it)."""

    account_id: str
    page_id: str | None
    linked_account_id: str | None
    connected_by: str


def instants_of_interest(scenario: Scenario) -> set[datetime]:
    """The start, ``until``, every connect and timeline event, and every instant an
    expectation names (its ``at``, ``until``, window bounds, email instants)."""
    start = scenario.start
    offsets: set[timedelta] = {timedelta(0), scenario.until}
    offsets |= {c.connect_at for c in scenario.connections.values()}
    offsets |= {e.at for e in scenario.timeline}
    for exp in scenario.expect:
        if isinstance(exp, StateExpect | BannerExpect):
            offsets.add(exp.at)
            if exp.until is not None:
                offsets.add(exp.until)
        elif isinstance(exp, EmailExpect):
            offsets |= set(exp.at or ())
            offsets |= set(exp.within or ())
        elif isinstance(exp, GapExpect):
            offsets |= {o for o in (exp.start, exp.end) if o is not None}
        elif isinstance(exp, ReconnectsExpect):
            offsets |= set(exp.within or ())
    return {start + o for o in offsets if timedelta(0) <= o <= scenario.until}


class Walk:
    """Plays one scenario against one product (see the module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        clock: _Clock,
        http: httpx.AsyncClient,
        world: WorldControl,
        accounts: dict[str, WorldAccount],
        observer: Observer,
        users: Sequence[User],
        emails: _Emails,
        step: timedelta | None = None,
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.http = http
        self.world = world
        self.accounts = accounts
        self.observer = observer
        self.people = {u.id: u for u in users}
        self.emails = emails
        syncs = [c.sync_every for c in scenario.connections.values()]
        self.step_given = step is not None
        self.step = step or (min(syncs) if syncs else timedelta(hours=6))
        self.members = [f"user{i}" for i in range(1, scenario.company.users + 1)]
        self.opted_out = set(scenario.company.opt_out)
        self.instants = 0
        """How many instants the walk advanced to."""
        self.calls = 0
        """How many calls the product answered."""

    def company(self) -> Company:
        return Company(
            self.scenario.company.timezone,
            tuple(
                CompanyUser(u.id, u.name, u.email, u.id in self.opted_out)
                for u in (self.people[m] for m in self.members)
            ),
        )

    async def run(self, product: Product) -> None:
        start, until = self.scenario.start, self.scenario.start + self.scenario.until
        pending = sorted(instants_of_interest(self.scenario))
        heapq.heapify(pending)
        events = world_events(self.scenario)
        grid = self.scenario.until // self.step
        if self.step_given and grid > MAX_INSTANTS:
            # Said at once, not after MAX_INSTANTS clock calls (minutes).
            raise ProductError(
                f"'step: {format_duration(self.step)}' makes {grid} instants over "
                f"{format_duration(self.scenario.until)}, more than {MAX_INSTANTS}: choose "
                "a longer 'step' in the product file (or none: the product's 'next')"
            )
        self.calls += 1
        await product.set_company(self.company())
        reports_next = False
        tight = 0
        prev: datetime | None = None
        while pending:
            t = heapq.heappop(pending)
            if (prev is not None and t <= prev) or t > until:
                continue
            self.instants += 1
            if self.instants > MAX_INSTANTS:
                raise ProductError(
                    f"the walk reached {MAX_INSTANTS} instants by {format_instant(t)}: "
                    "the product's 'next' (POST /clock) keeps asking for instants a "
                    "moment apart"
                )
            self.clock.set(t)
            due = [e for e in events if e.at == t]
            # The events written before the instant's first login are played before the
            # product's advance; the logins after it, each with the account events and
            # disconnects written after it in their written order, as the in-process
            # world plays them. Company changes all come first: the product's reminders
            # due at ``t`` go to the company as it is at ``t``, as in process.
            split = next((i for i, ev in enumerate(due) if ev.event in LOGINS), len(due))
            later = [ev for ev in due[split:] if ev.event not in COMPANY]
            await self._play(
                product, due[:split] + [ev for ev in due[split:] if ev.event in COMPANY]
            )
            self.calls += 1
            nxt = await product.advance(t)
            logins = [ev for ev in due if ev.event in LOGINS]
            if logins:
                # What the advance did to a connection before its login (a sync finding
                # the token invalid), else only its email would show.
                views = await product.connections()
                self.calls += 1
                for cid in dict.fromkeys(ev.connection for ev in logins if ev.connection):
                    self.observer.observe(t, views, only=cid)
            for ev in later:
                if ev.event in LOGINS:
                    await self._login(product, ev, t)
                else:
                    await self._play(product, [ev])
            if logins:
                self.calls += 1
                nxt = await product.advance(t)  # a no-op that says what is due next
            self.calls += 1
            self.observer.observe(t, await product.connections())
            self.observer.emails(prev, t, self.emails.drain())
            tight = tight + 1 if nxt is not None and t < nxt < t + TIGHT_NEXT else 0
            if tight > MAX_TIGHT:
                assert nxt is not None
                raise ProductError(
                    f"POST /clock answered a 'next' less than {format_duration(TIGHT_NEXT)} "
                    f"ahead {MAX_TIGHT} times in a row (the last: {format_instant(nxt)} for "
                    f"{format_instant(t)}): the product keeps asking for instants a moment "
                    "apart; 'next' is when it next has something due"
                )
            if nxt is not None and nxt > t:
                # Only a ``next`` after ``t`` says when the product next has work; one at
                # or before ``t`` says nothing (ignored), and the grid stays on.
                reports_next = True
                if nxt <= until:
                    heapq.heappush(pending, nxt)
            if self.step_given or not reports_next:
                k = (t - start) // self.step + 1
                if start + k * self.step <= until:
                    heapq.heappush(pending, start + k * self.step)
            prev = t

    # -- the world's events ------------------------------------------------------------

    async def _play(self, product: Product, due: Sequence[WorldEvent]) -> None:
        """Play ``due`` (no logins): account events and faults on the fakes, then the
        company's changes (one ``PUT company``), then disconnects."""
        for ev in due:
            if ev.connection is not None and ev.event not in (*LOGINS, "disconnect"):
                await self._provider_event(ev)
        if any(ev.event in COMPANY for ev in due):
            for ev in due:
                if ev.event in COMPANY:
                    self._company_event(ev)
            self.calls += 1
            await product.set_company(self.company())
        for ev in due:
            if ev.event == "disconnect":
                await self._disconnect(product, ev)

    async def _provider_event(self, ev: WorldEvent) -> None:
        assert ev.connection is not None
        if ev.event in WorldControl.FAULTS:
            self.observer.event(await self.world.fault(ev))
            protocol = self.world.protocols[ev.connection]
            for cid, other in self.world.protocols.items():
                if other == protocol:  # a fault is the provider's: all its connections
                    self.observer.acted(ev.at, cid)
        else:
            self.observer.acted(ev.at, ev.connection)
            self.observer.event(await self.world.account_event(ev, self.accounts[ev.connection]))

    def _company_event(self, ev: WorldEvent) -> None:
        assert ev.user is not None
        if ev.event == "user_joined" and ev.user not in self.members:
            self.members.append(ev.user)
        elif ev.event == "user_left" and ev.user in self.members:
            self.members.remove(ev.user)
        elif ev.event == "opt_out":
            self.opted_out.add(ev.user)
        elif ev.event == "opt_in":
            self.opted_out.discard(ev.user)
        self.observer.event(EventRecord(ev.at, "", ev.event, ev.user))

    async def _disconnect(self, product: Product, ev: WorldEvent) -> None:
        assert ev.connection is not None
        by = ev.by or self.accounts[ev.connection].connected_by
        self.observer.event(EventRecord(ev.at, ev.connection, "disconnect", by))
        self.observer.disconnecting(ev.at, ev.connection, by)
        self.calls += 2
        await product.disconnect(ev.connection, user=by)
        self.observer.disconnected(ev.at, ev.connection, await product.connections())

    async def _login(self, product: Product, ev: WorldEvent, t: datetime) -> None:
        """A person goes through the product's login: the product's URL, the fakes'
        consent page (the account, the permissions), the product's callback."""
        cid = ev.connection
        assert cid is not None
        spec = self.scenario.connections[cid]
        account = self.accounts[cid]
        by = ev.by or account.connected_by
        if ev.event != "connect":
            self.observer.event(EventRecord(t, cid, ev.event, by, login_detail(ev)))
        seen = self.observer.state.get(cid)
        misfit = None if seen is None else login_misfit(cid, ev.event, seen)
        if misfit is not None:
            # The product offers no such button for what it shows: no pop-up, and the
            # product is not asked (it might take an 'add' of a connection it still has).
            self.observer.connect_failed(t, cid, by, misfit)
            return
        if ev.popup == "blocked":
            self.observer.connect_failed(t, cid, by, POPUP_BLOCKED)
            return
        login_as = account.account_id
        if ev.account == "other":
            login_as = await self.world.other_account(cid)
        elif ev.event == "add" and by != account.connected_by and account.page_id:
            login_as = await self.world.own_account(cid, by, account.page_id)
        first = cid not in self.observer.state
        action = "reconnect" if ev.event == "reconnect" and not first else "add"
        self.calls += 1
        url = await product.login(
            cid, provider=spec.provider, kind=spec.kind, user=by, action=action
        )
        try:
            result = await consent(
                self.http,
                url,
                account_id=login_as,
                decline=frozenset(ev.decline) if isinstance(ev.decline, tuple) else frozenset(),
                approve=ev.decline != "all",
            )
        except (ConntrackError, httpx.HTTPError, KeyError) as e:
            # The provider's page refused or misbehaved: the person gives up.
            self.observer.connect_failed(t, cid, by, str(e) or type(e).__name__)
            return
        self.calls += 1
        outcome = await product.callback(result.redirect)
        refused = result.error
        if refused and result.error_description:
            refused = f"{refused}: {result.error_description}"
        if outcome.ok and not refused:
            account.connected_by = by
            if ev.event == "add":
                # The account logged in with is the connection's from now on (its own
                # account, for a new "connected by" user of a page): events go there.
                account.account_id = login_as
            self.observer.login_ok(t, cid, ev.event, by)
            return
        detail = outcome.detail or (f"HTTP {outcome.status}" if outcome.status else "")
        if refused and refused not in detail:
            # What the provider said, and the product's words when they add to it.
            detail = f"{refused}" + (f" — the product said: {detail}" if detail else "")
        self.observer.connect_failed(t, cid, by, detail or "the product refused the login")


__all__ = ["ProductError", "Walk", "WorldAccount", "instants_of_interest", "world_events"]
