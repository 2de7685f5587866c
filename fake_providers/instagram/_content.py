"""The edges of an Instagram professional account, whichever host serves them.

``GET /{ig-user-id}/media`` (what the sync reads), ``POST /{ig-user-id}/media`` (a media
container), ``POST /{ig-user-id}/media_publish`` (publish it; the daily limit answers
code 9 / subcode 2207042), ``GET /{ig-user-id}/content_publishing_limit`` and
``GET /{ig-user-id}/insights`` (account insights: only with the login flavour's insights
permission, else ``(#10)`` [U: the body Meta answers for a missing insights
permission; (#10) is its answer for a missing permission of an action]). The
caller (``graph.instagram.com`` or ``graph.facebook.com``) has resolved the token, the
account and its eligibility; it passes the scopes the token carries now and the names
of the read and publish permissions of its login flavour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import Response

from ..core import Account, Core
from ..facebook import _errors as fb
from ..facebook._errors import GraphError
from ..facebook._graph import fields, paged
from ..facebook._http import json_response
from . import _errors as e
from ._media import WINDOW, publish_limit, store

MEDIA_DEFAULT_FIELDS = "id"
CONTAINER_TYPES = ("IMAGE", "VIDEO", "REELS", "CAROUSEL", "STORIES")


@dataclass(frozen=True)
class Permissions:
    """The permission names of one login flavour."""

    read: str
    publish: str
    insights: str


INSTAGRAM_LOGIN = Permissions(
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
)
FACEBOOK_LOGIN = Permissions(
    "instagram_basic", "instagram_content_publish", "instagram_manage_insights"
)

EDGES = (["media"], ["media_publish"], ["content_publishing_limit"], ["insights"])
#: The account metrics ``GET /{ig-user-id}/insights`` answers (``metric=``), by period.
INSIGHT_METRICS = ("reach", "views", "follower_count")


def account_edge(
    core: Core,
    method: str,
    account: Account,
    rest: list[str],
    params: dict[str, str],
    *,
    scopes: list[str],
    perms: Permissions,
) -> Response:
    """Answer one edge call of ``account``; raises :class:`GraphError`."""
    media = store(core)
    if rest == ["media"] and method == "GET":
        if perms.read not in scopes:
            raise fb.permission_error(10)
        wanted = fields(params, MEDIA_DEFAULT_FIELDS)
        data = [m.fields(wanted) for m in media.media(core, account)]
        return json_response(paged(data, params))
    if rest == ["media"] and method == "POST":
        if perms.publish not in scopes:
            raise fb.permission_error(10)
        kind = params.get("media_type", "IMAGE").upper()
        if kind not in CONTAINER_TYPES:
            raise GraphError(400, "(#100) The parameter media_type is invalid", 100)
        if kind in ("IMAGE", "STORIES") and not (
            params.get("image_url") or params.get("video_url")
        ):
            raise fb.missing_parameter("image_url")
        made = media.create_container(
            core, account, caption=params.get("caption", ""), media_type=kind
        )
        return json_response({"id": made.id})
    if rest == ["media_publish"] and method == "POST":
        if perms.publish not in scopes:
            raise fb.permission_error(10)
        creation_id = params.get("creation_id")
        if not creation_id:
            raise fb.missing_parameter("creation_id")
        container = media.container(creation_id)
        if container is None or container.account_id != account.id:
            raise GraphError(400, e.NO_CONTAINER.format(id=creation_id), 100)
        if container.published is not None:
            return json_response({"id": container.published})
        if media.usage(core, account) >= publish_limit(core):
            raise e.publish_limit()
        return json_response({"id": media.publish(core, account, container).id})
    if rest == ["content_publishing_limit"] and method == "GET":
        if perms.read not in scopes:
            raise fb.permission_error(10)
        wanted = fields(params, "quota_usage")
        one: dict[str, Any] = {"quota_usage": media.usage(core, account)}
        if "config" in wanted:
            one["config"] = {
                "quota_total": publish_limit(core),
                "quota_duration": int(WINDOW.total_seconds()),
            }
        return json_response({"data": [one]})
    if rest == ["insights"] and method == "GET":
        if perms.insights not in scopes:
            raise fb.permission_error(10)
        return json_response({"data": insights(core, account, params)})
    if rest in EDGES:
        raise fb.unsupported(method, account.id)
    raise fb.unknown_path("/" + "/".join(rest))


def insights(core: Core, account: Account, params: dict[str, str]) -> list[dict[str, Any]]:
    """The account's insights for ``metric`` (comma-separated; default ``reach``) and
    ``period`` (default ``day``), in the Graph's shape: one object a metric, its value
    for the period ending at midnight UTC today. Values are made up from the account's
    media count (steady, so a sync reads the same until something changes)."""
    wanted = [m for m in params.get("metric", "reach").split(",") if m]
    unknown = [m for m in wanted if m not in INSIGHT_METRICS]
    if unknown:
        raise GraphError(
            400,
            f"(#100) metric[0] must be one of the following values: {', '.join(INSIGHT_METRICS)}",
            100,
        )
    period = params.get("period", "day")
    end = core.now().replace(hour=0, minute=0, second=0, microsecond=0)
    base = 100 * (1 + len(store(core).media(core, account)))
    return [
        {
            "name": metric,
            "period": period,
            "values": [{"value": base, "end_time": end.strftime("%Y-%m-%dT%H:%M:%S+0000")}],
            "title": metric.replace("_", " ").capitalize(),
            "id": f"{account.id}/insights/{metric}/{period}",
        }
        for metric in wanted
    ]
