"""The classifier against every Facebook error body of PROVIDERS.md §1, and against every
provider's outage and rate-limit answer of the fakes' faults (all `retry`)."""

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


# Provider-wide faults of the fakes (PROVIDERS.md; fake_providers.core.add_fault): every
# outage and rate-limit body each fake answers must read as `retry`, never reconnect.
_FB_DOWN = {
    "error": {
        "message": "An unexpected error has occurred. Please retry your request later.",
        "type": "OAuthException",
        "is_transient": True,
        "code": 2,
        "fbtrace_id": "AbCdEfGhIjK",
    }
}
_FB_LIMIT = {
    "error": {
        "message": "(#4) Application request limit reached",
        "type": "OAuthException",
        "is_transient": True,
        "code": 4,
        "fbtrace_id": "AbCdEfGhIjK",
    }
}
_LOG = "20260105090000FB046ED8828DC32C5483"
_GOOGLE_DOWN = {
    "error": {
        "code": 503,
        "message": "The service is currently unavailable.",
        "errors": [
            {
                "message": "The service is currently unavailable.",
                "domain": "global",
                "reason": "backendError",
            }
        ],
        "status": "UNAVAILABLE",
    }
}
_GOOGLE_LIMIT = {
    "error": {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "errors": [
            {
                "message": "Resource has been exhausted (e.g. check quota).",
                "domain": "global",
                "reason": "rateLimitExceeded",
            }
        ],
        "status": "RESOURCE_EXHAUSTED",
    }
}
_X_RATE = {"x-rate-limit-limit": "75", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1"}
_OUTAGE_PAGE = "<!DOCTYPE html><title>503 Service Unavailable</title><h1>Service Unavailable</h1>"

FAULT_CASES = [
    ("facebook", 500, {}, _FB_DOWN),
    ("facebook", 403, {"X-App-Usage": '{"call_count":100}'}, _FB_LIMIT),
    ("facebook", 503, {}, _OUTAGE_PAGE),
    ("instagram-facebook", 500, {}, _FB_DOWN),
    ("instagram-facebook", 403, {}, _FB_LIMIT),
    ("instagram", 500, {}, _FB_DOWN),
    ("instagram", 403, {}, _FB_LIMIT),
    (
        "instagram",
        500,
        {},
        {
            "error_type": "OAuthException",
            "code": 500,
            "error_message": "An unexpected error has occurred. Please retry your request later.",
        },
    ),
    ("instagram", 503, {}, _OUTAGE_PAGE),
    (
        "linkedin",
        503,
        {},
        {"status": 503, "code": "SERVICE_UNAVAILABLE", "message": "Service Unavailable"},
    ),
    (
        "linkedin",
        429,
        {},
        {
            "status": 429,
            "serviceErrorCode": 101,
            "code": "TOO_MANY_REQUESTS",
            "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        },
    ),
    (
        "linkedin",
        503,
        {},
        {
            "error": "temporarily_unavailable",
            "error_description": "The service is temporarily unavailable. Please try again later.",
        },
    ),
    ("linkedin", 503, {}, _OUTAGE_PAGE),
    (
        "tiktok",
        500,
        {},
        {
            "data": {},
            "error": {
                "code": "internal_error",
                "message": "This is the generic error code for TikTok internal errors. Please "
                "refer to the error message for details and notify TikTok support.",
                "log_id": _LOG,
            },
        },
    ),
    (
        "tiktok",
        429,
        {},
        {
            "data": {},
            "error": {
                "code": "rate_limit_exceeded",
                "message": "The API rate limit was exceeded. Please try again later.",
                "log_id": _LOG,
            },
        },
    ),
    ("tiktok", 503, {}, _OUTAGE_PAGE),
    (
        "twitter",
        503,
        {},
        {
            "title": "Service Unavailable",
            "detail": "Service Unavailable",
            "type": "about:blank",
            "status": 503,
        },
    ),
    ("twitter", 503, {}, {"errors": [{"code": 130, "message": "Over capacity"}]}),
    (
        "twitter",
        429,
        _X_RATE,
        {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        },
    ),
    ("twitter", 429, _X_RATE, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}),
    ("twitter", 503, {}, _OUTAGE_PAGE),
    ("google", 503, {}, _GOOGLE_DOWN),
    ("google", 429, {}, _GOOGLE_LIMIT),
    ("google", 503, {}, _OUTAGE_PAGE),
]


@pytest.mark.parametrize(("provider", "status", "headers", "body"), FAULT_CASES)
def test_fault_bodies_are_retry(
    provider: str, status: int, headers: dict[str, str], body: object
) -> None:
    forms = [body] if isinstance(body, str) else [body, json.dumps(body), json.dumps(body).encode()]
    for form in forms:
        v = classify(provider, status, headers, form)
        assert v.action is Action.RETRY, (provider, status, body)
        assert v.reason is None and not v.expired and not v.kills_connection
