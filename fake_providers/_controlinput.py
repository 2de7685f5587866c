"""What the control API reads from a request, checked: the JSON body (UTF-8, an object,
only the route's keys, no ``null``), the query parameters (known, given once, not empty)
and typed body keys (non-empty strings, durations, instants). Every refusal is a
:class:`ControlError`, answered as ``{"error": {"message": ..., "field": ...}}`` naming
the offending key; kept apart from the routes (``_control``) so each stays readable.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from quart import Response, jsonify, request

from conntrack import DurationError, parse_duration, parse_instant

#: the API reads a whole number written with a fraction as that number.
WHOLE_NUMBER_FIELDS = ("pages", "count", "status", "delay_ms")


class ControlError(Exception):
    """A control API error: status, message, field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def control_error(status: int, message: str, field: str | None = None) -> Response:
    response = jsonify({"error": {"message": message, "field": field}})
    response.status_code = status
    return response


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_body(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of the request; a key not in ``allowed`` is a 400 naming it, and
    so is a ``null`` (leave the key out for its default). The content type was checked
    before (``_security``: ``application/json`` only)."""
    raw = await request.get_data(as_text=False)
    assert isinstance(raw, bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ControlError(
            400, f"the request body is not UTF-8 (byte {err.start}): send JSON in UTF-8"
        ) from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ControlError(400, "expected a JSON object as the request body")
    for key, value in data.items():
        if key not in allowed:
            takes = (
                f"this route takes: {', '.join(allowed)}"
                if allowed
                else "this route takes no fields: send {} or no body"
            )
            raise ControlError(400, f"unknown field {key!r}; {takes}", key)
        if value is None:
            raise ControlError(400, f"{key} cannot be null: leave it out for its default", key)
        if key in WHOLE_NUMBER_FIELDS and isinstance(value, float) and value.is_integer():
            data[key] = int(value)
    return data


def read_query(allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters; one not in ``allowed`` is a 400 naming it."""
    for key in request.args:
        if key not in allowed:
            known = ", ".join(allowed) if allowed else "none"
            raise ControlError(400, f"unknown query parameter {key!r}; known: {known}", key)
    for key, values in request.args.lists():
        if len(values) > 1:
            raise ControlError(400, f"{key} is given {len(values)} times: give it once", key)
        if values[0] == "":
            raise ControlError(400, f"{key} cannot be empty: leave it out for all", key)
    return dict(request.args.items())


def body_str(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ControlError(400, f"{key} is required", key)
        return None
    if not isinstance(value, str) or not value:
        raise ControlError(400, f"{key} must be a non-empty string", key)
    return value


def body_duration(body: dict[str, Any], key: str) -> timedelta | None:
    """A duration body key (a string like ``6h 30m``), or None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ControlError(400, f"{key} must be a duration like '6h' or '60d'", key)
    try:
        return parse_duration(value)
    except DurationError as err:
        raise ControlError(400, str(err), key) from None


def body_instant(body: dict[str, Any], key: str) -> datetime | None:
    """An instant body key (ISO 8601 with an offset), or None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ControlError(400, f"{key} must be an instant like '2026-03-06T09:00:00Z'", key)
    try:
        return parse_instant(value)
    except DurationError as err:
        raise ControlError(400, str(err), key) from None


__all__ = [
    "WHOLE_NUMBER_FIELDS",
    "ControlError",
    "body_duration",
    "body_instant",
    "body_str",
    "control_error",
    "read_body",
    "read_query",
]
