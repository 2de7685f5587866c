"""Who each email send reached, who it left out and why; the schedule by person.

A product manager reading a schedule asks "why did Jane not get that reminder?". The run
answers it: the company's events (``user_joined``, ``user_left``, ``opt_out``,
``opt_in``) are records of its timeline, in the order they happened among the emails, so
replaying them beside the sends says, for every send, where each person stood at that
instant:

- **opted out** — a member who opted out of reminder emails (an opt-out never silences
  the invalid-connection email unless the policy says ``invalid: {opt_out_silences:
  true}``, so an opted-out member who got one is simply a recipient);
- **left** — someone who left the company before the send (``user_left``);
- **not yet joined** — someone who joins later (``user_joined``);
- **not sent** — a member, opted in, who still got nothing (the model never does this; a
  word of its own so that it can never hide behind another reason).

:func:`by_recipient` turns the schedule around: each person, every send, and whether it
reached them or why not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._records import EventRecord
from .scenario._model import COMPANY_EVENTS, Scenario

if TYPE_CHECKING:
    from ._schedule import Row
    from .scenario._runner import RunResult

OPTED_OUT, LEFT, NOT_YET_JOINED, NOT_SENT = "opted out", "left", "not yet joined", "not sent"
REASONS = (OPTED_OUT, LEFT, NOT_YET_JOINED, NOT_SENT)
"""Why a person did not get a send, in the order the schedule lists them."""


class Company:
    """The company's people as the run had them: members, leavers, opted-out members,
    moved forward by the company events of the timeline, one at a time."""

    def __init__(self, scenario: Scenario) -> None:
        self.everyone: list[str] = scenario.users
        """Everyone who is ever a member, first the company's users, then who joins."""
        self.members = [f"user{i}" for i in range(1, scenario.company.users + 1)]
        self.opted_out = set(scenario.company.opt_out)
        self.gone: set[str] = set()

    def apply(self, record: EventRecord) -> None:
        """One company event (any other record is none of its business)."""
        user = record.by
        if record.connection or record.event not in COMPANY_EVENTS or not user:
            return
        if record.event == "user_joined" and user not in self.members:
            self.members.append(user)
            self.gone.discard(user)
        elif record.event == "user_left" and user in self.members:
            self.members.remove(user)
            self.gone.add(user)
        elif record.event == "opt_out":
            self.opted_out.add(user)
        elif record.event == "opt_in":
            self.opted_out.discard(user)

    def why_not(self, user: str) -> str:
        """Why ``user`` would not get an email sent now (if they did not)."""
        if user not in self.members:
            return LEFT if user in self.gone else NOT_YET_JOINED
        return OPTED_OUT if user in self.opted_out else NOT_SENT


def left_out(
    everyone: Sequence[str], recipients: Sequence[str], why: dict[str, str]
) -> dict[str, list[str]]:
    """Who of ``everyone`` did not get the send, by reason (every reason a key)."""
    out: dict[str, list[str]] = {reason: [] for reason in REASONS}
    got = set(recipients)
    for user in everyone:
        if user not in got:
            out[why.get(user, NOT_SENT)].append(user)
    return out


def left_out_text(row: Row, sep: str = "; ") -> str:
    """``opted out: user2; not yet joined: user5`` (empty when nobody was left out)."""
    parts = [f"{reason}: {' '.join(users)}" for reason, users in reasons_of(row).items() if users]
    return sep.join(parts)


def reasons_of(row: Row) -> dict[str, list[str]]:
    """A row's left-out people by reason, read back from its fields."""
    return {
        OPTED_OUT: row.opted_out.split(),
        LEFT: row.left.split(),
        NOT_YET_JOINED: row.not_yet_joined.split(),
        NOT_SENT: row.not_sent.split(),
    }


@dataclass(frozen=True)
class PersonSend:
    """One email send as one person saw it: it reached them, or why it did not."""

    row: Row
    sent: bool
    why: str | None
    """``None`` when sent; else one of :data:`REASONS`."""


@dataclass(frozen=True)
class Person:
    user: str
    name: str
    sends: tuple[PersonSend, ...]

    @property
    def received(self) -> int:
        return sum(1 for s in self.sends if s.sent)


def by_recipient(result: RunResult, rows: Sequence[Row]) -> list[Person]:
    """Each person who is ever a member: every email send, reached or why not."""
    names = {u.id: u.name for u in result.users}
    emails = [r for r in rows if r.channel == "email"]
    people = []
    for user in result.scenario.users:
        sends = []
        for row in emails:
            if user in row.recipients.split():
                sends.append(PersonSend(row, True, None))
                continue
            why = next((k for k, v in reasons_of(row).items() if user in v), NOT_SENT)
            sends.append(PersonSend(row, False, why))
        people.append(Person(user, names.get(user, ""), tuple(sends)))
    return people


def people_dict(people: Sequence[Person]) -> list[dict[str, object]]:
    """The by-person view for ``--json``: each person, each send, sent or why not."""
    return [
        {
            "user": p.user,
            "name": p.name,
            "received": p.received,
            "sends": [
                {
                    "at": s.row.at,
                    "local": s.row.local,
                    "kind": s.row.kind,
                    "about": s.row.about,
                    "sent": s.sent,
                    "despite_opt_out": s.sent and p.user in s.row.opted_out_reached.split(),
                    "why_not": s.why,
                }
                for s in p.sends
            ],
        }
        for p in people
    ]
