"""Google with social-core (python-social-auth), unmodified, inside ``conntrack_fakes``.

The library's ``GoogleOAuth2`` backend (``google-oauth2``), through the minimal strategy
of ``social_core_support``: the consent URL on ``accounts.google.com/o/oauth2/auth``
(scopes ``openid email profile``, ``access_type=offline`` and ``prompt=consent`` as
``AUTH_EXTRA_ARGUMENTS``, the library's documented setting), the code exchange on the
legacy ``accounts.google.com/o/oauth2/token`` it still uses, then
``www.googleapis.com/oauth2/v3/userinfo``, which must say ``email_verified: true``.
Refresh is ``UserMixin.refresh_token`` (same endpoint; Google keeps the refresh token);
``revoke_token`` GETs ``/o/oauth2/revoke``. After an account event the library raises
``AuthCredentialError`` (``reauthentication_required``) for Google's ``invalid_grant``
on a refresh, and for userinfo's 401 ``invalid_request`` "Invalid Credentials" an
``AuthConfigurationError`` (social-core files every ``invalid_request`` under
configuration, although Google answers it for a dead access token).

And ``GoogleOpenIdConnect`` (``google-openidconnect``), which reads Google's discovery
document, sends a ``nonce`` and validates the id_token (signature from the JWKS,
issuer, audience, ``at_hash``, the nonce echoed); its nonces need the storage's
associations, kept in memory here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from social_core.backends.google import GoogleOAuth2
from social_core.backends.google_openidconnect import GoogleOpenIdConnect
from social_core.exceptions import AuthCanceled, AuthConfigurationError, AuthCredentialError
from social_core.storage import AssociationMixin
from social_core_support import REDIRECT_URI, Social, Storage, Strategy

from conntrack.testing import Fakes

BACKEND = "social_core.backends.google.GoogleOAuth2"
OIDC = "social_core.backends.google_openidconnect.GoogleOpenIdConnect"
DEAD_GRANT = "Token has been expired or revoked."


def strategy_for(app: dict[str, Any]) -> Strategy:
    return Strategy(
        {
            "SOCIAL_AUTH_GOOGLE_OAUTH2_KEY": app["client_id"],
            "SOCIAL_AUTH_GOOGLE_OAUTH2_SECRET": app["client_secret"],
            "SOCIAL_AUTH_GOOGLE_OAUTH2_AUTH_EXTRA_ARGUMENTS": {
                "access_type": "offline",
                "prompt": "consent",
            },
            "SOCIAL_AUTH_GOOGLE_OPENIDCONNECT_KEY": app["client_id"],
            "SOCIAL_AUTH_GOOGLE_OPENIDCONNECT_SECRET": app["client_secret"],
            "SOCIAL_AUTH_AUTHENTICATION_BACKENDS": [BACKEND, OIDC],
        }
    )


class Association(AssociationMixin):
    """The OpenID Connect nonces social-core keeps as associations, in memory."""

    kept: list[Association] = []

    def __init__(self, server_url: str, handle: str, issued: int, lifetime: int, kind: str):
        self.id = len(Association.kept) + 1
        self.server_url, self.handle = server_url, handle
        self.issued, self.lifetime, self.assoc_type = issued, lifetime, kind

    @classmethod
    def store(cls, server_url: str, association: Any) -> None:
        cls.kept.append(
            cls(
                server_url,
                association.handle,
                association.issued,
                association.lifetime,
                association.assoc_type,
            )
        )

    @classmethod
    def get(cls, server_url: str | None = None, handle: str | None = None) -> list[Association]:
        return [
            a for a in cls.kept if server_url in (None, a.server_url) and handle in (None, a.handle)
        ]

    @classmethod
    def remove(cls, ids_to_delete: list[int]) -> None:
        cls.kept = [a for a in cls.kept if a.id not in ids_to_delete]


class OidcStorage(Storage):
    association = Association


def setup(f: Fakes) -> tuple[dict[str, Any], dict[str, Any], Strategy]:
    app = f.create_app("google", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("google", name="Ada Lovelace", email="ada@example.com")
    return app, ada, strategy_for(app)


def login(f: Fakes) -> tuple[Strategy, Social, dict[str, Any], dict[str, Any]]:
    """Ada logs in with Google through the library."""
    app, ada, strategy = setup(f)
    url = GoogleOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(f.authorize(url, account=ada["id"]))
    social = GoogleOAuth2(strategy, redirect_uri=REDIRECT_URI).complete()
    assert isinstance(social, Social)
    return strategy, social, ada, app


def test_the_consent_url_is_googles(conntrack_fakes: Fakes) -> None:
    _app, _ada, strategy = setup(conntrack_fakes)
    parts = urlsplit(GoogleOAuth2(strategy, redirect_uri=REDIRECT_URI).start())
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert (parts.netloc, parts.path) == ("accounts.google.com", "/o/oauth2/auth")
    assert query["scope"] == "openid email profile" and query["access_type"] == "offline"
    assert query["prompt"] == "consent" and query["state"]


def test_login_stores_sub_tokens_and_details(conntrack_fakes: Fakes) -> None:
    _strategy, social, ada, _app = login(conntrack_fakes)
    assert social.provider == "google-oauth2" and social.uid == ada["id"]  # ID_KEY "sub"
    data = social.extra_data
    assert data["sub"] == ada["id"] and data["token_type"] == "Bearer"
    assert data["access_token"].startswith("ya29.") and data["refresh_token"].startswith("1//")
    assert data["expires_in"] == 3599


def test_user_data_reads_the_verified_email(conntrack_fakes: Fakes) -> None:
    strategy, social, ada, _app = login(conntrack_fakes)
    backend = GoogleOAuth2(strategy, redirect_uri=REDIRECT_URI)
    me = backend.user_data(social.extra_data["access_token"])
    assert me is not None and me["sub"] == ada["id"] and me["email_verified"] is True
    details = backend.get_user_details(me)
    assert details["email"] == "ada@example.com" and details["username"] == "ada"
    assert (details["first_name"], details["last_name"]) == ("Ada", "Lovelace")


def test_refresh_keeps_the_refresh_token(conntrack_fakes: Fakes) -> None:
    strategy, social, _ada, _app = login(conntrack_fakes)
    before = dict(social.extra_data)
    conntrack_fakes.travel("2h")
    social.refresh_token(strategy)
    assert social.extra_data["access_token"] != before["access_token"]
    assert social.extra_data["refresh_token"] == before["refresh_token"]
    backend = GoogleOAuth2(strategy, redirect_uri=REDIRECT_URI)
    assert backend.user_data(social.extra_data["access_token"]) is not None


def test_after_access_is_revoked(conntrack_fakes: Fakes) -> None:
    strategy, social, ada, app = login(conntrack_fakes)
    conntrack_fakes.event("google", ada["id"], "app_removed", client_id=app["client_id"])
    backend = GoogleOAuth2(strategy, redirect_uri=REDIRECT_URI)
    with pytest.raises(AuthConfigurationError) as unauthenticated:
        backend.user_data(social.extra_data["access_token"])
    assert unauthenticated.value.status_code == 401
    assert unauthenticated.value.detail == "Invalid Credentials"
    with pytest.raises(AuthCredentialError) as refused:
        social.refresh_token(strategy)
    assert refused.value.code == "reauthentication_required"
    assert refused.value.provider_code == "invalid_grant" and refused.value.detail == DEAD_GRANT


def test_revoke_token_ends_the_grant(conntrack_fakes: Fakes) -> None:
    strategy, social, _ada, _app = login(conntrack_fakes)
    backend = GoogleOAuth2(strategy, redirect_uri=REDIRECT_URI)
    assert backend.revoke_token(social.extra_data["access_token"], social.uid) is True
    with pytest.raises(AuthCredentialError) as refused:
        social.refresh_token(strategy)
    assert refused.value.provider_code == "invalid_grant"


def test_cancel_is_auth_canceled(conntrack_fakes: Fakes) -> None:
    _app, ada, strategy = setup(conntrack_fakes)
    url = GoogleOAuth2(strategy, redirect_uri=REDIRECT_URI).start()
    strategy.land(conntrack_fakes.authorize(url, account=ada["id"], cancel=True))
    with pytest.raises(AuthCanceled):
        GoogleOAuth2(strategy, redirect_uri=REDIRECT_URI).complete()


# -- GoogleOpenIdConnect: the id_token checked against Google's discovery and JWKS --------


def test_openid_connect_login_validates_googles_id_token(conntrack_fakes: Fakes) -> None:
    """Discovery, the JWKS, RS256, ``iss``, ``aud``/``azp``, ``at_hash`` and the
    ``nonce`` Google echoes: the library checks each against the fake as against Google."""
    app, ada, strategy = setup(conntrack_fakes)
    strategy._storage = OidcStorage  # the nonces live in the storage's associations
    url = GoogleOpenIdConnect(strategy, redirect_uri=REDIRECT_URI).start()
    nonce = parse_qs(urlsplit(url).query)["nonce"][0]
    strategy.land(conntrack_fakes.authorize(url, account=ada["id"]))
    backend = GoogleOpenIdConnect(strategy, redirect_uri=REDIRECT_URI)
    social = backend.complete()
    assert isinstance(social, Social) and social.provider == "google-openidconnect"
    assert social.uid == ada["id"] and backend.id_token is not None
    assert backend.id_token["nonce"] == nonce and backend.id_token["aud"] == app["client_id"]
    # The legacy token endpoint the backend uses writes the bare issuer it expects.
    assert backend.id_token["iss"] == "accounts.google.com"
