"""Who the member is: ``/v2/userinfo`` (OpenID Connect) and the legacy profile and
email resources, each answered for the scopes granted, as real LinkedIn does.

- ``GET /v2/userinfo`` — ``openid``; names, picture and locale with ``profile``, the
  address with ``email`` (learn.microsoft.com, "Sign In with LinkedIn using OpenID
  Connect", response body schema);
- ``GET /v2/me`` — the lite profile, only with the legacy ``r_liteprofile`` (or
  ``r_basicprofile``). A token of the OpenID scopes ``openid profile email`` gets 403
  ``ACCESS_DENIED`` "Not enough permissions to access: me.GET.NO_VERSION", as real apps
  report (linkedin-developers/linkedin-api-js-client#35, hwi/HWIOAuthBundle#2014,
  linkedin-developers/linkedin-api-python-client#49);
- ``GET /rest/me`` — the same, versioned (``LinkedIn-Version`` required, as for every
  ``/rest`` resource); its 403 names the version (``me.GET.20241101``) [U]. Both
  answer only the top-level fields a projection names (``projection=(id,firstName)``,
  or Rest.li 1.0's ``fields=id,firstName``), all of them without one
  (learn.microsoft.com, "Field Projections"): social-core asks for
  ``(firstName,id,lastName)``, httpx-oauth for ``(id)``;
- ``GET /v2/emailAddress?q=members&projection=(elements*(handle~))`` — the primary
  address, only with the legacy ``r_emailaddress``; otherwise 403 "Not enough
  permissions to access: emailAddress.FINDER-members.NO_VERSION" (the message apps
  log). Without the projection the element has only its ``handle`` URN (Rest.li
  decoration); a ``q`` other than ``members`` is a 400 [U].
"""

from __future__ import annotations

from typing import Any

from quart import request

from ..core import Account, Token
from . import _errors as e
from ._http import core
from ._oidc import LOCALE, names, picture

#: The legacy scopes that read the lite profile.
LITE_PROFILE = ("r_liteprofile", "r_basicprofile")
EMAIL_ADDRESS = "r_emailaddress"


def userinfo(token: Token, account: Account) -> dict[str, Any]:
    """The OpenID Connect claims of the member, in LinkedIn's order."""
    scopes = core().scopes_now(token)
    if "openid" not in scopes:
        raise e.access_denied("userinfo", "GET", "NO_VERSION")
    out: dict[str, Any] = {"sub": account.id}
    if "email" in scopes:
        out["email_verified"] = True
    if "profile" in scopes:
        first, last = names(account)
        out["name"] = account.name
        out["locale"] = dict(LOCALE)
        out["given_name"] = first
        out["family_name"] = last
        out["picture"] = picture(account)
    if "email" in scopes:
        out["email"] = account.email
    return out


def me(token: Token, account: Account, version: str = "NO_VERSION") -> dict[str, Any]:
    """The lite profile (``r_liteprofile``): localized names and the member id."""
    if not any(s in core().scopes_now(token) for s in LITE_PROFILE):
        raise e.access_denied("me", "GET", version)
    first, last = names(account)
    key = f"{LOCALE['language']}_{LOCALE['country']}"
    profile = {
        "localizedLastName": last,
        "lastName": {"localized": {key: last}, "preferredLocale": dict(LOCALE)},
        "firstName": {"localized": {key: first}, "preferredLocale": dict(LOCALE)},
        "id": account.id,
        "localizedFirstName": first,
    }
    wanted = projected(request.args.get("projection"), request.args.get("fields"))
    if wanted is None:
        return profile
    return {k: v for k, v in profile.items() if k in wanted}


def projected(projection: str | None, fields: str | None) -> set[str] | None:
    """The top-level field names a projection asks for, or ``None`` for all of them.

    ``projection=(id,firstName,profilePicture(displayImage~:playableStreams))`` names
    ``id``, ``firstName`` and ``profilePicture`` (a nested projection keeps the whole
    field here); ``fields=id,firstName`` is the Rest.li 1.0 spelling.
    """
    text = projection if projection is not None else fields
    if text is None or not text.strip():
        return None
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    out: set[str] = set()
    depth, item = 0, ""
    for ch in text + ",":
        if ch == "," and depth == 0:
            name = item.split("(", 1)[0].split(":", 1)[0].rstrip("~").strip()
            if name:
                out.add(name)
            item = ""
            continue
        depth += (ch == "(") - (ch == ")")
        item += ch
    return out


def email_address(token: Token, account: Account) -> dict[str, Any]:
    """The ``members`` finder of ``/v2/emailAddress`` (``r_emailaddress``)."""
    if request.args.get("q") != "members":
        raise e.illegal_argument("Invalid query parameter: q must be members")
    if EMAIL_ADDRESS not in core().scopes_now(token):
        raise e.access_denied("emailAddress", "FINDER-members", "NO_VERSION")
    element: dict[str, Any] = {"handle": f"urn:li:emailAddress:{_handle(account)}"}
    if "handle~" in request.args.get("projection", ""):
        element["handle~"] = {"emailAddress": account.email}
    return {"elements": [element]}


def _handle(account: Account) -> int:
    """A stable numeric id for the member's address (LinkedIn's handles are numbers)."""
    return sum((i + 1) * ord(ch) for i, ch in enumerate(account.email)) % 10**10
