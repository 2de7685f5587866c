"""The product's side of Facebook: the calls a real integration makes, over any transport.

The same code talks to the in-process fake (ASGI), to ``conntrack serve`` over the
network, or to URLs of the real shape. Facebook has no refresh grant: a user token from a
code lives about an hour, ``fb_exchange_token`` makes it long-lived (about 60 days), and
after that a person must log in again. The ``instagram-facebook`` profile uses the same
flow for an Instagram professional account found through a Page
(``instagram_business_account``) and reads its media, then its insights when the
product asks for ``instagram_manage_insights`` — an optional permission in that profile:
without it the insights are skipped (declined at login) or refused (``(#10)``, taken
back since) and the sync still succeeds, with the permission named in
:attr:`Answer.missing`.

Every login asks with ``auth_type=rerequest``: Facebook does not ask again for a
permission the person declined (or took back) for the app without it, so a reconnect
after a missing permission would get the same token without it (Facebook Login for the
Web, "Re-asking for Declined Permissions"). The client does not know whether a login is
the first, and with nothing declined the parameter changes nothing, so it is always sent,
as products in the field do (passport strategies returning ``auth_type: 'rerequest'``
from ``authorizationParams``, ``FB.login({auth_type: 'rerequest'})``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from .._classifier import Action, Verdict
from .._lifecycle import Reason
from .._profiles import Profile
from ._base import (
    Answer,
    ClientContext,
    ProviderCallError,
    TokenInfo,
    answer_of,
    json_object,
    register,
)

PROTOCOL = "facebook"
WWW = "www.facebook.com"
GRAPH = "graph.facebook.com"
#: What the sync reads of an Instagram account's media.
IG_MEDIA_FIELDS = "id,caption,media_type,timestamp"
#: At most this many requests of ``me/accounts`` (100 Pages each) to find one Page.
MAX_PAGE_REQUESTS = 50
#: The permission an Instagram account's insights need, and what the sync reads of them.
IG_INSIGHTS_PERMISSION = "instagram_manage_insights"
IG_INSIGHTS_QUERY = {"metric": "reach", "period": "day"}
#: Sent on every login: Facebook re-asks a declined permission only with it.
AUTH_TYPE = "rerequest"


class FacebookClient:
    """Graph API calls of a product that manages Facebook Pages (or Instagram through them)."""

    protocol: ClassVar[str] = PROTOCOL

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
        self.http = ctx.http
        self.app = ctx.app
        self.profile = ctx.profile
        self.clock = ctx.clock
        self.page_id = ctx.resource
        self.version = str(ctx.profile.get("api_version", "v21.0"))
        self.instagram = ctx.profile.get("resource") == "instagram_business_account"
        self.target: str | None = None if self.instagram else ctx.resource
        """What the sync reads: the Page, or the Instagram account found through it."""
        asked = (*ctx.profile.get("default_scopes", ()), *ctx.profile.optional_scopes)
        self.insights = self.instagram and IG_INSIGHTS_PERMISSION in asked
        """Whether the sync reads the Instagram account's insights (the product asks
        for the permission they need)."""

    def _www(self, path: str) -> str:
        return self.ctx.url(WWW, f"{self.version}/{path}")

    def _graph(self, path: str) -> str:
        return self.ctx.url(GRAPH, f"{self.version}/{path}")

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        scope = self.profile.scope_separator.join(scopes or self.profile["default_scopes"])
        query = urlencode(
            {
                "client_id": self.app.client_id,
                "redirect_uri": self.app.redirect_uri,
                "state": state,
                "scope": scope,
                "response_type": "code",
                "auth_type": AUTH_TYPE,
            }
        )
        return f"{self._www('dialog/oauth')}?{query}"

    async def _get(self, step: str, url: str, params: dict[str, str]) -> Answer:
        answer = answer_of(PROTOCOL, await self.http.get(url, params=params))
        if not answer.ok:
            raise ProviderCallError(step, answer)
        return answer

    async def exchange_code(self, code: str) -> tuple[str, int]:
        """Code → short-lived user token and its ``expires_in``."""
        answer = await self._get(
            "code exchange",
            self._graph("oauth/access_token"),
            {
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret,
                "redirect_uri": self.app.redirect_uri,
                "code": code,
            },
        )
        return answer.body["access_token"], int(answer.body.get("expires_in", 0))

    async def exchange_long_lived(self, short_token: str) -> tuple[str, int]:
        """Short-lived user token → long-lived (about 60 days) and its ``expires_in``."""
        answer = await self._get(
            "long-lived exchange",
            self._graph("oauth/access_token"),
            {
                "grant_type": "fb_exchange_token",
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret,
                "fb_exchange_token": short_token,
            },
        )
        return answer.body["access_token"], int(answer.body.get("expires_in", 0))

    async def debug_token(self, token: str) -> dict[str, object]:
        """``debug_token`` with the app token; always HTTP 200, facts in ``data``."""
        answer = await self._get(
            "debug_token",
            self._graph("debug_token"),
            {
                "input_token": token,
                "access_token": f"{self.app.client_id}|{self.app.client_secret}",
            },
        )
        data = answer.body.get("data", {})
        return data if isinstance(data, dict) else {}

    async def connect(self, code: str, state: str = "") -> TokenInfo:
        """The product's callback: code → short → long-lived token, checked with debug_token."""
        short, _ = await self.exchange_code(code)
        long, expires_in = await self.exchange_long_lived(short)
        now = self.clock.now()
        data = await self.debug_token(long)
        expires_at = _epoch(data.get("expires_at"))
        if expires_at is None and expires_in:
            expires_at = now + timedelta(seconds=expires_in)
        if self.instagram:
            self.target = await self._instagram_account(long)
        scopes = data.get("scopes")
        data_access = _epoch(data.get("data_access_expires_at"))
        return TokenInfo(
            access_token=long,
            expires_at=expires_at,
            # No refresh grant: the token's own expiry is the connection's hard expiry —
            # or the end of data access (90 days after the user last consented), when that
            # comes first: a token that never expires still reads nothing after it.
            hard_expiry=_earliest(expires_at, data_access),
            scopes=tuple(scopes) if isinstance(scopes, list) else (),
            user_id=str(data["user_id"]) if data.get("user_id") else None,
            data_access_expires_at=data_access,
            issued_at=now,
        )

    async def _instagram_account(self, token: str) -> str | None:
        """The Instagram business account linked to the connection's Page, if any."""
        found = await self._linked_instagram(token)
        if isinstance(found, Answer):
            raise ProviderCallError("me/accounts", found)
        return found

    async def _my_pages(self, token: str, fields: str) -> list[dict[str, Any]] | Answer:
        """Every Page ``me/accounts`` lists, following ``paging.next``: the Graph answers
        25 Pages a request by default (at most 100), and someone who manages many Pages
        may find the connection's one past the first request. The error answer of a
        request that fails; at most :data:`MAX_PAGE_REQUESTS` requests."""
        url: str | None = self._graph("me/accounts")
        params: dict[str, str] | None = {"fields": fields, "access_token": token, "limit": "100"}
        pages: list[dict[str, Any]] = []
        for _ in range(MAX_PAGE_REQUESTS):
            if url is None:
                break
            answer = answer_of(PROTOCOL, await self.http.get(url, params=params))
            data = answer.body.get("data") if isinstance(answer.body, dict) else None
            if not answer.ok:
                return answer
            if not isinstance(data, list):
                break
            pages += [p for p in data if isinstance(p, dict)]
            paging = answer.body.get("paging")
            nxt = paging.get("next") if isinstance(paging, dict) else None
            # ``next`` carries the query (the token, the cursor) itself.
            url, params = (nxt, None) if isinstance(nxt, str) and nxt and data else (None, None)
        return pages

    def can_refresh(self, info: TokenInfo) -> bool:
        return False  # no refresh grant: the 60-day reconnect

    def refresh_due(self, info: TokenInfo) -> datetime | None:
        return None

    async def refresh(self, info: TokenInfo) -> TokenInfo:
        raise NotImplementedError("Facebook has no refresh grant; a person must log in again")

    async def read(self, info: TokenInfo) -> Answer:
        """The sync: a Page's posts, or the linked Instagram account's media."""
        if self.instagram:
            return await self._read_instagram(info)
        response = await self.http.get(
            self._graph(f"{self.target}/posts"),
            params={"access_token": info.access_token, "limit": "25"},
        )
        answer = answer_of(PROTOCOL, response)
        if _is_200(answer) and await self._page_role_lost(info.access_token):
            return _admin_removed(answer)
        return answer

    async def _page_role_lost(self, token: str) -> bool:
        """After a ``(#200)`` on the Page: the page roles say whether the person still
        has one. ``me/accounts`` lists the Pages the person has a role on; a Page missing
        from it, while ``pages_show_list`` (which the list needs) is still granted, is a
        role lost — ``admin_removed``, as the products in the field say. Anything else
        (the list cannot be read, the permission to read it is gone, the Page is still
        listed) leaves the ``(#200)`` its own meaning, ``permission_missing``."""
        if self.page_id is None:
            return False
        pages = await self._my_pages(token, "id,tasks")
        if isinstance(pages, Answer):
            return False
        if any(str(p.get("id")) == self.page_id for p in pages):
            return False
        granted = await self.http.get(self._graph("me/permissions"), params={"access_token": token})
        perms = json_object(granted).get("data") if granted.status_code == 200 else None
        return isinstance(perms, list) and any(
            isinstance(p, dict)
            and p.get("permission") == "pages_show_list"
            and p.get("status") == "granted"
            for p in perms
        )

    async def _read_instagram(self, info: TokenInfo) -> Answer:
        """The Instagram account's media; ``not_eligible`` when there is no professional
        account linked to the Page any more (none found, turned personal, unlinked);
        ``admin_removed`` when the person lost their role on the Page (only someone who
        can perform tasks on the Page reaches its Instagram account)."""
        if self.target is None:
            # None at connect: look again, the link may have been made since.
            found = await self._linked_instagram(info.access_token)
            if isinstance(found, Answer):
                return found
            if found is None:
                if await self._page_role_lost(info.access_token):
                    return _admin_removed(_ROLE_LOST)
                return _not_eligible()
            self.target = found
        answer = await self._media(info.access_token)
        if answer.ok:
            return await self._insights(info, answer)
        if _not_business(answer.body):
            return _not_eligible(answer)
        if answer.verdict.code == "100/33":
            # The token cannot see the account: is it still linked to the Page, and does
            # the person still have a role on the Page?
            found = await self._linked_instagram(info.access_token)
            if isinstance(found, Answer):
                return found
            if found is None:
                self.target = None
                if await self._page_role_lost(info.access_token):
                    return _admin_removed(answer)
                return _not_eligible(answer)
            if found != self.target:
                self.target = found
                moved = await self._media(info.access_token)
                return await self._insights(info, moved) if moved.ok else moved
        return answer

    async def _insights(self, info: TokenInfo, media: Answer) -> Answer:
        """After the media, the account's insights: ``media`` when they were read (or are
        not wanted); with the permission named in ``missing`` when it is optional and the
        login did not grant it (the call is skipped) or a ``(#10)``/``(#200)`` shows it
        taken back since; the insights' own error answer otherwise (a required permission
        missing ends the connection as any sync's would)."""
        if not self.insights:
            return media
        optional = IG_INSIGHTS_PERMISSION in self.profile.optional_scopes
        if optional and info.scopes and IG_INSIGHTS_PERMISSION not in info.scopes:
            return replace(media, missing=(IG_INSIGHTS_PERMISSION,))
        response = await self.http.get(
            self._graph(f"{self.target}/insights"),
            params={**IG_INSIGHTS_QUERY, "access_token": info.access_token},
        )
        answer = answer_of(PROTOCOL, response)
        if answer.ok:
            return media
        if optional and answer.verdict.reason is Reason.PERMISSION_MISSING:
            return replace(media, missing=(IG_INSIGHTS_PERMISSION,))
        return answer

    async def _media(self, token: str) -> Answer:
        response = await self.http.get(
            self._graph(f"{self.target}/media"),
            params={"fields": IG_MEDIA_FIELDS, "access_token": token, "limit": "25"},
        )
        return answer_of(PROTOCOL, response)

    async def _linked_instagram(self, token: str) -> str | Answer | None:
        """The Page's Instagram business account now, or the error answer of the call."""
        pages = await self._my_pages(token, "id,name,instagram_business_account")
        if isinstance(pages, Answer):
            return pages
        for page in pages:
            if str(page.get("id")) == self.page_id:
                linked = page.get("instagram_business_account")
                return str(linked["id"]) if isinstance(linked, dict) else None
        return None

    async def discover(self, info: TokenInfo) -> tuple[str | None, str | None] | None:
        """The first Page the person administers (``me/accounts``); for Instagram through
        Facebook Login, the Instagram account linked to it is what the syncs read."""
        response = await self.http.get(
            self._graph("me/accounts"),
            params={
                "fields": "id,name,instagram_business_account",
                "access_token": info.access_token,
            },
        )
        body = json_object(response)
        pages = body.get("data") if response.status_code == 200 else None
        if not isinstance(pages, list) or not pages or not isinstance(pages[0], dict):
            return None
        page = pages[0]
        self.page_id = str(page.get("id"))
        if self.instagram:
            linked = page.get("instagram_business_account")
            self.target = str(linked["id"]) if isinstance(linked, dict) and "id" in linked else None
        else:
            self.target = self.page_id
        name = page.get("name")
        return self.page_id, str(name) if name else None

    async def revoke(self, info: TokenInfo) -> Answer:
        response = await self.http.delete(
            self._graph("me/permissions"), params={"access_token": info.access_token}
        )
        return answer_of(PROTOCOL, response)


def _not_eligible(answer: Answer | None = None) -> Answer:
    """No Instagram professional account linked to a Page the user administers."""
    verdict = Verdict(
        Action.RECONNECT,
        Reason.NOT_ELIGIBLE,
        code=answer.verdict.code if answer else "no_instagram_business_account",
        message=answer.verdict.message
        if answer
        else "the Page has no Instagram professional account linked",
    )
    if answer is None:
        return Answer(200, {"data": []}, verdict)
    return Answer(answer.status, answer.body, verdict)


#: What the first read of a login says when the person has no role on the Page any more
#: (``me/accounts`` no longer lists it): no call failed, the Page is out of reach.
_ROLE_LOST = Answer(
    200,
    {"data": []},
    Verdict(
        Action.RECONNECT,
        Reason.UNKNOWN,
        code="page_role_lost",
        message="the Page is not among the person's Pages (me/accounts) any more",
    ),
)


def _is_200(answer: Answer) -> bool:
    """A ``(#200)`` to ``(#299)`` permission error (never a ``(#10)``)."""
    err = answer.body.get("error") if isinstance(answer.body, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    return (
        not answer.ok
        and answer.verdict.reason is Reason.PERMISSION_MISSING
        and isinstance(code, int)
        and 200 <= code <= 299
    )


def _admin_removed(answer: Answer) -> Answer:
    """The ``(#200)`` answer (or the Instagram account's 100/33), read with the page
    roles: the person lost their role."""
    verdict = Verdict(
        Action.RECONNECT,
        Reason.ADMIN_REMOVED,
        code=answer.verdict.code,
        message=answer.verdict.message,
    )
    return Answer(answer.status, answer.body, verdict)


def _not_business(body: object) -> bool:
    """[obs] ``(#10) The user is not an Instagram Business``: the account is personal."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or err.get("code") != 10:
        return False
    return "not an instagram business" in str(err.get("message", "")).lower()


def _earliest(*instants: datetime | None) -> datetime | None:
    known = [i for i in instants if i is not None]
    return min(known) if known else None


def _epoch(value: object) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _resource(account: Mapping[str, Any], profile: Profile) -> str | None:
    pages = account.get("pages") or []
    return str(pages[0]["id"]) if pages else None


register(PROTOCOL, FacebookClient, _resource)
