"""TikTok through python-tiktok (``pytiktok.KitApi``, its Login Kit client), unmodified,
inside the fakes.

``KitApi`` speaks Login Kit **v1**, which TikTok retired (v1 OAuth "will stop working
on September 12, 2023 for web apps": TikTok's v1 migration bulletin, as quoted in
SocialiteProviders/Providers#1026): the authorize page ``www.tiktok.com/auth/authorize/``,
the host ``open-api.tiktok.com``, ``/oauth/access_token/`` with the code in the query
string, ``/oauth/refresh_token/``, ``POST /user/info/`` and ``/video/list/`` with the
access token in the JSON body, and success read as ``error.code == 0``. Login Kit v2
(what TikTok serves, and the fakes with it; PROVIDERS.md §4) has
``/v2/auth/authorize/``, ``open.tiktokapis.com/v2/oauth/token/``, ``GET
/v2/user/info/?fields=`` with a Bearer token, and ``error.code == "ok"`` on success.
So every step fails against TikTok today, and against the fakes: each is an xfail
(strict), with the answer it meets.

The default host ``open-api.tiktok.com`` is not a host the fakes serve (it is not one
TikTok serves Login Kit on any more): a call there would leave the process. The tests
give ``KitApi`` the documented ``base_url`` argument with the v2 host instead, so every
call stays inside the fakes; :func:`test_the_default_host_is_not_served` keeps that
assumption checked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from pytiktok import KitApi, PyTiktokError

from conntrack.testing import ConsentError, Fakes, every_provider_host

REDIRECT = "https://app.example/tiktok/callback"
V2_HOST = "https://open.tiktokapis.com/v2"
SCOPE = "user.info.basic,video.list"
RETIRED = (
    "python-tiktok's KitApi speaks Login Kit v1, retired by TikTok in September 2023 "
    "(TikTok's v1 OAuth migration bulletin; SocialiteProviders/Providers#1026)"
)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def world(f: Fakes) -> tuple[dict[str, Any], dict[str, Any]]:
    return f.create_app("tiktok", redirect_uris=[REDIRECT]), f.create_account("tiktok", pages=1)


def v2_code(f: Fakes, app: dict[str, Any], account: dict[str, Any]) -> str:
    """A code from the v2 authorize page (TikTok's documented URL, built here because
    the library cannot)."""
    url = "https://www.tiktok.com/v2/auth/authorize/?" + urlencode(
        {
            "client_key": app["client_id"],
            "scope": SCOPE,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "state": "s",
        }
    )
    return query_of(f.authorize(url, account=account["id"]))["code"]


def v2_token(f: Fakes, app: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
    """A v2 token exchanged as TikTok documents it (form-encoded, ``client_key``)."""
    answer = requests.post(
        "https://open.tiktokapis.com/v2/oauth/token/",
        data={
            "client_key": app["client_id"],
            "client_secret": app["client_secret"],
            "code": v2_code(f, app, account),
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
        },
        timeout=10,
    )
    token: dict[str, Any] = answer.json()
    assert "access_token" in token, token
    return token


def kit(app: dict[str, Any], **more: Any) -> KitApi:
    return KitApi(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=REDIRECT,
        scope=SCOPE,
        base_url=V2_HOST,
        **more,
    )


def test_the_default_host_is_not_served() -> None:
    assert urlsplit(KitApi.BASE_URL).hostname == "open-api.tiktok.com"
    assert "open-api.tiktok.com" not in every_provider_host()
    assert urlsplit(V2_HOST).hostname in every_provider_host()


@pytest.mark.xfail(strict=True, raises=ConsentError, reason=f"{RETIRED}: /auth/authorize/")
def test_authorize_url(conntrack_fakes: Fakes) -> None:
    app, account = world(conntrack_fakes)
    url, state = kit(app).get_authorize_url()
    landed = query_of(conntrack_fakes.authorize(url, account=account["id"]))
    assert landed["state"] == state and landed["code"]


@pytest.mark.xfail(
    strict=True, raises=PyTiktokError, reason=f"{RETIRED}: /oauth/access_token/?code="
)
def test_access_token(conntrack_fakes: Fakes) -> None:
    app, account = world(conntrack_fakes)
    answer = kit(app).generate_access_token(v2_code(conntrack_fakes, app, account))
    assert answer is not None and answer.data is not None and answer.data.access_token


@pytest.mark.xfail(strict=True, raises=PyTiktokError, reason=f"{RETIRED}: /oauth/refresh_token/")
def test_refresh(conntrack_fakes: Fakes) -> None:
    app, account = world(conntrack_fakes)
    token = v2_token(conntrack_fakes, app, account)
    answer = kit(app).refresh_access_token(token["refresh_token"])
    assert answer is not None and answer.data is not None and answer.data.access_token


@pytest.mark.xfail(
    strict=True,
    raises=PyTiktokError,
    reason=f"{RETIRED}: POST /user/info/ with the token in the body (v2: GET, Bearer)",
)
def test_user_info(conntrack_fakes: Fakes) -> None:
    app, account = world(conntrack_fakes)
    token = v2_token(conntrack_fakes, app, account)
    user = kit(app, access_token=token["access_token"]).get_user_info(token["open_id"])
    assert user is not None and user.data is not None and user.data.user is not None


@pytest.mark.xfail(
    strict=True,
    raises=PyTiktokError,
    reason=f"{RETIRED}: the token in the JSON body, fields as a list (v2: Bearer, ?fields=)",
)
def test_videos(conntrack_fakes: Fakes) -> None:
    app, account = world(conntrack_fakes)
    token = v2_token(conntrack_fakes, app, account)
    videos = kit(app, access_token=token["access_token"]).get_user_videos(token["open_id"])
    assert videos is not None and videos.data is not None and videos.data.videos


@pytest.mark.xfail(
    strict=True, raises=PyTiktokError, reason=f"{RETIRED}: no read works before the event"
)
def test_error_after_a_password_change(conntrack_fakes: Fakes) -> None:
    app, account = world(conntrack_fakes)
    token = v2_token(conntrack_fakes, app, account)
    api = kit(app, access_token=token["access_token"])
    api.get_user_videos(token["open_id"])  # works before the event...
    conntrack_fakes.event("tiktok", account["id"], "password_change")
    with pytest.raises(PyTiktokError) as dead:  # ...and not after it
        api.get_user_videos(token["open_id"])
    assert dead.value.message["code"] == "access_token_invalid"


def test_what_the_library_meets_is_tiktoks_v2_envelope(conntrack_fakes: Fakes) -> None:
    """The errors behind the xfails: TikTok's own envelope, which ``KitApi`` raises as
    ``PyTiktokError(error)``; the success envelope (``code: "ok"``) too, since the
    library takes only ``0`` for success."""
    app, account = world(conntrack_fakes)
    with pytest.raises(PyTiktokError) as unknown:
        kit(app).generate_access_token(v2_code(conntrack_fakes, app, account))
    assert unknown.value.message["code"] == "invalid_params"
    assert "/v2/oauth/access_token/" in unknown.value.message["message"]
    token = v2_token(conntrack_fakes, app, account)
    with pytest.raises(PyTiktokError) as no_bearer:
        kit(app, access_token=token["access_token"]).get_user_videos(token["open_id"])
    assert no_bearer.value.message["code"] == "access_token_invalid"
    ok = requests.get(
        f"{V2_HOST}/user/info/",
        params={"fields": "open_id,display_name"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    with pytest.raises(PyTiktokError) as success:
        KitApi.parse_response(ok)
    assert success.value.message["code"] == "ok"
