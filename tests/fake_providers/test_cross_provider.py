"""Every provider refuses every other provider's tokens (issue 11, item 4).

The matrix: every credential one provider issues — user, long-lived and page tokens,
OAuth 2.0 access and refresh tokens, OAuth 1.0a tokens, unspent authorization codes —
presented to every token-reading endpoint of every *other* provider. Each answer must be
the one that endpoint gives a string it never issued of the same shape (the credential
with its last character changed): the same status, content type, ``WWW-Authenticate``
and body, but for per-request trace ids. The credentials are minted through the core, as
the providers' flows mint them.

The crossings real providers allow stay open (:func:`test_allowed_crossings`): Instagram
through Facebook Login is the Facebook protocol (its user and page tokens read
graph.facebook.com, the Instagram account nodes included: PROVIDERS.md §2b); one Google
token serves every Google host (userinfo, tokeninfo, YouTube); X's tokens serve
api.x.com and api.twitter.com, OAuth 1.0a ones v1.1 and v2; TikTok's two profiles are
one protocol, one profile in force at a time.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fp_support import PROVIDERS, REDIRECT, VERIFIER, ManualClock
from oauthlib.oauth1 import Client as Signer

from conntrack import load_profile
from fake_providers import Account, App, Core, create_app

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
    core: Core
    client: httpx.AsyncClient
    sides: dict[str, Side]


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
    return side


@pytest.fixture
async def world(clock: ManualClock) -> AsyncIterator[World]:
    core = Core(clock, seed=11)
    sides = {p: mint(core, p) for p in PROVIDERS}
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield World(core, client, sides)


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
    uri, headers, _ = signer.sign(BASE + path, method)
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

#: The credentials each provider issues (as :func:`mint` makes them).
KINDS = {
    "facebook": ("user", "long", "page", "code"),
    "instagram": ("user", "long", "code"),
    "linkedin": ("access", "refresh", "code"),
    "tiktok": ("access", "refresh", "code"),
    "twitter": ("access", "refresh", "oauth1", "code"),
    "google": ("access", "refresh", "code"),
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


def test_the_matrix_covers_every_provider_and_credential() -> None:
    assert {asker for asker, _ in ENDPOINTS.values()} == set(PROVIDERS)
    assert set(KINDS) == set(PROVIDERS)
    assert len(ENDPOINTS) == 33 and len(PAIRS) == 165 and CELLS == 548


@pytest.mark.parametrize(("endpoint", "issuer"), PAIRS)
async def test_another_providers_credential_is_answered_as_unknown(
    world: World, endpoint: str, issuer: str
) -> None:
    asker, ask = ENDPOINTS[endpoint]
    wrong = []
    for kind in KINDS[issuer]:
        value = world.sides[issuer].creds[kind]
        seq = world.core.seq
        expected = answer(await ask(world, unknown(value)))
        got = answer(await ask(world, value))
        if got != expected:
            wrong.append(f"{issuer} {kind} at {endpoint}: {got} instead of {expected}")
        elif world.core.seq != seq:
            wrong.append(f"{issuer} {kind} at {endpoint} changed the core (seq {seq} → …)")
    assert not wrong, "\n".join(wrong)
    # The asker's own credentials are untouched: the foreign ones did not revoke them.
    for kind, value in world.sides[asker].creds.items():
        if kind != "code":
            assert world.core.check_token(value).valid, (asker, kind)


# -- the crossings real providers allow ---------------------------------------------------


async def test_allowed_crossings(world: World) -> None:
    """One provider's tokens at each of its own hosts and APIs answer 200."""
    fb, ig, li, tt, x, g = (world.sides[p].creds for p in PROVIDERS)
    page = world.sides["facebook"].page_id
    allowed: list[tuple[str, str, Awaitable[httpx.Response]]] = [
        ("facebook user", "graph me", graph(world, "me", access_token=fb["user"])),
        ("facebook long", "graph me", graph(world, "me", access_token=fb["long"])),
        ("facebook page", "graph page", graph(world, page, access_token=fb["page"])),
        ("facebook long", "debug_token", ENDPOINTS["fb-debug-input"][1](world, fb["page"])),
        ("instagram long", "graph.instagram me", ENDPOINTS["ig-me"][1](world, ig["long"])),
        ("linkedin access", "rest/posts", ENDPOINTS["li-posts"][1](world, li["access"])),
        ("tiktok access", "user/info", ENDPOINTS["tt-user-info"][1](world, tt["access"])),
        ("x access", "api.x.com", ENDPOINTS["x-me"][1](world, x["access"])),
        (
            "x access",
            "api.twitter.com",
            world.client.get("/api.twitter.com/2/users/me", headers=bearer(x["access"])),
        ),
        ("google access", "userinfo", ENDPOINTS["g-userinfo"][1](world, g["access"])),
        ("google access", "youtube", ENDPOINTS["g-channels"][1](world, g["access"])),
        (
            "google access",
            "youtube.googleapis.com",
            world.client.get(
                "/youtube.googleapis.com/youtube/v3/channels",
                params={"part": "id", "mine": "true"},
                headers=bearer(g["access"]),
            ),
        ),
        ("google access", "tokeninfo", ENDPOINTS["g-tokeninfo"][1](world, g["access"])),
    ]
    for credential, where, request in allowed:
        r = await request
        assert r.status_code == 200, (credential, where, r.text)


async def test_oauth1_tokens_serve_v1_and_v2(world: World) -> None:
    """X's OAuth 1.0a token, signed with its own secret, reads v1.1 and v2."""
    side = world.sides["twitter"]
    token = world.core.token(side.creds["oauth1"])
    assert token is not None and token.secret is not None
    signer = Signer(
        side.app.client_id, side.app.client_secret,
        resource_owner_key=token.value, resource_owner_secret=token.secret,
    )  # fmt: skip
    for path in ("/api.x.com/1.1/account/verify_credentials.json", "/api.x.com/2/users/me"):
        uri, headers, _ = signer.sign(BASE + path, "GET")
        r = await world.client.get(uri, headers=headers)
        assert r.status_code == 200, (path, r.text)


async def test_instagram_through_facebook_login_reads_the_graph(clock: ManualClock) -> None:
    """With the ``instagram-facebook`` profile, Facebook Login's user and page tokens read
    graph.facebook.com — the user, the Page and the linked Instagram account — and
    graph.instagram.com refuses them as unparseable (PROVIDERS.md §2b)."""
    core = Core(clock, seed=5, profiles={"instagram-facebook": load_profile("instagram-facebook")})
    side = mint(core, "facebook")
    ig = core.create_account("instagram")
    core.link_instagram(ig.id, side.page_id)
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        w = World(core, client, {"facebook": side})
        for kind in ("user", "long", "page"):
            value = side.creds[kind]
            node = "me" if kind != "page" else side.page_id
            for path in (node, ig.id):
                r = await graph(w, path, access_token=value)
                assert r.status_code == 200, (kind, path, r.text)
            r = await client.get("/graph.instagram.com/me", params={"access_token": value})
            ref = await client.get(
                "/graph.instagram.com/me", params={"access_token": unknown(value)}
            )
            assert answer(r) == answer(ref)
            assert r.json()["error"]["message"] == (
                "Invalid OAuth access token - Cannot parse access token"
            )


@pytest.mark.parametrize("owner", [p for p in PROVIDERS if p not in ("facebook", "instagram")])
async def test_the_graph_has_no_other_providers_pages(world: World, owner: str) -> None:
    """A Facebook token reads a LinkedIn organization, a YouTube channel, a TikTok profile
    or an X timeline by id as an id that does not exist (it read its name before)."""
    page_id = world.sides[owner].page_id
    absent = unknown(page_id)
    assert world.core.page(absent) is None
    token = world.sides["facebook"].creds["long"]
    r = await graph(world, page_id, access_token=token, fields="name,category")
    ref = await graph(world, absent, access_token=token, fields="name,category")
    assert r.status_code == 400
    assert str(answer(r)).replace(page_id, "ID") == str(answer(ref)).replace(absent, "ID")


async def test_tiktoks_two_profiles_are_one_provider(clock: ManualClock) -> None:
    """``tiktok-2026`` serves the TikTok protocol in place of ``tiktok`` (one profile per
    protocol): its tokens are TikTok's, and another provider's are still unknown."""
    core = Core(clock, seed=9, profiles={"tiktok": load_profile("tiktok-2026")})
    tiktok, linkedin = mint(core, "tiktok"), mint(core, "linkedin")
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        w = World(core, client, {"tiktok": tiktok, "linkedin": linkedin})
        _, ask = ENDPOINTS["tt-user-info"]
        assert (await ask(w, tiktok.creds["access"])).status_code == 200
        foreign = linkedin.creds["access"]
        assert answer(await ask(w, foreign)) == answer(await ask(w, unknown(foreign)))
