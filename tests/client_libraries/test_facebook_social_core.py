"""Facebook with social-core (python-social-auth), unmodified, inside ``conntrack_fakes``.

The library's ``FacebookOAuth2`` backend builds the dialog URL (comma-separated scope,
``return_scopes=true``), completes the login (GET ``/oauth/access_token``, then ``/me``
with ``appsecret_proof``) through a minimal strategy (``social_core_support``). Facebook
has no refresh grant: social-core renews by ``fb_exchange_token`` (``UserMixin.
refresh_token``), which gives the 60-day token. After an account event the library
raises its own ``AuthProviderError`` carrying Facebook's code and message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from social_core.backends.facebook import FacebookOAuth2
from social_core.exceptions import AuthCanceled, AuthProviderError
from social_core_support import REDIRECT_URI, Social, Strategy

from conntrack.testing import Fakes

SCOPES = ["email", "public_profile", "pages_show_list"]
BACKEND = "social_core.backends.facebook.FacebookOAuth2"
PASSWORD_CHANGED = (
    "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons."
)
LONG_LIVED = 5183944


def strategy_for(app: dict[str, Any]) -> Strategy:
    return Strategy(
        {
            "SOCIAL_AUTH_FACEBOOK_KEY": app["client_id"],
            "SOCIAL_AUTH_FACEBOOK_SECRET": app["client_secret"],
            "SOCIAL_AUTH_FACEBOOK_SCOPE": SCOPES,
            "SOCIAL_AUTH_FACEBOOK_PROFILE_EXTRA_PARAMS": {"fields": "id,name,email"},
            "SOCIAL_AUTH_AUTHENTICATION_BACKENDS": [BACKEND],
        }
    )


def login(f: Fakes, *, decline: tuple[str, ...] = ()) -> tuple[Strategy, Social, dict[str, Any]]:
    """Ada logs in with Facebook through the library; answer its strategy, the social
    account it stored, and Ada's fake account."""
    app = f.create_app("facebook", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("facebook", name="Ada Lovelace", email="ada@example.com", pages=1)
    strategy = strategy_for(app)
    url = FacebookOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(f.authorize(url, account=ada["id"], decline=decline))
    social = FacebookOAuth2(strategy, redirect_uri=REDIRECT_URI).complete()
    assert isinstance(social, Social)
    return strategy, social, ada


def test_the_dialog_url_is_facebooks(conntrack_fakes: Fakes) -> None:
    app = conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT_URI])
    url = FacebookOAuth2(strategy_for(app), redirect_uri=REDIRECT_URI).start()
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.netloc == "www.facebook.com" and parts.path == "/v24.0/dialog/oauth"
    assert query["scope"] == "email,public_profile,pages_show_list"
    assert query["return_scopes"] == "true" and query["client_id"] == app["client_id"]


def test_login_stores_the_token_the_uid_and_the_granted_scopes(conntrack_fakes: Fakes) -> None:
    _strategy, social, ada = login(conntrack_fakes, decline=("email",))
    assert social.provider == "facebook" and social.uid == ada["id"]
    data = social.extra_data
    assert data["access_token"].startswith("EAA")  # (its do_auth keeps no token_type)
    assert 3000 < int(data["expires_in"]) <= 3600  # a short-lived token from a code
    assert data["granted_scopes"] == ["public_profile", "pages_show_list"]
    assert data["denied_scopes"] == ["email"]


def test_renewal_is_the_long_lived_exchange(conntrack_fakes: Fakes) -> None:
    strategy, social, _ada = login(conntrack_fakes)
    short = social.extra_data["access_token"]
    social.refresh_token(strategy)
    assert social.extra_data["expires_in"] == LONG_LIVED
    assert social.extra_data["access_token"] != short


def test_profile_read_with_appsecret_proof(conntrack_fakes: Fakes) -> None:
    strategy, social, ada = login(conntrack_fakes)
    backend = FacebookOAuth2(strategy, redirect_uri=REDIRECT_URI)
    profile = backend.user_data(social.extra_data["access_token"])
    assert profile == {"id": ada["id"], "name": "Ada Lovelace", "email": "ada@example.com"}
    assert backend.get_user_details(profile)["email"] == "ada@example.com"


def test_a_declined_email_is_absent_from_the_profile(conntrack_fakes: Fakes) -> None:
    strategy, social, ada = login(conntrack_fakes, decline=("email",))
    backend = FacebookOAuth2(strategy, redirect_uri=REDIRECT_URI)
    assert backend.user_data(social.extra_data["access_token"]) == {
        "id": ada["id"],
        "name": "Ada Lovelace",
    }


def test_after_a_password_change_reads_and_renewal_fail_with_190_460(
    conntrack_fakes: Fakes,
) -> None:
    strategy, social, ada = login(conntrack_fakes)
    conntrack_fakes.event("facebook", ada["id"], "password_change")
    backend = FacebookOAuth2(strategy, redirect_uri=REDIRECT_URI)
    with pytest.raises(AuthProviderError) as read:
        backend.user_data(social.extra_data["access_token"])
    assert (read.value.provider_code, read.value.status_code) == (190, 400)
    assert read.value.detail == PASSWORD_CHANGED
    with pytest.raises(AuthProviderError) as renewal:
        social.refresh_token(strategy)
    assert renewal.value.stage == "refresh" and renewal.value.provider_code == 190
    assert renewal.value.detail == PASSWORD_CHANGED


def test_a_removed_app_fails_with_190_458(conntrack_fakes: Fakes) -> None:
    strategy, social, ada = login(conntrack_fakes)
    client_id = strategy.settings["SOCIAL_AUTH_FACEBOOK_KEY"]
    conntrack_fakes.event("facebook", ada["id"], "app_removed", client_id=client_id)
    with pytest.raises(AuthProviderError) as caught:
        FacebookOAuth2(strategy).user_data(social.extra_data["access_token"])
    assert caught.value.provider_code == 190
    assert caught.value.detail == (
        f"Error validating access token: The user has not authorized application {client_id}."
    )


def test_cancel_on_the_dialog_is_auth_canceled(conntrack_fakes: Fakes) -> None:
    app = conntrack_fakes.create_app("facebook", redirect_uris=[REDIRECT_URI])
    ada = conntrack_fakes.create_account("facebook", name="Ada Lovelace")
    strategy = strategy_for(app)
    url = FacebookOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(conntrack_fakes.authorize(url, account=ada["id"], cancel=True))
    with pytest.raises(AuthCanceled) as caught:
        FacebookOAuth2(strategy, redirect_uri=REDIRECT_URI).complete()
    assert caught.value.provider_code == "access_denied"
