"""The API calls the engine and integrations make: ``/2/users/me``,
``/2/users/{id}/tweets`` and v1.1 ``account/verify_credentials.json``.

A caller is a Bearer OAuth 2.0 user token or an OAuth 1.0a signed request. Order of
checks, as X answers them: the credentials (a token that does not work → v2 401 /
v1.1 89; a bad signature → v2 401 / v1.1 32), then the account (suspended → v2
user-suspended / v1.1 64; locked → v2 403 [U] / v1.1 326), then the rate-limit window
(v2 429 / v1.1 88), then the call itself. Every answer after the credentials carries
the ``x-rate-limit-*`` headers of its window. The tweets are the posts of the
account's timeline (the core's one page per X account), newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quart import Response, request

from ..core import Account, Post, Token, TokenKind
from . import _errors as e
from ._errors import ProblemError, V1Error
from ._http import bearer, core, error_response, json_response, rate_limits
from ._oauth1 import verify
from ._oauth2 import username

PROTOCOL = "twitter"
#: Scopes an OAuth 2.0 token needs, per endpoint (X's documented requirements).
NEEDS = {
    "users_me": ("tweet.read", "users.read"),
    "user_tweets": ("tweet.read", "users.read"),
}


@dataclass(frozen=True)
class Caller:
    token: Token
    account: Account


async def caller(*, v2: bool) -> Caller:
    """Who is calling; raises the shape's error when the credentials do not work."""
    c = core()
    value = bearer()
    if value is not None:
        if not v2:
            # v1.1 user endpoints take OAuth 1.0a only.
            raise e.v1(403, e.NOT_ALLOWED)
        check = c.check_token(value, provider=PROTOCOL)
        token = check.token
        if token is None or not check.valid or token.kind is not TokenKind.ACCESS:
            raise e.dead_token(v2=True)
    elif request.headers.get("Authorization", "").lower().startswith("oauth "):
        try:
            signed = await verify(needs_token=True)
        except V1Error as err:
            if err.errors and err.errors[0][0] == e.INVALID_TOKEN[0]:
                raise e.dead_token(v2=v2) from None
            raise e.bad_signature(v2=v2) from None
        assert signed.token is not None
        check = c.check_token(signed.token.value)
        token = signed.token
        if token.kind is not TokenKind.OAUTH1 or not check.valid:
            raise e.dead_token(v2=v2)
    else:
        raise e.dead_token(v2=v2) if v2 else e.v1(400, e.BAD_AUTHENTICATION)
    account = c.account(token.account_id)
    if account is None:
        raise e.dead_token(v2=v2)
    return Caller(token, account)


async def call(endpoint: str, *, v2: bool, rest: list[str]) -> Response:
    """Run one API call with the checks of the module docstring."""
    try:
        who = await caller(v2=v2)
    except (ProblemError, V1Error) as err:
        return error_response(err)
    c = core()
    allowed, headers = rate_limits().take(endpoint, who.token.client_id, who.account.id)
    profile = c.profile(PROTOCOL)
    problem = e.account_problem(
        c.account_state(who.account.id),
        v2=v2,
        locked_detail=str(profile.get("v2_locked_detail", e.ACCOUNT_LOCKED[1])),
    )
    if problem is not None:
        return error_response(problem, headers)
    if not allowed:
        return error_response(e.rate_limited(v2=v2), headers)
    needed = NEEDS.get(endpoint, ())
    if who.token.kind is TokenKind.ACCESS and not set(needed) <= set(c.scopes_now(who.token)):
        return error_response(ProblemError(dict(e.FORBIDDEN)), headers)
    try:
        if endpoint == "users_me":
            data = user_json(who.account, requested_fields("user.fields", USER_FIELDS))
            return json_response({"data": data}, headers=headers)
        if endpoint == "user_tweets":
            return json_response(tweets(rest[0]), headers=headers)
        return json_response(v1_user(who.account), headers=headers)
    except ProblemError as err:
        return error_response(err, headers)


#: The values v2's ``user.fields`` takes (the list of X's own 400 answer, [obs] a
#: recorded users/me, plus ``confirmed_email`` of the users.email scope); another is a 400.
_USER_FIELD_NAMES = (
    "affiliation confirmed_email connection_status created_at description entities id "
    "is_identity_verified location most_recent_tweet_id name parody pinned_tweet_id "
    "profile_banner_url profile_image_url protected public_metrics receives_your_dm "
    "subscription subscription_type url username verified verified_followers_count "
    "verified_type withheld"
)
USER_FIELDS = frozenset(_USER_FIELD_NAMES.split())
#: X's picture for an account that never set one.
DEFAULT_PROFILE_IMAGE = (
    "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
)


def requested_fields(name: str, known: frozenset[str]) -> list[str]:
    """The comma-separated values of query parameter ``name``; one X does not know is
    v2's 400 invalid-request problem naming it."""
    raw = request.args.get(name, "")
    asked = [f for f in raw.split(",") if f]
    unknown = [f for f in asked if f not in known]
    if unknown:
        raise e.not_one_of(name, raw, unknown[0], sorted(known))
    return asked


def joined(account: Account) -> datetime:
    """When the account was made, as far as the fake knows: its oldest post, else now."""
    posts = (p.created_time for page in account.pages for p in page.posts)
    return min(posts, default=core().now())


def user_json(account: Account, fields: Sequence[str] = ()) -> dict[str, Any]:
    """The v2 user: ``id``, ``name``, ``username`` and each requested field the account
    has a value for (X leaves out the rest: no ``location``, ``pinned_tweet_id``,
    ``entities`` or ``withheld`` for an account without them)."""
    out: dict[str, Any] = {"id": account.id, "name": account.name, "username": username(account)}
    tweets = [p for page in account.pages for p in page.posts]
    values: dict[str, Any] = {
        "created_at": iso(joined(account)),
        "description": "",
        "profile_image_url": DEFAULT_PROFILE_IMAGE,
        "protected": False,
        "public_metrics": {
            "followers_count": 0,
            "following_count": 0,
            "tweet_count": len(tweets),
            "listed_count": 0,
            "like_count": 0,
            "media_count": 0,
        },
        "url": "",
        "verified": False,
        "verified_type": "none",
    }
    if tweets:
        values["most_recent_tweet_id"] = tweet_id(max(tweets, key=lambda p: p.created_time))
    for name in fields:
        if name in values:
            out[name] = values[name]
    return out


def tweet_id(post: Post) -> str:
    """A 19-digit snowflake-looking id, stable for a post."""
    page_id, _, digits = post.id.partition("_")
    return (digits + page_id)[:19]


def iso(dt: datetime) -> str:
    """``2026-01-05T09:00:00.000Z``, X's v2 time format."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def tweets(user_id: str) -> dict[str, Any]:
    """``{"data", "meta"}`` of ``/2/users/{id}/tweets`` (``max_results`` 5..100, paged)."""
    c = core()
    if not user_id.isdigit():
        raise e.invalid_parameter("id", user_id)
    account = c.account(user_id)
    if account is None or account.provider != PROTOCOL:
        return {"errors": [e.user_not_found(user_id)]}
    posts = sorted(
        (p for page in account.pages for p in page.posts),
        key=lambda p: p.created_time,
        reverse=True,
    )
    raw = request.args.get("max_results", "10")
    if not raw.isdigit() or not 5 <= int(raw) <= 100:
        raise e.invalid_parameter("max_results", raw)
    size = int(raw)
    start = 0
    cursor = request.args.get("pagination_token")
    if cursor:
        ids = [tweet_id(p) for p in posts]
        if cursor not in ids:
            raise e.invalid_parameter("pagination_token", cursor)
        start = ids.index(cursor)
    fields = {f for f in request.args.get("tweet.fields", "").split(",") if f}
    window = posts[start : start + size]
    data = []
    for post in window:
        one: dict[str, Any] = {"id": tweet_id(post), "text": post.message}
        one["edit_history_tweet_ids"] = [one["id"]]
        if "created_at" in fields:
            one["created_at"] = iso(post.created_time)
        if "author_id" in fields:
            one["author_id"] = account.id
        data.append(one)
    if not data:
        return {"meta": {"result_count": 0}}
    meta: dict[str, Any] = {
        "newest_id": data[0]["id"],
        "oldest_id": data[-1]["id"],
        "result_count": len(data),
    }
    if start + size < len(posts):
        meta["next_token"] = tweet_id(posts[start + size])
    if start:
        meta["previous_token"] = tweet_id(posts[max(0, start - size)])
    return {"data": data, "meta": meta}


def v1_user(account: Account) -> dict[str, Any]:
    """The user object of ``account/verify_credentials.json`` (the fields apps read)."""
    created = joined(account)
    return {
        "id": int(account.id),
        "id_str": account.id,
        "name": account.name,
        "screen_name": username(account),
        "location": "",
        "description": "",
        "url": None,
        "protected": False,
        "followers_count": 0,
        "friends_count": 0,
        "statuses_count": sum(len(page.posts) for page in account.pages),
        "created_at": created.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "verified": False,
    }
