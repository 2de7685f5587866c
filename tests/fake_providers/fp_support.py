"""Shared helpers for the fake-provider tests (imported by conftest and test modules;
pytest puts this directory on ``sys.path``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from fake_providers import Core

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, Pacific standard time
REDIRECT = "https://app.example/callback"
SCOPES = "pages_show_list,pages_read_engagement,pages_manage_posts"
VERIFIER = "dBjftJeZ4CK-P5zk0sIbR6w0Hv9lT2tyIpEdsnW8Zsga"
PROVIDERS = ["facebook", "instagram", "linkedin", "tiktok", "twitter", "google"]


class ManualClock:
    """A clock that moves only when told to; ``offset`` is how far it moved, as a
    ``TravelClock``'s offset is how far it travelled ahead of wall time."""

    def __init__(self, start: datetime = START) -> None:
        self.start = start
        self.t = start

    def now(self) -> datetime:
        return self.t

    @property
    def offset(self) -> timedelta:
        return self.t - self.start

    def advance(self, by: timedelta) -> None:
        self.t += by


class FixedClock:
    """A clock without ``advance``: the control API cannot move it."""

    def __init__(self, start: datetime = START) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t


def error_body(message: str, code: int, trace: str, subcode: int | None = None, **kw: Any) -> str:
    """The exact Graph error envelope, as Facebook writes it."""
    sub = "" if subcode is None else f',"error_subcode":{subcode}'
    kind = kw.get("type", "OAuthException")
    text = message.replace("/", "\\/").replace('"', '\\"')
    return (
        f'{{"error":{{"message":"{text}","type":"{kind}","code":{code}{sub},'
        f'"fbtrace_id":"{trace}"}}}}'
    )


@dataclass
class Reader:
    """One provider's sync read, with a working token minted through the core (its
    ``token`` and ``account``)."""

    provider: str
    read: Callable[[], Awaitable[httpx.Response]]
    token: str = ""
    account: Any = None


def mint(core: Core, protocol: str) -> tuple[str, Any]:
    app = core.create_app_registration(protocol, redirect_uris=[REDIRECT])
    account = core.create_account(protocol, pages=1)
    scopes = list(core.profile(protocol)["default_scopes"])
    code = core.approve(
        app.client_id, account.id, REDIRECT, requested=scopes, granted=scopes,
        code_challenge=VERIFIER, code_challenge_method="plain",
    )  # fmt: skip
    kw: dict[str, Any] = {
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    if protocol in ("facebook", "instagram"):
        return core.exchange_code(code.value, **kw).value, account
    return core.issue_from_code(code.value, **kw).access.value, account


def reader(
    core: Core, client: httpx.AsyncClient, provider: str, token: str | None = None
) -> Reader:
    """The read a sync makes, with a working token (or ``token`` if given)."""
    minted, account = mint(core, provider)
    sync = _reader(client, provider, minted if token is None else token, account)
    sync.token, sync.account = minted, account
    return sync


def _reader(client: httpx.AsyncClient, provider: str, token: str, account: Any) -> Reader:
    bearer = {"Authorization": f"Bearer {token}"}
    if provider == "facebook":
        return Reader(
            provider,
            lambda: client.get("/graph.facebook.com/v21.0/me", params={"access_token": token}),
        )
    if provider == "instagram":
        return Reader(
            provider, lambda: client.get("/graph.instagram.com/me", params={"access_token": token})
        )
    if provider == "linkedin":
        headers = {**bearer, "LinkedIn-Version": "202411", "X-Restli-Protocol-Version": "2.0.0"}
        params = {"q": "author", "author": f"urn:li:organization:{account.pages[0].id}"}
        return Reader(
            provider,
            lambda: client.get("/api.linkedin.com/rest/posts", params=params, headers=headers),
        )
    if provider == "tiktok":
        return Reader(
            provider,
            lambda: client.get(
                "/open.tiktokapis.com/v2/user/info/", params={"fields": "open_id"}, headers=bearer
            ),
        )
    if provider == "twitter":
        return Reader(provider, lambda: client.get("/api.x.com/2/users/me", headers=bearer))
    assert provider == "google"
    return Reader(
        provider,
        lambda: client.get(
            "/www.googleapis.com/youtube/v3/channels",
            params={"part": "snippet", "mine": "true"},
            headers=bearer,
        ),
    )
