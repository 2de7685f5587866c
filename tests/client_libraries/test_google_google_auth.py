"""Google with its own libraries, google-auth-oauthlib and google-auth, unmodified,
inside ``conntrack_fakes``.

``google_auth_oauthlib.flow.Flow`` (a "web" client config, as the Cloud Console
downloads it) builds the consent URL (``access_type=offline``, ``prompt=consent``, PKCE
S256 made by the library) and exchanges the code; ``flow.credentials`` is google-auth's
``google.oauth2.credentials.Credentials``, refreshed with
``google.auth.transport.requests.Request`` and used by ``AuthorizedSession`` (which
refreshes by itself on a 401) to read userinfo, the People API and the YouTube channel.
``google.oauth2.id_token.verify_oauth2_token`` verifies the id_token against Google's
published certificates. After an account event google-auth raises its ``RefreshError``
carrying Google's ``invalid_grant``.

Google answers ``email``/``profile`` by their long names plus ``openid``; oauthlib
raises "Scope has changed" at that unless ``OAUTHLIB_RELAX_TOKEN_SCOPE`` is set, as
against the real Google (googleapis/google-api-python-client#1088). The tests ask for
the long names, as Google's own samples do, and show both behaviours.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import id_token
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow

from conntrack.testing import Fakes

REDIRECT_URI = "https://app.example/google/callback"
AUTH = "https://www.googleapis.com/auth/"
EMAIL, PROFILE = f"{AUTH}userinfo.email", f"{AUTH}userinfo.profile"
YOUTUBE = f"{AUTH}youtube.readonly"
GMAIL = f"{AUTH}gmail.readonly"
SCOPES = ["openid", EMAIL, PROFILE, YOUTUBE]
DEAD_GRANT = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
USERINFO = "https://openidconnect.googleapis.com/v1/userinfo"
CHANNELS = "https://www.googleapis.com/youtube/v3/channels"
PEOPLE_ME = "https://people.googleapis.com/v1/people/me"


def flow_for(app: dict[str, Any], scopes: list[str] = SCOPES) -> Flow:
    config = {
        "web": {
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "redirect_uris": [REDIRECT_URI],
        }
    }
    return Flow.from_client_config(config, scopes=scopes, redirect_uri=REDIRECT_URI)


def setup(f: Fakes) -> tuple[dict[str, Any], dict[str, Any]]:
    app = f.create_app("google", redirect_uris=[REDIRECT_URI])
    ada = f.create_account("google", name="Ada Lovelace", email="ada@example.com")
    return app, ada


def connect(
    f: Fakes, scopes: list[str] = SCOPES, **auth: str
) -> tuple[Flow, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Ada connects through ``Flow``; answer the flow, its token, the app and Ada."""
    app, ada = setup(f)
    flow = flow_for(app, scopes)
    url, _state = flow.authorization_url(**(auth or {"access_type": "offline"}))
    token = flow.fetch_token(authorization_response=f.authorize(url, account=ada["id"]))
    return flow, dict(token), app, ada


def test_the_consent_url_is_googles_with_pkce(conntrack_fakes: Fakes) -> None:
    app, _ada = setup(conntrack_fakes)
    url, state = flow_for(app).authorization_url(access_type="offline", prompt="consent")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert (parts.netloc, parts.path) == ("accounts.google.com", "/o/oauth2/auth")
    assert query["scope"] == " ".join(SCOPES) and query["state"] == state
    assert query["code_challenge_method"] == "S256" and query["access_type"] == "offline"


def test_flow_gives_credentials_that_read_userinfo_people_and_youtube(
    conntrack_fakes: Fakes,
) -> None:
    flow, token, app, ada = connect(conntrack_fakes, prompt="consent", access_type="offline")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3599
    assert token["refresh_token"].startswith("1//") and token["access_token"].startswith("ya29.")
    credentials = flow.credentials
    assert credentials.valid and credentials.client_id == app["client_id"]
    assert set(credentials.granted_scopes or []) == set(SCOPES)
    session = AuthorizedSession(credentials)
    me = session.get(USERINFO).json()
    assert me["sub"] == ada["id"] and me["email"] == "ada@example.com" and me["email_verified"]
    person = session.get(PEOPLE_ME, params={"personFields": "names,emailAddresses"}).json()
    assert person["resourceName"] == f"people/{ada['id']}"
    assert person["names"][0]["displayName"] == "Ada Lovelace"
    channels = session.get(CHANNELS, params={"part": "snippet", "mine": "true"}).json()
    assert channels["kind"] == "youtube#channelListResponse" and len(channels["items"]) == 1


def test_the_id_token_verifies_with_google_auth(conntrack_fakes: Fakes) -> None:
    _flow, token, app, ada = connect(conntrack_fakes)
    claims = id_token.verify_oauth2_token(token["id_token"], Request(), app["client_id"])
    assert claims["iss"] == "https://accounts.google.com" and claims["sub"] == ada["id"]
    assert claims["aud"] == app["client_id"] and claims["email"] == "ada@example.com"
    with pytest.raises(ValueError):  # another audience
        id_token.verify_oauth2_token(token["id_token"], Request(), "someone-else")
    head, body, signature = token["id_token"].split(".")
    forged = f"{head}.{body}.{signature[::-1]}"
    with pytest.raises(ValueError):
        id_token.verify_oauth2_token(forged, Request(), app["client_id"])


def test_refresh_keeps_the_refresh_token(conntrack_fakes: Fakes) -> None:
    flow, token, _app, ada = connect(conntrack_fakes)
    credentials = flow.credentials
    conntrack_fakes.travel("2h")
    first = credentials.token
    credentials.refresh(Request())
    assert credentials.token != first and credentials.refresh_token == token["refresh_token"]
    assert AuthorizedSession(credentials).get(USERINFO).json()["sub"] == ada["id"]


def test_authorized_session_refreshes_on_a_401_by_itself(conntrack_fakes: Fakes) -> None:
    flow, _token, _app, ada = connect(conntrack_fakes)
    credentials = flow.credentials
    stale = Credentials(
        token=credentials.token,
        refresh_token=credentials.refresh_token,
        token_uri=credentials.token_uri,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
    )  # no expiry known: the session learns from Google's 401
    conntrack_fakes.travel("2h")
    assert AuthorizedSession(stale).get(USERINFO).json()["sub"] == ada["id"]
    assert stale.token != credentials.token


def test_no_refresh_token_on_a_repeat_consent_without_prompt(conntrack_fakes: Fakes) -> None:
    """Google's classic: a second authorization without ``prompt=consent`` gets no
    refresh token, and google-auth cannot refresh the credentials it makes."""
    app, ada = setup(conntrack_fakes)
    for expected in (True, False):
        flow = flow_for(app)
        url, _ = flow.authorization_url(access_type="offline")
        token = flow.fetch_token(
            authorization_response=conntrack_fakes.authorize(url, account=ada["id"])
        )
        assert ("refresh_token" in token) is expected
    with pytest.raises(RefreshError, match="necessary fields"):
        flow.credentials.refresh(Request())


def test_after_access_is_revoked_refresh_raises_invalid_grant(conntrack_fakes: Fakes) -> None:
    flow, _token, app, ada = connect(conntrack_fakes)
    conntrack_fakes.event("google", ada["id"], "app_removed", client_id=app["client_id"])
    with pytest.raises(RefreshError) as raised:
        flow.credentials.refresh(Request())
    assert raised.value.args[1] == DEAD_GRANT and not raised.value.retryable
    with pytest.raises(RefreshError):  # the session's 401, then its refresh
        AuthorizedSession(flow.credentials).get(USERINFO)


def test_a_password_change_kills_only_gmail_grants(conntrack_fakes: Fakes) -> None:
    youtube, _t, _app, ada = connect(conntrack_fakes)
    app = conntrack_fakes.create_app("google", redirect_uris=[REDIRECT_URI])
    gmail = flow_for(app, ["openid", EMAIL, GMAIL])
    url, _ = gmail.authorization_url(access_type="offline")
    gmail.fetch_token(authorization_response=conntrack_fakes.authorize(url, account=ada["id"]))
    conntrack_fakes.event("google", ada["id"], "password_change")
    youtube.credentials.refresh(Request())  # YouTube scopes survive a password change
    with pytest.raises(RefreshError) as raised:
        gmail.credentials.refresh(Request())
    assert raised.value.args[1] == DEAD_GRANT


# -- the id_token without openid ----------------------------------------------------------


def test_email_and_profile_come_back_renamed_with_openid_and_an_id_token(
    conntrack_fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked for ``email profile`` (no ``openid``), Google answers the long names and
    ``openid``, with an id_token: oauthlib raises "Scope has changed" as it does against
    Google, and with ``OAUTHLIB_RELAX_TOKEN_SCOPE`` the flow goes through."""
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)
    with pytest.raises(Warning, match="Scope has changed") as changed:
        connect(conntrack_fakes, ["email", "profile"])
    assert set(getattr(changed.value, "new_scope", ())) == {"openid", EMAIL, PROFILE}
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    flow, token, app, ada = connect(conntrack_fakes, ["email", "profile"])
    assert token["scope"] == [EMAIL, "openid", PROFILE]
    claims = id_token.verify_oauth2_token(token["id_token"], Request(), app["client_id"])
    assert claims["sub"] == ada["id"] and claims["name"] == "Ada Lovelace"
    assert flow.credentials.id_token == token["id_token"]


def test_a_youtube_only_grant_has_no_id_token(conntrack_fakes: Fakes) -> None:
    flow, token, _app, _ada = connect(conntrack_fakes, [YOUTUBE])
    assert token["scope"] == [YOUTUBE] and "id_token" not in token
    assert flow.credentials.id_token is None
    channels = AuthorizedSession(flow.credentials).get(
        CHANNELS, params={"part": "id", "mine": "true"}
    )
    assert channels.status_code == 200 and channels.json()["items"][0]["id"]
