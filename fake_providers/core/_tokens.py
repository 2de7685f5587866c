"""Consent, codes (with PKCE) and tokens: issue them, check them, revoke them.

The token endpoints of every provider reduce to a few calls:

- :meth:`Tokens.exchange_code` — a code for a short-lived user token (Facebook,
  Instagram Login), then :meth:`Tokens.exchange_long_lived` (``fb_exchange_token``,
  ``ig_exchange_token``) and :meth:`Tokens.page_token`;
- ``issue_from_code`` — a code for an access token and, where the profile says so, a
  refresh token (LinkedIn, TikTok, X, Google): in ``_refresh`` with the refresh rules.

Each code exchange starts a :class:`~._tokenmodel.Family`; :meth:`Tokens.revoke` ends a
whole family. :meth:`Tokens.check_token` answers why a token does not work, the
earliest cause first; :meth:`Tokens.quiet_until` until when its answer cannot change
without a mutation.

Token strings follow the profile: ``access_token_prefix`` (default ``EAA``),
``refresh_token_prefix`` (default: the access prefix), ``token_length`` (default 180),
``code_prefix`` (default ``AQ``), ``code_length`` (default 340).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from ._base import until
from ._errors import (
    CodeProblem,
    CodeRejected,
    InvalidRequest,
    LoginRefused,
    NotFound,
    TokenRejected,
)
from ._events import Events
from ._model import Account, AccountEvent, Grant, Mark, Reason
from ._tokenmodel import Code, Family, Token, TokenCheck, TokenKind

PKCE_METHODS = ("S256", "plain")
_ACCESS_KINDS = (TokenKind.USER_SHORT, TokenKind.USER_LONG, TokenKind.PAGE, TokenKind.ACCESS)


def s256(verifier: str) -> str:
    """The S256 code challenge of a PKCE ``code_verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Tokens(Events):
    """Consent, codes and tokens (part of :class:`~._core.Core`)."""

    # -- consent and codes ---------------------------------------------------------

    def approve(
        self,
        client_id: str,
        account_id: str,
        redirect_uri: str,
        *,
        requested: Iterable[str],
        granted: Iterable[str],
        auth_type: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
        offline: bool = True,
    ) -> Code:
        """Record an approved consent (the grant) and issue a single-use code.

        Requested scopes not granted are recorded as declined; scopes granted earlier and
        not asked again stay as they were. Approving renews data access. A
        ``code_challenge`` (method ``S256`` or ``plain``, default ``plain``) is kept for
        the exchange; profile ``pkce: required`` makes it mandatory, ``pkce: none``
        ignores it. ``offline=False`` means no refresh token for this code.
        """
        app = self._need_app(client_id)
        account = self._need_account(account_id)
        if account.provider != app.provider:
            raise InvalidRequest(
                f"account {account_id!r} is not a {app.provider} account", field="account_id"
            )
        if redirect_uri not in app.redirect_uris:
            raise InvalidRequest("redirect_uri is not registered", field="redirect_uri")
        self._check_login(account, app.provider)
        profile = self._profiles[app.provider]
        pkce = str(profile.get("pkce", "optional"))
        if pkce == "none":
            code_challenge = code_challenge_method = None
        elif code_challenge:
            code_challenge_method = code_challenge_method or "plain"
            if code_challenge_method not in PKCE_METHODS:
                raise InvalidRequest(
                    "code_challenge_method must be S256 or plain", field="code_challenge_method"
                )
        elif pkce == "required":
            raise InvalidRequest("code_challenge is required", field="code_challenge")
        else:
            code_challenge = code_challenge_method = None
        mark = self._bump()
        self._record_grant(mark, client_id, account_id, requested, granted, auth_type)
        lifetime = self._lifetime(app.provider, "code_lifetime") or timedelta(minutes=10)
        length = int(profile.get("code_length", 340))
        prefix = str(profile.get("code_prefix", "AQ"))
        value = self._unique(self._codes, lambda: self.ids.code(length, prefix))
        now = mark.at
        code = Code(
            value, app.provider, client_id, account_id, redirect_uri, now, now + lifetime,
            mark.seq, code_challenge=code_challenge,
            code_challenge_method=code_challenge_method, offline=bool(offline),
        )  # fmt: skip
        self._codes[value] = code
        return code

    def _check_login(self, account: Account, provider: str) -> None:
        """Refuse a login held back by a security checkpoint (PROVIDERS.md: "after the
        check, wait 24 hours before signing in again": profile ``checkpoint_login_wait``)."""
        if account.checkpoint:
            raise LoginRefused(
                "This account is held at a security checkpoint. Log in to the provider's "
                "website and follow the instructions before you log in to apps.",
                field="account_id",
            )
        wait = self._lifetime(provider, "checkpoint_login_wait")
        cleared = account.checkpoint_cleared_at
        if wait is not None and cleared is not None and self.now() < cleared + wait:
            again = (cleared + wait).strftime("%Y-%m-%d %H:%M UTC")
            raise LoginRefused(
                "You recently completed a security check. For your security, you can log "
                f"in to apps again from {again}.",
                field="account_id",
            )

    def _record_grant(
        self,
        mark: Mark,
        client_id: str,
        account_id: str,
        requested: Iterable[str],
        granted: Iterable[str],
        auth_type: str | None = None,
    ) -> Grant:
        app = self._apps[client_id]
        asked = list(dict.fromkeys(requested))
        yes = [s for s in dict.fromkeys(granted) if s in asked]
        no = [s for s in asked if s not in yes]
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
        grant.data_access_expires_at = until(mark.at, access)
        self._touch(account_id, mark)
        return grant

    def code(self, value: str) -> Code | None:
        return self._codes.get(value)

    def _usable_code(
        self, value: str, client_id: str, redirect_uri: str, verifier: str | None
    ) -> Code:
        code = self._codes.get(value)
        asker = self._asker(client_id)
        if code is None or (asker is not None and code.provider != asker):
            raise CodeRejected(CodeProblem.UNKNOWN)  # another provider's code is unknown
        if code.client_id != client_id:
            raise CodeRejected(CodeProblem.WRONG_CLIENT)
        if code.redirect_uri != redirect_uri:
            raise CodeRejected(CodeProblem.REDIRECT_MISMATCH)
        if code.used is not None:
            self._revoke_reused(code)
            raise CodeRejected(CodeProblem.USED)
        if self.now() >= code.expires_at:
            raise CodeRejected(CodeProblem.EXPIRED)
        if code.code_challenge is not None:
            if not verifier:
                raise CodeRejected(CodeProblem.PKCE_MISSING)
            expected = s256(verifier) if code.code_challenge_method == "S256" else verifier
            if not hmac.compare_digest(expected, code.code_challenge):
                raise CodeRejected(CodeProblem.PKCE_MISMATCH)
        return code

    def _revoke_reused(self, code: Code) -> None:
        """A spent code exchanged again by its app. RFC 6749 §4.1.2: the provider SHOULD
        revoke the tokens issued from it — done where the profile's
        ``code_reuse_revokes`` says the provider does (the whole family: the tokens
        exchanged, refreshed or derived from them too). A mutation, then the caller
        raises ``used`` as always."""
        if not self.profile(code.provider).flag("code_reuse_revokes"):
            return
        family = self._families.get(code.family or "")
        if family is None or family.revoked is not None:
            return
        kept = [v for v in family.tokens if v in self._tokens]  # none: all forgotten
        if kept:
            self.revoke(kept[0])

    def exchange_code(
        self, value: str, *, client_id: str, redirect_uri: str, code_verifier: str | None = None
    ) -> Token:
        """Spend a code for a short-lived user token (``short_token_lifetime``, else
        ``access_token_lifetime``), or raise :class:`CodeRejected`."""
        code = self._usable_code(value, client_id, redirect_uri, code_verifier)
        mark = self._bump()
        code.used = mark
        grant = self._grants[(client_id, code.account_id)]
        key = (
            "short_token_lifetime"
            if self._has(code.provider, "short_token_lifetime")
            else ("access_token_lifetime")
        )
        family = self._family(mark, client_id, code.account_id, "code")
        code.family = family.id
        return self._issue(
            mark, TokenKind.USER_SHORT, client_id, code.account_id, tuple(grant.granted),
            until(mark.at, self._lifetime(code.provider, key)), family=family,
        )  # fmt: skip

    # -- issuing -------------------------------------------------------------------

    def _family(self, mark: Mark, client_id: str, account_id: str, origin: str) -> Family:
        provider = self._apps[client_id].provider
        family = Family(
            f"fam{mark.seq}", provider, client_id, account_id, mark.seq, mark.at, origin
        )
        self._families[family.id] = family
        self._account_families.add(self._families, family)
        return family

    def _token_value(self, provider: str, kind: TokenKind) -> str:
        profile = self._profiles[provider]
        prefix = str(profile.get("access_token_prefix", "EAA"))
        length = int(profile.get("token_length", 180))
        if kind is TokenKind.REFRESH:
            prefix = str(profile.get("refresh_token_prefix", prefix))
        return self._unique(self._tokens, lambda: self.ids.token(prefix, length))

    def _issue(
        self,
        mark: Mark,
        kind: TokenKind,
        client_id: str,
        account_id: str,
        scopes: tuple[str, ...],
        expires_at: datetime | None,
        *,
        family: Family,
        page_id: str | None = None,
        parent: str | None = None,
        origin: str = "code",
        value: str | None = None,
        secret: str | None = None,
    ) -> Token:
        app = self._apps[client_id]
        value = value or self._token_value(app.provider, kind)
        token = Token(
            value, app.provider, kind, client_id, account_id, scopes, mark.at, expires_at,
            mark.seq, page_id=page_id, parent=parent, family=family.id, origin=origin,
            secret=secret,
        )  # fmt: skip
        self._tokens[value] = token
        family.tokens.append(value)
        self._touch(account_id, mark)
        return token

    # -- reading -------------------------------------------------------------------

    def token(self, value: str, *, provider: str | None = None) -> Token | None:
        """The token issued as ``value``, or None.

        ``provider`` is who asks (a protocol or a catalog profile name): another
        provider's token is then None too, so every provider answers another's token
        exactly as a string it never issued. Every lookup on behalf of a provider goes
        through here; only provider-neutral callers (control API, listings) omit it.
        """
        token = self._tokens.get(value)
        if token is None or provider is None or token.provider == self.protocol_of(provider):
            return token
        return None

    def _asker(self, client_id: str | None) -> str | None:
        """The protocol of app ``client_id`` (the provider asking), if there is one."""
        app = self._apps.get(client_id) if isinstance(client_id, str) else None
        return None if app is None else app.provider

    def tokens(self) -> list[Token]:
        return list(self._tokens.values())

    def family(self, family_id: str) -> Family | None:
        return self._families.get(family_id)

    def families(self) -> list[Family]:
        return list(self._families.values())

    def refresh_token_of(self, token: Token) -> Token | None:
        """The refresh token of a token's family now (the newest, after rotation)."""
        family = self._families.get(token.family)
        return None if family is None or family.refresh is None else self._tokens[family.refresh]

    def expires_in(self, token: Token) -> int | None:
        """Whole seconds until ``token`` expires (never: None; past: 0)."""
        if token.expires_at is None:
            return None
        return max(0, int((token.expires_at - self.now()).total_seconds()))

    def exchange_long_lived(self, value: str, *, client_id: str) -> Token:
        """Exchange a working user token for a long-lived one (``fb_exchange_token``,
        ``ig_exchange_token``): ``long_token_lifetime`` from now, same family."""
        check = self.check_token(value, provider=self._asker(client_id))
        if check.token is None or not check.valid:
            raise TokenRejected(check)
        old = check.token
        if old.kind not in (TokenKind.USER_SHORT, TokenKind.USER_LONG):
            raise InvalidRequest("only a user token can be exchanged", field="fb_exchange_token")
        if old.client_id != client_id:
            raise InvalidRequest("the token belongs to another app", field="fb_exchange_token")
        if not self._has(old.provider, "long_token_lifetime"):
            raise InvalidRequest("this provider has no long-lived tokens", field="grant_type")
        mark = self._bump()
        return self._issue(
            mark, TokenKind.USER_LONG, client_id, old.account_id, old.scopes,
            until(mark.at, self._lifetime(old.provider, "long_token_lifetime")),
            family=self._families[old.family], parent=old.value, origin="exchange",
        )  # fmt: skip

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
        if page is None or user.account_id not in page.admins or user.kind is TokenKind.PAGE:
            raise NotFound(f"no page {page_id!r} administered by this user", field="page_id")
        known = self._page_tokens.get((user.value, page_id))
        if known is not None:
            return self._tokens[known]
        key = "page_token_lifetime" if user.kind is TokenKind.USER_LONG else "short_token_lifetime"
        mark = self._bump()
        token = self._issue(
            mark, TokenKind.PAGE, user.client_id, user.account_id, user.scopes,
            until(mark.at, self._lifetime(user.provider, key)),
            family=self._families[user.family], page_id=page_id, parent=user.value,
            origin="page",
        )  # fmt: skip
        self._page_tokens[(user.value, page_id)] = token.value
        return token

    def check_token(self, value: str, *, provider: str | None = None) -> TokenCheck:
        """Does ``value`` work now? If not, the earliest cause wins (ties: the event).
        Asked for ``provider``, another provider's token is unknown (:meth:`token`)."""
        token = self.token(value, provider=provider)
        if token is None:
            return TokenCheck(None, Reason.MALFORMED)
        causes = self._causes(token)
        if not causes:
            return TokenCheck(token, None)
        at, _, reason, cause = min(causes, key=lambda c: (c[0], c[1]))
        return TokenCheck(token, reason, at, cause)

    def _causes(self, token: Token) -> list[tuple[datetime, int, Reason, AccountEvent | None]]:
        now = self.now()
        causes: list[tuple[datetime, int, Reason, AccountEvent | None]] = []
        family = self._families.get(token.family)
        if family is not None and family.revoked is not None:
            causes.append((family.revoked.at, 0, Reason.REVOKED, None))
        if token.ended is not None:
            causes.append((token.ended[1].at, 0, token.ended[0], None))
        causes.extend(self._event_causes(token))
        grant = self._grants.get((token.client_id, token.account_id))
        if grant is not None:
            for removal in grant.removals:
                if removal.seq > token.seq:
                    causes.append((removal.at, 0, Reason.APP_REMOVED, None))
                    break
            dae = grant.data_access_expires_at
            if dae is not None and now >= dae:
                causes.append((dae, 1, Reason.DATA_ACCESS_EXPIRED, None))
        for at, reason in self._deadlines(token):
            if now >= at:
                causes.append((at, 1, reason, None))
        return causes

    def _deadlines(self, token: Token) -> list[tuple[datetime, Reason]]:
        """The instants at which ``token`` dies by time alone (not data access)."""
        out = []
        if token.expires_at is not None:
            out.append((token.expires_at, Reason.EXPIRED))
        if token.kind is TokenKind.REFRESH:
            unused = self._lifetime(token.provider, "refresh_token_unused_lifetime")
            if unused is not None and token.last_used_at is not None:
                out.append((token.last_used_at + unused, Reason.UNUSED_TOO_LONG))
            family = self._families.get(token.family)
            if family is not None and family.testing_expires_at is not None:
                out.append((family.testing_expires_at, Reason.TESTING_EXPIRED))
        return out

    def quiet_until(self, value: str) -> datetime | Literal[False] | None:
        """Until when a working token's answers cannot change without a mutation.

        - a ``datetime``: the token works now, and nothing but a mutation (a rise of
          ``core.seq``) can change its answers before that instant — the first of its
          own deadlines (expiry; for a refresh token also its unused-lifetime and
          testing-mode deadlines) and its grant's data-access expiry. An access token's
          instant does *not* consider its refresh token: ask about that one separately;
        - ``None``: the token works now and only a mutation can ever change its answers;
        - ``False``: the token does not work now (or is unknown): no promise.
        """
        check = self.check_token(value)
        if check.token is None or not check.valid:
            return False
        token = check.token
        grant = self._grants.get((token.client_id, token.account_id))
        times = [at for at, _ in self._deadlines(token)]
        if grant is not None and grant.data_access_expires_at is not None:
            times.append(grant.data_access_expires_at)
        return min(times) if times else None

    def data_access_expires_at(self, token: Token) -> datetime | None:
        grant = self._grants.get((token.client_id, token.account_id))
        return None if grant is None else grant.data_access_expires_at

    def scopes_now(self, token: Token) -> list[str]:
        """The scopes a token carries now: those issued, less any revoked since."""
        grant = self._grants.get((token.client_id, token.account_id))
        granted = set(grant.granted) if grant is not None else set()
        return [s for s in token.scopes if s in granted]

    # -- revocation ----------------------------------------------------------------

    def revoke(self, token_value: str, *, client_id: str | None = None) -> TokenCheck:
        """Revoke the family of a token (access and refresh tokens alike).

        Answers the token's check from *before* the revocation (so a blueprint can
        tell "revoked now" from "was already dead"). The family is revoked if it was
        not already (a mutation); every token of it then answers ``revoked``.
        Raises :class:`TokenRejected` (``malformed``) for a string never issued — or,
        with ``client_id``, issued by another provider than that app's — and
        :class:`InvalidRequest` (``client_id``) for another app's token.
        """
        token = self.token(token_value, provider=self._asker(client_id))
        if token is None:
            raise TokenRejected(TokenCheck(None, Reason.MALFORMED))
        if client_id is not None and token.client_id != client_id:
            raise InvalidRequest("the token belongs to another app", field="client_id")
        check = self.check_token(token_value)
        family = self._families[token.family]
        if family.revoked is None:
            mark = self._bump()
            family.revoked = mark
            self._touch(token.account_id, mark)
        return check

    def is_access_token(self, token: Token) -> bool:
        """An access token of any kind (not refresh, not OAuth 1.0a request)."""
        return token.kind in _ACCESS_KINDS or token.kind is TokenKind.OAUTH1
