"""Real, unmodified OAuth clients (authlib, requests-oauthlib) against `conntrack serve`,
and the same tests against the in-process fakes (`conntrack.testing`).

The server runs as its own process on 127.0.0.1 (port chosen by the OS), exactly as an
integration developer runs it; the clients only get base URLs. The person at the browser
is played by :func:`approve`, which fills in the provider's consent form.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from conntrack.clients._browser import _FormParser

REDIRECT_URI = "https://app.example.test/oauth/callback"


@pytest.fixture(autouse=True)
def _plain_http_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """oauthlib refuses http:// unless told it is a local test: this is one."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture(scope="session")
def serve_url() -> Iterator[str]:
    """The base URL of a `conntrack serve` process for the whole session."""
    exe = Path(sys.executable).parent / "conntrack"
    with subprocess.Popen(
        [str(exe), "serve", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            assert match, f"conntrack serve did not start: {line!r}"
            yield match.group(1)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=10)


#: Test modules about `conntrack serve` itself (TLS, resolvers, the guide's curl
#: session): they run against the server process only.
SERVE_ONLY = ("test_guide",)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every client test runs twice: against `conntrack serve` over a socket, and against
    the in-process fakes (conntrack.testing) through their base URL, so both ways of
    running the fakes answer the same real clients the same way."""
    if "server" in metafunc.fixturenames:
        module = metafunc.module.__name__.rsplit(".", 1)[-1]
        modes = ["serve"] if module in SERVE_ONLY else ["serve", "in-process"]
        metafunc.parametrize("server", modes, indirect=True)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The root URL of the fakes: the `conntrack serve` process, or a fresh in-process
    world's ``base_url`` (every provider at ``{root}/{host}/…``, the control API at
    ``{root}/_conntrack/…`` in both)."""
    if request.param == "serve":
        yield request.getfixturevalue("serve_url")
        return
    from conntrack.testing import fakes

    with fakes(seed=1) as world:
        yield world.base_url


def control(base: str, method: str, path: str, **body: Any) -> Any:
    """Call the control API; fail the test on an error."""
    r = httpx.request(method, f"{base}/_conntrack/{path.lstrip('/')}", json=body or None)
    assert r.status_code < 300, r.text
    return r.json()


def new_app(base: str, provider: str, **extra: Any) -> dict[str, Any]:
    return control(base, "POST", "apps", provider=provider, redirect_uris=[REDIRECT_URI], **extra)  # type: ignore[no-any-return]


def new_account(base: str, provider: str, **extra: Any) -> dict[str, Any]:
    return control(base, "POST", "accounts", provider=provider, **extra)  # type: ignore[no-any-return]


def approve(
    authorize_url: str, account_id: str, *, decline: tuple[str, ...] = (), cancel: bool = False
) -> str:
    """A person opens ``authorize_url``, logs in as ``account_id`` and approves (or cancels).

    Returns the URL the provider redirected the browser to (the app's callback).
    """
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        page = http.get(authorize_url)
        assert page.status_code == 200, page.text
        parser = _FormParser()
        parser.feed(page.text)
        assert parser.forms, "the consent page has no form"
        form = parser.forms[0]
        fields: dict[str, list[str]] = {}
        for k, v in form.hidden:
            fields.setdefault(k, []).append(v)
        fields["account_id"] = [account_id]
        fields["action"] = ["cancel" if cancel else "approve"]
        for name, value in form.checkboxes:
            if value not in decline:
                fields.setdefault(name, []).append(value)
        target = urljoin(str(page.url), form.action or str(page.url))
        answer = (
            http.post(target, data=fields)
            if form.method == "post"
            else http.get(target, params=fields)
        )
        assert answer.status_code in (302, 303), answer.text
        # A browser never sends the fragment (Facebook's "#_=_") to the app's server.
        return str(answer.headers["location"]).split("#", 1)[0]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
