"""`conntrack serve` against a hostile web page (issue 11 item 5), over real HTTP on
127.0.0.1: the Host allow-list (``--allow-host``), the control token
(``--control-token``, ``CONNTRACK_CONTROL_TOKEN``) and the warning for a server bound
beyond loopback without one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conntrack._serve import bind_warning, prepare
from conntrack.cli import main

from .support import start


def test_unknown_hosts_are_refused_and_allowed_ones_answered() -> None:
    server = start("--providers", "facebook", "--allow-host", "fakes.internal",
                   "--allow-host", "Other.Example")  # fmt: skip
    try:
        for host in ("rebind.evil.example", "evil.example:8400"):
            r = httpx.get(f"{server.url}/_conntrack/state", headers={"Host": host})
            assert r.status_code == 421, r.text
            assert "--allow-host" in r.json()["error"]["message"]
        port = server.url.rsplit(":", 1)[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "fakes.internal",
                     f"other.example:{port}", "app.localhost"):  # fmt: skip
            r = httpx.get(f"{server.url}/_conntrack/state", headers={"Host": host})
            assert r.status_code == 200, (host, r.text)
        r = httpx.get(f"{server.url}/v21.0/me", headers={"Host": "graph.facebook.com"})
        assert r.status_code == 400 and r.json()["error"]["type"] == "OAuthException"
    finally:
        server.stop()


def test_a_control_token_from_the_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for args, env in (
        (["--control-token", "opt-token"], None),
        ([], "opt-token"),
    ):
        if env is None:
            monkeypatch.delenv("CONNTRACK_CONTROL_TOKEN", raising=False)
        else:
            monkeypatch.setenv("CONNTRACK_CONTROL_TOKEN", env)
        server = start("--providers", "facebook", *args)
        try:
            base = server.url
            assert httpx.get(f"{base}/_conntrack/health").status_code == 200
            r = httpx.post(f"{base}/_conntrack/accounts", json={"provider": "facebook"})
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
            bearer = {"Authorization": "Bearer opt-token"}
            r = httpx.post(
                f"{base}/_conntrack/accounts", json={"provider": "facebook"}, headers=bearer
            )
            assert r.status_code == 201, r.text
            # The index page in a browser: ?token= once, then the cookie.
            with httpx.Client(base_url=base) as browser:
                assert browser.get("/_conntrack/").status_code == 401
                r = browser.get("/_conntrack/", params={"token": "opt-token"})
                assert r.status_code == 303 and "HttpOnly" in r.headers["set-cookie"]
                assert browser.get("/_conntrack/").status_code == 200
            assert "opt-token" not in "\n".join(server.lines + server.err)
            assert any("control token" in line for line in server.lines)
        finally:
            server.stop()


@pytest.mark.parametrize(
    ("host", "token", "warns"),
    [
        ("127.0.0.1", None, False),
        ("localhost", None, False),
        ("::1", None, False),
        ("127.0.0.2", None, False),
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("192.168.1.20", None, True),
        ("fakes.internal", None, True),
        ("0.0.0.0", "t0ken", False),
    ],
)
def test_a_server_beyond_loopback_without_a_token_is_warned_about(
    host: str, token: str | None, warns: bool
) -> None:
    said = bind_warning(host, token)
    assert (said is not None) == warns
    if said is not None:
        assert "--control-token" in said and host in said


def test_the_warning_is_printed_before_anything_else(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A config that does not exist: serve stops before it listens (nothing is bound).
    missing = str(tmp_path / "none.yaml")
    assert main(["serve", "--host", "0.0.0.0", "--config", missing]) == 2
    err = capsys.readouterr().err
    assert "warning" in err and "--control-token" in err and "0.0.0.0" in err


def test_prepare_keeps_the_security_settings() -> None:
    server = prepare(host="127.0.0.1", allow_hosts=["a.example"], control_token="x")
    try:
        assert server.allow_hosts == ("a.example",) and server.control_token == "x"
    finally:
        server.close()
