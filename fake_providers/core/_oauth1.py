"""OAuth 1.0a storage (X): request tokens, verifiers and access tokens with secrets.

The three legs, in neutral terms (signatures are the blueprint's business: it holds the
consumer secret ``app.client_secret`` and each token's ``secret``):

1. :meth:`OAuth1.oauth1_request_token` — a request token (kind ``request``) with its
   secret and the client's callback (``oob`` allowed), living
   ``oauth1_request_token_lifetime`` (default 15 minutes);
2. :meth:`OAuth1.oauth1_authorize` — the user approves: the grant is recorded and a
   single-use verifier is set on the request token;
3. :meth:`OAuth1.oauth1_access_token` — request token and verifier for an access token
   (kind ``oauth1``, ``{account id}-{random}``) with its secret, living
   ``oauth1_token_lifetime`` (missing or ``never``: no expiry). It starts a family and
   is checked, killed by events and revoked like any other token.

Problems raise :class:`CodeRejected` with a :class:`CodeProblem` (``unknown``,
``wrong_client``, ``expired``, ``not_approved``, ``used``, ``verifier_mismatch``).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from datetime import timedelta

from ._base import until
from ._errors import CodeProblem, CodeRejected, InvalidRequest
from ._refresh import Refresh
from ._tokenmodel import Token, TokenKind


class OAuth1(Refresh):
    """OAuth 1.0a (part of :class:`~._core.Core`)."""

    def oauth1_request_token(self, client_id: str, callback: str) -> Token:
        """A new request token (``secret`` set) for ``client_id`` and its callback."""
        app = self._need_app(client_id)
        if not isinstance(callback, str) or not callback:
            raise InvalidRequest("oauth_callback is required", field="oauth_callback")
        mark = self._bump()
        lifetime = timedelta(minutes=15)
        if self._has(app.provider, "oauth1_request_token_lifetime"):
            lifetime = self._lifetime(app.provider, "oauth1_request_token_lifetime") or lifetime
        value = self._unique(self._requests, lambda: self.ids.base62(32))
        token = Token(
            value, app.provider, TokenKind.REQUEST, client_id, "", (), mark.at,
            mark.at + lifetime, mark.seq, secret=self.ids.base62(32), origin="request",
            callback=callback,
        )  # fmt: skip
        self._requests[value] = token
        return token

    def oauth1_request(self, value: str) -> Token | None:
        """A request token by value (``account_id`` is ``""`` until approved)."""
        return self._requests.get(value)

    def _live_request(self, value: str) -> Token:
        token = self._requests.get(value)
        if token is None:
            raise CodeRejected(CodeProblem.UNKNOWN)
        if token.spent is not None:
            raise CodeRejected(CodeProblem.USED)
        if token.expires_at is not None and self.now() >= token.expires_at:
            raise CodeRejected(CodeProblem.EXPIRED)
        return token

    def oauth1_authorize(
        self, request_token: str, account_id: str, *, scopes: Iterable[str] = ()
    ) -> str:
        """The user approves a request token: record the grant, answer the verifier."""
        token = self._live_request(request_token)
        account = self._need_account(account_id)
        if account.provider != token.provider:
            raise InvalidRequest(
                f"account {account_id!r} is not a {token.provider} account", field="account_id"
            )
        wanted = list(scopes)
        mark = self._bump()
        self._record_grant(mark, token.client_id, account_id, wanted, wanted)
        token.account_id = account_id
        token.scopes = tuple(wanted)
        token.verifier = self.ids.base62(32)
        return token.verifier

    def oauth1_access_token(self, request_token: str, verifier: str, client_id: str) -> Token:
        """Spend an approved request token and its verifier for an access token."""
        token = self._live_request(request_token)
        if token.client_id != client_id:
            raise CodeRejected(CodeProblem.WRONG_CLIENT)
        if token.verifier is None:
            raise CodeRejected(CodeProblem.NOT_APPROVED)
        if not isinstance(verifier, str) or not hmac.compare_digest(verifier, token.verifier):
            raise CodeRejected(CodeProblem.VERIFIER_MISMATCH)
        mark = self._bump()
        token.spent = mark
        family = self._family(mark, client_id, token.account_id, "oauth1")
        value = self._unique(self._tokens, lambda: f"{token.account_id}-{self.ids.base62(40)}")
        return self._issue(
            mark, TokenKind.OAUTH1, client_id, token.account_id, token.scopes,
            until(mark.at, self._lifetime(token.provider, "oauth1_token_lifetime")),
            family=family, parent=token.value, origin="oauth1", value=value,
            secret=self.ids.base62(45),
        )  # fmt: skip
