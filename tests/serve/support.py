"""Shared helpers for the `conntrack serve` tests: a world with every kind of record, and
`conntrack serve` as a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx

from conntrack._profiles import load_profile
from conntrack._statefile import StateFile
from fake_providers import Core

REDIRECT = "https://app.example.test/callback"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ManualClock:
    """A clock that moves only when told to (``advance`` like a TravelClock)."""

    def __init__(self, start: datetime = START) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t

    def advance(self, by: timedelta) -> None:
        self.t += by


def facebook_login(http: httpx.Client, client_id: str, secret: str, account_id: str) -> str:
    """A Facebook user token through the real login form and the token endpoint."""
    r = http.post(
        "/www.facebook.com/v21.0/dialog/oauth",
        data={
            "client_id": client_id, "redirect_uri": REDIRECT, "state": "s",
            "scope": "pages_show_list", "response_type": "code", "account_id": account_id,
            "granted": "pages_show_list", "action": "approve",
        },
    )  # fmt: skip
    assert r.status_code == 302, r.text
    code = httpx.URL(r.headers["location"]).params["code"]
    r = http.get(
        "/graph.facebook.com/v21.0/oauth/access_token",
        params={"client_id": client_id, "client_secret": secret, "redirect_uri": REDIRECT,
                "code": code},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def populate(core: Core) -> dict[str, Any]:
    """Give ``core`` one of every kind of record (apps, accounts with pages and linked
    Instagram accounts, grants, used and unused codes, short/long/page tokens, refresh
    tokens rotated and not, OAuth 1.0a request and access tokens, a revoked family,
    events, a removed grant, a fault); answers the values the tests reuse."""
    out: dict[str, Any] = {}

    def app(provider: str, **kw: Any) -> str:
        return core.create_app_registration(provider, redirect_uris=[REDIRECT], **kw).client_id

    def code(cid: str, aid: str, provider: str, **kw: Any) -> str:
        scopes = list(core.profile(provider).get("default_scopes", ["basic"]))
        return core.approve(cid, aid, REDIRECT, requested=scopes, granted=scopes, **kw).value

    # Facebook: short → long → page token; a linked Instagram account; an event.
    fb = app("facebook", client_id="fb-app", client_secret="fb-secret")
    admin = core.create_account("facebook", pages=2, linked_instagram=True)
    short = core.exchange_code(code(fb, admin.id, "facebook"), client_id=fb, redirect_uri=REDIRECT)
    long = core.exchange_long_lived(short.value, client_id=fb)
    page = core.page_token(long.value, admin.pages[0].id)
    out["facebook"] = {"app": fb, "account": admin.id, "long": long.value, "page": page.value}
    other = core.create_account("facebook", pages=1)
    dead = core.exchange_code(code(fb, other.id, "facebook"), client_id=fb, redirect_uri=REDIRECT)
    core.fire_event(other.id, "password_change")
    core.fire_event(other.id, "checkpoint")
    out["facebook"]["dead"] = dead.value
    out["unused_code"] = code(fb, admin.id, "facebook")

    # LinkedIn: access + refresh (not rotating); a refresh.
    li = app("linkedin")
    person = core.create_account("linkedin")
    pair = core.issue_from_code(
        code(li, person.id, "linkedin"), client_id=li, redirect_uri=REDIRECT
    )
    assert pair.refresh is not None
    again = core.refresh(pair.refresh.value, client_id=li)
    out["linkedin"] = {"app": li, "access": again.access.value, "refresh": pair.refresh.value}

    # TikTok: rotating refresh (tiktok-2026 profile is set up by the caller's core, or not).
    tt = app("tiktok")
    creator = core.create_account("tiktok")
    pair = core.issue_from_code(code(tt, creator.id, "tiktok"), client_id=tt, redirect_uri=REDIRECT)
    assert pair.refresh is not None
    out["tiktok"] = {"app": tt, "refresh": pair.refresh.value}

    # X: OAuth 1.0a, an approved request token not yet exchanged, and a spent one.
    x = app("twitter")
    tweeter = core.create_account("twitter")
    request = core.oauth1_request_token(x, "oob")
    verifier = core.oauth1_authorize(request.value, tweeter.id, scopes=["tweet.read"])
    oauth1 = core.oauth1_access_token(request.value, verifier, x)
    pending = core.oauth1_request_token(x, "https://app.example.test/cb")
    out["twitter"] = {
        "app": x,
        "token": oauth1.value,
        "secret": oauth1.secret,
        "pending": pending.value,
    }

    # Google in Testing mode, with a revoked family.
    g = app("google", publishing_status="testing")
    viewer = core.create_account("google")
    pair = core.issue_from_code(code(g, viewer.id, "google"), client_id=g, redirect_uri=REDIRECT)
    assert pair.refresh is not None
    revoked = core.issue_from_code(code(g, viewer.id, "google"), client_id=g, redirect_uri=REDIRECT)
    core.revoke(revoked.access.value)
    core.fire_event(viewer.id, "app_removed", client_id=g)
    out["google"] = {"app": g, "refresh": pair.refresh.value}

    # Instagram Login: a long-lived token that refreshes itself.
    ig = app("instagram")
    creator_ig = core.create_account("instagram")
    short = core.exchange_code(
        code(ig, creator_ig.id, "instagram"), client_id=ig, redirect_uri=REDIRECT
    )
    out["instagram"] = {"long": core.exchange_long_lived(short.value, client_id=ig).value}

    # A deleted account whose page goes with it (nobody else administers it).
    gone = core.create_account("facebook", pages=1)
    core.exchange_code(code(fb, gone.id, "facebook"), client_id=fb, redirect_uri=REDIRECT)
    core.delete_account(gone.id)
    out["deleted"] = gone.id

    core.add_fault("tiktok", "outage", for_=timedelta(hours=6))
    core.add_fault("linkedin", "rate_limit", count=3)
    return out


def tiktok_2026() -> dict[str, Any]:
    return {"tiktok": load_profile("tiktok-2026")}


# -- `conntrack serve` as a process --------------------------------------------------------


def _drain(pipe: IO[str], into: list[str]) -> None:
    try:
        for line in pipe:
            into.append(line.rstrip("\n"))
    finally:
        pipe.close()


@dataclass
class Process:
    """A running `conntrack serve`: its process, base URL and what it printed (stdout in
    ``lines``, stderr in ``err``, both still filling while it runs)."""

    proc: subprocess.Popen[str]
    url: str
    lines: list[str]
    err: list[str]
    readers: list[threading.Thread] = field(default_factory=list)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        """Send ``sig`` (Ctrl-C by default), wait for the end and the last output."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=10)
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


CONNTRACK = str(Path(sys.executable).parent / "conntrack")


def start(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 60,
    max_file_size: int | None = None,
) -> Process:
    """Start `conntrack serve --port 0 ARGS…` and wait for its "ready" line;
    ``max_file_size``: no file of the process may grow past it (a full disk)."""

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_size, max_file_size))

    proc = subprocess.Popen(
        [CONNTRACK, "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=None if max_file_size is None else limit,
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    err: list[str] = []
    errors = threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)
    errors.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            match = re.search(r"ready: (https?://\S+)", line)
            if match:
                rest = threading.Thread(target=_drain, args=(proc.stdout, lines), daemon=True)
                rest.start()
                return Process(proc, match.group(1), lines, err, [errors, rest])
    finally:
        timer.cancel()
    proc.wait(timeout=10)
    proc.stdout.close()
    errors.join(timeout=10)
    raise AssertionError(f"conntrack serve did not start: {lines} {err}")


@contextmanager
def running(*args: str, cwd: Path | None = None) -> Iterator[Process]:
    """A `conntrack serve` for the ``with`` block; killed after it if still running."""
    server = start(*args, cwd=cwd)
    try:
        yield server
    finally:
        server.kill()


def populated_state_file(path: Path) -> Core:
    """Write a state file at ``path`` with one of every kind of record (:func:`populate`)
    and close it; answers the core it was made of."""
    clock = ManualClock()
    state = StateFile.open(path)
    core = Core(clock, seed=4)
    state.load(core)
    state.attach(core)
    populate(core)
    state.flush(clock_offset=timedelta(0), now=clock.now(), random=True)
    state.close()
    return core
