"""A code exchanged twice (issue 11, item 10; RFC 6749 §4.1.2).

The second exchange answers each provider's own used-code body, whatever the profile
says about revocation. Where the profile's ``code_reuse_revokes`` is true (LinkedIn,
TikTok, X: [U], RFC 6749's SHOULD) the tokens of the first exchange — access and
refresh alike — then answer exactly as tokens the provider revoked; where it is false
(Facebook, Instagram, Google: what their clients observe) they keep working. Each
provider is also played with the setting flipped, so both behaviours are tested
everywhere.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fp_support import PROVIDERS, REDIRECT, VERIFIER, ManualClock

from conntrack import load_profile
from conntrack._statefile import StateFile
from fake_providers import Account, App, CodeProblem, CodeRejected, Core, Reason, create_app

BASE = "http://conntrack.test"
VOLATILE = re.compile(r'"(fbtrace_id|log_id)"\s*:\s*"[^"]*"')
#: What the catalog profiles say: revoke on reuse?
REVOKES = {
    "facebook": False,
    "instagram": False,
    "linkedin": True,
    "tiktok": True,
    "twitter": True,
    "google": False,
}
#: Each provider's answer to a spent code: status and JSON body (trace ids blanked).
USED = {
    "facebook": (
        400,
        '{"error":{"message":"This authorization code has been used.",'
        '"type":"OAuthException","code":100,"error_subcode":36009,"fbtrace_id":"…"}}',
    ),
    "instagram": (
        400,
        '{"error_type":"OAuthException","code":400,'
        '"error_message":"This authorization code has been used"}',
    ),
    "linkedin": (
        400,
        '{"error":"invalid_request","error_description":"Unable to retrieve access token: '
        "appid/redirect uri/code verifier does not match authorization code. Or "
        'authorization code expired. Or external member binding exists"}',
    ),
    # A reused code is answered as an expired one [obs: Login Kit v1 answered a second
    # exchange "10007 Authorization code expired"; v2's expired text is [obs] too].
    "tiktok": (
        200,
        '{"error":"invalid_grant","error_description":"Authorization code is expired.",'
        '"log_id":"…"}',
    ),
    "twitter": (
        400,
        '{"error":"invalid_request",'
        '"error_description":"Value passed for the authorization code was invalid."}',
    ),
    "google": (400, '{"error":"invalid_grant","error_description":"Bad Request"}'),
}


def normal(r: httpx.Response) -> tuple[int, Any, str | None]:
    """Status, JSON body (per-request ids blanked) and ``WWW-Authenticate``."""
    body = json.loads(VOLATILE.sub(r'"\1":"…"', r.text))
    return r.status_code, body, r.headers.get("www-authenticate")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def basic(app: App) -> dict[str, str]:
    raw = f"{app.client_id}:{app.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass
class Login:
    """One provider's app and account, played through its HTTP endpoints."""

    provider: str
    core: Core
    client: httpx.AsyncClient
    app: App
    account: Account

    def code(self) -> str:
        scopes = list(self.core.profile(self.provider)["default_scopes"])
        pkce: dict[str, Any] = {}
        if self.provider != "facebook":  # Facebook's exchange takes no code_verifier
            pkce = {"code_challenge": VERIFIER, "code_challenge_method": "plain"}
        return self.core.approve(
            self.app.client_id, self.account.id, REDIRECT, requested=scopes, granted=scopes,
            **pkce,
        ).value  # fmt: skip

    def exchange(self, code: str) -> Awaitable[httpx.Response]:
        app, c = self.app, self.client
        secret = {"client_id": app.client_id, "client_secret": app.client_secret}
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        if self.provider == "facebook":
            params = {"code": code, "redirect_uri": REDIRECT, **secret}
            return c.get("/graph.facebook.com/v21.0/oauth/access_token", params=params)
        if self.provider == "instagram":
            return c.post("/api.instagram.com/oauth/access_token", data={**form, **secret})
        if self.provider == "linkedin":
            return c.post("/www.linkedin.com/oauth/v2/accessToken", data={**form, **secret})
        if self.provider == "tiktok":
            data = {**form, "code_verifier": VERIFIER, "client_key": app.client_id}
            data["client_secret"] = app.client_secret
            return c.post("/open.tiktokapis.com/v2/oauth/token/", data=data)
        if self.provider == "twitter":
            data = {**form, "code_verifier": VERIFIER, "client_id": app.client_id}
            return c.post("/api.x.com/2/oauth2/token", data=data, headers=basic(app))
        data = {**form, "code_verifier": VERIFIER, **secret}
        return c.post("/oauth2.googleapis.com/token", data=data)

    def read(self, token: str) -> Awaitable[httpx.Response]:
        """The API call a sync makes with an access token."""
        c = self.client
        if self.provider == "facebook":
            return c.get("/graph.facebook.com/v21.0/me", params={"access_token": token})
        if self.provider == "instagram":
            return c.get("/graph.instagram.com/me", params={"access_token": token})
        if self.provider == "linkedin":
            author = f"urn:li:organization:{self.account.pages[0].id}"
            return c.get(
                "/api.linkedin.com/rest/posts",
                params={"q": "author", "author": author},
                headers={**bearer(token), "LinkedIn-Version": "202411"},
            )
        if self.provider == "tiktok":
            return c.get(
                "/open.tiktokapis.com/v2/user/info/",
                params={"fields": "open_id"},
                headers=bearer(token),
            )
        if self.provider == "twitter":
            return c.get("/api.x.com/2/users/me", headers=bearer(token))
        return c.get("/www.googleapis.com/oauth2/v3/userinfo", headers=bearer(token))

    def refresh(self, token: str) -> Awaitable[httpx.Response]:
        """The refresh grant (OAuth 2.0 providers only)."""
        app, c = self.app, self.client
        form = {"grant_type": "refresh_token", "refresh_token": token}
        secret = {"client_id": app.client_id, "client_secret": app.client_secret}
        if self.provider == "linkedin":
            return c.post("/www.linkedin.com/oauth/v2/accessToken", data={**form, **secret})
        if self.provider == "tiktok":
            data = {**form, "client_key": app.client_id, "client_secret": app.client_secret}
            return c.post("/open.tiktokapis.com/v2/oauth/token/", data=data)
        if self.provider == "twitter":
            data = {**form, "client_id": app.client_id}
            return c.post("/api.x.com/2/oauth2/token", data=data, headers=basic(app))
        assert self.provider == "google"
        return c.post("/oauth2.googleapis.com/token", data={**form, **secret})

    async def tokens(self, code: str) -> dict[str, str]:
        r = await self.exchange(code)
        assert r.status_code == 200, r.text
        body = r.json()
        return {k: body[k] for k in ("access_token", "refresh_token") if k in body}


@pytest.fixture
async def login(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[Login]:
    provider, flipped = request.param
    profiles = {}
    if flipped:
        profiles[provider] = load_profile(provider, {"code_reuse_revokes": not REVOKES[provider]})
    core = Core(clock, seed=3, profiles=profiles)
    app = core.create_app_registration(provider, redirect_uris=[REDIRECT])
    account = core.create_account(provider, pages=1)
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield Login(provider, core, client, app, account)


def test_the_catalog_profiles_say_what_the_providers_do() -> None:
    for provider in PROVIDERS:
        assert load_profile(provider).flag("code_reuse_revokes") is REVOKES[provider]
    assert load_profile("instagram-facebook").flag("code_reuse_revokes") is False
    assert load_profile("tiktok-2026").flag("code_reuse_revokes") is True


#: The ``WWW-Authenticate`` of a spent code's answer (PROVIDERS.md §1 [obs]: Facebook's).
USED_AUTH = {
    "facebook": 'OAuth "Facebook Platform" "invalid_code" "This authorization code has been used."'
}


def used(provider: str) -> tuple[int, Any, str | None]:
    status, body = USED[provider]
    return status, json.loads(body), USED_AUTH.get(provider)


CASES = [(p, flipped) for p in PROVIDERS for flipped in (False, True)]


@pytest.mark.parametrize(
    "login", CASES, indirect=True, ids=[f"{p}-{'flipped' if f else 'catalog'}" for p, f in CASES]
)
async def test_a_reused_code(login: Login) -> None:
    core = login.core
    revokes = core.profile(login.provider).flag("code_reuse_revokes")
    code = login.code()
    first = await login.tokens(code)
    if login.provider in ("facebook", "instagram"):  # the long-lived token comes of it too
        long = core.exchange_long_lived(first["access_token"], client_id=login.app.client_id)
        first["long"] = long.value
    # A twin login whose family the provider revoked: the answers a revoked token gets.
    twin = await login.tokens(login.code())
    if "access_token" in twin:
        core.revoke(twin["access_token"])

    assert normal(await login.exchange(code)) == used(login.provider)
    # A third use answers the same and changes nothing more.
    seq = core.seq
    assert normal(await login.exchange(code)) == used(login.provider)
    assert core.seq == seq

    for kind, value in first.items():
        check = core.check_token(value)
        if not revokes:
            assert check.valid, kind
            continue
        assert check.reason is Reason.REVOKED, kind
    access = await login.read(first["access_token"])
    if revokes:
        revoked = await login.read(twin["access_token"])
        assert access.status_code != 200
        assert normal(access) == normal(revoked)
    else:
        assert access.status_code == 200, access.text
    if "refresh_token" in first:
        refreshed = await login.refresh(first["refresh_token"])
        if revokes:
            assert normal(refreshed) == normal(await login.refresh(twin["refresh_token"]))
            assert "access_token" not in refreshed.json()
        else:
            assert refreshed.status_code == 200 and "access_token" in refreshed.json()


@pytest.mark.parametrize(
    "login", [(p, not REVOKES[p]) for p in PROVIDERS], indirect=True, ids=PROVIDERS
)
async def test_a_reuse_revokes_what_came_of_the_code_later(
    login: Login, clock: ManualClock
) -> None:
    """Where a reuse revokes (the catalog's setting, else flipped), it takes everything the first exchange led to: the
    long-lived token exchanged from it, page tokens, refreshed access tokens and
    rotated refresh tokens, an Instagram token refreshed from the long-lived one — also
    when the reuse comes after the code expired (a spent code stays spent)."""
    core, app = login.core, login.app
    assert core.profile(login.provider).flag("code_reuse_revokes")
    code = login.code()
    first = await login.tokens(code)
    later: dict[str, str] = {}
    if login.provider in ("facebook", "instagram"):
        long = core.exchange_long_lived(first["access_token"], client_id=app.client_id)
        later["long"] = long.value
        if login.provider == "facebook":
            later["page"] = core.page_token(long.value, login.account.pages[0].id).value
        else:
            clock.advance(timedelta(hours=25))  # ig_refresh_token takes a token 24 h old
            later["refreshed"] = core.refresh_self(long.value, client_id=app.client_id).value
    else:
        again = await login.refresh(first["refresh_token"])
        assert again.status_code == 200, again.text
        later["access"] = again.json()["access_token"]
        later["refresh"] = again.json().get("refresh_token") or first["refresh_token"]
        clock.advance(timedelta(minutes=31))  # every provider's code expired meanwhile
    assert all(core.check_token(v).valid for v in later.values())
    # What still worked before the reuse (a rotated-out refresh token, an expired short
    # token keep their own cause of death).
    alive = {k: v for k, v in {**first, **later}.items() if core.check_token(v).valid}
    reuse = await login.exchange(code)
    assert normal(reuse) == used(login.provider), reuse.text  # spent, not expired
    for kind, value in alive.items():
        assert core.check_token(value).reason is Reason.REVOKED, kind


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_reuse_after_a_restart_still_revokes(
    provider: str, clock: ManualClock, tmp_path: Path
) -> None:
    """``conntrack serve --state``: a code spent before a restart is still spent after
    it, and still knows the tokens it led to (the state file keeps the code's family)."""
    overrides = {"code_reuse_revokes": True}
    profiles = {provider: load_profile(provider, overrides)}
    state = StateFile.open(tmp_path / "state.db")
    core = Core(clock, seed=3, profiles=profiles)
    state.attach(core)
    app = core.create_app_registration(provider, redirect_uris=[REDIRECT])
    account = core.create_account(provider, pages=1)
    scopes = list(core.profile(provider)["default_scopes"])
    code = core.approve(
        app.client_id, account.id, REDIRECT, requested=scopes, granted=scopes,
        code_challenge=VERIFIER, code_challenge_method="plain",
    ).value  # fmt: skip
    kw: dict[str, Any] = {
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    if provider in ("facebook", "instagram"):
        values = [core.exchange_code(code, **kw).value]
    else:
        pair = core.issue_from_code(code, **kw)
        values = [pair.access.value] + ([pair.refresh.value] if pair.refresh else [])
    assert state.flush(clock_offset=timedelta(0), now=clock.now())
    state.close()
    state = StateFile.open(tmp_path / "state.db")
    try:
        after = Core(clock, seed=3, profiles=profiles)
        assert state.load(after) is not None
        assert all(after.check_token(v).valid for v in values)
        exchange = after.exchange_code if provider in ("facebook", "instagram") else None
        with pytest.raises(CodeRejected) as err:
            if exchange is not None:
                exchange(code, **kw)
            else:
                after.issue_from_code(code, **kw)
        assert err.value.problem is CodeProblem.USED
        assert all(after.check_token(v).reason is Reason.REVOKED for v in values)
    finally:
        state.close()
