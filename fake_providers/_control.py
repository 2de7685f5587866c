"""The control API under ``/_conntrack/``: create apps and accounts, fire account events,
delete accounts, read grants and tokens, revoke tokens, inject faults, travel in time,
reset. JSON in and out.

Every route, body and answer is described by the OpenAPI 3.1 document served at
``GET /_conntrack/openapi.json`` (``openapi.yaml`` beside this module, written by hand
and held to the routes by ``tests/fake_providers/test_openapi.py``); ``GET
/_conntrack/docs`` shows it as a page.

Every bad request answers 4xx ``{"error": {"message": ..., "field": ...}}`` naming the
offending field — a body key, a query parameter or a path parameter (``account_id``,
``client_id``, ``fault_id``); ``null`` when it is the body as a whole. An unknown
account, app, page, token or fault is 404; a deleted account 409, and so is a
well-formed request the state refuses (a ``client_id`` or account ``id`` in use, the
clock moved backwards); a body key or query parameter the route does not take is 400
naming it. What a route reads (body, query, typed keys) is checked in ``_controlinput``.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import timedelta
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any

import yaml
from quart import Blueprint, Response, current_app, jsonify, request

from conntrack import (
    format_duration,
    format_instant,
    load_profile,
    providers,
)

from ._controlinput import (
    ControlError,
    control_error,
)
from ._controlinput import body_duration as _duration
from ._controlinput import body_instant as _instant
from ._controlinput import body_str as _str
from ._controlinput import read_body as _body
from ._controlinput import read_query as _query
from ._current import forget_world_state
from .core import (
    AccountDeleted,
    ClockError,
    Conflict,
    Core,
    FakeProviderError,
    InvalidRequest,
    NotFound,
    Token,
    TokenRejected,
)

#: Body keys of each route that takes a body.
APP_FIELDS = (
    "provider",
    "redirect_uris",
    "client_id",
    "client_secret",
    "name",
    "publishing_status",
)
ACCOUNT_FIELDS = (
    "provider",
    "id",
    "name",
    "email",
    "pages",
    "type",
    "page_kind",
    "linked_instagram",
    "linked_page",
)
FAULT_FIELDS = (
    "provider",
    "kind",
    "for",
    "until",
    "count",
    "endpoint",
    "error",
    "status",
    "delay_ms",
)
CLOCK_FIELDS = ("by", "to")

#: Body keys of the events endpoint, and the event parameter each one is.
EVENT_PARAMS = {
    "client_id": "client_id",
    "page_id": "page_id",
    "permission": "permission",
    "account_type": "type",
}

PREFIX = "/_conntrack"
#: The most a ``count`` fault counts (and what a state file keeps without trouble).
MAX_COUNT = 1_000_000_000
#: How far the clock may travel ahead of wall time, all advances together: as far as a
#: duration goes (100 years). Beyond it, the year 9999 is near and every expiry computed
#: from now would pass the end of ``datetime``.
MAX_TRAVEL = timedelta(days=36500)
#: The OpenAPI document, packaged beside this module.
OPENAPI = "openapi.yaml"


@cache
def openapi_document() -> dict[str, Any]:
    """The control API's OpenAPI 3.1 document (parsed once)."""
    text = files(__package__).joinpath(OPENAPI).read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


def served_document(core: Core) -> dict[str, Any]:
    """The document as a server over ``core`` serves it: the provider enums list only
    the protocols it serves (``Protocol``) and the names it takes for them
    (``ProviderName``: those protocols and the catalog profiles that speak one)."""
    document = deepcopy(openapi_document())
    schemas = document["components"]["schemas"]
    served = sorted(core.profiles)
    names = {*served, *(n for n in providers() if load_profile(n).protocol in core.profiles)}
    schemas["Protocol"]["enum"] = served
    schemas["ProviderName"]["enum"] = sorted(names)
    return document


def _served_document() -> dict[str, Any]:
    """:func:`served_document` for this app, made once."""
    made = current_app.config.get("CONNTRACK_OPENAPI")
    if made is None:
        made = current_app.config["CONNTRACK_OPENAPI"] = served_document(_core())
    assert isinstance(made, dict)
    return made


def _core() -> Core:
    c = current_app.config["CONNTRACK_CORE"]
    assert isinstance(c, Core)
    return c


def _account_filter(c: Core, query: dict[str, str]) -> str | None:
    """The ``account`` query parameter, checked: 404/409 naming it if unknown/deleted."""
    account = query.get("account")
    if account is not None and c.account(account) is None:
        try:
            c.account_seq(account)
        except AccountDeleted as err:
            raise ControlError(409, str(err), "account") from None
        except NotFound as err:
            raise ControlError(404, str(err), "account") from None
    return account


def _taken(c: Core, account_id: str) -> bool:
    """Whether an account has (or had: deleted ids are not given again) this id."""
    try:
        c.account_seq(account_id)
    except AccountDeleted:
        return True
    except NotFound:
        return False
    return True


def _provider_filter(c: Core, query: dict[str, str]) -> str | None:
    provider = query.get("provider")
    return None if provider is None else c.protocol_of(provider)


def _clock_json(c: Core) -> dict[str, Any]:
    offset = c.clock_offset()
    return {
        "now": format_instant(c.now()),
        "offset": None if offset is None else format_duration(offset),
        "status": "ready",
        "can_advance": c.can_advance(),
    }


def _matches(token: Token, provider: str | None, account: str | None, app: str | None) -> bool:
    wanted = (provider, account, app)
    have = (token.provider, token.account_id, token.client_id)
    return all(w in (None, h) for w, h in zip(wanted, have, strict=True))


def blueprint() -> Blueprint:
    """A fresh control blueprint."""
    bp = Blueprint("conntrack_control", __name__, url_prefix=PREFIX)

    @bp.errorhandler(ControlError)
    async def _control(err: ControlError) -> Response:
        return control_error(err.status, err.message, err.field)

    @bp.errorhandler(AccountDeleted)
    async def _deleted(err: AccountDeleted) -> Response:
        return control_error(409, str(err), err.field)

    @bp.errorhandler(NotFound)
    async def _not_found(err: NotFound) -> Response:
        return control_error(404, str(err), err.field)

    @bp.errorhandler(InvalidRequest)
    async def _invalid(err: InvalidRequest) -> Response:
        return control_error(409 if isinstance(err, Conflict) else 400, str(err), err.field)

    @bp.errorhandler(ClockError)
    async def _clock(err: ClockError) -> Response:
        return control_error(409 if err.virtual else 400, str(err), None if err.virtual else "to")

    # -- about the API -------------------------------------------------------------

    @bp.get("/health")
    async def health() -> Response:
        return jsonify({"status": "ok"})

    @bp.get("/openapi.json")
    async def openapi() -> Response:
        return jsonify(_served_document())

    @bp.get("/docs")
    async def docs() -> Response:
        return Response(docs_page(_served_document()), content_type="text/html; charset=utf-8")

    @bp.get("/state")
    async def state() -> Response:
        _query(())
        return jsonify(_core().snapshot())

    @bp.post("/reset")
    async def reset() -> Response:
        if await request.get_data():
            await _body(())
        c = _core()
        removed = c.reset()
        # What requests stored on the app for this world (rate-limit windows, nonces,
        # daily call counts) goes with it.
        forget_world_state(current_app)
        return jsonify({"removed": removed, "seq": c.seq, **_clock_json(c)})

    # -- apps ----------------------------------------------------------------------

    @bp.post("/apps")
    async def create_app() -> tuple[Response, int]:
        body = await _body(APP_FIELDS)
        provider = _str(body, "provider", required=True)
        assert provider is not None
        uris = body.get("redirect_uris")
        if (
            not isinstance(uris, list)
            or not uris
            or not all(isinstance(u, str) and u for u in uris)
        ):
            raise ControlError(
                400, "redirect_uris must be a non-empty list of URIs", "redirect_uris"
            )
        c = _core()
        client_id = _str(body, "client_id")
        if client_id is not None and c.app(client_id) is not None:
            # Well formed, but taken: a conflict with what exists, not a bad request.
            raise ControlError(409, f"client_id {client_id!r} is already registered", "client_id")
        app = c.create_app_registration(
            provider,
            client_id=client_id,
            client_secret=_str(body, "client_secret"),
            redirect_uris=uris,
            name=_str(body, "name"),
            publishing_status=_str(body, "publishing_status") or "production",
        )
        return jsonify(app.to_json()), 201

    @bp.patch("/apps/<client_id>")
    async def update_app(client_id: str) -> Response:
        body = await _body(("publishing_status",))
        status = _str(body, "publishing_status", required=True)
        assert status is not None
        return jsonify(_core().set_publishing_status(client_id, status).to_json())

    @bp.get("/apps")
    async def list_apps() -> Response:
        c = _core()
        provider = _provider_filter(c, _query(("provider",)))
        return jsonify({"data": [a.to_json() for a in c.apps(provider)]})

    # -- accounts ------------------------------------------------------------------

    @bp.post("/accounts")
    async def create_account() -> tuple[Response, int]:
        body = await _body(ACCOUNT_FIELDS)
        provider = _str(body, "provider", required=True)
        assert provider is not None
        pages = body.get("pages")
        if pages is not None and (isinstance(pages, bool) or not isinstance(pages, int)):
            raise ControlError(400, "pages must be a whole number", "pages")
        linked = body.get("linked_instagram", False)
        if not isinstance(linked, bool):
            raise ControlError(400, "linked_instagram must be true or false", "linked_instagram")
        c = _core()
        account_id = _str(body, "id")
        if account_id is not None and _taken(c, account_id):
            raise ControlError(409, f"account {account_id!r} already exists", "id")
        try:
            account = c.create_account(
                provider,
                name=_str(body, "name"),
                email=_str(body, "email"),
                pages=pages,
                type=_str(body, "type") or "business",
                page_kind=_str(body, "page_kind"),
                linked_instagram=linked,
                linked_page=_str(body, "linked_page"),
                account_id=account_id,
            )
        except NotFound as err:
            # The core names the page it looked for; here the body key is linked_page.
            field = "linked_page" if err.field == "page_id" else err.field
            raise ControlError(404, str(err), field) from None
        out = account.to_json()
        if linked:
            out["linked_accounts"] = [
                c.account(p.instagram_account_id).to_json()  # type: ignore[union-attr]
                for p in account.pages
                if p.instagram_account_id is not None
            ]
        return jsonify(out), 201

    @bp.get("/accounts")
    async def list_accounts() -> Response:
        c = _core()
        provider = _provider_filter(c, _query(("provider",)))
        return jsonify({"data": [a.to_json() for a in c.accounts(provider)]})

    @bp.get("/accounts/<account_id>")
    async def get_account(account_id: str) -> Response:
        c = _core()
        c.account_seq(account_id)  # 404 unknown, 409 deleted
        account = c.account(account_id)
        assert account is not None
        out = account.to_json()
        out["events"] = [e.to_json() for e in account.events]
        out["grants"] = [g.to_json() for g in c.grants() if g.account_id == account_id]
        state = c.account_state(account_id)
        out["state"] = {
            "locked": state.locked,
            "suspended": state.suspended,
            "restricted": state.restricted,
            "checkpoint": state.checkpoint,
            "type": str(state.type),
            "linked_page": state.linked_page_id,
            "admin_of": list(state.admin_of),
        }
        return jsonify(out)

    @bp.delete("/accounts/<account_id>")
    async def delete_account(account_id: str) -> Response:
        c = _core()
        account = c.delete_account(account_id)
        revoked = sorted(f.id for f in c.families() if f.account_id == account_id and f.revoked)
        out = account.to_json()
        out["deleted_at"] = format_instant(account.deleted_at or c.now())
        out["revoked_families"] = revoked
        return jsonify(out)

    @bp.post("/accounts/<account_id>/events")
    async def fire_event(account_id: str) -> Response:
        body = await _body(("type", *EVENT_PARAMS))
        kind = _str(body, "type", required=True)
        assert kind is not None
        params: dict[str, Any] = {}
        for key, param in EVENT_PARAMS.items():
            if body.get(key) is not None:
                params[param] = _str(body, key)
        try:
            event = _core().fire_event(account_id, kind, **params)
        except AccountDeleted:
            raise
        except (InvalidRequest, NotFound) as err:
            field = err.field
            if field == "type" and "type" in params and not str(err).startswith("unknown event"):
                field = "account_type"
            status = 404 if isinstance(err, NotFound) else 409 if isinstance(err, Conflict) else 400
            raise ControlError(status, str(err), field) from None
        return jsonify(event.to_json())

    # -- grants and tokens ---------------------------------------------------------

    @bp.get("/grants")
    async def grants() -> Response:
        c = _core()
        query = _query(("provider", "account", "client_id"))
        provider = _provider_filter(c, query)
        account = _account_filter(c, query)
        client_id = query.get("client_id")
        if client_id is not None and c.app(client_id) is None:
            raise ControlError(404, f"no app with client_id {client_id!r}", "client_id")
        now = c.now()
        wanted = (provider, account, client_id)
        out = []
        for g in c.grants():
            have = (g.provider, g.account_id, g.client_id)
            if any(w not in (None, h) for w, h in zip(wanted, have, strict=True)):
                continue
            one = g.to_json()
            dae = g.data_access_expires_at
            one["data_access_expired"] = dae is not None and now >= dae
            out.append(one)
        return jsonify({"data": out})

    @bp.get("/tokens")
    async def tokens() -> Response:
        c = _core()
        query = _query(("provider", "account", "client_id"))
        provider = _provider_filter(c, query)
        account = _account_filter(c, query)
        app = query.get("client_id")
        listed = [t for t in c.tokens() if _matches(t, provider, account, app)]
        families = {t.family for t in listed}
        return jsonify(
            {
                "data": [c.token_json(t) for t in listed],
                "families": [f.to_json() for f in c.families() if f.id in families],
            }
        )

    @bp.post("/tokens/revoke")
    async def revoke() -> Response:
        body = await _body(("token",))
        value = _str(body, "token", required=True)
        assert value is not None
        c = _core()
        try:
            before = c.revoke(value)
        except TokenRejected:
            raise ControlError(404, "no such token", "token") from None
        token = c.token(value)
        assert token is not None
        return jsonify({**c.token_json(token), "was_valid": before.valid})

    # -- the clock -----------------------------------------------------------------

    @bp.get("/clock")
    async def clock() -> Response:
        _query(())
        return jsonify(_clock_json(_core()))

    @bp.post("/clock/advance")
    async def advance() -> Response:
        body = await _body(CLOCK_FIELDS)
        given = [k for k in CLOCK_FIELDS if body.get(k) is not None]
        if len(given) != 1:
            raise ControlError(
                400,
                "give exactly one of 'by' (a duration) or 'to' (an instant)",
                given[1] if given else "by",
            )
        c = _core()
        by = _duration(body, "by")
        to = _instant(body, "to")
        if by is not None and by < timedelta(0):
            raise ControlError(400, "the clock cannot move backwards: by must be positive", "by")
        before = c.now()
        if to is not None and to < before:
            raise ControlError(
                409,
                f"the clock cannot move backwards: to is before now ({format_instant(before)})",
                "to",
            )
        offset = c.clock_offset()
        step = by if by is not None else (to - before if to is not None else timedelta(0))
        if offset is not None and offset + step > MAX_TRAVEL:
            raise ControlError(
                400,
                f"the clock travels at most 100 years ({format_duration(MAX_TRAVEL)}) ahead of "
                f"wall time, all advances together; it is {format_duration(offset)} ahead now",
                "by" if by is not None else "to",
            )
        after = c.advance_clock(by=by, to=to)
        # On a travel clock, what moved is the offset (wall time also passed meanwhile).
        new_offset = c.clock_offset()
        moved = (
            new_offset - offset if offset is not None and new_offset is not None else after - before
        )
        return jsonify({**_clock_json(c), "advanced_by": format_duration(moved), "done": True})

    # -- faults --------------------------------------------------------------------

    @bp.post("/faults")
    async def add_fault() -> tuple[Response, int]:
        body = await _body(FAULT_FIELDS)
        provider = _str(body, "provider", required=True)
        kind = _str(body, "kind", required=True)
        assert provider is not None and kind is not None
        for_ = _duration(body, "for")
        until = _instant(body, "until")
        count = body.get("count")
        if isinstance(count, int) and count > MAX_COUNT:
            raise ControlError(400, f"count must be at most {MAX_COUNT:,}", "count")
        fault = _core().add_fault(
            provider,
            kind,
            for_=for_,
            until=until,
            count=body.get("count"),
            endpoint=body.get("endpoint"),
            error=body.get("error"),
            status=body.get("status"),
            delay_ms=body.get("delay_ms"),
        )
        return jsonify(fault.to_json()), 201

    @bp.get("/faults")
    async def list_faults() -> Response:
        c = _core()
        provider = _provider_filter(c, _query(("provider",)))
        return jsonify({"data": [f.to_json() for f in c.faults(provider)]})

    @bp.delete("/faults/<fault_id>")
    async def remove_fault(fault_id: str) -> Response:
        return jsonify(_core().remove_fault(fault_id).to_json())

    @bp.delete("/faults")
    async def clear_faults() -> Response:
        c = _core()
        provider = _provider_filter(c, _query(("provider",)))
        return jsonify({"data": [f.to_json() for f in c.clear_faults(provider)]})

    return bp


def docs_page(document: dict[str, Any]) -> str:
    """A plain HTML page listing every route of the document: method, path, summary."""
    rows = []
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                rows.append(
                    f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}"
                    f"</code></td><td>{escape(str(op.get('summary', '')))}</td></tr>"
                )
    title = escape(str(document.get("info", {}).get("title", "API")))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n"
        f'<p>The whole description: <a href="{PREFIX}/openapi.json">openapi.json</a> '
        "(OpenAPI 3.1).</p>\n<table>\n<tr><th>method</th><th>path</th><th>what</th></tr>\n"
        + "\n".join(rows)
        + "\n</table>\n</main>\n</body>\n</html>\n"
    )


def is_control_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


__all__ = [
    "PREFIX",
    "FakeProviderError",
    "blueprint",
    "control_error",
    "is_control_path",
    "openapi_document",
    "served_document",
]
