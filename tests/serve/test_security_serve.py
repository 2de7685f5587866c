"""`conntrack serve` against a hostile web page (issue 11 item 5), over real HTTP on
127.0.0.1: the Host allow-list (``--allow-host``), the control token
(``--control-token``, ``CONNTRACK_CONTROL_TOKEN``) and the warning for a server bound
beyond loopback without one."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
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


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--control-token", ""], None, "--control-token is empty"),
        (["--control-token", "   "], None, "--control-token is empty"),
        (["--control-token", "two words"], None, "printable ASCII"),
        (["--control-token", "t\u00f8ken"], None, "printable ASCII"),
        (["--control-token", "tok\nen"], None, "printable ASCII"),
        ([], "", "CONNTRACK_CONTROL_TOKEN is empty"),
        ([], " \t", "CONNTRACK_CONTROL_TOKEN is empty"),
    ],
)
def test_an_empty_or_unsendable_control_token_is_an_option_error(
    args: list[str],
    env: str | None,
    named: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # An empty token used to mean "no token": the server started unguarded, silently.
    monkeypatch.delenv("CONNTRACK_CONTROL_TOKEN", raising=False)
    if env is not None:
        monkeypatch.setenv("CONNTRACK_CONTROL_TOKEN", env)
    # A config that does not exist: were the token taken, serve would stop on that.
    missing = str(tmp_path / "none.yaml")
    assert main(["serve", "--host", "0.0.0.0", "--config", missing, *args]) == 2
    err = capsys.readouterr().err
    assert named in err and "none.yaml" not in err, err
    assert "openssl rand" in err  # says how to make one


def test_the_warning_says_what_is_at_stake_and_both_ways_out() -> None:
    said = bind_warning("0.0.0.0", None)
    assert said is not None
    assert "client secret" in said and "CONNTRACK_CONTROL_TOKEN" in said
    assert "--control-token" in said and "127.0.0.1" in said


def raw_status(url: str, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as is (what no HTTP library sends) and answer the status and body."""
    parts = httpx.URL(url)
    assert parts.port is not None
    with socket.create_connection((parts.host, parts.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_the_host_of_an_absolute_target_and_malformed_hosts_are_refused() -> None:
    server = start("--providers", "facebook")
    try:
        port = httpx.URL(server.url).port
        httpx.post(f"{server.url}/_conntrack/apps", json={"provider": "facebook",
                   "redirect_uris": ["https://a.example/cb"], "client_secret": "s3cret"})  # fmt: skip
        # RFC 9112 §3.2.2: the authority of an absolute-form target is the request's host.
        for target, host in (
            (f"http://evil.example:{port}/_conntrack/state", f"127.0.0.1:{port}"),
            ("http://user@evil.example/_conntrack/state", "localhost"),
            (f"http://127.0.0.1:{port}/_conntrack/state", "evil.example"),
        ):
            request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            status, body = raw_status(server.url, request.encode())
            assert status == 421 and b"s3cret" not in body, (target, host, body)
        for host in (f"127.0.0.1:{port}/x", f"evil.example@127.0.0.1:{port}", "", "[::1"):
            request = f"GET /_conntrack/state HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            status, body = raw_status(server.url, request.encode())
            assert status in (400, 421) and b"s3cret" not in body, (host, body)
        request = f"GET http://localhost:{port}/_conntrack/state HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        status, body = raw_status(server.url, (request + "Connection: close\r\n\r\n").encode())
        assert status == 200 and b"s3cret" in body
    finally:
        server.stop()


def test_the_reference_product_warns_beyond_loopback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No CONNTRACK_* environment: it stops (exit 2) once it has said so.
    for name in ("CONNTRACK_PRODUCT_PORT", "CONNTRACK_APPS", "CONNTRACK_FAKES_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["reference-product", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "warning" in err and "0.0.0.0" in err and "127.0.0.1" in err, err
    assert main(["reference-product", "--host", "127.0.0.1", "--port", "0"]) == 2
    assert "warning" not in capsys.readouterr().err


def test_the_reference_product_reads_hosts_as_serve_does() -> None:
    from conntrack.product._server import refusal

    def status(host: str, target: str = "/") -> int | None:
        why = refusal("GET", {"Host": host}, target=target, allowed=frozenset({"::"}))
        return None if why is None else why[0]

    assert status("127.0.0.1", "http://evil.example/_conntrack_test/connections") == 421
    assert status("127.0.0.1:1/x") == 421 and status("") == 421
    assert status("127.0.0.1", "http://localhost:1/x") is None
    assert status("localhost.:8000") is None


async def test_the_fakes_the_product_harness_serves_refuse_a_hostile_page() -> None:
    # `conntrack run --product` serves the fakes on 127.0.0.1 for the product's process:
    # as `conntrack serve` serves them, to the product and to no web page.
    import fake_providers
    from conntrack.product._harness import WorldClock, _Fakes, _served

    clock = WorldClock(datetime(2026, 1, 5, tzinfo=UTC))
    core = fake_providers.Core(clock, seed=0)
    core.create_app_registration("facebook", redirect_uris=["https://a.example/cb"],
                                 client_secret="s3cret")  # fmt: skip
    fakes = _Fakes(clock, core, fake_providers.create_app(core), {})
    async with _served(fakes) as url, httpx.AsyncClient(base_url=url) as http:
        r = await http.get("/_conntrack/state", headers={"Host": "rebind.evil.example"})
        assert r.status_code == 421 and "s3cret" not in r.text
        body = '{"provider": "facebook", "redirect_uris": ["https://evil.example/cb"]}'
        for headers in (
            {"Content-Type": "text/plain"},
            {"Content-Type": "application/json", "Origin": "http://evil.localhost:1"},
            {"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"},
        ):
            r = await http.post("/_conntrack/apps", content=body, headers=headers)
            assert r.status_code in (403, 415), (headers, r.text)
        assert len(core.apps()) == 1
        r = await http.get("/_conntrack/state")  # the harness's own calls: answered
        assert r.status_code == 200 and "s3cret" in r.text


@pytest.mark.parametrize("name", ["http://fakes.internal", "fakes internal", "", "a/b"])
def test_an_allow_host_that_is_no_host_is_an_option_error(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # It used to be kept, and to admit nothing: the name's requests got 421s.
    missing = str(tmp_path / "none.yaml")
    assert main(["serve", "--allow-host", name, "--config", missing]) == 2
    err = capsys.readouterr().err
    assert "--allow-host" in err and "fakes.internal" in err and "none.yaml" not in err, err
