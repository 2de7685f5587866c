"""The ``Host`` and ``Origin`` headers, as every conntrack server reads them.

``conntrack serve`` (the fakes) and ``conntrack reference-product`` both take every web
page in the developer's browser as hostile (DESIGN.md, "Security of the servers"): they
answer only for names a page cannot point at them (IP literals, ``localhost`` and
``*.localhost``, names they were told), and refuse a browser request from another
origin. The parsing is the same for both, so it is here, once; a malformed header is
an answer (``False``), never an exception.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})
"""Names that always mean this machine (``*.localhost`` too: RFC 6761)."""


def split_host(value: str) -> tuple[str, int | None]:
    """``Host`` header → (lowercase name, port or None); IPv6 literals in brackets."""
    value = value.strip().lower()
    port: str | None = None
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif value.count(":") == 1:
        name, port = value.split(":")
    else:
        name = value
    return name.rstrip("."), int(port) if port and port.isdigit() else None


def local_name(name: str) -> bool:
    """Whether ``name`` (from :func:`split_host`) cannot be a page's own: an IP literal
    (DNS rebinding needs a name the attacker controls), ``localhost`` or
    ``*.localhost``."""
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def same_origin(origin: str, host: str | None) -> bool:
    """Whether ``Origin`` names the server the request reached (its ``Host``); ``null``
    (sandboxed pages, ``file:``) and anything that does not parse never do."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:  # http://[broken, http://host:99999
        return False
    if not host or parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    default = 443 if parts.scheme == "https" else 80
    name, host_port = split_host(host)
    return (parts.hostname.rstrip("."), port or default) == (name, host_port or default)
