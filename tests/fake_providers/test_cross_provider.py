"""Every provider refuses every other provider's tokens (issue 11, item 4).

The matrix: every credential one provider issues — user, long-lived and page tokens,
OAuth 2.0 access and refresh tokens, OAuth 1.0a tokens, OpenID Connect id_tokens,
unspent authorization codes, and its app's ``{client_id}|{client_secret}`` (Facebook's
app-token spelling) — presented to every token-reading endpoint of every *other*
provider, under the catalog profiles and again under ``tiktok-2026`` with
``instagram-facebook`` (:data:`VARIANTS`). Each answer must be
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

from collections.abc import AsyncIterator, Awaitable

import httpx
import pytest
from cross_matrix import (
    BASE,
    CELLS,
    ENDPOINTS,
    KINDS,
    PAIRS,
    VARIANTS,
    World,
    answer,
    bearer,
    graph,
    mint,
    oidc_codes,
    unknown,
    variant_core,
    with_id_tokens,
)
from fp_support import PROVIDERS, ManualClock
from oauthlib.oauth1 import Client as Signer

from conntrack import load_profile
from fake_providers import Core, create_app


@pytest.fixture(params=list(VARIANTS))
async def world(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[World]:
    core = variant_core(clock, request.param)
    sides = {p: mint(core, p) for p in PROVIDERS}
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        w = World(core, client, sides)
        await with_id_tokens(w, oidc_codes(core, sides))
        yield w


def test_the_matrix_covers_every_provider_and_credential() -> None:
    assert {asker for asker, _ in ENDPOINTS.values()} == set(PROVIDERS)
    assert set(KINDS) == set(PROVIDERS)
    # The size of the matrix, under each of the VARIANTS (docs/integration/providers.md gives
    # these figures).
    assert len(ENDPOINTS) == 62 and len(PAIRS) == 310 and CELLS == 1439


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_another_providers_credential_is_answered_as_unknown(
    world: World, endpoint: str
) -> None:
    asker, ask = ENDPOINTS[endpoint]
    wrong = []
    for issuer in PROVIDERS:
        if issuer == asker:
            continue
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
        if kind not in ("code", "app", "id_token"):  # not tokens of the core
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
