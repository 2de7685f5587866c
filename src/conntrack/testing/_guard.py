"""The last line: a provider host is not reached by clients the interceptors miss.

The interceptors (``_intercept``) take requests, urllib3, httpx and httpx2. A request to
a provider host from any other client — aiohttp, ``http.client``, ``urllib.request``,
pycurl over the system resolver, a library that vendors its own HTTP stack — would go to
the real provider, with the authorization codes, client secrets and tokens of the test.
So while a world answers that host:

- ``socket.getaddrinfo`` (which ``socket.create_connection``, asyncio's and trio's
  resolvers and aiohttp's default resolver all call) refuses to resolve it;
- ``http.client`` through a proxy (``urllib.request`` with ``HTTPS_PROXY`` or
  ``HTTP_PROXY``), which resolves the proxy and never the provider host, refuses the
  tunnel to it (``CONNECT``) and an absolute URL on it, before anything reaches the
  proxy.

Each refusal is a :class:`ProviderHostStopped` that says what happened and what to do.
Other hosts resolve and connect as before; so do provider hosts with no world. Not
covered: a client that resolves names its own way (aiohttp with aiodns, pycurl's c-ares)
or talks to a proxy itself (aiohttp's ``proxy=``, pycurl's ``PROXY``).
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


class ProviderHostStopped(socket.gaierror):
    """A request to a provider host came from a client the in-process fakes do not take."""


def _message(host: str) -> str:
    return (
        f"conntrack.testing stopped a connection to {host}: it is a provider host, and "
        "this request did not go through requests, urllib3, httpx or httpx2, which the "
        "in-process fakes answer; it was stopped so that no code, secret or token of the "
        "test reaches the real provider. Send it with one of those clients, or point this "
        "client at `conntrack serve` (docs/integration/serve.md)"
    )


def install_guard(
    remember: Callable[[Any, str], Any], router_for: Callable[[str | None], object | None]
) -> None:
    """Patch ``socket.getaddrinfo`` and ``http.client``'s proxy steps (``remember``
    records each original to put back): a name ``router_for`` gives a world for is not
    reached."""
    original = remember(socket, "getaddrinfo")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if isinstance(name, str) and router_for(name) is not None:
            raise ProviderHostStopped(socket.EAI_NONAME, _message(name))
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    _guard_proxies(remember, router_for)


def _guard_proxies(
    remember: Callable[[Any, str], Any], router_for: Callable[[str | None], object | None]
) -> None:
    connection = http.client.HTTPConnection
    tunnel = remember(connection, "_tunnel")
    putrequest = remember(connection, "putrequest")

    def guarded_tunnel(self: Any) -> Any:
        # Connected to the proxy, the CONNECT not sent yet.
        host = self._tunnel_host
        if isinstance(host, str) and router_for(host) is not None:
            raise ProviderHostStopped(socket.EAI_NONAME, _message(host))
        return tunnel(self)

    def guarded_putrequest(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        # An absolute URL is a request for a proxy to pass on: plain HTTP through it.
        host = urlsplit(url).hostname if isinstance(url, str) and "://" in url else None
        if host is not None and router_for(host) is not None:
            raise ProviderHostStopped(socket.EAI_NONAME, _message(host))
        return putrequest(self, method, url, *args, **kwargs)

    connection._tunnel = guarded_tunnel  # type: ignore[attr-defined]
    connection.putrequest = guarded_putrequest  # type: ignore[method-assign]
