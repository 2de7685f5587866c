"""The core without HTTP: apps, accounts, codes, tokens, events, seq and quiet_until."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fp_support import REDIRECT, FixedClock, ManualClock

from fake_providers import (
    ClockError,
    CodeProblem,
    CodeRejected,
    Core,
    HasNow,
    InvalidRequest,
    NotFound,
    Reason,
    TokenKind,
    TokenRejected,
)

SCOPES = ["pages_show_list", "pages_read_engagement"]


def login(core: Core, account_id: str, client_id: str, granted: list[str] = SCOPES) -> str:
    code = core.approve(client_id, account_id, REDIRECT, requested=SCOPES, granted=granted)
    return core.exchange_code(code.value, client_id=client_id, redirect_uri=REDIRECT).value


@pytest.fixture
def setup(core: Core) -> tuple[str, str]:
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    account = core.create_account("facebook", pages=2)
    return app.client_id, account.id


def test_clock_protocol(clock: ManualClock) -> None:
    assert isinstance(clock, HasNow)


def test_app_registration_generates_facebook_like_ids(core: Core) -> None:
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    assert app.client_id.isdigit() and len(app.client_id) == 15
    assert len(app.client_secret) == 32 and int(app.client_secret, 16) >= 0
    given = core.create_app_registration(
        "facebook", client_id="42", client_secret="s", redirect_uris=[REDIRECT], name="Mine"
    )
    assert (given.client_id, given.client_secret, given.name) == ("42", "s", "Mine")
    with pytest.raises(InvalidRequest) as err:
        core.create_app_registration("facebook", client_id="42", redirect_uris=[REDIRECT])
    assert err.value.field == "client_id"
    with pytest.raises(InvalidRequest) as err:
        core.create_app_registration("myspace", redirect_uris=[REDIRECT])
    assert err.value.field == "provider"
    with pytest.raises(InvalidRequest) as err:
        core.create_app_registration("facebook", redirect_uris=[])
    assert err.value.field == "redirect_uris"


def test_accounts_have_pages_and_posts(core: Core) -> None:
    account = core.create_account("facebook", pages=3)
    assert account.id.isdigit() and len(account.id) == 17
    assert " " in account.name and "@" in account.email
    assert len(account.pages) == 3
    for page in account.pages:
        assert page.id.isdigit() and page.admin_id == account.id
        assert core.page(page.id) is page
        assert len(page.posts) == 5 and all(p.id.startswith(page.id + "_") for p in page.posts)
    with pytest.raises(InvalidRequest):
        core.create_account("facebook", pages=-1)


def test_tokens_are_opaque_and_not_sequential(core: Core, setup: tuple[str, str]) -> None:
    client_id, account_id = setup
    a, b = login(core, account_id, client_id), login(core, account_id, client_id)
    assert a.startswith("EAA") and b.startswith("EAA")
    assert len(a) >= 150 and a != b and a[:20] != b[:20]


def test_same_seed_same_run() -> None:
    def run() -> list[str]:
        core = Core(ManualClock(), seed=3)
        app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
        account = core.create_account("facebook")
        code = core.approve(app.client_id, account.id, REDIRECT, requested=SCOPES, granted=SCOPES)
        core.trace_id()  # noise must not shift the next token
        token = core.exchange_code(code.value, client_id=app.client_id, redirect_uri=REDIRECT)
        return [app.client_id, app.client_secret, account.id, account.name, code.value, token.value]

    assert run() == run()
    seeds = {Core(ManualClock(), seed=s).create_account("facebook").id for s in range(3)}
    assert len(seeds) == 3


def test_codes_single_use_and_short_lived(
    core: Core, clock: ManualClock, setup: tuple[str, str]
) -> None:
    client_id, account_id = setup
    code = core.approve(client_id, account_id, REDIRECT, requested=SCOPES, granted=SCOPES)
    with pytest.raises(CodeRejected) as err:
        core.exchange_code(code.value, client_id=client_id, redirect_uri=REDIRECT + "x")
    assert err.value.problem is CodeProblem.REDIRECT_MISMATCH
    core.exchange_code(code.value, client_id=client_id, redirect_uri=REDIRECT)
    with pytest.raises(CodeRejected) as err:
        core.exchange_code(code.value, client_id=client_id, redirect_uri=REDIRECT)
    assert err.value.problem is CodeProblem.USED
    late = core.approve(client_id, account_id, REDIRECT, requested=SCOPES, granted=SCOPES)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(CodeRejected) as err:
        core.exchange_code(late.value, client_id=client_id, redirect_uri=REDIRECT)
    assert err.value.problem is CodeProblem.EXPIRED
    with pytest.raises(CodeRejected) as err:
        core.exchange_code("AQnope", client_id=client_id, redirect_uri=REDIRECT)
    assert err.value.problem is CodeProblem.UNKNOWN


def test_lifetimes_come_from_the_profile(
    core: Core, clock: ManualClock, setup: tuple[str, str]
) -> None:
    client_id, account_id = setup
    short = login(core, account_id, client_id)
    token = core.token(short)
    assert token is not None and token.kind is TokenKind.USER_SHORT
    assert token.expires_at == clock.now() + timedelta(hours=1)
    long = core.exchange_long_lived(short, client_id=client_id)
    assert long.kind is TokenKind.USER_LONG
    assert long.expires_at == clock.now() + timedelta(seconds=5183944)
    page_id = core.account(account_id).pages[0].id  # type: ignore[union-attr]
    assert core.page_token(long.value, page_id).expires_at is None
    assert core.page_token(short, page_id).expires_at == clock.now() + timedelta(hours=1)


def test_expiry_and_exchange_of_dead_token(
    core: Core, clock: ManualClock, setup: tuple[str, str]
) -> None:
    client_id, account_id = setup
    short = login(core, account_id, client_id)
    clock.advance(timedelta(hours=1))
    check = core.check_token(short)
    assert check.reason is Reason.EXPIRED and check.since == clock.now()
    with pytest.raises(TokenRejected) as err:
        core.exchange_long_lived(short, client_id=client_id)
    assert err.value.check.reason is Reason.EXPIRED
    assert core.check_token("garbage").reason is Reason.MALFORMED


def test_events_kill_tokens_issued_before_them(
    core: Core, clock: ManualClock, setup: tuple[str, str]
) -> None:
    client_id, account_id = setup
    old = login(core, account_id, client_id)
    page = core.page_token(old, core.account(account_id).pages[0].id)  # type: ignore[union-attr]
    core.fire_event(account_id, "password_change")
    assert core.check_token(old).reason is Reason.PASSWORD_CHANGED
    assert core.check_token(page.value).reason is Reason.PASSWORD_CHANGED
    new = login(core, account_id, client_id)  # same instant, later seq: works
    assert core.check_token(new).valid
    core.fire_event(account_id, "checkpoint")
    assert core.check_token(new).reason is Reason.CHECKPOINT
    core.fire_event(account_id, "checkpoint_cleared")
    clock.advance(timedelta(hours=24))  # Facebook's wait after a cleared checkpoint
    after = login(core, account_id, client_id)
    assert core.check_token(after).valid
    core.fire_event(account_id, "app_removed", client_id=client_id)
    assert core.check_token(after).reason is Reason.APP_REMOVED
    assert core.check_token(login(core, account_id, client_id)).valid


def test_app_removed_without_client_id_removes_every_app(
    core: Core, setup: tuple[str, str]
) -> None:
    client_id, account_id = setup
    other = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    a, b = login(core, account_id, client_id), login(core, account_id, other.client_id)
    core.fire_event(account_id, "app_removed")
    assert core.check_token(a).reason is Reason.APP_REMOVED
    assert core.check_token(b).reason is Reason.APP_REMOVED


def test_event_errors(core: Core, setup: tuple[str, str]) -> None:
    client_id, account_id = setup
    with pytest.raises(NotFound):
        core.fire_event("0", "password_change")
    with pytest.raises(InvalidRequest) as err:
        core.fire_event(account_id, "earthquake")
    assert err.value.field == "type"
    with pytest.raises(InvalidRequest):
        core.fire_event(account_id, "password_change", client_id=client_id)
    with pytest.raises(NotFound):
        core.fire_event(account_id, "app_removed", client_id="nope")


def test_seq_rises_on_mutations_only(core: Core, setup: tuple[str, str]) -> None:
    client_id, account_id = setup
    seq = core.seq
    token = login(core, account_id, client_id)
    assert core.seq == seq + 2  # consent+code, then the token
    seq = core.seq
    core.check_token(token)
    core.quiet_until(token)
    core.snapshot()
    core.trace_id()
    assert core.seq == seq
    page_id = core.account(account_id).pages[0].id  # type: ignore[union-attr]
    core.page_token(token, page_id)
    assert core.seq == seq + 1
    core.page_token(token, page_id)  # the same page token again: a read
    assert core.seq == seq + 1
    core.fire_event(account_id, "checkpoint")
    assert core.seq == seq + 2
    assert core.account_seq(account_id) == core.seq


def test_quiet_until(core: Core, clock: ManualClock, setup: tuple[str, str]) -> None:
    client_id, account_id = setup
    short = login(core, account_id, client_id)
    assert core.quiet_until(short) == clock.now() + timedelta(hours=1)
    long = core.exchange_long_lived(short, client_id=client_id)
    assert core.quiet_until(long.value) == clock.now() + timedelta(seconds=5183944)
    page = core.page_token(long.value, core.account(account_id).pages[0].id)  # type: ignore[union-attr]
    # a page token never expires, but data access does (90 days after the login)
    assert core.quiet_until(page.value) == clock.now() + timedelta(days=90)
    clock.advance(timedelta(days=90))
    assert core.check_token(page.value).reason is Reason.DATA_ACCESS_EXPIRED
    assert core.quiet_until(page.value) is False
    assert core.quiet_until("nope") is False


def test_quiet_until_none_when_nothing_expires(clock: ManualClock) -> None:
    from conntrack import load_profile

    profile = load_profile("facebook", {"data_access_lifetime": "never"})
    core = Core(clock, profiles={"facebook": profile})
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    account = core.create_account("facebook")
    long = core.exchange_long_lived(login(core, account.id, app.client_id), client_id=app.client_id)
    page = core.page_token(long.value, account.pages[0].id)
    assert core.quiet_until(page.value) is None


def test_revocations(core: Core, setup: tuple[str, str]) -> None:
    client_id, account_id = setup
    token = login(core, account_id, client_id)
    core.revoke_permission(account_id, client_id, "pages_read_engagement")
    t = core.token(token)
    assert t is not None and core.scopes_now(t) == ["pages_show_list"]
    grant = core.grant(client_id, account_id)
    assert grant is not None and grant.declined == ["pages_read_engagement"]
    core.revoke_grant(account_id, client_id)
    assert core.check_token(token).reason is Reason.APP_REMOVED


def test_clock_travel(core: Core, clock: ManualClock) -> None:
    start = clock.now()
    assert core.advance_clock(by=timedelta(days=1)) == start + timedelta(days=1)
    with pytest.raises(ClockError) as err:
        core.advance_clock(to=start)
    assert not err.value.virtual
    frozen = Core(FixedClock())
    with pytest.raises(ClockError) as err:
        frozen.advance_clock(by=timedelta(days=1))
    assert err.value.virtual


def test_snapshot_hides_token_values(core: Core, setup: tuple[str, str]) -> None:
    client_id, account_id = setup
    token = login(core, account_id, client_id)
    snap = core.snapshot()
    assert snap["seq"] == core.seq
    assert token not in str(snap)
    assert snap["tokens"][0]["token"] == token[:12] + "…"
