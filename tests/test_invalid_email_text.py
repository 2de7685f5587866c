"""The invalid-connection email says what to do first for its reason (issue 14), as the
help centers of the products in the field tell people (``/work/shared/seeds``): complete
the security check and wait 24 hours, unlock or restore the X account, be a Designated or
Super Admin of the LinkedIn Page, switch Instagram to Business/Creator and link a Page,
grant every permission; and a line of its own for every other reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import trio

from conntrack._clock import Scheduler, SimClock
from conntrack._lifecycle import REASONS
from conntrack._notify import MemoryOutbox, Notifier, Subject, User, first_step
from conntrack._records import EmailRecord, Recorder

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
USERS = [User("user1", "Ann A", "ann@x.test"), User("user2", "Bob B", "bob@x.test")]
SUBJECTS = {
    "facebook": Subject("fb", "facebook", "owned", "Acme Page", "Facebook"),
    "twitter": Subject("x", "twitter", "owned", "@acme", "X"),
    "linkedin": Subject("li", "linkedin", "owned", "Acme Inc", "LinkedIn"),
    "instagram": Subject("ig", "instagram", "owned", "@acme.ig", "Instagram"),
    "instagram-facebook": Subject("igf", "instagram-facebook", "owned", "@acme", "Instagram"),
    "tiktok": Subject("tt", "tiktok", "owned", "@acme.tt", "TikTok"),
    "google": Subject("yt", "google", "owned", "Acme TV", "YouTube"),
}


def invalid_email(provider: str, reason: str) -> EmailRecord:
    """The invalid email a notifier sends when a ``provider`` connection turns invalid."""
    subject = SUBJECTS[provider]
    sim = SimClock(START)
    sched = Scheduler(sim)
    outbox = MemoryOutbox()
    notifier = Notifier(sched, Recorder(), USERS, [outbox], state_of=lambda c: "connected")
    sched.call_at(
        START + timedelta(hours=1), lambda: notifier.turned_invalid(subject, reason), priority=0
    )
    trio.run(sched.run, START + timedelta(days=1), clock=sim.mock_clock)
    assert [e.to for e in outbox.emails] == ["user1", "user2"]
    assert len({(e.subject, e.body) for e in outbox.emails}) == 1  # everyone reads the same
    return outbox.emails[0]


@pytest.mark.parametrize(
    ("provider", "reason", "phrases"),
    [
        ("facebook", "checkpoint", ["complete the security check", "wait 24 hours"]),
        ("instagram", "checkpoint", ["log in to Instagram", "wait 24 hours"]),
        ("twitter", "locked", ["unlock the account", "log in to X"]),
        ("twitter", "suspended", ["X account restored", "appeal"]),
        ("linkedin", "admin_removed", ["Designated Admin or Super Admin", "LinkedIn Page"]),
        ("linkedin", "insufficient_access", ["Designated Admin or Super Admin"]),
        ("facebook", "admin_removed", ["admin of the Facebook Page"]),
        ("instagram-facebook", "admin_removed", ["admin of the Facebook Page"]),
        ("instagram", "not_eligible", ["Business or Creator", "link it to a Facebook Page"]),
        ("instagram-facebook", "not_eligible", ["Business or Creator"]),
        ("google", "not_eligible", ["manages the YouTube channel"]),
        ("facebook", "permission_missing", ["grant every permission"]),
        ("tiktok", "permission_missing", ["grant every permission"]),
        ("facebook", "password_changed", ["new password"]),
        ("twitter", "password_changed", ["log in to X with the new password"]),
        ("linkedin", "access_revoked", ["access was removed in LinkedIn", "allow it again"]),
        ("facebook", "restricted", ["lift the restriction"]),
        ("linkedin", "restricted", ["log in to LinkedIn", "lift the restriction"]),
        ("facebook", "data_access_expired", ["every 90 days"]),
    ],
)
def test_the_email_says_what_to_do_first(provider: str, reason: str, phrases: list[str]) -> None:
    email = invalid_email(provider, reason)
    body = email.body.lower()
    assert "what to do first:" in body
    for phrase in phrases:
        assert phrase.lower() in body, f"{provider}/{reason}: {phrase!r} not in {email.body!r}"
    assert reason.replace("_", " ") in body  # the reason itself is still named
    assert email.detail == {"reason": reason}


def test_x_advice_is_not_given_for_other_providers() -> None:
    """Unlocking an account is X's wording; a locked Facebook account names Facebook."""
    body = invalid_email("facebook", "locked").body
    assert "log in to Facebook and unlock the account" in body
    assert " X " not in body


@pytest.mark.parametrize("reason", REASONS)
def test_every_reason_has_a_line_of_its_own(reason: str) -> None:
    """No reason falls back to another's advice (only ``unknown`` is the generic line)."""
    line = first_step("facebook", "Facebook", "Acme Page", reason)
    assert line and "{" not in line
    generic = first_step("facebook", "Facebook", "Acme Page", "unknown")
    assert (line == generic) == (reason == "unknown")
