"""Retention: a dead token answers as it died for ``dead_token_retention``, then is gone
from every table; reset lets go of every record."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fp_support import REDIRECT, ManualClock

from conntrack import load_profile
from conntrack._statefile import StateFile
from fake_providers import Core, Reason, TokenCheck
from fake_providers.core import _retention

KEEP = timedelta(days=30)
FB_SCOPES = ["pages_show_list", "pages_read_engagement"]


def make(clock: ManualClock, protocol: str, profile: str | None = None, **over: Any) -> Core:
    prof = load_profile(profile or protocol, over or None)
    return Core(clock, seed=3, profiles={protocol: prof})


def where(core: Core, value: str) -> list[str]:
    """Every table of the core that still holds ``value``."""
    found = []
    if value in core._tokens:
        found.append("tokens")
    if any(value in f.tokens or f.refresh == value for f in core._families.values()):
        found.append("families")
    if any(value in values for values in core._refresh_index.values()):
        found.append("refresh index")
    if any(value in key or value == v for key, v in core._page_tokens.items()):
        found.append("page tokens")
    if value in core._requests:
        found.append("requests")
    if value in core._codes:
        found.append("codes")
    return found


def answer(check: TokenCheck) -> tuple[Any, ...]:
    return (check.reason, check.since, None if check.token is None else check.token.value)


def fb_login(core: Core, cid: str, aid: str) -> tuple[str, str]:
    code = core.approve(cid, aid, REDIRECT, requested=FB_SCOPES, granted=FB_SCOPES)
    short = core.exchange_code(code.value, client_id=cid, redirect_uri=REDIRECT)
    return code.value, short.value


def fb_setup(core: Core) -> tuple[str, str]:
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    return app.client_id, core.create_account("facebook", pages=1).id


def write(core: Core) -> None:
    """Any change (retention is swept on writes)."""
    core.create_account("facebook", pages=0)


def test_every_profile_says_its_retention() -> None:
    for name in ("facebook", "instagram", "instagram-facebook", "linkedin", "tiktok",
                 "tiktok-2026", "twitter", "google"):  # fmt: skip
        assert load_profile(name).lifetime("dead_token_retention") == KEEP


def test_expired_token_answers_the_same_until_its_retention_then_is_gone(
    clock: ManualClock,
) -> None:
    # Two cores, the same seed and calls: one keeps dead tokens for ever.
    cores = [Core(clock, seed=3), make(clock, "facebook", dead_token_retention="never")]
    values = [fb_login(c, *fb_setup(c)) for c in cores]
    assert values[0] == values[1]
    code, short = values[0]
    expiry = cores[0].check_token(short).token.expires_at  # type: ignore[union-attr]
    assert expiry is not None
    for at in (timedelta(hours=2), KEEP - timedelta(hours=1), KEEP + timedelta(minutes=59)):
        clock.t = expiry - timedelta(hours=1) + at
        for c in cores:
            write(c)
        kept, forever = (c.check_token(short) for c in cores)
        assert answer(kept) == answer(forever)
        assert kept.reason is Reason.EXPIRED and kept.since == expiry
    assert where(cores[0], short) == ["tokens", "families"]
    clock.t = expiry + KEEP
    assert where(cores[0], short) == ["tokens", "families"]  # reads change nothing
    write(cores[0])
    write(cores[1])
    assert where(cores[0], short) == [] and where(cores[0], code) == []
    assert answer(cores[0].check_token(short)) == (Reason.MALFORMED, None, None)
    assert cores[1].check_token(short).reason is Reason.EXPIRED
    assert where(cores[1], short) == ["tokens", "families"] and where(cores[1], code) == ["codes"]
    assert cores[0].families() == []


async def test_facebook_answers_463_then_as_never_issued(
    clock: ManualClock, core: Core, client: httpx.AsyncClient
) -> None:
    _, short = fb_login(core, *fb_setup(core))

    async def me() -> dict[str, Any]:
        r = await client.get("/graph.facebook.com/v21.0/me", params={"access_token": short})
        assert r.status_code == 400
        return r.json()["error"]  # type: ignore[no-any-return]

    clock.advance(timedelta(hours=1) + KEEP - timedelta(seconds=1))
    write(core)
    before = await me()
    assert (before["code"], before["error_subcode"]) == (190, 463)
    assert "Session has expired on" in before["message"]
    clock.advance(timedelta(seconds=2))
    write(core)
    after = await me()
    assert after["code"] == 190 and "error_subcode" not in after
    assert after["message"] == "Invalid OAuth access token - Cannot parse access token"


def test_page_tokens_leave_the_page_token_map(clock: ManualClock) -> None:
    core = Core(clock, seed=3)
    cid, aid = fb_setup(core)
    _, short = fb_login(core, cid, aid)
    page_id = core.account(aid).pages[0].id  # type: ignore[union-attr]
    page = core.page_token(short, page_id)
    assert where(core, page.value) == ["tokens", "families", "page tokens"]
    clock.advance(timedelta(hours=2) + KEEP)
    write(core)
    assert where(core, page.value) == [] and where(core, short) == []
    assert core._page_tokens == {} and core.tokens() == []


def test_revoked_and_event_killed_tokens_without_expiry_go_too(clock: ManualClock) -> None:
    core = Core(clock, seed=3)
    cid, aid = fb_setup(core)
    page_id = core.account(aid).pages[0].id  # type: ignore[union-attr]
    pages = []
    for _ in range(2):
        _, short = fb_login(core, cid, aid)
        user = core.exchange_long_lived(short, client_id=cid)
        pages.append(core.page_token(user.value, page_id))
    assert all(p.expires_at is None for p in pages)
    core.revoke(pages[0].value)
    clock.advance(timedelta(days=1))
    core.fire_event(aid, "password_change")
    clock.advance(KEEP - timedelta(days=2))
    write(core)
    assert core.check_token(pages[0].value).reason is Reason.REVOKED
    assert core.check_token(pages[1].value).reason is Reason.PASSWORD_CHANGED
    clock.advance(timedelta(days=1, hours=1))
    write(core)
    assert where(core, pages[0].value) == []
    assert core.check_token(pages[1].value).reason is Reason.PASSWORD_CHANGED
    clock.advance(timedelta(days=1))
    write(core)
    assert where(core, pages[1].value) == []
    # The long-lived user tokens the event killed go a retention after their expiry.
    clock.advance(timedelta(days=60))
    write(core)
    assert core.tokens() == [] and core.families() == []


def test_rotated_refresh_tokens_leave_the_refresh_index(clock: ManualClock) -> None:
    core = make(clock, "tiktok", "tiktok-2026")
    app = core.create_app_registration("tiktok", redirect_uris=[REDIRECT])
    aid = core.create_account("tiktok").id
    scopes = list(core.profile("tiktok")["default_scopes"])
    code = core.approve(app.client_id, aid, REDIRECT, requested=scopes, granted=scopes)
    pair = core.issue_from_code(code.value, client_id=app.client_id, redirect_uri=REDIRECT)
    assert pair.refresh is not None
    first = pair.refresh.value
    clock.advance(timedelta(days=1))
    new = core.refresh(first, client_id=app.client_id)
    assert new.refresh is not None
    assert where(core, first) == ["tokens", "families"]
    clock.advance(KEEP)
    write(core)
    assert where(core, first) == [] and where(core, pair.access.value) == []
    assert where(core, new.refresh.value) == ["tokens", "families", "refresh index"]
    assert core.refresh_token_of(new.access) is new.refresh  # the family lives on
    # Within its retention the rotated-out token still answered rotated_out; now it is
    # unknown, as a string never issued.
    assert core.check_token(first).reason is Reason.MALFORMED


@pytest.mark.parametrize(
    ("protocol", "over", "step"),
    [
        ("tiktok", {"refresh_token_lifetime_resets": True}, 300),  # its expiry moves
        ("google", {}, 150),  # its unused-lifetime deadline moves
    ],
)
def test_a_refresh_token_whose_deadline_moves_is_kept(
    clock: ManualClock, protocol: str, over: dict[str, Any], step: int
) -> None:
    core = make(clock, protocol, **over)
    app = core.create_app_registration(protocol, redirect_uris=[REDIRECT])
    aid = core.create_account(protocol).id
    scopes = list(core.profile(protocol)["default_scopes"])
    code = core.approve(app.client_id, aid, REDIRECT, requested=scopes, granted=scopes)
    pair = core.issue_from_code(code.value, client_id=app.client_id, redirect_uri=REDIRECT)
    assert pair.refresh is not None
    for _ in range(4):
        clock.advance(timedelta(days=step))
        core.refresh(pair.refresh.value, client_id=app.client_id)
    assert core.check_token(pair.refresh.value).valid
    assert where(core, pair.refresh.value) == ["tokens", "families", "refresh index"]
    assert where(core, pair.access.value) == []


def test_oauth1_request_tokens_and_codes_go_after_their_retention(clock: ManualClock) -> None:
    core = make(clock, "twitter")
    app = core.create_app_registration("twitter", redirect_uris=[REDIRECT])
    request = core.oauth1_request_token(app.client_id, REDIRECT)
    assert where(core, request.value) == ["requests"]
    clock.advance(timedelta(days=1) + KEEP)
    write(core)
    assert where(core, request.value) == []


def test_never_keeps_dead_tokens(clock: ManualClock) -> None:
    core = make(clock, "facebook", dead_token_retention="never")
    cid, aid = fb_setup(core)
    code, short = fb_login(core, cid, aid)
    clock.advance(timedelta(days=3650))
    write(core)
    assert where(core, short) == ["tokens", "families"] and where(core, code) == ["codes"]


def test_a_loaded_state_is_swept_too(clock: ManualClock) -> None:
    core = Core(clock, seed=3)
    cid, aid = fb_setup(core)
    _, short = fb_login(core, cid, aid)
    again = Core(clock, seed=3)
    again.load(core.dump())
    clock.advance(timedelta(hours=2) + KEEP)
    write(again)
    assert where(again, short) == []


def test_a_restart_forgets_what_the_running_core_would(clock: ManualClock) -> None:
    """A load (``conntrack serve --state`` restarting) schedules every record again;
    a token without an expiry, killed by an event, is then forgotten when the running
    core would forget it — not a retention after the restart, which a server
    restarted more often than that would put off for ever — and the tokens kept are
    the running core's."""
    cores = []
    for restarts in (0, 1, 40):
        clock.t = clock.start
        core = Core(clock, seed=3)
        cid, aid = fb_setup(core)
        _, short = fb_login(core, cid, aid)
        user = core.exchange_long_lived(short, client_id=cid)
        page_id = core.account(aid).pages[0].id  # type: ignore[union-attr]
        page = core.page_token(user.value, page_id)
        assert page.expires_at is None
        clock.advance(timedelta(days=1))
        core.fire_event(aid, "password_change")
        for _ in range(max(restarts, 1)):
            clock.advance((KEEP - timedelta(hours=1)) / max(restarts, 1))
            write(core)
            if restarts:
                again = Core(clock, seed=3)
                again.load(core.dump())
                core = again
        assert core.check_token(page.value).reason is Reason.PASSWORD_CHANGED
        clock.advance(timedelta(days=1))
        write(core)
        assert where(core, page.value) == [], f"kept after {restarts} restarts"
        dump = core.dump()
        cores.append({k: dump[k] for k in ("tokens", "families", "codes")})
    assert cores[0] == cores[1] == cores[2]


def test_reset_lets_go_of_every_record(clock: ManualClock) -> None:
    core = Core(clock, seed=3)
    cid, aid = fb_setup(core)
    _, short = fb_login(core, cid, aid)
    token = core.token(short)
    assert token is not None
    family = core.family(token.family)
    refs = [weakref.ref(token), weakref.ref(family), weakref.ref(core.account(aid))]
    del token, family
    core.reset()
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    assert len(core._forget_at) == 0 and core.tokens() == []


def test_reads_forget_nothing(clock: ManualClock) -> None:
    core = Core(clock, seed=3)
    _, short = fb_login(core, *fb_setup(core))
    clock.advance(timedelta(hours=2) + KEEP)
    seq = core.seq
    for _ in range(3):
        assert core.check_token(short).reason is Reason.EXPIRED
        assert core.token(short) is not None and len(core.tokens()) == 1
    assert core.seq == seq and where(core, short) == ["tokens", "families"]
    write(core)
    assert where(core, short) == []


def test_the_state_file_sees_what_is_forgotten(clock: ManualClock, tmp_path: Path) -> None:
    """``serve --state`` writes changes by key: a forgotten token is a row deleted, and a
    core loaded from the file goes on forgetting the tokens it loaded."""
    path = tmp_path / "state.db"
    state = StateFile.open(path)
    core = Core(clock, seed=3)
    state.attach(core)
    cid, aid = fb_setup(core)
    _, first = fb_login(core, cid, aid)
    state.flush(clock_offset=clock.offset, now=clock.now())
    clock.advance(timedelta(hours=1) + KEEP)
    _, second = fb_login(core, cid, aid)  # a write: the first token goes
    assert where(core, first) == [] and where(core, second) == ["tokens", "families"]
    assert state.flush(clock_offset=clock.offset, now=clock.now())
    state.close()
    state = StateFile.open(path)
    again = Core(clock, seed=3)
    assert state.load(again) is not None
    state.close()
    assert again.dump()["tokens"] == core.dump()["tokens"]
    assert again.token(first) is None and again.token(second) is not None
    clock.advance(timedelta(hours=1) + KEEP)
    write(again)
    assert again.tokens() == []


def test_a_backlog_is_worked_off_over_the_next_writes(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a long time travel one write does not forget everything at once: each looks
    at a bounded batch, in the order the records became due."""
    monkeypatch.setattr(_retention, "SWEEP_BATCH", 3)
    core = Core(clock, seed=3)
    cid, aid = fb_setup(core)
    _, short = fb_login(core, cid, aid)
    tokens = [core.exchange_long_lived(short, client_id=cid).value for _ in range(5)]
    clock.advance(timedelta(days=100))
    left = []
    for _ in range(3):
        write(core)
        left.append(len(core.tokens()))
    # The code, then the short token, then the five long-lived ones: 3 a write.
    assert left == [4, 1, 0]
    assert all(where(core, v) == [] for v in [short, *tokens])


def test_revoking_again_schedules_nothing_more(clock: ManualClock) -> None:
    core = Core(clock, seed=3)
    cid, aid = fb_setup(core)
    _, short = fb_login(core, cid, aid)
    core.revoke(short)
    scheduled = len(core._forget_at)
    for _ in range(5):
        assert core.revoke(short).reason is Reason.REVOKED
    assert len(core._forget_at) == scheduled


def test_a_schedule_extended_at_once_is_due_as_one_pushed_value_by_value() -> None:
    """A load schedules its records in one ``extend``: due in the same order, at the
    same instants, as pushed one by one — also onto a schedule not empty."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries = [
        (start + timedelta(seconds=(i * 7919) % 500, microseconds=i), f"v{i}") for i in range(300)
    ]
    pushed, extended = _retention.Schedule(), _retention.Schedule()
    for at, value in entries:
        pushed.push(at, value)
    extended.push(*entries[0])
    extended.extend(entries[1:])
    assert len(extended) == len(pushed) == 300
    for second in (0, 1, 100, 250, 499, 500, 600, 600, 600, 600, 600):
        now = start + timedelta(seconds=second)
        assert extended.due(now, 40) == pushed.due(now, 40)
    assert len(extended) == len(pushed) == 0
