"""Provider-wide faults over HTTP: the one check before every request, and the shared
503 page.

The core keeps the faults (:meth:`~fake_providers.core.Core.add_fault`); each provider
package registers a fault hook (``_registry``) that knows its hosts and gives its own
answer: its 5xx for an outage, its rate-limit error on its data/API endpoints. This
module finds the provider of the request's host, asks its hook for each active fault
(outages first) and, when the hook answers, counts the answer against the fault (a
``count`` fault runs down). The control API (``/_conntrack/``) is never faulted: it is
not a provider host.

Web pages (consent and login pages) answer an outage with :func:`outage_page`, a plain
503 HTML page: what a browser sees when a provider's front end is down. [U] the real
pages differ from provider to provider and are not parsed by clients.
"""

from __future__ import annotations

from collections.abc import Mapping

from quart import Response

from ._registry import Provider
from ._templates import render
from .core import Core


def hosts_by_protocol(core: Core) -> dict[str, str]:
    """Each provider host (lower case) → the protocol that serves it."""
    return {h.lower(): protocol for protocol, p in core.profiles.items() for h in p.hosts}


async def fault_answer(
    core: Core, providers: Mapping[str, Provider], hosts: Mapping[str, str], path: str
) -> Response | None:
    """The faulted answer for a request on ``path`` (``/{host}/…``), or None to serve it."""
    host = path.lstrip("/").split("/", 1)[0].lower()
    protocol = hosts.get(host)
    if protocol is None:
        return None
    faults = core.faults(protocol)
    if not faults:
        return None
    provider = providers.get(protocol)
    if provider is None or provider.fault is None:
        return None
    for fault in faults:
        answer = await provider.fault(path, fault)
        if answer is not None:
            core.fault_hit(fault)
            return answer
    return None


def outage_page(provider: str) -> Response:
    """A plain ``503 Service Unavailable`` HTML page naming ``provider`` (a display name)."""
    html = render("outage.html", provider=provider)
    return Response(html, status=503, content_type="text/html; charset=utf-8")


def under(path: str, host: str) -> bool:
    """Whether ``path`` (``/{host}/…``) is on ``host``."""
    return path == f"/{host}" or path.startswith(f"/{host}/")


def rest_of(path: str, host: str) -> list[str]:
    """The path segments after ``/{host}``."""
    return [p for p in path.removeprefix(f"/{host}").split("/") if p]
