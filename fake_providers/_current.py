"""The core behind the app that is handling the current request."""

from __future__ import annotations

from typing import Any

from quart import current_app

from .core import Core

#: The app setting that lists the settings an app was built with (``create_app``): every
#: other one was stored by a request (a nonce, a rate-limit window, a daily call count)
#: and belongs to the world the app serves, not to the app.
BUILT = "CONNTRACK_BUILT_KEYS"


def core() -> Core:
    """The core behind the running app (set by :func:`fake_providers.create_app`)."""
    c = current_app.config["CONNTRACK_CORE"]
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
