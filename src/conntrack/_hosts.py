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
import re
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})
"""Names that always mean this machine (``*.localhost`` too: RFC 6761)."""

#: A ``Host`` header as RFC 9110 §7.2 allows it: a DNS name or an IPv4 literal, or an
#: IPv6 literal in brackets, then an optional port.
_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?")


def split_host(value: str) -> tuple[str, int | None]:
    """``Host`` header → (lowercase name, port or None); IPv6 literals in brackets.

    A value that is no host (``127.0.0.1:80/x``, ``a b``, ``evil@127.0.0.1``, empty)
    answers the name ``""``, which no server answers for: a header that does not parse
    is never taken for the part of it that does."""
    value = value.strip().lower()
    match = _HOST.fullmatch(value)
    if match is None:
        try:  # a bare IPv6 address, as a server is bound to it (``--host ::1``)
            return str(ipaddress.IPv6Address(value)), None
        except ValueError:
            return "", None
    name = match["v6"] if match["v6"] is not None else match["name"]
    port = match["port"]
    return name.rstrip("."), int(port) if port is not None else None


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


def loopback(bind: str) -> bool:
    """Whether a server bound to ``bind`` (an address or a name, as ``--host`` takes
    it) is reachable from this machine only: a loopback address or ``localhost``."""
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return bind.lower().rstrip(".") == "localhost"


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
