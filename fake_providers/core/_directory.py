"""Apps and accounts: registered clients, faker-made people, their pages and links.

A page stands for whatever an account administers at its provider: a Facebook Page, a
LinkedIn organization, a YouTube channel (``kind``, from the profile's ``page_kind``).
Pages have a set of ``admins``; the account that created a page is its first admin
(``admin_id``). An Instagram professional account may be linked to a Facebook Page
(``Page.instagram_account_id`` one way, ``Account.linked_page_id`` the other): the
Instagram-with-Facebook-Login case reads it through
:meth:`Directory.instagram_business_account`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from itertools import islice
from typing import Any, Protocol

from ._base import CoreBase
from ._errors import Conflict, InvalidRequest, NotFound
from ._model import Account, AccountState, AccountType, App, Page, Post
from ._redirecturi import redirect_uri_problem

POSTS_PER_PAGE = 5
#: The protocol whose accounts link to Facebook Pages (``linked_instagram``).
LINKED_PROTOCOL = "instagram"
PUBLISHING_STATUSES = ("production", "testing")
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: A profile's ``account_ids: uint64``: ids are unsigned 64-bit integers written as
#: decimal strings (X's Snowflake ids), so no sign, no leading zero, below 2**64.
_UINT64_ID = re.compile(r"[1-9][0-9]{0,19}")


class _Settings(Protocol):
    """What :func:`account_id_problem` reads of a profile."""

    def get(self, key: str, default: Any = None) -> Any: ...


def account_id_problem(profile: _Settings, account_id: str) -> str | None:
    """Why ``account_id`` cannot be an account of ``profile``'s provider, or ``None``.

    Where the profile says ``account_ids: uint64`` (X), an id must be what the provider
    hands out: an unsigned 64-bit integer written as digits, which clients parse as an
    integer. ``serve --config`` asks the same before it creates anything.
    """
    if profile.get("account_ids") != "uint64":
        return None
    if _UINT64_ID.fullmatch(account_id) and int(account_id) < 2**64:
        return None
    shown = profile.get("display_name") or profile.get("protocol") or "these"
    return (
        f"id {account_id!r} is refused: {shown} account ids are unsigned 64-bit integers "
        "written as digits, and clients parse them as integers; give digits only (no "
        'leading zero, below 2**64), like "1234567890123456789", or leave id out for a new one'
    )


class Directory(CoreBase):
    """Apps and accounts (part of :class:`~._core.Core`)."""

    #: Whether some page has an admin besides the account that made it (``admin_added``),
    #: for the ``_pages`` table it was worked out on (a restored or tracked table is
    #: another one): ``None`` until asked (:meth:`_admins_shared`).
    _shared_admins: tuple[dict[str, Page], bool] | None = None

    # -- apps ----------------------------------------------------------------------

    def create_app_registration(
        self,
        provider: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uris: Iterable[str],
        name: str | None = None,
        publishing_status: str = "production",
    ) -> App:
        """Register an OAuth client; ids and secrets are generated when not given.

        ``provider`` is a protocol or a catalog profile name (kept as its protocol).
        ``publishing_status`` ``testing`` makes refresh tokens die after the profile's
        ``testing_mode_refresh_lifetime`` when their scopes go beyond the exempt ones.
        """
        protocol = self.protocol_of(provider)
        uris = tuple(redirect_uris) if not isinstance(redirect_uris, str) else (redirect_uris,)
        if not uris or not all(isinstance(u, str) and u for u in uris):
            raise InvalidRequest(
                "redirect_uris must be a non-empty list of URIs", field="redirect_uris"
            )
        for uri in uris:
            problem = redirect_uri_problem(uri)
            if problem is not None:
                raise InvalidRequest(problem, field="redirect_uris")
        if client_id is not None and (not isinstance(client_id, str) or not client_id):
            raise InvalidRequest("client_id must be a non-empty string", field="client_id")
        if client_id is not None and client_id in self._apps:
            raise Conflict(f"client_id {client_id!r} is already registered", field="client_id")
        if client_secret is not None and (not isinstance(client_secret, str) or not client_secret):
            raise InvalidRequest("client_secret must be a non-empty string", field="client_secret")
        self._check_status(publishing_status)
        cid = client_id or self._unique(self._apps, lambda: self.ids.digits(15))
        secret = client_secret or self.ids.hex(32)
        app_name = name if isinstance(name, str) and name else f"{self.ids.company()} App"
        mark = self._bump()
        app = App(protocol, cid, secret, uris, app_name, mark.seq, publishing_status)
        self._apps[cid] = app
        return app

    def set_publishing_status(self, client_id: str, status: str) -> App:
        """Move an app between ``production`` and ``testing`` (affects new refresh tokens)."""
        app = self._need_app(client_id)
        self._check_status(status)
        self._bump()
        app.publishing_status = status
        return app

    @staticmethod
    def _check_status(status: str) -> None:
        if status not in PUBLISHING_STATUSES:
            raise InvalidRequest(
                f"publishing_status must be one of {', '.join(PUBLISHING_STATUSES)}",
                field="publishing_status",
            )

    def app(self, client_id: str) -> App | None:
        return self._apps.get(client_id)

    def apps(self, provider: str | None = None) -> list[App]:
        return [a for a in self._apps.values() if provider in (None, a.provider)]

    # -- accounts ------------------------------------------------------------------

    def create_account(
        self,
        provider: str,
        *,
        name: str | None = None,
        email: str | None = None,
        pages: int | None = None,
        type: str = "business",
        page_kind: str | None = None,
        linked_instagram: bool = False,
        linked_page: str | None = None,
        account_id: str | None = None,
    ) -> Account:
        """A faker-made person administering ``pages`` pages (each with a few posts).

        - ``pages``: how many (default: the profile's ``account_pages``, else 1);
        - ``type``: ``business`` (default), ``creator`` or ``personal``;
        - ``page_kind``: what a page is (default: the profile's ``page_kind``, else
          ``page``) — ``organization``, ``channel``…;
        - ``linked_instagram``: also make, for each page, an Instagram business account
          linked to it (the Instagram-with-Facebook-Login case);
        - ``linked_page``: link this (Instagram) account to an existing page;
        - ``account_id``: the account's id (default: a new one, numeric like the
          providers'); letters, digits, ``.``, ``_`` and ``-``, not an id in use; digits
          only where the profile says ``account_ids: uint64`` (X, whose clients parse
          ids as integers).
        """
        protocol = self.protocol_of(provider)
        profile = self._profiles[protocol]
        if pages is None:
            pages = profile.get("account_pages", 1)
        if isinstance(pages, bool) or not isinstance(pages, int) or not 0 <= pages <= 100:
            raise InvalidRequest("pages must be a whole number from 0 to 100", field="pages")
        try:
            account_type = AccountType(type)
        except ValueError:
            raise InvalidRequest(
                f"type must be one of {', '.join(t.value for t in AccountType)}", field="type"
            ) from None
        kind = page_kind if page_kind is not None else str(profile.get("page_kind", "page"))
        if not isinstance(kind, str) or not kind:
            raise InvalidRequest("page_kind must be a non-empty string", field="page_kind")
        if not isinstance(linked_instagram, bool):
            raise InvalidRequest("linked_instagram must be true or false", field="linked_instagram")
        if linked_instagram and LINKED_PROTOCOL not in self._profiles:
            raise InvalidRequest(
                f"no {LINKED_PROTOCOL} provider to link accounts from", field="linked_instagram"
            )
        target = None
        if linked_page is not None:
            target = self._need_page(linked_page)
            if target.instagram_account_id is not None:
                raise InvalidRequest(
                    f"page {linked_page!r} is already linked to an account", field="linked_page"
                )
        if account_id is not None:
            if not isinstance(account_id, str) or not _ACCOUNT_ID.fullmatch(account_id):
                raise InvalidRequest(
                    "id must be letters, digits, '.', '_' or '-' (it goes in URLs)", field="id"
                )
            problem = account_id_problem(profile, account_id)
            if problem is not None:
                raise InvalidRequest(problem, field="id")
            if account_id in self._accounts:
                raise Conflict(f"account {account_id!r} already exists", field="id")
        made_name, made_email = self.ids.person()
        if account_id is None:
            account_id = self._unique(self._accounts, lambda: self.ids.digits(17))
        now = self.now()
        page_list = []
        for _ in range(pages):
            page_id = self._unique(self._pages, lambda: self.ids.digits(15))
            page = Page(page_id, self.ids.company(), self.ids.category(), account_id)
            page.admins.add(account_id)
            page.kind = kind
            ages = sorted(self.ids.hours(1, 24 * 30) for _ in range(POSTS_PER_PAGE))
            page.posts = [
                Post(
                    f"{page_id}_{self.ids.digits(16)}",
                    self.ids.sentence(),
                    now - timedelta(hours=h),
                )
                for h in ages
            ]
            page_list.append(page)
        mark = self._bump()
        account = Account(
            protocol,
            account_id,
            name or made_name,
            email or made_email,
            mark.seq,
            page_list,
            changed_seq=mark.seq,
            type=account_type,
        )
        self._accounts[account_id] = account
        for page in page_list:
            self._pages[page.id] = page
        if target is not None:
            account.linked_page_id = target.id
            target.instagram_account_id = account.id
            for admin in target.admins:
                self._touch(admin, mark)
        if linked_instagram:
            for page in page_list:
                ig = self.create_account(LINKED_PROTOCOL, name=page.name, pages=0)
                ig.linked_page_id = page.id
                page.instagram_account_id = ig.id
        return account

    def account(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    def delete_account(self, account_id: str) -> Account:
        """Delete an account (one mutation), as a person closes theirs at the provider.

        Every authorization it gave ends: each token family is revoked (its tokens
        answer ``revoked``, and stay listed), its unspent codes are dropped and its
        grants removed. It loses its admin roles; a page nobody administers any more
        goes with it, and links between Instagram accounts and its pages (or, for an
        Instagram account, its page) are undone. The account then answers
        :class:`~._errors.AccountDeleted` wherever it is named (an event, a login);
        :meth:`deleted_account` still finds it, with its ``deleted_at``.
        """
        account = self._need_account(account_id)
        mark = self._bump()
        # Every record is found by its key (the account's families through their index,
        # grants and refresh tokens by app), or read with ``dict.items`` itself and then
        # changed by key: a table that tracks its listings (``_journal``) would write a
        # listed table whole, seconds at a hundred thousand tokens.
        families = self._families
        for family_id in self._account_families.of(families, account_id):
            family = families.get(family_id)
            if family is not None and family.revoked is None:
                family.revoked = mark
        codes = [v for v, c in dict.items(self._codes) if c.account_id == account_id]
        for value in codes:
            del self._codes[value]
        for cid in list(dict.keys(self._apps)):
            if (cid, account_id) in self._grants:
                del self._grants[(cid, account_id)]
            if (cid, account_id) in self._refresh_index:
                del self._refresh_index[(cid, account_id)]
        touched: set[str] = set()
        for page in list(dict.values(self._pages)):
            if page.instagram_account_id == account_id:
                page.instagram_account_id = None
                touched |= page.admins
                self._pages.get(page.id)  # noted: changed
            if account_id not in page.admins:
                continue
            page.admins.discard(account_id)
            touched |= page.admins
            self._pages.get(page.id)
            if not page.admins:
                del self._pages[page.id]
                linked = self._accounts.get(page.instagram_account_id or "")
                if linked is not None and linked.linked_page_id == page.id:
                    linked.linked_page_id = None
                    touched.add(linked.id)
        del self._accounts[account_id]
        account.deleted_at = mark.at
        account.changed_seq = mark.seq
        self._deleted_accounts[account_id] = account
        for other in touched - {account_id}:
            self._touch(other, mark)
        return account

    def deleted_account(self, account_id: str) -> Account | None:
        """A deleted account by id (with its ``deleted_at``), or ``None``."""
        return self._deleted_accounts.get(account_id)

    def deleted_accounts(self) -> list[Account]:
        return list(self._deleted_accounts.values())

    def accounts(self, provider: str | None = None) -> list[Account]:
        return [a for a in self._accounts.values() if provider in (None, a.provider)]

    def first_accounts(self, provider: str, limit: int) -> list[Account]:
        """The first ``limit`` accounts of ``provider``, oldest first, without listing the
        others: what a consent page's picker shows. A login must not cost one step per
        account in the world (a company of 20 000 connections logs in 20 000 times)."""
        return list(islice((a for a in self._accounts.values() if a.provider == provider), limit))

    def account_seq(self, account_id: str) -> int:
        """The seq of the last mutation that touched this account."""
        return self._need_account(account_id).changed_seq

    def account_state(self, account_id: str) -> AccountState:
        """The account's flags now (the latest event of each pair), its type, its link
        to a page and the pages it administers — for events that do not kill tokens."""
        a = self._need_account(account_id)
        return AccountState(
            locked=a.locked,
            suspended=a.suspended,
            restricted=a.restricted,
            checkpoint=a.checkpoint,
            type=a.type,
            linked_page_id=a.linked_page_id,
            admin_of=tuple(p.id for p in self.pages_of(account_id)),
        )

    def page(self, page_id: str) -> Page | None:
        return self._pages.get(page_id)

    def pages_of(self, account_id: str) -> list[Page]:
        """The pages (organizations, channels) ``account_id`` administers now.

        While no page has an admin besides its maker, those are the account's own pages
        still alive, in the same order: read without a scan of every page in the world,
        which cost each login one step per page (issue 15: N connections, N² steps)."""
        account = self._accounts.get(account_id)
        if account is not None and not self._admins_shared():
            live = (self._pages.get(p.id) for p in account.pages)
            return [p for p in live if p is not None and account_id in p.admins]
        return [p for p in self._pages.values() if account_id in p.admins]

    def _admins_shared(self) -> bool:
        """Whether some page has an admin besides the account that made it."""
        known = self._shared_admins
        if known is None or known[0] is not self._pages:
            shared = any(p.admins - {p.admin_id} for p in self._pages.values())
            known = self._shared_admins = (self._pages, shared)
        return known[1]

    def is_admin(self, account_id: str, page_id: str) -> bool:
        page = self._pages.get(page_id)
        return page is not None and account_id in page.admins

    def instagram_business_account(
        self, page_id: str, *, viewer: str | None = None
    ) -> Account | None:
        """The Instagram account a page exposes as ``instagram_business_account``.

        None unless the page is linked to an Instagram account that is professional
        (business or creator) and still linked back to this page, and (``viewer`` given)
        the viewer administers the page: a personal account, or a professional account
        not linked to a Page the user owns, has none.
        """
        page = self._pages.get(page_id)
        if page is None or page.instagram_account_id is None:
            return None
        if viewer is not None and viewer not in page.admins:
            return None
        ig = self._accounts.get(page.instagram_account_id)
        if ig is None or ig.linked_page_id != page.id or ig.type is AccountType.PERSONAL:
            return None
        return ig

    def linked_pages(self, account_id: str) -> list[Page]:
        """Pages whose linked Instagram account is ``account_id`` (both ways linked)."""
        a = self._need_account(account_id)
        page = self._pages.get(a.linked_page_id or "")
        return [page] if page is not None and page.instagram_account_id == a.id else []

    def _require_admin(self, account_id: str, page_id: str) -> Page:
        page = self._need_page(page_id)
        if account_id not in page.admins:
            raise NotFound(
                f"account {account_id!r} does not administer page {page_id!r}", field="page_id"
            )
        return page
