"""The error classifier: a provider's answer → what it means for the connection.

``classify(provider, status, headers, body)`` is a pure function with no I/O, meant to be
usable in an integration's production code as well as by conntrack's actors. It maps
every error body of PROVIDERS.md to a :class:`Verdict`:

- ``action`` — what the client should do: ``retry`` (later; rate limits, 5xx),
  ``refresh`` (get a new access token with the refresh grant), ``reconnect`` (a person
  must log in again), ``ignore`` (not a connection problem, e.g. a bad parameter);
- ``reason`` — why the connection is ``invalid`` (``None`` when it is not);
- ``expired`` — the token's lifetime ended (the connection is ``expired``, not invalid).

Rate limits and server errors are always ``retry``, never ``invalid``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ._lifecycle import Reason


class Action(StrEnum):
    OK = "ok"
    RETRY = "retry"
    REFRESH = "refresh"
    RECONNECT = "reconnect"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: Reason | None = None
    expired: bool = False
    code: str = ""
    """The provider's own error code, e.g. ``190/460`` or ``rate_limit_exceeded``."""
    message: str = ""

    @property
    def kills_connection(self) -> bool:
        """Whether the connection is lost until a person reconnects."""
        return self.action is Action.RECONNECT


OK = Verdict(Action.OK)

# Facebook Graph: code 190 subcodes. See PROVIDERS.md §1.
_FB_190: dict[int, Reason | None] = {
    458: Reason.ACCESS_REVOKED,  # app removed by the user
    459: Reason.CHECKPOINT,
    460: Reason.PASSWORD_CHANGED,
    463: None,  # expired: not a reason, the `expired` state
    464: Reason.RESTRICTED,  # unconfirmed user
    467: Reason.UNKNOWN,  # logged out: a new login is all that helps
    490: Reason.LOCKED,  # blocking, logged-in checkpoint
    492: Reason.ADMIN_REMOVED,  # no longer has a role on the page
    493: Reason.DATA_ACCESS_EXPIRED,  # the user has not used the app for 90 days
}
# 4 app, 17 user, 32 page, 613 api, 9 publishing (Instagram's 2207042), 800xx business.
_FB_RATE_LIMIT = {4, 9, 17, 32, 613, 80001, 80002, 80004}
_FB_TRANSIENT = {1, 2}


def _as_json(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return body


def _classify_facebook(status: int, body: Any) -> Verdict:
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return _generic(status)
    code = err.get("code")
    sub = err.get("error_subcode")
    msg = str(err.get("message", ""))
    tag = f"{code}/{sub}" if sub is not None else str(code)
    if code == 190:
        if sub == 463:
            return Verdict(Action.RECONNECT, None, expired=True, code=tag, message=msg)
        reason = _FB_190.get(sub) if isinstance(sub, int) else Reason.UNKNOWN
        return Verdict(Action.RECONNECT, reason or Reason.UNKNOWN, code=tag, message=msg)
    if code == 102:  # "Session key invalid or no longer valid"
        return Verdict(Action.RECONNECT, Reason.UNKNOWN, code=tag, message=msg)
    if code in _FB_RATE_LIMIT:
        return Verdict(Action.RETRY, code=tag, message=msg)
    if code in _FB_TRANSIENT or status >= 500:
        return Verdict(Action.RETRY, code=tag, message=msg)
    if code == 10 and "not an Instagram Business" in msg:
        # An Instagram account switched to personal: Facebook Login cannot reach it.
        return Verdict(Action.RECONNECT, Reason.NOT_ELIGIBLE, code=tag, message=msg)
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return Verdict(Action.RECONNECT, Reason.PERMISSION_MISSING, code=tag, message=msg)
    if code == 368 or sub == 1390008:
        return Verdict(Action.RECONNECT, Reason.RESTRICTED, code=tag, message=msg)
    return Verdict(Action.IGNORE, code=tag, message=msg)


def _generic(status: int) -> Verdict:
    if status == 429 or status >= 500:
        return Verdict(Action.RETRY, code=str(status))
    if status == 401:
        return Verdict(Action.RECONNECT, Reason.UNKNOWN, code=str(status))
    return Verdict(Action.IGNORE, code=str(status))


ProtocolRule = Callable[[int, Mapping[str, str], Any], Verdict]
"""``(status, headers, parsed body) → Verdict`` for one protocol's non-2xx answers."""

_BY_PROTOCOL: dict[str, ProtocolRule] = {
    "facebook": lambda status, headers, body: _classify_facebook(status, body),
}
_ERROR_IN_SUCCESS: dict[str, Callable[[Any], bool]] = {}


def register(
    protocol: str, rule: ProtocolRule, *, error_in_success: Callable[[Any], bool] | None = None
) -> None:
    """Add a protocol's rules (each provider's client module registers its own).

    ``error_in_success`` tells, for a provider that sends some errors with HTTP 200
    (TikTok's OAuth endpoints), whether a 2xx body is one; ``rule`` then judges it.
    """
    _BY_PROTOCOL[protocol] = rule
    if error_in_success is not None:
        _ERROR_IN_SUCCESS[protocol] = error_in_success


def _protocol(provider: str) -> str:
    if provider in _BY_PROTOCOL:
        return provider
    # A profile name (``tiktok-2026``, ``instagram-facebook``) speaks its protocol.
    from ._exceptions import ProfileError
    from ._profiles import load_profile

    try:
        return load_profile(provider).protocol
    except ProfileError:
        return provider


def classify(
    provider: str, status: int, headers: Mapping[str, str] | None = None, body: Any = None
) -> Verdict:
    """What an answer of ``provider`` means for the connection.

    ``body`` may be bytes, text or already-parsed JSON. A 2xx answer is ``ok``; an
    answer that cannot be parsed falls back to its HTTP status.
    """
    protocol = _protocol(provider)
    rule = _BY_PROTOCOL.get(protocol)
    if 200 <= status < 300:
        is_error = _ERROR_IN_SUCCESS.get(protocol)
        if rule is None or is_error is None:
            return OK
        parsed = _as_json(body)
        return rule(status, headers or {}, parsed) if is_error(parsed) else OK
    parsed = _as_json(body)
    verdict = rule(status, headers or {}, parsed) if rule else _generic(status)
    if status == 429 or status >= 500:
        # Rate limits and outages are transient whatever the body says.
        return Verdict(Action.RETRY, code=verdict.code or str(status), message=verdict.message)
    return verdict
