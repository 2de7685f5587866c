"""The control API under ``/_conntrack/``: create apps and accounts, fire account
events, read tokens and state, travel in time. JSON in and out.

Every bad request answers 4xx ``{"error": {"message": ..., "field": ...}}`` naming the
offending field (``null`` when it is the body as a whole); an unknown account is 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from conntrack._durations import format_instant, parse_duration, parse_instant
from conntrack._exceptions import DurationError

from .core import ClockError, Core, FakeProviderError, InvalidRequest, NotFound

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
        )
        return jsonify(app.to_json()), 201

    @bp.get("/apps")
    async def list_apps() -> Response:
        return jsonify({"data": [a.to_json() for a in _core().apps()]})

    @bp.post("/accounts")
    async def create_account() -> tuple[Response, int]:
        body = await _body()
        provider = _str(body, "provider", required=True)
        assert provider is not None
        pages = body.get("pages", 1)
        if isinstance(pages, bool) or not isinstance(pages, int):
            raise ControlError(400, "pages must be a whole number", "pages")
        account = _core().create_account(
            provider, name=_str(body, "name"), email=_str(body, "email"), pages=pages
        )
        return jsonify(account.to_json()), 201

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
        return jsonify(out)

    @bp.post("/accounts/<account_id>/events")
    async def fire_event(account_id: str) -> Response:
        body = await _body()
        kind = _str(body, "type", required=True)
        assert kind is not None
        params: dict[str, Any] = {}
        if body.get("client_id") is not None:
            params["client_id"] = _str(body, "client_id")
        event = _core().fire_event(account_id, kind, **params)
        return jsonify(event.to_json())

    @bp.get("/tokens")
    async def tokens() -> Response:
        c = _core()
        return jsonify({"data": [c.token_json(t) for t in c.tokens()]})

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

    return bp


def is_control_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


__all__ = ["PREFIX", "FakeProviderError", "blueprint", "control_error", "is_control_path"]
