"""A real browser against a real `conntrack serve`: headless Chromium driven by Playwright.

The browser is the system's Chromium (``_chromium.find``: Debian's package, which
``make test`` installs when it can), launched with ``executable_path``; Playwright's own
browser download is never used. Without a Chromium, or without Playwright, every test
here is skipped with the reason. The server is a `conntrack serve` process on a port the
OS chose, as in tests/real_clients.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ._chromium import find, missing_reason

APP_HOST = "app.example.test"
REDIRECT_URI = f"https://{APP_HOST}/oauth/callback"


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find()
    if path is None:
        pytest.skip(missing_reason())
    return path


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Any]:
    """One headless Chromium for the session (of this xdist worker)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as pw:
        # --no-sandbox: CI and developers' containers run as root, where Chromium's
        # sandbox refuses to start. The app's host (REDIRECT_URI) resolves to nothing
        # without asking any DNS server: the tests read the browser's request to it.
        args = ["--no-sandbox", f"--host-resolver-rules=MAP {APP_HOST} ~NOTFOUND"]
        launched = pw.chromium.launch(executable_path=chromium, headless=True, args=args)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own context: no cookies shared between tests)."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@contextmanager
def serving(tmp: Path, *args: str) -> Iterator[str]:
    """A `conntrack serve` process (with ``args``) on a port the OS chose: its base URL.
    Stopped (SIGINT, then killed) on the way out, whatever happened."""
    exe = Path(sys.executable).parent / "conntrack"
    log = tmp / "serve.log"
    with (
        log.open("w") as out,
        subprocess.Popen(
            [str(exe), "serve", "--port", "0", "--seed", "3", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        ) as proc,
    ):
        try:
            deadline = time.monotonic() + 30
            while True:
                match = re.search(r"listening on (https?://127\.0\.0\.1:\d+)", log.read_text())
                if match:
                    break
                assert proc.poll() is None, f"conntrack serve exited: {log.read_text()}"
                assert time.monotonic() < deadline, (
                    f"conntrack serve did not start: {log.read_text()}"
                )
                time.sleep(0.05)
            yield match.group(1)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a `conntrack serve` process for the session (of this worker)."""
    with serving(tmp_path_factory.mktemp("serve")) as url:
        yield url


def control(
    base: str, method: str, path: str, control_token: str | None = None, **body: Any
) -> Any:
    """Call the control API (with the server's ``control_token``, if it has one); fail
    the test on an error."""
    headers = {"Authorization": f"Bearer {control_token}"} if control_token else {}
    url = f"{base}/_conntrack/{path.lstrip('/')}"
    r = httpx.request(method, url, json=body or None, headers=headers, verify=False)
    assert r.status_code < 300, r.text
    return r.json()
