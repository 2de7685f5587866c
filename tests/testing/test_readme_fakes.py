"""The in-process guide (docs/integration/in-process-fakes.md, once the README's "Your
integration's tests, with the fakes in process") and the Graph facts of the Facebook and
Instagram Login sections of docs/integration/providers.md, run as written.

A guide's block is read by its marker (``<!-- docs-test: NAME -->``, the ``docs_block``
fixture), so the page and these tests cannot drift apart. Its first examples
(``first-test``, ``survive``) are pasted into a project of their own by
tests/docs/test_docs_examples.py; the outside-pytest block runs here, in this process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from conntrack.testing import Fakes

REDIRECT = "https://app.example.test/oauth/callback"


def test_the_outside_pytest_block_leaves_nothing_intercepted(
    docs_block: Callable[[str], str],
) -> None:
    namespace: dict[str, Any] = {}
    exec(docs_block("outside-pytest"), namespace)  # its own asserts say what it expects
    # Outside the block and the decorated call, nothing is intercepted any more.
    from conntrack.testing import current

    with pytest.raises(ValueError, match="no in-process fakes are active"):
        current()


# -- Graph versions and methods (docs/integration/providers.md: Facebook, Instagram Login)


def facebook_token(f: Fakes) -> str:
    app = f.create_app("facebook", redirect_uris=[REDIRECT])
    ada = f.create_account("facebook", name="Ada Admin")
    url = "https://www.facebook.com/dialog/oauth?" + urlencode(
        {"client_id": app["client_id"], "redirect_uri": REDIRECT, "scope": "public_profile"}
    )
    code = f.authorize(url, account=ada["id"]).split("code=", 1)[1].split("&", 1)[0]
    answer = requests.post(  # /oauth/access_token takes POST as well as GET
        "https://graph.facebook.com/v21.0/oauth/access_token",
        data={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT,
            "code": code,
        },
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.mark.parametrize("version", ["v21.0", "v25.0", "v2.0", "v99.0", None])
def test_every_graph_version_is_answered_alike(conntrack_fakes: Fakes, version: str | None) -> None:
    token = facebook_token(conntrack_fakes)
    base = "https://graph.facebook.com" + (f"/{version}" if version else "")
    me = requests.get(f"{base}/me", params={"access_token": token}, timeout=5)
    assert me.status_code == 200 and me.json()["name"] == "Ada Admin"


@pytest.mark.parametrize("segment", ["v21", "latest"])
def test_another_first_segment_is_an_object_id(conntrack_fakes: Fakes, segment: str) -> None:
    token = facebook_token(conntrack_fakes)
    r = requests.get(
        f"https://graph.facebook.com/{segment}/me", params={"access_token": token}, timeout=5
    )
    error = r.json()["error"]
    assert r.status_code == 400
    assert error["message"].startswith(
        f"Unsupported get request. Object with ID '{segment}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation."
    )
    assert (error["type"], error["code"], error["error_subcode"]) == (
        "GraphMethodException",
        100,
        33,
    )
    # Without a valid token, the token is what is answered first (190).
    r = requests.get(f"https://graph.facebook.com/{segment}/me", timeout=5)
    assert r.json()["error"]["code"] != 100


def test_graph_methods(conntrack_fakes: Fakes) -> None:
    token = facebook_token(conntrack_fakes)
    for host in ("graph.facebook.com", "graph.instagram.com"):
        put = requests.put(f"https://{host}/v21.0/me", params={"access_token": token}, timeout=5)
        assert put.status_code == 405
        assert put.json()["error"]["message"] == "The method is not allowed for the requested URL."
        assert put.json()["error"]["code"] == 100
    post = requests.post(
        "https://graph.facebook.com/v21.0/me", data={"access_token": token}, timeout=5
    )
    assert post.status_code == 400
    assert post.json()["error"]["message"].startswith("Unsupported post request. Object with ID")


@pytest.mark.parametrize("version", ["v21.0", "v99.0", None])
def test_instagram_graph_versions(conntrack_fakes: Fakes, version: str | None) -> None:
    app = conntrack_fakes.create_app("instagram", redirect_uris=[REDIRECT])
    ig = conntrack_fakes.create_account("instagram")
    url = "https://www.instagram.com/oauth/authorize?" + urlencode(
        {
            "client_id": app["client_id"],
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "instagram_business_basic",
        }
    )
    code = conntrack_fakes.authorize(url, account=ig["id"]).split("code=", 1)[1].split("&")[0]
    token = requests.post(
        "https://api.instagram.com/oauth/access_token",
        data={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": code,
        },
        timeout=5,
    ).json()["access_token"]
    base = "https://graph.instagram.com" + (f"/{version}" if version else "")
    me = requests.get(f"{base}/me", params={"access_token": token}, timeout=5)
    assert me.status_code == 200 and me.json()["id"] == ig["id"]


def test_instagram_token_endpoint_methods(conntrack_fakes: Fakes) -> None:
    get = requests.get("https://api.instagram.com/oauth/access_token", timeout=5)
    assert get.status_code == 400
    assert get.json() == {
        "error_type": "OAuthException",
        "code": 400,
        "error_message": "Unsupported request",
    }
    versioned = requests.post("https://api.instagram.com/v21.0/oauth/access_token", timeout=5)
    assert versioned.status_code == 404
    assert versioned.json()["error_message"] == "Page not found"


def test_base_url_lays_the_fakes_out_as_conntrack_serve_does(conntrack_fakes: Fakes) -> None:
    base = conntrack_fakes.base_url
    assert base == "http://fakes.conntrack.localhost"
    app = requests.post(
        f"{base}/_conntrack/apps",
        json={"provider": "facebook", "redirect_uris": [REDIRECT]},
        timeout=5,
    ).json()
    assert conntrack_fakes.control("GET", "apps")["data"][0]["client_id"] == app["client_id"]
    me = requests.get(f"{base}/graph.facebook.com/v21.0/me", timeout=5)
    assert me.json()["error"]["code"] == 2500  # the Graph's own answer: no token
