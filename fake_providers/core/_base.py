"""The core's shared state and basics: profiles by protocol, the clock, ``seq``.

The :class:`~._core.Core` is assembled from one class per concept, each extending the
one before (``_directory`` apps and accounts → ``_events`` account events and grants →
``_tokens`` codes and tokens → ``_refresh`` refresh rules → ``_oauth1``); this module
holds what all of them share.

Profiles by protocol
--------------------
``profiles`` maps a *protocol* (``facebook``, ``instagram``, ``linkedin``, ``tiktok``,
``twitter``, ``google``) to the profile in force for it, e.g. ``{"tiktok":
load_profile("tiktok-2026")}``. Every protocol not given gets the catalog profile of the
same name. A key that is not a protocol (``"instagram-facebook"``) is taken under its
profile's ``protocol``; two profiles for one protocol are an error.

``enabled`` (protocols; default all) narrows what one core serves (``conntrack serve
--providers``): the others are unknown to it, and naming one is an
:class:`~._errors.InvalidRequest` that says it is not enabled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from conntrack import Profile, ProfileError, format_instant, load_profile, providers

from ._clock import HasNow
from ._errors import AccountDeleted, InvalidRequest, NotFound
from ._ids import IdSource
from ._model import Account, App, Fault, Grant, Mark, Page
from ._tokenmodel import Code, Family, Token


def default_profiles() -> dict[str, Profile]:
    """For each protocol of the catalog, the catalog profile named after it."""
    names = providers()
    protocols = {load_profile(n).protocol for n in names}
    return {p: load_profile(p) for p in sorted(protocols) if p in names}


def resolve_profiles(given: Mapping[str, Profile] | None) -> dict[str, Profile]:
    """The profiles in force, keyed by protocol (see the module docstring)."""
    out = default_profiles()
    taken: dict[str, str] = {}
    for key, profile in (given or {}).items():
        protocol = key if key in out and key == profile.protocol else profile.protocol
        if key in out and key != profile.protocol:
            raise ProfileError(
                f"profile {profile.provider!r} speaks {profile.protocol!r}, "
                f"not {key!r}: it cannot serve protocol {key!r}"
            )
        if protocol in taken:
            raise ProfileError(
                f"two profiles for protocol {protocol!r}: {taken[protocol]!r} and {key!r}"
            )
        taken[protocol] = key
        out[protocol] = profile
    return out


class FamiliesByAccount:
    """The ids of the token families of each account, so that an account event (an
    account deleted) finds that account's families by key instead of listing every
    family: a table that tracks its listings (``_journal``) would write a listed table
    whole, seconds at a hundred thousand tokens.

    Kept in step by the core where families are made (``_family``) and forgotten
    (``Retention.forget``, ``reset``); never saved: made again from the families table,
    read with ``dict.values`` itself (no listing noted), the first time it is asked
    after that table was replaced (a load, a tracking journal)."""

    def __init__(self) -> None:
        self._ids: dict[str, dict[str, None]] = {}
        #: The families table the ids were read from.
        self.source: dict[str, Family] | None = None

    def of(self, families: dict[str, Family], account_id: str) -> list[str]:
        """The ids of ``account_id``'s families in ``families``, oldest first."""
        if self.source is not families:
            self._ids = {}
            for family in dict.values(families):
                self._ids.setdefault(family.account_id, {})[family.id] = None
            self.source = families
        return list(self._ids.get(account_id, ()))

    def add(self, families: dict[str, Family], family: Family) -> None:
        if self.source is families:
            self._ids.setdefault(family.account_id, {})[family.id] = None

    def remove(self, families: dict[str, Family], family: Family) -> None:
        if self.source is families:
            ids = self._ids.get(family.account_id)
            if ids is not None:
                ids.pop(family.id, None)
                if not ids:
                    del self._ids[family.account_id]

    def clear(self) -> None:
        self._ids = {}
        self.source = None


class CoreBase:
    """State shared by every part of the core; see :class:`~._core.Core`."""

    def __init__(
        self,
        clock: HasNow,
        *,
        seed: int = 0,
        profiles: Mapping[str, Profile] | None = None,
        enabled: Iterable[str] | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.ids = IdSource(seed)
        self._profiles: dict[str, Profile] = resolve_profiles(profiles)
        if enabled is not None:
            keep = set(enabled)
            self._profiles = {p: v for p, v in self._profiles.items() if p in keep}
        self._seq = 0
        self._apps: dict[str, App] = {}
        self._accounts: dict[str, Account] = {}
        self._pages: dict[str, Page] = {}
        self._grants: dict[tuple[str, str], Grant] = {}
        self._codes: dict[str, Code] = {}
        self._tokens: dict[str, Token] = {}
        self._families: dict[str, Family] = {}
        #: Family ids by account (:class:`FamiliesByAccount`): made again, never saved.
        self._account_families = FamiliesByAccount()
        self._page_tokens: dict[tuple[str, str], str] = {}
        self._requests: dict[str, Token] = {}
        #: Refresh tokens by (client_id, account_id), oldest first (for the cap).
        self._refresh_index: dict[tuple[str, str], list[str]] = {}
        #: Provider-wide faults by id (``_faults``); ended ones are dropped lazily.
        self._faults: dict[str, Fault] = {}
        #: Deleted accounts by id (``delete_account``), each with its ``deleted_at``.
        self._deleted_accounts: dict[str, Account] = {}

    # -- basics --------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The number of mutations so far; reads never change it."""
        return self._seq

    @property
    def profiles(self) -> dict[str, Profile]:
        """The profile in force for each protocol."""
        return dict(self._profiles)

    def protocol_of(self, name: str) -> str:
        """The protocol served for ``name``: a protocol, or a catalog profile name
        (``instagram-facebook`` → ``facebook``, ``tiktok-2026`` → ``tiktok``)."""
        if name in self._profiles:
            return name
        if isinstance(name, str) and name in providers():
            protocol = load_profile(name).protocol
            if protocol in self._profiles:
                return protocol
            raise InvalidRequest(
                f"provider {name!r} is not enabled here; enabled: "
                f"{', '.join(sorted(self._profiles))}",
                field="provider",
            )
        raise InvalidRequest(
            f"unknown provider {name!r}; known: {', '.join(sorted(self._profiles))}",
            field="provider",
        )

    def profile(self, provider: str) -> Profile:
        """The profile in force for a protocol (or for a catalog profile's protocol)."""
        return self._profiles[self.protocol_of(provider)]

    def now(self) -> datetime:
        return self.clock.now()

    def trace_id(self) -> str:
        """A per-request trace id (Facebook's ``fbtrace_id``); not a mutation."""
        return self.ids.trace_id()

    def _bump(self) -> Mark:
        self._seq += 1
        return Mark(self._seq, self.now())

    def _lifetime(self, provider: str, key: str) -> timedelta | None:
        """A lifetime setting; ``None`` for ``never`` *or* a missing key."""
        try:
            return self.profile(provider).lifetime(key)
        except ProfileError:
            return None

    def _has(self, provider: str, key: str) -> bool:
        return key in self.profile(provider).settings

    def _touch(self, account_id: str, mark: Mark) -> None:
        account = self._accounts.get(account_id)
        if account is not None:
            account.changed_seq = mark.seq

    def _need_account(self, account_id: str) -> Account:
        account = self._accounts.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            gone = self._deleted_accounts.get(account_id) if isinstance(account_id, str) else None
            if gone is not None and gone.deleted_at is not None:
                raise AccountDeleted(
                    f"account {account_id!r} was deleted at {format_instant(gone.deleted_at)}",
                    field="account_id",
                )
            raise NotFound(f"no account {account_id!r}", field="account_id")
        return account

    def _need_app(self, client_id: str) -> App:
        app = self._apps.get(client_id) if isinstance(client_id, str) else None
        if app is None:
            raise NotFound(f"no app with client_id {client_id!r}", field="client_id")
        return app

    def _need_page(self, page_id: Any) -> Page:
        page = self._pages.get(page_id) if isinstance(page_id, str) else None
        if page is None:
            raise NotFound(f"no page {page_id!r}", field="page_id")
        return page

    @staticmethod
    def _unique(existing: Mapping[str, Any], make: Callable[[], Any]) -> str:
        while True:
            value = str(make())
            if value not in existing:
                return value


def until(at: datetime, lifetime: timedelta | None) -> datetime | None:
    """``at + lifetime``, or ``None`` (never) for no lifetime."""
    return None if lifetime is None else at + lifetime
