from datetime import UTC, datetime

import pytest

from conntrack._exceptions import LifecycleError
from conntrack._lifecycle import (
    MACHINE,
    REASONS,
    STATES,
    TRANSITIONS,
    Connection,
    TransitionRecord,
    can_fire,
    fire,
    mermaid,
)

AT = datetime(2026, 1, 5, tzinfo=UTC)

# The whole table, as (state, trigger) -> destination: the lifecycle of DESIGN.md.
EXPECTED = {
    ("connected", "near_expiry"): "expiring",
    ("reconnected", "near_expiry"): "expiring",
    ("expiring", "renew"): "connected",
    ("connected", "expire"): "expired",
    ("reconnected", "expire"): "expired",
    ("expiring", "expire"): "expired",
    ("connected", "invalidate"): "invalid",
    ("reconnected", "invalidate"): "invalid",
    ("expiring", "invalidate"): "invalid",
    ("expiring", "reconnect"): "reconnected",
    ("expired", "reconnect"): "reconnected",
    ("invalid", "reconnect"): "reconnected",
    ("connected", "reconnect"): "connected",
    ("reconnected", "reconnect"): "reconnected",
    **{(s, "disconnect"): "disconnected" for s in STATES if s != "disconnected"},
    ("disconnected", "add"): "connected",
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("trigger", sorted({t["trigger"] for t in TRANSITIONS}))
def test_table(state: str, trigger: str) -> None:
    conn = Connection("c", state)
    records: list[TransitionRecord] = []
    dest = EXPECTED.get((state, trigger))
    assert can_fire(conn, trigger) is (dest is not None)
    if dest is None:
        with pytest.raises(LifecycleError, match=f"cannot {trigger} from state '{state}'"):
            fire(conn, trigger, at=AT, sink=records.append)
        assert conn.state == state and records == []
    else:
        rec = fire(conn, trigger, at=AT, sink=records.append, reason="r", cause="why")
        assert conn.state == dest
        assert records == [rec]
        assert rec == TransitionRecord(AT, "c", trigger, state, dest, "r", "why")


def test_machine_holds_no_models() -> None:
    conns = [Connection(str(i)) for i in range(100)]
    for c in conns:
        fire(c, "invalidate", at=AT, sink=lambda r: None, reason="password_changed")
    assert MACHINE.models == []
    assert {c.state for c in conns} == {"invalid"}


def test_vocabulary_matches_design() -> None:
    assert STATES == ("connected", "expiring", "expired", "invalid", "reconnected", "disconnected")
    assert "password_changed" in REASONS and "refresh_failed" in REASONS and len(REASONS) == 13


def test_unknown_trigger() -> None:
    with pytest.raises(LifecycleError, match="unknown trigger"):
        fire(Connection("c"), "explode", at=AT, sink=lambda r: None)


def test_mermaid_comes_from_the_table() -> None:
    text = mermaid()
    assert text.startswith("stateDiagram-v2")
    assert "invalid --> reconnected: reconnect" in text
