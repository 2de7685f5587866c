"""Where HTTP calls to provider hosts are taken away from the network.

Three places cover the HTTP clients a Python integration uses:

- ``httpx.HTTPTransport.handle_request`` and ``httpx.AsyncHTTPTransport.
  handle_async_request`` (and the same in ``httpx2``, when installed): every
  ``httpx.Client`` / ``AsyncClient`` that talks to the network (proxies and retries
  included) goes through one of them; a transport of the caller's own
  (``MockTransport``, ``ASGITransport``) does not, and is left alone.
- ``urllib3.connectionpool.HTTPConnectionPool.urlopen`` (HTTPS pools inherit it):
  ``requests`` sends every request through it (``HTTPAdapter.send``), and so does
  ``urllib3.PoolManager`` / ``urllib3.request`` / a pool used directly.

A patched method asks which world answers the request's host (:func:`active`); if the
host is no provider host, the original method runs unchanged, so other hosts still reach
the network (through a proxy from ``HTTPS_PROXY`` too). Otherwise the request is read
whole and answered by the world, and the answer is returned in the library's own
response type, still unread, so the library's parsing, streaming, cookies, redirects,
retries and errors run as they do against the real provider: for urllib3 the steps of
its own ``urlopen`` (Retry counting, ``Retry-After`` and backoff sleeps as urllib3
sleeps them, redirects of a pool used directly, ``HostChangedError``) are played here in
its order. Nothing connects, so no port, certificate or environment variable is needed,
and real ``https://`` URLs work unchanged.

A client none of these take (aiohttp, ``http.client``, ``urllib.request``, pycurl) would
reach the real provider with the test's codes and secrets: while a world is active, the
name of a provider host does not resolve for it (``_guard``), and the error says why.

A provider host is matched however it is spelled: any case, a trailing dot, an explicit
default port; the fakes see it in its plain form. The real hosts listen on 443 and 80
only, so a provider host on any other port is the library's own connection error
(``httpx.ConnectError``, urllib3's ``NewConnectionError``) and never reaches the network.

**Worlds across threads and tasks.** The patches are process-wide (installed when the
first world is entered, removed when the last one leaves), as the calls of the code under
test may come from any thread. Which world answers a request:

1. the innermost world entered in the caller's own context: its thread, or its asyncio
   task / trio task (``contextvars``), and whatever inherits that context
   (``asyncio.to_thread``, ``trio.to_thread.run_sync``, ``contextvars.copy_context()``);
   so two threads (or tasks) that each enter a world each talk to their own, and nested
   ``with`` blocks in one thread mean the inner one;
2. else the world entered last, by any thread, that is still active: a worker thread the
   code under test starts (``threading.Thread``, a ``ThreadPoolExecutor``) has no
   context of its own and is answered by the test's world when one test runs at a time.

A request under way when its world ends is answered by that world; one that reaches it
after it ended goes to the world now answering (rule 2), or, with none left, to the
network as without fakes.
"""

from __future__ import annotations

import contextvars
import http.client
import importlib
import importlib.util
import inspect
import io
import re
import threading
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from ._engine import Answer, AnswerTimeout, Call, EngineStopped
from ._guard import install_guard


class Router(Protocol):
    """What answers intercepted requests: the in-process world (``_fakes.Fakes``)."""

    def routes(self, host: str) -> bool:
        """Whether requests to ``host`` (lower case, no port) are the fakes'."""
        ...

    def answer(self, call: Call) -> Answer: ...

    async def aanswer(self, call: Call) -> Answer: ...


_lock = threading.Lock()
#: Every active world, in the order entered (by any thread).
_stack: list[Router] = []
#: The worlds entered in this context (thread, task), innermost last.
_mine: contextvars.ContextVar[tuple[Router, ...]] = contextvars.ContextVar(
    "conntrack_fakes_worlds", default=()
)
_undo: list[tuple[Any, str, Any]] = []

#: The ports a provider host answers on (the real hosts listen on HTTPS and HTTP).
PORTS = (443, 80)


def activate(router: Router) -> None:
    """Make ``router`` answer provider hosts (innermost wins); patch on the first."""
    with _lock:
        if not _stack:
            try:
                _install()
            except BaseException:  # none of it half in place, with no world to answer
                _uninstall()
                raise
        _stack.append(router)
    _mine.set((*_mine.get(), router))


def deactivate(router: Router) -> None:
    """Stop ``router`` answering; unpatch when no router is left."""
    with _lock:
        for i in range(len(_stack) - 1, -1, -1):
            if _stack[i] is router:
                del _stack[i]
                break
        if not _stack:
            _uninstall()
    _mine.set(tuple(r for r in _mine.get() if r is not router))


def active() -> Router | None:
    """The world answering this context: the innermost it entered itself that is still
    active, else the one entered last by anyone, else None (module docstring)."""
    with _lock:
        for router in reversed(_mine.get()):
            if _is_active(router):
                return router
        return _stack[-1] if _stack else None


def any_active() -> bool:
    """Whether any world is active in this process (in any thread)."""
    with _lock:
        return bool(_stack)


def _is_active(router: Router) -> bool:
    return any(r is router for r in _stack)


def _router_for(host: str | None) -> Router | None:
    if not host:
        return None
    router = active()
    if router is not None and router.routes(_plain_host(host)):
        return router
    return None


def _plain_host(host: str) -> str:
    """``GRAPH.Facebook.com.`` → ``graph.facebook.com``; ``[::1]`` → ``::1``."""
    return host.strip("[]").lower().rstrip(".")


def _answered(host: str, call: Call, router: Router) -> Answer:
    """``router.answer(call)``; if ``router``'s world ended meanwhile (another thread left
    it), ask the world answering now. :class:`_Gone` when no world is left."""
    try:
        return router.answer(call)
    except Exception:
        if _is_active(router):
            raise
    after = _router_for(host)
    if after is None:
        raise _Gone from None
    return after.answer(call)


async def _aanswered(host: str, call: Call, router: Router) -> Answer:
    try:
        return await router.aanswer(call)
    except Exception:
        if _is_active(router):
            raise
    after = _router_for(host)
    if after is None:
        raise _Gone from None
    return await after.aanswer(call)


class _Gone(Exception):
    """Every world ended while the request was on its way: send it as without fakes."""


def _install() -> None:
    for name in HTTPX_MODULES:
        _install_httpx(name)
    _install_urllib3()
    install_guard(_remember, _router_for)


def _uninstall() -> None:
    while _undo:
        owner, name, original = _undo.pop()
        setattr(owner, name, original)


def _remember(owner: Any, name: str) -> Any:
    """``owner.name`` as it is now, to be put back by :func:`_uninstall`."""
    original = owner.__dict__[name]
    _undo.append((owner, name, original))
    return original


def _normal(call: Call) -> Call:
    """``call`` with its host as the fakes know it: lower case, no trailing dot, no
    default port, in the URL and in the ``Host`` header."""
    parts = urlsplit(call.url)
    host = _plain_host(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    netloc = host if parts.port in (None, default) else f"{host}:{parts.port}"
    url = urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))
    headers = [(k, netloc.encode()) if k.lower() == b"host" else (k, v) for k, v in call.headers]
    return Call(call.method, url, headers, call.body, call.timeout)


def _refused_port(scheme: str, port: int | None) -> str | None:
    """Why a provider host on ``port`` cannot be reached (None: it can)."""
    if port is None or port in PORTS:
        return None
    return (
        f"the provider does not listen on port {port}: the in-process fakes answer provider "
        f"hosts on ports 443 and 80, as the real hosts do (drop the port from the {scheme} URL)"
    )


def _bad_header(headers: Iterable[tuple[bytes, bytes]], *, h11: bool = False) -> str | None:
    """What ``http.client`` (urllib3) refuses to send: a header that would split the
    request, as a real connection refuses it before anything is sent; ``h11`` (httpx)
    refuses a NUL, a vertical tab and a form feed too."""
    illegal = _ILLEGAL_FOR_H11 if h11 else _ILLEGAL_VALUE
    for name, value in headers:
        if not _LEGAL_NAME(name):
            return f"Invalid header name {name!r}"
        if illegal(value):
            return f"Invalid header value {value!r}"
    return None


# http.client's own checks (_is_legal_header_name, _is_illegal_header_value).
_LEGAL_NAME = re.compile(rb"[^:\s][^:\r\n]*").fullmatch
_ILLEGAL_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])").search
# h11 takes any byte but NUL and the whitespace that is not a space or a tab.
_ILLEGAL_FOR_H11 = re.compile(rb"[\x00\r\n\x0b\x0c]").search


# -- httpx ---------------------------------------------------------------------------


#: httpx, and httpx2 (its successor, the same API under another name: authlib 1.9 uses
#: it when it is installed): each one present is patched.
HTTPX_MODULES = ("httpx", "httpx2")


def _install_httpx(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        return  # not installed: nothing calls it
    httpx = importlib.import_module(name)
    sync_original = _remember(httpx.HTTPTransport, "handle_request")
    async_original = _remember(httpx.AsyncHTTPTransport, "handle_async_request")

    def handle_request(self: Any, request: Any) -> Any:
        host = request.url.host
        router = _router_for(host)
        if router is None:
            return sync_original(self, request)
        call = _httpx_call(httpx, request, request.read())
        try:
            answer = _answered(host, call, router)
        except _Gone:
            return sync_original(self, request)
        except AnswerTimeout as e:
            raise httpx.ReadTimeout(str(e), request=request) from None
        except EngineStopped as e:
            raise _httpx_dropped(httpx, request, e) from None
        return _httpx_response(httpx, answer)

    async def handle_async_request(self: Any, request: Any) -> Any:
        host = request.url.host
        router = _router_for(host)
        if router is None:
            return await async_original(self, request)
        call = _httpx_call(httpx, request, await request.aread())
        try:
            answer = await _aanswered(host, call, router)
        except _Gone:
            return await async_original(self, request)
        except AnswerTimeout as e:
            raise httpx.ReadTimeout(str(e), request=request) from None
        except EngineStopped as e:
            raise _httpx_dropped(httpx, request, e) from None
        return _httpx_response(httpx, answer)

    httpx.HTTPTransport.handle_request = handle_request
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request


def _httpx_dropped(httpx: Any, request: Any, why: EngineStopped) -> Exception:
    """The fakes' loop stopped under the request: to httpx, a server that hung up."""
    return httpx.RemoteProtocolError(
        f"Server disconnected without sending a response ({why})", request=request
    )


def _httpx_call(httpx: Any, request: Any, body: bytes) -> Call:
    refused = _refused_port(request.url.scheme, request.url.port)
    if refused is not None:
        where = f"{request.url.host}:{request.url.port}"
        raise httpx.ConnectError(f"{where}: {refused}", request=request)
    bad = _bad_header(request.headers.raw, h11=True)
    if bad is not None:  # as h11 refuses it
        raise httpx.LocalProtocolError(bad, request=request)
    timeouts = request.extensions.get("timeout") or {}
    read = timeouts.get("read")
    return _normal(
        Call(
            request.method,
            str(request.url),
            list(request.headers.raw),
            body,
            float(read) if read is not None else None,
        )
    )


def _httpx_response(httpx: Any, answer: Answer) -> Any:
    """The answer as a network transport gives it: a stream not read yet (so ``iter_raw``
    and ``num_bytes_downloaded`` work), decoded by the client as it reads."""
    return httpx.Response(
        answer.status,
        headers=answer.headers,
        stream=httpx.ByteStream(answer.body),
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
        bound = signature.bind(self, method, url, *args, **kwargs)
        bound.apply_defaults()
        a = dict(bound.arguments)
        del a["self"]
        # urllib3 1.26 takes preload_content and decode_content in **response_kw.
        a.update(a.pop("response_kw", None) or {})
        host, port, scheme = self.host, self.port, getattr(self, "scheme", "http")
        target = urlsplit(url)
        if target.scheme.lower() in ("http", "https") and target.netloc:
            if a.get("assert_same_host", True) and not self.is_same_host(url):
                # urllib3's HostChangedError, before anything is sent.
                return original(self, method, url, *args, **kwargs)
            # Absolute: through an HTTP proxy, or a redirect on the same host.
            host, port, scheme = target.hostname, target.port, target.scheme.lower()
        router = _router_for(host)
        if router is None:
            return original(self, method, url, *args, **kwargs)
        try:
            return _urllib3_answer(self, router, a, str(host), scheme, port)
        except _Gone:
            return original(self, method, url, *args, **kwargs)

    pool.urlopen = urlopen  # type: ignore[method-assign]


def _urllib3_answer(
    pool: Any, router: Router, a: dict[str, Any], host: str, scheme: str, port: int | None
) -> Any:
    """One pass of urllib3's ``urlopen`` with the fakes in place of the connection."""
    from urllib3.exceptions import (
        MaxRetryError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
    )
    from urllib3.util.retry import Retry

    method, url, redirect = a["method"], a["url"], a.get("redirect", True)
    headers = a.get("headers")
    if headers is None:
        headers = pool.headers  # as urllib3: the pool's headers only when none are given
    given = a.get("retries")
    retries: Retry = (
        given
        if isinstance(given, Retry)
        else Retry.from_int(given, redirect=redirect, default=pool.retries)
    )
    body = a.get("body")
    if body is not None and not isinstance(body, bytes | str):
        body = a["body"] = _body_bytes(body)  # read once: a retry sends it again
    again = {k: v for k, v in a.items() if k not in ("method", "url", "body", "headers")}

    def resend(method: str, url: str, body: Any, headers: Any, retries: Retry) -> Any:
        return pool.urlopen(method, url, body, headers, **{**again, "retries": retries})

    def failed(error: Exception) -> Any:
        # Raises ``error`` (retries=False, requests' read=False) or MaxRetryError once
        # the retries are spent, as urllib3 does; else sleeps its backoff and sends again.
        left = retries.increment(method, url, error=error, _pool=pool, _stacktrace=None)
        left.sleep()
        return resend(method, url, body, headers, left)

    refused = _refused_port(scheme, port)
    if refused is not None:
        return failed(NewConnectionError(pool, f"Failed to establish a new connection: {refused}"))
    sent = _urllib3_headers(headers, body)
    bad = _bad_header(sent)
    if bad is not None:  # as http.client refuses it, before anything is sent
        raise ValueError(bad)
    full = url if urlsplit(url).netloc else _pool_url(pool, url)
    call = _normal(Call(method, full, sent, _body_bytes(body), _urllib3_timeout(pool, a)))
    try:
        answer = _answered(host, call, router)
    except AnswerTimeout as e:
        return failed(ReadTimeoutError(pool, url, f"Read timed out. ({e})"))
    except EngineStopped as e:
        # The fakes' loop stopped under the request: a server that hung up, which urllib3
        # reports (and retries, if asked to) as a ProtocolError.
        hung_up = http.client.RemoteDisconnected(f"Remote end closed connection ({e})")
        return failed(ProtocolError("Connection aborted.", hung_up))
    response = _urllib3_response(pool, answer, a, retries, method, full)

    # Redirects, as urllib3's urlopen follows them (a pool used directly; PoolManager
    # and requests pass redirect=False and follow them their own way).
    location = response.get_redirect_location() if redirect else None
    if location:
        if response.status == 303:
            method, body = "GET", None
            headers = _without_body_headers(headers)
        if retries.remove_headers_on_redirect and not pool.is_same_host(location):
            headers = {
                k: v
                for k, v in dict(headers or {}).items()
                if k.lower() not in retries.remove_headers_on_redirect
            }
        try:
            retries = retries.increment(method, url, response=response, _pool=pool)
        except MaxRetryError:
            if retries.raise_on_redirect:
                raise
            return response
        retries.sleep_for_retry(response)
        return resend(method, location, body, headers, retries)

    # A status the Retry retries (status_forcelist, a 413/429/503 with Retry-After);
    # retries.sleep() sleeps what urllib3 sleeps: Retry-After (up to its
    # retry_after_max) or the backoff.
    if retries.is_retry(method, response.status, bool(response.headers.get("Retry-After"))):
        try:
            retries = retries.increment(method, url, response=response, _pool=pool)
        except MaxRetryError:
            if retries.raise_on_status:
                raise
            return response
        retries.sleep(response)
        return resend(method, url, body, headers, retries)
    return response


def _urllib3_headers(headers: Any, body: Any) -> list[tuple[bytes, bytes]]:
    """The headers urllib3 sends: the given ones (``SKIP_HEADER`` dropped) and its own
    ``User-Agent`` when none is given."""
    import urllib3.util

    skip: str | None = getattr(urllib3.util, "SKIP_HEADER", None)
    items = list(headers.items()) if headers else []
    sent = [(_bytes(k), _bytes(v)) for k, v in items if skip is None or v != skip]
    names = {str(k).lower() for k, _ in items}
    if "user-agent" not in names:
        sent.append((b"User-Agent", _user_agent().encode()))
    return sent


def _user_agent() -> str:
    import urllib3.connection

    default = getattr(urllib3.connection, "_get_default_user_agent", None)
    if default is not None:
        return str(default())
    return f"python-urllib3/{urllib3.__version__}"  # pragma: no cover - urllib3 < 1.26


def _without_body_headers(headers: Any) -> Any:
    """A 303's GET drops what described the body (urllib3's ``_prepare_for_method_change``)."""
    drop = {"content-encoding", "content-language", "content-location", "content-type"}
    drop |= {"content-length", "digest", "last-modified", "transfer-encoding"}
    return {k: v for k, v in dict(headers or {}).items() if k.lower() not in drop}


class _Sent:
    """What urllib3 keeps as ``_original_response`` (an ``http.client.HTTPResponse``):
    its ``msg`` headers, read by ``requests`` to keep the answer's cookies."""

    def __init__(self, answer: Answer, method: str) -> None:
        self.msg = http.client.HTTPMessage()
        for k, v in answer.headers:
            self.msg[k.decode("latin-1")] = v.decode("latin-1")
        self.status = answer.status
        self.reason = answer.reason
        self._method = method
        self._closed = False

    def isclosed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True


def _urllib3_response(
    pool: Any, answer: Answer, a: dict[str, Any], retries: Any, method: str, url: str
) -> Any:
    from urllib3.response import HTTPResponse

    try:
        from urllib3._collections import HTTPHeaderDict
    except ImportError:  # pragma: no cover - urllib3 moved it
        from urllib3 import HTTPHeaderDict

    headers = HTTPHeaderDict()
    for k, v in answer.headers:
        headers.add(k.decode("latin-1"), v.decode("latin-1"))
    kwargs: dict[str, Any] = {
        "body": io.BytesIO(answer.body),
        "headers": headers,
        "status": answer.status,
        "version": 11,
        "version_string": "HTTP/1.1",
        "reason": answer.reason or None,
        "preload_content": a.get("preload_content", True),
        "decode_content": a.get("decode_content", True),
        "original_response": _Sent(answer, method),
        "pool": pool,
        "retries": retries,
        "request_method": method,
        "request_url": url,
    }
    accepted = inspect.signature(HTTPResponse.__init__).parameters
    return HTTPResponse(**{k: v for k, v in kwargs.items() if k in accepted})


def _pool_url(pool: Any, path: str) -> str:
    scheme = getattr(pool, "scheme", "http") or "http"
    host = str(pool.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    port = f":{pool.port}" if pool.port and pool.port != default else ""
    return f"{scheme}://{host}{port}{path if path.startswith('/') else '/' + path}"


def _urllib3_timeout(pool: Any, a: dict[str, Any]) -> float | None:
    """The read timeout urllib3 would wait: the request's (a number or a ``Timeout``),
    else the pool's (``PoolManager(timeout=…)``), its ``total`` counted from now (the
    connection the fakes skip takes no time)."""
    timeout = a.get("timeout")
    get = getattr(pool, "_get_timeout", None)
    if get is not None:  # urllib3's own: the pool's timeout for its default, a copy
        timeout = get(timeout)
        timeout.start_connect()
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
    try:  # a buffer (array, mmap, …), sent as its bytes, as urllib3 does
        return memoryview(body).tobytes()
    except TypeError:
        pass
    if isinstance(body, Iterable):
        return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)
    raise TypeError(f"cannot send a request body of type {type(body).__name__}")
