"""`conntrack serve` as a real process: the state file through kill -9 with commits not
yet checkpointed and restarts, a graceful stop that writes the state first, and TLS with a client
that trusts only the CA the server wrote."""

from __future__ import annotations

import gc
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from conntrack._serve import serve

from .support import CONNTRACK, REDIRECT, Process, facebook_login, running, start


def control(base: str, method: str, path: str, **body: Any) -> Any:
    r = httpx.request(method, f"{base}/_conntrack/{path}", json=body or None, timeout=30)
    assert r.status_code < 300, r.text
    return r.json()


def facebook_token(base: str, client_id: str, secret: str, account_id: str) -> str:
    """A user token through the real login form and code exchange."""
    with httpx.Client(base_url=base, timeout=30) as http:
        return facebook_login(http, client_id, secret, account_id)


def reads_me(base: str, token: str) -> bool:
    r = httpx.get(f"{base}/graph.facebook.com/v21.0/me", params={"access_token": token}, timeout=30)
    return r.status_code == 200


class Storm:
    """Keeps the server busy with mutations (new accounts with pages) from a thread."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=5) as http:
            while not self.stop.is_set():
                try:
                    http.post("/_conntrack/accounts", json={"provider": "facebook", "pages": 3})
                except httpx.HTTPError:
                    return  # the server was killed

    def __enter__(self) -> Storm:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def _has_frames(wal: Path) -> bool:
    """Whether SQLite's write-ahead log holds commits (more than its 32-byte header)."""
    try:
        return wal.stat().st_size > 32
    except FileNotFoundError:
        return False


def kill_mid_save(server: Process, journal: Path, limit: float = 30) -> bool:
    """SIGKILL the server as soon as saves are under way (its write-ahead log holds
    commits); whether the log still held them after the kill (the restart must replay
    them)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if _has_frames(journal):
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(timeout=10)
            hot = _has_frames(journal)
            server.kill()  # and collect its output
            return hot
        time.sleep(0.0005)
    server.kill()
    raise AssertionError("no save happened while the server was busy")


def test_state_survives_kill_9_in_the_middle_of_saving(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    journal = tmp_path / "state.db-wal"
    hot = 0
    token = ""
    rounds = 3
    for n in range(rounds):
        server = start("--state", str(state), "--seed", "1")
        try:
            base = server.url
            if n == 0:
                app = control(base, "POST", "apps", provider="facebook", redirect_uris=[REDIRECT],
                              client_id="kept-app", client_secret="kept-secret")  # fmt: skip
                account = control(base, "POST", "accounts", provider="facebook", name="Kept One")
                token = facebook_token(base, app["client_id"], "kept-secret", account["id"])
            else:
                assert any("loaded the state" in line for line in server.lines)
            # What was made before the last restart is there, and its token still works.
            assert [a["client_id"] for a in control(base, "GET", "apps")["data"]] == ["kept-app"]
            assert reads_me(base, token)
            # A mark of this round, left time to be saved (at most a second), then a storm
            # of mutations and a kill -9 while they are being written.
            control(base, "POST", "accounts", provider="facebook", name=f"Round {n}", pages=0)
            time.sleep(2.5)
            with Storm(base):
                time.sleep(0.3)
                hot += kill_mid_save(server, journal)
        finally:
            server.kill()
    assert hot >= 1, "no kill landed inside a save: the test proved nothing"

    # Loads after every kill: the marks of every round, the first token still working.
    with running("--state", str(state)) as server:
        names = {a["name"] for a in control(server.url, "GET", "accounts")["data"]}
        assert {"Kept One", *(f"Round {n}" for n in range(rounds))} <= names
        assert reads_me(server.url, token)
        seq = control(server.url, "GET", "state")["seq"]
        assert seq > 0
    db = sqlite3.connect(state)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()


def test_kill_9_while_starting_leaves_the_state_loadable(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with running("--state", str(state)) as server:
        first = control(server.url, "POST", "accounts", provider="facebook")["id"]
        server.stop(signal.SIGTERM)
    for delay in (0.0, 0.2, 0.5, 1.0):
        proc = subprocess.Popen(
            [CONNTRACK, "serve", "--port", "0", "--state", str(state)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=10)
    with running("--state", str(state)) as server:
        assert control(server.url, "GET", f"accounts/{first}")["id"] == first


def test_a_stop_whose_writes_fail_does_not_say_the_state_was_saved(tmp_path: Path) -> None:
    """A full disk: the writes fail (said once on stderr) and the server goes on; at
    the stop it must not print "state saved to" nor exit 0 while what it could not
    write is lost."""
    state = tmp_path / "state.db"
    server = start("--state", str(state), "--providers", "facebook", max_file_size=256 * 1024)
    try:
        deadline = time.monotonic() + 60
        for _ in range(3000):
            if any("cannot save the state" in line for line in server.err):
                break
            if time.monotonic() > deadline:
                break
            control(server.url, "POST", "accounts", provider="facebook", name="A" * 2000)
        assert any("cannot save the state" in line for line in server.err), server.err
        code = server.stop()
    finally:
        server.kill()
    assert code == 1, server.err
    assert not any("state saved to" in line for line in server.err), server.err
    assert any(f"the state could not be saved to {state}" in line for line in server.err)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_graceful_stop_writes_the_state_first(tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C, SIGTERM (a service manager, ``docker stop``) and SIGHUP (the terminal
    closed, an ssh session dropped) each stop the server after its last write."""
    state = tmp_path / "state.db"
    server = start("--state", str(state))
    try:
        made = control(server.url, "POST", "accounts", provider="facebook")["id"]
        control(server.url, "POST", "clock/advance", by="3d")
        # At once: before the saver's next tick. The stop saves it all the same.
        assert server.stop(sig) == 0, server.err
    finally:
        server.kill()
    assert any("state saved to" in line for line in server.err), server.err
    with running("--state", str(state)) as again:
        assert control(again.url, "GET", f"accounts/{made}")["id"] == made
        now = control(again.url, "GET", "clock")["now"]
        assert now > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2 * 86400))


def test_tls_with_a_client_that_trusts_the_written_ca(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with running("--tls", "--state", str(state), "--providers", "facebook") as server:
        ca = tmp_path / "conntrack-ca.pem"  # beside the state file by default
        assert server.url.startswith("https://127.0.0.1:")
        assert any(str(ca) in line for line in server.lines), server.lines
        with httpx.Client(verify=ssl.create_default_context(cafile=ca), timeout=30) as trusting:
            assert trusting.get(f"{server.url}/_conntrack/health").json() == {"status": "ok"}
            # Host routing over TLS, the certificate checked against the provider host
            # (SNI), as for a client that resolves graph.facebook.com to 127.0.0.1.
            r = trusting.get(
                f"{server.url}/v21.0/me",
                headers={"Host": "graph.facebook.com"},
                extensions={"sni_hostname": "graph.facebook.com"},
            )
            assert r.status_code == 400 and r.json()["error"]["code"] == 2500
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{server.url}/_conntrack/health", timeout=30)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{server.url}/_conntrack/health", verify=ssl.create_default_context(),
                      timeout=30)  # fmt: skip
        first = ca.read_bytes()
        server.stop()
    # A restart on the same state signs with the same CA: clients keep trusting it.
    with running("--tls", "--state", str(state), "--providers", "facebook") as server:
        assert ca.read_bytes() == first
        assert any("the CA kept in the state file" in line for line in server.lines)
        r = httpx.get(f"{server.url}/_conntrack/health", verify=trust(ca), timeout=30)
        assert r.status_code == 200


def trust(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def test_tls_writes_the_ca_in_the_current_folder_by_default(tmp_path: Path) -> None:
    with running("--tls", "--providers", "linkedin", cwd=tmp_path) as server:
        ca = tmp_path / "conntrack-ca.pem"
        assert ca.exists()
        r = httpx.get(f"{server.url}/_conntrack/health", verify=trust(ca), timeout=30)
        assert r.status_code == 200
        # requests takes the path itself.
        assert requests.get(f"{server.url}/_conntrack/health", verify=str(ca), timeout=30).ok
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{server.url}/_conntrack/health", timeout=30)


def _serve_fails(*args: str) -> str:
    """``conntrack serve ARGS`` in a child with ResourceWarning shown: it must exit 2 at
    once; its stderr, stripped."""
    argv = [sys.executable, "-W", "always::ResourceWarning", "-X", "tracemalloc=1"]
    argv += ["-m", "conntrack.cli", "serve", *args]
    child = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert child.returncode == 2, child.stderr
    assert "listening" not in child.stdout
    return child.stderr.strip()


def test_a_port_in_use_is_one_line_and_leaves_no_socket_open() -> None:
    """hypercorn's own bind left the socket that failed to bind unclosed (a
    ResourceWarning at exit, one fd per try for a caller that retries)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = _serve_fails("--port", str(port))
    assert err == (
        f"conntrack: cannot listen on 127.0.0.1:{port}: Address already in use; choose "
        "another --port (0: any free one) or --host"
    )


def test_an_address_not_here_is_one_line_and_leaves_no_socket_open() -> None:
    """203.0.113.5 (TEST-NET-3) is on no interface of this machine."""
    token = "t" * 32  # no beyond-loopback warning: the one line is the error
    err = _serve_fails("--host", "203.0.113.5", "--port", "0", "--control-token", token)
    assert err.startswith("conntrack: cannot listen on 203.0.113.5:0: ")
    assert err.count("\n") == 0 and "--port" in err


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may bind a low port"
)
def test_a_low_port_without_permission_is_one_line() -> None:
    err = _serve_fails("--port", "1")
    assert err.startswith("conntrack: cannot listen on 127.0.0.1:1: Permission denied")
    assert err.count("\n") == 0


async def test_serve_closes_its_socket_when_the_bind_fails() -> None:
    """In-process: ``serve`` raises the OSError with no socket left behind, so a caller
    that tries the next port leaks nothing."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            with pytest.raises(OSError) as e:
                await serve("127.0.0.1", port)
            del e
            gc.collect()
