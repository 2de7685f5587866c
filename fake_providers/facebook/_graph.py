"""The Graph API nodes the engine and integrations use: me, pages, posts, permissions,
and ``debug_token``.

Every call first resolves its access token (the ``access_token`` parameter or an
``Authorization`` header) through the core; a token that does not work answers its
190 error. Paths are Graph paths without the optional version: ``me``,
``me/accounts``, ``me/permissions[/perm]``, ``{user-id}/permissions[/perm]``,
``{page-id}``, ``{page-id}/posts``, and an Instagram professional account linked to a
Page, ``{ig-user-id}[/media…]`` (``_instagram``).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from quart import Response, request

from ..core import Account, Page, Reason, Token, TokenCheck, TokenKind
from . import _errors as e
from ._errors import GraphError
from ._http import bearer, core, json_response

#: Listing a user's pages needs this permission (without it the list is empty).
LIST_PERMISSION = "pages_show_list"
#: Reading a page's posts needs this permission (without it: ``(#10)``).
READ_PERMISSION = "pages_read_engagement"
#: Scopes whose ``granular_scopes`` entry names the pages they apply to.
PAGE_SCOPES = ("pages_", "business_management", "instagram_")
PAGE_TASKS = ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"]
#: The protocol of Instagram accounts, whose nodes a Facebook token reads through a Page.
INSTAGRAM = "instagram"
#: Who asks the core about tokens: another provider's token is one Facebook never issued
#: (Instagram through Facebook Login is this protocol: its tokens are Facebook's).
PROTOCOL = "facebook"


def timestamp(dt: datetime | None) -> int:
    return 0 if dt is None else int(dt.timestamp())


def graph_time(dt: datetime) -> str:
    """``2026-01-05T09:00:00+0000``, the Graph's time format."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S+0000")


def rejected(check: TokenCheck) -> GraphError:
    """The 190 error for a token that does not work."""
    return e.token_error(check.reason or Reason.MALFORMED, message_for(check))


def message_for(check: TokenCheck) -> str:
    c = core()
    reason = check.reason or Reason.MALFORMED
    provider = check.token.provider if check.token else "facebook"
    profile = c.profile(provider)
    return e.token_message(
        reason,
        app_id=check.token.client_id if check.token else None,
        since=check.since,
        now=c.now(),
        tz=str(profile.get("message_timezone", "America/Los_Angeles")),
        data_access=profile.lifetime("data_access_lifetime"),
    )


def check_app_token(value: str) -> bool:
    """Is ``value`` a working app token ``{app-id}|{app-secret}`` of a Facebook app?

    Another provider's app, spelled the same way, is no app of the Graph: its id and
    secret answer as an app token that does not verify (issue 11, item 4)."""
    client_id, _, secret = value.partition("|")
    app = core().app(client_id)
    return app is not None and app.provider == PROTOCOL and app.client_secret == secret


def paged(items: list[Any], params: dict[str, str]) -> dict[str, Any]:
    """``data`` and Graph cursor ``paging`` for ``limit``/``after``."""
    try:
        limit = max(1, min(100, int(params.get("limit", "25"))))
    except ValueError:
        limit = 25
    start = 0
    if params.get("after"):
        try:
            start = int(base64.b64decode(params["after"]).decode()) + 1
        except ValueError:
            start = 0
    window = items[start : start + limit]
    out: dict[str, Any] = {"data": window}
    if window:

        def cursor(i: int) -> str:
            return base64.b64encode(str(i).encode()).decode()

        paging: dict[str, Any] = {
            "cursors": {"before": cursor(start), "after": cursor(start + len(window) - 1)}
        }
        if start + limit < len(items):
            query = {**params, "limit": str(limit), "after": cursor(start + len(window) - 1)}
            paging["next"] = f"{request.base_url}?{urlencode(query)}"
        out["paging"] = paging
    return out


def fields(params: dict[str, str], default: str) -> list[str]:
    """The top-level field names of ``fields`` (or ``default``).

    The Graph's field syntax nests: ``children{id,media_url}``, ``media.limit(5){id}``
    (python-facebook-api asks for such by default). Commas inside braces or parentheses
    belong to the nested field; a nested field counts by its name alone (the fakes
    answer no nested edges, so it is left out like any field they do not have).
    """
    out: list[str] = []
    depth, name = 0, ""
    for ch in params.get("fields", default) + ",":
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            top = name.split("{", 1)[0].split("(", 1)[0].split(".", 1)[0].strip()
            if top:
                out.append(top)
            name = ""
            continue
        name += ch
    return out


async def dispatch(method: str, parts: list[str], params: dict[str, str]) -> Response:
    """Route one Graph call (not the OAuth endpoints) to its node."""
    if parts == ["debug_token"] and method == "GET":
        return debug_token(params)
    if not parts:
        raise e.unknown_path("/")
    c = core()
    node = parts[0]
    value = params.get("access_token") or bearer()
    if not value or "|" in value:
        if node == "me":
            raise GraphError(400, e.NO_TOKEN_ME, 2500)
        if not value:
            raise GraphError(400, e.NO_TOKEN, 104)
        if not check_app_token(value):
            raise GraphError(400, e.APP_TOKEN_SIGNATURE, 190, auth_error="invalid_token")
        raise e.permission_error(200)
    check = c.check_token(value, provider=PROTOCOL)
    if check.token is None or not check.valid:
        raise rejected(check)
    token = check.token
    node_id = (token.page_id or token.account_id) if node == "me" else node
    account = c.account(node_id)
    if account is not None and account.id == token.account_id and token.kind is not TokenKind.PAGE:
        return user_node(method, token, account, parts[1:], params)
    if account is not None and account.provider == INSTAGRAM:
        # Late import: the Instagram package imports this module.
        from ._instagram import instagram_node

        return instagram_node(method, token, account, parts[1:], params)
    page = graph_page(node_id)
    if page is not None:
        if c.account_state(token.account_id).restricted:
            raise e.restricted()
        return page_node(method, token, page, parts[1:], params)
    raise e.unsupported(method, node_id)


def graph_page(page_id: str) -> Page | None:
    """A Facebook Page by id. Another provider's page — a LinkedIn organization, a
    YouTube channel — is no object of the Graph: it answers as an id that does not exist."""
    c = core()
    page = c.page(page_id)
    if page is None:
        return None
    for admin in (page.admin_id, *sorted(page.admins)):
        account = c.account(admin)
        if account is not None:
            return page if account.provider == PROTOCOL else None
    return None


def user_node(
    method: str, token: Token, account: Account, rest: list[str], params: dict[str, str]
) -> Response:
    c = core()
    scopes = c.scopes_now(token)
    if not rest and method == "GET":
        out: dict[str, Any] = {}
        for f in fields(params, "id,name"):
            if f == "id":
                out["id"] = account.id
            elif f == "name":
                out["name"] = account.name
            elif f in ("first_name", "last_name"):
                # The first and last words of the name (social-core reads both).
                words = account.name.split()
                if words:
                    out[f] = words[0] if f == "first_name" else words[-1]
            elif f == "email" and "email" in scopes:
                out["email"] = account.email
        out.setdefault("id", account.id)
        return json_response(out)
    if rest == ["accounts"] and method == "GET":
        wanted = fields(params, "access_token,category,name,id,tasks")
        pages = c.pages_of(account.id) if LIST_PERMISSION in scopes else []
        data = []
        for page in pages:
            full: dict[str, Any] = {
                "access_token": c.page_token(token.value, page.id).value,
                "category": page.category,
                "name": page.name,
                "id": page.id,
                "tasks": list(PAGE_TASKS),
            }
            ig = c.instagram_business_account(page.id, viewer=account.id)
            if ig is not None:  # absent when none, as the Graph leaves it out
                full["instagram_business_account"] = {"id": ig.id}
            data.append({k: v for k, v in full.items() if k in wanted or k == "id"})
        return json_response(paged(data, params))
    if rest and rest[0] == "permissions":
        grant = c.grant(token.client_id, account.id)
        if len(rest) == 1 and method == "GET":
            granted = grant.granted if grant else []
            declined = grant.declined if grant else []
            perms = [{"permission": p, "status": "granted"} for p in granted] + [
                {"permission": p, "status": "declined"} for p in declined
            ]
            return json_response({"data": perms})
        if len(rest) == 1 and method == "DELETE":
            c.revoke_grant(account.id, token.client_id)
            return json_response({"success": True})
        if len(rest) == 2 and method == "DELETE":
            c.revoke_permission(account.id, token.client_id, rest[1])
            return json_response(True)
    if not rest or rest[0] in ("accounts", "permissions"):
        raise e.unsupported(method, account.id)
    raise e.unknown_path("/" + "/".join(rest))


def page_node(
    method: str, token: Token, page: Page, rest: list[str], params: dict[str, str]
) -> Response:
    c = core()
    is_admin = token.kind is not TokenKind.PAGE and token.account_id in page.admins
    is_page = token.kind is TokenKind.PAGE and token.page_id == page.id
    if not rest and method == "GET":
        out: dict[str, Any] = {}
        for f in fields(params, "name,id"):
            if f == "name":
                out["name"] = page.name
            elif f == "category":
                out["category"] = page.category
            elif f == "access_token":
                if is_admin:
                    out["access_token"] = c.page_token(token.value, page.id).value
                elif is_page:
                    out["access_token"] = token.value
                else:
                    raise e.permission_error(200)
            elif f == "instagram_business_account":
                viewer = token.account_id if is_admin or is_page else ""
                ig = c.instagram_business_account(page.id, viewer=viewer)
                if ig is not None:
                    out["instagram_business_account"] = {"id": ig.id}
        out["id"] = page.id
        return json_response(out)
    if rest == ["posts"] and method == "GET":
        if not (is_admin or is_page):
            raise e.permission_error(200)
        if READ_PERMISSION not in c.scopes_now(token):
            raise e.permission_error(10)
        wanted = fields(params, "id,message,created_time")
        posts = [
            {
                k: v
                for k, v in (
                    ("id", p.id),
                    ("message", p.message),
                    ("created_time", graph_time(p.created_time)),
                )
                if k in wanted or k == "id"
            }
            for p in page.posts
        ]
        return json_response(paged(posts, params))
    if not rest or rest == ["posts"]:
        raise e.unsupported(method, page.id)
    raise e.unknown_path("/" + "/".join(rest))


def debug_token(params: dict[str, str]) -> Response:
    """``debug_token``: HTTP 200 even for a bad input token, the error inside ``data``."""
    c = core()
    value = params.get("access_token") or bearer()
    if not value:
        raise GraphError(400, e.NO_TOKEN, 104)
    if "|" in value:
        if not check_app_token(value):
            raise GraphError(400, e.APP_TOKEN_SIGNATURE, 190, auth_error="invalid_token")
    else:
        check = c.check_token(value, provider=PROTOCOL)
        if not check.valid:
            raise rejected(check)
    input_token = params.get("input_token")
    if not input_token:
        raise e.missing_parameter("input_token")
    return json_response({"data": debug_data(input_token)})


def debug_data(value: str) -> dict[str, Any]:
    c = core()
    if "|" in value and check_app_token(value):
        app = c.app(value.partition("|")[0])
        assert app is not None
        return {"app_id": app.client_id, "type": "APP", "application": app.name, "is_valid": True}
    check = c.check_token(value, provider=PROTOCOL)
    token = check.token
    if token is None:
        return {"error": {"code": 190, "message": e.MALFORMED}, "is_valid": False, "scopes": []}
    app = c.app(token.client_id)
    grant = c.grant(token.client_id, token.account_id)
    data: dict[str, Any] = {
        "app_id": token.client_id,
        "type": "PAGE" if token.kind is TokenKind.PAGE else "USER",
        "application": app.name if app else "",
        "data_access_expires_at": timestamp(c.data_access_expires_at(token)),
    }
    if check.reason is not None:
        error: dict[str, Any] = {"code": 190, "message": message_for(check)}
        subcode = e.SUBCODES.get(check.reason)
        if subcode is not None:
            error["subcode"] = subcode
        data["error"] = error
    dead = check.reason is Reason.PASSWORD_CHANGED
    data["expires_at"] = 0 if dead else timestamp(token.expires_at)
    data["is_valid"] = check.valid
    data["issued_at"] = timestamp(token.issued_at)
    data["metadata"] = {"auth_type": grant.auth_type} if grant and grant.auth_type else {}
    if token.page_id is not None:
        data["profile_id"] = token.page_id
    scopes = c.scopes_now(token)
    account = c.account(token.account_id)
    pages = c.pages_of(account.id) if account else []
    page_ids = [token.page_id] if token.page_id else [p.id for p in pages]
    data["scopes"] = scopes
    granular: list[dict[str, Any]] = []
    for s in scopes:
        targeted = s.startswith(PAGE_SCOPES) and page_ids
        granular.append({"scope": s, "target_ids": page_ids} if targeted else {"scope": s})
    data["granular_scopes"] = granular
    data["user_id"] = token.account_id
    return data
