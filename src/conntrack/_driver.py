"""The world's side of the in-process engine: the people at the browser and the timeline.

- :class:`UserActor` — one per company user: plays the person at the browser
  (consent page → redirect with a code → hands the code to the product).
- :class:`ScenarioDriver` — plays the scenario's timeline: account events through the
  fake's control API, user actions through the users, faults, company changes.

They drive the product's side, the :class:`~conntrack._actors.ConnectionActor` of each
connection, only through its login and disconnect entry points, as a person and the
world would; like every actor they wait on an inbox that only the
:class:`~conntrack._clock.Scheduler` fills, so the order of everything is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
import trio

from ._actors import ALREADY_DISCONNECTED, CodeReceived, ConnectionActor
from ._clock import PRIORITY_WORLD, Scheduler
from ._lifecycle import State
from ._notify import Notifier, User
from ._records import EventRecord, Recorder
from ._worldcontrol import POPUP_BLOCKED, WorldControl, WorldEvent, login_detail
from .clients import consent


@dataclass(frozen=True)
class Reconnect:
    actor: ConnectionActor
    account_id: str
    """The provider account the person logs in with on the consent page."""
    cause: str  # connect | reconnect | add
    decline: frozenset[str] = frozenset()
    cancel: bool = False
    popup_blocked: bool = False


class UserActor:
    """A person at a browser: goes through a provider's consent page when asked."""

    def __init__(
        self,
        id: str,
        http: httpx.AsyncClient,
        recorder: Recorder,
        clock_now: Callable[[], datetime],
    ) -> None:
        self.id = id
        self.http = http
        self.recorder = recorder
        self.now = clock_now
        self._send, self._inbox = trio.open_memory_channel[Reconnect](1000)

    def ask(self, message: Reconnect) -> None:
        self._send.send_nowait(message)

    async def run(self) -> None:
        async for msg in self._inbox:
            if msg.popup_blocked:
                self.recorder.add(
                    EventRecord(
                        self.now(),
                        msg.actor.id,
                        "connect_failed",
                        self.id,
                        POPUP_BLOCKED,
                    )
                )
                continue
            url = msg.actor.begin_authorize()
            try:
                result = await consent(
                    self.http,
                    url,
                    account_id=msg.account_id,
                    decline=msg.decline,
                    approve=not msg.cancel,
                )
            except Exception as e:  # the page misbehaved or refused: the person gives up
                self.recorder.add(
                    EventRecord(self.now(), msg.actor.id, "connect_failed", self.id, str(e))
                )
                continue
            error = result.error
            if error and result.error_description:
                error = f"{error}: {result.error_description}"
            msg.actor.deliver_code(
                CodeReceived(result.code, result.state, self.id, msg.cause, error, msg.account_id)
            )


class ScenarioDriver:
    """Plays the timeline: account events via the control API, user actions via users,
    faults via the control API, company changes via the notifier."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        control: str,
        scheduler: Scheduler,
        recorder: Recorder,
        actors: dict[str, ConnectionActor],
        users: dict[str, UserActor],
        client_ids: dict[str, str],
        protocols: dict[str, str],
        notifier: Notifier,
        people: dict[str, User],
    ) -> None:
        self.http = http
        self.control = control.rstrip("/")
        self.scheduler = scheduler
        self.recorder = recorder
        self.actors = actors
        self.users = users
        self.client_ids = client_ids
        self.protocols = protocols
        """Each connection's provider protocol (what the fake calls the provider)."""
        self.notifier = notifier
        self.people = people
        self.world = WorldControl(
            http, control, client_ids=client_ids, protocols=protocols, people=people
        )
        self._send, self._inbox = trio.open_memory_channel[WorldEvent](1000)

    def plan(self, event: WorldEvent) -> None:
        self.scheduler.call_at(
            event.at,
            lambda: self._send.send_nowait(event),
            priority=PRIORITY_WORLD,
            key=event.connection or "",
        )

    async def run(self) -> None:
        async for ev in self._inbox:
            if ev.connection is None:
                self._company(ev)
            elif ev.event in ("connect", "reconnect", "add"):
                actor = self.actors[ev.connection]
                last = actor.last_login
                if ev.after_send is not None and last is not None and last > ev.after_send:
                    continue  # already reconnected since that email
                if ev.after_send is not None and actor.misfit(ev.event) is not None:
                    continue  # disconnected since that email: nothing left to reconnect
                await self._login(ev)
            elif ev.event == "disconnect":
                actor = self.actors[ev.connection]
                by = ev.by or actor.connected_by
                # After an 'add' that failed there is nothing to disconnect: say so.
                note = ALREADY_DISCONNECTED if actor.state == State.DISCONNECTED else ""
                self.recorder.add(EventRecord(ev.at, ev.connection, "disconnect", by, note))
                actor.disconnect(by)
            elif ev.event in WorldControl.FAULTS:
                self.recorder.add(await self.world.fault(ev))
            else:
                actor = self.actors[ev.connection]
                self.recorder.add(await self.world.account_event(ev, actor))

    def _company(self, ev: WorldEvent) -> None:
        assert ev.user is not None
        if ev.event == "user_joined":
            self.notifier.user_joined(self.people[ev.user])
        elif ev.event == "user_left":
            self.notifier.user_left(ev.user)
        else:
            self.notifier.set_opt_out(ev.user, ev.event == "opt_out")
        self.recorder.add(EventRecord(ev.at, "", ev.event, ev.user))

    async def _login(self, ev: WorldEvent) -> None:
        """A person goes through the consent pop-up: connect, reconnect or add."""
        assert ev.connection is not None
        actor = self.actors[ev.connection]
        by = ev.by or actor.connected_by
        if ev.event != "connect":
            self.recorder.add(EventRecord(ev.at, ev.connection, ev.event, by, login_detail(ev)))
        misfit = actor.misfit(ev.event)
        if misfit is not None:  # the product does not offer this button: no pop-up
            self.recorder.add(EventRecord(ev.at, ev.connection, "connect_failed", by, misfit))
            return
        account = actor.account_id
        if ev.account == "other":
            account = await self.world.other_account(ev.connection)
        elif ev.event == "add" and by != actor.connected_by and actor.page_id:
            # The new "connected by" user logs in with their own account, which must be
            # an admin of the page too (the precondition of adding it again).
            account = await self.world.own_account(ev.connection, by, actor.page_id)
        self.users[by].ask(
            Reconnect(
                actor,
                account,
                ev.event,
                decline=frozenset(ev.decline) if isinstance(ev.decline, tuple) else frozenset(),
                cancel=ev.decline == "all",
                popup_blocked=ev.popup == "blocked",
            )
        )
