"""The product's side of Google Business Profile: Google's OAuth, the Business Profile APIs.

The tokens are Google's, as for YouTube (:mod:`.google`): an access token of an hour and
a refresh token that never rotates and has no fixed lifetime, so a Business Profile
connection never reaches a hard expiry ("Google Business: do not issue tokens with
expiration dates"). Only the reads differ. At the first login the client finds what the
connection is about as a product that knows nothing else does: the person's account
(``mybusinessaccountmanagement.googleapis.com/v1/accounts``), then its first location
(``mybusinessbusinessinformation.googleapis.com/v1/{account}/locations?readMask=name,title``).
A sync reads that location's reviews
(``mybusiness.googleapis.com/v4/{account}/{location}/reviews``).

Google's answers say little. A 403 ``PERMISSION_DENIED`` "The caller does not have
permission" on the reviews is what a person who lost their owner or manager role on the
location gets, and also what other refusals look like; so, as a product checks a
Facebook Page's roles after a ``(#200)``, the client lists the account's locations again:
a location no longer listed means the role was removed (``admin_removed``). An account
that manages no location at all is ``not_eligible``. Everything else is the classifier's
Google rules (:func:`.google.classify_google`): a dead grant ``refresh_failed``, a
missing ``business.manage`` ``permission_missing``, quota and 5xx ``retry``.
"""

from __future__ import annotations

from typing import Any

from .._classifier import Action, Verdict
from .._lifecycle import Reason
from ._base import Answer, ClientContext, TokenInfo, answer_of
from .google import PROTOCOL, GoogleClient

ACCOUNT_MANAGEMENT = "mybusinessaccountmanagement.googleapis.com"
BUSINESS_INFORMATION = "mybusinessbusinessinformation.googleapis.com"
MYBUSINESS = "mybusiness.googleapis.com"
#: The profile's ``resource`` that makes a Google connection a Business Profile one.
RESOURCE = "business_location"


class GoogleBusinessClient(GoogleClient):
    """Google OAuth (inherited) and the Business Profile API calls of a product that
    manages business locations (reviews)."""

    def __init__(self, ctx: ClientContext) -> None:
        super().__init__(ctx)
        self.account_name: str | None = None
        """The person's Business Profile account (``accounts/…``), found at connect."""
        self.title: str | None = None
        """The location's title, as the API gave it."""

    # ``channel_id`` (inherited) holds the location's name (``locations/…``): what the
    # connection is about, found once at the first login.

    def _headers(self, info: TokenInfo) -> dict[str, str]:
        return {"Authorization": f"Bearer {info.access_token}"}

    async def _get(self, info: TokenInfo, host: str, path: str, **params: str) -> Answer:
        response = await self.http.get(
            self.ctx.url(host, path), params=params, headers=self._headers(info)
        )
        return answer_of(PROTOCOL, response)

    async def _locations(self, info: TokenInfo) -> tuple[Answer, list[dict[str, Any]]]:
        """The account's locations (finding the account first if need be)."""
        if self.account_name is None:
            accounts = await self._get(info, ACCOUNT_MANAGEMENT, "v1/accounts")
            items = _items(accounts, "accounts")
            if not accounts.ok or not items:
                return accounts, []
            self.account_name = str(items[0].get("name"))
        answer = await self._get(
            info, BUSINESS_INFORMATION, f"v1/{self.account_name}/locations", readMask="name,title"
        )
        return answer, _items(answer, "locations")

    async def _first_channel(self, info: TokenInfo) -> str | None:
        """At connect: the first location of the person's account (``None``: none)."""
        answer, items = await self._locations(info)
        if not answer.ok or not items:
            return None
        self.title = str(items[0].get("title") or "") or None
        return str(items[0].get("name"))

    async def read(self, info: TokenInfo) -> Answer:
        """The location's reviews; a refusal is checked against the account's locations."""
        if self.channel_id is None:
            self.channel_id = await self._first_channel(info)
            if self.channel_id is None:
                answer, _ = await self._locations(info)
                return answer if not answer.ok else Answer(answer.status, answer.body, _none())
        answer = await self._get(
            info, MYBUSINESS, f"v4/{self.account_name}/{self.channel_id}/reviews"
        )
        if answer.status != 403 or answer.verdict.reason is Reason.PERMISSION_MISSING:
            return answer
        listed, items = await self._locations(info)
        if listed.ok and self.channel_id not in {str(i.get("name")) for i in items}:
            return Answer(answer.status, answer.body, _role_removed(answer.verdict.message))
        return answer

    async def discover(self, info: TokenInfo) -> tuple[str | None, str | None] | None:
        """The location the first login found and its title."""
        if self.channel_id is None:
            return None
        return self.channel_id, self.title


def _items(answer: Answer, key: str) -> list[dict[str, Any]]:
    """The list under ``key`` of a JSON answer (Google leaves an empty list out)."""
    items = answer.body.get(key) if answer.ok and isinstance(answer.body, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _role_removed(message: str) -> Verdict:
    return Verdict(
        Action.RECONNECT,
        Reason.ADMIN_REMOVED,
        code="location_access_lost",
        message=(message + ": " if message else "")
        + "the connected location is no longer among the account's locations",
    )


def _none() -> Verdict:
    return Verdict(
        Action.RECONNECT,
        Reason.NOT_ELIGIBLE,
        code="no_locations",
        message="the Business Profile account manages no location",
    )
