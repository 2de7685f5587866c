"""A failed 'add' can be retried (issue 14): the loader allows 'add' and 'reconnect' after
an 'add', since it cannot know whether that 'add' succeeds; at run time a login that does
not fit the connection's state is a failed attempt that says what to do instead, never a
silent no-op."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from conntrack._actors import ALREADY_DISCONNECTED, CodeReceived, ConnectionActor
from conntrack._clock import Scheduler, SimClock
from conntrack._exceptions import ScenarioError
from conntrack._lifecycle import Connection, State, fire
from conntrack._notify import Subject
from conntrack._records import EventRecord, Recorder, Timeline
from conntrack._worldcontrol import POPUP_BLOCKED
from conntrack.scenario import load_file
from conntrack.scenario._runner import run_scenario

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
d, h, m = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
HEAD = """\
scenario: add retry
start: 2026-03-02T09:00:00Z
until: 40d
company: {users: 3}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
timeline:
"""


def write(tmp_path: Path, timeline: str, expect: str = "") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + timeline + (f"expect:\n{expect}" if expect else ""), "utf-8")
    return path


def run(tmp_path: Path, timeline: str) -> Timeline:
    [scenario] = load_file(write(tmp_path, timeline))
    return run_scenario(scenario).timeline


def events(tl: Timeline, kind: str) -> list[EventRecord]:
    return [
        r
        for r in tl.records_only
        if isinstance(r, EventRecord) and r.event == kind and r.connection
    ]


def moves(tl: Timeline) -> list[tuple[timedelta, str]]:
    return [(t.at - START, t.dest) for t in tl.transitions("fb")]


# -- the loader -------------------------------------------------------------------------


def test_after_an_add_both_add_and_reconnect_load(tmp_path: Path) -> None:
    [s] = load_file(
        write(
            tmp_path,
            """\
  - {at: 10d, event: disconnect, connection: fb}
  - {at: 11d, event: add, connection: fb, popup: blocked}
  - {at: 12d, event: add, connection: fb}
  - {at: 13d, event: reconnect, connection: fb}
  - {at: 14d, event: add, connection: fb}
  - {at: 15d, event: disconnect, connection: fb}
""",
        )
    )
    assert [e.event for e in s.timeline] == [
        "disconnect", "add", "add", "reconnect", "add", "disconnect",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("timeline", "line", "message"),
    [
        (  # a reconnect right after a disconnect: the loader knows it cannot fit
            "  - {at: 10d, event: disconnect, connection: fb}\n"
            "  - {at: 11d, event: reconnect, connection: fb}\n",
            9,
            "'reconnect' at 11d: connection 'fb' is disconnected then; add it again first "
            "({event: add, by: userN})",
        ),
        (  # also after an add and a disconnect again
            "  - {at: 10d, event: disconnect, connection: fb}\n"
            "  - {at: 11d, event: add, connection: fb}\n"
            "  - {at: 12d, event: disconnect, connection: fb}\n"
            "  - {at: 13d, event: reconnect, connection: fb}\n",
            11,
            "'reconnect' at 13d: connection 'fb' is disconnected then; add it again first "
            "({event: add, by: userN})",
        ),
        (  # an add of a connection that was never disconnected
            "  - {at: 10d, event: add, connection: fb}\n",
            8,
            "'add' at 10d: connection 'fb' is not disconnected; disconnect it first "
            "({event: disconnect}), or use 'reconnect'",
        ),
    ],
)
def test_what_the_loader_knows_is_still_refused(
    tmp_path: Path, timeline: str, line: int, message: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_file(write(tmp_path, timeline))
    [problem] = info.value.problems
    assert (problem.line, problem.message) == (line, message)


# -- the run ----------------------------------------------------------------------------


def test_a_blocked_add_is_retried_with_an_add(tmp_path: Path) -> None:
    tl = run(
        tmp_path,
        """\
  - {at: 10d, event: disconnect, connection: fb, by: user2}
  - {at: 11d, event: add, connection: fb, by: user2, popup: blocked}
  - {at: 11d 1h, event: add, connection: fb, by: user2}
""",
    )
    assert [(r.at - START, r.detail) for r in events(tl, "connect_failed")] == [
        (11 * d, POPUP_BLOCKED)
    ]
    assert moves(tl) == [(10 * d, "disconnected"), (11 * d + h, "connected")]
    # The retry's token is in force: syncing resumes at once.
    gaps = tl.gaps["fb"]
    assert [(g.start - START, g.end and g.end - START) for g in gaps] == [(10 * d, 11 * d + h)]


def test_a_reconnect_of_a_connection_whose_add_failed_says_add_instead(tmp_path: Path) -> None:
    tl = run(
        tmp_path,
        """\
  - {at: 10d, event: disconnect, connection: fb}
  - {at: 11d, event: add, connection: fb, popup: blocked}
  - {at: 12d, event: reconnect, connection: fb, by: user3}
  - {at: 13d, event: add, connection: fb}
""",
    )
    failed = events(tl, "connect_failed")
    assert [(r.at - START, r.by) for r in failed] == [(11 * d, "user1"), (12 * d, "user3")]
    assert failed[1].detail == (
        "reconnect does not fit: connection 'fb' is disconnected (the product offers "
        "Reconnect only for a connection it still has); add it again instead ({event: add})"
    )
    # Nothing was taken from the misfit: still disconnected, no data until the add.
    assert moves(tl) == [(10 * d, "disconnected"), (13 * d, "connected")]
    [gap] = tl.gaps["fb"]
    assert (gap.start - START, gap.end and gap.end - START) == (10 * d, 13 * d)


def test_an_add_of_a_connection_whose_add_succeeded_says_reconnect_instead(
    tmp_path: Path,
) -> None:
    tl = run(
        tmp_path,
        """\
  - {at: 10d, event: disconnect, connection: fb}
  - {at: 11d, event: add, connection: fb, by: user2}
  - {at: 12d, event: add, connection: fb, by: user3}
  - {at: 13d, event: reconnect, connection: fb, by: user2}
""",
    )
    [failed] = events(tl, "connect_failed")
    assert (failed.at - START, failed.by) == (12 * d, "user3")
    assert failed.detail == (
        "add does not fit: connection 'fb' is connected, not disconnected (the product "
        "offers Add only for a disconnected connection); use 'reconnect' instead"
    )
    # The misfit add changed nothing; the reconnect after it is an ordinary one.
    assert moves(tl) == [(10 * d, "disconnected"), (11 * d, "connected"), (13 * d, "connected")]
    assert [t.trigger for t in tl.transitions("fb")] == ["disconnect", "add", "reconnect"]


def test_a_disconnect_after_a_failed_add_says_there_was_nothing_to_do(tmp_path: Path) -> None:
    tl = run(
        tmp_path,
        """\
  - {at: 10d, event: disconnect, connection: fb}
  - {at: 11d, event: add, connection: fb, popup: blocked}
  - {at: 12d, event: disconnect, connection: fb}
""",
    )
    assert [(r.at - START, r.detail) for r in events(tl, "disconnect")] == [
        (10 * d, ""),
        (12 * d, ALREADY_DISCONNECTED),
    ]
    assert moves(tl) == [(10 * d, "disconnected")]


def test_the_library_case_passes_and_counts_one_failed_attempt() -> None:
    path = Path(__file__).parents[2] / "scenarios" / "facebook_add_retry_after_popup_blocked.yaml"
    [scenario] = load_file(path)
    result = run_scenario(scenario)
    assert all(o.passed for o in result.outcomes), [o for o in result.outcomes if not o.passed]


# -- the actor: a code that arrives after the state changed ---------------------------


class _NoClient:
    """A client the actor must not reach: a misfit code is refused before any call."""

    profile: dict[str, object] = {"default_scopes": []}

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the client was called: {name}")


@pytest.mark.parametrize(
    ("state", "cause", "fits"),
    [
        (State.DISCONNECTED, "reconnect", False),
        (State.CONNECTED, "add", False),
        (State.EXPIRED, "add", False),
        (State.DISCONNECTED, "add", True),
        (State.INVALID, "reconnect", True),
    ],
)
def test_a_code_for_a_login_that_no_longer_fits_is_a_failed_attempt(
    state: str, cause: str, fits: bool
) -> None:
    sim = SimClock(START)
    recorder = Recorder()
    actor = ConnectionActor(
        id="fb",
        client=_NoClient(),  # type: ignore[arg-type]
        subject=Subject("fb", "facebook", "owned", "Acme", "Page"),
        account_id="1",
        sync_every=6 * h,
        notice_window=10 * d,
        scheduler=Scheduler(sim),
        recorder=recorder,
        notifier=None,  # type: ignore[arg-type]
    )
    assert actor.misfit("connect") is None  # the first login always fits
    actor.model = Connection("fb")
    path = {
        State.DISCONNECTED: ["disconnect"],
        State.EXPIRED: ["expire"],
        State.INVALID: ["invalidate"],
        State.CONNECTED: [],
    }[state]
    for trigger in path:
        fire(actor.model, trigger, at=START, sink=lambda r: None, reason="unknown")
    assert actor.state == state
    assert (actor.misfit(cause) is None) is fits
    if fits:
        return
    trio.run(actor._on_code, CodeReceived("code", "s", "user2", cause))
    [record] = recorder.records
    assert isinstance(record, EventRecord) and record.event == "connect_failed"
    assert record.detail == actor.misfit(cause) and f"is {state}" in record.detail
    assert actor.state == state and actor.token is None
