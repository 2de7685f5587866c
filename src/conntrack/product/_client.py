"""``HttpProduct``: the :class:`~._interface.Product` interface over the product test protocol.

A real product under test is reached only through a few test-only HTTP routes under its
``base`` URL (see ``openapi.json``)::

    POST   {base}/clock                    {"now": ISO}        -> {"now", "next"?} | 204
    PUT    {base}/company                  {"timezone", "users"} -> 200 | 204
    POST   {base}/connections/{name}/login {"provider", "kind", "user", "action"}
                                                               -> {"authorize_url"}
    DELETE {base}/connections/{name}       {"user"}            -> 200 | 204
    GET    {base}/connections                                  -> [{"name", "state", ...}]

plus its own OAuth callback (the app's redirect URI, not a protocol route), which the
world's browser reaches with ``code`` and ``state``.

Every call is bounded: the product file's ``timeouts.request`` (``timeouts.clock`` for
``POST /clock``, which may do a lot of work). Anything that breaks the protocol — a
missing route (404/405), a server error (5xx), any other refusal, an answer that is not
JSON or not of the right shape, no answer in time, no connection at all — raises
:class:`~._interface.ProductError` naming the request (method, URL, body) and the answer
(status, the first ~500 characters), so the scenario ends as an *error* that says what
to fix. The product's words (states, reasons, banners) are mapped to conntrack's by the
product file (:meth:`~._file.ProductFile.views`).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import trio

from .._durations import DurationError, format_duration, format_instant, parse_instant
from ..clients._browser import _visible_text
from ._file import ProductFile
from ._interface import Company, ConnectionView, LoginOutcome, ProductError

#: How much of an answer's body a ProductError shows.
ANSWER_CHARS = 500
#: The largest answer read from a product (decoded): past it, a ProductError.
MAX_ANSWER_BYTES = 16 * 2**20


def _shorten(text: str, limit: int = ANSWER_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_request(method: str, url: str, body: Any = None) -> str:
    """``POST http://…/clock {"now": "…"}``: what a ProductError shows as the request."""
    text = f"{method} {url}"
    if body is not None:
        text += " " + _shorten(json.dumps(body, ensure_ascii=False))
    return text


def describe_answer(response: httpx.Response) -> str:
    """``HTTP 404 (text/html): <first ~500 characters>``: what a ProductError shows."""
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    head = f"HTTP {response.status_code}" + (f" ({kind})" if kind else "")
    body = _shorten(response.text)
    return f"{head}: {body}" if body else f"{head}, empty body"


class HttpProduct:
    """A product reached over HTTP through the product test protocol.

    ``file`` maps the product's words to conntrack's and gives the timeouts; ``base`` is
    the protocol's base URL (the file's ``base`` with its port filled in); ``http`` a
    client the caller owns (and closes)."""

    def __init__(self, file: ProductFile, base: str, http: httpx.AsyncClient) -> None:
        self.file = file
        self.base = base.rstrip("/")
        self.http = http
        self.request_timeout = file.request_timeout
        self.clock_timeout = file.clock_timeout

    # -- the protocol ------------------------------------------------------------------

    async def advance(self, now: datetime) -> datetime | None:
        body = {"now": format_instant(now)}
        r, request = await self._call("POST", "/clock", body, timeout=self.clock_timeout)
        self._expect(r, request, "POST /clock", ok=(200, 204))
        if r.status_code == 204 or not r.content.strip():
            return None
        answer = self._json(r, request, "POST /clock")
        if not isinstance(answer, dict):
            raise self._broken("POST /clock must answer a JSON object", request, r)
        nxt = answer.get("next")
        if nxt is None or nxt == "":
            return None
        if not isinstance(nxt, str):
            raise self._broken(
                "POST /clock: 'next' must be an ISO 8601 instant or null", request, r
            )
        try:
            return parse_instant(nxt)
        except DurationError as e:
            raise self._broken(f"POST /clock: 'next': {e}", request, r) from None

    async def set_company(self, company: Company) -> None:
        body = company.json()
        r, request = await self._call("PUT", "/company", body)
        self._expect(r, request, "PUT /company", ok=(200, 201, 204))

    async def login(self, name: str, *, provider: str, kind: str, user: str, action: str) -> str:
        path = f"/connections/{quote(name, safe='')}/login"
        body = {"provider": provider, "kind": kind, "user": user, "action": action}
        r, request = await self._call("POST", path, body)
        self._expect(r, request, "POST /connections/{name}/login", ok=(200, 201))
        answer = self._json(r, request, "POST /connections/{name}/login")
        url = answer.get("authorize_url") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise self._broken(
                'POST /connections/{name}/login must answer {"authorize_url": "http(s)://…"}',
                request,
                r,
            )
        return url

    async def callback(self, url: str) -> LoginOutcome:
        """GET the product's redirect URI as the browser does; no further redirect is
        followed (where the product sends the person next is its business). Below 400
        the product took the login; else ``detail`` is its JSON ``error`` or
        ``message``, or its text."""
        request = describe_request("GET", url)
        r = await self._send("GET", url, None, request, self.request_timeout)
        if r.status_code < 400:
            return LoginOutcome(True, "", r.status_code)
        if r.status_code >= 500:
            raise ProductError(
                "the product's OAuth callback failed with a server error",
                request=request,
                answer=describe_answer(r),
            )
        detail = _detail(r)
        if r.status_code in (404, 405):
            # Most often the product file's redirect_uri is not the product's route: say
            # so where the failed login shows, not only "Not Found".
            path = urlsplit(url).path
            detail = (
                f"{detail} (HTTP {r.status_code} at {path}: is the product file's "
                "redirect_uri the product's OAuth callback route?)"
            )
        return LoginOutcome(False, detail, r.status_code)

    async def disconnect(self, name: str, *, user: str) -> None:
        path = f"/connections/{quote(name, safe='')}"
        r, request = await self._call("DELETE", path, {"user": user})
        self._expect(r, request, "DELETE /connections/{name}", ok=(200, 202, 204))

    async def connections(self) -> list[ConnectionView]:
        r, request = await self._call("GET", "/connections", None)
        self._expect(r, request, "GET /connections", ok=(200,))
        answer = self._json(r, request, "GET /connections")
        try:
            return self.file.views(answer)
        except ProductError as e:
            # The file names what is wrong with the answer; add what was asked.
            raise ProductError(str(e).split("\n")[0], request=request, answer=e.answer) from None

    # -- plumbing ----------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, body: Any, *, timeout: timedelta | None = None
    ) -> tuple[httpx.Response, str]:
        url = self.base + path
        request = describe_request(method, url, body)
        r = await self._send(method, url, body, request, timeout or self.request_timeout)
        return r, request

    async def _send(
        self, method: str, url: str, body: Any, request: str, timeout: timedelta
    ) -> httpx.Response:
        seconds = timeout.total_seconds()
        what = f"no answer within {format_duration(timeout)}"
        try:
            # trio bounds the whole exchange; httpx's own timeout (per read, per
            # connect) a little later, so the message is the same either way.
            with trio.fail_after(seconds):
                async with self.http.stream(
                    method,
                    url,
                    json=body,
                    timeout=httpx.Timeout(seconds + 1 if math.isfinite(seconds) else None),
                    follow_redirects=False,
                ) as r:
                    return await _read_bounded(r, request)
        except trio.TooSlowError:
            raise ProductError(f"{what} (timeouts: in the product file)", request=request) from None
        except httpx.TimeoutException:
            raise ProductError(f"{what} (timeouts: in the product file)", request=request) from None
        except httpx.HTTPError as e:
            raise ProductError(
                f"could not reach the product: {type(e).__name__}: {e or 'no detail'}",
                request=request,
            ) from None

    @staticmethod
    def _expect(r: httpx.Response, request: str, route: str, *, ok: tuple[int, ...]) -> None:
        status = r.status_code
        if status in ok:
            return
        if status in (404, 405):
            why = f"{route}: the route is missing (HTTP {status}); the product must serve it"
        elif status >= 500:
            why = f"{route}: the product failed (HTTP {status})"
        elif status == 409 and route == "POST /clock":
            why = f"{route}: the product refused the instant (HTTP 409: time only moves forward)"
        else:
            want = " or ".join(str(s) for s in ok)
            why = f"{route}: answered HTTP {status}, the protocol says {want}"
        raise ProductError(why, request=request, answer=describe_answer(r))

    @staticmethod
    def _json(r: httpx.Response, request: str, route: str) -> Any:
        try:
            return r.json()
        except ValueError:
            raise ProductError(
                f"{route}: the answer is not JSON", request=request, answer=describe_answer(r)
            ) from None
        except RecursionError:  # json's parser is recursive: [[[[...]]]] a page long
            raise ProductError(
                f"{route}: the answer is JSON nested too deep to read",
                request=request,
                answer=describe_answer(r),
            ) from None

    @staticmethod
    def _broken(why: str, request: str, r: httpx.Response) -> ProductError:
        return ProductError(why, request=request, answer=describe_answer(r))


async def _read_bounded(r: httpx.Response, request: str) -> httpx.Response:
    """``r`` read whole, unless its (decoded) body passes :data:`MAX_ANSWER_BYTES`: then
    a :class:`ProductError` rather than a product's endless answer in memory. A body
    announced that large is not read at all; one without a length is read to its end
    (the request's timeout bounds it) but not kept: breaking off would leave httpcore's
    generators to the garbage collector, which warns."""
    chunks: list[bytes] = []
    size = 0
    announced = r.headers.get("content-length", "")
    if not (announced.isdigit() and int(announced) > MAX_ANSWER_BYTES):
        async for chunk in r.aiter_bytes():
            size += len(chunk)
            if size <= MAX_ANSWER_BYTES:
                chunks.append(chunk)
    else:
        size = int(announced)
    if size > MAX_ANSWER_BYTES:
        kind = r.headers.get("content-type", "").split(";")[0].strip() or "no type"
        head = b"".join(chunks)[:ANSWER_CHARS].decode("utf-8", "replace")
        raise ProductError(
            f"the answer passes {MAX_ANSWER_BYTES // 2**20} MB ({size} bytes); the "
            "protocol's answers are a few kilobytes",
            request=request,
            answer=f"HTTP {r.status_code} ({kind})" + (f": {_shorten(head)}" if head else ""),
        )
    # Decoded already: the copy keeps no Content-Encoding (nor a length that was the
    # encoded one), so that httpx does not decode it again.
    headers = [
        (k, v)
        for k, v in r.headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        r.status_code, headers=headers, content=b"".join(chunks), request=r.request
    )


def _detail(r: httpx.Response) -> str:
    """Why the product refused a login: its JSON ``error``/``message``, else its text."""
    try:
        answer = r.json()
    except (ValueError, RecursionError):
        answer = None
    if isinstance(answer, dict):
        for key in ("error", "message", "detail"):
            value = answer.get(key)
            if isinstance(value, str) and value.strip():
                return _shorten(value, 300)
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return _shorten(value["message"], 300)
    text = _visible_text(r.text) if "<" in r.text else _shorten(r.text, 300)
    return text or f"HTTP {r.status_code}"
