from datetime import UTC, datetime, timedelta

import pytest
import trio

from conntrack._clock import Scheduler, SimClock, TravelClock

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_simclock_maps_trio_time_to_datetimes() -> None:
    sim = SimClock(START)

    async def main() -> list[datetime]:
        seen = [sim.now()]
        await sim.sleep_until(START + timedelta(days=365))
        seen.append(sim.now())
        await trio.sleep(3600)
        seen.append(sim.now())
        return seen

    assert trio.run(main, clock=sim.mock_clock) == [
        START,
        START + timedelta(days=365),
        START + timedelta(days=365, hours=1),
    ]


def test_simclock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(datetime(2026, 1, 5))


def test_a_year_of_wakeups_is_fast() -> None:
    sim = SimClock(START)
    count = 0

    async def main() -> None:
        nonlocal count
        for _ in range(365 * 4):
            await trio.sleep(6 * 3600)
            count += 1

    trio.run(main, clock=sim.mock_clock)
    assert count == 1460
    assert sim.now() == START + timedelta(days=365)


def test_scheduler_orders_same_instant_by_priority_then_key_and_lets_each_finish() -> None:
    sim = SimClock(START)
    sched = Scheduler(sim)
    log: list[str] = []
    send, recv = trio.open_memory_channel[str](10)

    async def worker() -> None:
        async for name in recv:
            # Work that yields many times: the scheduler must wait for it to finish.
            for _ in range(5):
                await trio.lowlevel.checkpoint()
            log.append(f"{name}@{(sim.now() - START).days}")

    t = START + timedelta(days=2)
    for name, prio, key in [
        ("sync-b", 3, "b"),
        ("event", 0, "x"),
        ("sync-a", 3, "a"),
        ("notify", 1, "z"),
    ]:
        sched.call_at(t, lambda n=name: send.send_nowait(n), priority=prio, key=key)
    cancelled = sched.call_at(t, lambda: send.send_nowait("never"), priority=0, key="y")
    sched.cancel(cancelled)
    sched.call_at(START + timedelta(days=1), lambda: send.send_nowait("early"), priority=9)

    async def main() -> None:
        async with trio.open_nursery() as n:
            n.start_soon(worker)
            await sched.run(START + timedelta(days=3))
            n.cancel_scope.cancel()

    trio.run(main, clock=sim.mock_clock)
    assert log == ["early@1", "event@2", "notify@2", "sync-a@2", "sync-b@2"]
    assert sim.now() == START + timedelta(days=3)
    assert sched.fired == 5


def test_scheduler_stops_at_until() -> None:
    sim = SimClock(START)
    sched = Scheduler(sim)
    fired: list[int] = []
    sched.call_at(START + timedelta(days=10), lambda: fired.append(1), priority=0)
    trio.run(sched.run, START + timedelta(days=5), clock=sim.mock_clock)
    assert fired == []
    assert sched.next_due() == START + timedelta(days=10)


def test_travel_clock_moves_forward_only() -> None:
    wall = START
    clock = TravelClock(wall=lambda: wall)
    assert clock.now() == START
    assert clock.advance(timedelta(days=60)) == START + timedelta(days=60)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))
    wall = START + timedelta(seconds=5)
    assert clock.now() == START + timedelta(days=60, seconds=5)
