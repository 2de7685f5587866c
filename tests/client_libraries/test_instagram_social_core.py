"""Instagram (Instagram API with Instagram Login) with social-core's ``InstagramOAuth2``,
unmodified, inside ``conntrack_fakes``.

The backend opens ``api.instagram.com/oauth/authorize`` (scope space-separated) with a
``redirect_uri`` carrying ``?redirect_state=…`` (its ``REDIRECT_STATE``, no setting
turns it off), posts the code to ``api.instagram.com/oauth/access_token`` and reads
``graph.instagram.com/me?fields=id,username``; its strategy is ``social_core_support``.

The redirect state breaks the login on real Instagram: the window takes the URI but
the code only exchanges with the registered one (django-social-auth#847,
drf-social-oauth2#115, social-core#260 whose workaround patches the backend). That step
is an expected failure (strict); the other steps connect the way social-core documents
for a token obtained elsewhere, ``backend.do_auth(access_token)``, with the code
exchanged as Instagram documents.

Library limits (written down, not faked): no ``ig_exchange_token`` long-lived exchange
and no ``ig_refresh_token`` refresh, so ``refresh_token`` has nothing to renew and the
token stays the 1-hour one; ``api.instagram.com``'s own error envelope
(``error_type``/``error_message``) is not read, so a refused code is a bare
``AuthProviderError`` (``http_error``, 400). Graph errors carry Facebook's code and
message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from social_core.backends.instagram import InstagramOAuth2
from social_core.exceptions import AuthCanceled, AuthProviderError
from social_core_support import REDIRECT_URI, Social, Strategy

from conntrack.testing import Fakes

SCOPES = ["instagram_business_basic", "instagram_business_content_publish"]
BACKEND = "social_core.backends.instagram.InstagramOAuth2"
#: Why social-core's own login cannot complete on Instagram.
REDIRECT_STATE = (
    "InstagramOAuth2 keeps BaseOAuth2's REDIRECT_STATE: its redirect_uri carries "
    "?redirect_state=…; Instagram's window accepts it but the code only exchanges with the "
    "registered URI, answering 400 (django-social-auth#847, 2016; wagnerdelima/"
    "drf-social-oauth2#115, 2022: 'Instagram fails oauth2 requests with any query params'; "
    "python-social-auth/social-core#260: the workaround sets REDIRECT_STATE = False in a "
    "subclass)."
)
PASSWORD_CHANGED = (
    "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons."
)


def strategy_for(app: dict[str, Any]) -> Strategy:
    return Strategy(
        {
            "SOCIAL_AUTH_INSTAGRAM_KEY": app["client_id"],
            "SOCIAL_AUTH_INSTAGRAM_SECRET": app["client_secret"],
            "SOCIAL_AUTH_INSTAGRAM_SCOPE": SCOPES,
            "SOCIAL_AUTH_AUTHENTICATION_BACKENDS": [BACKEND],
        }
    )


def setup(f: Fakes) -> tuple[Strategy, dict[str, Any]]:
    app = f.create_app("instagram", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("instagram", name="Ada Lovelace")
    return strategy_for(app), ada


def login(f: Fakes) -> tuple[Strategy, Social, dict[str, Any]]:
    """Ada connects Instagram: the library's authorize URL, the code exchanged as
    Instagram documents (with the registered redirect URI), then the library's
    ``do_auth`` with the token. Answer the strategy, the social account, Ada."""
    strategy, ada = setup(f)
    url = InstagramOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    code = query_of(f.authorize(url, account=ada["id"]))["code"]
    answer = requests.post(
        "https://api.instagram.com/oauth/access_token",
        data={
            "client_id": strategy.settings["SOCIAL_AUTH_INSTAGRAM_KEY"],
            "client_secret": strategy.settings["SOCIAL_AUTH_INSTAGRAM_SECRET"],
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT_URI,
            "code": code,
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    social = InstagramOAuth2(strategy).do_auth(answer.json()["access_token"])
    assert isinstance(social, Social)
    return strategy, social, ada


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_the_authorize_url(conntrack_fakes: Fakes) -> None:
    strategy, _ada = setup(conntrack_fakes)
    url = InstagramOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    parts = urlsplit(url)
    query = query_of(url)
    assert (parts.netloc, parts.path) == ("api.instagram.com", "/oauth/authorize")
    assert query["scope"] == " ".join(SCOPES) and query["response_type"] == "code"
    assert query["redirect_uri"] == f"{REDIRECT_URI}?redirect_state={query['state']}"


@pytest.mark.xfail(strict=True, raises=AuthProviderError, reason=REDIRECT_STATE)
def test_login_through_the_library(conntrack_fakes: Fakes) -> None:
    strategy, ada = setup(conntrack_fakes)
    url = InstagramOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(conntrack_fakes.authorize(url, account=ada["id"]))
    social = InstagramOAuth2(strategy, redirect_uri=REDIRECT_URI).complete()
    assert isinstance(social, Social) and social.uid == ada["id"]


def test_the_refused_exchange_is_a_bare_http_error(conntrack_fakes: Fakes) -> None:
    strategy, ada = setup(conntrack_fakes)
    url = InstagramOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(conntrack_fakes.authorize(url, account=ada["id"]))
    with pytest.raises(AuthProviderError) as caught:
        InstagramOAuth2(strategy, redirect_uri=REDIRECT_URI).complete()
    error = caught.value
    assert (error.code, error.status_code, error.stage) == ("http_error", 400, "token_exchange")
    assert error.provider_code is None  # Instagram's error_message is not read


def test_login_stores_the_token_and_the_instagram_user_id(conntrack_fakes: Fakes) -> None:
    _strategy, social, ada = login(conntrack_fakes)
    assert social.provider == "instagram" and social.uid == ada["id"]
    assert social.extra_data["access_token"].startswith("IGAA")


def test_no_renewal_the_backend_keeps_the_short_lived_token(conntrack_fakes: Fakes) -> None:
    strategy, social, _ada = login(conntrack_fakes)
    before = dict(social.extra_data)
    social.refresh_token(strategy)  # no refresh token, no known expiry: nothing is sent
    assert social.extra_data == before
    conntrack_fakes.travel("2h")  # the 1-hour token is dead; the library cannot know
    with pytest.raises(AuthProviderError) as caught:
        InstagramOAuth2(strategy).user_data(social.extra_data["access_token"])
    assert caught.value.provider_code == 190
    assert caught.value.detail.startswith("Error validating access token: Session has expired on")


def test_profile_read(conntrack_fakes: Fakes) -> None:
    strategy, social, ada = login(conntrack_fakes)
    backend = InstagramOAuth2(strategy)
    profile = backend.user_data(social.extra_data["access_token"])
    assert profile == {"user": {"id": ada["id"], "username": "ada.lovelace"}}
    assert backend.get_user_details(profile)["username"] == "ada.lovelace"


def test_after_a_password_change_190_460(conntrack_fakes: Fakes) -> None:
    strategy, social, ada = login(conntrack_fakes)
    conntrack_fakes.event("instagram", ada["id"], "password_change")
    with pytest.raises(AuthProviderError) as caught:
        InstagramOAuth2(strategy).user_data(social.extra_data["access_token"])
    assert (caught.value.provider_code, caught.value.status_code) == (190, 400)
    assert caught.value.detail == PASSWORD_CHANGED


def test_a_cancelled_window_is_auth_canceled(conntrack_fakes: Fakes) -> None:
    strategy, ada = setup(conntrack_fakes)
    url = InstagramOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(conntrack_fakes.authorize(url, account=ada["id"], cancel=True))
    with pytest.raises(AuthCanceled) as caught:
        InstagramOAuth2(strategy, redirect_uri=REDIRECT_URI).complete()
    assert caught.value.provider_code == "access_denied"
