"""OAuth 2.0 refresh: refresh tokens and their rules, and self-refreshing tokens.

Profile settings read here (``refresh`` says which kind applies):

- ``refresh: refresh_token`` — :meth:`Refresh.issue_from_code` hands out a refresh token
  (unless ``refresh_tokens_enabled: false``, or ``refresh_requires_scope`` was not
  granted, or the code was not ``offline``); :meth:`Refresh.refresh` uses it:
  ``refresh_token_lifetime`` (missing or ``never``: no expiry),
  ``refresh_token_rotates`` (a new refresh token each time; the old one dies,
  ``rotated_out``), ``refresh_token_lifetime_resets`` (false: the family keeps its
  first expiry — LinkedIn's 365 days counted from the login),
  ``refresh_token_unused_lifetime`` (dies unused that long: ``unused_too_long``),
  ``refresh_token_cap`` (more live refresh tokens per account and client than that:
  the oldest dies, ``capped``), ``testing_mode_refresh_lifetime`` with
  ``testing_mode_exempt_scopes`` (an app in ``testing`` publishing status: refresh
  tokens of grants beyond the exempt scopes die that long after the login,
  ``testing_expired``).
- ``refresh: self`` — :meth:`Refresh.refresh_self`: a long-lived token at least
  ``refresh_min_age`` old and not expired becomes a new one, ``long_token_lifetime``
  from now.
"""

from __future__ import annotations

from datetime import timedelta

from ._base import until
from ._errors import RefreshProblem, RefreshRejected
from ._model import Mark, Reason
from ._tokenmodel import Family, Token, TokenKind, TokenPair
from ._tokens import Tokens

#: Scopes that do not count as "beyond name, email and profile" in testing mode.
DEFAULT_EXEMPT_SCOPES = (
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)


class Refresh(Tokens):
    """Refresh-token flows (part of :class:`~._core.Core`)."""

    def issue_from_code(
        self,
        code_value: str,
        *,
        client_id: str,
        redirect_uri: str,
        code_verifier: str | None = None,
    ) -> TokenPair:
        """Spend a code for an access token (``access_token_lifetime``) and maybe a
        refresh token (see the module docstring); raises :class:`CodeRejected`."""
        code = self._usable_code(code_value, client_id, redirect_uri, code_verifier)
        profile = self._profiles[code.provider]
        mark = self._bump()
        code.used = mark
        scopes = tuple(self._grants[(client_id, code.account_id)].granted)
        family = self._family(mark, client_id, code.account_id, "code")
        code.family = family.id
        key = "access_token_lifetime"
        if not self._has(code.provider, key):
            key = "short_token_lifetime"
        access = self._issue(
            mark, TokenKind.ACCESS, client_id, code.account_id, scopes,
            until(mark.at, self._lifetime(code.provider, key)), family=family,
        )  # fmt: skip
        needed = profile.get("refresh_requires_scope")
        if (
            profile.refresh != "refresh_token"
            or profile.get("refresh_tokens_enabled", True) is False
            or not code.offline
            or (needed is not None and needed not in scopes)
        ):
            return TokenPair(access, None)
        refresh = self._issue_refresh(mark, access, family)
        return TokenPair(access, refresh)

    def _issue_refresh(self, mark: Mark, access: Token, family: Family) -> Token:
        provider = access.provider
        profile = self._profiles[provider]
        app = self._apps[access.client_id]
        testing = self._lifetime(provider, "testing_mode_refresh_lifetime")
        exempt = set(profile.get("testing_mode_exempt_scopes", DEFAULT_EXEMPT_SCOPES))
        beyond = set(access.scopes) - exempt
        if app.publishing_status == "testing" and testing is not None and beyond:
            family.testing_expires_at = mark.at + testing
        refresh = self._issue(
            mark, TokenKind.REFRESH, access.client_id, access.account_id, access.scopes,
            until(mark.at, self._lifetime(provider, "refresh_token_lifetime")),
            family=family, parent=access.value,
        )  # fmt: skip
        refresh.last_used_at = mark.at
        access.refresh = refresh.value
        family.refresh = refresh.value
        pair = (access.client_id, access.account_id)
        self._refresh_index.setdefault(pair, []).append(refresh.value)
        self._apply_cap(mark, pair)
        return refresh

    def _apply_cap(self, mark: Mark, pair: tuple[str, str]) -> None:
        """More live refresh tokens than ``refresh_token_cap``: the oldest die silently."""
        cap = self._profiles[self._apps[pair[0]].provider].get("refresh_token_cap")
        live = [v for v in self._refresh_index[pair] if self.check_token(v).valid]
        self._refresh_index[pair] = live
        if not isinstance(cap, int) or isinstance(cap, bool) or len(live) <= cap:
            return
        for value in live[: len(live) - cap]:
            self._tokens[value].ended = (Reason.CAPPED, mark)
        self._refresh_index[pair] = live[len(live) - cap :]

    def refresh(self, refresh_value: str, *, client_id: str) -> TokenPair:
        """Use a refresh token: a new access token and the refresh token to use next.

        Without rotation the same refresh token comes back (its expiry moved to
        ``refresh_token_lifetime`` from now unless ``refresh_token_lifetime_resets`` is
        false); with rotation a new one that keeps (or resets) the expiry, and the old
        one answers ``rotated_out``. Raises :class:`RefreshRejected`.
        """
        token = self.token(refresh_value, provider=self._asker(client_id))
        if token is None or token.kind is not TokenKind.REFRESH:
            raise RefreshRejected(RefreshProblem.UNKNOWN)
        if token.client_id != client_id:
            raise RefreshRejected(RefreshProblem.WRONG_CLIENT)
        profile = self._profiles[token.provider]
        if profile.refresh != "refresh_token":
            raise RefreshRejected(RefreshProblem.NOT_SUPPORTED)
        check = self.check_token(refresh_value)
        if not check.valid:
            assert check.reason is not None
            raise RefreshRejected(check.reason, check)
        mark = self._bump()
        family = self._families[token.family]
        scopes = tuple(self.scopes_now(token))
        key = "access_token_lifetime"
        if not self._has(token.provider, key):
            key = "short_token_lifetime"
        access = self._issue(
            mark, TokenKind.ACCESS, client_id, token.account_id, scopes,
            until(mark.at, self._lifetime(token.provider, key)),
            family=family, parent=token.value, origin="refresh",
        )  # fmt: skip
        lifetime = self._lifetime(token.provider, "refresh_token_lifetime")
        resets = profile.get("refresh_token_lifetime_resets", True) is not False
        expires = until(mark.at, lifetime) if resets else token.expires_at
        if profile.flag("refresh_token_rotates"):
            new = self._issue(
                mark, TokenKind.REFRESH, client_id, token.account_id, scopes, expires,
                family=family, parent=token.value, origin="refresh",
            )  # fmt: skip
            token.ended = (Reason.ROTATED_OUT, mark)
            family.refresh = new.value
            index = self._refresh_index.setdefault((client_id, token.account_id), [])
            if token.value in index:
                index[index.index(token.value)] = new.value
            else:
                index.append(new.value)
        else:
            new = token
            new.expires_at = expires
        new.last_used_at = mark.at
        access.refresh = new.value
        return TokenPair(access, new)

    def refresh_self(
        self, access_value: str, *, client_id: str | None = None, provider: str | None = None
    ) -> Token:
        """Refresh a long-lived token itself (Instagram's ``ig_refresh_token``).

        Only where the profile's ``refresh`` is ``self``, for a long-lived user token
        that works and is at least ``refresh_min_age`` old; the new token (same family)
        lives ``long_token_lifetime`` from now. The old one keeps its own expiry.
        Raises :class:`RefreshRejected`: ``unknown``, ``not_supported``,
        ``wrong_client``, ``wrong_kind``, the token's :class:`Reason` (``expired``…),
        ``too_young``. Another provider's token than ``provider``'s (default: app
        ``client_id``'s) is ``unknown``.
        """
        token = self.token(access_value, provider=provider or self._asker(client_id))
        if token is None:
            raise RefreshRejected(RefreshProblem.UNKNOWN)
        profile = self._profiles[token.provider]
        if profile.refresh != "self":
            raise RefreshRejected(RefreshProblem.NOT_SUPPORTED)
        if client_id is not None and token.client_id != client_id:
            raise RefreshRejected(RefreshProblem.WRONG_CLIENT)
        if token.kind is not TokenKind.USER_LONG:
            raise RefreshRejected(RefreshProblem.WRONG_KIND)
        check = self.check_token(access_value)
        if not check.valid:
            assert check.reason is not None
            raise RefreshRejected(check.reason, check)
        min_age = self._lifetime(token.provider, "refresh_min_age") or timedelta(0)
        if self.now() - token.issued_at < min_age:
            raise RefreshRejected(RefreshProblem.TOO_YOUNG, check)
        mark = self._bump()
        return self._issue(
            mark, TokenKind.USER_LONG, token.client_id, token.account_id, token.scopes,
            until(mark.at, self._lifetime(token.provider, "long_token_lifetime")),
            family=self._families[token.family], parent=token.value, origin="self_refresh",
        )  # fmt: skip
