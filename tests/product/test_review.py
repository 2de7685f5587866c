"""Edge cases of the scenario language through the product harness (a review's findings).

Each test is a scenario the language allows that the harness once got wrong; they run
conntrack's model in process (:func:`model_product`) or stop before any process starts,
so the file takes a second or two.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from conntrack._lifecycle import TransitionRecord
from conntrack.product._harness import ProductEnv, run_product_scenario, skip_reason
from conntrack.product._model import model_product
from conntrack.scenario import load_paths
from conntrack.scenario._model import Scenario
from conntrack.scenario._runner import RunResult, run_scenario

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "examples" / "reference" / "product.yaml"

POLICY_SCENARIO = """\
scenario: A policy override
seed: 3
start: 2026-04-06T09:00:00Z
until: 62d
company: {users: 2}
policy: {rules: [{providers: [facebook], reminders: [3d]}]}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
expect:
  - {email: expiry_reminder, about: fb, at: [57d]}
"""


def _load(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    [scenario] = load_paths([str(path)])
    return scenario


def test_a_scenario_policy_is_skipped_through_an_in_process_product(tmp_path: Path) -> None:
    """A product sends by its own notification policy: a scenario's ``policy:`` cannot
    reach it, so the scenario is skipped saying why, not run under another policy (it
    failed, the product's default reminders judged against the scenario's)."""
    scenario = _load(tmp_path, POLICY_SCENARIO)
    result = run_product_scenario(scenario, product=model_product)
    assert result.skipped is not None
    assert "policy:" in result.skipped
    assert str(tmp_path / "scenario.yaml") in result.skipped
    assert not result.outcomes and not result.error


def test_a_scenario_policy_is_skipped_through_a_product_file(tmp_path: Path) -> None:
    scenario = _load(tmp_path, POLICY_SCENARIO)
    reason = skip_reason(scenario)
    assert reason is not None and "policy:" in reason
    # Said before the product starts: no process, no fakes.
    result = run_product_scenario(scenario, REFERENCE)
    assert result.skipped == reason
    without = _load(
        tmp_path,
        POLICY_SCENARIO.replace(
            "policy: {rules: [{providers: [facebook], reminders: [3d]}]}\n", ""
        ),
    )
    assert skip_reason(without) is None


class _NoNext:
    """A product that does not say when it next has work (``next`` is optional): the
    world walks the ``step`` grid, and the product catches up at each instant."""

    def __init__(self, product: Any) -> None:
        self.product = product

    def __getattr__(self, name: str) -> Any:
        return getattr(self.product, name)

    async def advance(self, now: datetime) -> datetime | None:
        await self.product.advance(now)
        return None


def _no_next(env: ProductEnv) -> AbstractAsyncContextManager[Any]:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Any]:
        async with model_product(env) as product:
            yield _NoNext(product)

    return opened()


OFF_GRID_SYNCS = """\
scenario: The product's syncs are off the world's grid
seed: 4
start: 2026-04-06T09:00:00Z
until: 11d
company: {users: 2}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h, connect_at: 1h}
timeline:
  - {at: 10d, event: admin_removed, connection: fb}
expect:
  - {email: invalid, about: fb, to: all, within: 10d..10d 6h}
  - {at: 10d 1h, connection: fb, state: invalid}
"""


def test_a_change_is_not_dated_before_the_world_event_that_caused_it(tmp_path: Path) -> None:
    """Without ``next`` the world walks its grid (09:00, 15:00…) while the product syncs
    at 10:00, 16:00, 22:00, 04:00: at 10d 09:00 the world removes the admin, then the
    product runs its late 04:00 sync against that world and dates what it found at
    04:00, five hours before the cause. What the product finds at an instant where the
    world acted on the connection is dated no earlier than that instant."""
    scenario = _load(tmp_path, OFF_GRID_SYNCS)
    event = scenario.start + timedelta(days=10)
    result = run_product_scenario(scenario, product=_no_next)
    assert not result.error, result.error
    invalid = [
        r
        for r in result.timeline.records_only
        if isinstance(r, TransitionRecord) and r.dest == "invalid"
    ]
    assert invalid and all(r.at >= event for r in invalid)
    emails = [e for e in result.timeline.emails() if e.kind == "invalid"]
    assert emails and all(e.at >= event for e in emails)
    assert result.passed, [(o.summary, o.passed) for o in result.outcomes]


SAME_INSTANT_DISCONNECT_ADD = """\
scenario: A disconnect and an add at one instant
seed: 9
start: 2026-04-06T09:00:00Z
until: 12d
company: {users: 3}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
timeline:
  - {at: 5d, event: disconnect, connection: fb, by: user1}
  - {at: 5d, event: add, connection: fb, by: user3}
  - {at: 8d, event: password_change, connection: fb}
expect:
  - {transitions: fb, are: [disconnected, connected, 'invalid (password_changed)']}
"""


def _transitions(result: RunResult) -> list[tuple[Any, ...]]:
    return [
        (r.at, r.connection, r.trigger, r.dest, r.reason)
        for r in result.timeline.records_only
        if isinstance(r, TransitionRecord)
    ]


def test_a_disconnect_and_an_add_at_one_instant_are_both_seen(tmp_path: Path) -> None:
    """The world disconnects before the product's advance and adds after it: observed
    only at the end of the instant, the product shows 'connected' as before, so the
    disconnect and the add went unrecorded (and the disconnect's cause was pinned on the
    next change, the password change). The world looks right after its disconnect."""
    scenario = _load(tmp_path, SAME_INSTANT_DISCONNECT_ADD)
    result = run_product_scenario(scenario, product=model_product)
    assert not result.error, result.error
    assert _transitions(result) == _transitions(run_scenario(scenario))
    invalid = [r for r in result.timeline.records_only if isinstance(r, TransitionRecord)][-1]
    assert invalid.dest == "invalid" and "disconnected" not in (invalid.cause or "")
    assert result.passed


LOGIN_ON_A_SYNC = """\
scenario: A password change and a reconnect at a sync instant
seed: 11
start: 2026-04-06T09:00:00Z
until: 6d
company: {users: 2}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
timeline:
  - {at: 4d 6h, event: password_change, connection: fb}
  - {at: 4d 6h, event: reconnect, connection: fb, by: user1}
"""


def test_what_the_product_shows_before_a_login_is_seen(tmp_path: Path) -> None:
    """The world changes the password, the product advances (its 15:00 sync finds the
    token invalid and sends the invalid email), then the world reconnects. Looked at
    only after the login, the product was never seen invalid: the timeline had an
    invalid email with no incident. The world looks before its logins too."""
    scenario = _load(tmp_path, LOGIN_ON_A_SYNC)
    at = scenario.start + timedelta(days=4, hours=6)
    result = run_product_scenario(scenario, product=model_product)
    assert not result.error, result.error
    emails = [e for e in result.timeline.emails() if e.kind == "invalid"]
    assert emails, "the product's sync at the instant found the token invalid"
    dests = [(t[0], t[3]) for t in _transitions(result)]
    assert dests == [(at, "invalid"), (at, "reconnected")]


WRITTEN_ORDER = """\
scenario: A reconnect, then a password change, at one instant
seed: 21
start: 2026-04-06T09:00:00Z
until: 8d
company: {users: 2}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
timeline:
  - {at: 5d, event: password_change, connection: fb}
  - {at: 6d 3h, event: reconnect, connection: fb, by: user1}
  - {at: 6d 3h, event: password_change, connection: fb}
expect:
  - {at: 7d, connection: fb, state: invalid}
"""


def test_events_of_one_instant_are_played_in_the_written_order(tmp_path: Path) -> None:
    """In process the world plays one instant's events as written: the reconnect, then
    the password change, which invalidates the new token. The harness played every
    account event before every login, so the reconnect came last and stayed valid."""
    scenario = _load(tmp_path, WRITTEN_ORDER)
    result = run_product_scenario(scenario, product=model_product)
    assert not result.error, result.error
    assert _transitions(result) == _transitions(run_scenario(scenario))
    assert result.passed, [(o.summary, o.passed) for o in result.outcomes]


COMPANY_AFTER_A_LOGIN = """\
scenario: An opt-out written after a login, at a reminder's instant
seed: 22
start: 2026-04-06T09:00:00Z
until: 51d
company: {users: 2}
connections:
  fb: {provider: facebook, kind: owned, connected_by: user1, sync_every: 6h}
  tw: {provider: twitter, kind: owned, connected_by: user1, sync_every: 6h}
timeline:
  - {at: 50d, event: reconnect, connection: tw, by: user1}
  - {at: 50d, event: opt_out, user: user2}
expect:
  - {email: expiry_reminder, about: fb, reaches: user2, count: 0}
"""


def test_company_changes_come_before_the_products_advance(tmp_path: Path) -> None:
    """Events written after a login are played after it, but a company change still
    comes before the product's advance: the reminder due at that instant goes to the
    company as the in-process world has it then (user2 opted out)."""
    scenario = _load(tmp_path, COMPANY_AFTER_A_LOGIN)
    result = run_product_scenario(scenario, product=model_product)
    assert not result.error, result.error

    def sent(r: RunResult) -> list[tuple[Any, ...]]:
        return sorted((e.at, e.kind, e.about, e.to) for e in r.timeline.emails())

    assert sent(result) == sent(run_scenario(scenario))
    assert result.passed, [(o.summary, o.passed) for o in result.outcomes]


def test_a_change_the_world_did_not_cause_is_explained_in_the_products_words() -> None:
    from conntrack._notify import User
    from conntrack.product._interface import ConnectionView
    from conntrack.product._observe import Observer

    scenario = load_paths([ROOT / "scenarios" / "facebook_app_removed.yaml"])[0]
    observer = Observer(scenario, [User("user1", "Ada", "ada@x.test")])
    t0 = scenario.start
    observer.login_ok(t0, "page", "connect", "user1")
    raw = {"name": "page", "state": "needs_reconnect", "reason": "app_access_removed"}
    view = ConnectionView("page", "invalid", "access_revoked", raw=raw)
    observer.observe(t0 + timedelta(days=1), [view])
    [change] = [r for r in observer.recorder.records if isinstance(r, TransitionRecord)]
    assert (change.dest, change.reason) == ("invalid", "access_revoked")
    assert change.cause == "the product shows 'needs_reconnect' (app_access_removed)"
