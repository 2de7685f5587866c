"""``conntrack serve --state`` killed (SIGKILL) at 100 000 tokens, as issue 11 asks: a
state file of that size (made in a second by SQLite, not by a hundred thousand logins),
a real server on it, clients taking new tokens from the token endpoint, a kill -9 right
after an answer with other requests under way; then what the file holds is loaded and
every token a client received is looked up.

- ``--state-lag 0`` (strict): every answered token is there.
- the default ``--state-lag`` (20 ms): every token answered more than the documented
  bound before the kill is there (:data:`KILL_BOUND`, the lag and a margin for the write
  under way on a shared machine); those lost are counted.

Also at that size: a kill while the restart loads the file (the file loads whole
afterwards), and the restart's time to its "ready" line."""

from __future__ import annotations

import itertools
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conntrack._clock import TravelClock
from conntrack._serve import DEFAULT_STATE_LAG, prepare
from conntrack._statefile import StateFile
from fake_providers import Core

from .support import CONNTRACK, REDIRECT, Process, start

TOKENS = 100_000
#: What the default mode may lose, as a test on a shared machine can check it: the lag,
#: and a margin for the write under way and the scheduling of a busy machine.
KILL_BOUND = DEFAULT_STATE_LAG + 0.2
CLIENTS = 6
GRAPH = "/graph.facebook.com/v21.0"


@pytest.fixture(scope="module")
def big_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A closed state file with ``TOKENS`` long-lived Facebook tokens (one login made
    through the core, its long-lived token copied by SQLite with new values), and what a
    client needs to exchange more: app, secret, a short-lived token."""
    folder = tmp_path_factory.mktemp("big")
    path = folder / "state.db"
    server = prepare(state=path, providers=["facebook"], seed=7)
    try:
        core = server.core
        app = core.create_app_registration(
            "facebook", redirect_uris=[REDIRECT], client_id="app", client_secret="secret"
        )
        account = core.create_account("facebook").id
        scopes = ["pages_show_list"]
        code = core.approve(app.client_id, account, REDIRECT, requested=scopes, granted=scopes)
        short = core.exchange_code(code.value, client_id="app", redirect_uri=REDIRECT)
        long = core.exchange_long_lived(short.value, client_id="app")
        assert server.save(random=True)
    finally:
        server.close()
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO tokens (key, body) "
                "SELECT printf('EAAbulk%07d', i), replace(t.body, t.key, printf('EAAbulk%07d', i)) "
                "FROM n, (SELECT key, body FROM tokens WHERE key = ?) AS t",
                (TOKENS - 2, long.value),
            )
        (count,) = db.execute("SELECT count(*) FROM tokens").fetchone()
        assert count == TOKENS
    finally:
        db.close()
    yield path, {"client_id": "app", "client_secret": "secret", "short": short.value}


def _saved(path: Path) -> Core:
    """What the state file holds, loaded into a new core."""
    state = StateFile.open(path)
    try:
        core = Core(TravelClock())
        assert state.load(core) is not None
        return core
    finally:
        state.close()


def _under_load(
    server: Process, creds: dict[str, str], *, kill_after: int, at_least: float
) -> tuple[list[tuple[float, str]], float]:
    """``CLIENTS`` clients exchange tokens (``fb_exchange_token``: each answer a new
    token) back to back; SIGKILL once ``kill_after`` were answered and ``at_least``
    seconds passed, at whatever moment that is (requests under way, a write maybe). The tokens answered (with
    when) and when the kill was sent."""
    answered: list[tuple[float, str]] = []
    stop = threading.Event()
    params = {
        "grant_type": "fb_exchange_token",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "fb_exchange_token": creds["short"],
    }
    killed: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                try:
                    r = http.get(f"{GRAPH}/oauth/access_token", params=params)
                except httpx.HTTPError:
                    return  # killed
                assert r.status_code == 200, r.text
                with lock:
                    answered.append((time.monotonic(), r.json()["access_token"]))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        deadline = started + 90
        while time.monotonic() < deadline:
            if len(answered) >= kill_after and time.monotonic() - started >= at_least:
                # At whatever moment this is: inside a write, between two, mid-answer.
                with lock:
                    server.proc.send_signal(signal.SIGKILL)
                    killed.append(time.monotonic())
                break
            time.sleep(0.013)
        assert killed, f"the kill was never due: {len(answered)} tokens answered in 90 s"
        server.proc.wait(timeout=10)
    finally:
        stop.set()
        server.kill()
        for thread in threads:
            thread.join(timeout=15)
    return answered, killed[0]


def test_strict_kill_9_at_100_000_tokens_loses_no_answered_token(
    big_state: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """``--state-lag 0``: not one token a client received is missing after the kill; a
    kill while the restart loads the file loses nothing either."""
    source, creds = big_state
    path = tmp_path / "state.db"
    shutil.copy(source, path)
    server = start("--state", str(path), "--providers", "facebook", "--state-lag", "0")
    assert any(f"{TOKENS} tokens" in line for line in server.lines), server.lines
    answered, _ = _under_load(server, creds, kill_after=200, at_least=1.0)
    # Killed again while the next start reads the 100 000 tokens.
    start_and_kill(path, after=0.5)
    saved = _saved(path)
    lost = [v for _, v in answered if not saved.check_token(v).valid]
    print(f"strict: lost {len(lost)} of {len(answered)} answered tokens at {TOKENS} tokens")
    assert lost == [], f"{len(lost)} of {len(answered)} answered tokens lost on kill -9"
    assert len(saved._tokens) >= TOKENS + len(answered)


def test_default_kill_9_at_100_000_tokens_loses_only_the_bound(
    big_state: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """The default ``--state-lag``: every token answered more than :data:`KILL_BOUND`
    before the kill is there after it; the restart is ready, and the -wal replayed."""
    source, creds = big_state
    path = tmp_path / "state.db"
    shutil.copy(source, path)
    server = start("--state", str(path), "--providers", "facebook")
    answered, killed_at = _under_load(server, creds, kill_after=200, at_least=1.5)
    old = [v for at, v in answered if at <= killed_at - KILL_BOUND]
    assert len(old) >= 50, "too few tokens answered before the bound: the test proved nothing"
    began = time.monotonic()
    again = start("--state", str(path), "--providers", "facebook")
    ready = time.monotonic() - began
    again.stop(signal.SIGTERM)
    saved = _saved(path)
    lost = [(killed_at - at, v) for at, v in answered if not saved.check_token(v).valid]
    late = [v for age, v in lost if age > KILL_BOUND]
    oldest = max((age for age, _ in lost), default=0.0)
    print(
        f"default lag: lost {len(lost)} of {len(answered)} answered tokens at {TOKENS} "
        f"tokens, the oldest answered {oldest * 1000:.0f} ms before the kill; restart "
        f"ready in {ready:.2f} s"
    )
    assert late == [], (
        f"{len(late)} of {len(old)} tokens answered {KILL_BOUND} s before the kill lost"
    )


def start_and_kill(path: Path, *, after: float) -> subprocess.Popen[bytes]:
    """Start ``conntrack serve --state path`` and SIGKILL it ``after`` seconds, while it
    loads the file."""
    proc = subprocess.Popen(
        [CONNTRACK, "serve", "--port", "0", "--providers", "facebook", "--state", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(after)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    return proc


class _Poller:
    """Lists an account's tokens through the control API over and over (what a test
    harness watching one account does): each answer reads the whole token table."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.polls = 0

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as http:
            r = http.post("/_conntrack/accounts", json={"provider": "facebook"})
            account = r.json()["id"]
            while not self.stop.is_set():
                try:
                    r = http.get("/_conntrack/tokens", params={"account": account})
                except httpx.HTTPError:
                    return  # killed
                assert r.status_code == 200, r.text
                self.polls += 1
                time.sleep(0.2)

    def __enter__(self) -> _Poller:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.mark.parametrize("lag", ["0", "20"])
def test_kill_9_at_100_000_tokens_with_listings_under_way(
    big_state: tuple[Path, dict[str, str]], tmp_path: Path, lag: str
) -> None:
    """The same with a client listing tokens through the control API meanwhile: a read
    must not make a write of every token (seconds at this size) that a kill cuts short,
    losing tokens answered long before it, nor hold every answer back for seconds."""
    source, creds = big_state
    path = tmp_path / "state.db"
    shutil.copy(source, path)
    server = start("--state", str(path), "--providers", "facebook", "--state-lag", lag)
    with _Poller(server.url) as poller:
        answered, killed_at = _under_load(server, creds, kill_after=300, at_least=3.0)
    assert poller.polls >= 3, poller.polls
    times = sorted(at for at, _ in answered)
    stall = max(b - a for a, b in itertools.pairwise(times))
    saved = _saved(path)
    bound = KILL_BOUND if lag != "0" else 0.0
    lost = [(killed_at - at, v) for at, v in answered if not saved.check_token(v).valid]
    late = [v for age, v in lost if age > bound]
    oldest = max((age for age, _ in lost), default=0.0)
    print(
        f"--state-lag {lag} with listings: lost {len(lost)} of {len(answered)} answered, "
        f"the oldest {oldest * 1000:.0f} ms before the kill; {poller.polls} listings; "
        f"{len(answered) / (times[-1] - times[0]):.0f} tokens/s, the longest wait between "
        f"two answers {stall:.2f} s"
    )
    assert late == [], f"{len(late)} tokens answered more than {bound} s before the kill lost"
    # Before: each listing made the next write one of every token, seconds long, and
    # every answer waited for it (32 tokens/s, 4.3 s without an answer).
    assert stall < 2.5, f"no answer for {stall:.1f} s"
