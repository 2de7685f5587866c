"""The whole request body before the app answers, so keep-alive connections survive.

Every conntrack server wraps its ASGI app in :func:`whole_body`: ``conntrack serve``'s
fakes (``fake_providers``) and ``conntrack reference-product`` (``conntrack.product``).

hypercorn (0.18, ``protocol/h11.py``) reuses an HTTP/1.1 connection for the next request
only if the request body had been read to its end when the response ended. When an app
answers first — a 404, a 405, a 415, a token endpoint that rejects a JSON body without
reading it — while the body is still on its way (httpx and requests write the headers
and the body separately), hypercorn must close the connection instead. It does so from
inside the app's last ``send``: it first tells the app ``http.disconnect``, then shuts
the socket. quart-trio cancels the app's tasks on that ``http.disconnect``, the
cancellation lands on the socket shutdown, and the close is dropped half-way: the socket
stays open and the connection's reader waits forever for a go-ahead that never comes
(h11 reports ``PAUSED``). The client's next request on it is never answered. The same
dropped close leaves every connection open that the server meant to close
(``Connection: close``, HTTP/1.0).

:func:`whole_body` wraps the ASGI app against both:

- it reads the whole body before the app sees the request, and hands it to the app in
  one message; every answer then comes after the body, and the connection is reused;
- it shields the response's last ``send``, so a close that hypercorn starts finishes.

A body must stay within ``MAX_CONTENT_LENGTH`` bytes (else 413) and arrive within
``BODY_TIMEOUT`` seconds (else 408), Quart's own settings, read from the app's config for
every request. Both refusals close the connection: the rest of the body is not read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio

ASGIApp = Callable[..., Awaitable[None]]
Message = dict[str, Any]

REFUSALS = {
    408: "the request body did not arrive within {timeout} s",
    413: "the request body is larger than {limit} bytes",
}


def _content_length(scope: Mapping[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # hypercorn (h11) refuses such a request before the app
    return None


async def _read(receive: Callable[[], Awaitable[Message]], limit: float) -> bytes | int | None:
    """The whole body; 413 once it passes ``limit``; ``None`` if the client went away."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # http.disconnect: nobody left to answer
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return 413
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _refuse(
    send: Callable[[Message], Awaitable[None]], status: int, document: object
) -> None:
    """A JSON error that closes the connection."""
    body = json.dumps(document).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    with trio.CancelScope(shield=True):
        await send({"type": "http.response.body", "body": body, "more_body": False})


def whole_body(
    asgi_app: ASGIApp,
    settings: Mapping[str, Any],
    error: Callable[[str], object] = lambda text: {"error": text},
) -> ASGIApp:
    """Wrap ``asgi_app`` so it sees a request only with its whole body, and so the
    response's last ``send`` is not cancelled half-way (see the module docstring).

    ``settings`` is the app's config: ``MAX_CONTENT_LENGTH`` and ``BODY_TIMEOUT``
    (``None``: no limit); ``error`` makes the JSON body of a 408 or 413 from what went
    wrong, in the server's own error shape. Keep this the outermost wrapper, so an
    answer given by any other (a refused ``Host``, …) also comes after the body."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await asgi_app(scope, receive, send)
            return
        limit = settings.get("MAX_CONTENT_LENGTH")
        limit = math.inf if limit is None else limit
        timeout = settings.get("BODY_TIMEOUT")
        declared = _content_length(scope)
        body: bytes | int | None = 413
        if declared is None or declared <= limit:
            body = 408
            with trio.move_on_after(math.inf if timeout is None else timeout):
                body = await _read(receive, limit)
        if body is None:
            return
        if isinstance(body, int):
            text = REFUSALS[body].format(timeout=timeout, limit=limit)
            await _refuse(send, body, error(text))
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # http.disconnect, once the exchange is over
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def finishing_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                with trio.CancelScope(shield=True):
                    await send(message)
            else:
                await send(message)

        await asgi_app(scope, replay, finishing_send)

    return app
