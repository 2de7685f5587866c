"""The timeouts a client sets are the ones the in-process fakes keep, however urllib3 is
given them: a number, a ``Timeout`` with a ``total``, or the pool's own timeout."""

from __future__ import annotations

import time

import pytest
import urllib3
from urllib3.exceptions import ReadTimeoutError

from conntrack.testing import Fakes

ME = "https://graph.facebook.com/v21.0/me"


@pytest.fixture
def slow(conntrack_fakes: Fakes) -> Fakes:
    """Facebook answers after 3 s."""
    conntrack_fakes.fault("facebook", "latency", delay_ms=3000, count=5)
    return conntrack_fakes


@pytest.mark.parametrize(
    "timeout",
    [0.3, urllib3.Timeout(read=0.3), urllib3.Timeout(total=0.3)],
    ids=["number", "read", "total"],
)
def test_a_request_timeout_ends_a_slow_answer(slow: Fakes, timeout: object) -> None:
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        urllib3.PoolManager().request("GET", ME, timeout=timeout, retries=False)
    assert time.monotonic() - started < 2


def test_the_pools_timeout_holds_when_the_request_gives_none(slow: Fakes) -> None:
    """``PoolManager(timeout=…)``: urllib3 waits that long for a request without its own."""
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        urllib3.PoolManager(timeout=0.3).request("GET", ME, retries=False)
    assert time.monotonic() - started < 2
