"""The core behind the app that is handling the current request."""

from __future__ import annotations

from typing import Any

from quart import Quart, Request, current_app
from quart.globals import _cv_app, _cv_request

from .core import Core

#: The app setting that lists the settings an app was built with (``create_app``): every
#: other one was stored by a request (a nonce, a rate-limit window, a daily call count)
#: and belongs to the world the app serves, not to the app.
BUILT = "CONNTRACK_BUILT_KEYS"


def app() -> Quart:
    """The running app: Quart's ``current_app`` without its proxy (three Python calls at
    every use, several uses a request: issue 15); outside an app context, the proxy itself,
    which raises Quart's own ``RuntimeError`` at its first use, as before."""
    ctx = _cv_app.get(None)
    return current_app if ctx is None else ctx.app


def this_request() -> Request:
    """The request being handled: Quart's ``request`` without its proxy (see :func:`app`);
    outside a request context, the proxy, which raises at its first use, as before."""
    from quart import request

    ctx = _cv_request.get(None)
    return request if ctx is None else ctx.request


def core() -> Core:
    """The core behind the running app (set by :func:`fake_providers.create_app`)."""
    c = app().config["CONNTRACK_CORE"]
    assert isinstance(c, Core)
    return c


def forget_world_state(app: Any) -> None:
    """Drop what requests stored on ``app`` for the world it served (a new core behind
    it, ``reuse_app``; a reset, ``POST /_conntrack/reset``)."""
    built = app.config.get(BUILT)
    if built is None:
        return
    for key in [k for k in app.config if k not in built]:
        del app.config[key]
