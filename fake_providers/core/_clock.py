"""The clock interface the core needs, and nothing more.

The core reads the time through one injected object so that a simulation (trio's
``MockClock`` behind a ``SimClock``), a server (a ``TravelClock``) and a test (a manual
clock) can all drive it. Only ``now()`` is required; a clock that can also be moved
forward (``advance``) lets the control API travel in time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class HasNow(Protocol):
    """Anything with ``now() -> datetime`` (UTC-aware): the only clock the core needs."""

    def now(self) -> datetime: ...


@runtime_checkable
class CanAdvance(Protocol):
    """A clock that the control API may move forward by a ``timedelta``."""

    def now(self) -> datetime: ...

    def advance(self, by: timedelta) -> None: ...
