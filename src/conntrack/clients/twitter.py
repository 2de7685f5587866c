"""The product's side of X (Twitter): OAuth 2.0 with PKCE, and the error rules.

The connection flow of a product that manages X accounts: the consent page with a PKCE
S256 challenge (the verifier remembered per ``state``), the code exchange at
``/2/oauth2/token`` as a confidential client (HTTP Basic), ``/2/users/me`` to learn
whose account it is, then a sync that reads ``/2/users/{id}/tweets``.

Access tokens live 2 hours. With ``offline.access`` there is a refresh token, and each
refresh rotates it (the spent one dies): the product keeps the new one every time. So
a connection refreshed in time never expires — "Twitter never expires" in the
products' words — and its ``hard_expiry`` is ``None``; without a refresh token the
access token's own expiry is the hard one.

The classifier rules (:func:`classify_twitter`) cover API v2 problems, API v1.1
``errors`` and the OAuth 2.0 token endpoint's ``error`` bodies of PROVIDERS.md §5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from .. import _classifier
from .._classifier import Action, Verdict
from .._lifecycle import Reason
from .._profiles import Profile
from ._base import (
    Answer,
    ClientContext,
    ProviderCallError,
    TokenInfo,
    after,
    answer_of,
    pkce_pair,
    register,
)

PROTOCOL = "twitter"
WEB = "x.com"
API = "api.x.com"


class TwitterClient:
    """OAuth 2.0 (PKCE) calls of a product that reads an X account's posts."""

    protocol: ClassVar[str] = PROTOCOL

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
        self.http = ctx.http
        self.app = ctx.app
        self.profile = ctx.profile
        self.clock = ctx.clock
        self.user_id = ctx.resource
        """The X user whose posts the sync reads (known from ``/2/users/me`` after connect)."""
        self._verifiers: dict[str, str] = {}

    def _api(self, path: str) -> str:
        return self.ctx.url(API, path)

    @property
    def _basic(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.app.client_id, self.app.client_secret)

    # -- authorization ---------------------------------------------------------------

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        verifier, challenge = pkce_pair(self.ctx.rng)
        self._verifiers[state] = verifier
        scope = self.profile.scope_separator.join(scopes or self.profile["default_scopes"])
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.app.client_id,
                "redirect_uri": self.app.redirect_uri,
                "scope": scope,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.ctx.url(WEB, 'i/oauth2/authorize')}?{query}"

    async def _token(self, step: str, form: dict[str, str]) -> dict[str, Any]:
        response = await self.http.post(self._api("2/oauth2/token"), data=form, auth=self._basic)
        answer = answer_of(PROTOCOL, response)
        if not answer.ok or not isinstance(answer.body, dict):
            raise ProviderCallError(step, answer)
        return answer.body

    def _info(self, body: dict[str, Any], previous: TokenInfo | None = None) -> TokenInfo:
        now = self.clock.now()
        expires_at = after(now, body.get("expires_in"))
        fresh = body.get("refresh_token")
        refresh = fresh or (previous.refresh_token if previous else None)
        refresh_issued = now if fresh else (previous.refresh_issued_at if previous else None)
        scope = body.get("scope")
        scopes = (
            tuple(s for s in scope.split(self.profile.scope_separator) if s)
            if isinstance(scope, str)
            else (previous.scopes if previous else ())
        )
        return TokenInfo(
            access_token=str(body["access_token"]),
            expires_at=expires_at,
            # Refreshable: no instant beyond saving; else the access token's own expiry.
            hard_expiry=None if refresh else expires_at,
            scopes=scopes,
            user_id=previous.user_id if previous else self.user_id,
            refresh_token=str(refresh) if refresh else None,
            refresh_expires_at=None,
            issued_at=now,
            refresh_issued_at=refresh_issued if refresh else None,
        )

    async def connect(self, code: str, state: str = "") -> TokenInfo:
        """The callback: code (with the state's PKCE verifier) → tokens → whose account."""
        verifier = self._verifiers.pop(state, "")
        body = await self._token(
            "code exchange",
            {
                "code": code,
                "grant_type": "authorization_code",
                "client_id": self.app.client_id,
                "redirect_uri": self.app.redirect_uri,
                "code_verifier": verifier,
            },
        )
        info = self._info(body)
        me = answer_of(
            PROTOCOL,
            await self.http.get(
                self._api("2/users/me"), headers={"Authorization": f"Bearer {info.access_token}"}
            ),
        )
        if not me.ok:
            raise ProviderCallError("users/me", me)
        user_id = str(me.body["data"]["id"])
        self.user_id = user_id
        return info.with_(user_id=user_id)

    # -- refresh ---------------------------------------------------------------------

    def can_refresh(self, info: TokenInfo) -> bool:
        return info.refresh_token is not None

    def refresh_due(self, info: TokenInfo) -> datetime | None:
        if info.refresh_token is None or info.expires_at is None:
            return None
        margin = self.profile.lifetime("refresh_margin")
        return info.expires_at - margin if margin is not None else info.expires_at

    async def refresh(self, info: TokenInfo) -> TokenInfo:
        """A new access token and the rotated refresh token (the spent one is dead)."""
        if info.refresh_token is None:
            raise ValueError("no refresh token: the grant did not include offline.access")
        try:
            body = await self._token(
                "refresh",
                {
                    "refresh_token": info.refresh_token,
                    "grant_type": "refresh_token",
                    "client_id": self.app.client_id,
                },
            )
        except ProviderCallError as e:
            raise ProviderCallError(e.step, self._refusal(e.answer, info)) from None
        return self._info(body, info)

    def _refusal(self, answer: Answer, info: TokenInfo) -> Answer:
        """A refused refresh token that is too young to have expired was revoked.

        X answers every dead refresh token alike ("Value passed for the token was
        invalid."), and documents no lifetime for them. One refused before the profile's
        ``refresh_token_revoked_if_younger_than`` (``never``: any age) cannot have died
        of age: the person (or X, after a password change) revoked the app's access —
        ``access_revoked``, as the products in the field say. An older one, or one of
        unknown age, stays ``refresh_failed``.
        """
        key = "refresh_token_revoked_if_younger_than"
        born = info.refresh_issued_at
        if answer.verdict.reason is not Reason.REFRESH_FAILED or born is None:
            return answer
        if self.profile.get(key) is None:
            return answer  # a profile without the setting: the classifier's reading
        limit = self.profile.lifetime(key)  # None: refresh tokens never die of age
        if limit is not None and self.clock.now() - born >= limit:
            return answer
        verdict = replace(answer.verdict, reason=Reason.ACCESS_REVOKED)
        return Answer(answer.status, answer.body, verdict)

    # -- the sync and revocation -----------------------------------------------------

    async def read(self, info: TokenInfo) -> Answer:
        """The sync: the account's latest posts."""
        user_id = info.user_id or self.user_id
        response = await self.http.get(
            self._api(f"2/users/{user_id}/tweets"),
            params={"max_results": "10", "tweet.fields": "created_at"},
            headers={"Authorization": f"Bearer {info.access_token}"},
        )
        return answer_of(PROTOCOL, response)

    async def discover(self, info: TokenInfo) -> tuple[str | None, str | None] | None:
        """A connection about the account itself: nothing to find."""
        return None, None

    async def revoke(self, info: TokenInfo) -> Answer:
        """Revoke the grant (the refresh token if there is one: it ends the whole family)."""
        value, hint = (
            (info.refresh_token, "refresh_token")
            if info.refresh_token
            else (info.access_token, "access_token")
        )
        response = await self.http.post(
            self._api("2/oauth2/revoke"),
            data={"token": value, "token_type_hint": hint, "client_id": self.app.client_id},
            auth=self._basic,
        )
        return answer_of(PROTOCOL, response)


# -- the classifier -------------------------------------------------------------------------

#: API v1.1 error codes → (action, reason).
V1_CODES: dict[int, tuple[Action, Reason | None]] = {
    32: (Action.RECONNECT, Reason.UNKNOWN),  # could not authenticate you
    64: (Action.RECONNECT, Reason.SUSPENDED),
    88: (Action.RETRY, None),  # rate limit exceeded
    89: (Action.RECONNECT, Reason.ACCESS_REVOKED),  # invalid or expired token
    130: (Action.RETRY, None),  # over capacity
    131: (Action.RETRY, None),  # internal error
    326: (Action.RECONNECT, Reason.LOCKED),
}
LOCKED_WORDS = "temporarily locked"


def classify_twitter(status: int, headers: Mapping[str, str], body: Any) -> Verdict:
    """What an X answer means for the connection (see the module docstring)."""
    if not isinstance(body, dict):
        return _by_status(status)
    errors = body.get("errors")
    if "type" in body or "title" in body:
        return _problem(status, body)
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = first.get("code")
        message = str(first.get("message", ""))
        if isinstance(code, int):
            action, reason = V1_CODES.get(code, (Action.IGNORE, None))
            return Verdict(action, reason, code=str(code), message=message)
    if isinstance(body.get("error"), str):
        return _oauth2(status, body)
    return _by_status(status)


def _problem(status: int, body: dict[str, Any]) -> Verdict:
    """An API v2 problem object."""
    kind = str(body.get("type", ""))
    detail = str(body.get("detail", body.get("title", "")))
    code = kind.rsplit("/", 1)[-1] if kind.startswith("http") else str(status)
    if kind.endswith("/user-suspended"):
        return Verdict(Action.RECONNECT, Reason.SUSPENDED, code=code, message=detail)
    if status == 401:
        # An OAuth 2.0 user token refused: it expired early or died. A refresh may
        # help; if it cannot, a person must connect again.
        return Verdict(Action.REFRESH, Reason.UNKNOWN, code=code, message=detail)
    if status == 403 and LOCKED_WORDS in detail:
        return Verdict(Action.RECONNECT, Reason.LOCKED, code="locked", message=detail)
    if status == 403 and kind == "about:blank" and detail == "Forbidden":
        return Verdict(Action.RECONNECT, Reason.PERMISSION_MISSING, code=code, message=detail)
    if status == 429 or status >= 500:
        return Verdict(Action.RETRY, code=code, message=detail)
    return Verdict(Action.IGNORE, code=code, message=detail)


def _oauth2(status: int, body: dict[str, Any]) -> Verdict:
    """The token endpoint's ``{"error", "error_description"}``."""
    error = str(body["error"])
    description = str(body.get("error_description", ""))
    if error == "invalid_request" and "token was invalid" in description:
        # A spent, rotated-out, revoked or killed refresh token: only a person helps.
        return Verdict(Action.RECONNECT, Reason.REFRESH_FAILED, code=error, message=description)
    if error in ("invalid_grant", "invalid_request") and "authorization code" in description:
        return Verdict(Action.RECONNECT, Reason.UNKNOWN, code=error, message=description)
    # The app's own credentials or request (unauthorized_client, invalid_client, a
    # missing parameter): the product's problem, not the connection's.
    return Verdict(Action.IGNORE, code=error, message=description)


def _by_status(status: int) -> Verdict:
    if status == 429 or status >= 500:
        return Verdict(Action.RETRY, code=str(status))
    if status == 401:
        return Verdict(Action.REFRESH, Reason.UNKNOWN, code=str(status))
    return Verdict(Action.IGNORE, code=str(status))


def _resource(account: Mapping[str, Any], profile: Profile) -> str | None:
    """The X user id (the account itself): the sync reads that user's posts."""
    value = account.get("id")
    return str(value) if value else None


register(PROTOCOL, TwitterClient, _resource)
_classifier.register(PROTOCOL, classify_twitter)
