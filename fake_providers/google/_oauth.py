"""Google's authorization-code flow: the consent page and the token endpoint.

``GET /accounts.google.com/o/oauth2/v2/auth`` shows "Choose an account" and the
requested scopes; the form posts back to the same path. An unknown client or an
unregistered ``redirect_uri`` gets Google's HTML error page (never a redirect to a URI
nobody registered); cancel redirects with ``error=access_denied``; approval redirects
with ``state``, ``code``, ``scope``, ``authuser`` and ``prompt``, as Google does.

A refresh token comes only with ``access_type=offline``, and only after the consent
screen: the first authorization of an app by an account, or any authorization with
``prompt=consent``. A repeat authorization of already-granted scopes without
``prompt=consent`` skips consent and gets no refresh token — a classic Google pitfall
the fake reproduces.

``POST /oauth2.googleapis.com/token`` (also at the legacy
``accounts.google.com/o/oauth2/token`` and ``www.googleapis.com/oauth2/v4/token``)
takes ``authorization_code`` (with PKCE) and ``refresh_token``. Client credentials come
from the form (``client_secret_post``) or HTTP Basic (``client_secret_basic``). The
refresh token never rotates and is not returned on refresh. The answer carries an
``id_token`` when ``openid``, ``email`` or ``profile`` is granted
(:data:`ID_TOKEN_SCOPES`).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

from quart import Response, current_app, request

from .._consent import found, listed_accounts, submission, with_query
from ..core import (
    App,
    CodeProblem,
    CodeRejected,
    InvalidRequest,
    NotFound,
    RefreshProblem,
    RefreshRejected,
    Token,
)
from . import _errors as e
from ._errors import OAuthError
from ._http import core, html, json_response, params, render
from ._identity import (
    EMAIL_SCOPES,
    PROFILE_SCOPES,
    account_disabled,
    answered_scopes,
    callback_scopes,
    id_token,
)
from ._keys import ISSUER

PROTOCOL = "google"
HIDDEN = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "access_type",
    "prompt",
    "include_granted_scopes",
    "login_hint",
    "code_challenge",
    "code_challenge_method",
    "nonce",
)
#: The app config key of the nonces of codes not exchanged yet (code → nonce).
NONCES = "GOOGLE_NONCES"
#: At most this many nonces kept (a code lives 10 minutes; a long ``serve`` forgets
#: the nonces of codes nobody exchanged).
MAX_NONCES = 10_000


def split_scopes(text: str) -> list[str]:
    return list(dict.fromkeys(s for s in text.split() if s))


async def error_page(status: int, error: str, message: str) -> Response:
    """Google's sign-in error page: "Access blocked" with ``Error 400: …``."""
    text = render(
        "google_error.html",
        title="Error - Google Accounts",
        heading="Access blocked: Authorization Error",
        status=status,
        error=error,
        message=message,
    )
    return html(text, status)


async def consent() -> Response:
    """GET shows the consent page; POST takes the person's answer."""
    fields, granted = await submission()
    c = core()
    app = c.app(fields.get("client_id", ""))
    if app is None or app.provider != PROTOCOL:
        return await error_page(401, "invalid_client", e.CLIENT_NOT_FOUND)
    redirect_uri = fields.get("redirect_uri", "")
    if not redirect_uri:
        return await error_page(400, "invalid_request", "Missing required parameter: redirect_uri")
    if redirect_uri not in app.redirect_uris:
        return await error_page(
            400,
            "redirect_uri_mismatch",
            f"You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 "
            f"policy. If you're the app developer, register the redirect URI in the Google "
            f"Cloud Console. Request details: redirect_uri={redirect_uri}",
        )
    problem = _request_problem(fields)
    if problem is not None:
        return await error_page(400, "invalid_request", problem)
    requested = split_scopes(fields.get("scope", ""))
    if request.method == "GET":
        return _page(app, fields, requested)
    state = fields.get("state")
    action = fields.get("action")
    if action == "cancel":
        denied = {"error": "access_denied"}
        if state:
            denied["state"] = state
        return found(with_query(redirect_uri, denied))
    if action != "approve":
        return await error_page(400, "invalid_request", "action must be approve or cancel")
    account_id = fields.get("account_id", "")
    grant = c.grant(app.client_id, account_id)
    seen = grant is not None and grant.active and all(s in grant.granted for s in requested)
    shows_consent = "consent" in fields.get("prompt", "").split() or not seen
    try:
        code = c.approve(
            app.client_id,
            account_id,
            redirect_uri,
            requested=requested,
            granted=granted,
            code_challenge=fields.get("code_challenge") or None,
            code_challenge_method=fields.get("code_challenge_method") or None,
            offline=fields.get("access_type") == "offline" and shows_consent,
        )
    except (NotFound, InvalidRequest) as err:
        return await error_page(400, "invalid_request", str(err))
    if fields.get("nonce"):
        kept = nonces()
        kept[code.value] = fields["nonce"]
        while len(kept) > MAX_NONCES:  # codes never exchanged: the oldest go first
            del kept[next(iter(kept))]
    scopes = c.grant(app.client_id, account_id)
    query: dict[str, str] = {}
    if state:
        query["state"] = state
    query["code"] = code.value
    query["scope"] = " ".join(callback_scopes(list(scopes.granted if scopes else granted)))
    query["authuser"] = "0"
    query["prompt"] = "consent" if shows_consent else "none"
    return found(with_query(redirect_uri, query))


def nonces() -> dict[str, str]:
    """The ``nonce`` of each code not exchanged yet, kept beside the world (a code lives
    ten minutes; a ``conntrack serve`` restart forgets them, as it forgets nothing else
    that matters)."""
    kept = current_app.config.get(NONCES)
    if not isinstance(kept, dict):
        kept = current_app.config[NONCES] = {}
    return kept


def _request_problem(fields: dict[str, str]) -> str | None:
    """What Google's error page would say about the request, if anything."""
    response_type = fields.get("response_type", "")
    if not response_type:
        return "Required parameter is missing: response_type"
    if response_type != "code":
        return f"Invalid response_type: {response_type}"
    if not split_scopes(fields.get("scope", "")):
        return "Missing required parameter: scope"
    if fields.get("access_type", "online") not in ("online", "offline"):
        return f"Invalid access_type: {fields['access_type']}"
    method = fields.get("code_challenge_method")
    if method and method not in ("S256", "plain"):
        return f"Invalid code_challenge_method: {method}"
    return None


def _page(app: App, fields: dict[str, str], requested: list[str]) -> Response:
    c = core()
    accounts = listed_accounts(PROTOCOL)
    hint = fields.get("login_hint", "")
    selected = next((a.id for a in accounts if hint in (a.email, a.id)), None)
    if hint and selected is None:  # beyond the list: the hinted account joins it
        hinted = c.account(hint) or next((a for a in c.accounts(PROTOCOL) if a.email == hint), None)
        if hinted is not None and hinted.provider == PROTOCOL:
            accounts.append(hinted)
            selected = hinted.id
    text = render(
        "google_consent.html",
        app=app,
        action=request.path,
        hidden={k: fields[k] for k in HIDDEN if k in fields},
        accounts=accounts,
        selected=selected,
        scopes=requested,
    )
    return html(text)


# -- the token endpoint -------------------------------------------------------------------


def client_credentials(fields: dict[str, str]) -> tuple[str, str | None]:
    """``client_id`` and ``client_secret`` from HTTP Basic or the form."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and value.strip():
        try:
            raw = base64.b64decode(value.strip()).decode()
        except ValueError:
            raise e.invalid_client() from None
        cid, _, secret = raw.partition(":")
        return unquote(cid), unquote(secret)
    return fields.get("client_id", ""), fields.get("client_secret")


def authenticate(fields: dict[str, str]) -> App:
    client_id, secret = client_credentials(fields)
    c = core()
    app = c.app(client_id) if client_id else None
    if app is None or app.provider != PROTOCOL:
        raise e.invalid_client(e.CLIENT_NOT_FOUND)
    if secret is None or secret == "":
        raise OAuthError(400, "invalid_request", "client_secret is missing.")
    if secret != app.client_secret:
        raise e.invalid_client()
    return app


async def token(*, legacy: bool = False) -> Response:
    """``POST /token``: the code exchange and the refresh grant. ``legacy``: the old
    ``accounts.google.com/o/oauth2/token``, whose id_tokens name the issuer
    ``accounts.google.com`` (:func:`issuer`)."""
    fields = await params()
    grant_type = fields.get("grant_type", "")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise e.unsupported_grant(grant_type)
    app = authenticate(fields)
    if grant_type == "authorization_code":
        return exchange(app, fields, issuer(legacy))
    return refresh(app, fields, issuer(legacy))


def issuer(legacy: bool) -> str:
    """The id_token's ``iss``: ``https://accounts.google.com`` (the discovery document's,
    what Google's OpenID Connect compliant endpoints write), and on the legacy token
    endpoint the profile's ``legacy_token_issuer`` [U]. Google: "iss … Always
    accounts.google.com or https://accounts.google.com"; social-core's
    GoogleOpenIdConnect, which exchanges codes on the legacy endpoint, expects
    ``accounts.google.com`` there ("differs from value in discovery document")."""
    if not legacy:
        return ISSUER
    return str(core().profile(PROTOCOL).get("legacy_token_issuer", ISSUER))


def exchange(app: App, fields: dict[str, str], iss: str = ISSUER) -> Response:
    code = fields.get("code", "")
    if not code:
        raise e.missing_parameter("code")
    if not fields.get("redirect_uri"):
        raise e.missing_parameter("redirect_uri")
    c = core()
    prefix = str(c.profile(PROTOCOL).get("code_prefix", "4/"))
    try:
        pair = c.issue_from_code(
            code,
            client_id=app.client_id,
            redirect_uri=fields["redirect_uri"],
            code_verifier=fields.get("code_verifier") or None,
        )
    except CodeRejected as err:
        if err.problem is CodeProblem.UNKNOWN and not code.startswith(prefix[:2]):
            raise e.bad_grant(e.MALFORMED_CODE) from None
        raise code_error(err.problem) from None
    answer: dict[str, Any] = {
        "access_token": pair.access.value,
        "expires_in": lifetime(pair.access),
    }
    if pair.refresh is not None:
        answer["refresh_token"] = pair.refresh.value
    return json_response(_finish(answer, app, pair.access, iss, nonces().pop(code, None)))


def code_error(problem: CodeProblem) -> OAuthError:
    if problem is CodeProblem.REDIRECT_MISMATCH:
        return e.redirect_mismatch()
    if problem is CodeProblem.PKCE_MISSING:
        return e.bad_grant(e.MISSING_VERIFIER)
    if problem is CodeProblem.PKCE_MISMATCH:
        return e.bad_grant(e.INVALID_VERIFIER)
    return e.bad_grant()  # unknown, another client's, used, expired: "Bad Request"


def refresh(app: App, fields: dict[str, str], iss: str = ISSUER) -> Response:
    value = fields.get("refresh_token", "")
    if not value:
        raise e.missing_parameter("refresh_token")
    c = core()
    known = c.token(value, provider=PROTOCOL)
    if known is not None and known.client_id == app.client_id and account_disabled(known):
        raise e.dead_grant()
    try:
        pair = c.refresh(value, client_id=app.client_id)
    except RefreshRejected as err:
        if err.reason is RefreshProblem.WRONG_CLIENT:
            raise e.unauthorized_client() from None
        if err.reason in e.DEAD_REASONS:
            raise e.dead_grant() from None
        raise e.bad_grant() from None
    answer = {"access_token": pair.access.value, "expires_in": lifetime(pair.access)}
    return json_response(_finish(answer, app, pair.access, iss))


def lifetime(token: Token) -> int:
    """``expires_in`` of a token just issued (its whole lifetime, 3599 s for Google)."""
    if token.expires_at is None:
        return 0
    return int((token.expires_at - token.issued_at).total_seconds())


#: Scopes for which Google's token answer carries an ``id_token``: ``openid``, and also
#: ``email`` or ``profile`` (either spelling) without it. A Google engineer: "Any profile
#: scope should allow retrieving an id token, so profile or email should work"
#: (googleapis/google-api-php-client#550); a client asking for "email profile" gets an
#: id_token (react-native-google-signin/google-signin#148), and the answer's ``scope``
#: names ``openid`` (:func:`~._identity.answered_scopes`). Only scopes beyond the
#: identity ones (YouTube alone) get no id_token.
ID_TOKEN_SCOPES = ("openid", *EMAIL_SCOPES, *PROFILE_SCOPES)


def _finish(
    answer: dict[str, Any], app: App, access: Token, iss: str, nonce: str | None = None
) -> dict[str, Any]:
    """Add ``scope``, ``token_type`` and (with ``openid``, ``email`` or ``profile``)
    ``id_token``, in Google's order."""
    scopes = core().scopes_now(access)
    answer["scope"] = " ".join(answered_scopes(scopes))
    answer["token_type"] = "Bearer"
    if any(s in scopes for s in ID_TOKEN_SCOPES):
        answer["id_token"] = id_token(app, access, iss, nonce)
    return answer
