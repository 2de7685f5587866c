"""The cross-provider matrix against a real ``conntrack serve`` (issue 11, item 4).

The credentials are minted in a core on the wall clock and saved to a state file
(``serve --state``); the server started from it answers ``cross_matrix`` over loopback
HTTP: the issue's own attack first (LinkedIn, TikTok, X and Google access tokens at
``graph.facebook.com/v21.0/me``, by path and by ``Host`` header, as a hosts entry or a
proxy sends it), then every endpoint with a credential of every other provider, each
kind of credential in turn (the in-process test, ``test_cross_provider.py``, runs
every cell; over HTTP one kind per endpoint and provider keeps this test quick). Nothing may change: the server's token listing is the same before and after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trio
from cross_matrix import ENDPOINTS, KINDS, World, answer, mint, oidc_codes, unknown, with_id_tokens
from fp_support import PROVIDERS, ManualClock
from serve.support import running

from conntrack._statefile import StateFile
from fake_providers import Core


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[World]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    core = Core(clock, seed=11)
    state = StateFile.open(tmp_path / "state.db")
    state.attach(core)
    sides = {p: mint(core, p) for p in PROVIDERS}
    codes = oidc_codes(core, sides)
    assert state.flush(clock_offset=timedelta(0), now=clock.now())
    state.close()
    with running("--state", str(tmp_path / "state.db")) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            w = World(core, client, sides, base=server.url)
            await with_id_tokens(w, codes)
            yield w


async def listing(w: World) -> list[tuple[object, ...]]:
    """Every token the server keeps, with what a use could change (not ``expires_in``,
    which the wall clock moves)."""
    r = await w.client.get("/_conntrack/tokens")
    assert r.status_code == 200, r.text
    keys = ("token", "kind", "family", "seq", "valid", "expires_at", "refresh")
    return [tuple(t[k] for k in keys) for t in r.json()["data"]]


async def the_issues_attack(served: World) -> None:
    """``GET graph.facebook.com/v21.0/me`` with a LinkedIn, TikTok, X or Google token
    answered 200 with that account's id and name; now it is an unparseable token."""
    for issuer in ("linkedin", "tiktok", "twitter", "google"):
        value = served.sides[issuer].creds["access"]
        r = await served.client.get("/graph.facebook.com/v21.0/me", params={"access_token": value})
        assert r.status_code == 400, (issuer, r.text)
        error = r.json()["error"]
        assert (error["code"], error["type"]) == (190, "OAuthException"), issuer
        assert error["message"] == "Invalid OAuth access token - Cannot parse access token"
        # By Host header, as through a hosts entry or a proxy.
        r = await served.client.get(
            "/v21.0/me", params={"access_token": value}, headers={"Host": "graph.facebook.com"}
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == 190, (issuer, r.text)


async def test_the_matrix_over_http(served: World) -> None:
    before = await listing(served)
    await the_issues_attack(served)
    wrong: list[str] = []
    cells = 0
    limiter = trio.CapacityLimiter(6)

    async def cell(endpoint: str, issuer: str, kind: str) -> None:
        ask = ENDPOINTS[endpoint][1]
        value = served.sides[issuer].creds[kind]
        async with limiter:
            expected = answer(await ask(served, unknown(value)))
            got = answer(await ask(served, value))
        if got != expected:
            wrong.append(f"{issuer} {kind} at {endpoint}: {got} instead of {expected}")

    async with trio.open_nursery() as nursery:
        for e, (endpoint, (asker, _)) in enumerate(ENDPOINTS.items()):
            for i, issuer in enumerate(PROVIDERS):
                if issuer == asker:
                    continue
                kinds = KINDS[issuer]
                nursery.start_soon(cell, endpoint, issuer, kinds[(e + i) % len(kinds)])
                cells += 1
    assert not wrong, "\n".join(sorted(wrong))
    assert cells == len(ENDPOINTS) * (len(PROVIDERS) - 1)
    assert await listing(served) == before  # nothing issued, spent or revoked
