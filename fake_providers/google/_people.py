"""The People API's ``GET people.googleapis.com/v1/people/me``: who the token's user is.

What a call answers, in order (sources: the ``people.get`` reference,
developers.google.com/people/api/rest/v1/people/get; client logs in public issues):

- no credential → 401 ``UNAUTHENTICATED`` (missing credential); a token that does not
  work (expired, revoked, account disabled) → 401 ``UNAUTHENTICATED`` (invalid
  credentials), as every Google API;
- a token with none of the scopes the reference lists (``userinfo.profile``,
  ``userinfo.email``, ``contacts…``, ``user.*.read``, ``directory.readonly``) → 403
  "Request had insufficient authentication scopes." ``PERMISSION_DENIED`` with a
  ``WWW-Authenticate: … error="insufficient_scope"`` header (kwent/react-google-contacts#6
  logs that body and header);
- no ``personFields`` (nor the deprecated ``requestMask.includeField``) → 400
  "personFields mask is required. …", ``badRequest`` (googleapis/google-api-nodejs-client
  #989, googleworkspace/go-samples#15: "The request returns a 400 error if
  'personFields' is not specified"); a path that is not a person field → 400 [U] (scopes
  are checked first [U]: Google's front end checks them before the API reads its
  arguments);
- otherwise the Person: ``resourceName`` ``people/{id}``, ``etag``, and each requested
  field the token may read — ``names`` and ``photos`` with ``profile``,
  ``emailAddresses`` with ``email`` (or ``user.emails.read``); a requested field the
  token may not read, or the fake does not hold (birthdays, phone numbers…), is left
  out, as Google leaves out what it cannot show.
"""

from __future__ import annotations

import hashlib
from typing import Any

from quart import Response

from ..core import Account
from . import _errors as e
from ._http import bearer, core, json_response, params
from ._identity import EMAIL_SCOPES, PROFILE_SCOPES, b64url, working

SCOPE = "https://www.googleapis.com/auth/"
#: The scopes of people.get's "Authorization scopes" list; one of them lets the call in.
READ_SCOPES = (
    *EMAIL_SCOPES,
    *PROFILE_SCOPES,
    *(
        SCOPE + s
        for s in (
            "contacts",
            "contacts.readonly",
            "contacts.other.readonly",
            "directory.readonly",
            "profile.agerange.read",
            "profile.emails.read",
            "profile.language.read",
            "user.addresses.read",
            "user.birthday.read",
            "user.emails.read",
            "user.gender.read",
            "user.organization.read",
            "user.phonenumbers.read",
        )
    ),
)
EMAIL_READ = (*EMAIL_SCOPES, SCOPE + "user.emails.read", SCOPE + "profile.emails.read")
#: The person fields ``personFields`` accepts (the reference's list).
_FIELD_LIST = (
    "addresses ageRanges biographies birthdays calendarUrls clientData coverPhotos "
    "emailAddresses events externalIds genders imClients interests locales locations "
    "memberships metadata miscKeywords names nicknames occupations organizations "
    "phoneNumbers photos relations sipAddresses skills urls userDefined"
)
PERSON_FIELDS = frozenset(_FIELD_LIST.split())
DOCS = "https://developers.google.com/people/api/rest/v1/people/get"


def _fields(query: dict[str, str]) -> list[str]:
    """The requested person fields; the deprecated mask spells them ``person.names``."""
    text = query.get("personFields") or query.get("requestMask.includeField") or ""
    out = [f.strip().removeprefix("person.") for f in text.split(",") if f.strip()]
    if not out:
        raise bad_request(
            "personFields mask is required. Please specify one or more valid paths. "
            f"Valid paths are documented at {DOCS}."
        )
    for name in out:
        if name not in PERSON_FIELDS:
            # [U] the wording for a path that is not a person field.
            raise bad_request(
                f'Invalid personFields mask path: "{name}". Valid paths are documented at {DOCS}.'
            )
    return out


def bad_request(message: str) -> e.ApiError:
    return e.ApiError(
        400, message, [{"message": message, "domain": "global", "reason": "badRequest"}],
        "INVALID_ARGUMENT",
    )  # fmt: skip


def insufficient_scopes() -> e.ApiError:
    """403 ``PERMISSION_DENIED`` without ``errors`` (the People API's envelope)."""
    return e.ApiError(
        403,
        e.INSUFFICIENT_SCOPES,
        [],
        "PERMISSION_DENIED",
        {
            "WWW-Authenticate": f'Bearer realm="{e.REALM}", error="insufficient_scope", '
            f'scope="{SCOPE}contacts.readonly {SCOPE}userinfo.profile"'
        },
    )


def _source(account: Account, kind: str) -> dict[str, Any]:
    return {"primary": True, "source": {"type": kind, "id": account.id}}


def person(account: Account, fields: list[str], scopes: list[str]) -> dict[str, Any]:
    """The Person of ``account`` with the requested fields ``scopes`` may read."""
    digest = hashlib.sha256(f"{account.id}:{account.name}:{account.email}".encode()).digest()
    out: dict[str, Any] = {"resourceName": f"people/{account.id}", "etag": "%" + b64url(digest)}
    profile = any(s in scopes for s in PROFILE_SCOPES)
    if "names" in fields and profile:
        first, _, last = account.name.partition(" ")
        name: dict[str, Any] = {"metadata": _source(account, "PROFILE")}
        name.update(displayName=account.name, familyName=last, givenName=first)
        name["displayNameLastFirst"] = f"{last}, {first}" if last else first
        name["unstructuredName"] = account.name
        out["names"] = [name]
    if "photos" in fields and profile:
        url = f"https://lh3.googleusercontent.com/a/{b64url(account.id.encode())}=s100"
        out["photos"] = [{"metadata": _source(account, "PROFILE"), "url": url, "default": True}]
    if "emailAddresses" in fields and any(s in scopes for s in EMAIL_READ):
        meta = {**_source(account, "ACCOUNT"), "verified": True}
        meta["sourcePrimary"] = True
        out["emailAddresses"] = [{"metadata": meta, "value": account.email}]
    return out


async def people_me() -> Response:
    """``GET /v1/people/me?personFields=…`` (Bearer or ``access_token``)."""
    query = await params()
    value = bearer() or query.get("access_token")
    if not value:
        raise e.login_required()
    check = working(value)
    if check is None or check.token is None:
        raise e.unauthenticated()
    c = core()
    scopes = c.scopes_now(check.token)
    if not any(s in scopes for s in READ_SCOPES):
        raise insufficient_scopes()
    fields = _fields(query)
    account = c.account(check.token.account_id)
    assert account is not None
    return json_response(person(account, fields, scopes))
