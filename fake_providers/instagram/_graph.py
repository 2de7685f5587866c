"""``graph.instagram.com`` nodes: the professional account (``me`` or its id) and its
edges (media, publishing).

Every call resolves its access token (``access_token`` or an ``Authorization`` header)
as an Instagram token; one that does not work answers its 190 error (Facebook's
envelope and subcodes: 460 password changed, 459 checkpoint, 458 app removed, 463
expired, 490 locked). The account's state then decides: a personal account answers
``(#10) The user is not an Instagram Business`` [obs] for everything but its profile, a
suspended one the profile's ``suspended_message`` (190, [U]), a restricted one the
policy block ``(#368)``.
"""

from __future__ import annotations

from typing import Any

from quart import Response

from ..core import Account, AccountType, Reason, Token, TokenCheck
from ..facebook import _errors as fb
from ..facebook._errors import GraphError
from ..facebook._graph import fields
from ..facebook._http import bearer, core, json_response
from . import _errors as e
from ._content import EDGES, INSTAGRAM_LOGIN, account_edge
from ._media import store, username_of
from ._oauth import own_token, rejected, token_message

ACCOUNT_TYPES = {
    AccountType.BUSINESS: "BUSINESS",
    AccountType.CREATOR: "MEDIA_CREATOR",
    AccountType.PERSONAL: "PERSONAL",
}


async def dispatch(method: str, parts: list[str], params: dict[str, str]) -> Response:
    """Route one Graph call of graph.instagram.com (not the token endpoints)."""
    if not parts:
        raise fb.unknown_path("/")
    value = params.get("access_token") or bearer()
    if not value:
        if parts[0] == "me":
            raise GraphError(400, fb.NO_TOKEN_ME, 2500)
        raise GraphError(400, fb.NO_TOKEN, 104)
    check = own_token(value)
    if check.token is None or not check.valid:
        raise rejected(check)
    token = check.token
    c = core()
    node = token.account_id if parts[0] == "me" else parts[0]
    account = c.account(node)
    if account is None or account.id != token.account_id:
        raise fb.unsupported(method, node)
    state_error(token, account)
    rest = parts[1:]
    if not rest and method == "GET":
        return profile(token, account, params)
    if account.type is AccountType.PERSONAL and rest in EDGES:
        raise e.not_business()
    return account_edge(
        c, method, account, rest, params, scopes=c.scopes_now(token), perms=INSTAGRAM_LOGIN
    )


def state_error(token: Token, account: Account) -> None:
    """Raise the error of an account that is suspended or restricted now."""
    state = core().account_state(account.id)
    if state.suspended:
        check = TokenCheck(token, Reason.SUSPENDED)
        raise e.suspended(token_message(check))
    if state.restricted:
        raise e.restricted()


def profile(token: Token, account: Account, params: dict[str, str]) -> Response:
    """``GET /me`` (fields ``id``, ``user_id``, ``username``, ``name``,
    ``account_type``, ``media_count``); ``id`` alone by default."""
    wanted = fields(params, "id")
    c = core()
    out: dict[str, Any] = {}
    for f in wanted:
        if f == "id":
            out["id"] = account.id
        elif f == "user_id":
            out["user_id"] = account.id
        elif f == "username":
            out["username"] = username_of(account)
        elif f == "name":
            out["name"] = account.name
        elif f == "account_type":
            out["account_type"] = ACCOUNT_TYPES[account.type]
        elif f == "media_count":
            out["media_count"] = len(store(c).media(c, account))
    out.setdefault("id", account.id)
    return json_response(out)
