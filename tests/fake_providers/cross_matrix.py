"""The cross-provider matrix of issue 11, item 4: one app, account and every kind of
credential per provider (:func:`mint`), and every endpoint of every provider that takes a
token (:data:`ENDPOINTS`), each called with that provider's own app. Used by
``test_cross_provider.py`` in-process and ``test_cross_provider_serve.py`` against
``conntrack serve``."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fp_support import PROVIDERS, REDIRECT, VERIFIER, ManualClock
from oauthlib.oauth1 import Client as Signer

from conntrack import load_profile
from fake_providers import Account, App, Core

BASE = "http://conntrack.test"
#: Per-request ids that differ between two identical answers.
VOLATILE = re.compile(r'"(fbtrace_id|log_id)":"[^"]*"')


@dataclass
class Side:
    """One provider's app, account and the credentials minted for it (kind → value)."""

    app: App
    account: Account
    creds: dict[str, str] = field(default_factory=dict)

    @property
    def page_id(self) -> str:
        return str(self.account.pages[0].id)


@dataclass
class World:
    """The core the credentials were minted in, a client of the server that serves it
    (``base``: its URL, which OAuth 1.0a signatures cover) and each provider's side."""

    core: Core
    client: httpx.AsyncClient
    sides: dict[str, Side]
    base: str = BASE


def mint(core: Core, protocol: str) -> Side:
    """An app, an account and every kind of credential ``protocol`` issues."""
    app = core.create_app_registration(protocol, redirect_uris=[REDIRECT])
    side = Side(app, core.create_account(protocol, pages=1))
    scopes = list(core.profile(protocol)["default_scopes"])

    def code() -> str:
        return core.approve(
            app.client_id, side.account.id, REDIRECT, requested=scopes, granted=scopes,
            code_challenge=VERIFIER, code_challenge_method="plain",
        ).value  # fmt: skip

    kw: dict[str, Any] = {
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    if protocol in ("facebook", "instagram"):
        short = core.exchange_code(code(), **kw)
        long = core.exchange_long_lived(short.value, client_id=app.client_id)
        side.creds.update(user=short.value, long=long.value)
        if protocol == "facebook":
            side.creds["page"] = core.page_token(long.value, side.page_id).value
    else:
        pair = core.issue_from_code(code(), **kw)
        assert pair.refresh is not None
        side.creds.update(access=pair.access.value, refresh=pair.refresh.value)
    if protocol == "twitter":
        request = core.oauth1_request_token(app.client_id, REDIRECT)
        verifier = core.oauth1_authorize(request.value, side.account.id)
        side.creds["oauth1"] = core.oauth1_access_token(
            request.value, verifier, app.client_id
        ).value
    side.creds["code"] = code()
    # The app's own credentials as Facebook spells an app token: ``{app-id}|{app-secret}``.
    side.creds["app"] = f"{app.client_id}|{app.client_secret}"
    return side


def oidc_codes(core: Core, sides: dict[str, Side]) -> dict[str, str]:
    """Codes of a Google and a LinkedIn login that granted ``openid``: their token
    endpoints answer them with an ``id_token`` (the core mints no id_token)."""
    out = {}
    for provider in ("google", "linkedin"):
        side = sides[provider]
        scopes = [*core.profile(provider)["default_scopes"], "openid", "profile", "email"]
        out[provider] = core.approve(
            side.app.client_id, side.account.id, REDIRECT, requested=scopes, granted=scopes,
        ).value  # fmt: skip
    return out


async def with_id_tokens(w: World, codes: dict[str, str]) -> None:
    """Exchange :func:`oidc_codes` at the token endpoints; keep each ``id_token``."""
    for provider, ask in (("google", "g-code"), ("linkedin", "li-code")):
        r = await ENDPOINTS[ask][1](w, codes[provider])
        assert r.status_code == 200 and "id_token" in r.json(), (provider, r.text)
        w.sides[provider].creds["id_token"] = r.json()["id_token"]


#: The profile sets the matrix runs under: the catalog's, and TikTok's second profile
#: with Instagram through Facebook Login (the Facebook protocol's other profile).
VARIANTS = {
    "catalog": (),
    "tiktok-2026+instagram-facebook": ("tiktok-2026", "instagram-facebook"),
}


def variant_core(clock: ManualClock, variant: str) -> Core:
    profiles = {name: load_profile(name) for name in VARIANTS[variant]}
    return Core(clock, seed=11, profiles=profiles)


# -- the token-reading endpoints, each with its provider's own app ------------------------

Ask = Callable[[World, str], Awaitable[httpx.Response]]


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def basic(app: App) -> dict[str, str]:
    raw = f"{app.client_id}:{app.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def creds(w: World, provider: str, *, key: str = "client_id") -> dict[str, str]:
    app = w.sides[provider].app
    return {key: app.client_id, "client_secret": app.client_secret}


def graph(w: World, path: str, **params: str) -> Awaitable[httpx.Response]:
    return w.client.get(f"/graph.facebook.com/v21.0/{path}", params=params)


def fb_app_token(w: World) -> str:
    app = w.sides["facebook"].app
    return f"{app.client_id}|{app.client_secret}"


async def signed(w: World, method: str, path: str, value: str, **extra: str) -> httpx.Response:
    """An OAuth 1.0a request of X's app with ``value`` as ``oauth_token`` (and a token
    secret that is not its own: an unknown token must fail before the signature)."""
    app = w.sides["twitter"].app
    signer = Signer(
        app.client_id, app.client_secret, resource_owner_key=value,
        resource_owner_secret="not-the-secret", **extra,
    )  # fmt: skip
    uri, headers, _ = signer.sign(w.base + path, method)
    return await w.client.request(method, uri, headers=headers)


ENDPOINTS: dict[str, tuple[str, Ask]] = {
    # Facebook: graph.facebook.com
    "fb-me": ("facebook", lambda w, v: graph(w, "me", access_token=v)),
    "fb-me-accounts": ("facebook", lambda w, v: graph(w, "me/accounts", access_token=v)),
    "fb-debug-input": (
        "facebook",
        lambda w, v: graph(w, "debug_token", input_token=v, access_token=fb_app_token(w)),
    ),
    "fb-debug-caller": (
        "facebook",
        lambda w, v: graph(
            w, "debug_token", input_token=w.sides["facebook"].creds["long"], access_token=v
        ),
    ),
    "fb-exchange": (
        "facebook",
        lambda w, v: graph(
            w,
            "oauth/access_token",
            grant_type="fb_exchange_token",
            fb_exchange_token=v,
            **creds(w, "facebook"),
        ),
    ),
    "fb-code": (
        "facebook",
        lambda w, v: graph(
            w, "oauth/access_token", redirect_uri=REDIRECT, code=v, **creds(w, "facebook")
        ),
    ),
    # Instagram Login: graph.instagram.com, api.instagram.com
    "ig-me": (
        "instagram",
        lambda w, v: w.client.get("/graph.instagram.com/me", params={"access_token": v}),
    ),
    "ig-exchange": (
        "instagram",
        lambda w, v: w.client.get(
            "/graph.instagram.com/access_token",
            params={
                "grant_type": "ig_exchange_token",
                "client_secret": w.sides["instagram"].app.client_secret,
                "access_token": v,
            },
        ),
    ),
    "ig-refresh": (
        "instagram",
        lambda w, v: w.client.get(
            "/graph.instagram.com/refresh_access_token",
            params={"grant_type": "ig_refresh_token", "access_token": v},
        ),
    ),
    "ig-code": (
        "instagram",
        lambda w, v: w.client.post(
            "/api.instagram.com/oauth/access_token",
            data={
                "grant_type": "authorization_code",
                "redirect_uri": REDIRECT,
                "code": v,
                **creds(w, "instagram"),
            },
        ),
    ),
    # LinkedIn: api.linkedin.com, www.linkedin.com/oauth/v2
    "li-userinfo": (
        "linkedin",
        lambda w, v: w.client.get("/api.linkedin.com/v2/userinfo", headers=bearer(v)),
    ),
    "li-posts": (
        "linkedin",
        lambda w, v: w.client.get(
            "/api.linkedin.com/rest/posts",
            params={
                "q": "author",
                "author": f"urn:li:organization:{w.sides['linkedin'].page_id}",
            },
            headers={**bearer(v), "LinkedIn-Version": "202411"},
        ),
    ),
    "li-refresh": (
        "linkedin",
        lambda w, v: w.client.post(
            "/www.linkedin.com/oauth/v2/accessToken",
            data={"grant_type": "refresh_token", "refresh_token": v, **creds(w, "linkedin")},
        ),
    ),
    "li-code": (
        "linkedin",
        lambda w, v: w.client.post(
            "/www.linkedin.com/oauth/v2/accessToken",
            data={
                "grant_type": "authorization_code",
                "code": v,
                "redirect_uri": REDIRECT,
                **creds(w, "linkedin"),
            },
        ),
    ),
    "li-introspect": (
        "linkedin",
        lambda w, v: w.client.post(
            "/www.linkedin.com/oauth/v2/introspectToken", data={"token": v, **creds(w, "linkedin")}
        ),
    ),
    "li-revoke": (
        "linkedin",
        lambda w, v: w.client.post(
            "/www.linkedin.com/oauth/v2/revoke", data={"token": v, **creds(w, "linkedin")}
        ),
    ),
    # TikTok: open.tiktokapis.com
    "tt-user-info": (
        "tiktok",
        lambda w, v: w.client.get(
            "/open.tiktokapis.com/v2/user/info/", params={"fields": "open_id"}, headers=bearer(v)
        ),
    ),
    "tt-refresh": (
        "tiktok",
        lambda w, v: w.client.post(
            "/open.tiktokapis.com/v2/oauth/token/",
            data={
                "grant_type": "refresh_token",
                "refresh_token": v,
                **creds(w, "tiktok", key="client_key"),
            },
        ),
    ),
    "tt-code": (
        "tiktok",
        lambda w, v: w.client.post(
            "/open.tiktokapis.com/v2/oauth/token/",
            data={
                "grant_type": "authorization_code",
                "code": v,
                "redirect_uri": REDIRECT,
                "code_verifier": VERIFIER,
                **creds(w, "tiktok", key="client_key"),
            },
        ),
    ),
    "tt-revoke": (
        "tiktok",
        lambda w, v: w.client.post(
            "/open.tiktokapis.com/v2/oauth/revoke/",
            data={"token": v, **creds(w, "tiktok", key="client_key")},
        ),
    ),
    # X: api.x.com (OAuth 2.0 and OAuth 1.0a)
    "x-me": ("twitter", lambda w, v: w.client.get("/api.x.com/2/users/me", headers=bearer(v))),
    "x-me-oauth1": ("twitter", lambda w, v: signed(w, "GET", "/api.x.com/2/users/me", v)),
    "x-verify-credentials": (
        "twitter",
        lambda w, v: signed(w, "GET", "/api.x.com/1.1/account/verify_credentials.json", v),
    ),
    "x-access-token-leg": (
        "twitter",
        lambda w, v: signed(w, "POST", "/api.x.com/oauth/access_token", v, verifier="v3rifier"),
    ),
    "x-refresh": (
        "twitter",
        lambda w, v: w.client.post(
            "/api.x.com/2/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": v,
                "client_id": w.sides["twitter"].app.client_id,
            },
            headers=basic(w.sides["twitter"].app),
        ),
    ),
    "x-code": (
        "twitter",
        lambda w, v: w.client.post(
            "/api.x.com/2/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": v,
                "redirect_uri": REDIRECT,
                "code_verifier": VERIFIER,
                "client_id": w.sides["twitter"].app.client_id,
            },
            headers=basic(w.sides["twitter"].app),
        ),
    ),
    "x-revoke": (
        "twitter",
        lambda w, v: w.client.post(
            "/api.x.com/2/oauth2/revoke",
            data={"token": v, "client_id": w.sides["twitter"].app.client_id},
            headers=basic(w.sides["twitter"].app),
        ),
    ),
    # Google: googleapis.com
    "g-userinfo": (
        "google",
        lambda w, v: w.client.get("/www.googleapis.com/oauth2/v3/userinfo", headers=bearer(v)),
    ),
    "g-channels": (
        "google",
        lambda w, v: w.client.get(
            "/www.googleapis.com/youtube/v3/channels",
            params={"part": "snippet", "mine": "true"},
            headers=bearer(v),
        ),
    ),
    "g-tokeninfo": (
        "google",
        lambda w, v: w.client.get("/oauth2.googleapis.com/tokeninfo", params={"access_token": v}),
    ),
    "g-refresh": (
        "google",
        lambda w, v: w.client.post(
            "/oauth2.googleapis.com/token",
            data={"grant_type": "refresh_token", "refresh_token": v, **creds(w, "google")},
        ),
    ),
    "g-code": (
        "google",
        lambda w, v: w.client.post(
            "/oauth2.googleapis.com/token",
            data={
                "grant_type": "authorization_code",
                "code": v,
                "redirect_uri": REDIRECT,
                **creds(w, "google"),
            },
        ),
    ),
    "g-revoke": (
        "google",
        lambda w, v: w.client.post("/oauth2.googleapis.com/revoke", data={"token": v}),
    ),
}


def delete(w: World, path: str, **params: str) -> Awaitable[httpx.Response]:
    return w.client.delete(f"/graph.facebook.com/v21.0/{path}", params=params)


def ig(w: World, path: str, value: str) -> Awaitable[httpx.Response]:
    return w.client.get(f"/graph.instagram.com/{path}", params={"access_token": value})


def rest(w: World, path: str, value: str, **params: str) -> Awaitable[httpx.Response]:
    headers = {**bearer(value), "LinkedIn-Version": "202411"}
    return w.client.get(f"/api.linkedin.com/{path}", params=params, headers=headers)


def tiktok_post(w: World, path: str, value: str) -> Awaitable[httpx.Response]:
    return w.client.post(
        f"/open.tiktokapis.com/v2/{path}", params={"fields": "id"}, json={}, headers=bearer(value)
    )


def google(w: World, host: str, path: str, value: str) -> Awaitable[httpx.Response]:
    return w.client.get(f"/{host}/{path}", headers=bearer(value))


#: More endpoints that take a token: every node and edge of each API the fakes serve,
#: the other hosts of one provider, and each way of handing a token to a revoke.
ENDPOINTS.update(
    {
        "fb-permissions": ("facebook", lambda w, v: graph(w, "me/permissions", access_token=v)),
        "fb-permissions-delete": (
            "facebook",
            lambda w, v: delete(w, "me/permissions", access_token=v),
        ),
        "fb-page": (
            "facebook",
            lambda w, v: graph(
                w, w.sides["facebook"].page_id, fields="name,access_token", access_token=v
            ),
        ),
        "fb-page-posts": (
            "facebook",
            lambda w, v: graph(w, f"{w.sides['facebook'].page_id}/posts", access_token=v),
        ),
        "fb-page-bearer": (
            "facebook",
            lambda w, v: w.client.get(
                f"/graph.facebook.com/v21.0/{w.sides['facebook'].page_id}", headers=bearer(v)
            ),
        ),
        "fb-instagram-node": (
            "facebook",
            lambda w, v: graph(w, w.sides["instagram"].account.id, access_token=v),
        ),
        "ig-node": ("instagram", lambda w, v: ig(w, w.sides["instagram"].account.id, v)),
        "ig-media": ("instagram", lambda w, v: ig(w, "me/media", v)),
        "ig-bearer": (
            "instagram",
            lambda w, v: w.client.get("/graph.instagram.com/me", headers=bearer(v)),
        ),
        "li-me": ("linkedin", lambda w, v: rest(w, "rest/me", v)),
        "li-v2-me": ("linkedin", lambda w, v: rest(w, "v2/me", v)),
        "li-organization": (
            "linkedin",
            lambda w, v: rest(w, f"rest/organizations/{w.sides['linkedin'].page_id}", v),
        ),
        "li-acls": (
            "linkedin",
            lambda w, v: rest(w, "rest/organizationAcls", v, q="roleAssignee"),
        ),
        "tt-video-list": ("tiktok", lambda w, v: tiktok_post(w, "video/list/", v)),
        "tt-creator-info": (
            "tiktok",
            lambda w, v: tiktok_post(w, "post/publish/creator_info/query/", v),
        ),
        "x-me-twitter-host": (
            "twitter",
            lambda w, v: w.client.get("/api.twitter.com/2/users/me", headers=bearer(v)),
        ),
        "x-tweets": (
            "twitter",
            lambda w, v: w.client.get(
                f"/api.x.com/2/users/{w.sides['twitter'].account.id}/tweets", headers=bearer(v)
            ),
        ),
        "x-revoke-twitter-host": (
            "twitter",
            lambda w, v: w.client.post(
                "/api.twitter.com/2/oauth2/revoke",
                data={"token": v, "token_type_hint": "access_token"},
                headers=basic(w.sides["twitter"].app),
            ),
        ),
        "g-tokeninfo-id-token": (
            "google",
            lambda w, v: w.client.get("/oauth2.googleapis.com/tokeninfo", params={"id_token": v}),
        ),
        "g-tokeninfo-v3": (
            "google",
            lambda w, v: w.client.get(
                "/www.googleapis.com/oauth2/v3/tokeninfo", params={"access_token": v}
            ),
        ),
        "g-oidc-userinfo": (
            "google",
            lambda w, v: google(w, "openidconnect.googleapis.com", "v1/userinfo", v),
        ),
        "g-people": ("google", lambda w, v: google(w, "people.googleapis.com", "v1/people/me", v)),
        "g-youtube-host": (
            "google",
            lambda w, v: w.client.get(
                "/youtube.googleapis.com/youtube/v3/channels",
                params={"part": "id", "mine": "true"},
                headers=bearer(v),
            ),
        ),
        "g-business-accounts": (
            "google",
            lambda w, v: google(w, "mybusinessaccountmanagement.googleapis.com", "v1/accounts", v),
        ),
        "g-business-locations": (
            "google",
            lambda w, v: google(
                w,
                "mybusinessbusinessinformation.googleapis.com",
                "v1/accounts/1/locations?readMask=name,title",
                v,
            ),
        ),
        "g-business-reviews": (
            "google",
            lambda w, v: google(
                w, "mybusiness.googleapis.com", "v4/accounts/1/locations/2/reviews", v
            ),
        ),
        "g-revoke-query": (
            "google",
            lambda w, v: w.client.post("/oauth2.googleapis.com/revoke", params={"token": v}),
        ),
        "g-revoke-accounts": (
            "google",
            lambda w, v: w.client.get("/accounts.google.com/o/oauth2/revoke", params={"token": v}),
        ),
        "g-refresh-v4": (
            "google",
            lambda w, v: w.client.post(
                "/www.googleapis.com/oauth2/v4/token",
                data={"grant_type": "refresh_token", "refresh_token": v, **creds(w, "google")},
            ),
        ),
    }
)

#: The credentials each provider issues (as :func:`mint` makes them).
KINDS = {
    "facebook": ("user", "long", "page", "code", "app"),
    "instagram": ("user", "long", "code", "app"),
    "linkedin": ("access", "refresh", "id_token", "code", "app"),
    "tiktok": ("access", "refresh", "code", "app"),
    "twitter": ("access", "refresh", "oauth1", "code", "app"),
    "google": ("access", "refresh", "id_token", "code", "app"),
}
#: (endpoint, issuing provider) for every pair of different providers.
PAIRS = [(name, issuer) for name, (asker, _) in ENDPOINTS.items() for issuer in PROVIDERS
         if issuer != asker]  # fmt: skip
#: The cells of the matrix: one foreign credential at one endpoint.
CELLS = sum(len(KINDS[issuer]) for _, issuer in PAIRS)


def unknown(value: str) -> str:
    """A string of the same shape that no provider issued: the last character changed."""
    return value[:-1] + ("B" if value[-1] != "B" else "C")


def answer(r: httpx.Response) -> tuple[Any, ...]:
    """What must be equal between two answers: all but per-request ids."""
    text = VOLATILE.sub(r'"\1":"…"', r.text)
    return r.status_code, r.headers.get("content-type"), r.headers.get("www-authenticate"), text
