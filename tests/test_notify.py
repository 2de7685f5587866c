import io
import json
from datetime import UTC, datetime, timedelta

import trio

from conntrack._clock import Scheduler, SimClock
from conntrack._notify import JsonlOutbox, MemoryOutbox, Notifier, Subject, User, policy_for
from conntrack._records import Recorder

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
DAY = timedelta(days=1)
USERS = [
    User("user1", "Ann A", "ann@x.test"),
    User("user2", "Bob B", "bob@x.test"),
    User("user3", "Cy C", "cy@x.test", opted_out=True),
]
FB = Subject("fb", "facebook", "owned", "Acme Page", "Facebook")


def run(plan, until: timedelta, states: dict[str, str] | None = None) -> list:
    """Build a notifier, let ``plan(notifier, scheduler)`` schedule, run, return the emails."""
    sim = SimClock(START)
    sched = Scheduler(sim)
    outbox = MemoryOutbox()
    states = states if states is not None else {}
    notifier = Notifier(
        sched,
        Recorder(),
        USERS,
        [outbox],
        state_of=lambda c: states.get(c, "connected"),
        policies={
            ("facebook", "owned"): policy_for("facebook", "owned"),
            ("facebook", "monitored"): policy_for("facebook", "monitored"),
        },
    )
    plan(notifier, sched)
    trio.run(sched.run, START + until, clock=sim.mock_clock)
    return outbox.emails


def offsets(emails: list) -> list[tuple[timedelta, str]]:
    return [(e.at - START, e.to) for e in emails]


def test_owned_facebook_reminders_10_5_1_0_days_before_to_users_not_opted_out() -> None:
    expiry = START + timedelta(seconds=5183944)
    emails = run(lambda n, s: n.expiry_known(FB, expiry), 70 * DAY)
    sends = sorted({e.at for e in emails})
    assert sends == [expiry - 10 * DAY, expiry - 5 * DAY, expiry - DAY, expiry]
    assert {e.to for e in emails} == {"user1", "user2"}
    assert len(emails) == 8
    assert all(e.kind == "expiry_reminder" and e.about == "fb" for e in emails)
    assert "expires in 10 days" in emails[0].subject
    assert "expires today" in emails[-1].subject
    assert "https://app.conntrack.test/connections/fb/reconnect" in emails[0].body


def test_monitored_facebook_only_10_days_before() -> None:
    subject = Subject("m", "facebook", "monitored", "Rival Page", "Facebook")
    emails = run(lambda n, s: n.expiry_known(subject, START + 60 * DAY), 70 * DAY)
    assert sorted({e.at - START for e in emails}) == [50 * DAY]


def test_new_expiry_replaces_pending_reminders() -> None:
    def plan(n: Notifier, s: Scheduler) -> None:
        n.expiry_known(FB, START + 60 * DAY)
        # On day 40 the user reconnects: a new token expiring on day 100.
        s.call_at(START + 40 * DAY, lambda: n.expiry_known(FB, START + 100 * DAY), priority=0)

    emails = run(plan, 110 * DAY)
    assert sorted({e.at - START for e in emails}) == [90 * DAY, 95 * DAY, 99 * DAY, 100 * DAY]


def test_reminders_in_the_past_are_not_sent() -> None:
    emails = run(lambda n, s: n.expiry_known(FB, START + 3 * DAY), 10 * DAY)
    assert sorted({e.at - START for e in emails}) == [2 * DAY, 3 * DAY]


def test_no_reminder_for_an_invalid_connection() -> None:
    emails = run(lambda n, s: n.expiry_known(FB, START + 60 * DAY), 70 * DAY, {"fb": "invalid"})
    assert emails == []


def test_invalid_email_reaches_everyone_once() -> None:
    def plan(n: Notifier, s: Scheduler) -> None:
        n.expiry_known(FB, START + 60 * DAY)
        s.call_at(START + 20 * DAY, lambda: n.turned_invalid(FB, "password_changed"), priority=0)

    emails = run(plan, 70 * DAY)
    assert offsets(emails) == [(20 * DAY, "user1"), (20 * DAY, "user2"), (20 * DAY, "user3")]
    assert "password changed" in emails[0].body
    assert emails[0].detail == {"reason": "password_changed"}


def test_jsonl_outbox_writes_one_object_a_line() -> None:
    stream = io.StringIO()
    outbox = JsonlOutbox(stream, scenario="demo")
    for email in run(lambda n, s: n.turned_invalid(FB, "checkpoint"), DAY):
        outbox.deliver(email)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [d["to"] for d in lines] == ["user1", "user2", "user3"]
    assert lines[0]["scenario"] == "demo" and lines[0]["at"] == "2026-01-05T09:00:00Z"
    assert lines[0]["kind"] == "invalid" and lines[0]["address"] == "ann@x.test"
