"""Facebook Pages: Facebook Login, a 60-day user token, the Page's posts.

Facebook has no refresh grant. The callback turns the code into a short-lived user
token, exchanges it (``fb_exchange_token``) for a long-lived one of about 60 days, asks
``debug_token`` whose token it is, what it may do and when it and its data access end,
then finds the Page through ``/me/accounts``. When the 60 days are over a person must
log in again: that instant is the connection's hard expiry, which drives the reminders.

Errors are Graph envelopes: code 190 with a subcode tells why a token died (460
password changed, 458 app removed, 459 checkpoint, 490 locked, 492 page role lost, 463
expired), ``(#10)``/``(#200)`` a missing permission, 368 a restricted account, 4/17/32/613
rate limits and 1/2 or a 5xx a Facebook outage.

The login dialog is opened with ``auth_type=rerequest``: Facebook does not ask again for
a permission the person declined (or took back) without it, and a reconnect after a
missing permission would give a token still without it.

A ``(#200)`` on the Page says only that this token may not read it: a permission taken
back, or the person who connected it no longer having a role on the Page (another admin
removed them). The sync then asks Facebook which: ``/me/accounts`` lists the Pages the
person has a role on; the Page missing from a complete list while ``pages_show_list``
(which that list needs) is still granted in ``/me/permissions`` means the role was
lost. Anything else (either read fails, the list goes on past one page, the permission
is gone, the Page is still listed) keeps the ``(#200)``'s own meaning, a permission.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from ..store import Connection
from . import base as b

VERSION = "v21.0"
WWW = "www.facebook.com"
GRAPH = "graph.facebook.com"
SCOPES = ("pages_show_list", "pages_read_engagement", "pages_manage_posts")
#: What acme cannot work without: listing the Pages and reading their posts.
REQUIRED = ("pages_show_list", "pages_read_engagement")

SUBCODES = {
    458: b.APP_REMOVED,
    459: b.CHECKPOINT,
    460: b.PASSWORD_RESET,
    464: b.RESTRICTED,
    467: b.UNKNOWN,
    490: b.LOCKED,
    492: b.NOT_ADMIN,
    493: b.DATA_ACCESS,
}
RATE_LIMITS = {4, 9, 17, 32, 613}


class Facebook:
    name = "facebook"
    display = "Facebook"

    def __init__(self, ctx: b.Context) -> None:
        self.ctx = ctx

    def _graph(self, path: str) -> str:
        return self.ctx.settings.url(GRAPH, f"{VERSION}/{path}")

    def needs_verifier(self) -> bool:
        return False

    def authorize_url(self, state: str, verifier: str | None) -> str:
        app = self.ctx.app(self.name)
        query = urlencode(
            {
                "client_id": app.client_id,
                "redirect_uri": app.redirect_uri,
                "state": state,
                "scope": ",".join(SCOPES),
                "response_type": "code",
            }
        )
        if not self.ctx.settings.bug("no_rerequest"):
            query += "&auth_type=rerequest"
        return f"{self.ctx.settings.url(WWW, f'{VERSION}/dialog/oauth')}?{query}"

    async def _get(self, step: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        response = await self.ctx.http.get(self._graph(path), params=params)
        body = b.body_of(response)
        if response.status_code >= 300 or not isinstance(body, dict):
            verdict = classify(response.status_code, body, self.ctx.settings.bug)
            raise b.LoginRefused(f"Facebook refused the {step}: {verdict.detail}")
        return body

    async def connect(
        self, code: str, verifier: str | None, previous: Connection | None, now: datetime
    ) -> b.Grant:
        app = self.ctx.app(self.name)
        short = await self._get(
            "code exchange",
            "oauth/access_token",
            {
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "redirect_uri": app.redirect_uri,
                "code": code,
            },
        )
        long = await self._get(
            "long-lived token exchange",
            "oauth/access_token",
            {
                "grant_type": "fb_exchange_token",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "fb_exchange_token": str(short["access_token"]),
            },
        )
        token = str(long["access_token"])
        debug = await self._get(
            "token check",
            "debug_token",
            {"input_token": token, "access_token": f"{app.client_id}|{app.client_secret}"},
        )
        data = debug.get("data") or {}
        if not data.get("is_valid", False):
            raise b.LoginRefused(f"Facebook says the new token is not valid: {b.short(data)}")
        granted = tuple(str(s) for s in data.get("scopes") or ())
        missing = [s for s in REQUIRED if s not in granted]
        if missing:
            raise b.LoginRefused(
                f"permission declined: acme needs {', '.join(missing)} to read your Page; "
                "reconnect and allow every permission"
            )
        expires = _epoch(data.get("expires_at")) or b.after(now, long.get("expires_in"))
        data_access = _epoch(data.get("data_access_expires_at"))
        known = [t for t in (expires, data_access) if t is not None]
        tokens = b.Tokens(
            access_token=token,
            access_expires_at=expires,
            hard_expiry=min(known) if known else None,
            scopes=granted,
        )
        pages = await self._get(
            "Page list", "me/accounts", {"fields": "id,name", "access_token": token}
        )
        listed = {str(p["id"]): str(p.get("name") or p["id"]) for p in pages.get("data") or []}
        if previous is not None and previous.resource_id:
            page_id = previous.resource_id
            if page_id not in listed:
                raise b.LoginRefused(
                    f"wrong account: the Facebook account you logged in with does not manage "
                    f"the Page {previous.resource_name or page_id}; log in with an admin of it"
                )
        elif listed:
            page_id = next(iter(listed))
        else:
            raise b.LoginRefused("the Facebook account you logged in with manages no Page")
        check = await self._posts(token, page_id)
        if check.action in (b.RECONNECT, b.REFRESH, b.EXPIRED):
            raise b.LoginRefused(f"acme cannot read the Page with this login: {check.detail}")
        user_id = str(data.get("user_id") or "")
        return b.Grant(tokens, user_id, page_id, listed[page_id], synced=check.ok)

    async def _posts(self, token: str, page_id: str, *, roles: bool = False) -> b.Verdict:
        """The Page's posts; with ``roles``, a ``(#200)`` is read with the page roles."""
        response = await self.ctx.http.get(
            self._graph(f"{page_id}/posts"), params={"access_token": token, "limit": "25"}
        )
        if response.status_code < 300:
            return b.Verdict(b.OK)
        body = b.body_of(response)
        verdict = classify(response.status_code, body, self.ctx.settings.bug)
        if (
            roles
            and verdict.reason == b.PERMISSION
            and _is_200(body)
            and await self._role_lost(token, page_id)
        ):
            return b.Verdict(b.RECONNECT, b.NOT_ADMIN, verdict.detail)
        return verdict

    async def read(self, conn: Connection) -> b.Verdict:
        assert conn.access_token and conn.resource_id
        return await self._posts(conn.access_token, conn.resource_id, roles=True)

    async def _role_lost(self, token: str, page_id: str) -> bool:
        """Whether the person whose token this is no longer has a role on the Page: it is
        missing from their complete ``/me/accounts`` while ``pages_show_list`` is granted."""
        pages = await self.ctx.http.get(
            self._graph("me/accounts"),
            params={"fields": "id", "access_token": token, "limit": "100"},
        )
        body = b.body_of(pages)
        data = body.get("data") if pages.status_code == 200 and isinstance(body, dict) else None
        paging = body.get("paging") if isinstance(body, dict) else None
        if not isinstance(data, list) or (isinstance(paging, dict) and paging.get("next")):
            return False  # unreadable, or more Pages than one answer lists: cannot tell
        if any(isinstance(p, dict) and str(p.get("id")) == page_id for p in data):
            return False  # still listed: a permission, not the role
        granted = await self.ctx.http.get(
            self._graph("me/permissions"), params={"access_token": token}
        )
        perms = b.body_of(granted)
        rows = perms.get("data") if granted.status_code == 200 and isinstance(perms, dict) else None
        return isinstance(rows, list) and any(
            isinstance(p, dict)
            and p.get("permission") == "pages_show_list"
            and p.get("status") == "granted"
            for p in rows
        )

    def refresh_due(self, conn: Connection) -> datetime | None:
        return None  # no refresh grant: the 60-day reconnect

    async def refresh(self, conn: Connection, now: datetime) -> b.Tokens:
        raise b.RefreshFailed(b.Verdict(b.RECONNECT, b.UNKNOWN, "Facebook has no refresh"))


def classify(status: int, body: Any, bug: Any = None) -> b.Verdict:
    """What a Graph error answer means for the connection."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        if status == 429 or status >= 500:
            return b.Verdict(b.RETRY, detail=f"HTTP {status}")
        return b.Verdict(b.IGNORE, detail=f"HTTP {status}: {b.short(body)}")
    code, sub = err.get("code"), err.get("error_subcode")
    tag = f"{code}/{sub}" if sub is not None else str(code)
    detail = f"HTTP {status} {tag} {err.get('message', '')}".strip()
    if code == 190:
        if sub == 463:
            return b.Verdict(b.EXPIRED, detail=detail)
        if sub == 460 and bug is not None and bug("ignores_password_change"):
            return b.Verdict(b.RETRY, detail=detail)  # the bug: "probably a hiccup"
        reason = SUBCODES.get(sub, b.UNKNOWN) if isinstance(sub, int) else b.UNKNOWN
        return b.Verdict(b.RECONNECT, reason, detail)
    if code in RATE_LIMITS or code in (1, 2) or status >= 500 or status == 429:
        return b.Verdict(b.RETRY, detail=detail)
    if code == 368 or sub == 1390008:
        return b.Verdict(b.RECONNECT, b.RESTRICTED, detail)
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return b.Verdict(b.RECONNECT, b.PERMISSION, detail)
    if code == 102:
        return b.Verdict(b.RECONNECT, b.UNKNOWN, detail)
    return b.Verdict(b.IGNORE, detail=detail)


def _is_200(body: Any) -> bool:
    """A Graph ``(#200)``-``(#299)`` permission error (not ``(#10)``)."""
    err = body.get("error") if isinstance(body, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    return isinstance(code, int) and not isinstance(code, bool) and 200 <= code <= 299


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None
