"""LinkedIn through social-auth-core (python-social-auth), unmodified, inside the fakes.

Two of its backends:

- ``LinkedinOpenIdConnect`` (Sign In with LinkedIn using OpenID Connect, what every app
  made since August 2023 has): discovery document, JWKS, the ``id_token`` checked for
  signature, issuer, audience and age (no nonce: LinkedIn sends none and the backend
  knows it), then ``/v2/userinfo``;
- ``LinkedinOAuth2`` (the legacy ``r_liteprofile``/``r_emailaddress`` product): the
  lite profile with a projection, and the primary address. A new app is refused those
  scopes at the consent page (``unauthorized_scope_error``); an app that kept the
  legacy product is played with a ``profiles:`` override of ``app_scopes``.

The framework side is ``social_core_support`` (a strategy and an in-memory storage, as
social-core's docs ask of a framework); the refresh is the library's own
``UserSocialAuth.refresh_token(strategy)`` on the stored account, which finds the
backend through ``AUTHENTICATION_BACKENDS``.

Library limits seen (they are social-core's; the fakes answer as LinkedIn does): a dead
access token surfaces as ``AuthProviderError`` (``http_error``, status 401) without
LinkedIn's ``serviceErrorCode``; a refused refresh token (LinkedIn's 400
``invalid_request``, PROVIDERS.md §3) as ``AuthConfigurationError``
(``invalid_setting``), because social-core reads RFC 6749's ``invalid_request`` as a
client misconfiguration where an app should ask the member to sign in again.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from social_core_support import REDIRECT_URI, Social, Strategy

from conntrack.testing import Fakes, fakes

with warnings.catch_warnings():
    # social-core imports python3-openid, which imports defusedxml.cElementTree (a
    # DeprecationWarning of defusedxml's, nothing LinkedIn does).
    warnings.filterwarnings("ignore", "defusedxml.cElementTree", DeprecationWarning)
    from social_core.backends.linkedin import LinkedinOAuth2, LinkedinOpenIdConnect
    from social_core.exceptions import AuthConfigurationError, AuthException, AuthProviderError

ACCESS_LIFE = 5183999
REFRESH_LIFE = 31536059
#: The products of an app made before August 2023 that kept Sign In with LinkedIn (v1).
LEGACY_SCOPES = [
    "openid",
    "profile",
    "email",
    "r_liteprofile",
    "r_emailaddress",
    "r_organization_social",
    "rw_organization_admin",
]
Backend = LinkedinOAuth2[str] | LinkedinOpenIdConnect[str]


def settings(cls: type[Backend], app: dict[str, Any], **more: Any) -> dict[str, Any]:
    """The backend's key and secret (and ``more``) as social-core names its settings."""
    prefix = f"SOCIAL_AUTH_{cls.name.upper().replace('-', '_')}"
    out = {
        f"{prefix}_KEY": app["client_id"],
        f"{prefix}_SECRET": app["client_secret"],
        "SOCIAL_AUTH_AUTHENTICATION_BACKENDS": [f"{cls.__module__}.{cls.__name__}"],
    }
    out.update({f"{prefix}_{k}": v for k, v in more.items()})
    return out


def sign_in(
    f: Fakes, cls: type[Backend], **more: Any
) -> tuple[Strategy, Backend, Social, dict[str, Any]]:
    """The whole login as a web app runs it: one backend for the redirect, a new one
    (same session) for the callback. Returns the strategy, the callback's backend, the
    stored social account and the member's account."""
    app = f.create_app("linkedin", redirect_uris=[REDIRECT_URI])
    account = f.create_account("linkedin", name="Ada Lovelace", pages=1)
    strategy = Strategy(settings(cls, app, **more))
    url = cls(strategy, redirect_uri=REDIRECT_URI).auth_url()
    strategy.land(f.authorize(url, account=account["id"]))
    backend = cls(strategy, redirect_uri=REDIRECT_URI)
    social = backend.complete()
    assert isinstance(social, Social)
    return strategy, backend, social, account


@pytest.fixture
def legacy(tmp_path: Path) -> Iterator[Fakes]:
    """A world whose LinkedIn apps kept the legacy Sign In product (``r_liteprofile``,
    ``r_emailaddress``), as apps made before August 2023 can."""
    config = tmp_path / "legacy.yaml"
    config.write_text(f"profiles:\n  linkedin:\n    app_scopes: {LEGACY_SCOPES}\n")
    with fakes(config=config) as world:
        yield world


# -- Sign In with LinkedIn using OpenID Connect --------------------------------------


def test_openid_connect_flow_checks_the_id_token_and_reads_userinfo(
    conntrack_fakes: Fakes,
) -> None:
    _, backend, social, account = sign_in(conntrack_fakes, LinkedinOpenIdConnect)
    assert social.provider == "linkedin-openidconnect" and social.uid == account["id"]
    assert social.extra_data["access_token"].startswith("AQV")
    assert social.extra_data["refresh_token"].startswith("AQX")
    # The id_token passed the backend's checks (signature against the JWKS, issuer,
    # audience, iat) and names the member as userinfo does.
    claims = backend.id_token
    assert claims is not None and claims["sub"] == account["id"]
    assert claims["iss"] == "https://www.linkedin.com/oauth" and "nonce" not in claims
    details = backend.get_user_details(claims)
    assert details["fullname"] == "Ada Lovelace" and details["email"] == account["email"]
    assert (details["first_name"], details["last_name"]) == ("Ada", "Lovelace")


def test_openid_connect_refresh_keeps_the_refresh_tokens_clock(conntrack_fakes: Fakes) -> None:
    strategy, backend, social, _ = sign_in(conntrack_fakes, LinkedinOpenIdConnect)
    first = dict(social.extra_data)
    conntrack_fakes.travel("59d")
    new = backend.refresh_token(first["refresh_token"])
    assert new["access_token"] != first["access_token"]
    assert new["refresh_token"] == first["refresh_token"]
    assert new["expires_in"] == ACCESS_LIFE
    assert abs(new["refresh_token_expires_in"] - (REFRESH_LIFE - 59 * 86400)) <= 2
    # No id_token on a refresh (the backend keeps the login's).
    assert "id_token" not in new
    # The stored account refreshes itself the same way (social-core's own storage API).
    social.refresh_token(strategy)
    assert social.extra_data["access_token"] not in (first["access_token"], new["access_token"])
    assert social.extra_data["refresh_token"] == first["refresh_token"]


def test_openid_connect_read_with_the_refreshed_token(conntrack_fakes: Fakes) -> None:
    strategy, backend, social, account = sign_in(conntrack_fakes, LinkedinOpenIdConnect)
    social.refresh_token(strategy)
    info = backend.user_data(social.extra_data["access_token"])
    assert info is not None
    assert info["sub"] == account["id"] and info["email"] == account["email"]
    assert info["locale"] == {"country": "US", "language": "en"}


def test_openid_connect_after_a_password_change(conntrack_fakes: Fakes) -> None:
    strategy, backend, social, account = sign_in(conntrack_fakes, LinkedinOpenIdConnect)
    conntrack_fakes.event("linkedin", account["id"], "password_change")
    with pytest.raises(AuthProviderError) as read:
        backend.user_data(social.extra_data["access_token"])
    # LinkedIn's 401 (65601 REVOKED_ACCESS_TOKEN); social-core keeps only the status.
    assert read.value.status_code == 401 and read.value.stage == "user_info"
    with pytest.raises(AuthConfigurationError) as refresh:
        social.refresh_token(strategy)
    # LinkedIn refuses the refresh token with 400 invalid_request, which social-core
    # files under configuration errors (see the module docstring).
    assert refresh.value.status_code == 400 and refresh.value.stage == "refresh"
    assert refresh.value.provider_code == "invalid_request"
    assert "invalid, expired or revoked" in refresh.value.detail


def test_an_id_token_issued_after_travel_is_not_yet_valid_to_the_library(
    conntrack_fakes: Fakes,
) -> None:
    """The fakes' clock is wall time plus every ``travel``; social-core (like every
    JWT library) checks ``iat`` against the wall clock, so an id_token issued after a
    travel is "not yet valid" to it. Sign in before travelling (or move the library's
    clock too, e.g. with time-machine): this test holds that limit of in-process fakes.
    """
    conntrack_fakes.travel("1d")
    with pytest.raises(AuthException) as early:
        sign_in(conntrack_fakes, LinkedinOpenIdConnect)
    assert early.value.stage == "token_validation"
    assert "iat" in str(early.value.detail)


def test_with_the_process_clock_moved_the_id_token_checks_agree(conntrack_fakes: Fakes) -> None:
    """The remedy the integration guide gives: move the process's clock (time-machine)
    instead of only the fakes'; social-core then signs in 59 days later and refreshes."""
    later = datetime.now(UTC) + timedelta(days=59)
    with time_machine.travel(later, tick=False):
        strategy, backend, social, account = sign_in(conntrack_fakes, LinkedinOpenIdConnect)
        assert backend.id_token is not None and backend.id_token["iat"] == int(later.timestamp())
        social.refresh_token(strategy)
        info = backend.user_data(social.extra_data["access_token"])
        assert info is not None and info["sub"] == account["id"]


# -- the legacy LinkedinOAuth2 backend -----------------------------------------------


def test_legacy_backend_is_refused_its_default_scope_on_a_new_app(
    conntrack_fakes: Fakes,
) -> None:
    """``r_liteprofile`` (the backend's default) was retired for new apps in August
    2023: LinkedIn sends the browser back with ``unauthorized_scope_error``."""
    with pytest.raises(AuthException) as refused:
        sign_in(conntrack_fakes, LinkedinOAuth2)
    assert getattr(refused.value, "provider_code", None) == "unauthorized_scope_error"
    assert "r_liteprofile" in str(getattr(refused.value, "detail", ""))


def test_legacy_backend_flow_reads_the_projected_profile_and_email(legacy: Fakes) -> None:
    _, backend, social, account = sign_in(
        legacy, LinkedinOAuth2, SCOPE=["r_emailaddress"], FIELD_SELECTORS=["emailAddress"]
    )
    assert social.uid == account["id"]
    assert social.extra_data["expires_in"] == ACCESS_LIFE
    assert social.extra_data["refresh_expires_in"] == REFRESH_LIFE
    profile = backend.user_data(social.extra_data["access_token"])
    assert profile is not None
    # The projection (firstName,id,lastName) is what LinkedIn answers, nothing more,
    # and the address comes from /v2/emailAddress.
    assert set(profile) == {"firstName", "id", "lastName", "emailAddress"}
    details = backend.get_user_details(profile)
    assert (details["first_name"], details["last_name"]) == ("Ada", "Lovelace")
    assert details["email"] == account["email"]


def test_legacy_backend_refresh(legacy: Fakes) -> None:
    strategy, backend, social, _ = sign_in(legacy, LinkedinOAuth2)
    first = dict(social.extra_data)
    legacy.travel("30d")
    social.refresh_token(strategy)
    assert social.extra_data["access_token"] != first["access_token"]
    assert social.extra_data["refresh_token"] == first["refresh_token"]
    left = social.extra_data["refresh_expires_in"]
    assert abs(left - (REFRESH_LIFE - 30 * 86400)) <= 2
    assert backend.user_data(social.extra_data["access_token"]) is not None


def test_legacy_backend_after_the_member_removes_the_app(legacy: Fakes) -> None:
    strategy, backend, social, account = sign_in(legacy, LinkedinOAuth2)
    legacy.event("linkedin", account["id"], "app_removed")
    with pytest.raises(AuthProviderError) as read:
        backend.user_data(social.extra_data["access_token"])
    assert read.value.status_code == 401
    with pytest.raises(AuthConfigurationError) as refresh:
        social.refresh_token(strategy)
    assert refresh.value.provider_code == "invalid_request"
