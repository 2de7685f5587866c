"""The fakes' request path tells a coroutine hook by its code's flags, without asking
``inspect.iscoroutinefunction`` at every request (``fake_providers._app.FakesApp``, issue
15), and answers as Quart would."""

from __future__ import annotations

import gc
import inspect
import weakref

import trio

import fake_providers
from conntrack._clock import TravelClock
from fake_providers._app import FakesApp


def _app() -> FakesApp:
    app = fake_providers.create_app(fake_providers.Core(TravelClock(), seed=1))
    assert isinstance(app, FakesApp)
    return app


def test_coroutine_functions_are_answered_as_they_are_without_asking() -> None:
    app = _app()
    asked: list[object] = []
    real = inspect.iscoroutinefunction

    async def hook() -> None:
        return None

    import quart.app

    original = quart.app.iscoroutinefunction
    quart.app.iscoroutinefunction = lambda f: asked.append(f) or real(f)  # type: ignore[assignment]
    try:
        for _ in range(3):
            assert app.ensure_async(hook) is hook
    finally:
        quart.app.iscoroutinefunction = original
    assert asked == []


def test_sync_functions_are_still_wrapped_and_never_cached() -> None:
    app = _app()

    def plain() -> int:
        return 7

    wrapped = app.ensure_async(plain)
    assert wrapped is not plain and inspect.iscoroutinefunction(wrapped)
    assert app.ensure_async(plain) is not plain  # every time, as Quart does
    assert trio.run(wrapped) == 7


def test_other_callables_go_through_quart() -> None:
    app = _app()

    class Hook:
        async def __call__(self) -> int:
            return 8

    hook = Hook()
    assert app.ensure_async(hook) is not hook  # Quart wraps what is no coroutine function
    assert app.ensure_async(Hook.__call__) is Hook.__call__


def test_a_function_made_for_one_request_is_not_kept_alive() -> None:
    app = _app()

    def make() -> object:
        async def once() -> None:
            return None

        return once

    hook = make()
    assert app.ensure_async(hook) is hook  # type: ignore[arg-type]
    alive = weakref.ref(hook)  # type: ignore[arg-type]
    del hook
    gc.collect()
    assert alive() is None


def test_the_app_and_request_lookups_answer_as_quarts_proxies() -> None:
    """``_current.app``/``this_request`` read Quart's context variables directly: the
    same objects as ``current_app``/``request`` inside a request, and Quart's own
    ``RuntimeError`` outside one, as the proxies raise."""
    import pytest
    from quart import current_app, request

    from fake_providers import _current

    app = _app()
    with pytest.raises(RuntimeError):
        _current.core()
    with pytest.raises(RuntimeError):
        _current.app().config  # noqa: B018 (the proxy raises at its first use)
    with pytest.raises(RuntimeError):
        _current.this_request().path  # noqa: B018

    async def inside() -> None:
        async with app.test_request_context("/graph.facebook.com/v21.0/me"):
            assert _current.app() is current_app._get_current_object()  # type: ignore[attr-defined]
            assert _current.this_request() is request._get_current_object()  # type: ignore[attr-defined]
            assert _current.core() is app.config["CONNTRACK_CORE"]

    trio.run(inside)
