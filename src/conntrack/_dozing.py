"""Connections that sleep through the syncs whose answer cannot change (issue 15).

A healthy connection syncs every ``sync_every``; while nothing in the fake's world changes
(its ``seq`` stays put), its token's answers cannot change before a known instant and no
refresh is due, each of those syncs is elided (:meth:`ConnectionActor._elide
<conntrack._actors.ConnectionActor._elide>`): counted, nothing asked. A month of 6-hour
syncs is 120 of them a connection, and at 20 000 connections each one, even elided, was a
timer of its own (pushed, popped, a check). So a connection whose sync was elided *dozes*:
it keeps no timer for the syncs it can predict, only one at the first instant of its
cadence that could answer otherwise (its quiet instant or its refresh, if any), and it
counts the syncs it slept through when it wakes:

- when anything in the world changed (:meth:`Dozing.check`, after every timer the
  scheduler fires): every dozing connection wakes;
- when something is handed to it (its own expiry or notice timer, a login's code, a
  disconnect);
- at its own timer, and at the end of the run (:meth:`Dozing.flush`).

Waking is exact because the scheduler fires timers in a total order
(:data:`~conntrack._clock.Position`): the syncs of the cadence that sort before the
position at which it wakes are the ones that would have been elided (nothing had changed
when they were due), the next one is scheduled as an ordinary timer. So the records, the
counts and every report are the same as with a timer a sync (tests/test_dozing.py, and
tests/test_scenarios.py's comparison with ``--exact-sync`` for every library scenario).
A spurious wake is always safe: the woken connection's next sync is elided again.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Protocol

from ._clock import Position


class Oracle(Protocol):
    @property
    def seq(self) -> int: ...


class Sleeper(Protocol):
    id: str

    def wake(self, position: Position) -> None: ...


class Dozing:
    """The dozing connections of one run and the world's ``seq`` they were put to sleep
    under; hand :meth:`check` to :meth:`Scheduler.watch <conntrack._clock.Scheduler.watch>`."""

    def __init__(self, oracle: Oracle) -> None:
        self._oracle = oracle
        self._seen = oracle.seq
        self._asleep: dict[str, Sleeper] = {}
        self.woken = 0
        """How many times a dozing connection woke (a measure for tests and benchmarks)."""

    def __len__(self) -> int:
        return len(self._asleep)

    def add(self, sleeper: Sleeper) -> None:
        self._asleep[sleeper.id] = sleeper

    def discard(self, sleeper: Sleeper) -> None:
        self._asleep.pop(sleeper.id, None)

    def check(self, position: Position) -> None:
        """Wake everyone if the world changed since the last check."""
        seq = self._oracle.seq
        if seq != self._seen:
            self._seen = seq
            self.wake_all(position)

    def flush(self, until: datetime) -> None:
        """The run ends at ``until``: every dozing connection counts the syncs it slept
        through up to and including ``until`` (the scheduler fires what is due then)."""
        self.wake_all((until, sys.maxsize, ""))

    def wake_all(self, position: Position) -> None:
        sleepers, self._asleep = self._asleep, {}
        self.woken += len(sleepers)
        for sleeper in sleepers.values():
            sleeper.wake(position)
