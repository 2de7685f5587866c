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
    # The token dies 2026-03-06 08:59:04 UTC: reminders at 09:00 (the policy's send time,
    # UTC company) on Feb 24, Mar 1 and Mar 5, and on the day at the expiry itself, which
    # comes before 09:00.
    at_nine = [datetime(2026, 2, 24, 9, tzinfo=UTC), datetime(2026, 3, 1, 9, tzinfo=UTC)]
    assert sends == [*at_nine, datetime(2026, 3, 5, 9, tzinfo=UTC), expiry]
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


def test_reminder_instants_are_company_local_days_at_the_send_time() -> None:
    from datetime import time
    from zoneinfo import ZoneInfo

    from conntrack._notify import reminder_instant

    paris, nine = ZoneInfo("Europe/Paris"), time(9, 0)
    # Expiry Tuesday 2026-04-07 15:00 Paris (CEST, UTC+2): "10 days before" is the local
    # date 2026-03-28 at 09:00 — still CET (UTC+1), the clocks change on March 29.
    expiry = datetime(2026, 4, 7, 13, tzinfo=UTC)
    assert reminder_instant(expiry, 10 * DAY, paris, nine) == datetime(2026, 3, 28, 8, tzinfo=UTC)
    assert reminder_instant(expiry, 5 * DAY, paris, nine) == datetime(2026, 4, 2, 7, tzinfo=UTC)
    assert reminder_instant(expiry, 0 * DAY, paris, nine) == datetime(2026, 4, 7, 7, tzinfo=UTC)
    # An expiry at 06:00 local: "on the day" cannot be after it, so it goes at the expiry.
    early = datetime(2026, 4, 7, 4, tzinfo=UTC)
    assert reminder_instant(early, 0 * DAY, paris, nine) == early
    # The local date counts, not 24-hour steps: 00:30 Paris on April 8 is still April 7 UTC.
    midnight = datetime(2026, 4, 7, 22, 30, tzinfo=UTC)
    assert reminder_instant(midnight, DAY, paris, nine) == datetime(2026, 4, 7, 7, tzinfo=UTC)
    # Offsets that are not whole days are exact.
    assert reminder_instant(expiry, timedelta(hours=12), paris, nine) == expiry - timedelta(
        hours=12
    )
    # New York's spring-forward (2026-03-08): 09:00 EDT on that day is 13:00 UTC.
    ny = ZoneInfo("America/New_York")
    assert reminder_instant(datetime(2026, 3, 18, 20, tzinfo=UTC), 10 * DAY, ny, nine) == datetime(
        2026, 3, 8, 13, tzinfo=UTC
    )


def test_a_notifier_in_a_time_zone_sends_at_local_nine() -> None:
    from zoneinfo import ZoneInfo

    sim = SimClock(START)
    sched = Scheduler(sim)
    outbox = MemoryOutbox()
    notifier = Notifier(
        sched, Recorder(), USERS, [outbox], lambda c: "connected", tz=ZoneInfo("Asia/Tokyo")
    )
    expiry = START + timedelta(seconds=5183944)  # 2026-03-06 17:59:04 in Tokyo
    notifier.expiry_known(FB, expiry)
    trio.run(sched.run, START + 70 * DAY, clock=sim.mock_clock)
    sends = sorted({e.at for e in outbox.emails})
    assert [s.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%m-%d %H:%M") for s in sends] == [
        "02-24 09:00",
        "03-01 09:00",
        "03-05 09:00",
        "03-06 09:00",
    ]
    assert "Friday 6 March 2026, 17:59 JST" in outbox.emails[0].body
