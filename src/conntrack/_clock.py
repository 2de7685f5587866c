"""Time: one injected clock; nothing in conntrack reads the wall clock but ``TravelClock``.

- :class:`Clock` — the interface: ``now()`` and ``sleep_until(instant)``.
- :class:`SimClock` — virtual time over trio's ``MockClock(autojump_threshold=0)``:
  trio time 0 is the scenario's ``start``; a year replays as fast as the work allows.
- :class:`Scheduler` — deterministic wake-ups for simulations. trio wakes tasks due at
  the same instant in a deliberately random order; the scheduler instead fires timers one
  at a time in ``(instant, priority, key, sequence)`` order and lets every task run until
  all are blocked again before it fires the next. The same scenario and seed therefore
  always produce the same records in the same order.
- :class:`TravelClock` — for ``conntrack serve``: wall time plus an offset that only moves
  forward (like Stripe's test clocks), so outside clients over real sockets see tokens
  expire when a developer travels in time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import trio

# trio.testing's own names, taken from trio._core where they live: ``import trio.testing``
# also imports pytest (for ``RaisesGroup``: ~45 ms CPU, 300 modules), which neither a
# simulation nor ``conntrack serve`` uses. tests/test_cli_imports.py checks that they are
# the objects trio.testing exports.
from trio._core import MockClock, wait_all_tasks_blocked


class Clock(Protocol):
    """What every part of conntrack reads time from."""

    def now(self) -> datetime:
        """The current instant, UTC-aware."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return at ``when`` (at once if it has passed)."""
        ...


class SimClock:
    """Virtual time for a simulation: ``start`` plus the trio run's elapsed clock time.

    Construct it outside trio, pass :meth:`mock_clock` to ``trio.run(..., clock=…)``.
    Trio time is the number of seconds since ``start``.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock start must be timezone-aware")
        self.start = start.astimezone(UTC)
        self._mock = MockClock(autojump_threshold=0)

    @property
    def mock_clock(self) -> MockClock:
        return self._mock

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._mock.current_time())

    def trio_time(self, when: datetime) -> float:
        return (when - self.start).total_seconds()

    async def sleep_until(self, when: datetime) -> None:
        await trio.sleep_until(self.trio_time(when))


@dataclass(order=True)
class Timer:
    """A scheduled wake-up; cancel it with :meth:`Scheduler.cancel`."""

    when: datetime
    priority: int
    key: str
    seq: int
    fn: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


#: A place in the scheduler's total order: ``(when, priority, key)`` of a timer.
Position = tuple[datetime, int, str]

# Priorities of things due at the same instant: the world changes first, then the
# notifier speaks, then connections notice expiry, then they sync.
PRIORITY_WORLD = 0
PRIORITY_NOTIFY = 1
PRIORITY_EXPIRY = 2
PRIORITY_SYNC = 3


class Scheduler:
    """Fires timers one at a time, in a total order, on a :class:`SimClock`.

    A timer's ``fn`` is a plain function (typically ``channel.send_nowait``); after it
    runs, the scheduler waits until every task is blocked before it fires the next, so
    the task it woke finishes its work (including in-process HTTP) first. A ``fn`` that
    did the whole work itself, waking no task, returns ``True``: there is nothing to wait
    for, so the next timer fires at once (a connection's elided sync: issue 15, 120 of
    them a connection a month, each a task wake and a settle before).

    The heap holds ``(when, priority, key, seq, timer)`` tuples: compared in C, where the
    dataclass's generated ``__lt__`` cost a Python call per comparison.

    ``settle`` replaces that wait: ``trio.testing.wait_all_tasks_blocked`` returns while
    a task awaits real network I/O, so a product whose actors talk to the fakes over
    sockets (:class:`conntrack.product.ModelProduct`) waits instead until each actor is
    back at its inbox. ``clock`` may then be any :class:`Clock` whose ``sleep_until``
    moves it (a manual clock).
    """

    def __init__(
        self, clock: Clock, *, settle: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.clock = clock
        self._settle = settle or wait_all_tasks_blocked
        self._heap: list[tuple[datetime, int, str, int, Timer]] = []
        self._seq = itertools.count()
        self.fired = 0
        self.settled = 0
        """How many times :meth:`run` waited for the tasks to settle (``fired`` less the
        timers whose ``fn`` did the work itself)."""
        self.position: Position = (clock.now(), -1, "")
        """Where in the total order the scheduler is: the ``(when, priority, key)`` of the
        timer fired last (before the first, the start)."""
        self._watchers: list[Callable[[Position], None]] = []

    def watch(self, fn: Callable[[Position], None]) -> None:
        """Call ``fn(position)`` after each timer has fired and its work settled."""
        self._watchers.append(fn)

    def call_at(
        self, when: datetime, fn: Callable[[], object], *, priority: int, key: str = ""
    ) -> Timer:
        """Call ``fn`` at ``when``; it returns ``True`` if it woke no task (see above)."""
        seq = next(self._seq)
        timer = Timer(when, priority, key, seq, fn)
        heapq.heappush(self._heap, (when, priority, key, seq, timer))
        return timer

    @staticmethod
    def cancel(timer: Timer | None) -> None:
        if timer is not None:
            timer.cancelled = True

    def next_due(self) -> datetime | None:
        heap = self._heap
        while heap and heap[0][4].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    async def run(self, until: datetime) -> None:
        """Fire every timer due up to and including ``until``, then return at ``until``."""
        await self._settle()
        self.settled += 1
        now = self.clock.now()
        while True:
            due = self.next_due()
            if due is None or due > until:
                break
            timer = heapq.heappop(self._heap)[4]
            if due > now:
                await self.clock.sleep_until(due)
                now = self.clock.now()
            self.fired += 1
            self.position = (due, timer.priority, timer.key)
            if timer.fn() is not True:
                await self._settle()
                self.settled += 1
                now = self.clock.now()
            for watcher in self._watchers:
                watcher(self.position)
        if until > self.clock.now():
            await self.clock.sleep_until(until)


class TravelClock:
    """Wall time plus a forward-only offset: the clock of ``conntrack serve``."""

    def __init__(
        self, offset: timedelta = timedelta(0), wall: Callable[[], datetime] | None = None
    ) -> None:
        self._wall = wall or (lambda: datetime.now(UTC))
        self.offset = offset

    def now(self) -> datetime:
        return self._wall() + self.offset

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await trio.sleep(delay)

    def advance(self, by: timedelta) -> datetime:
        """Move forward by ``by``; never backward. Returns the new now."""
        if by < timedelta(0):
            raise ValueError("the clock only travels forward")
        self.offset += by
        return self.now()
