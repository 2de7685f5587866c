"""A hostile page served by another local server, in a real Chromium, against a real
`conntrack serve` (issue 11 item 5): the attacker Chromium's own defences do not stop.

A page on another origin of this machine (``http://evil.localhost:PORT``,
``http://localhost:PORT``, ``http://127.0.0.1:PORT``: the last is *same-site* with the
fakes, so a ``SameSite=Strict`` cookie goes along) fires every request a page can send
without a CORS preflight at the control API and the index page's forms, all at once:
``fetch`` with ``mode: 'no-cors'`` as ``text/plain``, ``application/x-www-form-urlencoded``
and ``multipart/form-data``; ``navigator.sendBeacon``; auto-posted forms (one with the
``text/plain`` JSON trick) into hidden frames, with the index page's real CSRF token as
if it had leaked; a 307 redirect chain; and ``<img>``/``<script>`` GETs of every
state-changing URL. Every answer is a refusal and
the server's ``seq`` (which every change moves) and clock stay where they were, also
against a server with a control token whose cookie the victim's browser holds. Then the
consent pages: a cross-origin page (directly or through a 307) cannot approve a consent
for an account, nor frame a
page of the fakes, and what an app's or account's name or a consent URL carries is
never run as script.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from .conftest import REDIRECT_URI, control, serving

TOKEN = "browser-test-control-token-0123456789"
#: What a script payload does when it runs: the tests look for both.
PAYLOAD = '"><img src=x onerror="window.__pwned=1;alert(1)"><script>window.__pwned=1</script>'
#: The same in a redirect URI, which may hold no space (an app's URIs with one are
#: refused, as a browser would drop it): the markup is all it needs.
URI_PAYLOAD = '"><svg/onload=window.__pwned=1><script>window.__pwned=1</script>'


class Site:
    """The attacker's own web server, on another port of this machine: ``pages`` by
    path; ``/r307?to=URL`` redirects (307 keeps the method and the body)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if url.path == "/r307":
                    self.send_response(307)
                    self.send_header("Location", parse_qs(url.query)["to"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = pages.get(url.path, "").encode()
                self.send_response(200 if url.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `conntrack serve --control-token TOKEN`."""
    with serving(tmp_path_factory.mktemp("guarded"), "--control-token", TOKEN) as url:
        yield url


def mark(base: str, token: str | None) -> tuple[int, str]:
    """What any change moves: the core's ``seq`` and the clock's offset."""
    state = control(base, "GET", "state", control_token=token)
    return state["seq"], control(base, "GET", "clock", control_token=token)["offset"]


def hidden_form(action: str, fields: dict[str, str], enctype: str = "") -> str:
    """A form that posts itself into a frame of its own as the page loads."""
    name = f"f{abs(hash((action, tuple(fields.items()), enctype)))}"
    inputs = "".join(f'<input name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    kind = f' enctype="{enctype}"' if enctype else ""
    return (
        f'<iframe name="{name}" style="display:none"></iframe>'
        f'<form method="post" action="{escape(action)}" target="{name}"{kind}>{inputs}</form>'
    )


def attack_page(base: str, site: str, csrf: str, account: str) -> tuple[str, int, set[str]]:
    """The hostile page, how many POSTs it makes the browser send to ``base``, and the
    URLs it GETs there."""
    body = json.dumps({"provider": "facebook", "redirect_uris": ["http://evil.test/cb"]})
    clock = json.dumps({"by": "30d"})
    scripts = [
        *(
            f"fetch({json.dumps(base + '/_conntrack/' + path)}, {{method: 'POST', "
            f"mode: 'no-cors', credentials: 'include', headers: {{'Content-Type': "
            f"{json.dumps(kind)}}}, body: {json.dumps(data)}}});"
            for path, data in (("apps", body), ("clock/advance", clock), ("reset", "{}"))
            for kind in ("text/plain", "application/x-www-form-urlencoded")
        ),
        "var fd = new FormData(); fd.append('by', '30d'); "
        f"fd.append('csrf_token', {json.dumps(csrf)}); "
        f"fetch({json.dumps(base + '/_conntrack/ui/clock')}, {{method: 'POST', "
        "mode: 'no-cors', credentials: 'include', body: fd});",
        f"navigator.sendBeacon({json.dumps(base + '/_conntrack/apps')}, "
        f"new Blob([{json.dumps(body)}], {{type: 'text/plain'}}));",
        f"navigator.sendBeacon({json.dumps(base + '/_conntrack/reset')}, '{{}}');",
        f"navigator.sendBeacon({json.dumps(base + '/_conntrack/ui/clock')}, "
        f"new URLSearchParams({json.dumps(urlencode({'by': '30d', 'csrf_token': csrf}))}));",
    ]
    ui = base + "/_conntrack/ui/"
    forms = [
        hidden_form(ui + "apps", {"provider": "facebook", "redirect_uris": "http://evil.test/cb"}),
        hidden_form(ui + "accounts", {"provider": "facebook", "name": "Mallory"}),
        hidden_form(ui + f"accounts/{account}/events", {"type": "password_change"}),
        hidden_form(ui + "clock", {"by": "30d"}),
        hidden_form(ui + "faults", {"provider": "facebook", "kind": "outage"}),
        hidden_form(ui + "faults/clear", {}),
        hidden_form(ui + "tokens/revoke", {"prefix": "x", "seq": "1"}),
        hidden_form(ui + "clock", {"by": "31d"}, "multipart/form-data"),
        # {"provider": "facebook", ..., "z": "="} as text/plain: a JSON body from a form.
        hidden_form(
            base + "/_conntrack/apps",
            {'{"provider": "facebook", "redirect_uris": ["http://evil.test/cb"], "z": "': '"}'},
            "text/plain",
        ),
        hidden_form(f"{site}/r307?to={base}/_conntrack/ui/clock", {"by": "32d"}),
    ]
    forms = [
        f.replace("</form>", f'<input name="csrf_token" value="{csrf}"></form>') for f in forms
    ]
    gets = [
        "/_conntrack/reset", "/_conntrack/clock/advance?by=30d", "/_conntrack/ui/clock?by=30d",
        "/_conntrack/ui/faults/clear", f"/_conntrack/ui/accounts/{account}/events?type=locked",
        "/_conntrack/state", "/_conntrack/tokens/revoke",
    ]  # fmt: skip
    tags = "".join(f'<img src="{base}{g}"><script src="{base}{g}"></script>' for g in gets)
    html = (
        "<!DOCTYPE html><title>cat pictures</title>"
        + "".join(forms)
        + tags
        + "<script>"
        + "".join(scripts)
        + "for (const f of document.querySelectorAll('form')) f.submit();</script>"
    )
    return html, len(scripts) + len(forms), {base + g for g in gets}


def index_csrf(page: Any, base: str) -> str:
    page.goto(f"{base}/_conntrack/")
    value = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert value
    return str(value)


@pytest.mark.parametrize(
    ("origin", "guard"),
    [
        ("evil.localhost", "none"),
        ("localhost", "none"),
        # Same-site with the fakes: the victim's SameSite=Strict cookie goes along.
        ("127.0.0.1", "control-token"),
    ],
)
def test_a_page_on_another_local_origin_changes_nothing(
    server: str, guarded: str, site: Site, page: Any, origin: str, guard: str
) -> None:
    base, token = (server, None) if guard == "none" else (guarded, TOKEN)
    if token is not None:  # the victim opened the index page with its token: a cookie
        assert page.goto(f"{base}/_conntrack/?token={token}").status == 200
    account = control(base, "POST", "accounts", control_token=token, provider="facebook")
    csrf = index_csrf(page, base)  # as if it had leaked: the origin check must hold alone
    at = f"http://{origin}:{site.port}"
    html, posts, gets = attack_page(base, at, csrf, account["id"])
    path = f"/attack-{origin}-{guard}"
    site.pages[path] = html
    before = mark(base, token)
    asked: list[tuple[str, str]] = []
    answers: list[tuple[str, str, int]] = []
    context = page.context  # its events: every page's and frame's requests
    context.on(
        "request", lambda r: asked.append((r.method, r.url)) if r.url.startswith(base) else None
    )
    context.on(
        "response",
        lambda r: (
            answers.append((r.request.method, r.url, r.status)) if r.url.startswith(base) else None
        ),
    )

    def sent(wanted: int) -> bool:
        got = {url for method, url in asked if method == "GET"}
        return len([m for m, _ in asked if m == "POST"]) >= wanted and got >= gets

    page.goto(at + path)
    for _ in range(200):  # at most 20 s
        if sent(posts):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)
    missing = gets - {url for method, url in asked if method == "GET"}
    said = " ".join(sorted(u.removeprefix(base) for m, u in asked if m == "POST"))
    assert sent(posts), f"{posts} POSTs wanted, got: {said}; GETs missing: {missing}"
    # Every answer seen is a refusal (Chromium keeps what an <img> or <script> gets
    # back from the page, and a refusal a frame may not show: no answer for those).
    refused = [a for a in answers if a[2] in (403, 405)]
    assert refused == answers and len(answers) >= posts // 2, answers
    assert mark(base, token) == before


def test_a_cross_origin_page_cannot_approve_a_consent(server: str, site: Site, page: Any) -> None:
    app = control(server, "POST", "apps", provider="facebook", redirect_uris=[REDIRECT_URI])
    account = control(server, "POST", "accounts", provider="facebook", name="Victim")
    dialog = f"{server}/www.facebook.com/v21.0/dialog/oauth"
    query = {"client_id": app["client_id"], "redirect_uri": REDIRECT_URI, "state": "s",
             "scope": "pages_show_list", "response_type": "code"}  # fmt: skip
    page.goto(f"{dialog}?{urlencode(query)}")
    csrf = page.locator("input[name=csrf_token]").get_attribute("value")
    assert csrf
    fields = {**query, "account_id": account["id"], "granted": "pages_show_list",
              "action": "approve", "csrf_token": csrf}  # fmt: skip
    at = f"http://evil.localhost:{site.port}"
    forms = [hidden_form(dialog, fields), hidden_form(f"{at}/r307?to={dialog}", fields)]
    site.pages["/consent"] = (
        "<!DOCTYPE html>"
        + "".join(forms)
        + "<script>for (const f of document.querySelectorAll('form')) f.submit();</script>"
    )
    asked: list[str] = []
    answers: list[int] = []
    context = page.context
    context.on("request", lambda r: asked.append(r.method) if r.url.startswith(dialog) else None)
    context.on("response", lambda r: answers.append(r.status) if r.url.startswith(dialog) else None)
    page.goto(f"{at}/consent")
    for _ in range(100):
        if len(asked) >= 2:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)
    # Each post reached the server and was refused (a refusal a hidden frame may not
    # show, being an HTML page that no other site may frame, has no answer to see).
    assert asked == ["POST"] * 2 and answers and set(answers) == {403}, (asked, answers)
    assert control(server, "GET", f"accounts/{account['id']}")["grants"] == []


def test_no_page_of_the_fakes_can_be_framed(server: str, site: Site, page: Any) -> None:
    app = control(server, "POST", "apps", provider="google", redirect_uris=[REDIRECT_URI])
    consent = f"{server}/accounts.google.com/o/oauth2/v2/auth?" + urlencode(
        {
            "client_id": app["client_id"],
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "response_type": "code",
            "state": "s",
        }
    )
    site.pages["/frame"] = (
        f'<!DOCTYPE html><iframe src="{server}/_conntrack/"></iframe>'
        f'<iframe src="{escape(consent)}"></iframe>'
    )
    with page.expect_response(lambda r: r.url.startswith(consent)):
        page.goto(f"http://evil.localhost:{site.port}/frame")
    page.wait_for_timeout(300)
    framed = page.frames[1:]
    assert len(framed) == 2
    for frame in framed:  # Chromium shows its own error page instead
        assert "csrf_token" not in frame.content(), frame.url


def test_names_and_parameters_are_never_run_as_script(server: str, page: Any) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    app = control(server, "POST", "apps", provider="facebook", name="App" + PAYLOAD,
                  redirect_uris=[REDIRECT_URI + "?x=" + URI_PAYLOAD])  # fmt: skip
    account = control(server, "POST", "accounts", provider="facebook", name="Eve" + PAYLOAD)
    control(server, "POST", f"accounts/{account['id']}/events", type="permission_revoked",
            permission="perm" + PAYLOAD, client_id=app["client_id"])  # fmt: skip
    dialog = f"{server}/www.facebook.com/v21.0/dialog/oauth?"
    urls = [
        f"{server}/_conntrack/",
        f"{server}/_conntrack/?" + urlencode({"error": PAYLOAD}),
        dialog
        + urlencode(
            {
                "client_id": app["client_id"],
                "redirect_uri": app["redirect_uris"][0],
                "scope": "pages_show_list" + PAYLOAD,
                "state": PAYLOAD,
                "response_type": "code",
            }
        ),
        dialog + urlencode({"client_id": PAYLOAD, "redirect_uri": PAYLOAD, "state": PAYLOAD}),
        f"{server}/accounts.google.com/o/oauth2/v2/auth?"
        + urlencode({"client_id": PAYLOAD, "redirect_uri": PAYLOAD, "state": PAYLOAD}),
    ]
    for url in urls:
        answer = page.goto(url)
        assert answer is not None
        assert PAYLOAD not in answer.text(), url  # escaped, never as is
        page.wait_for_timeout(50)
        assert page.evaluate("() => window.__pwned") is None, url
    assert dialogs == []


@pytest.fixture
def reference(server: str, tmp_path: Path) -> Iterator[str]:
    """A `conntrack reference-product` process (the model product) on a free port, using
    the session's fakes: its protocol's base URL."""
    app = control(server, "POST", "apps", provider="facebook", redirect_uris=[REDIRECT_URI])
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "CONNTRACK_FAKES_URL": server,
        "CONNTRACK_START": "2026-01-05T09:00:00Z",
        "CONNTRACK_APPS": json.dumps(
            {
                "facebook": {
                    "client_id": app["client_id"],
                    "client_secret": app["client_secret"],
                    "redirect_uri": REDIRECT_URI,
                }
            }
        ),
    }
    exe = Path(sys.executable).parent / "conntrack"
    log = tmp_path / "reference.log"
    with (
        log.open("w") as out,
        subprocess.Popen(
            [str(exe), "reference-product", "--port", "0"], stdout=out,
            stderr=subprocess.STDOUT, env=env,
        ) as proc,
    ):  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not (found := re.search(r"ready: (http://\S+)", log.read_text())):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            yield found.group(1)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_page_on_another_origin_cannot_drive_the_reference_product(
    reference: str, site: Site, page: Any
) -> None:
    later = json.dumps({"now": "2030-01-01T00:00:00Z"})
    company = json.dumps({"timezone": "UTC", "users": [{"id": "m", "email": "m@evil.test"}]})
    fetches = [
        ("clock", "POST", later, "text/plain"),
        ("clock", "POST", later, "application/x-www-form-urlencoded"),
        ("company", "PUT", company, "application/json"),  # needs a preflight: refused
        ("connections/fb/login", "POST", "{}", "text/plain"),
    ]
    script = "".join(
        f"fetch({json.dumps(f'{reference}/{path}')}, {{method: '{method}', mode: 'no-cors', "
        f"headers: {{'Content-Type': '{kind}'}}, body: {json.dumps(body)}}}).catch(() => 0);"
        for path, method, body, kind in fetches
    )
    script += f"navigator.sendBeacon({json.dumps(reference + '/clock')}, {json.dumps(later)});"
    form = hidden_form(f"{reference}/clock", {'{"now": "2030-01-01T00:00:00Z", "z": "': '"}'},
                       "text/plain")  # fmt: skip
    site.pages["/product"] = (
        f"<!DOCTYPE html>{form}<script>{script}document.forms[0].submit();</script>"
    )
    asked: list[str] = []
    page.context.on(
        "request", lambda r: asked.append(r.method) if r.url.startswith(reference) else None
    )
    page.goto(f"http://evil.localhost:{site.port}/product")
    for _ in range(100):
        if asked.count("POST") >= 5:
            break
        page.wait_for_timeout(100)
    assert asked.count("POST") >= 5, asked
    page.wait_for_timeout(300)
    # Had the clock moved to 2030, this would be a 409 (a clock moving back).
    r = httpx.post(f"{reference}/clock", json={"now": "2026-01-05T10:00:00Z"})
    assert r.status_code == 200, r.text
    assert httpx.get(f"{reference}/connections").json() == []
