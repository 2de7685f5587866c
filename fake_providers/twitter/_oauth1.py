"""OAuth 1.0a: ``/oauth/request_token``, the consent page, ``/oauth/access_token``, and
signed API calls.

Every request but the access-token leg is checked with HMAC-SHA1 (oauthlib's signature
primitives) against the app's consumer secret (``client_secret``) and, past the first
leg, the token's secret.
The signed URL is the one the client used: the fake's own (``http://127.0.0.1:8400/
api.x.com/oauth/request_token``), the real one reached through a hosts entry or proxy
(``Host: api.x.com``), or the real ``https://`` URL. Timestamps and nonces are not
checked: a ``conntrack serve`` clock may be days ahead of the client's wall clock.

The access-token leg checks no signature: X documents it as "Authentication: Not
required" (see :func:`access_token`).

The consent page (``/oauth/authorize`` or ``/oauth/authenticate``) carries the request
token in a hidden field; approval redirects to the callback with ``oauth_token`` and
``oauth_verifier`` (``oob``: a page with the PIN), a cancel with ``denied``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

from oauthlib.oauth1.rfc5849 import signature, utils
from quart import Response, request

from .._consent import listed_accounts, submission
from .._templates import render
from ..core import App, CodeRejected, InvalidRequest, NotFound, Token, TokenKind
from . import _errors as e
from ._errors import TextError
from ._http import core, form_response
from ._oauth2 import page_error, username

PROTOCOL = "twitter"
WHOA = (
    "Whoa there!",
    "The request token for this page is invalid. It may have already been used, or expired "
    "because it is too old. Please go back to the site or application that sent you here "
    "and try again; it was probably just a mistake.",
)


@dataclass(frozen=True)
class Signed:
    """A request whose OAuth 1.0a signature checked out."""

    app: App
    oauth: dict[str, str]
    """The ``oauth_*`` parameters (header, query and body together)."""
    token: Token | None


async def _all_params() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(every parameter of the request incl. the signature, the body's form fields)``."""
    body: list[tuple[str, str]] = []
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        form = await request.form
        body = [(k, v) for k in form for v in form.getlist(k)]
    header = request.headers.get("Authorization", "")
    collected = signature.collect_parameters(
        uri_query=request.query_string.decode("latin-1"),
        body=body,
        headers={"Authorization": header} if header.lower().startswith("oauth ") else {},
        exclude_oauth_signature=False,
        with_realm=False,
    )
    return [(str(k), str(v)) for k, v in collected], body


def _oauth_params() -> dict[str, str]:
    """The ``oauth_*`` parameters of the ``Authorization: OAuth`` header, unescaped."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("oauth "):
        return {}
    return {
        utils.unescape(k): utils.unescape(v) for k, v in utils.parse_authorization_header(header)
    }


def _candidate_uris(host_path: str) -> list[str]:
    """The URLs the client may have signed (see the module docstring)."""
    scheme = request.scheme
    host = request.host
    path = request.path
    real_host, _, rest = host_path.lstrip("/").partition("/")
    out = [f"{scheme}://{host}{path}", f"https://{real_host}/{rest}", f"http://{real_host}/{rest}"]
    if host.split(":")[0].lower() == real_host:
        out.append(f"{scheme}://{host}/{rest}")
    return out


async def verify(*, needs_token: bool) -> Signed:
    """Check the signature of the running request; raise 32 (as v1.1) when it fails.

    Callers translate ``V1Error`` 32 to their own shape. With ``needs_token`` the
    ``oauth_token`` must be an access token (kind ``oauth1``) or, for the access-token
    leg, a request token; its secret joins the key.
    """
    c = core()
    everything, _ = await _all_params()
    oauth = {k: v for k, v in everything if k.startswith("oauth_")}
    collected = [(k, v) for k, v in everything if k != "oauth_signature"]
    fail = e.v1(401, e.COULD_NOT_AUTHENTICATE)
    app = c.app(oauth.get("oauth_consumer_key", ""))
    if app is None or app.provider != PROTOCOL:
        raise fail
    if oauth.get("oauth_signature_method", "HMAC-SHA1").upper() != "HMAC-SHA1":
        raise fail
    token: Token | None = None
    token_secret = ""
    if needs_token or oauth.get("oauth_token"):
        value = oauth.get("oauth_token", "")
        token = c.token(value, provider=PROTOCOL) or c.oauth1_request(value)
        if token is None:
            raise e.v1(401, e.INVALID_TOKEN)
        token_secret = token.secret or ""
    given = oauth.get("oauth_signature", "")
    normalized = signature.normalize_parameters(collected)
    for uri in _candidate_uris(request.path):
        base = signature.signature_base_string(
            request.method, signature.base_string_uri(uri), normalized
        )
        expected = hmac_sha1(base, app.client_secret, token_secret)
        if given and signature.safe_string_equals(expected, given):
            return Signed(app, oauth, token)
    raise fail


def hmac_sha1(base: str, consumer_secret: str, token_secret: str) -> str:
    """RFC 5849 §3.4.2: base64 HMAC-SHA1 of the base string, keyed by both secrets."""
    key = f"{utils.escape(consumer_secret)}&{utils.escape(token_secret)}"
    digest = hmac.new(key.encode("utf-8"), base.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


async def request_token() -> Response:
    """Leg 1: a request token for a signed request with an approved ``oauth_callback``."""
    signed = await verify(needs_token=False)
    callback = signed.oauth.get("oauth_callback", "")
    if callback != "oob" and not callback_approved(callback, signed.app.redirect_uris):
        raise e.v1(403, e.CALLBACK_NOT_APPROVED)
    token = core().oauth1_request_token(signed.app.client_id, callback)
    assert token.secret is not None
    return form_response(
        {
            "oauth_token": token.value,
            "oauth_token_secret": token.secret,
            "oauth_callback_confirmed": "true",
        }
    )


def callback_approved(callback: str, registered: tuple[str, ...]) -> bool:
    """A registered callback URL, or one with a query string added: "Twitter will allow
    you to pass any standard query strings along with your callback URL in your
    oauth/request_token request" (developer.x.com/en/docs/apps/callback-urls);
    social-core adds its ``redirect_state`` so."""
    if callback in registered:
        return True
    base, sep, query = callback.partition("?")
    return bool(sep and query) and base in registered and "#" not in callback


async def authorize() -> Response:
    """Leg 2: the consent page (GET) and the person's answer (POST)."""
    fields, _ = await submission()
    c = core()
    value = fields.get("oauth_token", "")
    pending = c.oauth1_request(value)
    if (
        pending is None
        or pending.spent is not None
        or pending.verifier is not None
        or (pending.expires_at is not None and c.now() >= pending.expires_at)
    ):
        return await page_error(*WHOA, status=403)
    app = c.app(pending.client_id)
    assert app is not None
    callback = pending.callback or "oob"
    if request.method == "GET":
        html = render(
            "twitter_consent.html",
            app=app,
            action=request.path,
            hidden={"oauth_token": value},
            accounts=listed_accounts(PROTOCOL),
            scopes=[],
            username=username,
        )
        return Response(html, status=200, content_type="text/html; charset=utf-8")
    action = fields.get("action")
    if action == "cancel":
        return _to_callback(callback, {"denied": value})
    if action != "approve":
        return await page_error(*WHOA, status=400)
    try:
        verifier = c.oauth1_authorize(value, fields.get("account_id", ""))
    except (NotFound, InvalidRequest, CodeRejected):
        return await page_error(*WHOA, status=400)
    if callback == "oob":
        html = render("twitter_pin.html", app=app, verifier=verifier)
        return Response(html, status=200, content_type="text/html; charset=utf-8")
    return _to_callback(callback, {"oauth_token": value, "oauth_verifier": verifier})


def _to_callback(callback: str, query: dict[str, str]) -> Response:
    sep = "&" if "?" in callback else "?"
    return Response("", status=302, headers={"Location": f"{callback}{sep}{urlencode(query)}"})


async def access_token() -> Response:
    """Leg 3: the approved request token and its verifier for an access token.

    X documents this leg as "Authentication: Not required", its example a bare
    ``POST /oauth/access_token?oauth_verifier=…&oauth_token=…``
    (developer.x.com/en/docs/authentication/api-reference/access_token): the request
    token and the verifier are what count, from the ``Authorization`` header, the query
    or the form, and no signature is checked. python-twitter-v2 relies on it: it signs
    this leg without the request token's secret, and works against X.
    """
    oauth = _oauth_params()
    form: dict[str, str] = {}
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        form = dict((await request.form).items())

    def given(name: str) -> str:
        return oauth.get(name) or request.args.get(name) or form.get(name) or ""

    value = given("oauth_token")
    if not value:
        raise TextError(401, e.REQUEST_TOKEN_MISSING)
    c = core()
    pending = c.oauth1_request(value)
    if pending is None or pending.kind is not TokenKind.REQUEST:
        raise TextError(401, e.REQUEST_TOKEN_INVALID)
    try:
        token = c.oauth1_access_token(pending.value, given("oauth_verifier"), pending.client_id)
    except CodeRejected as err:
        if str(err.problem) in ("verifier_mismatch", "not_approved"):
            raise TextError(401, e.VERIFIER_INVALID) from None
        raise TextError(401, e.REQUEST_TOKEN_INVALID) from None
    account = c.account(token.account_id)
    assert account is not None and token.secret is not None
    return form_response(
        {
            "oauth_token": token.value,
            "oauth_token_secret": token.secret,
            "user_id": account.id,
            "screen_name": username(account),
        }
    )
