"""The world's hand on the fake providers: account events, faults, extra accounts.

Both worlds use it: the in-process engine's :class:`~conntrack._driver.ScenarioDriver`
and the product harness (:mod:`conntrack.product._harness`), which plays the same
timeline against a product under test. Everything goes through the fakes' control API
(``/_conntrack/…``) with the client the world holds, so what a scenario event does to
a provider account is the same whoever the product is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from ._causes import cause_sentence
from ._durations import format_duration
from ._notify import User
from ._profiles import Profile
from ._records import EventRecord
from .clients import RESOURCES, AppCredentials

if TYPE_CHECKING:
    from .scenario._model import Scenario


@dataclass(frozen=True)
class WorldEvent:
    at: datetime
    event: str
    connection: str | None
    by: str | None = None
    permission: str | None = None
    user: str | None = None
    duration: timedelta | None = None
    account: str | None = None
    popup: str | None = None
    decline: tuple[str, ...] | str | None = None
    after_send: datetime | None = None
    """A reaction to an email sent then: dropped if someone reconnected since."""
    cause: str | None = None
    """Why the provider held, locked, suspended or restricted the account (``cause:``)."""


def world_events(scenario: Scenario) -> list[WorldEvent]:
    """Every connect and timeline event of ``scenario``, in the order they happen.

    The sort is stable: events of one instant keep the scenario's order (connects
    first, then the timeline as written), which is the order both worlds play them in.
    """
    events = [
        WorldEvent(
            scenario.start + c.connect_at, "connect", cid, c.connected_by, decline=c.decline or None
        )
        for cid, c in scenario.connections.items()
    ]
    events += [
        WorldEvent(
            scenario.start + ev.at,
            ev.event,
            ev.connection,
            ev.by,
            ev.permission,
            user=ev.user,
            duration=ev.duration,
            account=ev.account,
            popup=ev.popup,
            decline=ev.decline,
            cause=ev.cause,
        )
        for ev in scenario.timeline
    ]
    return sorted(events, key=lambda e: e.at)


async def create_apps(
    http: httpx.AsyncClient,
    control: str,
    protocols: Iterable[str],
    redirect_uri: Callable[[str], str],
    settings: Mapping[str, Mapping[str, Any]],
) -> dict[str, AppCredentials]:
    """Register the product's app on each provider protocol, in the order given.

    Each app sends the browser back to ``redirect_uri(protocol)`` and carries the
    scenario's ``apps:`` settings of its protocol (``settings``, by protocol), so the
    in-process engine and a product under test get the same apps.
    """
    apps: dict[str, AppCredentials] = {}
    for protocol in protocols:
        uri = redirect_uri(protocol)
        r = await http.post(
            f"{control.rstrip('/')}/apps",
            json={
                "provider": protocol,
                "redirect_uris": [uri],
                "name": "conntrack",
                **settings.get(protocol, {}),
            },
        )
        r.raise_for_status()
        app = r.json()
        apps[protocol] = AppCredentials(app["client_id"], app["client_secret"], uri)
    return apps


@dataclass(frozen=True)
class ProviderAccount:
    """A connection's account on the fakes, as the control API made it."""

    data: dict[str, Any]
    """The control API's answer (its pages, linked accounts, name)."""
    resource: str | None
    """What the connection is about on the provider (a page, an organization…), if any."""

    @property
    def account_id(self) -> str:
        return str(self.data["id"])

    @property
    def page_id(self) -> str | None:
        """The resource, when it is one of the account's pages (events may name it)."""
        pages = {str(p.get("id")) for p in self.data.get("pages") or []}
        return self.resource if self.resource in pages else None

    @property
    def linked_account_id(self) -> str | None:
        return next((str(a["id"]) for a in self.data.get("linked_accounts") or []), None)


async def create_account(
    http: httpx.AsyncClient,
    control: str,
    profile: Profile,
    person: User,
    account_type: str | None = None,
    linked_to_page: bool = True,
) -> ProviderAccount:
    """The account ``person`` connects with on ``profile``'s provider, made on the fakes.

    For a profile about an Instagram professional account, the account owns a Page
    linked to one, as the provider requires. ``account_type`` (a scenario connection's
    ``account_type:``) is the Instagram account's type: the account itself on Instagram
    Login, the one linked to the Page through Facebook Login (made business, then
    switched, as the control API makes linked accounts). ``linked_to_page=False`` (a
    connection's ``linked_to_page: false``) unlinks that account from the Page, as
    ``page_unlinked`` does: the Page then lists no ``instagram_business_account`` until
    ``page_linked``.
    """
    base = control.rstrip("/")
    linked = profile.get("resource") == "instagram_business_account"
    body: dict[str, Any] = {"provider": profile.protocol, "name": person.name,
                            "email": person.email}  # fmt: skip
    if linked:
        body["linked_instagram"] = True
    elif account_type is not None:
        body["type"] = account_type
    r = await http.post(f"{base}/accounts", json=body)
    r.raise_for_status()
    account = ProviderAccount(r.json(), None)
    if linked and account_type not in (None, "business") and account.linked_account_id:
        event: dict[str, str] = {"type": "switched_to_personal"}
        if account_type != "personal":
            event = {"type": "switched_to_professional", "account_type": account_type}
        r = await http.post(f"{base}/accounts/{account.linked_account_id}/events", json=event)
        r.raise_for_status()
    if linked and not linked_to_page and account.linked_account_id:
        r = await http.post(
            f"{base}/accounts/{account.linked_account_id}/events",
            json={"type": "page_unlinked"},
        )
        r.raise_for_status()
    return ProviderAccount(account.data, RESOURCES[profile.protocol](account.data, profile))


class AccountRef(Protocol):
    """What the world knows of a connection's provider account."""

    @property
    def account_id(self) -> str: ...

    @property
    def page_id(self) -> str | None:
        """The page, organization or channel the connection is about, if any."""
        ...

    @property
    def linked_account_id(self) -> str | None:
        """An account reached through the page (Instagram through Facebook Login)."""
        ...


def login_detail(ev: WorldEvent) -> str:
    """What the record of a reconnect or add says about how the person went at it."""
    detail = []
    if ev.account:
        detail.append("logged in to another account")
    if ev.popup:
        detail.append("pop-up blocked")
    if ev.decline:
        declined = ev.decline if isinstance(ev.decline, str) else ", ".join(ev.decline)
        detail.append(f"declines {declined}")
    return "; ".join(detail)


def login_misfit(connection: str, event: str, state: str) -> str | None:
    """Why a login of this kind (``add``, ``reconnect``) does not fit a connection in
    ``state``, saying what to do instead; ``None`` when it fits. A product offers Add only
    for a connection it has disconnected and Reconnect only for one it still has, so a
    scenario's 'add' of a connected connection or 'reconnect' of a disconnected one (the
    loader cannot know whether an earlier 'add' succeeded) is a failed attempt, never a
    silent no-op — in process and against a product alike (issue 14)."""
    if event == "add" and state != "disconnected":
        return (
            f"add does not fit: connection '{connection}' is {state}, not disconnected "
            "(the product offers Add only for a disconnected connection); "
            "use 'reconnect' instead"
        )
    if event == "reconnect" and state == "disconnected":
        return (
            f"reconnect does not fit: connection '{connection}' is disconnected (the product "
            "offers Reconnect only for a connection it still has); add it again instead "
            "({event: add})"
        )
    return None


#: What a blocked pop-up's failed attempt says.
POPUP_BLOCKED = (
    "pop-up blocked: the browser never opened the provider's page; "
    "allow pop-ups for the product and try again"
)


class WorldControl:
    """Account events, faults and the extra accounts a login may use, on the fakes."""

    PAGE_EVENTS = ("admin_removed", "admin_added", "page_unlinked", "page_linked")
    # Events of the account reached through the page, when there is one.
    LINKED_EVENTS = ("switched_to_personal", "switched_to_professional")
    FAULTS = {"outage": "outage", "rate_limited": "rate_limit"}

    def __init__(
        self,
        http: httpx.AsyncClient,
        control: str,
        *,
        client_ids: dict[str, str],
        protocols: dict[str, str],
        people: dict[str, User],
    ) -> None:
        self.http = http
        self.control = control.rstrip("/")
        self.client_ids = client_ids
        """Each connection's app client id on its provider."""
        self.protocols = protocols
        """Each connection's provider protocol (what the fake calls the provider)."""
        self.people = people
        self._others: dict[str, str] = {}
        self._own: dict[tuple[str, str], str] = {}

    async def create_account(self, protocol: str, person: User | None) -> str:
        body: dict[str, object] = {"provider": protocol, "pages": 0}
        if person is not None:
            body.update(name=person.name, email=person.email)
        r = await self.http.post(f"{self.control}/accounts", json=body)
        r.raise_for_status()
        return str(r.json()["id"])

    async def other_account(self, cid: str) -> str:
        """Another account of the same provider (a personal one, say): not the connection's."""
        protocol = self.protocols[cid]
        if protocol not in self._others:
            self._others[protocol] = await self.create_account(protocol, None)
        return self._others[protocol]

    async def own_account(self, cid: str, user: str, page_id: str | None) -> str:
        """``user``'s own account of the connection's provider, made an admin of the
        connection's page (the precondition of adding it again as ``user``)."""
        key = (self.protocols[cid], user)
        if key not in self._own:
            self._own[key] = await self.create_account(key[0], self.people[user])
        account = self._own[key]
        await self.http.post(
            f"{self.control}/accounts/{account}/events",
            json={"type": "admin_added", "page_id": page_id},
        )
        return account

    async def fault(self, ev: WorldEvent) -> EventRecord:
        """An outage or rate limit of the connection's provider, ``for`` its duration."""
        assert ev.connection is not None and ev.duration is not None
        r = await self.http.post(
            f"{self.control}/faults",
            json={
                "provider": self.protocols[ev.connection],
                "kind": self.FAULTS[ev.event],
                "for": f"{int(ev.duration.total_seconds())}s",
            },
        )
        detail = f"for {format_duration(ev.duration)}"
        if r.status_code >= 300:
            detail += f"; control API said {r.status_code}: {r.text}"
        return EventRecord(ev.at, ev.connection, ev.event, None, detail)

    async def account_event(self, ev: WorldEvent, ref: AccountRef) -> EventRecord:
        """An account event (password change, app removed…) on the connection's account."""
        assert ev.connection is not None
        body: dict[str, str] = {"type": ev.event}
        if ev.event in ("app_removed", "permission_revoked"):
            body["client_id"] = self.client_ids[ev.connection]
        if ev.permission:
            body["permission"] = ev.permission
        if ev.event in self.PAGE_EVENTS and ref.page_id:
            body["page_id"] = ref.page_id
        account = ref.account_id
        if (ev.event in self.LINKED_EVENTS or ev.event == "page_linked") and ref.linked_account_id:
            # The Instagram account links itself to the Page: fired on the Page's admin,
            # the fake would link the Facebook account itself to the Page.
            account = ref.linked_account_id
        r = await self.http.post(f"{self.control}/accounts/{account}/events", json=body)
        # The cause is the world's alone: the fake is told only what happened (its error
        # bodies are the provider's, which never say why); the record says it in words.
        said = []
        if ev.cause:
            said.append(cause_sentence(ev.event, ev.cause, self.protocols[ev.connection]))
        if r.status_code >= 300:
            said.append(f"control API said {r.status_code}: {r.text}")
        return EventRecord(ev.at, ev.connection, ev.event, ev.by, "; ".join(said), ev.cause or "")
