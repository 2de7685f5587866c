"""One in-process world of fakes: its core, its app, and the API a test drives it with.

:class:`Fakes` is what the ``conntrack_fakes`` fixture gives and what ``with fakes() as
f`` binds. It is built as ``conntrack serve`` builds its world (:func:`conntrack._serve.
prepare`: the same providers, profiles, seed and ``--config`` file, on a travel clock:
wall time plus a forward-only offset), and it answers the requests the interceptors
(``_intercept``) take from requests, urllib3 and httpx. Its methods go through the
control API in process, so they check their input, and word their errors, exactly as
``/_conntrack/…`` does for a developer with curl.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast
from urllib.parse import urlencode, urljoin, urlsplit

from .._durations import format_duration, format_instant
from .._profiles import load_profile, providers
from ._engine import Answer, Call, Engine, shared_engine
from ._intercept import activate, active, deactivate

F = TypeVar("F", bound=Callable[..., Any])
#: An account: its id, or the dict ``create_account`` answered (its ``id`` is used).
AccountRef = str | int | Mapping[str, Any]

#: The host of :attr:`Fakes.base_url`: a ``.localhost`` name, so never a real one.
BASE_HOST = "fakes.conntrack.localhost"
#: Where the control API is reached in process.
CONTROL = f"http://{BASE_HOST}/_conntrack"


class FakesError(ValueError):
    """The fakes refused a call of the API: the control API's message, its HTTP status,
    and the body field it is about (None: the request as a whole)."""

    def __init__(self, message: str, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class ConsentError(FakesError):
    """The consent page did not send the browser back to the app: it showed an error
    (an unknown ``client_id``, a ``redirect_uri`` the app does not have, an account that
    cannot log in), as the real provider does without redirecting."""


def every_provider_host() -> frozenset[str]:
    """Every host of every packaged profile: requests to them never leave the process,
    even for a provider a world does not serve (those get the fakes' "not served" 404)."""
    return _HOSTS


def _hosts() -> frozenset[str]:
    return frozenset(h.lower() for p in providers() for h in load_profile(p).hosts)


_HOSTS = _hosts()


#: Apps no world uses now, by the providers and hosts they were built for. Building an
#: app compiles every provider's routes (~35 ms); a world takes a free one and puts its
#: own core behind it (``fake_providers.reuse_app``, ~0.1 ms), so a fresh world per test
#: costs a new core, not new routes. Nested worlds each hold their own app.
_FREE: dict[tuple[tuple[str, tuple[str, ...]], ...], list[Any]] = {}
_FREE_LOCK = threading.Lock()
_BUILD_LOCK = threading.Lock()


#: How a world's "provider not enabled" 404 says to serve it.
ENABLE_HINT = (
    "add it to the world's providers: @pytest.mark.conntrack_fakes(providers=[...]) or "
    "fakes(providers=[...]) with {providers}, or leave providers out to serve every provider"
)


def _take_app(core: Any) -> Any:
    import fake_providers

    with _FREE_LOCK:
        free = _FREE.get(fake_providers.app_shape(core))
        app = free.pop() if free else None
    if app is None:
        # One build at a time: building compiles every route with ast.parse, and CPython
        # 3.11's compile() is not safe in several threads at once (worlds entered by
        # many threads together raised "AST constructor recursion depth mismatch").
        with _BUILD_LOCK:
            return fake_providers.create_app(core, enable_hint=ENABLE_HINT)
    return fake_providers.reuse_app(app, core)


def _give_back(app: Any, core: Any) -> None:
    import fake_providers

    with _FREE_LOCK:
        _FREE.setdefault(fake_providers.app_shape(core), []).append(app)


class Fakes:
    """An in-process world: fake providers on a travel clock, answering this process.

    Made by :func:`fakes` (or the ``conntrack_fakes`` fixture), never directly by a test.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        seed: int = 0,
        providers: Sequence[str] | None = None,
        config: str | Path | None = None,
    ) -> None:
        from .._serve import prepare
        from .._tls import route_hosts

        server = prepare(seed=seed, providers=providers, config=config)
        self._engine = engine
        self.core = server.core
        self.clock = server.clock
        self.app: Any = _take_app(self.core)
        #: Requests under way, and the app ``close`` left for the last of them to give back.
        self._busy = 0
        self._leaving: Any = None
        self._busy_lock = threading.Lock()
        self.hosts: frozenset[str] = every_provider_host() | frozenset(route_hosts(self.app))
        self.notes = tuple(server.notes)
        #: The fakes as ``conntrack serve`` lays them out under one root, for code that
        #: takes a base URL (as a product does with ``CONNTRACK_FAKES_URL``):
        #: ``{base_url}/graph.facebook.com/v21.0/me``, ``{base_url}/_conntrack/apps``.
        self.base_url = f"http://{BASE_HOST}"

    def close(self) -> None:
        """End the world (``fakes`` does it on leaving) and give its app back for the
        next one, once no request of this world is under way: another world's core
        behind the app would answer that request."""
        with self._busy_lock:
            app, self.app = self.app, None
            if app is not None and self._busy:
                self._leaving = app  # the last request under way gives it back
                return
        if app is not None:
            _give_back(app, self.core)

    def _hold(self) -> Any:
        """The app, counted as used by one more request until :meth:`_release`."""
        with self._busy_lock:
            if self.app is None:
                raise FakesError(
                    "this world of fakes has ended (its `with` block or test is over): "
                    "use the world of the current test or block"
                )
            self._busy += 1
            return self.app

    def _release(self) -> None:
        with self._busy_lock:
            self._busy -= 1
            app = self._leaving if not self._busy else None
            if app is not None:
                self._leaving = None
        if app is not None:
            _give_back(app, self.core)

    def _call(self, call: Call) -> Answer:
        app = self._hold()
        try:
            return self._engine.call(app, call)
        finally:
            self._release()

    # -- the Router the interceptors ask ---------------------------------------------

    def routes(self, host: str) -> bool:
        return host in self.hosts or host == BASE_HOST

    def answer(self, call: Call) -> Answer:
        return self._call(call)

    async def aanswer(self, call: Call) -> Answer:
        app = self._hold()
        try:
            return await self._engine.acall(app, call)
        finally:
            self._release()

    # -- the API ---------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """What the fakes take for now (UTC): wall time plus every :meth:`travel`."""
        return self.clock.now()

    def control(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Call any control-API route (``"tokens/revoke"``, or as the docs spell it,
        ``"/_conntrack/tokens/revoke"``) and answer its JSON; an error answer raises
        :class:`FakesError` with the API's own message."""
        path = path.lstrip("/")
        if path == "_conntrack" or path.startswith("_conntrack/"):
            path = path[len("_conntrack") :].lstrip("/")  # as the docs' tables spell it
        url = f"{CONTROL}/{path}"
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        headers = [(b"accept", b"application/json")]
        data = b""
        if body is not None:
            headers.append((b"content-type", b"application/json"))
            data = json.dumps(body).encode()
        answer = self._call(Call(method.upper(), url, headers, data))
        try:
            document = json.loads(answer.body) if answer.body else None
        except ValueError:
            document = None
        if answer.status >= 400:
            error = document.get("error") if isinstance(document, dict) else None
            if isinstance(error, dict):
                raise FakesError(
                    str(error.get("message") or error),
                    answer.status,
                    error.get("field") if isinstance(error.get("field"), str) else None,
                )
            raise FakesError(
                f"{method.upper()} /_conntrack/{path.lstrip('/')} answered HTTP "
                f"{answer.status}: {answer.body[:200].decode('utf-8', 'replace')}",
                answer.status,
            )
        return document

    def create_app(
        self, provider: str, redirect_uris: Sequence[str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Register an OAuth app (``POST /_conntrack/apps``): ``client_id``,
        ``client_secret`` and the rest of the app as the control API answers it.
        ``fields``: ``client_id``, ``client_secret``, ``name``, ``publishing_status``."""
        body: dict[str, Any] = {"provider": provider, **_given(fields)}
        if redirect_uris is not None:
            if isinstance(redirect_uris, str):
                redirect_uris = [redirect_uris]
            body["redirect_uris"] = list(redirect_uris)
        return cast(dict[str, Any], self.control("POST", "apps", body))

    def create_account(self, provider: str, **fields: Any) -> dict[str, Any]:
        """Create a person's account (``POST /_conntrack/accounts``), with its ``id``.
        ``fields``: ``id``, ``name``, ``email``, ``pages``, ``type``, ``page_kind``,
        ``linked_instagram``, ``linked_page``."""
        return cast(
            dict[str, Any],
            self.control("POST", "accounts", {"provider": provider, **_given(fields)}),
        )

    def account(self, account_id: AccountRef) -> dict[str, Any]:
        """An account as the control API shows it (state, pages, grants, …)."""
        return cast(dict[str, Any], self.control("GET", f"accounts/{_segment(account_id)}"))

    def event(
        self, provider: str, account_id: AccountRef, name: str, **options: Any
    ) -> dict[str, Any]:
        """Fire an account event as ``POST /_conntrack/accounts/{id}/events`` does:
        ``password_change``, ``app_removed``, ``permission_revoked``, ``checkpoint``,
        ``locked``, ``suspended``, ``admin_removed``, … (an unknown name is refused with
        the list); ``options``: ``client_id``, ``page_id``, ``permission``,
        ``account_type``."""
        account_id = _account_id(account_id)
        have = self.account(account_id).get("provider")
        if have != provider:
            raise FakesError(
                f"account {account_id!r} is a {have} account, not {provider}: "
                f"name its provider, event({have!r}, {account_id!r}, {name!r})",
                400,
                "provider",
            )
        return cast(
            dict[str, Any],
            self.control(
                "POST",
                f"accounts/{_segment(account_id)}/events",
                {"type": name, **_given(options)},
            ),
        )

    def travel(self, duration: str | timedelta) -> datetime:
        """Move the fakes' clock forward by ``duration`` (``"61d"``, ``"1h 30m"`` or a
        ``timedelta``); answer the new now. Tokens expire as they would have."""
        if not isinstance(duration, str | timedelta):  # 3600: seconds? hours?
            raise FakesError(
                f"travel() takes a duration such as '1h', '61d' or a timedelta, not {duration!r}",
                400,
                "by",
            )
        if isinstance(duration, timedelta) and duration < timedelta(0):
            raise FakesError("the clock only travels forward: give a positive duration", 400, "by")
        by = format_duration(duration) if isinstance(duration, timedelta) else duration
        self.control("POST", "clock/advance", {"by": by})
        return self.now

    def fault(
        self,
        provider: str,
        kind: str,
        *,
        for_: str | timedelta | None = None,
        until: str | datetime | None = None,
        count: int | None = None,
        endpoint: str | None = None,
        error: str | None = None,
        status: int | None = None,
        delay_ms: int | None = None,
    ) -> dict[str, Any]:
        """Add a fault (``POST /_conntrack/faults``): ``kind`` ``outage``,
        ``rate_limit``, ``error`` (a provider error by name), ``status`` (a bare HTTP
        status) or ``latency`` (``delay_ms``); it lasts ``for_`` (a duration), ``until``
        an instant, or ``count`` requests; ``endpoint`` narrows it to one path."""
        body = _given(
            {
                "provider": provider,
                "kind": kind,
                "for": format_duration(for_) if isinstance(for_, timedelta) else for_,
                "until": format_instant(until) if isinstance(until, datetime) else until,
                "count": count,
                "endpoint": endpoint,
                "error": error,
                "status": status,
                "delay_ms": delay_ms,
            }
        )
        try:
            return cast(dict[str, Any], self.control("POST", "faults", body))
        except FakesError as e:
            if e.field == "for" and for_ is None and until is None and count is None:
                # The API's own words name its body keys; here they are keywords.
                raise FakesError(
                    "give the fault one limit: for_= (a duration such as '1h' or a "
                    "timedelta), until= (an instant) or count= (how many answers)",
                    e.status,
                    "for",
                ) from None
            raise

    def clear_faults(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Remove every fault (of ``provider``); answer those removed."""
        answer = self.control("DELETE", "faults", params={"provider": provider})
        return cast(list[dict[str, Any]], answer["data"])

    def authorize(
        self,
        url: str,
        *,
        account: AccountRef,
        decline: Iterable[str] = (),
        cancel: bool = False,
    ) -> str:
        """Play the person at the browser: open ``url`` (the provider's authorization
        URL your client built), log in as ``account`` (its id, or the dict
        :meth:`create_account` answered), grant every permission but those in
        ``decline`` (or press cancel), and answer the URL the provider sends the browser
        to: your ``redirect_uri`` with ``code`` and ``state``, or the provider's error
        redirect. A fragment (Facebook's ``#_=_``) is dropped: a browser never sends it.

        A page that does not redirect (an unknown client, a ``redirect_uri`` the app does
        not have) raises :class:`ConsentError` with what the page says."""
        declined = {str(d) for d in ([decline] if isinstance(decline, str) else decline)}
        account = _account_id(account)
        current = url
        for _ in range(10):
            host = (urlsplit(current).hostname or "").lower()
            if not self.routes(host):
                if current is url:
                    raise FakesError(
                        f"{url} is not a provider URL: authorize() opens the provider's "
                        f"authorization URL (hosts such as www.facebook.com, "
                        f"www.linkedin.com, x.com, accounts.google.com)",
                        400,
                        "url",
                    )
                return current.split("#", 1)[0]
            page = self._get(current)
            if page.status in (301, 302, 303, 307, 308):
                current = urljoin(current, _header(page, b"location"))
                continue
            if page.status != 200:
                raise ConsentError(_page_problem(current, page), page.status, "url")
            answer = self._submit(current, page, account, declined, cancel)
            if answer.status not in (301, 302, 303, 307, 308):
                raise ConsentError(_page_problem(current, answer), answer.status, "account")
            current = urljoin(current, _header(answer, b"location"))
            if not self.routes((urlsplit(current).hostname or "").lower()):
                return current.split("#", 1)[0]
        raise ConsentError(f"the consent pages of {url} redirect more than 10 times", 508)

    def _get(self, url: str) -> Answer:
        return self._call(Call("GET", url, [(b"accept", b"text/html")]))

    def _submit(
        self, url: str, page: Answer, account: str, declined: set[str], cancel: bool
    ) -> Answer:
        from ..clients._browser import _FormParser

        parser = _FormParser()
        parser.feed(page.body.decode("utf-8", "replace"))
        if not parser.forms:
            raise ConsentError(f"the page at {url} has no form: {_visible(page)}", page.status)
        form = parser.forms[0]
        offered = {value for _, value in form.checkboxes}
        unknown = sorted(declined - offered)
        if unknown:
            raise FakesError(
                f"cannot decline {', '.join(unknown)}: the consent page offers "
                f"{', '.join(sorted(offered)) or 'no permission to untick'}",
                400,
                "decline",
            )
        fields: list[tuple[str, str]] = list(form.hidden)
        fields.append(("account_id", account))
        fields.extend((n, v) for n, v in form.checkboxes if v not in declined)
        fields.append(("action", "cancel" if cancel else "approve"))
        target = urljoin(url, form.action or url)
        encoded = urlencode(fields).encode()
        if form.method == "post":
            headers = [(b"content-type", b"application/x-www-form-urlencoded")]
            return self._call(Call("POST", target, headers, encoded))
        separator = "&" if urlsplit(target).query else "?"
        return self._get(f"{target}{separator}{encoded.decode()}")


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _account_id(account: AccountRef) -> str:
    """An account's id, given as the id or as the dict ``create_account`` answered."""
    if isinstance(account, Mapping):
        if "id" not in account:
            raise FakesError("an account given as a dict needs its 'id'", 400, "account")
        return str(account["id"])
    return str(account)


def _segment(account: AccountRef) -> str:
    from urllib.parse import quote

    return quote(_account_id(account), safe="")


def _header(answer: Answer, name: bytes) -> str:
    for k, v in answer.headers:
        if k.lower() == name:
            return v.decode("latin-1")
    return ""


def _visible(answer: Answer) -> str:
    from ..clients._browser import _visible_text

    return _visible_text(answer.body.decode("utf-8", "replace"))


def _page_problem(url: str, answer: Answer) -> str:
    return f"the provider's page at {url.split('?', 1)[0]} said (HTTP {answer.status}): " + (
        _visible(answer)
    )


class fakes:
    """The fakes in this process, for code outside pytest (``conntrack_fakes`` in it).

    As a context manager (``with fakes() as f:``, or ``async with``) it gives a fresh
    :class:`Fakes` world; as a decorator (``@fakes()``) it runs the function (sync or
    async) inside one, reachable with :func:`current`. While it is active, requests,
    urllib3 and httpx calls to provider hosts are answered in process; others go out.

    ``seed`` (ids and tokens), ``providers`` (serve only these: names, or one name) and
    ``config`` (a ``conntrack serve --config`` file: apps and accounts made at the start)
    are as for ``conntrack serve``; a bad one raises :class:`conntrack.InputError` with
    its message.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        providers: Sequence[str] | None = None,
        config: str | Path | None = None,
    ) -> None:
        if isinstance(providers, str):  # one provider, not its letters
            providers = [providers]
        self._options: dict[str, Any] = {"seed": seed, "providers": providers, "config": config}
        # The worlds this object entered, per thread / task: one decorated function may
        # run in two threads at once, and each call leaves its own world. (``_open``:
        # all of them, for an exit in another context than its entry, as an async
        # fixture's teardown may be.)
        self._worlds: contextvars.ContextVar[tuple[Fakes, ...]] = contextvars.ContextVar(
            "conntrack_fakes_entered", default=()
        )
        self._open: list[Fakes] = []
        self._open_lock = threading.Lock()  # threads enter and leave at once

    def _enter(self) -> Fakes:
        world = Fakes(shared_engine(), **self._options)
        try:
            activate(world)
        except BaseException:
            world.close()  # its app back for the next world
            raise
        self._worlds.set((*self._worlds.get(), world))
        with self._open_lock:
            self._open.append(world)
        return world

    def _exit(self) -> None:
        entered = self._worlds.get()
        with self._open_lock:
            mine = [w for w in entered if any(w is o for o in self._open)]
            if not mine and not self._open:
                raise RuntimeError("fakes(): left more often than entered")
            world = mine[-1] if mine else self._open[-1]
            self._open = [o for o in self._open if o is not world]
        self._worlds.set(tuple(w for w in entered if w is not world))
        deactivate(world)
        world.close()

    def __enter__(self) -> Fakes:
        return self._enter()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit()

    async def __aenter__(self) -> Fakes:
        return self._enter()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit()

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self:
                    return await func(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return cast(F, run)


def current() -> Fakes:
    """The innermost active world (inside ``@fakes()``, ``with fakes()`` or a test
    using ``conntrack_fakes``); :class:`FakesError` when none is."""
    router = active()
    if not isinstance(router, Fakes):
        raise FakesError(
            "no in-process fakes are active: use `with conntrack.testing.fakes() as f:`, "
            "the @conntrack.testing.fakes() decorator, or the conntrack_fakes fixture",
            400,
        )
    return router
