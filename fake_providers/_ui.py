"""The index page of the fakes, for a person at a browser: ``GET /_conntrack/``.

One self-contained HTML page (inline CSS, no scripts) lists the apps (with a link that
opens each one's consent page), the accounts (pages, state flags, grants, recent
events), the tokens (prefix, kind, expiry, valid or why not), the clock and the active
faults; ``GET /`` on the bare server (no provider ``Host``) redirects to it.

Its buttons are plain HTML forms that POST to small endpoints under
``/_conntrack/ui/…``, each with the server's ``csrf_token`` (without it, or from another
origin, a post is refused before it gets here: ``_security``); each calls the same
core function as the JSON control API (``_control``) and answers ``303 See Other`` back
to the page, with what happened (or what was wrong) in the query (``?ok=…`` /
``?error=…``, signed with ``sig``: a link from elsewhere cannot put its own words on the
page, :func:`_flash`) and a fragment that scrolls to the thing changed:

- ``POST /_conntrack/ui/apps``: register an app (``provider``, ``redirect_uris`` one a
  line, ``name``, ``client_id``, ``client_secret``, ``publishing_status``);
- ``POST /_conntrack/ui/accounts``: create an account (``provider``, ``name``,
  ``email``, ``pages``, ``type``, ``linked_instagram``);
- ``POST /_conntrack/ui/accounts/{id}/events``: fire an account event (``type`` and
  its parameters ``client_id``, ``page_id``, ``permission``, ``account_type``);
- ``POST /_conntrack/ui/tokens/revoke``: revoke a token, named by ``prefix`` and
  ``seq`` (the page never carries whole token values);
- ``POST /_conntrack/ui/clock``: advance the clock ``by`` a duration or ``to`` an
  instant;
- ``POST /_conntrack/ui/faults``, ``…/faults/{id}/remove``, ``…/faults/clear``: add,
  remove and clear faults.

The page renders through :func:`._templates.render` on the calling task (never Quart's
``render_template``, whose worker thread would let a simulation's virtual clock jump).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, Response, current_app, request

from conntrack import DurationError, format_duration, format_instant, parse_duration, parse_instant

from ._security import same_secret, settings
from ._templates import render
from .core import AccountType, App, Core, EventType, FakeProviderError, FaultKind, Token

INDEX = "/_conntrack/"
UI = "/_conntrack/ui"

#: Where each protocol's consent page lives (after ``/``), and its client-id parameter.
AUTHORIZE: dict[str, tuple[str, str]] = {
    "facebook": ("www.facebook.com/{version}/dialog/oauth", "client_id"),
    "instagram": ("www.instagram.com/oauth/authorize", "client_id"),
    "linkedin": ("www.linkedin.com/oauth/v2/authorization", "client_id"),
    "tiktok": ("www.tiktok.com/v2/auth/authorize/", "client_key"),
    "twitter": ("x.com/i/oauth2/authorize", "client_id"),
    "google": ("accounts.google.com/o/oauth2/v2/auth", "client_id"),
}
#: The state and PKCE verifier of the index page's consent links (PKCE "plain", so the
#: verifier is the challenge: an app can exchange a code it got this way).
LINK_STATE = "conntrack-index"
LINK_VERIFIER = "conntrack-index-page-pkce-verifier-0123456789abcdef"

#: Events that need nothing but the account: one button each on the account's card.
#: Flag pairs show the one that changes the account's state now.
_PAIRS = {
    EventType.CHECKPOINT: ("checkpoint", EventType.CHECKPOINT_CLEARED),
    EventType.LOCKED: ("locked", EventType.UNLOCKED),
    EventType.SUSPENDED: ("suspended", EventType.REINSTATED),
    EventType.RESTRICTED: ("restricted", EventType.UNRESTRICTED),
}
_HINTS = {
    EventType.PASSWORD_CHANGE: "The person changes their password: sessions end.",
    EventType.USERNAME_CHANGE: "The person renames the account (Facebook, Instagram end sessions).",
    EventType.APP_REMOVED: "The person removes every app's access in their settings.",
    EventType.ADMIN_REMOVED: "The account loses its admin role on every page it administers.",
}


def consent_url(core: Core, app: App) -> str | None:
    """The path (from the server's root) of ``app``'s consent page with the profile's
    default scopes and optional ones (what a product asks for), the app's first redirect
    URI and :data:`LINK_STATE`; ``None`` for a protocol without an OAuth 2.0 consent page
    here."""
    where = AUTHORIZE.get(app.provider)
    if where is None or not app.redirect_uris:
        return None
    path, client_param = where
    profile = core.profile(app.provider)
    query = {
        client_param: app.client_id,
        "redirect_uri": app.redirect_uris[0],
        "response_type": "code",
        "scope": profile.scope_separator.join(
            dict.fromkeys([*(profile.get("default_scopes") or []), *profile.optional_scopes])
        ),
        "state": LINK_STATE,
    }
    if app.provider == "google":
        query |= {"access_type": "offline", "prompt": "consent"}
    if str(profile.get("pkce", "optional")) == "required":
        query |= {"code_challenge": LINK_VERIFIER, "code_challenge_method": "plain"}
    version = str(profile.get("api_version", "v21.0"))
    return f"/{path.format(version=version)}?{urlencode(query)}"


def _core() -> Core:
    c = current_app.config["CONNTRACK_CORE"]
    assert isinstance(c, Core)
    return c


def _label(event: EventType | str) -> str:
    return str(event).replace("_", " ").capitalize()


def _span(d: timedelta) -> str:
    """A duration for people: to the minute (to the second under a minute)."""
    secs = abs(int(d.total_seconds()))
    return format_duration(timedelta(seconds=secs if secs < 60 else secs - secs % 60))


def _when(at: datetime | None, now: datetime) -> dict[str, str] | None:
    """An instant and how far it is from now ("in 59d 23h", "2h ago")."""
    if at is None:
        return None
    delta = at - now
    rel = "now" if abs(delta) < timedelta(seconds=1) else _span(delta)
    if rel != "now":
        rel = f"in {rel}" if delta > timedelta(0) else f"{rel} ago"
    return {"at": format_instant(at), "rel": rel}


def _clock(core: Core) -> dict[str, Any]:
    offset = getattr(core.clock, "offset", None)
    return {
        "now": format_instant(core.now()),
        "offset": _span(offset) if isinstance(offset, timedelta) else None,
        "can_advance": callable(getattr(core.clock, "advance", None)),
    }


def _token_row(core: Core, token: Token, now: datetime) -> dict[str, Any]:
    check = core.check_token(token.value)
    account = core.account(token.account_id) if token.account_id else None
    return {
        "prefix": token.prefix,
        "seq": token.seq,
        "provider": token.provider,
        "kind": str(token.kind),
        "account": token.account_id,
        "account_name": account.name if account is not None else "",
        "app": token.client_id,
        "page": token.page_id,
        "scopes": list(token.scopes),
        "issued": _when(token.issued_at, now),
        "expires": _when(token.expires_at, now),
        "valid": check.valid,
        "reason": None if check.reason is None else str(check.reason),
        "since": _when(check.since, now),
    }


def _account_card(core: Core, account_id: str, now: datetime) -> dict[str, Any]:
    account = core.account(account_id)
    assert account is not None
    state = core.account_state(account_id)
    deleted = getattr(account, "deleted_at", None)
    flags = [n for n in ("locked", "suspended", "restricted", "checkpoint") if getattr(state, n)]
    buttons: list[dict[str, str]] = []
    for kind in (EventType.PASSWORD_CHANGE, EventType.USERNAME_CHANGE, EventType.APP_REMOVED):
        buttons.append({"type": str(kind), "label": _label(kind), "hint": _HINTS[kind]})
    for on, (flag, off) in _PAIRS.items():
        kind = off if getattr(state, flag) else on
        buttons.append({"type": str(kind), "label": _label(kind), "hint": ""})
    if state.admin_of:
        kind = EventType.ADMIN_REMOVED
        buttons.append({"type": str(kind), "label": _label(kind), "hint": _HINTS[kind]})
    switch = (
        EventType.SWITCHED_TO_PROFESSIONAL
        if state.type is AccountType.PERSONAL
        else EventType.SWITCHED_TO_PERSONAL
    )
    buttons.append({"type": str(switch), "label": _label(switch), "hint": ""})
    if state.linked_page_id is not None:
        kind = EventType.PAGE_UNLINKED
        buttons.append({"type": str(kind), "label": _label(kind), "hint": ""})
    pages = []
    for page in core.pages_of(account_id):
        ig = core.account(page.instagram_account_id) if page.instagram_account_id else None
        pages.append(
            {
                "id": page.id,
                "name": page.name,
                "kind": page.kind,
                "admins": len(page.admins),
                "instagram": None if ig is None else {"id": ig.id, "name": ig.name},
            }
        )
    grants = [
        {
            "app": g.client_id,
            "granted": list(g.granted),
            "declined": list(g.declined),
            "active": g.active,
            "data_access": _when(g.data_access_expires_at, now),
        }
        for g in core.grants()
        if g.account_id == account_id
    ]
    return {
        "id": account.id,
        "provider": account.provider,
        "name": account.name,
        "email": account.email,
        "type": str(state.type),
        "flags": flags,
        "deleted": _when(deleted, now) if isinstance(deleted, datetime) else None,
        "linked_page": state.linked_page_id,
        "pages": pages,
        "grants": grants,
        "apps": [a.client_id for a in core.apps(account.provider)],
        "events": [
            {"type": str(e.type), "at": _when(e.mark.at, now), "detail": _event_detail(e)}
            for e in reversed(account.events[-5:])
        ],
        "buttons": buttons,
    }


def _event_detail(event: Any) -> str:
    parts = []
    for key in ("client_id", "page_id", "permission", "account_type"):
        value = getattr(event, key, None)
        if value is not None:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def index_page(core: Core, *, ok: str = "", error: str = "") -> str:
    """The index page's HTML."""
    now = core.now()
    apps = [
        {**a.to_json(), "consent_url": consent_url(core, a), "pkce": _needs_pkce(core, a)}
        for a in core.apps()
    ]
    return render(
        "conntrack_index.html",
        ok=ok,
        error=error,
        clock=_clock(core),
        providers=sorted(core.profiles),
        apps=apps,
        accounts=[_account_card(core, a.id, now) for a in core.accounts()],
        tokens=[_token_row(core, t, now) for t in reversed(core.tokens())],
        faults=[{k: v for k, v in f.to_json().items() if v is not None} for f in core.faults()],
        fault_kinds=[k.value for k in FaultKind],
        events=[e.value for e in EventType],
        account_types=[t.value for t in AccountType],
        all_pages=[{"id": p.id, "name": p.name} for a in core.accounts() for p in a.pages],
        link_verifier=LINK_VERIFIER,
        ui=UI,
    )


def _needs_pkce(core: Core, app: App) -> bool:
    return str(core.profile(app.provider).get("pkce", "optional")) == "required"


def _back(*, ok: str = "", error: str = "", anchor: str = "") -> Response:
    """``303 See Other`` to the index page, saying what happened (signed)."""
    kind, text = ("error", error) if error else ("ok", ok)
    fields = {kind: text, "sig": settings().sign(f"{kind}:{text}")} if text else {}
    query = urlencode(fields)
    location = INDEX + (f"?{query}" if query else "") + (f"#{anchor}" if anchor else "")
    return Response("", status=303, headers={"Location": location})


async def _form() -> dict[str, str]:
    form = await request.form
    return {k: v.strip() for k, v in form.items()}


def _opt(form: dict[str, str], key: str) -> str | None:
    return form.get(key) or None


async def _act(action: Callable[[Core, dict[str, str]], tuple[str, str]]) -> Response:
    """Run one form's ``action`` (which answers a message and an anchor) and go back;
    what the core refuses goes back as the page's error message."""
    form = await _form()
    try:
        message, anchor = action(_core(), form)
    except (FakeProviderError, DurationError, ValueError) as err:
        return _back(error=str(err))
    return _back(ok=message, anchor=anchor)


def _create_app(core: Core, form: dict[str, str]) -> tuple[str, str]:
    uris = [u.strip() for u in form.get("redirect_uris", "").splitlines() if u.strip()]
    if not uris:
        raise ValueError("give at least one redirect URI")
    app = core.create_app_registration(
        form.get("provider", ""),
        client_id=_opt(form, "client_id"),
        client_secret=_opt(form, "client_secret"),
        redirect_uris=uris,
        name=_opt(form, "name"),
        publishing_status=form.get("publishing_status") or "production",
    )
    return f"{app.provider} app {app.name} registered: client id {app.client_id}", "apps"


def _create_account(core: Core, form: dict[str, str]) -> tuple[str, str]:
    pages = form.get("pages", "")
    if pages and not pages.isdigit():
        raise ValueError("pages must be a whole number")
    account = core.create_account(
        form.get("provider", ""),
        name=_opt(form, "name"),
        email=_opt(form, "email"),
        pages=int(pages) if pages else None,
        type=form.get("type") or "business",
        linked_instagram=form.get("linked_instagram") == "on",
    )
    return (
        f"{account.provider} account {account.name} created: id {account.id}",
        f"account-{account.id}",
    )


def _fire(account_id: str) -> Callable[[Core, dict[str, str]], tuple[str, str]]:
    def fire(core: Core, form: dict[str, str]) -> tuple[str, str]:
        params = {
            param: form[key]
            for key, param in (
                ("client_id", "client_id"),
                ("page_id", "page_id"),
                ("permission", "permission"),
                ("account_type", "type"),
            )
            if form.get(key)
        }
        event = core.fire_event(account_id, form.get("type", ""), **params)
        detail = _event_detail(event)
        return (
            f"{event.type} on account {account_id}" + (f" ({detail})" if detail else ""),
            f"account-{account_id}",
        )

    return fire


def _revoke(core: Core, form: dict[str, str]) -> tuple[str, str]:
    prefix, seq = form.get("prefix", ""), form.get("seq", "")
    token = next((t for t in core.tokens() if t.prefix == prefix and str(t.seq) == seq), None)
    if token is None:
        raise ValueError(f"no token {prefix} (seq {seq})")
    core.revoke(token.value)
    return f"token {prefix} revoked (with its whole family)", "tokens"


def _advance(core: Core, form: dict[str, str]) -> tuple[str, str]:
    by, to = form.get("by", ""), form.get("to", "")
    if bool(by) == bool(to):
        raise ValueError("give a duration to advance by, or an instant to advance to")
    if by:
        now = core.advance_clock(by=parse_duration(by))
    else:
        instant = parse_instant(to)
        if instant < core.now():
            raise ValueError("the clock cannot move backwards")
        now = core.advance_clock(to=instant)
    return f"the clock now reads {format_instant(now)}", "clock"


def _add_fault(core: Core, form: dict[str, str]) -> tuple[str, str]:
    extra: dict[str, Any] = {}
    if form.get("for"):
        extra["for_"] = parse_duration(form["for"])
    if form.get("count"):
        if not form["count"].isdigit():
            raise ValueError("count must be a whole number")
        extra["count"] = int(form["count"])
    # What only some fault kinds take (an endpoint, a named error, a status, a latency):
    # passed on when filled in; the core says which kinds take which.
    for key in ("endpoint", "error"):
        if form.get(key):
            extra[key] = form[key]
    for key in ("status", "delay_ms"):
        if form.get(key):
            if not form[key].isdigit():
                raise ValueError(f"{key} must be a whole number")
            extra[key] = int(form[key])
    try:
        fault = core.add_fault(form.get("provider", ""), form.get("kind", ""), **extra)
    except TypeError as err:  # a parameter this core's faults do not take
        raise ValueError(f"this server's faults do not take that parameter: {err}") from None
    return f"{fault.kind} fault {fault.id} on {fault.provider} added", "faults"


def _remove_fault(fault_id: str) -> Callable[[Core, dict[str, str]], tuple[str, str]]:
    def remove(core: Core, form: dict[str, str]) -> tuple[str, str]:
        core.remove_fault(fault_id)
        return f"fault {fault_id} removed", "faults"

    return remove


def _clear_faults(core: Core, form: dict[str, str]) -> tuple[str, str]:
    cleared = core.clear_faults(None)
    return f"{len(cleared)} fault(s) cleared", "faults"


def _flash() -> dict[str, str]:
    """The message a form's redirect carries (``?ok=`` or ``?error=``), if this server
    signed it: any page may link here with a query of its own ("your fakes are
    compromised, run …"), which must not show as the server's word."""
    sig = request.args.get("sig", "")
    for kind in ("error", "ok"):
        text = request.args.get(kind)
        if text and same_secret(sig, settings().sign(f"{kind}:{text}")):
            return {kind: text}
    return {}


def blueprint() -> Blueprint:
    """A fresh blueprint with the index page, its form endpoints and the ``/`` redirect."""
    bp = Blueprint("conntrack_ui", __name__)

    @bp.get("/")
    async def root() -> Response:
        return Response("", status=302, headers={"Location": INDEX})

    @bp.get(INDEX)
    async def index() -> Response:
        html = index_page(_core(), **_flash())
        return Response(
            html,
            status=200,
            content_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )

    @bp.post(f"{UI}/apps")
    async def create_app() -> Response:
        return await _act(_create_app)

    @bp.post(f"{UI}/accounts")
    async def create_account() -> Response:
        return await _act(_create_account)

    @bp.post(f"{UI}/accounts/<account_id>/events")
    async def fire_event(account_id: str) -> Response:
        return await _act(_fire(account_id))

    @bp.post(f"{UI}/tokens/revoke")
    async def revoke() -> Response:
        return await _act(_revoke)

    @bp.post(f"{UI}/clock")
    async def advance() -> Response:
        return await _act(_advance)

    @bp.post(f"{UI}/faults")
    async def add_fault() -> Response:
        return await _act(_add_fault)

    @bp.post(f"{UI}/faults/<fault_id>/remove")
    async def remove_fault(fault_id: str) -> Response:
        return await _act(_remove_fault(fault_id))

    @bp.post(f"{UI}/faults/clear")
    async def clear_faults() -> Response:
        return await _act(_clear_faults)

    return bp
