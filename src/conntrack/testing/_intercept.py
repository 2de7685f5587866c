"""Where HTTP calls to provider hosts are taken away from the network.

Three places cover the HTTP clients a Python integration uses:

- ``httpx.HTTPTransport.handle_request`` and ``httpx.AsyncHTTPTransport.
  handle_async_request``: every ``httpx.Client`` / ``AsyncClient`` that talks to the
  network (proxies and retries included) goes through one of them; a transport of the
  caller's own (``MockTransport``, ``ASGITransport``) does not, and is left alone.
- ``urllib3.connectionpool.HTTPConnectionPool.urlopen`` (HTTPS pools inherit it):
  ``requests`` sends every request through it (``HTTPAdapter.send``), and so does
  ``urllib3.PoolManager`` / ``urllib3.request``.

A patched method asks the active :class:`Router` (the innermost world entered,
:func:`activate`) whether the request's host is a provider host; if not, the original
method runs unchanged, so other hosts still reach the network. Otherwise the request is
read whole and answered by the router, and the answer is returned in the library's own
response type, so the library's parsing, redirects, retries and errors run as they do
against the real provider. Nothing connects, so no port, certificate or environment
variable is needed, and real ``https://`` URLs work unchanged.

The patches are installed when the first world is entered and removed when the last
one leaves; they are process-wide (every thread), as the calls of the code under test
may come from any thread.
"""

from __future__ import annotations

import inspect
import io
import threading
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import urlsplit

from ._engine import Answer, AnswerTimeout, Call


class Router(Protocol):
    """What answers intercepted requests: the in-process world (``_fakes.Fakes``)."""

    def routes(self, host: str) -> bool:
        """Whether requests to ``host`` (lower case, no port) are the fakes'."""
        ...

    def answer(self, call: Call) -> Answer: ...

    async def aanswer(self, call: Call) -> Answer: ...


_lock = threading.Lock()
_stack: list[Router] = []
_undo: list[tuple[Any, str, Any]] = []


def activate(router: Router) -> None:
    """Make ``router`` answer provider hosts (innermost wins); patch on the first."""
    with _lock:
        if not _stack:
            _install()
        _stack.append(router)


def deactivate(router: Router) -> None:
    """Stop ``router`` answering; unpatch when no router is left."""
    with _lock:
        for i in range(len(_stack) - 1, -1, -1):
            if _stack[i] is router:
                del _stack[i]
                break
        if not _stack:
            _uninstall()


def active() -> Router | None:
    """The innermost active router, or None."""
    with _lock:
        return _stack[-1] if _stack else None


def _router_for(host: str | None) -> Router | None:
    if not host:
        return None
    router = active()
    if router is not None and router.routes(host.lower().rstrip(".")):
        return router
    return None


def _install() -> None:
    _install_httpx()
    _install_urllib3()


def _uninstall() -> None:
    while _undo:
        owner, name, original = _undo.pop()
        setattr(owner, name, original)


def _remember(owner: Any, name: str) -> Any:
    """``owner.name`` as it is now, to be put back by :func:`_uninstall`."""
    original = owner.__dict__[name]
    _undo.append((owner, name, original))
    return original


# -- httpx ---------------------------------------------------------------------------


def _install_httpx() -> None:
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency of conntrack
        return
    sync_original = _remember(httpx.HTTPTransport, "handle_request")
    async_original = _remember(httpx.AsyncHTTPTransport, "handle_async_request")

    def handle_request(self: Any, request: httpx.Request) -> httpx.Response:
        router = _router_for(request.url.host)
        if router is None:
            return sync_original(self, request)
        call = _httpx_call(request, request.read())
        try:
            answer = router.answer(call)
        except AnswerTimeout as e:
            raise httpx.ReadTimeout(str(e), request=request) from None
        return _httpx_response(answer)

    async def handle_async_request(self: Any, request: httpx.Request) -> httpx.Response:
        router = _router_for(request.url.host)
        if router is None:
            return await async_original(self, request)
        call = _httpx_call(request, await request.aread())
        try:
            answer = await router.aanswer(call)
        except AnswerTimeout as e:
            raise httpx.ReadTimeout(str(e), request=request) from None
        return _httpx_response(answer)

    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]


def _httpx_call(request: Any, body: bytes) -> Call:
    timeouts = request.extensions.get("timeout") or {}
    read = timeouts.get("read")
    return Call(
        request.method,
        str(request.url),
        list(request.headers.raw),
        body,
        float(read) if read is not None else None,
    )


def _httpx_response(answer: Answer) -> Any:
    import httpx

    return httpx.Response(
        answer.status,
        headers=answer.headers,
        content=answer.body,
        extensions={
            "http_version": b"HTTP/1.1",
            "reason_phrase": answer.reason.encode("latin-1", "replace"),
        },
    )


# -- urllib3 (and requests over it) -----------------------------------------------------


def _install_urllib3() -> None:
    try:
        from urllib3 import connectionpool
    except ImportError:  # requests/urllib3 are not installed: nothing to patch
        return
    pool = connectionpool.HTTPConnectionPool
    original = _remember(pool, "urlopen")
    signature = inspect.signature(original)

    def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        host = self.host
        if url.startswith(("http://", "https://")):  # through an HTTP proxy: absolute
            host = urlsplit(url).hostname or host
        router = _router_for(host)
        if router is None:
            return original(self, method, url, *args, **kwargs)
        bound = signature.bind(self, method, url, *args, **kwargs)
        bound.apply_defaults()
        return _urllib3_answer(self, router, bound.arguments)

    pool.urlopen = urlopen  # type: ignore[method-assign]


def _urllib3_answer(pool: Any, router: Router, a: dict[str, Any], hops: int = 0) -> Any:
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError
    from urllib3.response import HTTPResponse
    from urllib3.util.retry import Retry

    method, url = a["method"], a["url"]
    full = url if url.startswith(("http://", "https://")) else _pool_url(pool, url)
    headers: list[tuple[bytes, bytes]] = []
    merged = {**dict(pool.headers or {}), **dict(a.get("headers") or {})}
    for k, v in merged.items():
        headers.append((_bytes(k), _bytes(v)))
    body = a.get("body")
    if hasattr(body, "read") or (body is not None and not isinstance(body, bytes | str)):
        body = a["body"] = _body_bytes(body)  # read once: a retry sends it again
    call = Call(method, full, headers, _body_bytes(body), _urllib3_timeout(a))
    # Retries as urllib3 counts them: a pool's default, a number, a Retry, or False.
    retries = Retry.from_int(a.get("retries"), redirect=a.get("redirect"), default=pool.retries)
    try:
        answer = router.answer(call)
    except AnswerTimeout as e:
        error = ReadTimeoutError(pool, url, str(e))
        # Raises the error (retries=False, requests' read=False) or MaxRetryError once
        # the retries are spent, as a real read timeout would.
        retries = retries.increment(method, url, error=error, _pool=pool)
        retries.sleep()
        return _urllib3_answer(pool, router, {**a, "retries": retries}, hops)
    from urllib3._collections import HTTPHeaderDict

    response_headers = HTTPHeaderDict()
    for k, v in answer.headers:
        response_headers.add(k.decode("latin-1"), v.decode("latin-1"))
    kwargs: dict[str, Any] = {
        "body": io.BytesIO(answer.body),
        "headers": response_headers,
        "status": answer.status,
        "version": 11,
        "version_string": "HTTP/1.1",
        "reason": answer.reason or None,
        "preload_content": a.get("preload_content", True),
        "decode_content": a.get("decode_content", True),
        "pool": pool,
        "retries": retries,
        "request_method": method,
        "request_url": full,
    }
    accepted = inspect.signature(HTTPResponse.__init__).parameters
    response = HTTPResponse(**{k: v for k, v in kwargs.items() if k in accepted})
    # A status the Retry retries (status_forcelist, a 429/503 with Retry-After).
    if retries.is_retry(method, answer.status, bool(response.headers.get("Retry-After"))):
        try:
            retries = retries.increment(method, url, response=response, _pool=pool)
        except MaxRetryError:
            if retries.raise_on_status:
                raise
            return response
        retries.sleep(response)
        return _urllib3_answer(pool, router, {**a, "retries": retries}, hops)
    # A pool used directly follows redirects itself (PoolManager and requests ask it not
    # to, and follow them their own way).
    location = response.get_redirect_location() if a.get("redirect") else None
    if location:
        if hops >= 10:
            raise MaxRetryError(pool, url, None)
        target = urlsplit(location)
        if target.hostname and target.hostname.lower() != str(pool.host).lower():
            return response
        follow = {**a, "url": location}
        if answer.status == 303:
            follow.update(method="GET", body=None)
        return _urllib3_answer(pool, router, follow, hops + 1)
    return response


def _pool_url(pool: Any, path: str) -> str:
    scheme = getattr(pool, "scheme", "http") or "http"
    host = str(pool.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    port = f":{pool.port}" if pool.port and pool.port != default else ""
    return f"{scheme}://{host}{port}{path if path.startswith('/') else '/' + path}"


def _urllib3_timeout(a: dict[str, Any]) -> float | None:
    timeout = a.get("timeout")
    read = getattr(timeout, "read_timeout", timeout)
    return float(read) if isinstance(read, int | float) and not isinstance(read, bool) else None


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("latin-1", "replace")


def _body_bytes(body: Any) -> bytes:
    """A urllib3 request body as bytes: bytes, str, a file, or an iterable of chunks."""
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if isinstance(body, Iterable):
        return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)
    raise TypeError(f"cannot send a request body of type {type(body).__name__}")
