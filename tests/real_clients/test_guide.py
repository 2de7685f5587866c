"""The integration guide's OAuth client, step by step (docs/integration/oauth-client-guide.md,
once the README's): authlib against `conntrack serve`, a password change injected, 60 days
travelled, and what the client sees each time; and the guide pages' code blocks of that
part (marked ``<!-- docs-test: NAME -->``), with what they claim beyond running as written
(tests/docs/test_docs_examples.py runs them so): the consent form a script fills in on
every provider's page, a declined box, OAuth 1.0a keys, TLS trust and Session.send."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import requests
import trio
import urllib3
from authlib.integrations.requests_client import OAuth2Session
from requests_oauthlib import OAuth1Session
from requests_oauthlib.oauth1_session import TokenRequestDenied
from serve.support import running

from .conftest import REDIRECT_URI, approve, control, new_account, new_app, query_of

GRAPH = "graph.facebook.com/v21.0"


def login(server: str, app: dict[str, str], account: str) -> str:
    """The guide's 'connect' step: code flow, then the long-lived exchange."""
    client = OAuth2Session(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT_URI,
        scope="pages_show_list,pages_read_engagement",
        token_endpoint_auth_method="client_secret_post",
    )
    url, _ = client.create_authorization_url(f"{server}/www.facebook.com/v21.0/dialog/oauth")
    callback = approve(url, account)  # in the guide: the developer's browser
    short = client.fetch_token(
        f"{server}/{GRAPH}/oauth/access_token", authorization_response=callback
    )
    long = httpx.get(
        f"{server}/{GRAPH}/oauth/access_token",
        params={
            "grant_type": "fb_exchange_token",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "fb_exchange_token": short["access_token"],
        },
    ).json()
    return str(long["access_token"])


def test_the_guide(server: str) -> None:
    app = control(server, "POST", "apps", provider="facebook", redirect_uris=[REDIRECT_URI])
    control(server, "POST", "accounts", provider="facebook", id="guide-admin", name="Ada Admin")
    token = login(server, app, "guide-admin")
    me = httpx.get(f"{server}/{GRAPH}/me", params={"access_token": token})
    assert me.status_code == 200 and me.json()["name"] == "Ada Admin"

    # A password change: the next call is refused with 190/460.
    control(server, "POST", "accounts/guide-admin/events", type="password_change")
    r = httpx.get(f"{server}/{GRAPH}/me", params={"access_token": token})
    error = r.json()["error"]
    assert r.status_code == 400 and (error["code"], error["error_subcode"]) == (190, 460)
    assert error["message"].startswith("Error validating access token: The session has been")
    assert r.headers["www-authenticate"].startswith('OAuth "Facebook Platform" "invalid_token"')

    # Log in again, then travel 60 days: the long-lived token has expired (190/463).
    token = login(server, app, "guide-admin")
    advanced = control(server, "POST", "clock/advance", by="60d")
    assert advanced["done"] is True and advanced["advanced_by"] == "60d"
    r = httpx.get(f"{server}/{GRAPH}/me", params={"access_token": token})
    error = r.json()["error"]
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert "Session has expired on" in error["message"]


# -- the guide pages' blocks (marked ``<!-- docs-test: NAME -->``) ------------------------


def run_block(code: str, server: str | None = None, **names: Any) -> dict[str, Any]:
    """Run a guide's block, with ``names`` defined first; ``server``: against this test's
    server instead of the page's ``http://127.0.0.1:8400``."""
    if server is not None:
        assert "http://127.0.0.1:8400" in code, "the block no longer names the fakes' address"
        code = code.replace("http://127.0.0.1:8400", server)
    namespace: dict[str, Any] = dict(names)
    exec(code, namespace)
    return namespace


def consent_script(docs_block: Callable[[str], str]) -> Callable[..., str]:
    """docs/integration/consent-pages.md's ``consent()``, as written there."""
    return run_block(docs_block("consent"))["consent"]  # type: ignore[no-any-return]


#: One authorize URL a provider (protocol) takes, with the app's client id filled in.
AUTHORIZE = {
    "facebook": "www.facebook.com/v21.0/dialog/oauth?client_id={id}&redirect_uri={uri}"
    "&response_type=code&state=s1&scope=email,public_profile",
    "instagram": "www.instagram.com/oauth/authorize?client_id={id}&redirect_uri={uri}"
    "&response_type=code&state=s1&scope=instagram_business_basic,"
    "instagram_business_content_publish",
    "linkedin": "www.linkedin.com/oauth/v2/authorization?client_id={id}&redirect_uri={uri}"
    "&response_type=code&state=s1&scope=openid%20profile",
    "tiktok": "www.tiktok.com/v2/auth/authorize/?client_key={id}&redirect_uri={uri}"
    "&response_type=code&state=s1&scope=user.info.basic,video.list"
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
    "twitter": "x.com/i/oauth2/authorize?client_id={id}&redirect_uri={uri}&response_type=code"
    "&state=s1&scope=tweet.read%20users.read&code_challenge=abc&code_challenge_method=plain",
    "google": "accounts.google.com/o/oauth2/v2/auth?client_id={id}&redirect_uri={uri}"
    "&response_type=code&state=s1&scope=openid%20email",
}


@pytest.mark.parametrize("provider", sorted(AUTHORIZE))
def test_the_consent_script_plays_every_providers_page(
    server: str, provider: str, docs_block: Callable[[str], str]
) -> None:
    consent = consent_script(docs_block)
    app = new_app(server, provider)
    account = new_account(server, provider)
    url = f"{server}/" + AUTHORIZE[provider].format(id=app["client_id"], uri=REDIRECT_URI)

    landed = consent(url, account["id"])
    assert landed.startswith(REDIRECT_URI + "?")
    query = query_of(landed)
    assert query["state"] == "s1" and query["code"]

    cancelled = query_of(consent(url, account["id"], action="cancel"))
    assert cancelled["state"] == "s1" and "error" in cancelled and "code" not in cancelled

    # An unknown account is the provider's error page, never a redirect.
    with httpx.Client() as http:
        page = http.get(url)
        fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        action = re.search(r'<form method="post" action="([^"]*)"', page.text)
        assert action is not None
        answer = http.post(
            urljoin(url, action[1]), data={**fields, "account_id": "nobody", "action": "approve"}
        )
    assert 400 <= answer.status_code < 500 and "location" not in answer.headers
    if provider == "instagram":  # the window answers Instagram's JSON error, as the guide says
        assert answer.json()["error_type"] == "OAuthException"
    else:
        assert answer.headers["content-type"].startswith("text/html"), answer.text


def test_a_declined_box_is_declined(server: str, docs_block: Callable[[str], str]) -> None:
    consent = consent_script(docs_block)
    app = new_app(server, "facebook")
    account = new_account(server, "facebook")
    url = f"{server}/" + AUTHORIZE["facebook"].format(id=app["client_id"], uri=REDIRECT_URI)
    code = query_of(consent(url, account["id"], decline=["email"]))["code"]
    token = httpx.get(
        f"{server}/{GRAPH}/oauth/access_token",
        params={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT_URI,
            "code": code,
        },
    ).json()["access_token"]
    permissions = httpx.get(f"{server}/{GRAPH}/me/permissions", params={"access_token": token})
    status = {p["permission"]: p["status"] for p in permissions.json()["data"]}
    assert status == {"email": "declined", "public_profile": "granted"}
    me = httpx.get(f"{server}/{GRAPH}/me", params={"access_token": token, "fields": "email"})
    assert "email" not in me.json()


def test_oauth1_keys_are_the_apps_client_id_and_secret(
    server: str, docs_block: Callable[[str], str]
) -> None:
    consent = consent_script(docs_block)
    app = new_app(server, "twitter")
    account = new_account(server, "twitter")
    ns = run_block(docs_block("oauth1"), server, app=app, account=account, consent=consent)
    assert ns["tokens"]["user_id"] == account["id"]
    assert str(ns["me"]["id"]) == account["id"]
    # Another consumer secret: the signature does not check out (v1.1 code 32).
    wrong = OAuth1Session(
        app["client_id"], client_secret="not-the-secret", callback_uri=REDIRECT_URI
    )
    with pytest.raises(TokenRequestDenied):
        wrong.fetch_request_token(f"{server}/api.x.com/oauth/request_token")


def test_the_tls_block_and_session_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docs_block: Callable[[str], str]
) -> None:
    """REQUESTS_CA_BUNDLE reaches requests.get but not Session.send; session.verify does."""
    ca = tmp_path / "conntrack-ca.pem"
    with running("--tls", "--ca-file", str(ca)) as fakes:
        code = docs_block("tls-trust").replace("https://127.0.0.1:8400", fakes.url)
        ns = run_block(code.replace('"conntrack-ca.pem"', repr(str(ca))))
        health = f"{fakes.url}/_conntrack/health"
        prepared = requests.Request("GET", health).prepare()
        with ns["session"] as session:
            assert session.send(prepared).status_code == 200
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        assert requests.get(health).status_code == 200  # Session.request reads the variable
        with requests.Session() as plain, pytest.raises(requests.exceptions.SSLError):
            plain.send(prepared)  # Session.send does not


def test_a_resolvers_port_is_followed_but_by_async_httpx_under_asyncio(
    server: str, monkeypatch: pytest.MonkeyPatch, asyncio_run: Any
) -> None:
    """A resolver answering 127.0.0.1 and the fakes' port, for graph.facebook.com."""
    port = urlsplit(server).port
    real = socket.getaddrinfo

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("graph.facebook.com", b"graph.facebook.com"):  # anyio passes bytes
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    url = "http://graph.facebook.com/v21.0/me"  # no token: the Graph's own error, code 2500

    def from_the_fakes(status: int, body: bytes) -> bool:
        return status == 400 and b'"code":2500' in body

    async def async_httpx() -> tuple[int, bytes]:
        async with httpx.AsyncClient() as client:
            r = await client.get(url)
            return r.status_code, r.content

    r = requests.get(url)
    assert from_the_fakes(r.status_code, r.content)
    u = urllib3.request("GET", url)
    assert from_the_fakes(u.status, u.data)
    h = httpx.get(url)
    assert from_the_fakes(h.status_code, h.content)
    assert from_the_fakes(*trio.run(async_httpx))
    try:
        answer = asyncio_run(async_httpx())  # to port 80, the URL's: not the fakes
    except httpx.ConnectError:
        pass
    else:
        assert not from_the_fakes(*answer)
