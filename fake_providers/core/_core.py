"""The provider-neutral core: apps, accounts, grants, codes, tokens, account events.

Pure Python, no HTTP, the clock injected. Blueprints ask it questions ("does this token
work now, and if not why?") and tell it what happened ("the user approved these
scopes"); it answers in neutral terms (:class:`~._model.Reason`,
:class:`~._errors.CodeProblem`) that each blueprint turns into its provider's errors.

The mutation sequence number
----------------------------
``core.seq`` rises by one on every mutation (an app or account created, a consent
recorded, a code or token issued, a code spent, an account event, a permission
revoked) and never on a read. Records store the seq of the mutation that made or
changed them, so "issued before the event" compares seqs, not timestamps that may be
equal in virtual time. ``account.changed_seq`` is the seq of the last mutation that
touched one account, for callers that want a narrower key than ``core.seq``.

``quiet_until(token)`` complements it: for a token that works now, the earliest future
instant at which its answers could change *without* a mutation (its expiry or its
data-access expiry), or ``None`` if only a mutation can change them; ``False`` for a
token that does not work now (no promise). So a caller that saw a healthy answer at
seq ``s`` may skip asking again while ``core.seq == s`` (or the account's
``changed_seq`` is unchanged) and the clock is before the quiet instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from conntrack._durations import format_instant
from conntrack._exceptions import ProfileError
from conntrack._profiles import Profile, load_profile, providers

from ._clock import CanAdvance, HasNow
from ._errors import ClockError, CodeProblem, CodeRejected, InvalidRequest, NotFound, TokenRejected
from ._ids import IdSource
from ._model import (
    Account,
    AccountEvent,
    App,
    Code,
    EventType,
    Grant,
    Mark,
    Page,
    Post,
    Reason,
    Token,
    TokenCheck,
    TokenKind,
)

POSTS_PER_PAGE = 5


class Core:
    """The state of every fake provider, driven by one clock and one seed."""

    def __init__(
        self, clock: HasNow, *, seed: int = 0, profiles: Mapping[str, Profile] | None = None
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.ids = IdSource(seed)
        self._profiles: dict[str, Profile] = (
            dict(profiles) if profiles is not None else {p: load_profile(p) for p in providers()}
        )
        self._seq = 0
        self._apps: dict[str, App] = {}
        self._accounts: dict[str, Account] = {}
        self._pages: dict[str, Page] = {}
        self._grants: dict[tuple[str, str], Grant] = {}
        self._codes: dict[str, Code] = {}
        self._tokens: dict[str, Token] = {}
        self._page_tokens: dict[tuple[str, str], str] = {}

    # -- basics --------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The number of mutations so far; reads never change it."""
        return self._seq

    @property
    def profiles(self) -> dict[str, Profile]:
        return dict(self._profiles)

    def profile(self, provider: str) -> Profile:
        try:
            return self._profiles[provider]
        except KeyError:
            raise InvalidRequest(
                f"unknown provider {provider!r}; known: {', '.join(sorted(self._profiles))}",
                field="provider",
            ) from None

    def now(self) -> datetime:
        return self.clock.now()

    def trace_id(self) -> str:
        """A per-request trace id (Facebook's ``fbtrace_id``); not a mutation."""
        return self.ids.trace_id()

    def _bump(self) -> Mark:
        self._seq += 1
        return Mark(self._seq, self.now())

    def _lifetime(self, provider: str, key: str) -> timedelta | None:
        try:
            return self.profile(provider).lifetime(key)
        except ProfileError:
            return None

    # -- apps ----------------------------------------------------------------------

    def create_app_registration(
        self,
        provider: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uris: Iterable[str],
        name: str | None = None,
    ) -> App:
        """Register an OAuth client; ids and secrets are generated when not given."""
        self.profile(provider)
        uris = tuple(redirect_uris) if not isinstance(redirect_uris, str) else (redirect_uris,)
        if not uris or not all(isinstance(u, str) and u for u in uris):
            raise InvalidRequest(
                "redirect_uris must be a non-empty list of URIs", field="redirect_uris"
            )
        if client_id is not None and (not isinstance(client_id, str) or not client_id):
            raise InvalidRequest("client_id must be a non-empty string", field="client_id")
        if client_id is not None and client_id in self._apps:
            raise InvalidRequest(
                f"client_id {client_id!r} is already registered", field="client_id"
            )
        if client_secret is not None and (not isinstance(client_secret, str) or not client_secret):
            raise InvalidRequest("client_secret must be a non-empty string", field="client_secret")
        cid = client_id or self._unique(self._apps, lambda: self.ids.digits(15))
        secret = client_secret or self.ids.hex(32)
        app_name = name if isinstance(name, str) and name else f"{self.ids.company()} App"
        mark = self._bump()
        app = App(provider, cid, secret, uris, app_name, mark.seq)
        self._apps[cid] = app
        return app

    def app(self, client_id: str) -> App | None:
        return self._apps.get(client_id)

    def apps(self, provider: str | None = None) -> list[App]:
        return [a for a in self._apps.values() if provider in (None, a.provider)]

    # -- accounts ------------------------------------------------------------------

    def create_account(
        self, provider: str, *, name: str | None = None, email: str | None = None, pages: int = 1
    ) -> Account:
        """A faker-made person administering ``pages`` pages (each with a few posts)."""
        self.profile(provider)
        if isinstance(pages, bool) or not isinstance(pages, int) or not 0 <= pages <= 100:
            raise InvalidRequest("pages must be a whole number from 0 to 100", field="pages")
        made_name, made_email = self.ids.person()
        account_id = self._unique(self._accounts, lambda: self.ids.digits(17))
        now = self.now()
        page_list = []
        for _ in range(pages):
            page_id = self._unique(self._pages, lambda: self.ids.digits(15))
            page = Page(page_id, self.ids.company(), self.ids.category(), account_id)
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
            provider,
            account_id,
            name or made_name,
            email or made_email,
            mark.seq,
            page_list,
            changed_seq=mark.seq,
        )
        self._accounts[account_id] = account
        for page in page_list:
            self._pages[page.id] = page
        return account

    def account(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    def accounts(self, provider: str | None = None) -> list[Account]:
        return [a for a in self._accounts.values() if provider in (None, a.provider)]

    def account_seq(self, account_id: str) -> int:
        """The seq of the last mutation that touched this account."""
        return self._need_account(account_id).changed_seq

    def page(self, page_id: str) -> Page | None:
        return self._pages.get(page_id)

    def _need_account(self, account_id: str) -> Account:
        account = self._accounts.get(account_id)
        if account is None:
            raise NotFound(f"no account {account_id!r}", field="account_id")
        return account

    def _need_app(self, client_id: str) -> App:
        app = self._apps.get(client_id)
        if app is None:
            raise NotFound(f"no app with client_id {client_id!r}", field="client_id")
        return app

    # -- consent and codes ---------------------------------------------------------

    def grant(self, client_id: str, account_id: str) -> Grant | None:
        return self._grants.get((client_id, account_id))

    def grants(self) -> list[Grant]:
        return list(self._grants.values())

    def approve(
        self,
        client_id: str,
        account_id: str,
        redirect_uri: str,
        *,
        requested: Iterable[str],
        granted: Iterable[str],
        auth_type: str | None = None,
    ) -> Code:
        """Record an approved consent (the grant) and issue a single-use code.

        Requested scopes not granted are recorded as declined; scopes granted earlier and
        not asked again stay as they were. Approving renews data access.
        """
        app = self._need_app(client_id)
        account = self._need_account(account_id)
        if account.provider != app.provider:
            raise InvalidRequest(
                f"account {account_id!r} is not a {app.provider} account", field="account_id"
            )
        if redirect_uri not in app.redirect_uris:
            raise InvalidRequest("redirect_uri is not registered", field="redirect_uri")
        asked = list(dict.fromkeys(requested))
        yes = [s for s in dict.fromkeys(granted) if s in asked]
        no = [s for s in asked if s not in yes]
        mark = self._bump()
        now = mark.at
        access = self._lifetime(app.provider, "data_access_lifetime")
        grant = self._grants.get((client_id, account_id))
        if grant is None:
            grant = Grant(app.provider, client_id, account_id, [], [], mark.seq, None)
            self._grants[(client_id, account_id)] = grant
        grant.granted = [s for s in grant.granted if s not in no] + [
            s for s in yes if s not in grant.granted
        ]
        grant.declined = [s for s in grant.declined if s not in yes] + [
            s for s in no if s not in grant.declined
        ]
        grant.active = True
        grant.seq = mark.seq
        grant.auth_type = auth_type
        grant.data_access_expires_at = None if access is None else now + access
        lifetime = self._lifetime(app.provider, "code_lifetime") or timedelta(minutes=10)
        value = self._unique(self._codes, self.ids.code)
        code = Code(
            value, app.provider, client_id, account_id, redirect_uri, now, now + lifetime, mark.seq
        )
        self._codes[value] = code
        account.changed_seq = mark.seq
        return code

    def exchange_code(self, value: str, *, client_id: str, redirect_uri: str) -> Token:
        """Spend a code for a short-lived user token, or raise :class:`CodeRejected`."""
        code = self._codes.get(value)
        if code is None:
            raise CodeRejected(CodeProblem.UNKNOWN)
        if code.client_id != client_id:
            raise CodeRejected(CodeProblem.WRONG_CLIENT)
        if code.redirect_uri != redirect_uri:
            raise CodeRejected(CodeProblem.REDIRECT_MISMATCH)
        if code.used is not None:
            raise CodeRejected(CodeProblem.USED)
        if self.now() >= code.expires_at:
            raise CodeRejected(CodeProblem.EXPIRED)
        mark = self._bump()
        code.used = mark
        grant = self._grants[(client_id, code.account_id)]
        return self._issue(
            mark,
            TokenKind.USER_SHORT,
            client_id,
            code.account_id,
            tuple(grant.granted),
            self._lifetime(code.provider, "short_token_lifetime"),
        )

    # -- tokens --------------------------------------------------------------------

    def _issue(
        self,
        mark: Mark,
        kind: TokenKind,
        client_id: str,
        account_id: str,
        scopes: tuple[str, ...],
        lifetime: timedelta | None,
        *,
        page_id: str | None = None,
        parent: str | None = None,
    ) -> Token:
        app = self._apps[client_id]
        value = self._unique(self._tokens, self.ids.token)
        expires = None if lifetime is None else mark.at + lifetime
        token = Token(
            value, app.provider, kind, client_id, account_id, scopes, mark.at, expires, mark.seq,
            page_id=page_id, parent=parent,
        )  # fmt: skip
        self._tokens[value] = token
        self._accounts[account_id].changed_seq = mark.seq
        return token

    def token(self, value: str) -> Token | None:
        return self._tokens.get(value)

    def tokens(self) -> list[Token]:
        return list(self._tokens.values())

    def exchange_long_lived(self, value: str, *, client_id: str) -> Token:
        """Exchange a working user token for a long-lived one (``fb_exchange_token``)."""
        check = self.check_token(value)
        if check.token is None or not check.valid:
            raise TokenRejected(check)
        old = check.token
        if old.kind is TokenKind.PAGE:
            raise InvalidRequest("only a user token can be exchanged", field="fb_exchange_token")
        if old.client_id != client_id:
            raise InvalidRequest("the token belongs to another app", field="fb_exchange_token")
        mark = self._bump()
        return self._issue(
            mark,
            TokenKind.USER_LONG,
            client_id,
            old.account_id,
            old.scopes,
            self._lifetime(old.provider, "long_token_lifetime"),
            parent=old.value,
        )

    def page_token(self, user_token: str, page_id: str) -> Token:
        """The page token a working user token gets for a page its account administers.

        The same user token gets the same page token each time, so listing pages is a
        read after the first call. From a long-lived user token the page token lives
        ``page_token_lifetime`` (never, for Facebook); from a short one,
        ``short_token_lifetime``.
        """
        check = self.check_token(user_token)
        if check.token is None or not check.valid:
            raise TokenRejected(check)
        user = check.token
        page = self._pages.get(page_id)
        if page is None or page.admin_id != user.account_id or user.kind is TokenKind.PAGE:
            raise NotFound(f"no page {page_id!r} administered by this user", field="page_id")
        known = self._page_tokens.get((user.value, page_id))
        if known is not None:
            return self._tokens[known]
        key = "page_token_lifetime" if user.kind is TokenKind.USER_LONG else "short_token_lifetime"
        mark = self._bump()
        token = self._issue(
            mark,
            TokenKind.PAGE,
            user.client_id,
            user.account_id,
            user.scopes,
            self._lifetime(user.provider, key),
            page_id=page_id,
            parent=user.value,
        )
        self._page_tokens[(user.value, page_id)] = token.value
        return token

    def check_token(self, value: str) -> TokenCheck:
        """Does ``value`` work now? If not, the earliest cause wins (ties: the event)."""
        token = self._tokens.get(value)
        if token is None:
            return TokenCheck(None, Reason.MALFORMED)
        now = self.now()
        causes: list[tuple[datetime, int, Reason, AccountEvent | None]] = []
        account = self._accounts[token.account_id]
        seen: set[EventType] = set()
        for event in account.events:
            if event.mark.seq > token.seq and event.type not in seen:
                seen.add(event.type)
                if event.type is EventType.PASSWORD_CHANGE:
                    causes.append((event.mark.at, 0, Reason.PASSWORD_CHANGED, event))
                elif event.type is EventType.CHECKPOINT:
                    causes.append((event.mark.at, 0, Reason.CHECKPOINT, event))
        grant = self._grants.get((token.client_id, token.account_id))
        if grant is not None:
            for removal in grant.removals:
                if removal.seq > token.seq:
                    causes.append((removal.at, 0, Reason.APP_REMOVED, None))
                    break
            dae = grant.data_access_expires_at
            if dae is not None and now >= dae:
                causes.append((dae, 1, Reason.DATA_ACCESS_EXPIRED, None))
        if token.expires_at is not None and now >= token.expires_at:
            causes.append((token.expires_at, 1, Reason.EXPIRED, None))
        if not causes:
            return TokenCheck(token, None)
        at, _, reason, cause = min(causes, key=lambda c: (c[0], c[1]))
        return TokenCheck(token, reason, at, cause)

    def quiet_until(self, value: str) -> datetime | Literal[False] | None:
        """Until when a working token's answers cannot change without a mutation.

        - a ``datetime``: the token works now, and nothing but a mutation (a rise of
          ``core.seq``) can change its answers before that instant (its expiry or its
          data-access expiry, whichever comes first);
        - ``None``: the token works now and only a mutation can ever change its answers;
        - ``False``: the token does not work now (or is unknown): no promise.
        """
        check = self.check_token(value)
        if check.token is None or not check.valid:
            return False
        grant = self._grants.get((check.token.client_id, check.token.account_id))
        times = [check.token.expires_at, grant.data_access_expires_at if grant else None]
        future = [t for t in times if t is not None]
        return min(future) if future else None

    def data_access_expires_at(self, token: Token) -> datetime | None:
        grant = self._grants.get((token.client_id, token.account_id))
        return None if grant is None else grant.data_access_expires_at

    def scopes_now(self, token: Token) -> list[str]:
        """The scopes a token carries now: those issued, less any revoked since."""
        grant = self._grants.get((token.client_id, token.account_id))
        granted = set(grant.granted) if grant is not None else set()
        return [s for s in token.scopes if s in granted]

    # -- revocation and events -----------------------------------------------------

    def revoke_permission(self, account_id: str, client_id: str, permission: str) -> None:
        """The user takes back one permission from one app (it shows as declined)."""
        grant = self._grants.get((client_id, account_id))
        if grant is None or permission not in grant.granted:
            return
        mark = self._bump()
        grant.granted.remove(permission)
        grant.declined.append(permission)
        grant.seq = mark.seq
        self._accounts[account_id].changed_seq = mark.seq

    def revoke_grant(self, account_id: str, client_id: str) -> None:
        """Remove one app's grant: every token issued before answers "app removed"."""
        self._need_account(account_id)
        self._remove_grants(account_id, client_id, self._bump())

    def _remove_grants(self, account_id: str, client_id: str | None, mark: Mark) -> None:
        for (cid, aid), grant in self._grants.items():
            if aid == account_id and client_id in (None, cid):
                grant.active = False
                grant.removals.append(mark)
                grant.seq = mark.seq
        self._accounts[account_id].changed_seq = mark.seq

    def fire_event(self, account_id: str, event: str | EventType, **params: Any) -> AccountEvent:
        """An account event: ``password_change``, ``app_removed`` (``client_id``), ``checkpoint``.

        ``app_removed`` without ``client_id`` removes every app's grant.
        """
        account = self._need_account(account_id)
        try:
            kind = EventType(event)
        except ValueError:
            raise InvalidRequest(
                f"unknown event {event!r}; known: {', '.join(e.value for e in EventType)}",
                field="type",
            ) from None
        client_id = params.pop("client_id", None)
        if params:
            raise InvalidRequest(
                f"unexpected parameter(s) {', '.join(sorted(params))}", field=sorted(params)[0]
            )
        if client_id is not None:
            if kind is not EventType.APP_REMOVED:
                raise InvalidRequest("client_id only applies to app_removed", field="client_id")
            self._need_app(client_id)
        mark = self._bump()
        record = AccountEvent(account_id, kind, mark, client_id)
        account.events.append(record)
        account.changed_seq = mark.seq
        if kind is EventType.APP_REMOVED:
            self._remove_grants(account_id, client_id, mark)
        return record

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
            "valid": check.valid,
        }
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
            "events": [e.to_json() for a in self._accounts.values() for e in a.events],
        }

    @staticmethod
    def _unique(existing: Mapping[str, Any], make: Any) -> str:
        while True:
            value = str(make())
            if value not in existing:
                return value
