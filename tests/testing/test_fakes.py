"""The in-process fakes: which calls they take, what the API does, how worlds come and go."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import requests
import trio
import urllib3

from conntrack.testing import ConsentError, Fakes, FakesError, current, fakes

REDIRECT = "https://app.example.test/oauth/callback"
GRAPH = "https://graph.facebook.com/v21.0"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def facebook_token(f: Fakes, scope: str = "email,public_profile") -> tuple[dict, str]:
    """An app, an account and a short-lived user token, the way a product gets one."""
    app = f.create_app("facebook", redirect_uris=[REDIRECT])
    ada = f.create_account("facebook", name="Ada Admin")
    url = "https://www.facebook.com/v21.0/dialog/oauth?" + urlencode(
        {"client_id": app["client_id"], "redirect_uri": REDIRECT, "state": "s1", "scope": scope}
    )
    landed = f.authorize(url, account=ada["id"])
    assert query(landed)["state"] == "s1"
    token = requests.get(
        f"{GRAPH}/oauth/access_token",
        params={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT,
            "code": query(landed)["code"],
        },
        timeout=5,
    )
    assert token.status_code == 200, token.text
    return {**app, "account": ada}, token.json()["access_token"]


# -- every client library reaches the fakes ----------------------------------------------


def test_requests_urllib3_and_sync_httpx_reach_the_fakes(conntrack_fakes: Fakes) -> None:
    app, token = facebook_token(conntrack_fakes)
    me = {"access_token": token, "fields": "id,name"}
    expected = {"id": app["account"]["id"], "name": "Ada Admin"}
    assert requests.get(f"{GRAPH}/me", params=me, timeout=5).json() == expected
    with requests.Session() as session:
        assert session.get(f"{GRAPH}/me", params=me).json() == expected
    assert httpx.get(f"{GRAPH}/me", params=me).json() == expected
    with httpx.Client(http2=False) as client:
        assert client.get(f"{GRAPH}/me", params=me).json() == expected
    answer = urllib3.request("GET", f"{GRAPH}/me?{urlencode(me)}")
    assert answer.status == 200 and answer.json() == expected
    with urllib3.PoolManager() as pool:
        assert pool.request("GET", f"{GRAPH}/me", fields=me).json() == expected


async def test_async_httpx_under_trio_reaches_the_fakes(conntrack_fakes: Fakes) -> None:
    app, token = facebook_token(conntrack_fakes)
    async with httpx.AsyncClient() as client:
        answers = []

        async def one() -> None:
            answers.append((await client.get(f"{GRAPH}/me", params={"access_token": token})).json())

        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(one)
    assert answers == [{"id": app["account"]["id"], "name": "Ada Admin"}] * 5


def test_async_httpx_under_asyncio_reaches_the_fakes(
    conntrack_fakes: Fakes, asyncio_run: Callable[[Any], Any]
) -> None:
    app, token = facebook_token(conntrack_fakes)

    async def main() -> list[dict]:
        async with httpx.AsyncClient() as client:
            got = await asyncio.gather(
                *(client.get(f"{GRAPH}/me", params={"access_token": token}) for _ in range(5))
            )
            return [r.json() for r in got]

    assert asyncio_run(main()) == [{"id": app["account"]["id"], "name": "Ada Admin"}] * 5


def test_a_post_body_reaches_the_fakes_whole(conntrack_fakes: Fakes) -> None:
    """Form bodies from each library (bytes, a generator for urllib3) arrive whole."""
    app = conntrack_fakes.create_app("linkedin", redirect_uris=[REDIRECT])
    url = "https://www.linkedin.com/oauth/v2/accessToken"
    form = {"grant_type": "client_credentials", "client_id": app["client_id"]}
    # No secret: LinkedIn's own error names what is missing, whichever library sent it.
    by_requests = requests.post(url, data=form, timeout=5)
    by_httpx = httpx.post(url, data=form)

    def chunks() -> Iterator[bytes]:
        yield urlencode(form).encode()[:10]
        yield urlencode(form).encode()[10:]

    by_urllib3 = urllib3.request(
        "POST",
        url,
        body=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert by_requests.status_code == by_httpx.status_code == by_urllib3.status >= 400
    assert by_requests.json() == by_httpx.json() == by_urllib3.json()


@pytest.fixture
def local_server() -> Iterator[str]:
    """A plain HTTP server on loopback that counts the requests it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b'{"local": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert hits, "the local server got no request"


def test_other_hosts_are_not_touched(conntrack_fakes: Fakes, local_server: str) -> None:
    assert requests.get(f"{local_server}/a", timeout=5).json() == {"local": True}
    assert httpx.get(f"{local_server}/b").json() == {"local": True}
    assert urllib3.request("GET", f"{local_server}/c").json() == {"local": True}


def test_outside_a_world_nothing_is_intercepted() -> None:
    original = httpx.HTTPTransport.handle_request
    with fakes() as f:
        assert httpx.HTTPTransport.handle_request is not original
        assert current() is f
    assert httpx.HTTPTransport.handle_request is original
    assert urllib3.connectionpool.HTTPConnectionPool.urlopen.__name__ == "urlopen"
    with pytest.raises(FakesError, match="no in-process fakes are active"):
        current()


# -- worlds ---------------------------------------------------------------------------


def test_every_test_gets_a_fresh_world_first(conntrack_fakes: Fakes) -> None:
    assert conntrack_fakes.control("GET", "apps")["data"] == []
    conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT], client_id="1234")


def test_every_test_gets_a_fresh_world_second(conntrack_fakes: Fakes) -> None:
    # The same client_id again: the app of the test before is gone.
    assert conntrack_fakes.control("GET", "apps")["data"] == []
    conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT], client_id="1234")


def test_the_same_seed_gives_the_same_ids() -> None:
    with fakes(seed=7) as a:
        first = a.create_account("facebook")["id"]
    with fakes(seed=7) as b:
        assert b.create_account("facebook")["id"] == first


def test_nested_worlds_the_innermost_answers() -> None:
    with fakes() as outer:
        outer.create_app("facebook", redirect_uris=[REDIRECT], client_id="111")
        with fakes() as inner:
            assert current() is inner
            assert inner.control("GET", "apps")["data"] == []
        assert current() is outer
        assert [a["client_id"] for a in outer.control("GET", "apps")["data"]] == ["111"]


def test_the_decorator_runs_sync_and_async_functions_inside_a_world() -> None:
    @fakes(seed=3)
    def sync() -> str:
        return str(current().create_account("twitter")["id"])

    @fakes(seed=3)
    async def asynchronous() -> str:
        return str(current().create_account("twitter")["id"])

    assert sync() == trio.run(asynchronous)
    assert sync().isdigit()  # an X id is a uint64 string


@pytest.mark.conntrack_fakes(providers=["linkedin"])
def test_a_provider_not_served_answers_not_served_and_never_leaves(
    conntrack_fakes: Fakes,
) -> None:
    answer = requests.get(f"{GRAPH}/me", timeout=5)
    assert answer.status_code == 404
    message = answer.json()["error"]["message"]
    assert "'facebook' is not enabled" in message
    # How to serve it here, not how to restart a server that is not there.
    assert "conntrack_fakes(providers=[...])" in message and "conntrack serve" not in message
    with pytest.raises(FakesError):
        conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT])


@pytest.mark.conntrack_fakes(config="fakes_config.yaml")  # beside this file
def test_a_config_file_makes_apps_and_accounts(conntrack_fakes: Fakes) -> None:
    apps = conntrack_fakes.control("GET", "apps")["data"]
    assert [a["client_id"] for a in apps] == ["1001"]
    assert conntrack_fakes.account("ada")["name"] == "Ada Admin"


def test_a_bad_config_file_is_a_clear_error(tmp_path: Path) -> None:
    from conntrack import InputError

    bad = tmp_path / "fakes.yaml"
    bad.write_text("apps:\n  - provider: facebok\n")
    with pytest.raises(InputError, match=r"fakes\.yaml:2"), fakes(config=bad):
        pass


# -- the API --------------------------------------------------------------------------


def test_authorize_declines_and_cancels(conntrack_fakes: Fakes) -> None:
    app = conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT])
    ada = conntrack_fakes.create_account("facebook")
    url = "https://www.facebook.com/v21.0/dialog/oauth?" + urlencode(
        {
            "client_id": app["client_id"],
            "redirect_uri": REDIRECT,
            "scope": "email public_profile",
            "return_scopes": "true",
        }
    )
    landed = conntrack_fakes.authorize(url, account=ada["id"], decline=["email"])
    assert landed.startswith(REDIRECT + "?") and "#" not in landed
    assert query(landed)["granted_scopes"] == "public_profile"
    cancelled = query(conntrack_fakes.authorize(url, account=ada["id"], cancel=True))
    assert cancelled["error"] == "access_denied"
    with pytest.raises(FakesError, match="cannot decline nope: the consent page offers email"):
        conntrack_fakes.authorize(url, account=ada["id"], decline=["nope"])


def test_authorize_refuses_what_is_no_consent_page(conntrack_fakes: Fakes) -> None:
    app = conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT])
    with pytest.raises(FakesError, match="is not a provider URL"):
        conntrack_fakes.authorize("https://example.org/authorize", account="1")
    wrong = "https://www.facebook.com/v21.0/dialog/oauth?" + urlencode(
        {"client_id": app["client_id"], "redirect_uri": "https://evil.example/cb"}
    )
    with pytest.raises(ConsentError) as caught:
        conntrack_fakes.authorize(wrong, account="1")
    assert caught.value.status >= 400 and "www.facebook.com/v21.0/dialog/oauth" in str(caught.value)


def test_event_needs_the_account_s_own_provider(conntrack_fakes: Fakes) -> None:
    _, token = facebook_token(conntrack_fakes)
    ada = conntrack_fakes.control("GET", "accounts")["data"][0]["id"]
    with pytest.raises(FakesError, match="is a facebook account, not linkedin"):
        conntrack_fakes.event("linkedin", ada, "password_change")
    with pytest.raises(FakesError, match="unknown event 'password_changed'"):
        conntrack_fakes.event("facebook", ada, "password_changed")
    conntrack_fakes.event("facebook", ada, "password_change")
    dead = requests.get(f"{GRAPH}/me", params={"access_token": token}, timeout=5).json()
    assert dead["error"]["code"] == 190 and dead["error"]["error_subcode"] == 460


def test_travel_moves_time_forward_only(conntrack_fakes: Fakes) -> None:
    _, token = facebook_token(conntrack_fakes)
    before = conntrack_fakes.now
    after = conntrack_fakes.travel("2h")
    assert after - before >= timedelta(hours=2)
    assert conntrack_fakes.now >= after
    # The short-lived token (1 h) has expired, as it would have.
    expired = requests.get(f"{GRAPH}/me", params={"access_token": token}, timeout=5).json()
    assert expired["error"]["code"] == 190 and expired["error"]["error_subcode"] == 463
    conntrack_fakes.travel(timedelta(days=1))
    with pytest.raises(FakesError, match="forward"):
        conntrack_fakes.travel(timedelta(seconds=-1))
    with pytest.raises(FakesError):
        conntrack_fakes.travel("-1d")


def test_fault_answers_with_the_provider_s_own_error(conntrack_fakes: Fakes) -> None:
    _, token = facebook_token(conntrack_fakes)
    fault = conntrack_fakes.fault("facebook", "rate_limit", for_=timedelta(hours=1))
    assert fault["provider"] == "facebook"
    limited = requests.get(f"{GRAPH}/me", params={"access_token": token}, timeout=5)
    assert limited.json()["error"]["code"] in (4, 17, 32, 613)
    assert [f["id"] for f in conntrack_fakes.clear_faults("facebook")] == [fault["id"]]
    assert requests.get(f"{GRAPH}/me", params={"access_token": token}, timeout=5).ok
    with pytest.raises(FakesError, match="kind"):
        conntrack_fakes.fault("facebook", "meteor")


def test_a_slow_answer_ends_in_the_library_s_own_timeout(conntrack_fakes: Fakes) -> None:
    _, token = facebook_token(conntrack_fakes)
    conntrack_fakes.fault("facebook", "latency", delay_ms=2000, count=3)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{GRAPH}/me", params={"access_token": token}, timeout=0.2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{GRAPH}/me", params={"access_token": token}, timeout=0.2)
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        urllib3.request("GET", f"{GRAPH}/me?access_token={token}", timeout=0.2, retries=0)


# -- the fixture in a project of its own ----------------------------------------------


def test_the_fixture_comes_with_the_installed_plugin(pytester: pytest.Pytester) -> None:
    """No conftest: the plugin's entry point gives conntrack_fakes, and a bad marker is
    a usage error that says how to write it."""
    pytester.makepyfile(
        test_integration="""
        import pytest, requests

        def test_me(conntrack_fakes):
            app = conntrack_fakes.create_app("twitter", redirect_uris=["https://a.example/cb"])
            answer = requests.post("https://api.x.com/2/oauth2/token",
                                   data={"grant_type": "client_credentials"},
                                   auth=(app["client_id"], app["client_secret"]))
            assert answer.status_code in (200, 400, 401, 403), answer.text

        @pytest.mark.conntrack_fakes("oops")
        def test_bad_marker(conntrack_fakes):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*takes keywords only: seed=, providers=, config=*"])


# -- OAuth libraries on the real URLs ---------------------------------------------------


def test_authlib_on_requests_with_the_real_urls(conntrack_fakes: Fakes) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    app = conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT])
    ada = conntrack_fakes.create_account("facebook", name="Ada Admin")
    client = OAuth2Session(
        app["client_id"],
        app["client_secret"],
        scope="email public_profile",
        redirect_uri=REDIRECT,
        token_endpoint_auth_method="client_secret_post",
    )
    url, state = client.create_authorization_url("https://www.facebook.com/v21.0/dialog/oauth")
    landed = conntrack_fakes.authorize(url, account=ada["id"])
    token = client.fetch_token(f"{GRAPH}/oauth/access_token", authorization_response=landed)
    assert query(landed)["state"] == state and token["expires_in"] == 3600
    me = client.get(f"{GRAPH}/me", params={"fields": "id,name,email"}).json()
    assert me["id"] == ada["id"] and me["email"] == ada["email"]


# authlib 1.9 says its httpx integration is deprecated (for a package named httpx2) when
# it is imported: a warning about authlib's future, not about this code.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_authlib_on_async_httpx_with_the_real_urls(conntrack_fakes: Fakes) -> None:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    app = conntrack_fakes.create_app("linkedin", redirect_uris=[REDIRECT])
    member = conntrack_fakes.create_account("linkedin", name="Grace Hopper")
    async with AsyncOAuth2Client(
        app["client_id"],
        app["client_secret"],
        scope="openid profile email",
        redirect_uri=REDIRECT,
        token_endpoint_auth_method="client_secret_post",
    ) as client:
        url, _ = client.create_authorization_url("https://www.linkedin.com/oauth/v2/authorization")
        landed = conntrack_fakes.authorize(url, account=member["id"])
        token = await client.fetch_token(
            "https://www.linkedin.com/oauth/v2/accessToken", authorization_response=landed
        )
        assert token["id_token"]
        info = (await client.get("https://api.linkedin.com/v2/userinfo")).json()
        assert info["sub"] == member["id"] and info["name"] == "Grace Hopper"
        conntrack_fakes.event("linkedin", member["id"], "app_removed", client_id=app["client_id"])
        gone = await client.get("https://api.linkedin.com/v2/userinfo")
        assert gone.status_code == 401


def test_requests_oauthlib_with_the_real_urls(
    conntrack_fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from requests_oauthlib import OAuth2Session

    # Google answers the short scopes as their URLs, and oauthlib raises on a changed
    # scope unless told to relax, as every Google integration on it does.
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")

    app = conntrack_fakes.create_app("google", redirect_uris=[REDIRECT])
    person = conntrack_fakes.create_account("google", name="Ada Lovelace")
    session = OAuth2Session(
        app["client_id"], redirect_uri=REDIRECT, scope=["openid", "email", "profile"]
    )
    url, _ = session.authorization_url(
        "https://accounts.google.com/o/oauth2/v2/auth", access_type="offline", prompt="consent"
    )
    landed = conntrack_fakes.authorize(url, account=person["id"])
    token = session.fetch_token(
        "https://oauth2.googleapis.com/token",
        client_secret=app["client_secret"],
        authorization_response=landed,
    )
    assert token["refresh_token"] and token["id_token"]
    info = session.get("https://openidconnect.googleapis.com/v1/userinfo").json()
    assert info["sub"] == person["id"] and info["name"] == "Ada Lovelace"
    # A password change keeps refresh tokens without Gmail scopes; removing the app does not.
    conntrack_fakes.event("google", person["id"], "password_change")
    assert session.refresh_token(
        "https://oauth2.googleapis.com/token",
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )["access_token"]
    conntrack_fakes.event("google", person["id"], "app_removed", client_id=app["client_id"])
    refused = requests.post(
        "https://oauth2.googleapis.com/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
        timeout=5,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_world_that_has_ended_says_so() -> None:
    with fakes() as f:
        f.create_account("facebook")
    with pytest.raises(FakesError, match="this world of fakes has ended"):
        f.create_account("facebook")


def test_worlds_share_an_app_only_when_they_serve_the_same_providers() -> None:
    import fake_providers

    with fakes() as a:
        app = a.app
    with fakes() as b:
        assert b.app is app  # the routes are compiled once
        with fakes() as c:
            assert c.app is not app  # a nested world holds its own
    with fakes(providers=["linkedin"]) as d:
        assert d.app is not app
        with pytest.raises(ValueError, match="built for other providers"):
            fake_providers.reuse_app(app, d.core)


def test_time_machine_moves_the_fakes_and_the_code_under_test_together(
    conntrack_fakes: Fakes,
) -> None:
    """travel() moves only the fakes' clock; moving the process's clock (time-machine)
    moves both, so a client's own expiry or JWT checks agree with the fakes."""
    from datetime import UTC, datetime

    import time_machine

    _, token = facebook_token(conntrack_fakes)
    later = datetime.now(UTC) + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        assert abs(conntrack_fakes.now - later) < timedelta(seconds=1)
        expired = requests.get(f"{GRAPH}/me", params={"access_token": token}, timeout=5)
        assert expired.json()["error"]["error_subcode"] == 463


def test_control_takes_the_path_as_the_readme_spells_it(conntrack_fakes: Fakes) -> None:
    conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT], client_id="42")
    for path in ("apps", "/apps", "/_conntrack/apps", "_conntrack/apps"):
        assert [a["client_id"] for a in conntrack_fakes.control("GET", path)["data"]] == ["42"]


def test_a_fault_without_a_limit_names_the_python_keywords(conntrack_fakes: Fakes) -> None:
    with pytest.raises(FakesError, match=r"for_= .*until= .*count= "):
        conntrack_fakes.fault("facebook", "outage")


def test_a_bad_marker_option_fails_the_test_with_the_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_world="""
        import pytest

        @pytest.mark.conntrack_fakes(providers=["facebok"])
        def test_typo(conntrack_fakes):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*conntrack_fakes: *facebok*"])
    result.stdout.no_fnmatch_line("*Traceback*")
