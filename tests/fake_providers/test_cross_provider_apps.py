"""Every provider refuses every other provider's *apps* (issue 11, item 4).

A client id (and its secret) registered with provider A, sent to provider B's
authorization page, token endpoint (code, refresh, client-credentials and long-lived
grants), introspection, revocation and OAuth 1.0a request-token endpoints, must be
answered exactly as a client id B never issued: the same status, content type,
``WWW-Authenticate`` and body (per-request trace ids and the client id itself
blanked). B's own code or refresh token rides along, so the app is the only thing
wrong: nothing may be spent or issued (``core.seq`` does not move).

Facebook's app token ``{app-id}|{app-secret}`` of another provider's app is in the
token matrix (``cross_matrix.KINDS``, kind ``app``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from cross_matrix import BASE, VARIANTS, World, mint, variant_core
from fp_support import PROVIDERS, REDIRECT, VERIFIER, ManualClock
from oauthlib.oauth1 import Client as Signer

from fake_providers import App, create_app

#: Per-request ids that differ between two identical answers.
VOLATILE = re.compile(r'"(fbtrace_id|log_id)":"[^"]*"')


@pytest.fixture(params=list(VARIANTS))
async def world(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[World]:
    core = variant_core(clock, request.param)
    sides = {p: mint(core, p) for p in PROVIDERS}
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield World(core, client, sides)


#: A call of provider B's endpoint as app (client id, secret) would make it.
Call = Callable[[World, str, str], Awaitable[httpx.Response]]


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def own(w: World, provider: str, kind: str) -> str:
    """Provider B's own credential of ``kind`` (its code or refresh token)."""
    return w.sides[provider].creds[kind]


def page(w: World, url: str, **params: str) -> Awaitable[httpx.Response]:
    return w.client.get(url, params={"redirect_uri": REDIRECT, "state": "s", **params})


async def request_token(w: World, cid: str, secret: str) -> httpx.Response:
    signer = Signer(cid, secret, callback_uri=REDIRECT)
    uri, headers, _ = signer.sign(BASE + "/api.x.com/oauth/request_token", "POST")
    return await w.client.post(uri, headers=headers)


ENDPOINTS: dict[str, tuple[str, Call]] = {
    "fb-dialog": (
        "facebook",
        lambda w, cid, s: page(
            w, "/www.facebook.com/v21.0/dialog/oauth", client_id=cid, scope="email"
        ),
    ),
    "fb-code": (
        "facebook",
        lambda w, cid, s: w.client.get(
            "/graph.facebook.com/v21.0/oauth/access_token",
            params={
                "client_id": cid,
                "client_secret": s,
                "redirect_uri": REDIRECT,
                "code": own(w, "facebook", "code"),
            },
        ),
    ),
    "fb-client-credentials": (
        "facebook",
        lambda w, cid, s: w.client.get(
            "/graph.facebook.com/v21.0/oauth/access_token",
            params={"client_id": cid, "client_secret": s, "grant_type": "client_credentials"},
        ),
    ),
    "fb-exchange": (
        "facebook",
        lambda w, cid, s: w.client.get(
            "/graph.facebook.com/v21.0/oauth/access_token",
            params={
                "client_id": cid,
                "client_secret": s,
                "grant_type": "fb_exchange_token",
                "fb_exchange_token": own(w, "facebook", "user"),
            },
        ),
    ),
    "ig-authorize": (
        "instagram",
        lambda w, cid, s: page(
            w,
            "/www.instagram.com/oauth/authorize",
            client_id=cid,
            response_type="code",
            scope="instagram_business_basic",
        ),
    ),
    "ig-code": (
        "instagram",
        lambda w, cid, s: w.client.post(
            "/api.instagram.com/oauth/access_token",
            data={
                "client_id": cid,
                "client_secret": s,
                "grant_type": "authorization_code",
                "redirect_uri": REDIRECT,
                "code": own(w, "instagram", "code"),
            },
        ),
    ),
    "li-authorize": (
        "linkedin",
        lambda w, cid, s: page(
            w,
            "/www.linkedin.com/oauth/v2/authorization",
            client_id=cid,
            response_type="code",
            scope="r_organization_social",
        ),
    ),
    "li-code": (
        "linkedin",
        lambda w, cid, s: w.client.post(
            "/www.linkedin.com/oauth/v2/accessToken",
            data={
                "grant_type": "authorization_code",
                "code": own(w, "linkedin", "code"),
                "redirect_uri": REDIRECT,
                "client_id": cid,
                "client_secret": s,
            },
        ),
    ),
    "li-refresh": (
        "linkedin",
        lambda w, cid, s: w.client.post(
            "/www.linkedin.com/oauth/v2/accessToken",
            data={
                "grant_type": "refresh_token",
                "refresh_token": own(w, "linkedin", "refresh"),
                "client_id": cid,
                "client_secret": s,
            },
        ),
    ),
    "li-introspect": (
        "linkedin",
        lambda w, cid, s: w.client.post(
            "/www.linkedin.com/oauth/v2/introspectToken",
            data={"token": own(w, "linkedin", "access"), "client_id": cid, "client_secret": s},
        ),
    ),
    "li-revoke": (
        "linkedin",
        lambda w, cid, s: w.client.post(
            "/www.linkedin.com/oauth/v2/revoke",
            data={"token": own(w, "linkedin", "access"), "client_id": cid, "client_secret": s},
        ),
    ),
    "tt-authorize": (
        "tiktok",
        lambda w, cid, s: page(
            w,
            "/www.tiktok.com/v2/auth/authorize/",
            client_key=cid,
            response_type="code",
            scope="user.info.basic",
            code_challenge=VERIFIER,
            code_challenge_method="S256",
        ),
    ),
    "tt-code": (
        "tiktok",
        lambda w, cid, s: w.client.post(
            "/open.tiktokapis.com/v2/oauth/token/",
            data={
                "grant_type": "authorization_code",
                "code": own(w, "tiktok", "code"),
                "redirect_uri": REDIRECT,
                "code_verifier": VERIFIER,
                "client_key": cid,
                "client_secret": s,
            },
        ),
    ),
    "tt-refresh": (
        "tiktok",
        lambda w, cid, s: w.client.post(
            "/open.tiktokapis.com/v2/oauth/token/",
            data={
                "grant_type": "refresh_token",
                "refresh_token": own(w, "tiktok", "refresh"),
                "client_key": cid,
                "client_secret": s,
            },
        ),
    ),
    "tt-revoke": (
        "tiktok",
        lambda w, cid, s: w.client.post(
            "/open.tiktokapis.com/v2/oauth/revoke/",
            data={"token": own(w, "tiktok", "access"), "client_key": cid, "client_secret": s},
        ),
    ),
    "x-authorize": (
        "twitter",
        lambda w, cid, s: page(
            w,
            "/x.com/i/oauth2/authorize",
            client_id=cid,
            response_type="code",
            scope="tweet.read users.read",
            code_challenge=VERIFIER,
            code_challenge_method="plain",
        ),
    ),
    "x-code-basic": (
        "twitter",
        lambda w, cid, s: w.client.post(
            "/api.x.com/2/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": own(w, "twitter", "code"),
                "redirect_uri": REDIRECT,
                "code_verifier": VERIFIER,
            },
            headers=basic(cid, s),
        ),
    ),
    "x-code-public": (
        "twitter",
        lambda w, cid, s: w.client.post(
            "/api.x.com/2/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": own(w, "twitter", "code"),
                "redirect_uri": REDIRECT,
                "code_verifier": VERIFIER,
                "client_id": cid,
            },
        ),
    ),
    "x-refresh": (
        "twitter",
        lambda w, cid, s: w.client.post(
            "/api.x.com/2/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": own(w, "twitter", "refresh")},
            headers=basic(cid, s),
        ),
    ),
    "x-revoke": (
        "twitter",
        lambda w, cid, s: w.client.post(
            "/api.x.com/2/oauth2/revoke",
            data={"token": own(w, "twitter", "access")},
            headers=basic(cid, s),
        ),
    ),
    "x-request-token": ("twitter", request_token),
    "g-auth": (
        "google",
        lambda w, cid, s: page(
            w,
            "/accounts.google.com/o/oauth2/v2/auth",
            client_id=cid,
            response_type="code",
            scope="openid email",
            access_type="offline",
        ),
    ),
    "g-code": (
        "google",
        lambda w, cid, s: w.client.post(
            "/oauth2.googleapis.com/token",
            data={
                "grant_type": "authorization_code",
                "code": own(w, "google", "code"),
                "redirect_uri": REDIRECT,
                "code_verifier": VERIFIER,
                "client_id": cid,
                "client_secret": s,
            },
        ),
    ),
    "g-code-basic": (
        "google",
        lambda w, cid, s: w.client.post(
            "/oauth2.googleapis.com/token",
            data={
                "grant_type": "authorization_code",
                "code": own(w, "google", "code"),
                "redirect_uri": REDIRECT,
                "code_verifier": VERIFIER,
            },
            headers=basic(cid, s),
        ),
    ),
    "g-refresh": (
        "google",
        lambda w, cid, s: w.client.post(
            "/oauth2.googleapis.com/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": own(w, "google", "refresh"),
                "client_id": cid,
                "client_secret": s,
            },
        ),
    ),
}


def stranger(app: App) -> str:
    """A client id of the same shape that no provider registered."""
    value = app.client_id
    return value[:-1] + ("7" if value[-1] != "7" else "8")


def answer(r: httpx.Response, *blank: str) -> tuple[Any, ...]:
    """What must be equal between two answers: all but per-request ids and the client id
    the request named (a page may echo it)."""
    text = VOLATILE.sub(r'"\1":"…"', r.text)
    location = r.headers.get("location", "")
    for value in blank:
        text, location = text.replace(value, "CLIENT"), location.replace(value, "CLIENT")
    auth = r.headers.get("www-authenticate")
    return r.status_code, r.headers.get("content-type"), auth, location, text


def test_every_provider_has_its_app_endpoints() -> None:
    assert {asker for asker, _ in ENDPOINTS.values()} == set(PROVIDERS)
    assert len(ENDPOINTS) == 25


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_another_providers_app_is_an_unknown_app(world: World, endpoint: str) -> None:
    asker, call = ENDPOINTS[endpoint]
    wrong = []
    for owner in PROVIDERS:
        if owner == asker:
            continue
        app = world.sides[owner].app
        seq = world.core.seq
        ghost = stranger(app)
        expected = answer(await call(world, ghost, app.client_secret), ghost)
        got = answer(await call(world, app.client_id, app.client_secret), app.client_id)
        if got != expected:
            wrong.append(f"{owner}'s app at {endpoint}: {got} instead of {expected}")
        elif world.core.seq != seq:
            wrong.append(f"{owner}'s app at {endpoint} changed the core")
    assert not wrong, "\n".join(wrong)
    # The endpoint does look at the app: its own app is not answered as an unknown one.
    mine = world.sides[asker].app
    ghost = stranger(mine)
    theirs = answer(await call(world, ghost, mine.client_secret), ghost)
    assert answer(await call(world, mine.client_id, mine.client_secret), mine.client_id) != theirs
