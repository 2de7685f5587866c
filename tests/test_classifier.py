"""The classifier against every Facebook error body of PROVIDERS.md §1."""

import json

import pytest

from conntrack import Action, Reason, classify


def fb(code: int, message: str, subcode: int | None = None) -> dict[str, object]:
    err: dict[str, object] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err["fbtrace_id"] = "AbCdEfGhIjK"
    return {"error": err}


CASES = [
    (
        400,
        fb(190, "Invalid OAuth access token - Cannot parse access token"),
        Action.RECONNECT,
        Reason.UNKNOWN,
        False,
    ),
    (
        400,
        fb(190, "Error validating access token: The user has not authorized application 123.", 458),
        Action.RECONNECT,
        Reason.ACCESS_REVOKED,
        False,
    ),
    (
        400,
        fb(
            190,
            "You cannot access the app till you log in to www.facebook.com and follow the instructions given.",
            459,
        ),
        Action.RECONNECT,
        Reason.CHECKPOINT,
        False,
    ),
    (
        400,
        fb(
            190,
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            460,
        ),
        Action.RECONNECT,
        Reason.PASSWORD_CHANGED,
        False,
    ),
    (
        400,
        fb(
            190,
            "Error validating access token: Session has expired on Friday, 06-Mar-26 00:59:04 PST. The current time is Friday, 06-Mar-26 01:00:00 PST.",
            463,
        ),
        Action.RECONNECT,
        None,
        True,
    ),
    (
        400,
        fb(190, "Error validating access token: the user is not a confirmed user.", 464),
        Action.RECONNECT,
        Reason.RESTRICTED,
        False,
    ),
    (
        400,
        fb(
            190,
            "Error validating access token: The session is invalid because the user logged out.",
            467,
        ),
        Action.RECONNECT,
        Reason.UNKNOWN,
        False,
    ),
    (
        400,
        fb(
            190,
            "Error validating access token: The user is enrolled in a blocking, logged-in checkpoint",
            490,
        ),
        Action.RECONNECT,
        Reason.LOCKED,
        False,
    ),
    (
        400,
        fb(190, "Error validating access token: The user does not have a role on the page.", 492),
        Action.RECONNECT,
        Reason.ADMIN_REMOVED,
        False,
    ),
    (
        400,
        fb(
            190,
            "The access token is invalid since the user hasn't engaged the app in longer than 90 days.",
            493,
        ),
        Action.RECONNECT,
        Reason.DATA_ACCESS_EXPIRED,
        False,
    ),
    (
        403,
        fb(10, "(#10) Application does not have permission for this action"),
        Action.RECONNECT,
        Reason.PERMISSION_MISSING,
        False,
    ),
    (
        403,
        fb(200, "(#200) The user hasn't authorized the application to perform this action"),
        Action.RECONNECT,
        Reason.PERMISSION_MISSING,
        False,
    ),
    (400, fb(4, "(#4) Application request limit reached"), Action.RETRY, None, False),
    (400, fb(17, "(#17) User request limit reached"), Action.RETRY, None, False),
    (400, fb(32, "(#32) Page request limit reached"), Action.RETRY, None, False),
    (
        400,
        fb(613, "(#613) Calls to this api have exceeded the rate limit."),
        Action.RETRY,
        None,
        False,
    ),
    (
        400,
        fb(368, "The action attempted has been deemed abusive or is otherwise disallowed", 1390008),
        Action.RECONNECT,
        Reason.RESTRICTED,
        False,
    ),
    (400, fb(100, "(#100) Unknown fields: foo."), Action.IGNORE, None, False),
]


@pytest.mark.parametrize(("status", "body", "action", "reason", "expired"), CASES)
def test_facebook_bodies(
    status: int, body: dict, action: Action, reason: Reason | None, expired: bool
) -> None:
    for form in (body, json.dumps(body), json.dumps(body).encode()):
        v = classify("facebook", status, {}, form)
        assert (v.action, v.reason, v.expired) == (action, reason, expired)


def test_code_is_reported() -> None:
    assert classify("facebook", 400, {}, fb(190, "x", 460)).code == "190/460"
    assert classify("facebook", 400, {}, fb(190, "x")).code == "190"


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_rate_limits_and_outages_are_never_invalid(status: int) -> None:
    for body in (fb(190, "boom", 460), "<html>Bad gateway</html>", None):
        v = classify("facebook", status, {}, body)
        assert v.action is Action.RETRY and v.reason is None


def test_success_and_unparseable() -> None:
    assert classify("facebook", 200, {}, {"data": []}).action is Action.OK
    assert classify("facebook", 400, {}, "not json").action is Action.IGNORE
    assert classify("facebook", 401, {}, "not json").action is Action.RECONNECT
    assert classify("unknown-provider", 401, {}, None).reason is Reason.UNKNOWN


def test_errors_sent_with_http_200_are_still_errors() -> None:
    """TikTok's OAuth endpoints answer errors with HTTP 200; classify must not call them ok."""
    body = {"error": "invalid_grant", "error_description": "x", "log_id": "202601010000001234"}
    for provider in ("tiktok", "tiktok-2026"):
        v = classify(provider, 200, {}, body)
        assert v.action is Action.RECONNECT and v.reason is Reason.REFRESH_FAILED
    ok = {"data": {"videos": []}, "error": {"code": "ok", "message": "", "log_id": "l"}}
    assert classify("tiktok", 200, {}, ok).action is Action.OK
