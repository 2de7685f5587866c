"""The product's side of LinkedIn: the calls a real integration makes, and LinkedIn's
error rules for the classifier.

LinkedIn hands out 60-day access tokens and, to approved apps, a 365-day refresh token
whose lifetime does **not** reset when used: refresh on day 59 and the refresh token
still dies on day 365, when a member must sign in again (the 365-day reconnect). So:

- ``refresh_due`` is the access token's expiry less the profile's ``refresh_margin``
  (never, once the access token already lives as long as its refresh token);
- ``hard_expiry`` is the refresh token's expiry — the connection turns ``expiring``
  ten days before day 365, not before each 60-day access token.

The sync reads an organization's posts (``/rest/posts?q=author``) with the
``LinkedIn-Version`` and ``X-Restli-Protocol-Version`` headers LinkedIn requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from .. import _classifier
from .._classifier import Action, Verdict
from .._exceptions import ProfileError
from .._lifecycle import Reason
from .._profiles import Profile
from ._base import (
    Answer,
    ClientContext,
    ProviderCallError,
    TokenInfo,
    after,
    answer_of,
    json_object,
    register,
)

PROTOCOL = "linkedin"
WWW = "www.linkedin.com"
API = "api.linkedin.com"

#: The refresh grant's answer for a refresh token that cannot be used.
REFRESH_INVALID = "refresh token is invalid, expired or revoked"
#: The code exchange's answer for a code that cannot be exchanged.
CODE_INVALID = "Unable to retrieve access token"
#: Two readings of one refresh token's expiry closer than this are the same instant
#: (``refresh_token_expires_in`` is whole seconds).
_SAME_INSTANT = timedelta(seconds=2)


class LinkedInClient:
    """OAuth and API calls of a product that manages LinkedIn organization pages."""

    protocol: ClassVar[str] = PROTOCOL

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
        self.http = ctx.http
        self.app = ctx.app
        self.profile = ctx.profile
        self.clock = ctx.clock
        self.organization = ctx.resource
        self.version = str(ctx.profile.get("api_version", "202411"))
        self.margin = ctx.profile.lifetime("refresh_margin") or timedelta(0)
        self.barred_reason = _reason_setting(ctx.profile, "revoked_while_active_reason")

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        scope = self.profile.scope_separator.join(scopes or self.profile["default_scopes"])
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.app.client_id,
                "redirect_uri": self.app.redirect_uri,
                "state": state,
                "scope": scope,
            }
        )
        return f"{self.ctx.url(WWW, 'oauth/v2/authorization')}?{query}"

    async def _token_call(self, step: str, form: dict[str, str]) -> dict[str, Any]:
        form = {**form, "client_id": self.app.client_id, "client_secret": self.app.client_secret}
        response = await self.http.post(self.ctx.url(WWW, "oauth/v2/accessToken"), data=form)
        answer = answer_of(PROTOCOL, response)
        if not answer.ok or not isinstance(answer.body, dict):
            raise ProviderCallError(step, answer)
        return answer.body

    def _info(self, body: Mapping[str, Any], now: datetime, old: TokenInfo | None) -> TokenInfo:
        expires_at = after(now, body.get("expires_in"))
        refresh = body.get("refresh_token") or (old.refresh_token if old else None)
        refresh_expires = after(now, body.get("refresh_token_expires_in"))
        if refresh_expires is None and old is not None and refresh == old.refresh_token:
            refresh_expires = old.refresh_expires_at
        if (
            old is not None
            and refresh == old.refresh_token
            and refresh_expires is not None
            and old.refresh_expires_at is not None
            and abs(refresh_expires - old.refresh_expires_at) < _SAME_INSTANT
        ):
            # The same refresh token, its lifetime counted down: the same instant.
            refresh_expires = old.refresh_expires_at
        scope = body.get("scope")
        scopes = tuple(s for s in str(scope).split(",") if s) if scope else ()
        return TokenInfo(
            access_token=str(body["access_token"]),
            expires_at=expires_at,
            hard_expiry=refresh_expires if refresh else expires_at,
            scopes=scopes or (old.scopes if old else ()),
            user_id=old.user_id if old else None,
            refresh_token=str(refresh) if refresh else None,
            refresh_expires_at=refresh_expires if refresh else None,
            issued_at=now,
        )

    async def connect(self, code: str, state: str = "") -> TokenInfo:
        """The product's callback: the code becomes a 60-day access token and (for
        approved apps) a 365-day refresh token."""
        body = await self._token_call(
            "code exchange",
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.app.redirect_uri,
            },
        )
        return self._info(body, self.clock.now(), None)

    def can_refresh(self, info: TokenInfo) -> bool:
        if info.refresh_token is None:
            return False
        return info.refresh_expires_at is None or self.clock.now() < info.refresh_expires_at

    def refresh_due(self, info: TokenInfo) -> datetime | None:
        if info.refresh_token is None or info.expires_at is None:
            return None
        if info.refresh_expires_at is not None and info.expires_at >= info.refresh_expires_at:
            return None  # the access token already lives as long as the refresh token
        return info.expires_at - self.margin

    async def refresh(self, info: TokenInfo) -> TokenInfo:
        """A new access token; the refresh token comes back with its lifetime counted down."""
        if info.refresh_token is None:
            raise NotImplementedError("no refresh token: this app is not approved for them")
        body = await self._token_call(
            "refresh", {"grant_type": "refresh_token", "refresh_token": info.refresh_token}
        )
        return self._info(body, self.clock.now(), info)

    def _headers(self, info: TokenInfo) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {info.access_token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    async def read(self, info: TokenInfo) -> Answer:
        """The sync: the organization's posts (``q=author``)."""
        response = await self.http.get(
            self.ctx.url(API, "rest/posts"),
            params={
                "q": "author",
                "author": f"urn:li:organization:{self.organization}",
                "count": "10",
            },
            headers=self._headers(info),
        )
        answer = answer_of(PROTOCOL, response)
        if answer.verdict.reason is Reason.ACCESS_REVOKED:
            return await self._revoked_or_barred(info, answer)
        return answer

    async def _revoked_or_barred(self, info: TokenInfo, answer: Answer) -> Answer:
        """A 65601 ("revoked by the user"), read with ``introspectToken``.

        LinkedIn answers 65601 for a token the member revoked (app removed from
        Permitted Services, password changed, ``/revoke``) and, as far as anyone can
        tell, for a token whose member's account LinkedIn has restricted, locked or
        suspended [U]. Introspection tells them apart: a revoked token says ``revoked``;
        one LinkedIn still calls ``active`` was not revoked — the member's account is
        barred, and the profile's ``revoked_while_active_reason`` says what the product
        calls it (``restricted``). Introspection that fails, or says anything else,
        keeps ``access_revoked``.
        """
        if self.barred_reason is None:
            return answer
        facts = await self.introspect(info.access_token)
        status = facts.body.get("status") if facts.ok and isinstance(facts.body, dict) else None
        if status != "active":
            return answer
        verdict = replace(answer.verdict, reason=self.barred_reason)
        return Answer(answer.status, answer.body, verdict)

    async def userinfo(self, info: TokenInfo) -> Answer:
        """The member's OpenID profile (needs the ``openid`` scope)."""
        response = await self.http.get(
            self.ctx.url(API, "v2/userinfo"),
            headers={"Authorization": f"Bearer {info.access_token}"},
        )
        return answer_of(PROTOCOL, response)

    async def introspect(self, token: str) -> Answer:
        """``introspectToken``: the facts LinkedIn keeps about a token."""
        response = await self.http.post(
            self.ctx.url(WWW, "oauth/v2/introspectToken"),
            data={
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret,
                "token": token,
            },
        )
        return answer_of(PROTOCOL, response)

    async def discover(self, info: TokenInfo) -> tuple[str | None, str | None] | None:
        """The first organization the member administers (``organizationAcls``,
        ``roleAssignee``, approved administrators), and its name (the organization
        lookup)."""
        response = await self.http.get(
            self.ctx.url(API, "rest/organizationAcls"),
            params={"q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"},
            headers=self._headers(info),
        )
        rows = json_object(response).get("elements") if response.status_code == 200 else None
        orgs = [
            str(row.get("organization", "")).rsplit(":", 1)[-1]
            for row in rows or []
            if isinstance(row, dict)
            and row.get("role") == "ADMINISTRATOR"
            and row.get("state") == "APPROVED"
        ]
        if not orgs or not orgs[0]:
            return None
        self.organization = orgs[0]
        response = await self.http.get(
            self.ctx.url(API, f"rest/organizations/{self.organization}"),
            headers=self._headers(info),
        )
        name = json_object(response).get("localizedName") if response.status_code == 200 else None
        return self.organization, str(name) if name else None

    async def revoke(self, info: TokenInfo) -> Answer:
        response = await self.http.post(
            self.ctx.url(WWW, "oauth/v2/revoke"),
            data={
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret,
                "token": info.access_token,
            },
        )
        return answer_of(PROTOCOL, response)


# -- the classifier's LinkedIn rules ---------------------------------------------------

_SERVICE_CODES: dict[int, tuple[Action, Reason | None, bool]] = {
    # Invalid access token: a refresh may mint a working one; if not, a new sign-in.
    65600: (Action.REFRESH, Reason.UNKNOWN, False),
    # Revoked by the member (app removed, password changed, or /revoke): sign in again.
    65601: (Action.RECONNECT, Reason.ACCESS_REVOKED, False),
    # Expired access token: the refresh grant renews it while the refresh token lives;
    # without one the connection is `expired`, not invalid.
    65602: (Action.REFRESH, None, True),
}


def classify_linkedin(status: int, headers: Mapping[str, str], body: Any) -> Verdict:
    """LinkedIn's answers → verdicts (PROVIDERS.md §3).

    API envelopes: 65600 and 65602 ``refresh`` (a refresh may help), 65601 ``reconnect``
    for ``access_revoked``, 403 ``ACCESS_DENIED`` ``reconnect`` for
    ``insufficient_access`` (a missing scope, or no longer a Designated Admin), 426
    ``NONEXISTENT_VERSION`` ``ignore`` (the product's version header, not the
    connection), the empty-token 401 ``ignore`` (no token sent: a product bug).
    OAuth bodies: the refresh grant's ``invalid_request`` ``reconnect`` for
    ``refresh_failed``; a code that cannot be exchanged ``reconnect``; a client that
    fails authentication ``ignore`` (the app's credentials, not the member's).
    429 and 5xx are ``retry`` (the classifier enforces it for every provider).
    """
    if status == 429 or status >= 500:
        detail = body if isinstance(body, dict) else {}
        tag = " ".join(str(detail[k]) for k in ("serviceErrorCode", "code") if k in detail)
        message = str(detail.get("message") or detail.get("error_description") or "")
        return Verdict(Action.RETRY, code=tag or str(status), message=message)
    if not isinstance(body, dict):
        return _by_status(status)
    if "error" in body:
        return _oauth(status, body)
    message = str(body.get("message", ""))
    service = body.get("serviceErrorCode")
    code = body.get("code")
    if isinstance(service, int) and service in _SERVICE_CODES:
        action, reason, expired = _SERVICE_CODES[service]
        tag = f"{service} {code or ''}".strip()
        return Verdict(action, reason, expired=expired, code=tag, message=message)
    if code == "ACCESS_DENIED" or status == 403:
        tag = f"{service} {code}" if service is not None else str(code or status)
        return Verdict(Action.RECONNECT, Reason.INSUFFICIENT_ACCESS, code=tag, message=message)
    if status == 401 and service == 401:  # "Empty oauth2_access_token"
        return Verdict(Action.IGNORE, code="401", message=message)
    if status == 401:
        return Verdict(Action.RECONNECT, Reason.UNKNOWN, code=str(code or 401), message=message)
    return Verdict(Action.IGNORE, code=str(code or status), message=message)


def _oauth(status: int, body: Mapping[str, Any]) -> Verdict:
    error = str(body.get("error"))
    description = str(body.get("error_description", ""))
    if error == "invalid_request" and REFRESH_INVALID in description:
        return Verdict(Action.RECONNECT, Reason.REFRESH_FAILED, code=error, message=description)
    if CODE_INVALID in description:
        return Verdict(Action.RECONNECT, Reason.UNKNOWN, code=error, message=description)
    if error in ("user_cancelled_login", "user_cancelled_authorize", "unauthorized_scope_error"):
        return Verdict(Action.RECONNECT, Reason.PERMISSION_MISSING, code=error, message=description)
    return Verdict(Action.IGNORE, code=error, message=description)


def _by_status(status: int) -> Verdict:
    if status == 401:
        return Verdict(Action.RECONNECT, Reason.UNKNOWN, code="401")
    if status == 403:
        return Verdict(Action.RECONNECT, Reason.INSUFFICIENT_ACCESS, code="403")
    return Verdict(Action.IGNORE, code=str(status))


def _reason_setting(profile: Profile, key: str) -> Reason | None:
    """A profile setting naming a reason (empty: none), or a clear :class:`ProfileError`."""
    value = profile.get(key)
    if not value:
        return None
    try:
        return Reason(str(value))
    except ValueError:
        raise ProfileError(
            f"profile {profile.provider!r}, setting {key!r}: {value!r} is no reason; "
            f'use one of {", ".join(r.value for r in Reason)}, or "" for none'
        ) from None


def _resource(account: Mapping[str, Any], profile: Profile) -> str | None:
    """The organization a connection is about: the account's first page."""
    pages = account.get("pages") or []
    return str(pages[0]["id"]) if pages else None


register(PROTOCOL, LinkedInClient, _resource)
_classifier.register(PROTOCOL, classify_linkedin)
