"""What keeps a web page in the developer's browser out of the fakes.

The fakes listen on the developer's machine, and a browser there visits other sites. A
page from anywhere can send requests to ``127.0.0.1:8400`` (it cannot read the answers,
unless it rebinds its own name to that address). So, before any route runs
(:func:`install`):

- **Host allow-list** (``conntrack serve`` only; ``allow_hosts``): a ``Host`` header
  that names neither a loopback name (``localhost``, ``*.localhost``), nor a provider
  host, nor a name given with ``--allow-host``, is refused with 421. An IP literal is
  always taken: DNS rebinding needs a name the attacker controls. In process (scenarios,
  population runs, tests) there is no list and any ``Host`` is answered.
- **Origin** on the control API and the index page (``/_conntrack/…``): a request whose
  ``Origin`` is not the server's own (``null`` included), or a browser's unsafe request
  marked ``Sec-Fetch-Site: cross-site`` or ``same-site``, is refused with 403. Clients
  that are no browser send neither header and are not concerned.
- **Control token** (``control_token``): the control API wants ``Authorization: Bearer
  TOKEN``; the index page takes ``/_conntrack/?token=TOKEN`` once, which sets an
  ``HttpOnly; SameSite=Strict`` cookie and redirects to the page without the token.
  ``/_conntrack/health`` stays open (readiness checks).
- **JSON only**: a control route that takes a body wants ``application/json``, 415
  otherwise (``text/plain``, which a page may post without a CORS preflight, included).
- **No framing**: every HTML page says ``X-Frame-Options: DENY`` and
  ``frame-ancestors 'none'`` (a framing page could make a person click its buttons).
- **CSRF tokens**: every form of the index page carries ``csrf_token`` (refused with 403
  without it). Every provider's consent form carries one too (:func:`check_consent`):
  a browser's post (it sends ``Origin``) must come from the page itself and carry it,
  as on a real provider's consent page; a scripted client's post (no ``Origin``, as the
  tests' helpers and the simulated person of a scenario do) may leave it out.

The provider endpoints themselves (token exchanges, APIs) take any ``Origin``, as the
real ones do for browser-based OAuth clients.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from quart import Quart, Request, Response, request
from werkzeug.exceptions import Forbidden

from conntrack import local_name, same_origin, split_host

from ._current import app as current_app_
from ._current import this_request

#: The form field of every CSRF token (index page and consent pages).
CSRF_FIELD = "csrf_token"
#: The environment variable ``conntrack serve`` reads a control token from.
TOKEN_ENV = "CONNTRACK_CONTROL_TOKEN"

PREFIX = "/_conntrack"
INDEX = f"{PREFIX}/"
UI = f"{PREFIX}/ui/"
HEALTH = f"{PREFIX}/health"
LOOPBACK_NAMES = frozenset({"localhost"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CONFIG = "CONNTRACK_SECURITY"


@dataclass(frozen=True)
class Security:
    """One app's settings: the hosts it answers (``None``: any), its control token, and
    the random secret of its CSRF tokens."""

    allowed_hosts: frozenset[str] | None
    control_token: str | None
    csrf: str

    def host_allowed(self, host: str) -> bool:
        return self.allowed_hosts is None or host in self.allowed_hosts or local_name(host)

    def csrf_for(self, form: str) -> str:
        """The CSRF token of one kind of form: ``"index"`` (the index page's) or
        ``"consent"`` (every consent page's). Two tokens, so that a consent page, which
        anyone who reaches the server may open (no control token guards it), never shows
        the token of the index page's forms."""
        return hmac.new(self.csrf.encode(), form.encode(), hashlib.sha256).hexdigest()[:32]

    def sign(self, text: str) -> str:
        """A signature of ``text`` only this server can make: the index page shows the
        message of a form's redirect (``?ok=…``) only with it, so that a link from
        another site cannot put words of its own on the page."""
        mac = hmac.new(self.csrf.encode(), b"flash\0" + text.encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def cookie_value(self) -> str:
        """What the index page's cookie holds: derived from the token, never the token."""
        assert self.control_token is not None
        key = self.control_token.encode()
        return hmac.new(key, b"conntrack index page", hashlib.sha256).hexdigest()


def settings() -> Security:
    s = current_app_().config[_CONFIG]
    assert isinstance(s, Security)
    return s


def same_secret(given: str, expected: str) -> bool:
    """Whether ``given`` is ``expected``, in a time that tells nothing of either (not
    even the length: both are hashed first)."""
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.encode()).digest(), digest(expected.encode()).digest())


def csrf_token() -> str:
    """The CSRF token of the page being rendered (a template global): the index page's
    under ``/_conntrack/``, the consent pages' elsewhere; empty outside a request."""
    try:
        s = settings()
        path = request.path
    except RuntimeError:  # no app or request context: a page rendered outside a request
        return ""
    return s.csrf_for("index" if path.startswith(INDEX) else "consent")


def hosts_allowed(provider_hosts: Iterable[str], extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a server answers for: loopback, provider hosts and ``extra``."""
    names = {split_host(h)[0] for h in (*provider_hosts, *extra)}
    # ("" is what a Host that does not parse names: never to be answered, whatever
    # was bound, such as ``--host ::``.)
    return frozenset(LOOPBACK_NAMES | names) - {""}


def _problem(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    from ._control import control_error

    response = control_error(status, message)
    response.headers.update(headers or {})
    return response


def _page(status: int, title: str, body: str, headers: dict[str, str] | None = None) -> Response:
    html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n<main>\n<h1>{escape(title)}</h1>\n"
        f"{body}\n</main>\n</body>\n</html>\n"
    )
    return Response(
        html,
        status=status,
        content_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _is_page(path: str) -> bool:
    """The index page and its forms (HTML answers), as against the JSON control API."""
    return path == INDEX or path.startswith(UI)


def _cross_site() -> str | None:
    """Why this browser request comes from another site, or None."""
    origin = request.headers.get("Origin")
    if origin is not None and not same_origin(origin, request.headers.get("Host")):
        return f"a request from another origin ({origin}) is refused here"
    site = request.headers.get("Sec-Fetch-Site", "").lower()
    navigation = (
        request.method in SAFE_METHODS and request.headers.get("Sec-Fetch-Mode") == "navigate"
    )
    if site in ("cross-site", "same-site") and not navigation:
        return f"a request from another site (Sec-Fetch-Site: {site}) is refused here"
    return None


def _cookie_name() -> str:
    _, port = split_host(request.headers.get("Host", ""))
    return "conntrack_token" if port is None else f"conntrack_token_{port}"


def _authorized(s: Security) -> bool:
    assert s.control_token is not None
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() == "bearer" and same_secret(value.strip(), s.control_token):
        return True
    cookie = request.cookies.get(_cookie_name(), "")
    return same_secret(cookie, s.cookie_value())


def _unauthorized(path: str) -> Response:
    if _is_page(path):
        return _page(
            401,
            "conntrack: this server needs its control token",
            "<p>It was started with <code>--control-token</code> (or "
            f"<code>{TOKEN_ENV}</code>). Open <code>/_conntrack/?token=TOKEN</code> once "
            "with that token: a cookie then lets this browser in.</p>",
        )
    return _problem(
        401,
        "this server needs its control token: send 'Authorization: Bearer TOKEN' with the "
        f"--control-token it was started with (or {TOKEN_ENV})",
        {"WWW-Authenticate": 'Bearer realm="conntrack"'},
    )


def _token_login(s: Security) -> Response:
    """``GET /_conntrack/?token=…``: a right token sets the cookie and drops the query."""
    assert s.control_token is not None
    given = request.args.get("token", "")
    if not same_secret(given, s.control_token):
        return _unauthorized(INDEX)
    response = Response("", status=303, headers={"Location": INDEX, "Cache-Control": "no-store"})
    response.set_cookie(
        _cookie_name(),
        s.cookie_value(),
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
    )
    return response


def _not_json() -> Response | None:
    if request.method not in BODY_METHODS:
        return None
    kind = request.headers.get("Content-Type")
    if kind is None:
        length = request.headers.get("Content-Length", "0")
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if not chunked and length.strip() in ("", "0"):
            return None  # no body at all: the route says what it misses
    media = (kind or "").split(";")[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return None
    return _problem(
        415,
        f"this route takes a JSON body sent as Content-Type: application/json, "
        f"not {media or 'a body without a Content-Type'}",
    )


async def _form_csrf_ok(s: Security) -> bool:
    form = await request.form
    sent = form.get(CSRF_FIELD, "")
    return bool(sent) and same_secret(sent, s.csrf_for("index"))


async def _check() -> Response | None:
    """The before-request hook: refuse what a hostile page could send."""
    s = settings()
    req = this_request()
    for host in _hosts_named(req):
        name, _ = split_host(host)
        if s.allowed_hosts is not None and not s.host_allowed(name):
            if not name:
                return _problem(
                    421,
                    f"this server does not answer for the host {host!r}: it is not a "
                    "host name, an IP address or either with a port",
                )
            return _problem(
                421,
                f"this server does not answer for the host {name!r} (so that a web page "
                "that points its own name at this address cannot use it); if you reach "
                f"the server by that name, start it with --allow-host {name}",
            )
    path = req.path
    if not (path == PREFIX or path.startswith(INDEX)):
        return None  # provider endpoints: as open as the real ones (consent: check_consent)
    why = _cross_site()
    if why is not None:
        if _is_page(path):
            return _page(403, "conntrack: refused", f"<p>{escape(why)}.</p>")
        return _problem(403, f"{why}: the control API answers only its own pages and "
                        "clients that are no browser (no Origin header)")  # fmt: skip
    if s.control_token is not None and path != HEALTH:
        if path == INDEX and "token" in request.args and request.method == "GET":
            return _token_login(s)
        if not _authorized(s):
            return _unauthorized(path)
    if path.startswith(UI):
        if request.method == "POST" and not await _form_csrf_ok(s):
            return _page(
                403,
                "conntrack: this form is out of date",
                "<p>The form came without this server's CSRF token (it was made by another "
                "page, or before the server restarted). "
                f'Open it again: <a href="{INDEX}">reload the index page</a>.</p>',
            )
        return None
    if path != INDEX:
        return _not_json()
    return None


def _hosts_named(req: Request) -> list[str]:
    """The hosts a request names: its ``Host`` header, and the authority of an
    absolute-form target (``GET http://host/path``, RFC 9112 §3.2.2), which a server
    must take instead of the header; both must be allowed."""
    names = [h for h in (req.headers.get("Host"),) if h is not None]
    target = req.scope.get("path", "")
    if target.startswith(("http://", "https://")):
        names.append(urlsplit(target).netloc.rpartition("@")[2])
    return names


def check_consent(sent: str | None) -> None:
    """A consent form's POST: raise 403 (in the provider's error shape) when a browser
    posts it from elsewhere or without this server's CSRF token (``sent``)."""
    s = settings()
    why = _cross_site()
    if why is not None:
        raise Forbidden(f"{why}: post the consent form from its own page")
    browser = "Origin" in request.headers or "Sec-Fetch-Site" in request.headers
    if sent is None and not browser:
        return  # a scripted client, not a browser: nothing a web page can forge
    if not sent or not same_secret(sent, s.csrf_for("consent")):
        raise Forbidden(
            "the consent form came without this server's CSRF token: open the consent "
            "page again and submit it from there"
        )


def install(
    app: Quart,
    *,
    allow_hosts: Iterable[str] | None,
    provider_hosts: Iterable[str],
    control_token: str | None,
) -> None:
    """Give ``app`` its :class:`Security` and its before-request check (run it before any
    other hook)."""
    allowed = None if allow_hosts is None else hosts_allowed(provider_hosts, allow_hosts)
    app.config[_CONFIG] = Security(allowed, control_token or None, secrets.token_urlsafe(24))
    app.before_request(_check)
    app.after_request(_headers)


async def _headers(response: Response) -> Response:
    """No page of the fakes may be framed by another (clickjacking: the index page's
    buttons and the consent pages' Approve would post from their own origin), and no
    answer is read as anything but what it says it is (``nosniff``, as the real
    providers send it)."""
    if response.mimetype == "text/html":
        response.headers.setdefault("X-Frame-Options", "DENY")
        csp = response.headers.get("Content-Security-Policy")
        if csp is None:
            response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        elif "frame-ancestors" not in csp:
            response.headers["Content-Security-Policy"] = f"{csp}; frame-ancestors 'none'"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


__all__ = [
    "CSRF_FIELD",
    "TOKEN_ENV",
    "Security",
    "check_consent",
    "csrf_token",
    "hosts_allowed",
    "install",
    "same_origin",
    "same_secret",
    "split_host",
]
