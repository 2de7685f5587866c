"""The fakes' state saved and loaded: the core's document (``Core.dump``/``Core.load``),
the SQLite state file, and ``prepare(state=…)`` restarting from it — in-process."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conntrack._clock import TravelClock
from conntrack._serve import prepare
from conntrack._statefile import StateError, StateFile
from fake_providers import Core, Reason, create_app
from fake_providers.core import _persist
from fake_providers.core._persist import StateFormatError, StateProviderError

from .support import REDIRECT, ManualClock, populate, tiktok_2026


def restarted(core: Core, clock: ManualClock, **kw: Any) -> Core:
    """A new core (other seed) loaded from ``core``'s document through JSON text."""
    other = Core(clock, seed=12345, **kw)
    other.load(json.loads(json.dumps(core.dump())))
    return other


def test_every_core_attribute_is_saved_or_rebuilt() -> None:
    """A new attribute on the core must be added to the document (or declared rebuilt)."""
    assert set(vars(Core(ManualClock()))) == set(_persist.CORE_ATTRIBUTES)


def test_dump_and_load_give_the_same_state() -> None:
    clock = ManualClock()
    core = Core(clock, seed=4, profiles=tiktok_2026())
    populate(core)
    again = restarted(core, clock, profiles=tiktok_2026())
    assert again.dump() == core.dump()
    assert again.snapshot() == core.snapshot()
    assert again.seq == core.seq and again.seed == 4
    # The seeded generators go on where they were: the next ids are the ones the
    # original would have given, never ones it already gave.
    assert again.create_account("facebook").id == core.create_account("facebook").id
    a, b = (c.create_app_registration("linkedin", redirect_uris=[REDIRECT]) for c in (core, again))
    assert (a.client_id, a.client_secret) == (b.client_id, b.client_secret)


def test_tokens_issued_before_work_after() -> None:
    clock = ManualClock()
    core = Core(clock, seed=4, profiles=tiktok_2026())
    made = populate(core)
    again = restarted(core, clock, profiles=tiktok_2026())
    fb = made["facebook"]
    for value in (fb["long"], fb["page"], made["linkedin"]["access"], made["twitter"]["token"]):
        assert again.check_token(value).valid, value
    assert again.check_token(fb["dead"]).reason is Reason.PASSWORD_CHANGED
    # Same expiry, same secret, same page token for the same user token.
    long = again.token(fb["long"])
    assert long is not None and long.expires_at == core.token(fb["long"]).expires_at  # type: ignore[union-attr]
    assert again.token(made["twitter"]["token"]).secret == made["twitter"]["secret"]  # type: ignore[union-attr]
    assert again.page_token(fb["long"], core.token(fb["page"]).page_id).value == fb["page"]  # type: ignore[arg-type,union-attr]
    # Refresh rules carry over: LinkedIn's refresh token keeps counting down; TikTok's
    # rotates; a removed Google grant stays removed; a code can still be spent once.
    pair = again.refresh(made["linkedin"]["refresh"], client_id=made["linkedin"]["app"])
    assert pair.refresh is not None and pair.refresh.value == made["linkedin"]["refresh"]
    rotated = again.refresh(made["tiktok"]["refresh"], client_id=made["tiktok"]["app"])
    assert rotated.refresh is not None and rotated.refresh.value != made["tiktok"]["refresh"]
    assert again.check_token(made["tiktok"]["refresh"]).reason is Reason.ROTATED_OUT
    assert again.check_token(made["google"]["refresh"]).reason is Reason.APP_REMOVED
    token = again.exchange_code(made["unused_code"], client_id=fb["app"], redirect_uri=REDIRECT)
    assert again.check_token(token.value).valid
    # Time passes the same way: the long-lived token dies at its saved expiry.
    clock.advance(timedelta(days=61))
    assert again.check_token(fb["long"]).reason is Reason.EXPIRED
    assert again.oauth1_request(made["twitter"]["pending"]) is not None
    gone = again.deleted_account(made["deleted"])
    assert gone is not None and gone.deleted_at is not None and len(gone.pages) == 1
    assert again.page(gone.pages[0].id) is None  # the page went with it


def test_faults_survive_a_restart() -> None:
    clock = ManualClock()
    core = Core(clock, seed=4)
    populate(core)
    again = restarted(core, clock)
    assert [f.to_json() for f in again.faults()] == [f.to_json() for f in core.faults()]
    assert {f.kind for f in again.faults()} == {"outage", "rate_limit"}


async def test_state_and_a_token_over_http_before_and_after() -> None:
    """The control API's /state is identical after a reload, and a token issued through
    the real endpoints before it still reads the Graph API after it."""
    clock = ManualClock()
    core = Core(clock, seed=9)
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    account = core.create_account("facebook")
    before: dict[str, Any] = {}
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        r = await http.post(
            "/www.facebook.com/v21.0/dialog/oauth",
            data={
                "client_id": app.client_id, "redirect_uri": REDIRECT, "state": "s",
                "scope": "pages_show_list", "response_type": "code",
                "account_id": account.id, "granted": ["pages_show_list"], "action": "approve",
            },
        )  # fmt: skip
        code = httpx.URL(r.headers["location"]).params["code"]
        r = await http.get(
            "/graph.facebook.com/v21.0/oauth/access_token",
            params={
                "client_id": app.client_id, "client_secret": app.client_secret,
                "redirect_uri": REDIRECT, "code": code,
            },
        )  # fmt: skip
        token = r.json()["access_token"]
        before["state"] = (await http.get("/_conntrack/state")).json()
        before["me"] = (
            await http.get("/graph.facebook.com/v21.0/me", params={"access_token": token})
        ).json()
    again = restarted(core, clock)
    transport = httpx.ASGITransport(app=create_app(again))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/_conntrack/state")).json() == before["state"]
        r = await http.get("/graph.facebook.com/v21.0/me", params={"access_token": token})
        assert r.status_code == 200 and r.json() == before["me"]


# -- documents that cannot be loaded ----------------------------------------------------


def test_a_bad_document_changes_nothing() -> None:
    clock = ManualClock()
    core = Core(clock, seed=4)
    populate(core)
    good = core.dump()
    target = Core(clock, seed=1)
    target.create_account("facebook")
    kept = target.dump()
    cases: list[tuple[Any, str]] = [
        ({**good, "format": 99}, "format 99; this conntrack reads format 1"),
        ({k: v for k, v in good.items() if k != "tokens"}, "without tokens"),
        ({**good, "extra": 1}, "unknown key(s) extra"),
        ({**good, "apps": [{**good["apps"][0], "colour": "red"}]}, "apps[0]: App record with unknown field(s) colour"),
        ({**good, "tokens": [{**good["tokens"][0], "issued_at": "yesterday"}]}, "Token.issued_at: expected an ISO 8601 instant"),
        ({**good, "tokens": [{**good["tokens"][0], "kind": "magic"}]}, "Token.kind: expected a TokenKind"),
        ({**good, "random": {"things": [1, 2]}}, "random generators"),
        ("not a mapping", "not a mapping"),
    ]  # fmt: skip
    for doc, message in cases:
        with pytest.raises(StateFormatError) as err:
            target.load(doc)
        assert message in str(err.value), (message, str(err.value))
        assert target.dump() == kept
    only_facebook = Core(clock, enabled=["facebook"])
    with pytest.raises(StateProviderError) as perr:
        only_facebook.load(good)
    assert perr.value.providers == ["google", "instagram", "linkedin", "tiktok", "twitter"]


# -- the state file ---------------------------------------------------------------------


def test_state_file_round_trip_and_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state = StateFile.open(path)
    assert state.read() is None
    state.write({"a": [1, "é"]}, seq=3, clock_offset=timedelta(days=2), now=ManualClock().now())
    with pytest.raises(StateError, match="in use by another conntrack serve"):
        StateFile.open(path)
    state.close()
    state = StateFile.open(path)
    snap = state.read()
    assert snap is not None and snap.document == {"a": [1, "é"]} and snap.seq == 3
    assert snap.clock_offset == timedelta(days=2) and snap.now == ManualClock().now()
    state.close()
    # One self-contained file once closed: no journal, no -wal, no -shm beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]


def test_files_that_are_not_state_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database\n" * 20)
    with pytest.raises(StateError, match="not a conntrack state file \\(not an SQLite database\\)"):
        StateFile.open(text)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StateError, match="an SQLite database of something else"):
        StateFile.open(other)
    newer = tmp_path / "newer.db"
    StateFile.open(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StateError, match="another conntrack version \\(layout 99"):
        StateFile.open(newer)
    with pytest.raises(StateError, match="is a folder"):
        StateFile.open(tmp_path)
    # Not locked after a refusal: the file can be opened again by whoever fixes it.
    with pytest.raises(StateError, match="something else"):
        StateFile.open(other)


def test_prepare_restarts_from_the_state(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    clock = TravelClock()
    server = prepare(state=path, clock=clock, seed=3)
    made = populate(server.core)
    clock.advance(timedelta(days=10))
    assert server.save() and not server.save()  # nothing changed since: no write
    seq, now = server.core.seq, clock.now()
    server.close()

    server = prepare(state=path)
    try:
        assert server.loaded is not None and server.core.seq == seq
        assert server.clock.offset >= timedelta(days=10) and server.clock.now() >= now
        assert server.core.check_token(made["facebook"]["long"]).valid
        assert any("loaded the snapshot" in n for n in server.notes)
    finally:
        server.close()
    # Served providers must cover the saved records.
    with pytest.raises(StateError, match="serve them too \\(--providers facebook,google"):
        prepare(state=path, providers=["facebook"])
    # And the lock was released by the refusal.
    prepare(state=path).close()


def test_the_clock_never_goes_back_across_a_restart(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    path = tmp_path / "state.db"
    later = datetime(2031, 1, 1, tzinfo=UTC)
    state = StateFile.open(path)
    state.write(Core(ManualClock()).dump(), seq=0, clock_offset=timedelta(0), now=later)
    state.close()
    server = prepare(state=path)
    try:
        assert server.clock.now() >= later
    finally:
        server.close()


def test_an_unreadable_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state = StateFile.open(path)
    state.write({"format": 0}, seq=0, clock_offset=timedelta(0), now=ManualClock().now())
    state.close()
    with pytest.raises(StateError, match="cannot read \\(the saved state has format 0"):
        prepare(state=path)
