"""``conntrack serve --tls``: a local certificate authority and a server certificate.

Made with ``trustme``: a CA, and a server certificate it signs for ``localhost``,
``127.0.0.1``, ``::1``, the address the server binds, and every host of the providers
served (``graph.facebook.com``, ``api.linkedin.com``…: each profile's ``hosts``, the same
list the fakes route ``Host`` headers by; :func:`route_hosts` reads the hosts the
providers' routes serve, so a test can hold the two together), so a client that resolves a real
provider host to 127.0.0.1 (a hosts entry, a proxy) verifies the certificate by SNI and
is routed by its ``Host`` header. The CA certificate is written to a file that clients
trust (``httpx.Client(verify=path)``, ``requests`` ``verify=path``, ``SSL_CERT_FILE``);
only a client that trusts it completes a request.

With ``--state`` the CA (its certificate and private key) is kept in the state file, so a
restart signs with the same CA and the CA file clients trust stays valid; without it a
new CA is made on every start. The server's own certificate and key go to a private
temporary folder that is removed when the server stops.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import InputError
from ._statefile import StateFile

if TYPE_CHECKING:
    import trustme

DEFAULT_CA_FILE = "conntrack-ca.pem"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass
class TlsFiles:
    """The files hypercorn and the clients need; :meth:`close` removes the private ones."""

    ca_file: Path
    certfile: Path
    keyfile: Path
    identities: tuple[str, ...]
    #: Whether the CA came from the state file (an earlier start) rather than made now.
    kept: bool
    _folder: tempfile.TemporaryDirectory[str]

    def close(self) -> None:
        self._folder.cleanup()


def identities(hosts: Iterable[str], bind: str | None = None) -> tuple[str, ...]:
    """What the server certificate covers: loopback, the bound address (unless a
    wildcard one), and ``hosts``; each once, in that order."""
    out = list(_LOOPBACK)
    if bind and bind not in ("0.0.0.0", "::", ""):
        out.append(bind)
    out.extend(h.lower() for h in hosts)
    return tuple(dict.fromkeys(out))


def route_hosts(app: Any) -> tuple[str, ...]:
    """The provider hosts ``app``'s routes serve, sorted: the first segment of each URL
    rule that is a host name (``/graph.facebook.com/<path:rest>`` →
    ``graph.facebook.com``), not the control API's ``/_conntrack`` nor a variable.

    ``app`` is a Quart app (``fake_providers.create_app``); only its ``url_map`` is read.
    """
    hosts = set()
    for rule in app.url_map.iter_rules():
        first = str(rule.rule).lstrip("/").split("/", 1)[0]
        if "." in first and not first.startswith(("_", "<")):
            hosts.add(first.lower())
    return tuple(sorted(hosts))


def make_tls(
    hosts: Iterable[str], ca_file: str | Path, *, bind: str | None = None,
    state: StateFile | None = None,
) -> TlsFiles:  # fmt: skip
    """Make (or take from ``state``) the CA, write its certificate to ``ca_file``, and issue
    the server certificate. Raises :class:`InputError` if ``ca_file`` cannot be written."""
    ca, kept = _ca(state)
    names = identities(hosts, bind)
    for name in names:
        _check_identity(name)
    leaf = ca.issue_cert(*names, common_name="conntrack fake providers")
    target = Path(ca_file)
    try:
        # Written to a temporary file and renamed: a client never reads half a CA file.
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        part.write_bytes(ca.cert_pem.bytes())
        part.replace(target)
    except OSError as e:
        raise InputError(
            f"--ca-file {target}: cannot write the CA certificate: {e.strerror or e}"
        ) from None
    folder = tempfile.TemporaryDirectory(prefix="conntrack-tls-")
    certfile = Path(folder.name) / "server.pem"
    keyfile = Path(folder.name) / "server.key"
    leaf.private_key_pem.write_to_path(str(keyfile))
    os.chmod(keyfile, 0o600)
    with certfile.open("wb") as out:
        for blob in leaf.cert_chain_pems:
            out.write(blob.bytes())
    return TlsFiles(target.resolve(), certfile, keyfile, names, kept, folder)


def _ca(state: StateFile | None) -> tuple[trustme.CA, bool]:
    import trustme  # here: a start without --tls need not load `cryptography`

    if state is not None:
        cert, key = state.get_meta("ca_cert"), state.get_meta("ca_key")
        if cert and key:
            try:
                return trustme.CA.from_pem(cert.encode(), key.encode()), True
            except ValueError:
                pass  # unreadable: make a new one and keep that instead
    ca = trustme.CA(organization_name="conntrack", organization_unit_name="conntrack serve --tls")
    if state is not None:
        state.set_meta(
            {"ca_cert": ca.cert_pem.bytes().decode(), "ca_key": ca.private_key_pem.bytes().decode()}
        )
    return ca, False


def _check_identity(name: str) -> None:
    try:
        ipaddress.ip_address(name)
        return
    except ValueError:
        pass
    if not name or any(c in name for c in " /:@"):
        raise InputError(f"--tls: cannot make a certificate for the host {name!r}")
