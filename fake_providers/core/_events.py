"""Account events, grant removals, and which events kill which tokens.

Every event is one mutation (one ``seq``) recorded on the account. Some change what the
account *is* — the flags of :class:`~._model.AccountState` (locked, suspended,
restricted, checkpoint), its type, its admin roles, its link to a page — and blueprints
consult that state. Some also kill tokens issued before them: which ones is profile
data, ``token_killing_events``, a list whose items are an event name or
``{event: NAME, scopes: [PREFIX, …]}`` (the event then kills only tokens carrying a
scope that starts with one of the prefixes — Google's "password change kills tokens
with Gmail scopes"). Without the key: :data:`DEFAULT_KILLING_EVENTS`.

A killing event gives its tokens the reason in :data:`KILLS`. ``admin_removed`` kills
only tokens bound to the page(s) the role was lost on (page tokens). ``app_removed``
and ``permission_revoked`` act on the grant and apply whatever the list says: tokens
of a removed grant answer ``app_removed``; a revoked permission leaves the token's
``scopes_now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conntrack import Profile, ProfileError

from ._directory import Directory
from ._errors import Conflict, InvalidRequest
from ._model import Account, AccountEvent, AccountType, EventType, Grant, Mark, Page, Reason
from ._tokenmodel import Token

DEFAULT_KILLING_EVENTS = ("password_change", "checkpoint", "app_removed")

#: The reason a killing event gives the tokens it kills.
KILLS: dict[EventType, Reason] = {
    EventType.PASSWORD_CHANGE: Reason.PASSWORD_CHANGED,
    EventType.USERNAME_CHANGE: Reason.PASSWORD_CHANGED,
    EventType.APP_REMOVED: Reason.APP_REMOVED,
    EventType.CHECKPOINT: Reason.CHECKPOINT,
    EventType.LOCKED: Reason.LOCKED,
    EventType.SUSPENDED: Reason.SUSPENDED,
    EventType.RESTRICTED: Reason.RESTRICTED,
    EventType.ADMIN_REMOVED: Reason.ADMIN_REMOVED,
    EventType.SWITCHED_TO_PERSONAL: Reason.NOT_ELIGIBLE,
    EventType.PAGE_UNLINKED: Reason.NOT_ELIGIBLE,
}

#: Parameters each event takes: name → required?
PARAMS: dict[EventType, dict[str, bool]] = {
    EventType.APP_REMOVED: {"client_id": False},
    EventType.ADMIN_REMOVED: {"page_id": False},
    EventType.ADMIN_ADDED: {"page_id": True},
    EventType.SWITCHED_TO_PROFESSIONAL: {"type": False},
    EventType.PAGE_UNLINKED: {"page_id": False},
    EventType.PAGE_LINKED: {"page_id": True},
    EventType.PERMISSION_REVOKED: {"client_id": True, "permission": True},
}

#: Flag events: the event → (account attribute, value).
FLAGS: dict[EventType, tuple[str, bool]] = {
    EventType.CHECKPOINT: ("checkpoint", True),
    EventType.CHECKPOINT_CLEARED: ("checkpoint", False),
    EventType.LOCKED: ("locked", True),
    EventType.UNLOCKED: ("locked", False),
    EventType.SUSPENDED: ("suspended", True),
    EventType.REINSTATED: ("suspended", False),
    EventType.RESTRICTED: ("restricted", True),
    EventType.UNRESTRICTED: ("restricted", False),
}


@dataclass(frozen=True)
class KillRule:
    """One entry of ``token_killing_events``."""

    event: EventType
    scopes: tuple[str, ...] | None = None

    def applies(self, event: AccountEvent, token: Token) -> bool:
        if self.scopes is not None and not any(
            s.startswith(p) for s in token.scopes for p in self.scopes
        ):
            return False
        if event.type is EventType.ADMIN_REMOVED:
            return token.page_id is not None and event.page_id in (None, token.page_id)
        return True


def killing_rules(profile: Profile) -> dict[EventType, KillRule]:
    """The profile's ``token_killing_events``, checked."""
    raw = profile.get("token_killing_events", list(DEFAULT_KILLING_EVENTS))
    if not isinstance(raw, list):
        raise ProfileError(f"profile {profile.provider!r}: token_killing_events must be a list")
    rules: dict[EventType, KillRule] = {}
    for item in raw:
        name, scopes = item, None
        if isinstance(item, Mapping):
            name, scopes = item.get("event"), item.get("scopes")
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise ProfileError(
                    f"profile {profile.provider!r}: token_killing_events {name}: "
                    "scopes must be a list of scope prefixes"
                )
        try:
            kind = EventType(name)
        except ValueError:
            kind = None
        if kind not in KILLS:
            raise ProfileError(
                f"profile {profile.provider!r}: token_killing_events: {name!r} is not an "
                f"event that can kill tokens ({', '.join(e.value for e in KILLS)})"
            )
        assert kind is not None
        rules[kind] = KillRule(kind, None if scopes is None else tuple(scopes))
    return rules


class Events(Directory):
    """Account events and grant removals (part of :class:`~._core.Core`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._killers = {p: killing_rules(prof) for p, prof in self._profiles.items()}

    def killing_events(self, provider: str) -> list[str]:
        """The events that kill a protocol's tokens issued before them."""
        return [str(e) for e in self._killers[self.protocol_of(provider)]]

    # -- grants --------------------------------------------------------------------

    def grant(self, client_id: str, account_id: str) -> Grant | None:
        return self._grants.get((client_id, account_id))

    def grants(self) -> list[Grant]:
        return list(self._grants.values())

    def revoke_permission(self, account_id: str, client_id: str, permission: str) -> None:
        """The user takes back one permission from one app (it shows as declined)."""
        grant = self._grants.get((client_id, account_id))
        if grant is None or permission not in grant.granted:
            return
        mark = self._bump()
        self._take_back(grant, permission, mark)

    @staticmethod
    def _take_back(grant: Grant, permission: str, mark: Mark) -> None:
        if permission in grant.granted:
            grant.granted.remove(permission)
            grant.declined.append(permission)
            grant.seq = mark.seq

    def revoke_grant(self, account_id: str, client_id: str) -> None:
        """Remove one app's grant: every token issued before answers "app removed"."""
        self._need_account(account_id)
        self._remove_grants(account_id, client_id, self._bump())

    def _remove_grants(self, account_id: str, client_id: str | None, mark: Mark) -> None:
        # Found by key, one a known app (apps are never removed), not by listing the
        # grants: a table that tracks its listings (``_journal``) would write them all.
        for cid in [client_id] if client_id is not None else list(dict.keys(self._apps)):
            if (cid, account_id) in self._grants:
                grant = self._grants[(cid, account_id)]
                grant.active = False
                grant.removals.append(mark)
                grant.seq = mark.seq
        self._touch(account_id, mark)

    # -- events --------------------------------------------------------------------

    def fire_event(self, account_id: str, event: str | EventType, **params: Any) -> AccountEvent:
        """Fire an account event (one mutation); parameters are checked by name.

        ``app_removed`` (``client_id``: one app, else all), ``password_change``,
        ``checkpoint``/``checkpoint_cleared``, ``locked``/``unlocked``,
        ``suspended``/``reinstated``, ``restricted``/``unrestricted``, ``admin_removed``
        (``page_id``: that page, else every page), ``admin_added`` (``page_id``),
        ``switched_to_personal``/``switched_to_professional`` (``type``: business or
        creator), ``page_unlinked`` (``page_id`` optional) / ``page_linked``
        (``page_id``): an Instagram account's link to a Facebook Page (fired on the
        Instagram account, or ``page_unlinked`` on a page admin), ``permission_revoked``
        (``client_id``, ``permission``).
        """
        account = self._need_account(account_id)
        try:
            kind = EventType(event)
        except ValueError:
            raise InvalidRequest(
                f"unknown event {event!r}; known: {', '.join(e.value for e in EventType)}",
                field="type",
            ) from None
        allowed = PARAMS.get(kind, {})
        for key in sorted(params):
            if key not in allowed:
                raise InvalidRequest(f"{key} does not apply to {kind}", field=key)
            if params[key] is not None and (not isinstance(params[key], str) or not params[key]):
                raise InvalidRequest(f"{key} must be a non-empty string", field=key)
        for key, required in allowed.items():
            if required and params.get(key) is None:
                raise InvalidRequest(f"{key} is required for {kind}", field=key)
        pages = self._validate(account, kind, params)
        mark = self._bump()
        record = AccountEvent(
            account_id,
            kind,
            mark,
            client_id=params.get("client_id"),
            page_id=params.get("page_id"),
            permission=params.get("permission"),
            account_type=params.get("type"),
        )
        account.events.append(record)
        account.changed_seq = mark.seq
        for other in self._apply(account, record, pages):
            self._touch(other, mark)
        return record

    def _validate(self, account: Account, kind: EventType, params: dict[str, Any]) -> list[Page]:
        """Check an event against the world before it happens; answer the pages it
        concerns (for admin and link events)."""
        aid, page_id = account.id, params.get("page_id")
        if kind in (EventType.APP_REMOVED, EventType.PERMISSION_REVOKED):
            if params.get("client_id") is not None:
                self._need_app(params["client_id"])
        elif kind is EventType.ADMIN_REMOVED:
            return [self._require_admin(aid, page_id)] if page_id else self.pages_of(aid)
        elif kind is EventType.ADMIN_ADDED:
            return [self._need_page(page_id)]
        elif kind is EventType.SWITCHED_TO_PROFESSIONAL:
            if params.get("type") not in (None, AccountType.BUSINESS, AccountType.CREATOR):
                raise InvalidRequest("type must be business or creator", field="type")
        elif kind is EventType.PAGE_LINKED:
            page = self._need_page(page_id)
            if page.instagram_account_id not in (None, aid):
                raise Conflict(f"page {page_id!r} is linked to another account", field="page_id")
            return [page]
        elif kind is EventType.PAGE_UNLINKED:
            if account.linked_page_id is not None:
                if page_id not in (None, account.linked_page_id):
                    raise Conflict(f"account is not linked to page {page_id!r}", field="page_id")
                return [self._pages[account.linked_page_id]]
            if page_id is None:
                raise Conflict("the account is linked to no page: give page_id", field="page_id")
            page = self._require_admin(aid, page_id)
            if page.instagram_account_id is None:
                raise Conflict(f"page {page_id!r} is linked to no account", field="page_id")
            return [page]
        return []

    def _apply(self, account: Account, event: AccountEvent, pages: list[Page]) -> list[str]:
        """Make an event's change; answer the other accounts it touched."""
        kind, aid = event.type, account.id
        if kind in FLAGS:
            attr, value = FLAGS[kind]
            setattr(account, attr, value)
            if kind is EventType.CHECKPOINT_CLEARED:
                account.checkpoint_cleared_at = event.mark.at
        elif kind is EventType.APP_REMOVED:
            self._remove_grants(aid, event.client_id, event.mark)
        elif kind is EventType.PERMISSION_REVOKED:
            grant = self._grants.get((event.client_id or "", aid))
            if grant is not None and event.permission is not None:
                self._take_back(grant, event.permission, event.mark)
        elif kind is EventType.ADMIN_REMOVED:
            for p in pages:
                p.admins.discard(aid)
            return [a for p in pages for a in p.admins]
        elif kind is EventType.ADMIN_ADDED:
            pages[0].admins.add(aid)
            self._shared_admins = (self._pages, True)  # pages_of: scan from now on
            return list(pages[0].admins)
        elif kind is EventType.SWITCHED_TO_PERSONAL:
            account.type = AccountType.PERSONAL
        elif kind is EventType.SWITCHED_TO_PROFESSIONAL:
            account.type = AccountType(event.account_type or "business")
        elif kind is EventType.PAGE_LINKED:
            return self._link(account, pages[0].id)
        elif kind is EventType.PAGE_UNLINKED:
            page = pages[0]
            ig_id = aid if account.linked_page_id == page.id else page.instagram_account_id
            return self._unlink(ig_id or aid, page.id)
        return []

    def _link(self, account: Account, page_id: str) -> list[str]:
        old = self._pages.get(account.linked_page_id or "")
        if old is not None and old.instagram_account_id == account.id:
            old.instagram_account_id = None
        page = self._pages[page_id]
        account.linked_page_id = page_id
        page.instagram_account_id = account.id
        return list(page.admins)

    def _unlink(self, ig_id: str, page_id: str) -> list[str]:
        page = self._pages[page_id]
        ig = self._accounts.get(ig_id)
        if ig is not None and ig.linked_page_id == page_id:
            ig.linked_page_id = None
        if page.instagram_account_id == ig_id:
            page.instagram_account_id = None
        return [ig_id, *page.admins]

    def link_instagram(self, instagram_account_id: str, page_id: str) -> AccountEvent:
        """Link an Instagram account to a Facebook Page (a ``page_linked`` event)."""
        return self.fire_event(instagram_account_id, EventType.PAGE_LINKED, page_id=page_id)

    def _event_causes(self, token: Token) -> list[tuple[datetime, int, Reason, AccountEvent]]:
        """The killing events after ``token`` was issued that apply to it."""
        account = self._accounts.get(token.account_id)
        if account is None or not account.events or account.events[-1].mark.seq <= token.seq:
            return []
        rules = self._killers.get(token.provider, {})
        out = []
        for event in account.events:
            if event.mark.seq > token.seq and event.type is not EventType.APP_REMOVED:
                rule = rules.get(event.type)
                if rule is not None and rule.applies(event, token):
                    out.append((event.mark.at, 0, KILLS[event.type], event))
        return out
