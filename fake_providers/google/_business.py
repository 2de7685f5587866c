"""The Google Business Profile APIs the sync reads: accounts, locations and reviews.

Three hosts, each its own API, all behind the same Google OAuth tokens (one token serves
every Google host) and the scope ``https://www.googleapis.com/auth/business.manage``:

- ``GET mybusinessaccountmanagement.googleapis.com/v1/accounts`` — the accounts the
  person can reach: here one ``PERSONAL`` account per Google account, named
  ``accounts/{21 digits}``;
- ``GET mybusinessbusinessinformation.googleapis.com/v1/accounts/{a}/locations?readMask=…``
  and ``GET …/v1/locations/{l}?readMask=…`` — the business locations (the core's pages of
  kind ``location``) the person owns or manages now, named ``locations/{19 digits}``;
  ``readMask`` is required (without it: 400 ``INVALID_ARGUMENT``); an account without
  locations answers ``{}`` (Google leaves empty lists out);
- ``GET mybusiness.googleapis.com/v4/accounts/{a}/locations/{l}/reviews`` — the
  location's reviews (v4: reviews never moved to the v1 APIs).

What a call answers, in order: no credential → 401 ``required``; a token that does not
work → 401 ``authError``; no ``business.manage`` → 403 ``insufficientPermissions``; the
app's requests per minute spent (``business_requests_per_minute``; 0 for a project Google
has not approved) → 429 ``RESOURCE_EXHAUSTED``; another person's account or a location
the person lost their role on → 403 ``PERMISSION_DENIED`` "The caller does not have
permission"; a location that does not exist → 404 ``NOT_FOUND``.

Ids are derived from the core's ids (SHA-256), so the same location always has the same
name; the count of requests per minute lives beside the core, as YouTube's quota does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from quart import Response, request

from ..core import Core, Page, Token
from . import _errors as e
from ._errors import ApiError
from ._http import bearer, core, json_response, params
from ._identity import api_token

ACCOUNT_MANAGEMENT = "mybusinessaccountmanagement.googleapis.com"
BUSINESS_INFORMATION = "mybusinessbusinessinformation.googleapis.com"
MYBUSINESS = "mybusiness.googleapis.com"
HOSTS = (ACCOUNT_MANAGEMENT, BUSINESS_INFORMATION, MYBUSINESS)
SCOPE = "https://www.googleapis.com/auth/business.manage"
#: Location fields a ``readMask`` may name (the rest of Google's Location is left out).
LOCATION_FIELDS = ("name", "title", "storeCode", "categories", "websiteUri", "metadata")
STARS = ("ONE", "TWO", "THREE", "FOUR", "FIVE")


@dataclass
class Minute:
    """Requests per app and API host in one minute."""

    at: datetime | None = None
    spent: dict[tuple[str, str], int] = field(default_factory=dict)


_MINUTES: WeakKeyDictionary[Core, Minute] = WeakKeyDictionary()


def spend(c: Core, client_id: str, host: str) -> bool:
    """Count one request of the app on ``host``; False when its minute is spent."""
    minute = _MINUTES.setdefault(c, Minute())
    now = c.now().replace(second=0, microsecond=0)
    if minute.at != now:
        minute.at, minute.spent = now, {}
    limit = int(c.profile("google").get("business_requests_per_minute", 300))
    key = (client_id, host)
    if minute.spent.get(key, 0) + 1 > limit:
        return False
    minute.spent[key] = minute.spent.get(key, 0) + 1
    return True


def _digits(prefix: str, value: str, length: int) -> str:
    number = int.from_bytes(hashlib.sha256(f"{prefix}:{value}".encode()).digest()[:10], "big")
    return str(number).rjust(length, "1")[-length:].replace("0", "1", 1)


def account_name(account_id: str) -> str:
    """``accounts/`` and 21 digits, derived from the core's account id."""
    return "accounts/" + _digits("gbp-account", account_id, 21)


def location_name(page_id: str) -> str:
    """``locations/`` and 19 digits, derived from the core's page id."""
    return "locations/" + _digits("gbp-location", page_id, 19)


def authorize(host: str) -> Token:
    """The working token of a call, or the API's 401/403/429."""
    c = core()
    readers = list(c.profile("google").get("business_read_scopes", [SCOPE]))
    token = api_token(bearer() or request.args.get("access_token"), readers)
    if not spend(c, token.client_id, host):
        raise quota_exceeded(host, token.client_id)
    return token


def _own_account(token: Token, name: str) -> None:
    if name != account_name(token.account_id):
        raise caller_denied()


def _location(token: Token, location_id: str) -> Page:
    """The location ``locations/{location_id}`` if the person holds a role on it."""
    c = core()
    wanted = f"locations/{location_id}"
    for page in c.pages_of(token.account_id):
        if location_name(page.id) == wanted:
            return page
    if any(location_name(p.id) == wanted for a in c.accounts("google") for p in a.pages):
        raise caller_denied()
    raise entity_not_found()


def _read_mask() -> list[str]:
    mask = request.args.get("readMask") or request.args.get("read_mask") or ""
    fields = [f.strip() for f in mask.split(",") if f.strip()]
    if not fields or any(f.split(".")[0] not in LOCATION_FIELDS for f in fields):
        raise invalid_argument()
    return fields


def location(page: Page, mask: list[str]) -> dict[str, Any]:
    """A v1 Location with the fields of ``mask``."""
    name = location_name(page.id)
    category = {"name": "categories/gcid:store", "displayName": page.category or "Store"}
    site = "".join(ch for ch in page.name.lower() if ch.isalnum())[:30]
    full: dict[str, Any] = {
        "name": name,
        "title": page.name,
        "storeCode": page.id[-6:].upper(),
        "categories": {"primaryCategory": category},
        "websiteUri": f"https://{site}.example",
        "metadata": {"hasVoiceOfMerchant": True, "placeId": "ChIJ" + name[-16:]},
    }
    wanted = {f.split(".")[0] for f in mask}
    return {k: v for k, v in full.items() if k in wanted}


async def accounts() -> Response:
    """``accounts.list``: the person's own (``PERSONAL``) account."""
    token = authorize(ACCOUNT_MANAGEMENT)
    await params()
    person = core().account(token.account_id)
    body = {
        "accounts": [
            {
                "name": account_name(token.account_id),
                "accountName": person.name if person is not None else "",
                "type": "PERSONAL",
                "verificationState": "UNVERIFIED",
                "vettedState": "NOT_VETTED",
            }
        ]
    }
    return json_response(body)


async def locations(rest: str) -> Response:
    """``accounts.locations.list`` (``v1/accounts/{a}/locations``) and ``locations.get``
    (``v1/locations/{l}``)."""
    token = authorize(BUSINESS_INFORMATION)
    parts = rest.split("/")
    mask = _read_mask()
    if parts[1] == "locations":
        return json_response(location(_location(token, parts[2]), mask))
    _own_account(token, "/".join(parts[1:3]))
    items = [location(p, mask) for p in core().pages_of(token.account_id)]
    return json_response({"locations": items} if items else {})


async def reviews(rest: str) -> Response:
    """``accounts.locations.reviews.list`` (v4): the location's reviews, newest first."""
    token = authorize(MYBUSINESS)
    parts = rest.split("/")
    _own_account(token, "/".join(parts[1:3]))
    page = _location(token, parts[4])
    items = [review(page, i, post.created_time) for i, post in enumerate(page.posts)]
    items.sort(key=lambda r: str(r["createTime"]), reverse=True)
    if not items:
        return json_response({})
    stars = [STARS.index(str(r["starRating"])) + 1 for r in items]
    body = {
        "reviews": items,
        "averageRating": round(sum(stars) / len(stars), 1),
        "totalReviewCount": len(items),
    }
    return json_response(body)


def review(page: Page, index: int, created: datetime) -> dict[str, Any]:
    rid = _digits("gbp-review", f"{page.id}:{index}", 20)
    when = created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    parent = f"{account_name(page.admin_id)}/{location_name(page.id)}"
    return {
        "name": f"{parent}/reviews/{rid}",
        "reviewId": rid,
        "reviewer": {"displayName": f"Customer {index + 1}", "isAnonymous": False},
        "starRating": STARS[int(rid[-1]) % 5],
        "comment": f"Visit {index + 1}.",
        "createTime": when,
        "updateTime": when,
    }


def route(host: str, rest: str) -> tuple[str, ...] | None:
    """Which call ``rest`` on ``host`` is: the handler's name and its methods."""
    parts = rest.split("/")
    if host == ACCOUNT_MANAGEMENT and rest == "v1/accounts":
        return ("accounts",)
    if host == BUSINESS_INFORMATION and len(parts) == 4 and parts[:2] == ["v1", "accounts"]:
        return ("locations",) if parts[3] == "locations" and parts[2] else None
    if host == BUSINESS_INFORMATION and len(parts) == 3 and parts[:2] == ["v1", "locations"]:
        return ("locations",) if parts[2] else None
    if host == MYBUSINESS and len(parts) == 6 and parts[:2] == ["v4", "accounts"]:
        ok = parts[3] == "locations" and parts[5] == "reviews" and parts[2] and parts[4]
        return ("reviews",) if ok else None
    return None


async def dispatch(host: str, rest: str) -> Response | None:
    """The business call at ``rest`` on ``host`` (GET only), or ``None`` if none is."""
    found = route(host, rest)
    if found is None:
        return None
    if request.method != "GET":
        raise e.not_found_api(f"/{rest}")
    if found[0] == "accounts":
        return await accounts()
    if found[0] == "locations":
        return await locations(rest)
    return await reviews(rest)


# -- error bodies ---------------------------------------------------------------------------

#: 403 on an account or location the caller holds no role on (Google's words for
#: PERMISSION_DENIED on the Business Profile APIs).
DENIED = "The caller does not have permission"
NOT_FOUND = "Requested entity was not found."
INVALID = "Request contains an invalid argument."


@dataclass
class DetailedError(ApiError):
    """An API error with google.rpc ``details`` (ErrorInfo) after ``status``."""

    details: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        out = super().body()
        if self.details:
            out["error"]["details"] = self.details
        return out


def _one(status: int, message: str, reason: str, grpc: str) -> ApiError:
    return ApiError(
        status, message, [{"message": message, "domain": "global", "reason": reason}], grpc
    )


def caller_denied() -> ApiError:
    """HTTP 403 ``PERMISSION_DENIED``: not the caller's account, or a location the caller
    has no role on (any more)."""
    return _one(403, DENIED, "forbidden", "PERMISSION_DENIED")


def entity_not_found() -> ApiError:
    """HTTP 404 ``NOT_FOUND``: a location name nobody has."""
    return _one(404, NOT_FOUND, "notFound", "NOT_FOUND")


def invalid_argument() -> ApiError:
    """HTTP 400 ``INVALID_ARGUMENT``: no ``readMask`` (it is required), or a field it
    cannot name."""
    return _one(400, INVALID, "badRequest", "INVALID_ARGUMENT")


def project_number(client_id: str) -> str:
    """The Cloud project number a Google client id starts with (``123…-abc.apps…``)."""
    head = client_id.split("-", 1)[0]
    return head if head.isdigit() else _digits("gbp-project", client_id, 12)


def quota_exceeded(host: str, client_id: str) -> ApiError:
    """HTTP 429 ``RESOURCE_EXHAUSTED``: the app's requests per minute on ``host`` are
    spent (or its quota is 0: a project not approved for the APIs). [U] the ErrorInfo's
    metric and limit names."""
    number = project_number(client_id)
    message = (
        f"Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of "
        f"service '{host}' for consumer 'project_number:{number}'."
    )
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "consumer": f"projects/{number}",
            "quota_limit": "DefaultRequestsPerMinutePerProject",
            "quota_metric": f"{host}/default_requests",
            "service": host,
        },
    }
    errors = [{"message": message, "domain": "global", "reason": "rateLimitExceeded"}]
    return DetailedError(429, message, errors, "RESOURCE_EXHAUSTED", details=[info])
