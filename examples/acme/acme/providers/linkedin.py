"""LinkedIn organizations: 60-day access tokens, a 365-day refresh token that does not
reset when used, the organization's posts.

The code exchange and the refresh go through authlib's OAuth 2.0 client (credentials in
the form body, as LinkedIn wants). acme refreshes the access token at the first sync
in its last week (``REFRESH_MARGIN``); the refresh token's own expiry is the
connection's hard expiry: the "365-day reconnect" that the reminders announce.

The organization is the first one the member administers now, from the
``roleAssignee`` finder of ``/rest/organizationAcls`` filtered on ``ADMINISTRATOR`` and
``APPROVED`` (a role taken away stays listed as ``REVOKED``; the filter leaves it out).
It needs ``rw_organization_admin``; without it LinkedIn answers 403 and the login is
refused. The ACL names the organization by URN only; acme then reads
``/rest/organizations/{id}`` (same scope, the member must administer it) for its
``localizedName``, the label its emails and banners show. A 401/403 there refuses the
login, like the ACL's; any other error (429, 5xx, 404) or a body without the name does
not: acme shows the id instead.

A sync answered 401 65601 ("revoked by the user") is asked about once more: LinkedIn
answers it both for a token the member revoked (acme removed from their Permitted
Services, a password change) and for one whose member's account LinkedIn has
restricted. ``introspectToken`` tells them apart: a revoked token says ``revoked``; one
it still calls ``active`` was not revoked, so the account is restricted and the
connection waits for LinkedIn to lift that before a reconnect can help. An
introspection that fails or says anything else keeps "access removed".
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from ..store import Connection
from . import base as b

WWW = "www.linkedin.com"
API = "api.linkedin.com"
VERSION = "202411"
SCOPES = ("openid", "profile", "r_organization_social", "w_organization_social",
          "rw_organization_admin")  # fmt: skip
REFRESH_MARGIN = timedelta(days=7)
REFRESH_INVALID = "refresh token is invalid, expired or revoked"
log = logging.getLogger("acme")


class LinkedIn:
    name = "linkedin"
    display = "LinkedIn"

    def __init__(self, ctx: b.Context) -> None:
        self.ctx = ctx

    def needs_verifier(self) -> bool:
        return False

    def _oauth(self) -> AsyncOAuth2Client:
        return self.ctx.oauth2(self.name, SCOPES, token_endpoint_auth_method="client_secret_post")

    def authorize_url(self, state: str, verifier: str | None) -> str:
        url, _ = self._oauth().create_authorization_url(
            self.ctx.settings.url(WWW, "oauth/v2/authorization"), state=state
        )
        return str(url)

    def _tokens(self, token: dict[str, Any], now: datetime, old: Connection | None) -> b.Tokens:
        access_expires = b.after(now, token.get("expires_in"))
        refresh = token.get("refresh_token") or (old.refresh_token if old else None)
        refresh_expires = b.after(now, token.get("refresh_token_expires_in"))
        if old is not None and refresh == old.refresh_token and old.refresh_expires_at:
            # The same refresh token, its lifetime counted down: it still dies then.
            refresh_expires = old.refresh_expires_at
        scope = str(token.get("scope") or "")
        return b.Tokens(
            access_token=str(token["access_token"]),
            access_expires_at=access_expires,
            refresh_token=str(refresh) if refresh else None,
            refresh_expires_at=refresh_expires if refresh else None,
            hard_expiry=refresh_expires if refresh else access_expires,
            scopes=tuple(s for s in scope.replace(" ", ",").split(",") if s),
        )

    async def connect(
        self, code: str, verifier: str | None, previous: Connection | None, now: datetime
    ) -> b.Grant:
        try:
            token = await self._oauth().fetch_token(
                self.ctx.settings.url(WWW, "oauth/v2/accessToken"),
                code=code,
                grant_type="authorization_code",
            )
        except OAuthError as e:
            raise b.LoginRefused(
                f"LinkedIn refused the code exchange: {e.error} {e.description}"
            ) from None
        tokens = self._tokens(dict(token), now, None)
        me = await self.ctx.http.get(
            self.ctx.settings.url(API, "v2/userinfo"),
            headers={"Authorization": f"Bearer {tokens.access_token}"},
        )
        if me.status_code >= 300:
            raise b.LoginRefused(f"LinkedIn userinfo answered {me.status_code}: {b.short(me.text)}")
        member = str(me.json()["sub"])
        if previous is not None and previous.resource_id:
            org, org_name = previous.resource_id, previous.resource_name or previous.resource_id
        else:
            org, org_name = await self._organization(tokens.access_token)
        check = await self._posts(tokens.access_token, org)
        if check.action in (b.RECONNECT, b.REFRESH, b.EXPIRED):
            raise b.LoginRefused(
                f"acme cannot read the organization with this login: {check.detail}"
            )
        return b.Grant(tokens, member, org, org_name, synced=check.ok)

    async def _organization(self, token: str) -> tuple[str, str]:
        """The first organization the member is an approved administrator of."""
        response = await self.ctx.http.get(
            self.ctx.settings.url(API, "rest/organizationAcls"),
            params={"q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"},
            headers=self._headers(token),
        )
        if response.status_code >= 300:
            verdict = classify(response.status_code, b.body_of(response))
            raise b.LoginRefused(f"LinkedIn would not list your organizations: {verdict.detail}")
        for element in response.json().get("elements") or []:
            if element.get("role") != "ADMINISTRATOR" or element.get("state") != "APPROVED":
                continue
            org = str(element.get("organization", "")).rsplit(":", 1)[-1]
            if org:
                return org, await self._name(token, org)
        raise b.LoginRefused("the LinkedIn member you logged in with administers no organization")

    async def _name(self, token: str, org: str) -> str:
        """The organization's ``localizedName`` (its page's name), else its id when
        LinkedIn cannot answer now (the label is cosmetic: a retryable error does not
        refuse the login)."""
        response = await self.ctx.http.get(
            self.ctx.settings.url(API, f"rest/organizations/{org}"),
            headers=self._headers(token),
        )
        if response.status_code >= 300:
            verdict = classify(response.status_code, b.body_of(response))
            if verdict.action in (b.RETRY, b.IGNORE):
                log.warning("LinkedIn organization %s: no name (%s)", org, verdict.detail)
                return org
            raise b.LoginRefused(f"LinkedIn would not show your organization: {verdict.detail}")
        body = b.body_of(response)
        name = body.get("localizedName") if isinstance(body, dict) else None
        return name if isinstance(name, str) and name.strip() else org

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    async def _posts(self, token: str, org: str) -> b.Verdict:
        response = await self.ctx.http.get(
            self.ctx.settings.url(API, "rest/posts"),
            params={"q": "author", "author": f"urn:li:organization:{org}", "count": "10"},
            headers=self._headers(token),
        )
        if response.status_code < 300:
            return b.Verdict(b.OK)
        return classify(response.status_code, b.body_of(response))

    async def read(self, conn: Connection) -> b.Verdict:
        assert conn.access_token and conn.resource_id
        verdict = await self._posts(conn.access_token, conn.resource_id)
        if verdict.reason == b.APP_REMOVED and await self._still_active(conn.access_token):
            return b.Verdict(b.RECONNECT, b.RESTRICTED, verdict.detail)
        return verdict

    async def _still_active(self, token: str) -> bool:
        """Whether ``introspectToken`` calls the token active (not revoked, not expired)."""
        app = self.ctx.app(self.name)
        response = await self.ctx.http.post(
            self.ctx.settings.url(WWW, "oauth/v2/introspectToken"),
            data={"client_id": app.client_id, "client_secret": app.client_secret, "token": token},
        )
        body = b.body_of(response)
        if response.status_code != 200 or not isinstance(body, dict):
            log.warning(
                "LinkedIn introspectToken answered %s: %s", response.status_code, b.short(body)
            )
            return False
        return body.get("status") == "active" and body.get("active") is not False

    def refresh_due(self, conn: Connection) -> datetime | None:
        if not conn.refresh_token or conn.access_expires_at is None:
            return None
        if conn.refresh_expires_at and conn.access_expires_at >= conn.refresh_expires_at:
            return None  # the access token already lives as long as the refresh token
        return conn.access_expires_at - REFRESH_MARGIN

    async def refresh(self, conn: Connection, now: datetime) -> b.Tokens:
        if not conn.refresh_token:
            raise b.RefreshFailed(b.Verdict(b.EXPIRED, detail="no refresh token"))
        try:
            token = await self._oauth().refresh_token(
                self.ctx.settings.url(WWW, "oauth/v2/accessToken"),
                refresh_token=conn.refresh_token,
            )
        except OAuthError as e:
            detail = f"refresh: {e.error} {e.description}"
            if e.error == "invalid_request" and REFRESH_INVALID in str(e.description):
                raise b.RefreshFailed(b.Verdict(b.RECONNECT, b.REFRESH_FAILED, detail)) from None
            raise b.RefreshFailed(b.Verdict(b.RETRY, detail=detail)) from None
        return self._tokens(dict(token), now, conn)


def classify(status: int, body: Any) -> b.Verdict:
    """What a LinkedIn API error means for the connection."""
    data = body if isinstance(body, dict) else {}
    service, code = data.get("serviceErrorCode"), data.get("code")
    detail = f"HTTP {status} {service or ''} {code or ''} {data.get('message', '')}".strip()
    detail = " ".join(detail.split())
    if status == 429 or status >= 500:
        return b.Verdict(b.RETRY, detail=detail)
    if service == 65600:
        return b.Verdict(b.REFRESH, b.UNKNOWN, detail)
    if service == 65601:
        return b.Verdict(b.RECONNECT, b.APP_REMOVED, detail)
    if service == 65602:
        return b.Verdict(b.REFRESH, None, detail)  # expired: a refresh renews it
    if code == "ACCESS_DENIED" or status == 403:
        return b.Verdict(b.RECONNECT, b.NO_ORG_ROLE, detail)
    if status == 401 and service != 401:
        return b.Verdict(b.RECONNECT, b.UNKNOWN, detail)
    return b.Verdict(b.IGNORE, detail=detail)
