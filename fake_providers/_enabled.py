"""Providers a server does not serve: their hosts answer a clear 404.

A core may serve only some protocols (``Core(..., enabled=[...])``, ``conntrack serve
--providers``). A request for a host of a provider it does not serve — by path
(``/api.linkedin.com/…``) or by ``Host`` header — would otherwise get a bare "not found"
that reads like a typo in the path; it gets a 404 that says the provider is not enabled
and how to enable it instead: JSON for API clients, a small HTML page for a browser.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from quart import Response, current_app, jsonify, request

from conntrack import load_profile, providers

from .core import Core

#: The app setting that says how to serve a provider that is not (``create_app``'s
#: ``enable_hint``); ``{providers}`` is the list that would serve it too.
HINT_SETTING = "CONNTRACK_ENABLE_HINT"
SERVE_HINT = (
    "restart it with `conntrack serve --providers {providers}`, or without --providers "
    "to serve every provider"
)


def disabled_protocols(core: Core) -> set[str]:
    """The catalog's protocols ``core`` does not serve."""
    return {load_profile(name).protocol for name in providers()} - set(core.profiles)


def disabled_hosts(core: Core) -> dict[str, str]:
    """Each host (lower case) of a catalog provider ``core`` does not serve → that
    provider's protocol. Hosts a served provider also answers on are not in it."""
    served = {h.lower() for p in core.profiles.values() for h in p.hosts}
    out: dict[str, str] = {}
    for name in providers():
        profile = load_profile(name)
        if profile.protocol in core.profiles:
            continue
        for host in profile.hosts:
            if host.lower() not in served:
                out.setdefault(host.lower(), profile.protocol)
    return out


def not_enabled_answer(core: Core, hosts: Mapping[str, str], path: str) -> Response | None:
    """The 404 for a request on a host of a provider ``core`` does not serve, or None."""
    host = path.lstrip("/").split("/", 1)[0].lower()
    protocol = hosts.get(host)
    if protocol is None:
        return None
    enabled = sorted(core.profiles)
    wanted = ",".join([*enabled, protocol])
    hint = current_app.config.get(HINT_SETTING) or SERVE_HINT
    message = (
        f"provider {protocol!r} is not enabled on this server (enabled: "
        f"{', '.join(enabled) or 'none'}); " + hint.format(providers=wanted)
    )
    accept = request.accept_mimetypes
    if accept.best_match(["application/json", "text/html"]) == "text/html":
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Provider not enabled"
            f"</title></head><body><h1>{html.escape(protocol)} is not enabled</h1>"
            f"<p>{html.escape(message)}</p></body></html>"
        )
        return Response(page, status=404, content_type="text/html; charset=utf-8")
    response = jsonify(
        {"error": {"message": message, "field": None, "provider": protocol, "enabled": False}}
    )
    response.status_code = 404
    return response
