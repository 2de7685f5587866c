"""The connection actor's refresh logic, against a stub client (no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import trio

from conntrack import Action, Reason, Verdict, load_profile
from conntrack._actors import CodeReceived, ConnectionActor
from conntrack._clock import Scheduler, SimClock
from conntrack._notify import MemoryOutbox, Notifier, Policy, Subject, User
from conntrack._records import Recorder, Timeline
from conntrack.clients import Answer, ProviderCallError, TokenInfo

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class StubClient:
    """A provider with a refresh grant: access tokens of ``access``, a refresh token of
    ``refresh_life`` that does (or does not) reset when used."""

    clock: SimClock
    access: timedelta = 60 * DAY
    refresh_life: timedelta | None = 365 * DAY
    resets: bool = False
    margin: timedelta = 7 * DAY
    fail_refresh_at: datetime | None = None
    access_dies_at: datetime | None = None
    """From then on, access tokens issued before it are refused with a `refresh` verdict."""
    protocol: ClassVar[str] = "stub"
    profile: object = field(default_factory=lambda: load_profile("linkedin"))
    refreshes: list[datetime] = field(default_factory=list)
    reads: int = 0

    def authorize_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        return f"https://stub/authorize?state={state}"

    def _info(self, refresh_expires: datetime | None) -> TokenInfo:
        now = self.clock.now()
        return TokenInfo(
            access_token=f"a-{now.isoformat()}",
            expires_at=now + self.access,
            hard_expiry=refresh_expires,
            refresh_token="r",
            refresh_expires_at=refresh_expires,
            issued_at=now,
        )

    async def connect(self, code: str, state: str) -> TokenInfo:
        return self._info(self.clock.now() + self.refresh_life if self.refresh_life else None)

    def can_refresh(self, info: TokenInfo) -> bool:
        return info.refresh_expires_at is None or self.clock.now() < info.refresh_expires_at

    def refresh_due(self, info: TokenInfo) -> datetime | None:
        assert info.expires_at is not None
        return info.expires_at - self.margin

    async def refresh(self, info: TokenInfo) -> TokenInfo:
        now = self.clock.now()
        if self.fail_refresh_at and now >= self.fail_refresh_at:
            verdict = Verdict(Action.RECONNECT, Reason.REFRESH_FAILED, code="invalid_request")
            raise ProviderCallError("refresh", Answer(400, {"error": "invalid_request"}, verdict))
        self.refreshes.append(now)
        if self.resets and self.refresh_life:
            return self._info(now + self.refresh_life)
        return self._info(info.refresh_expires_at)

    async def read(self, info: TokenInfo) -> Answer:
        self.reads += 1
        now = self.clock.now()
        dies = self.access_dies_at
        if dies and now >= dies and info.issued_at is not None and info.issued_at < dies:
            return Answer(401, {}, Verdict(Action.REFRESH, code="401", message="Unauthorized"))
        assert info.expires_at and self.clock.now() < info.expires_at, "read with a dead token"
        return Answer(200, {"data": []}, Verdict(Action.OK))

    async def revoke(self, info: TokenInfo) -> Answer:
        return Answer(200, {}, Verdict(Action.OK))


def run(client_kwargs: dict[str, object], until: timedelta) -> tuple[Timeline, StubClient, list]:
    sim = SimClock(START)
    sched = Scheduler(sim)
    recorder = Recorder()
    outbox = MemoryOutbox()
    client = StubClient(sim, **client_kwargs)  # type: ignore[arg-type]
    actors: dict[str, ConnectionActor] = {}
    notifier = Notifier(
        sched,
        recorder,
        [User("user1", "Ann", "ann@x.test")],
        [outbox],
        state_of=lambda c: actors[c].state,
        policies={("linkedin", "owned"): Policy(reminders=(10 * DAY, 5 * DAY, DAY, 0 * DAY))},
    )
    actor = ConnectionActor(
        id="li",
        client=client,  # type: ignore[arg-type]
        subject=Subject("li", "linkedin", "owned", "Acme", "LinkedIn"),
        account_id="1",
        sync_every=timedelta(hours=6),
        notice_window=10 * DAY,
        scheduler=sched,
        recorder=recorder,
        notifier=notifier,
    )
    actors["li"] = actor

    def connect() -> None:
        url = actor.begin_authorize()
        state = url.rsplit("=", 1)[1]
        actor.deliver_code(CodeReceived("code", state, "user1", "connect"))

    sched.call_at(START, connect, priority=0)

    async def main() -> None:
        async with trio.open_nursery() as n:
            n.start_soon(actor.run)
            await sched.run(START + until)
            n.cancel_scope.cancel()

    trio.run(main, clock=sim.mock_clock)
    return Timeline(recorder, START, START + until), client, outbox.emails


def transitions(tl: Timeline) -> list[tuple[timedelta, str, str]]:
    return [(t.at - START, t.trigger, t.dest) for t in tl.transitions("li")]


def test_non_resetting_refresh_token_expires_at_365_days_with_notice_before() -> None:
    tl, client, emails = run({}, 400 * DAY)
    # Refreshed before each 60-day access token runs out, never losing a sync ...
    assert client.refreshes and all(r - START < 365 * DAY for r in client.refreshes)
    assert tl.syncs["li"].failed == 0
    # ... and yet `expiring` only 10 days before the refresh token dies, not before each
    # access token; expired at 365 days.
    assert transitions(tl) == [
        (355 * DAY, "near_expiry", "expiring"),
        (365 * DAY, "expire", "expired"),
    ]
    assert sorted({e.at - START for e in emails}) == [355 * DAY, 360 * DAY, 364 * DAY, 365 * DAY]


def test_refreshes_happen_within_the_margin_before_each_access_expiry() -> None:
    _, client, _ = run({}, 200 * DAY)
    first = client.refreshes[0] - START
    assert 53 * DAY <= first < 54 * DAY  # 60 days less the 7-day margin, at a sync instant
    gaps = [b - a for a, b in zip(client.refreshes, client.refreshes[1:], strict=False)]
    assert all(52 * DAY <= g <= 54 * DAY for g in gaps)


def test_a_resetting_refresh_token_never_expires() -> None:
    tl, client, emails = run({"resets": True}, 800 * DAY)
    assert transitions(tl) == []
    assert emails == []
    assert len(client.refreshes) >= 14


def test_a_failed_refresh_turns_the_connection_invalid_once() -> None:
    tl, _, emails = run({"fail_refresh_at": START + 100 * DAY}, 200 * DAY)
    [(at, trigger, dest)] = transitions(tl)
    assert (trigger, dest) == ("invalidate", "invalid")
    assert 100 * DAY <= at <= 114 * DAY
    [t] = tl.transitions("li")
    assert t.reason == "refresh_failed" and t.cause == "refresh answered 400 invalid_request"
    assert [e.kind for e in emails] == ["invalid"]
    assert tl.gaps["li"][0].start == t.at


def test_a_refused_access_token_is_refreshed_and_the_read_retried() -> None:
    tl, client, emails = run({"access_dies_at": START + 10 * DAY + timedelta(hours=1)}, 30 * DAY)
    assert transitions(tl) == []
    assert [r - START for r in client.refreshes] == [10 * DAY + timedelta(hours=6)]
    assert tl.syncs["li"].failed == 0 and "li" not in tl.gaps
    assert emails == []


def test_a_refused_access_token_whose_refresh_fails_turns_invalid() -> None:
    at = START + 10 * DAY + timedelta(hours=1)
    tl, _, emails = run({"access_dies_at": at, "fail_refresh_at": at}, 30 * DAY)
    [t] = tl.transitions("li")
    assert (t.at - START, t.dest, t.reason) == (
        10 * DAY + timedelta(hours=6),
        "invalid",
        "refresh_failed",
    )
    assert [e.kind for e in emails] == ["invalid"]
