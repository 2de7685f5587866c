"""The product's side of Google / YouTube: the calls a real integration makes.

Google hands out an access token that lives an hour (``expires_in: 3599``) and, with
``access_type=offline`` after the consent screen, a refresh token that never rotates and
has no fixed lifetime: it lives while it is used (it dies unused for six months, when the
user removes the app, past 100 live tokens per account and app, after seven days for an
app in "Testing" status, and on a password change when it carries Gmail scopes). So the
product refreshes about an hour after each refresh, at its syncs, and a YouTube
connection never reaches a hard expiry ("YouTube does not expire"): ``hard_expiry`` is
``None`` while the refresh token lives.

What a sync reads: ``GET youtube/v3/channels?part=snippet&mine=true``. The client asks
for ``prompt=consent`` on every authorization (without it a repeat authorization gets no
refresh token) and uses PKCE (S256), remembering the verifier per ``state``.

Google never says *why* a refresh token died: every dead grant answers ``invalid_grant``
"Token has been expired or revoked.", so the classifier can only say ``refresh_failed``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from .._classifier import Action, Verdict
from .._classifier import register as register_rule
from .._lifecycle import Reason
from .._profiles import Profile
from ._base import (
    Answer,
    ClientContext,
    ProviderCallError,
    ProviderClient,
    TokenInfo,
    after,
    answer_of,
    pkce_pair,
    register,
)

PROTOCOL = "google"
ACCOUNTS = "accounts.google.com"
OAUTH2 = "oauth2.googleapis.com"
API = "www.googleapis.com"


class GoogleClient:
    """OAuth 2.0 and YouTube Data API calls of a product that manages YouTube channels."""

    protocol: ClassVar[str] = PROTOCOL

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
        self.http = ctx.http
        self.app = ctx.app
        self.profile = ctx.profile
        self.clock = ctx.clock
        self.margin = ctx.profile.lifetime("refresh_margin") or timedelta(0)
        self._verifiers: dict[str, str] = {}
        self.channel_id: str | None = None
        """The channel the connection is about (the first of the account's, at connect)."""

    # -- authorization ------------------------------------------------------------------

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        verifier, challenge = pkce_pair(self.ctx.rng)
        self._verifiers[state] = verifier
        scope = self.profile.scope_separator.join(scopes or self.profile["default_scopes"])
        query = urlencode(
            {
                "client_id": self.app.client_id,
                "redirect_uri": self.app.redirect_uri,
                "response_type": "code",
                "scope": scope,
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.ctx.url(ACCOUNTS, 'o/oauth2/v2/auth')}?{query}"

    async def _token(self, step: str, fields: dict[str, str]) -> dict[str, Any]:
        fields = {
            **fields,
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
        }
        answer = answer_of(
            PROTOCOL, await self.http.post(self.ctx.url(OAUTH2, "token"), data=fields)
        )
        if not answer.ok or not isinstance(answer.body, dict):
            raise ProviderCallError(step, answer)
        return answer.body

    def _info(self, body: Mapping[str, Any], now: datetime, refresh: str | None) -> TokenInfo:
        scope = body.get("scope")
        claims = id_token_claims(body.get("id_token"))
        return TokenInfo(
            access_token=str(body["access_token"]),
            expires_at=after(now, body.get("expires_in")),
            hard_expiry=None,  # refreshable for as long as the refresh token lives
            scopes=with_short_names(str(scope).split()) if scope else (),
            user_id=str(claims["sub"]) if claims.get("sub") else None,
            refresh_token=refresh,
            issued_at=now,
        )

    async def connect(self, code: str, state: str = "") -> TokenInfo:
        """The callback: the code (with the PKCE verifier of ``state``) becomes tokens."""
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.app.redirect_uri,
        }
        verifier = self._verifiers.pop(state, None)
        if verifier is not None:
            fields["code_verifier"] = verifier
        now = self.clock.now()
        body = await self._token("code exchange", fields)
        refresh = body.get("refresh_token")
        info = self._info(body, now, str(refresh) if refresh else None)
        if self.channel_id is None:
            self.channel_id = await self._first_channel(info)
        return info

    async def _first_channel(self, info: TokenInfo) -> str | None:
        answer = await self._channels(info)
        items = answer.body.get("items") if answer.ok and isinstance(answer.body, dict) else None
        return str(items[0]["id"]) if items else None

    # -- refresh ------------------------------------------------------------------------

    def can_refresh(self, info: TokenInfo) -> bool:
        return info.refresh_token is not None

    def refresh_due(self, info: TokenInfo) -> datetime | None:
        if info.refresh_token is None or info.expires_at is None:
            return None
        return info.expires_at - self.margin

    async def refresh(self, info: TokenInfo) -> TokenInfo:
        """A new access token; the refresh token stays (Google does not rotate it)."""
        if info.refresh_token is None:
            raise NotImplementedError("no refresh token (authorized without access_type=offline)")
        now = self.clock.now()
        body = await self._token(
            "refresh", {"grant_type": "refresh_token", "refresh_token": info.refresh_token}
        )
        refresh = body.get("refresh_token") or info.refresh_token
        new = self._info(body, now, str(refresh))
        return new.with_(user_id=new.user_id or info.user_id, scopes=new.scopes or info.scopes)

    # -- the sync -----------------------------------------------------------------------

    async def _channels(self, info: TokenInfo) -> Answer:
        response = await self.http.get(
            self.ctx.url(API, "youtube/v3/channels"),
            params={"part": "snippet", "mine": "true"},
            headers={"Authorization": f"Bearer {info.access_token}"},
        )
        return answer_of(PROTOCOL, response)

    async def read(self, info: TokenInfo) -> Answer:
        """The account's channels; the connection's channel must still be among them."""
        answer = await self._channels(info)
        if not answer.ok or self.channel_id is None:
            return answer
        items = answer.body.get("items") if isinstance(answer.body, dict) else None
        ids = {str(i.get("id")) for i in items or [] if isinstance(i, dict)}
        if self.channel_id not in ids:
            return Answer(answer.status, answer.body, _channel_gone())
        return answer

    async def discover(self, info: TokenInfo) -> tuple[str | None, str | None] | None:
        """The channel the first login found (``channels.list``, mine) and its title."""
        if self.channel_id is None:
            return None
        answer = await self._channels(info)
        items = answer.body.get("items") if isinstance(answer.body, dict) else None
        name = next(
            (
                (item.get("snippet") or {}).get("title")
                for item in items or []
                if isinstance(item, dict) and str(item.get("id")) == self.channel_id
            ),
            None,
        )
        return self.channel_id, str(name) if name else None

    async def revoke(self, info: TokenInfo) -> Answer:
        """Revoke the grant (the refresh token if held: it takes its access tokens along)."""
        token = info.refresh_token or info.access_token
        response = await self.http.post(self.ctx.url(OAUTH2, "revoke"), data={"token": token})
        return answer_of(PROTOCOL, response)


def id_token_claims(value: object) -> dict[str, Any]:
    """The claims of an id_token, unverified: it came straight from the token endpoint
    over TLS, which OpenID Connect accepts in place of a signature check."""
    if not isinstance(value, str) or value.count(".") != 2:
        return {}
    payload = value.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _channel_gone() -> Verdict:
    return Verdict(
        Action.RECONNECT,
        Reason.NOT_ELIGIBLE,
        code="channel_not_listed",
        message="the connected channel is no longer among the account's channels",
    )


# -- the classifier -------------------------------------------------------------------------

#: API ``errors[].reason`` values that are transient: retry later, never invalid.
RETRY_REASONS = frozenset(
    {
        "quotaExceeded",
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "dailyLimitExceeded",
        "backendError",
        "internalError",
    }
)
#: API reasons that end the connection until a person acts, and why.
FATAL_REASONS: dict[str, Reason] = {
    "youtubeSignupRequired": Reason.NOT_ELIGIBLE,
    "insufficientPermissions": Reason.PERMISSION_MISSING,
    "authenticatedUserAccountSuspended": Reason.SUSPENDED,
    "channelSuspended": Reason.SUSPENDED,
    "authenticatedUserAccountClosed": Reason.UNKNOWN,
    "channelClosed": Reason.UNKNOWN,
    "forbidden": Reason.INSUFFICIENT_ACCESS,
}
#: OAuth errors that say the access token (not the grant) is bad: a refresh may help.
REFRESHABLE_OAUTH = frozenset({"invalid_token"})


def classify_google(status: int, headers: Mapping[str, str], body: Any) -> Verdict:
    """Google's answers → verdicts (PROVIDERS.md §6). Pure, no I/O.

    - ``invalid_grant`` (a dead refresh token, a bad code) and ``unauthorized_client``
      (a refresh token of another app): ``reconnect``, ``refresh_failed`` — Google gives
      every dead grant the same words, so "access revoked" cannot be told apart;
    - an API 401 ``authError``/``UNAUTHENTICATED`` (or tokeninfo/userinfo "Invalid
      Value"/"Invalid Credentials"): ``refresh`` — the access token is dead or expired;
      an integration refreshes once and retries, and reconnects if the refresh answers
      ``invalid_grant``;
    - ``insufficientPermissions`` → ``permission_missing``; ``youtubeSignupRequired`` →
      ``not_eligible``; ``authenticatedUserAccountSuspended`` → ``suspended``;
    - ``quotaExceeded``, rate limits, 429, 5xx: ``retry``;
    - ``invalid_client`` (the app's own credentials), bad parameters: ``ignore`` — not
      the connection's fault.
    """
    if not isinstance(body, dict):
        return _by_status(status)
    err = body.get("error")
    if isinstance(err, dict):
        return _api(status, err)
    description = str(body.get("error_description", ""))
    if isinstance(err, str):
        return _oauth(status, err, description)
    if description == "Invalid Value":  # www.googleapis.com/oauth2/v3/tokeninfo
        return Verdict(Action.REFRESH, code="invalid_token", message=description)
    return _by_status(status)


def _oauth(status: int, error: str, description: str) -> Verdict:
    if error in ("invalid_grant", "unauthorized_client"):
        return Verdict(Action.RECONNECT, Reason.REFRESH_FAILED, code=error, message=description)
    if error in REFRESHABLE_OAUTH or (error == "invalid_request" and status == 401):
        return Verdict(Action.REFRESH, code=error, message=description)
    if status == 429 or status >= 500:
        return Verdict(Action.RETRY, code=error, message=description)
    return Verdict(Action.IGNORE, code=error, message=description)


def _api(status: int, err: Mapping[str, Any]) -> Verdict:
    message = str(err.get("message", ""))
    grpc = str(err.get("status", ""))
    errors = err.get("errors")
    reasons = [
        str(e.get("reason", "")) for e in errors if isinstance(e, dict)
    ] if isinstance(errors, list) else []  # fmt: skip
    tag = reasons[0] if reasons else (grpc or str(status))
    for reason in reasons:
        if reason in RETRY_REASONS:
            return Verdict(Action.RETRY, code=reason, message=message)
    for reason in reasons:
        if reason in FATAL_REASONS:
            return Verdict(Action.RECONNECT, FATAL_REASONS[reason], code=reason, message=message)
    if status == 429 or status >= 500 or grpc in ("RESOURCE_EXHAUSTED", "UNAVAILABLE"):
        return Verdict(Action.RETRY, code=tag, message=message)
    if grpc == "PERMISSION_DENIED" and "scope" in message:
        return Verdict(Action.RECONNECT, Reason.PERMISSION_MISSING, code=tag, message=message)
    if status == 401 or grpc == "UNAUTHENTICATED":
        return Verdict(Action.REFRESH, code=tag, message=message)
    return Verdict(Action.IGNORE, code=tag, message=message)


def _by_status(status: int) -> Verdict:
    if status == 429 or status >= 500:
        return Verdict(Action.RETRY, code=str(status))
    if status == 401:
        return Verdict(Action.REFRESH, code=str(status))
    return Verdict(Action.IGNORE, code=str(status))


def _resource(account: Mapping[str, Any], profile: Profile) -> str | None:
    """The connection is about the account's first channel (a page of kind channel)."""
    pages = account.get("pages") or []
    return str(pages[0]["id"]) if pages else None


def _client(ctx: ClientContext) -> ProviderClient:
    """YouTube, or Google Business Profile for a profile whose ``resource`` is a business
    location (``google-business``): the same OAuth, other reads."""
    if ctx.profile.get("resource") == "business_location":
        from .google_business import GoogleBusinessClient  # it builds on this module

        return GoogleBusinessClient(ctx)
    return GoogleClient(ctx)


register(PROTOCOL, _client, _resource)
register_rule(PROTOCOL, classify_google)


#: Google answers ``email`` and ``profile`` by their long names (and adds ``openid``):
#: asked for ``openid email``, its token answer says ``openid …/userinfo.email``.
SHORT_NAMES = {
    "https://www.googleapis.com/auth/userinfo.email": "email",
    "https://www.googleapis.com/auth/userinfo.profile": "profile",
}


def with_short_names(scopes: list[str]) -> tuple[str, ...]:
    """The granted scopes as answered, plus the short name of each long one, so a
    product that asked for ``email`` finds it granted."""
    out = list(scopes)
    out += [SHORT_NAMES[s] for s in scopes if s in SHORT_NAMES and SHORT_NAMES[s] not in out]
    return tuple(out)
