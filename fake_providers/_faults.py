"""Faults over HTTP: the one check before every request, and the shared pages.

The core keeps the faults (:meth:`~fake_providers.core.Core.add_fault`); each provider
package registers a fault hook (``_registry``) that knows its hosts and gives its own
answer: its 5xx for an outage, its rate-limit error on its data/API endpoints, the
error a dead token gets for an ``error`` fault, its generic body for a ``status``
fault. This module finds the provider of the request's host, skips the faults whose
``endpoint`` does not match the path, sleeps for each ``latency`` fault
(``trio.sleep``: real time under ``conntrack serve``, virtual time in a simulation,
where a delay costs the simulated clock and nothing else), then asks the hook for each
other fault in order and, when the hook answers, counts the answer against the fault
(a ``count`` fault runs down; a latency fault counts each delayed request). The
control API (``/_conntrack/``) is never faulted: it is not a provider host.

Web pages (consent and login pages) answer an outage with :func:`outage_page`, a plain
503 HTML page: what a browser sees when a provider's front end is down, and a
``status`` fault with :func:`status_page`. [U] the real pages differ from provider to
provider and are not parsed by clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from http import HTTPStatus

import trio
from quart import Response

from ._registry import Provider
from ._templates import render
from .core import Core, Fault, FaultKind, Reason
from .core._faults import endpoint_matches


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
    own = core.fault_hosts(protocol)
    for fault in faults:
        if fault.endpoint is not None and not endpoint_matches(fault.endpoint, own, path):
            continue
        if fault.kind is FaultKind.LATENCY:
            assert fault.delay_ms is not None
            await trio.sleep(fault.delay_ms / 1000)
            core.fault_hit(fault)
            continue
        if not fault.active(core.now()):  # ended while a latency fault slept
            continue
        answer = await provider.fault(path, fault)
        if answer is not None:
            core.fault_hit(fault)
            return answer
    return None


def fault_reason(fault: Fault) -> Reason:
    """The token reason an ``error`` fault plays (its named error's)."""
    assert fault.error is not None
    return fault.error.reason


def phrase(status: int) -> str:
    """The reason phrase of an HTTP status (``503`` → ``Service Unavailable``)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def status_page(provider: str, status: int) -> Response:
    """A plain HTML error page with ``status`` naming ``provider``: what a web page
    answers during a ``status`` fault (503: :func:`outage_page`)."""
    if status == 503:
        return outage_page(provider)
    title = escape(f"{status} {phrase(status)}")
    who = escape(provider)
    html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
        f"  <title>{title}</title>\n</head>\n<body>\n<main>\n"
        f'  <p class="fake">conntrack fake provider — not {who}</p>\n'
        f"  <h1>{escape(phrase(status))}</h1>\n"
        f"  <p>{who} answered {title}.</p>\n</main>\n</body>\n</html>\n"
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8")


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
