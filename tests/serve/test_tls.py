"""``conntrack serve --tls``: the server certificate names every host the fakes serve.

A client that keeps a provider's real URLs and resolves its host to the fakes checks the
certificate against that host (SNI); a host the routes serve but the certificate lacks
fails there with ``CERTIFICATE_VERIFY_FAILED`` (issue 13 found ``people.googleapis.com``
so). The hosts are read from the served app's routes, not from a list kept by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

import fake_providers
from conntrack._serve import prepare
from conntrack._serveconfig import parse_providers
from conntrack._tls import route_hosts

from .support import ManualClock

#: Hosts real clients call for the flows and reads the fakes answer (issue 13 §2).
CALLED_BY_CLIENTS = (
    "accounts.google.com", "oauth2.googleapis.com", "www.googleapis.com",
    "youtube.googleapis.com", "people.googleapis.com", "openidconnect.googleapis.com",
    "www.linkedin.com", "api.linkedin.com",
    "x.com", "twitter.com", "api.x.com", "api.twitter.com",
    "www.facebook.com", "graph.facebook.com",
    "www.instagram.com", "api.instagram.com", "graph.instagram.com",
    "www.tiktok.com", "open.tiktokapis.com",
)  # fmt: skip


def dns_names(certfile: Path) -> set[str]:
    """The DNS names of the first (server) certificate in ``certfile``."""
    cert = x509.load_pem_x509_certificates(certfile.read_bytes())[0]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {n.lower() for n in names.get_values_for_type(x509.DNSName)}


@pytest.mark.parametrize(
    "providers", [None, "instagram-facebook,tiktok-2026,twitter", "google", "linkedin"]
)
def test_the_certificate_names_every_host_the_routes_serve(
    tmp_path: Path, providers: str | None
) -> None:
    chosen = None if providers is None else parse_providers(providers)
    server = prepare(providers=chosen, tls=True, ca_file=tmp_path / "ca.pem")
    try:
        assert server.tls is not None
        named = dns_names(server.tls.certfile)
        served = set(route_hosts(fake_providers.create_app(server.core)))
        assert served, "no provider routes found"
        assert served - named == set()
        # Every host in the certificate is one the fakes answer for, too.
        profile_hosts = {h for p in server.core.profiles.values() for h in p.hosts}
        assert profile_hosts == served
    finally:
        server.close()


def test_every_host_real_clients_call_is_served_and_certified(tmp_path: Path) -> None:
    server = prepare(tls=True, ca_file=tmp_path / "ca.pem")
    try:
        assert server.tls is not None
        named = dns_names(server.tls.certfile)
        served = set(route_hosts(fake_providers.create_app(server.core)))
        for host in CALLED_BY_CLIENTS:
            assert host in served and host in named, host
    finally:
        server.close()


def test_route_hosts_reads_the_first_segment_only_for_host_names() -> None:
    app = fake_providers.create_app(fake_providers.Core(ManualClock()))
    hosts = route_hosts(app)
    assert "graph.facebook.com" in hosts
    assert not any(h.startswith("_") or "<" in h or "/" in h for h in hosts)
