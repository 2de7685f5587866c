"""The last line: a provider host does not resolve for clients the interceptors miss.

The interceptors (``_intercept``) take requests, urllib3, httpx and httpx2. A request to
a provider host from any other client — aiohttp, ``http.client``, ``urllib.request``,
pycurl over the system resolver, a library that vendors its own HTTP stack — would go to
the real provider, with the authorization codes, client secrets and tokens of the test.
So while a world answers that host, ``socket.getaddrinfo`` (which ``socket.
create_connection``, asyncio's and trio's resolvers and aiohttp's default resolver all
call) refuses to resolve it, with a :class:`ProviderHostStopped` that says what happened
and what to do. Other hosts resolve as before; so do provider hosts with no world.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any


class ProviderHostStopped(socket.gaierror):
    """A request to a provider host came from a client the in-process fakes do not take."""


def _message(host: str) -> str:
    return (
        f"conntrack.testing stopped a connection to {host}: it is a provider host, and "
        "this request did not go through requests, urllib3, httpx or httpx2, which the "
        "in-process fakes answer; it was stopped so that no code, secret or token of the "
        "test reaches the real provider. Send it with one of those clients, or point this "
        "client at `conntrack serve` (README: Running conntrack serve)"
    )


def install_guard(
    remember: Callable[[Any, str], Any], router_for: Callable[[str | None], object | None]
) -> None:
    """Patch ``socket.getaddrinfo`` (``remember`` records the original to put back):
    a name ``router_for`` gives a world for does not resolve."""
    original = remember(socket, "getaddrinfo")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if isinstance(name, str) and router_for(name) is not None:
            raise ProviderHostStopped(socket.EAI_NONAME, _message(name))
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
