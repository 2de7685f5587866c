"""What no interceptor takes never reaches a real provider, and httpx2 is taken too."""

from __future__ import annotations

import asyncio
import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
import requests

from conntrack.testing import Fakes, fakes

GRAPH_ME = "https://graph.facebook.com/v21.0/me"


def test_httpx2_is_answered_by_the_fakes(conntrack_fakes: Fakes) -> None:
    """authlib 1.9 uses httpx2 when it is installed: it must not slip past the fakes."""
    httpx2 = pytest.importorskip("httpx2")
    answer = httpx2.get(GRAPH_ME)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("An active access token must be used")
    with httpx2.Client() as client:
        assert client.get(GRAPH_ME).json()["error"]["code"] == answer.json()["error"]["code"]


async def test_async_httpx2_is_answered_by_the_fakes(conntrack_fakes: Fakes) -> None:
    httpx2 = pytest.importorskip("httpx2")
    async with httpx2.AsyncClient() as client:
        assert (await client.get(GRAPH_ME)).status_code == 400


def test_answers_carry_the_reason_phrase_a_real_server_sends(conntrack_fakes: Fakes) -> None:
    answer = requests.get(GRAPH_ME, timeout=5)
    assert (answer.status_code, answer.reason) == (400, "Bad Request")
    with pytest.raises(requests.HTTPError, match="400 Client Error: Bad Request for url"):
        answer.raise_for_status()


def test_urllib_and_http_client_cannot_reach_a_provider(conntrack_fakes: Fakes) -> None:
    with pytest.raises(urllib.error.URLError, match=r"stopped a connection to graph\.facebook"):
        urllib.request.urlopen(GRAPH_ME, timeout=5)
    connection = http.client.HTTPSConnection("api.linkedin.com", timeout=5)
    with pytest.raises(socket.gaierror, match="did not go through requests, urllib3, httpx"):
        connection.request("GET", "/v2/userinfo")
    connection.close()


def test_asyncio_cannot_reach_a_provider(
    conntrack_fakes: Fakes, asyncio_run: Callable[[Any], Any]
) -> None:
    async def connect() -> None:
        await asyncio.open_connection("API.X.COM.", 443)  # any spelling

    with pytest.raises(socket.gaierror, match=r"stopped a connection to API\.X\.COM\."):
        asyncio_run(connect())


def test_other_names_resolve_and_the_guard_leaves_with_the_last_world() -> None:
    original = socket.getaddrinfo
    with fakes():
        assert socket.getaddrinfo is not original
        assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo is original
