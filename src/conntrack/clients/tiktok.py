"""The product's side of TikTok (Login Kit v2, Display API, Content Posting API).

The calls a real integration makes, over any transport. TikTok says ``client_key`` where
OAuth says ``client_id``, joins scopes with commas, and uses PKCE ``S256`` (this client
always sends a challenge; the verifier is remembered per ``state`` until the callback).

Token rules come from the profile and from the answers: the access token lives
``expires_in`` (24 h; 2 h in ``tiktok-2026``) and is refreshed ``refresh_margin`` before
it dies; the refresh token lives ``refresh_expires_in``. Where its lifetime does not
reset (``refresh_token_lifetime_resets: false`` — both profiles: 365 days, or 180 days,
from the login) its expiry is the connection's ``hard_expiry``: no refresh can save the
connection past it. With rotation (``tiktok-2026``) every refresh answers a new refresh
token, which the client keeps; the old one is dead.

TikTok's OAuth endpoints may answer an error with HTTP 200 (``{"error", …}`` in the
body); :func:`answer` classifies such bodies with the TikTok rule even though
:func:`conntrack.classify` calls every 2xx answer ``ok``.

The classifier rule (registered for ``tiktok``) maps the API envelope's
``error.code`` and the OAuth ``error``:

- ``access_token_invalid`` → ``refresh``: a refresh may help (the access token expired);
  if the refresh fails, that answer decides;
- ``invalid_grant`` (a refresh or code that does not work) → reconnect, ``refresh_failed``;
- ``scope_not_authorized``/``scope_permission_missed`` → reconnect, ``permission_missing``;
- ``spam_risk_user_banned_from_posting`` → reconnect, ``suspended``;
- ``unaudited_client_can_only_post_to_private_accounts`` → reconnect, ``not_eligible``;
- ``rate_limit_exceeded``, ``internal_error``, ``reached_active_user_cap``,
  ``spam_risk_too_many_posts``, 429, 5xx → retry;
- request mistakes (``invalid_params``, ``invalid_request``, ``invalid_client``…) → ignore.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from .. import _classifier
from .._classifier import Action, Verdict
from .._lifecycle import Reason
from .._profiles import Profile
from ._base import Answer, ClientContext, ProviderCallError, TokenInfo, after, pkce_pair, register

PROTOCOL = "tiktok"
WWW = "www.tiktok.com"
API = "open.tiktokapis.com"
VIDEO_FIELDS = "id,title,create_time"
USER_FIELDS = "open_id,union_id,avatar_url,display_name"
#: The same instant, give or take the whole seconds an ``expires_in`` is rounded to.
_SAME_INSTANT = timedelta(seconds=2)

# -- the classifier rule ----------------------------------------------------------------

_API_RULES: dict[str, tuple[Action, Reason | None]] = {
    "access_token_invalid": (Action.REFRESH, Reason.UNKNOWN),
    "scope_not_authorized": (Action.RECONNECT, Reason.PERMISSION_MISSING),
    "scope_permission_missed": (Action.RECONNECT, Reason.PERMISSION_MISSING),
    "spam_risk_user_banned_from_posting": (Action.RECONNECT, Reason.SUSPENDED),
    "unaudited_client_can_only_post_to_private_accounts": (Action.RECONNECT, Reason.NOT_ELIGIBLE),
    "rate_limit_exceeded": (Action.RETRY, None),
    "internal_error": (Action.RETRY, None),
    # Caps that pass with time: the app's daily active-poster quota, the user's posts.
    "reached_active_user_cap": (Action.RETRY, None),
    "spam_risk_too_many_posts": (Action.RETRY, None),
}
_OAUTH_RULES: dict[str, tuple[Action, Reason | None]] = {
    "invalid_grant": (Action.RECONNECT, Reason.REFRESH_FAILED),
    "access_denied": (Action.RECONNECT, Reason.ACCESS_REVOKED),
    "server_error": (Action.RETRY, None),
    "temporarily_unavailable": (Action.RETRY, None),
}


def classify_tiktok(status: int, headers: Mapping[str, str], body: Any) -> Verdict:
    """TikTok's answers → verdicts (see the module docstring); a pure function."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code = str(err.get("code", ""))
        message = str(err.get("message", ""))
        if code == "ok":
            return _classifier.OK if 200 <= status < 300 else _by_status(status, code, message)
        if code in _API_RULES:
            action, reason = _API_RULES[code]
            return Verdict(action, reason, code=code, message=message)
        return _by_status(status, code, message)
    if isinstance(err, str) and err:
        message = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        action, reason = _OAUTH_RULES.get(err, (Action.IGNORE, None))
        return Verdict(action, reason, code=err, message=message)
    return _by_status(status, str(status), "")


def _by_status(status: int, code: str, message: str) -> Verdict:
    if status == 429 or status >= 500:
        return Verdict(Action.RETRY, code=code, message=message)
    if status == 401:
        return Verdict(Action.REFRESH, Reason.UNKNOWN, code=code, message=message)
    return Verdict(Action.IGNORE, code=code, message=message)


def answer(response: httpx.Response) -> Answer:
    """A TikTok answer with its verdict, including errors sent with HTTP 200."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    verdict = _classifier.classify(PROTOCOL, response.status_code, dict(response.headers), body)
    return Answer(response.status_code, body, verdict)


def _is_error(body: Any) -> bool:
    """TikTok sends OAuth errors with HTTP 200, and ``error.code`` "ok" on success."""
    if not isinstance(body, dict):
        return False
    err = body.get("error")
    return (isinstance(err, str) and bool(err)) or (
        isinstance(err, dict) and err.get("code") != "ok"
    )


def _good(a: Answer) -> bool:
    return a.ok and a.verdict.action is Action.OK


# -- the client -------------------------------------------------------------------------


class TikTokClient:
    """Login Kit, Display API and Content Posting calls of a product that manages TikTok
    accounts."""

    protocol: ClassVar[str] = PROTOCOL

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
        self.http = ctx.http
        self.app = ctx.app
        self.profile = ctx.profile
        self.clock = ctx.clock
        self._verifiers: dict[str, str] = {}
        """PKCE verifiers by ``state``, until the callback spends them."""

    def _api(self, path: str) -> str:
        return self.ctx.url(API, path)

    # -- OAuth ------------------------------------------------------------------------

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        verifier, challenge = pkce_pair(self.ctx.rng)
        self._verifiers[state] = verifier
        scope = self.profile.scope_separator.join(scopes or self.profile["default_scopes"])
        query = urlencode(
            {
                "client_key": self.app.client_id,
                "scope": scope,
                "response_type": "code",
                "redirect_uri": self.app.redirect_uri,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.ctx.url(WWW, 'v2/auth/authorize/')}?{query}"

    async def _token(self, step: str, fields: dict[str, str]) -> dict[str, Any]:
        data = {
            "client_key": self.app.client_id,
            "client_secret": self.app.client_secret,
            **fields,
        }
        a = answer(await self.http.post(self._api("v2/oauth/token/"), data=data))
        if not _good(a) or not isinstance(a.body, dict) or "access_token" not in a.body:
            raise ProviderCallError(step, a)
        return a.body

    async def connect(self, code: str, state: str = "") -> TokenInfo:
        """The callback: the code (and the PKCE verifier of ``state``) becomes tokens."""
        fields = {
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": self.app.redirect_uri,
        }
        verifier = self._verifiers.pop(state, None)
        if verifier is not None:
            fields["code_verifier"] = verifier
        body = await self._token("code exchange", fields)
        return self._info(body, None)

    def _info(self, body: dict[str, Any], old: TokenInfo | None) -> TokenInfo:
        now = self.clock.now()
        refresh_at = after(now, body.get("refresh_expires_in"))
        if (
            old is not None
            and old.refresh_expires_at is not None
            and refresh_at is not None
            and not self._lifetime_resets()
            and abs(refresh_at - old.refresh_expires_at) <= _SAME_INSTANT
        ):
            # The same non-resetting expiry, counted down in whole seconds.
            refresh_at = old.refresh_expires_at
        scope = str(body.get("scope") or "")
        return TokenInfo(
            access_token=str(body["access_token"]),
            expires_at=after(now, body.get("expires_in")),
            hard_expiry=None if self._lifetime_resets() else refresh_at,
            scopes=tuple(s for s in scope.split(",") if s),
            user_id=str(body["open_id"]) if body.get("open_id") else None,
            refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
            refresh_expires_at=refresh_at,
            issued_at=now,
        )

    def _lifetime_resets(self) -> bool:
        return self.profile.get("refresh_token_lifetime_resets", True) is not False

    def can_refresh(self, info: TokenInfo) -> bool:
        if info.refresh_token is None:
            return False
        return info.refresh_expires_at is None or self.clock.now() < info.refresh_expires_at

    def refresh_due(self, info: TokenInfo) -> datetime | None:
        """``refresh_margin`` before the access token dies."""
        if info.expires_at is None or info.refresh_token is None:
            return None
        margin = self.profile.lifetime("refresh_margin") or timedelta(0)
        return info.expires_at - margin

    async def refresh(self, info: TokenInfo) -> TokenInfo:
        """A new access token; with rotation the new refresh token replaces the old."""
        if info.refresh_token is None:
            raise NotImplementedError("no refresh token: a person must authorize again")
        body = await self._token(
            "refresh", {"grant_type": "refresh_token", "refresh_token": info.refresh_token}
        )
        new = self._info(body, info)
        if new.refresh_token is None:
            new = new.with_(refresh_token=info.refresh_token)
        return new

    async def discover(self, info: TokenInfo) -> tuple[str | None, str | None] | None:
        """A connection about the account itself: nothing to find."""
        return None, None

    async def revoke(self, info: TokenInfo) -> Answer:
        data = {
            "client_key": self.app.client_id,
            "client_secret": self.app.client_secret,
            "token": info.access_token,
        }
        return answer(await self.http.post(self._api("v2/oauth/revoke/"), data=data))

    # -- API --------------------------------------------------------------------------

    def _auth(self, info: TokenInfo) -> dict[str, str]:
        return {"Authorization": f"Bearer {info.access_token}"}

    async def read(self, info: TokenInfo) -> Answer:
        """The sync: the account's latest videos."""
        response = await self.http.post(
            self._api("v2/video/list/"),
            params={"fields": VIDEO_FIELDS},
            json={"max_count": 20},
            headers=self._auth(info),
        )
        return answer(response)

    async def user_info(self, info: TokenInfo, fields: str = USER_FIELDS) -> Answer:
        response = await self.http.get(
            self._api("v2/user/info/"), params={"fields": fields}, headers=self._auth(info)
        )
        return answer(response)

    async def creator_info(self, info: TokenInfo) -> Answer:
        """What the creator may post now (TikTok's required pre-flight of a direct post)."""
        response = await self.http.post(
            self._api("v2/post/publish/creator_info/query/"), json={}, headers=self._auth(info)
        )
        return answer(response)

    async def publish_init(
        self, info: TokenInfo, *, title: str, privacy_level: str = "SELF_ONLY"
    ) -> Answer:
        """Start a direct post of a video TikTok pulls from a URL."""
        body = {
            "post_info": {"title": title, "privacy_level": privacy_level},
            "source_info": {
                "source": "PULL_FROM_URL",
                "video_url": "https://media.app.example.test/video.mp4",
            },
        }
        response = await self.http.post(
            self._api("v2/post/publish/video/init/"), json=body, headers=self._auth(info)
        )
        return answer(response)


def _resource(account: Mapping[str, Any], profile: Profile) -> str | None:
    """A TikTok connection is about the account itself."""
    return str(account["id"]) if account.get("id") else None


register(PROTOCOL, TikTokClient, _resource)
_classifier.register(PROTOCOL, classify_tiktok, error_in_success=_is_error)
