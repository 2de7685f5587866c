"""Instagram with Facebook Login (PROVIDERS.md §2b): the Instagram professional account
nodes of the Graph, ``/{ig-user-id}`` and its edges, read with a Facebook user token.

A token sees an Instagram account only through a Page its user administers that
exposes it as ``instagram_business_account`` (``Core.instagram_business_account``):
linked both ways and professional. Otherwise:

- the account is linked to a Page the user administers but turned personal: HTTP 400
  ``(#10) The user is not an Instagram Business`` [obs];
- the link is gone, or the user no longer administers the Page: the Graph's answer for
  an object the token cannot see, ``GraphMethodException`` 100/33 "Unsupported get
  request. Object with ID … does not exist, cannot be loaded due to missing
  permissions, or does not support this operation" [U: Facebook's answer for an object
  the token cannot load; unconfirmed for a former Instagram link].

Page tokens of the linked Page see the account as their user does.
"""

from __future__ import annotations

from typing import Any

from quart import Response

from ..core import Account, AccountType, Token
from ..instagram import _errors as ig_errors
from ..instagram._content import EDGES, FACEBOOK_LOGIN, account_edge
from ..instagram._media import store, username_of
from . import _errors as e
from ._graph import fields
from ._http import core, json_response

#: Reading the account's profile and media needs this permission (else ``(#10)``).
READ_PERMISSION = FACEBOOK_LOGIN.read


def instagram_node(
    method: str, token: Token, ig: Account, rest: list[str], params: dict[str, str]
) -> Response:
    """``/{ig-user-id}`` and its edges, for a Facebook user or page token."""
    c = core()
    page_id = ig.linked_page_id
    page = c.page(page_id) if page_id else None
    viewer_admin = page is not None and token.account_id in page.admins
    if token.page_id is not None and token.page_id != page_id:
        viewer_admin = False
    if not viewer_admin or page is None or page.instagram_account_id != ig.id:
        raise e.unsupported(method, ig.id)
    if ig.type is AccountType.PERSONAL:
        raise ig_errors.not_business()
    scopes = c.scopes_now(token)
    if not rest and method == "GET":
        if READ_PERMISSION not in scopes:
            raise e.permission_error(10)
        return profile(ig, params)
    if rest not in EDGES:
        raise e.unknown_path("/" + "/".join(rest))
    return account_edge(c, method, ig, rest, params, scopes=scopes, perms=FACEBOOK_LOGIN)


def profile(ig: Account, params: dict[str, str]) -> Response:
    """``GET /{ig-user-id}``: ``id``, ``username``, ``name``, ``media_count``."""
    c = core()
    out: dict[str, Any] = {}
    for f in fields(params, "id"):
        if f == "id":
            out["id"] = ig.id
        elif f == "username":
            out["username"] = username_of(ig)
        elif f == "name":
            out["name"] = ig.name
        elif f == "media_count":
            out["media_count"] = len(store(c).media(c, ig))
    out.setdefault("id", ig.id)
    return json_response(out)
