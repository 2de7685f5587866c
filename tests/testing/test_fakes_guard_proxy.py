"""Through a proxy, ``urllib.request`` and ``http.client`` never resolve the provider host
(the proxy does), so the resolver's guard cannot stop them: the tunnel (``CONNECT``) and
the absolute URL to a provider host are refused before the proxy hears of them."""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from conntrack.testing import Fakes, fakes


class Proxy:
    """A listening socket on a free port that records what each connection sends."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.settimeout(0.05)
        self.heard: list[bytes] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.heard.append(conn.recv(4096))
                except OSError:
                    self.heard.append(b"")


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy()
    try:
        yield p
    finally:
        p.stopped.set()
        p.thread.join(timeout=5)
        p.sock.close()


def _open(proxy: Proxy, url: str) -> urllib.error.URLError:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": proxy.url, "http": proxy.url})
    )
    with pytest.raises(urllib.error.URLError) as caught:
        opener.open(url, timeout=3)
    return caught.value


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_provider_host_through_a_proxy_never_reaches_the_proxy(
    conntrack_fakes: Fakes, proxy: Proxy, scheme: str
) -> None:
    error = _open(proxy, f"{scheme}://graph.facebook.com/v21.0/me?access_token=SECRET")
    assert "conntrack.testing stopped a connection to graph.facebook.com" in str(error.reason)
    assert not any(proxy.heard)  # not a byte: no CONNECT, no request line, no token


def test_another_host_still_goes_through_the_proxy(conntrack_fakes: Fakes, proxy: Proxy) -> None:
    _open(proxy, "https://example.com/")  # the stub proxy hangs up
    assert proxy.heard == [b"CONNECT example.com:443 HTTP/1.0\r\n\r\n"]


def test_http_client_is_put_back_when_the_last_world_ends() -> None:
    originals = (http.client.HTTPConnection._tunnel, http.client.HTTPConnection.putrequest)  # type: ignore[attr-defined]
    with fakes():
        assert http.client.HTTPConnection.putrequest is not originals[1]
    assert (
        http.client.HTTPConnection._tunnel,  # type: ignore[attr-defined]
        http.client.HTTPConnection.putrequest,
    ) == originals
