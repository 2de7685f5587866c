"""The fakes' request path asks once, not at every request, whether a hook is a coroutine
function (``fake_providers._app.FakesApp``, issue 15), and answers as Quart would."""

from __future__ import annotations

import gc
import inspect

import trio

import fake_providers
from conntrack._clock import TravelClock
from fake_providers._app import FakesApp


def _app() -> FakesApp:
    app = fake_providers.create_app(fake_providers.Core(TravelClock(), seed=1))
    assert isinstance(app, FakesApp)
    return app


def test_coroutine_functions_are_asked_once_and_answered_as_they_are() -> None:
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
    assert asked == [hook]


def test_sync_functions_are_still_wrapped_and_never_cached() -> None:
    app = _app()

    def plain() -> int:
        return 7

    wrapped = app.ensure_async(plain)
    assert wrapped is not plain and inspect.iscoroutinefunction(wrapped)
    assert plain not in app._coroutine_functions
    assert trio.run(wrapped) == 7


def test_a_function_made_for_one_request_is_not_kept_alive() -> None:
    app = _app()

    def make() -> object:
        async def once() -> None:
            return None

        return once

    hook = make()
    assert app.ensure_async(hook) is hook  # type: ignore[arg-type]
    assert len(app._coroutine_functions) >= 1
    before = len(app._coroutine_functions)
    del hook
    gc.collect()
    assert len(app._coroutine_functions) == before - 1
