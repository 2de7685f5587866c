"""The control API under ``/_conntrack/``: create apps and accounts, fire account
events, read and revoke tokens, read state, travel in time. JSON in and out.

Routes: ``GET /health``, ``GET /state``; ``POST /apps`` (``provider``,
``redirect_uris``, ``client_id``, ``client_secret``, ``name``, ``publishing_status``:
production|testing), ``GET /apps``, ``PATCH /apps/{client_id}``
(``publishing_status``); ``POST /accounts`` (``provider``, ``name``, ``email``,
``pages``: a count, ``type``: business|creator|personal, ``page_kind``,
``linked_instagram``: true makes a linked Instagram business account per page,
``linked_page``: link the new account to that page), ``GET /accounts``,
``GET /accounts/{id}`` (with ``events``, ``grants``, ``state``);
``POST /accounts/{id}/events`` (``type`` and the event's parameters: ``client_id``,
``page_id``, ``permission``, ``account_type`` for ``switched_to_professional``);
``GET /tokens`` (every token incl. refresh and OAuth 1.0a ones, by prefix, and the
``families``), ``POST /tokens/revoke`` (``token``: the full value); ``GET /clock``,
``POST /clock/advance`` (``by`` or ``to``); ``POST /faults`` (``provider``, ``kind``:
outage|rate_limit, and one of ``for``: a duration, ``until``: an instant, ``count``),
``GET /faults`` (the active ones), ``DELETE /faults/{id}``, ``DELETE /faults``
(all, or ``?provider=`` one provider's).

Every bad request answers 4xx ``{"error": {"message": ..., "field": ...}}`` naming the
offending field (``null`` when it is the body as a whole); an unknown account is 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from conntrack._durations import format_instant, parse_duration, parse_instant
from conntrack._exceptions import DurationError

from .core import ClockError, Core, FakeProviderError, InvalidRequest, NotFound, TokenRejected

#: Body keys of ``POST /faults``.
FAULT_FIELDS = ("provider", "kind", "for", "until", "count")

#: Body keys of the events endpoint, and the event parameter each one is.
EVENT_PARAMS = {
    "client_id": "client_id",
    "page_id": "page_id",
    "permission": "permission",
    "account_type": "type",
}

PREFIX = "/_conntrack"


class ControlError(Exception):
    """A control API error: status, message, field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def control_error(status: int, message: str, field: str | None = None) -> Response:
    response = jsonify({"error": {"message": message, "field": field}})
    response.status_code = status
    return response


def _core() -> Core:
    c = current_app.config["CONNTRACK_CORE"]
    assert isinstance(c, Core)
    return c


async def _body() -> dict[str, Any]:
    data = await request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ControlError(400, "expected a JSON object as the request body")
    return data


def _str(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ControlError(400, f"{key} is required", key)
        return None
    if not isinstance(value, str) or not value:
        raise ControlError(400, f"{key} must be a non-empty string", key)
    return value


def blueprint() -> Blueprint:
    """A fresh control blueprint."""
    bp = Blueprint("conntrack_control", __name__, url_prefix=PREFIX)

    @bp.errorhandler(ControlError)
    async def _control(err: ControlError) -> Response:
        return control_error(err.status, err.message, err.field)

    @bp.errorhandler(NotFound)
    async def _not_found(err: NotFound) -> Response:
        return control_error(404, str(err), err.field)

    @bp.errorhandler(InvalidRequest)
    async def _invalid(err: InvalidRequest) -> Response:
        return control_error(400, str(err), err.field)

    @bp.errorhandler(ClockError)
    async def _clock(err: ClockError) -> Response:
        return control_error(409 if err.virtual else 400, str(err), None if err.virtual else "to")

    @bp.get("/health")
    async def health() -> Response:
        return jsonify({"status": "ok"})

    @bp.get("/state")
    async def state() -> Response:
        return jsonify(_core().snapshot())

    @bp.post("/apps")
    async def create_app() -> tuple[Response, int]:
        body = await _body()
        provider = _str(body, "provider", required=True)
        assert provider is not None
        uris = body.get("redirect_uris")
        if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
            raise ControlError(
                400, "redirect_uris must be a non-empty list of URIs", "redirect_uris"
            )
        app = _core().create_app_registration(
            provider,
            client_id=_str(body, "client_id"),
            client_secret=_str(body, "client_secret"),
            redirect_uris=uris,
            name=_str(body, "name"),
            publishing_status=_str(body, "publishing_status") or "production",
        )
        return jsonify(app.to_json()), 201

    @bp.patch("/apps/<client_id>")
    async def update_app(client_id: str) -> Response:
        body = await _body()
        status = _str(body, "publishing_status", required=True)
        assert status is not None
        return jsonify(_core().set_publishing_status(client_id, status).to_json())

    @bp.get("/apps")
    async def list_apps() -> Response:
        return jsonify({"data": [a.to_json() for a in _core().apps()]})

    @bp.post("/accounts")
    async def create_account() -> tuple[Response, int]:
        body = await _body()
        provider = _str(body, "provider", required=True)
        assert provider is not None
        pages = body.get("pages")
        if pages is not None and (isinstance(pages, bool) or not isinstance(pages, int)):
            raise ControlError(400, "pages must be a whole number", "pages")
        linked = body.get("linked_instagram", False)
        if not isinstance(linked, bool):
            raise ControlError(400, "linked_instagram must be true or false", "linked_instagram")
        c = _core()
        account = c.create_account(
            provider,
            name=_str(body, "name"),
            email=_str(body, "email"),
            pages=pages,
            type=_str(body, "type") or "business",
            page_kind=_str(body, "page_kind"),
            linked_instagram=linked,
            linked_page=_str(body, "linked_page"),
        )
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
        return jsonify({"data": [a.to_json() for a in _core().accounts()]})

    @bp.get("/accounts/<account_id>")
    async def get_account(account_id: str) -> Response:
        c = _core()
        account = c.account(account_id)
        if account is None:
            raise ControlError(404, f"no account {account_id!r}", "account_id")
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

    @bp.post("/accounts/<account_id>/events")
    async def fire_event(account_id: str) -> Response:
        body = await _body()
        kind = _str(body, "type", required=True)
        assert kind is not None
        params: dict[str, Any] = {}
        for key in body:
            if key != "type" and key not in EVENT_PARAMS:
                raise ControlError(400, f"unknown event parameter {key!r}", key)
        for key, param in EVENT_PARAMS.items():
            if body.get(key) is not None:
                params[param] = _str(body, key)
        try:
            event = _core().fire_event(account_id, kind, **params)
        except (InvalidRequest, NotFound) as err:
            field = err.field
            if field == "type" and "type" in params and not str(err).startswith("unknown event"):
                field = "account_type"
            raise ControlError(404 if isinstance(err, NotFound) else 400, str(err), field) from None
        return jsonify(event.to_json())

    @bp.get("/tokens")
    async def tokens() -> Response:
        c = _core()
        return jsonify(
            {
                "data": [c.token_json(t) for t in c.tokens()],
                "families": [f.to_json() for f in c.families()],
            }
        )

    @bp.post("/tokens/revoke")
    async def revoke() -> Response:
        body = await _body()
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

    @bp.get("/clock")
    async def clock() -> Response:
        return jsonify({"now": format_instant(_core().now())})

    @bp.post("/clock/advance")
    async def advance() -> Response:
        body = await _body()
        if ("by" in body) == ("to" in body):
            raise ControlError(
                400, "give exactly one of 'by' (a duration) or 'to' (an instant)", "by"
            )
        c = _core()
        by: timedelta | None = None
        to: datetime | None = None
        try:
            if "by" in body:
                by = parse_duration(body["by"])
            else:
                to = parse_instant(body["to"])
        except DurationError as err:
            raise ControlError(400, str(err), "by" if "by" in body else "to") from None
        if to is not None and to < c.now():
            raise ControlError(400, "the clock cannot move backwards", "to")
        return jsonify({"now": format_instant(c.advance_clock(by=by, to=to))})

    @bp.post("/faults")
    async def add_fault() -> tuple[Response, int]:
        body = await _body()
        for key in body:
            if key not in FAULT_FIELDS:
                raise ControlError(400, f"unknown fault field {key!r}", key)
        provider = _str(body, "provider", required=True)
        kind = _str(body, "kind", required=True)
        assert provider is not None and kind is not None
        for_: timedelta | None = None
        until: datetime | None = None
        count = body.get("count")
        try:
            if body.get("for") is not None:
                for_ = parse_duration(body["for"])
        except DurationError as err:
            raise ControlError(400, str(err), "for") from None
        try:
            if body.get("until") is not None:
                until = parse_instant(body["until"])
        except DurationError as err:
            raise ControlError(400, str(err), "until") from None
        fault = _core().add_fault(provider, kind, for_=for_, until=until, count=count)
        return jsonify(fault.to_json()), 201

    @bp.get("/faults")
    async def list_faults() -> Response:
        return jsonify({"data": [f.to_json() for f in _core().faults()]})

    @bp.delete("/faults/<fault_id>")
    async def remove_fault(fault_id: str) -> Response:
        return jsonify(_core().remove_fault(fault_id).to_json())

    @bp.delete("/faults")
    async def clear_faults() -> Response:
        provider = request.args.get("provider") or None
        return jsonify({"data": [f.to_json() for f in _core().clear_faults(provider)]})

    return bp


def is_control_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


__all__ = ["PREFIX", "FakeProviderError", "blueprint", "control_error", "is_control_path"]
