"""The core behind the app that is handling the current request."""

from __future__ import annotations

from quart import current_app

from .core import Core


def core() -> Core:
    """The core behind the running app (set by :func:`fake_providers.create_app`)."""
    c = current_app.config["CONNTRACK_CORE"]
    assert isinstance(c, Core)
    return c
