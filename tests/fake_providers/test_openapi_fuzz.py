"""A property-based fuzz of the control API, driven by its own OpenAPI document
(``/_conntrack/openapi.json``) with schemathesis (issue 11 item 6).

For every operation of the document, schemathesis generates requests that fit the
document (positive) and requests that break it (negative), sends them to a real
``conntrack serve`` app (hypercorn's trio worker on 127.0.0.1, in a thread of this
process: schemathesis's in-process ASGI client runs on asyncio, and the fakes are a
QuartTrio app), and checks each answer:

- ``not_a_server_error``: never a 5xx;
- ``status_code_conformance``: a status the document lists for that operation;
- ``content_type_conformance``: the media type the document gives for that status;
- ``response_schema_conformance``: a body that validates against the document;
- ``response_headers_conformance``: the headers the document gives for that status;
- ``unsupported_method`` and ``allow_header_conformance``: a method the route does not
  take answers 405 with an ``Allow`` that names what it does take;
- ``negative_data_rejection``: a request that breaks the document is refused (4xx);
- ``missing_required_header``: a request without a header it needs is refused.

Nothing is left out: a failure is a bug of the API or of the document, and either is
fixed there. Bounded for ``make test``: ``EXAMPLES`` (40) cases per operation, 21
operations, derandomized — about 900 requests, 30 to 45 s on two cores shared with other
work, under a minute. ``CONNTRACK_FUZZ_EXAMPLES=2000`` runs a longer, random one; the
schemathesis CLI runs longer still, with its stateful phase and
``positive_data_acceptance`` (a request the document allows is not refused as malformed)::

    conntrack serve --port 8400 &
    schemathesis run http://127.0.0.1:8400/_conntrack/openapi.json \
        --url http://127.0.0.1:8400 -c all -n 500 --workers 1

What that last check can still find is what no JSON Schema says, 400s by design: a
duration of zero or past 100 years, a fault ``until`` already past, a page linked to
another account, an id a provider refuses (X ids are numbers), ``linked_instagram`` on a
server without Instagram.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

import trio  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from conntrack import TravelClock  # noqa: E402
from conntrack._serve import serve  # noqa: E402
from fake_providers import Core  # noqa: E402
from fake_providers._control import served_document  # noqa: E402

#: Generated cases per operation (positive and negative together).
LONG = os.environ.get("CONNTRACK_FUZZ_EXAMPLES")
EXAMPLES = int(LONG) if LONG else 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    unsupported_method,
    allow_header_conformance,
    negative_data_rejection,
    missing_required_header,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """`conntrack serve`'s app on 127.0.0.1 (a port the OS chose), in a thread."""
    bound: queue.Queue[str | BaseException] = queue.Queue()
    stop = threading.Event()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serve, "127.0.0.1", 0)
            bound.put(binds[0])
            while not stop.is_set():
                await trio.sleep(0.02)
            nursery.cancel_scope.cancel()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as err:  # said by the fixture, not lost in the thread
            bound.put(err)

    thread = threading.Thread(target=run, name="conntrack-serve", daemon=True)
    thread.start()
    first = bound.get(timeout=30)
    if isinstance(first, BaseException):
        raise first
    try:
        yield first
    finally:
        stop.set()
        thread.join(timeout=30)


# The document the server serves (every provider: the packaged one). Loaded here, not
# from the server: schemathesis's lazy fixture loader does not work with pytest 9.
schema = schemathesis.openapi.from_dict(served_document(Core(TravelClock())))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=LONG is None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_control_api_answers_as_its_document_says(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=10)
