"""Account events and states: which events kill tokens (profile data), what each event
does to the account, admins and links, and seq / quiet_until."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fp_support import REDIRECT, ManualClock

from conntrack import Profile, ProfileError, load_profile
from fake_providers import AccountType, Core, InvalidRequest, NotFound, Reason
from fake_providers.core._errors import LoginRefused

SCOPES = ["pages_show_list", "pages_read_engagement"]


def with_killers(protocol: str, killers: Any) -> Profile:
    base = load_profile(protocol)
    return Profile(protocol, {**base.settings, "token_killing_events": killers})


def fb_login(core: Core, cid: str, aid: str) -> str:
    code = core.approve(cid, aid, REDIRECT, requested=SCOPES, granted=SCOPES)
    return core.exchange_code(code.value, client_id=cid, redirect_uri=REDIRECT).value


@pytest.fixture
def fb(core: Core) -> tuple[str, str]:
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    return app.client_id, core.create_account("facebook", pages=2).id


def test_killing_events_come_from_the_profile(core: Core) -> None:
    assert core.killing_events("facebook") == load_profile("facebook")["token_killing_events"]


def test_default_killing_events_without_the_profile_key() -> None:
    settings = dict(load_profile("facebook").settings)
    del settings["token_killing_events"]
    bare = Core(ManualClock(), profiles={"facebook": Profile("facebook", settings)})
    assert bare.killing_events("facebook") == ["password_change", "checkpoint", "app_removed"]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("locked", Reason.LOCKED),
        ("suspended", Reason.SUSPENDED),
        ("restricted", Reason.RESTRICTED),
        ("switched_to_personal", Reason.NOT_ELIGIBLE),
    ],
)
def test_state_events_kill_only_where_the_profile_says(
    clock: ManualClock, event: str, reason: Reason
) -> None:
    plain = Core(clock, profiles={"facebook": with_killers("facebook", ["password_change"])})
    cid = plain.create_app_registration("facebook", redirect_uris=[REDIRECT]).client_id
    aid = plain.create_account("facebook").id
    token = fb_login(plain, cid, aid)
    plain.fire_event(aid, event)
    assert plain.check_token(token).valid  # a state, not a death
    killing = Core(clock, profiles={"facebook": with_killers("facebook", [event])})
    cid = killing.create_app_registration("facebook", redirect_uris=[REDIRECT]).client_id
    aid = killing.create_account("facebook").id
    token = fb_login(killing, cid, aid)
    killing.fire_event(aid, event)
    check = killing.check_token(token)
    assert check.reason is reason and check.event is not None and check.event.type == event


def test_killing_events_with_scope_filter(clock: ManualClock) -> None:
    rule = {"event": "password_change", "scopes": ["https://mail.google.com/"]}
    core = Core(clock, profiles={"google": with_killers("google", [rule])})
    cid = core.create_app_registration("google", redirect_uris=[REDIRECT]).client_id
    aid = core.create_account("google").id

    def login(scopes: list[str]) -> tuple[str, str]:
        code = core.approve(cid, aid, REDIRECT, requested=scopes, granted=scopes)
        pair = core.issue_from_code(code.value, client_id=cid, redirect_uri=REDIRECT)
        assert pair.refresh is not None
        return pair.access.value, pair.refresh.value

    yt = login(["openid", "https://www.googleapis.com/auth/youtube.readonly"])
    gmail = login(["openid", "https://mail.google.com/"])
    core.fire_event(aid, "password_change")
    assert all(core.check_token(v).valid for v in yt)
    assert all(core.check_token(v).reason is Reason.PASSWORD_CHANGED for v in gmail)


def test_bad_killing_events_are_profile_errors(clock: ManualClock) -> None:
    for bad in (["unlocked"], ["earthquake"], "password_change", [{"event": "locked"}]):
        with pytest.raises(ProfileError):
            Core(clock, profiles={"facebook": with_killers("facebook", bad)})


def test_flag_events_and_account_state(core: Core, fb: tuple[str, str]) -> None:
    _, aid = fb
    state = core.account_state(aid)
    assert not (state.locked or state.suspended or state.restricted or state.checkpoint)
    assert state.type is AccountType.BUSINESS and state.professional
    pairs = [
        ("locked", "unlocked", "locked"),
        ("suspended", "reinstated", "suspended"),
        ("restricted", "unrestricted", "restricted"),
        ("checkpoint", "checkpoint_cleared", "checkpoint"),
    ]
    for on, off, attr in pairs:
        core.fire_event(aid, on)
        assert getattr(core.account_state(aid), attr) is True
        core.fire_event(aid, off)
        assert getattr(core.account_state(aid), attr) is False


def test_checkpoint_cleared_does_not_revive_tokens(
    core: Core, clock: ManualClock, fb: tuple[str, str]
) -> None:
    cid, aid = fb
    token = fb_login(core, cid, aid)
    core.fire_event(aid, "checkpoint")
    core.fire_event(aid, "checkpoint_cleared")
    assert core.check_token(token).reason is Reason.CHECKPOINT
    clock.advance(timedelta(hours=24))
    assert core.check_token(token).reason is Reason.CHECKPOINT
    assert core.check_token(fb_login(core, cid, aid)).valid


def test_no_login_at_a_checkpoint_nor_within_24_hours_of_clearing_it(
    core: Core, clock: ManualClock, fb: tuple[str, str]
) -> None:
    cid, aid = fb
    core.fire_event(aid, "checkpoint")
    with pytest.raises(LoginRefused, match="held at a security checkpoint"):
        fb_login(core, cid, aid)
    clock.advance(timedelta(hours=5))
    core.fire_event(aid, "checkpoint_cleared")
    clock.advance(timedelta(hours=23, minutes=59))
    with pytest.raises(LoginRefused, match="log in to apps again from 2026-01-06 14:00 UTC"):
        fb_login(core, cid, aid)
    clock.advance(timedelta(minutes=1))
    assert core.check_token(fb_login(core, cid, aid)).valid


def test_the_wait_after_a_checkpoint_is_a_profile_setting(clock: ManualClock) -> None:
    quick = load_profile("facebook", {"checkpoint_login_wait": "1h"})
    core = Core(clock, profiles={"facebook": quick})
    app = core.create_app_registration("facebook", redirect_uris=[REDIRECT])
    account = core.create_account("facebook")
    core.fire_event(account.id, "checkpoint")
    core.fire_event(account.id, "checkpoint_cleared")
    clock.advance(timedelta(hours=1))
    assert core.check_token(fb_login(core, app.client_id, account.id)).valid


def test_account_type_events(core: Core) -> None:
    ig = core.create_account("instagram", pages=0, type="creator")
    assert core.account_state(ig.id).type is AccountType.CREATOR
    core.fire_event(ig.id, "switched_to_personal")
    assert not core.account_state(ig.id).professional
    core.fire_event(ig.id, "switched_to_professional")
    assert core.account_state(ig.id).type is AccountType.BUSINESS
    core.fire_event(ig.id, "switched_to_professional", type="creator")
    assert core.account_state(ig.id).type is AccountType.CREATOR
    with pytest.raises(InvalidRequest) as err:
        core.fire_event(ig.id, "switched_to_professional", type="personal")
    assert err.value.field == "type"
    with pytest.raises(InvalidRequest) as err:
        core.create_account("instagram", type="alien")
    assert err.value.field == "type"


def test_admin_events(core: Core, fb: tuple[str, str]) -> None:
    _, aid = fb
    account = core.account(aid)
    assert account is not None
    p1, p2 = (p.id for p in account.pages)
    other = core.create_account("facebook", pages=0)
    core.fire_event(other.id, "admin_added", page_id=p1)
    assert core.account_state(other.id).admin_of == (p1,)
    assert core.page(p1).admins == {aid, other.id}  # type: ignore[union-attr]
    core.fire_event(aid, "admin_removed", page_id=p1)
    assert core.account_state(aid).admin_of == (p2,)
    assert [p.id for p in core.pages_of(aid)] == [p2]
    with pytest.raises(NotFound) as err:
        core.fire_event(aid, "admin_removed", page_id=p1)
    assert err.value.field == "page_id"
    core.fire_event(aid, "admin_removed")
    assert core.account_state(aid).admin_of == ()
    with pytest.raises(InvalidRequest) as ierr:
        core.fire_event(aid, "admin_added")
    assert ierr.value.field == "page_id"
    with pytest.raises(NotFound):
        core.fire_event(aid, "admin_added", page_id="404")


def test_admin_removed_kills_page_tokens_where_listed(clock: ManualClock) -> None:
    killers = ["password_change", "checkpoint", "app_removed", "admin_removed"]
    core = Core(clock, profiles={"facebook": with_killers("facebook", killers)})
    cid = core.create_app_registration("facebook", redirect_uris=[REDIRECT]).client_id
    account = core.create_account("facebook", pages=2)
    user = fb_login(core, cid, account.id)
    t1 = core.page_token(user, account.pages[0].id)
    t2 = core.page_token(user, account.pages[1].id)
    core.fire_event(account.id, "admin_removed", page_id=account.pages[0].id)
    assert core.check_token(t1.value).reason is Reason.ADMIN_REMOVED
    assert core.check_token(t2.value).valid and core.check_token(user).valid
    with pytest.raises(NotFound):
        core.page_token(user, account.pages[0].id)


def test_linked_instagram_and_eligibility(core: Core) -> None:
    fb = core.create_account("facebook", pages=2, linked_instagram=True)
    page = fb.pages[0]
    ig = core.instagram_business_account(page.id, viewer=fb.id)
    assert ig is not None and ig.provider == "instagram" and ig.linked_page_id == page.id
    assert core.linked_pages(ig.id) == [page]
    stranger = core.create_account("facebook", pages=0)
    assert core.instagram_business_account(page.id, viewer=stranger.id) is None
    core.fire_event(ig.id, "switched_to_personal")
    assert core.instagram_business_account(page.id) is None
    core.fire_event(ig.id, "switched_to_professional")
    assert core.instagram_business_account(page.id) is ig
    core.fire_event(ig.id, "page_unlinked")
    assert core.instagram_business_account(page.id) is None
    assert core.account_state(ig.id).linked_page_id is None
    core.fire_event(ig.id, "page_linked", page_id=page.id)
    assert core.instagram_business_account(page.id) is ig
    other_ig = core.instagram_business_account(fb.pages[1].id)
    assert other_ig is not None
    core.fire_event(fb.id, "page_unlinked", page_id=fb.pages[1].id)  # from the page side
    assert core.instagram_business_account(fb.pages[1].id) is None
    with pytest.raises(InvalidRequest):
        core.fire_event(other_ig.id, "page_linked", page_id=page.id)  # taken
    with pytest.raises(InvalidRequest):
        core.fire_event(fb.id, "page_unlinked")  # no page given


def test_create_account_linked_page(core: Core) -> None:
    fb = core.create_account("facebook", pages=1)
    ig = core.create_account("instagram", pages=0, linked_page=fb.pages[0].id)
    assert core.instagram_business_account(fb.pages[0].id, viewer=fb.id) is ig
    with pytest.raises(InvalidRequest) as err:
        core.create_account("instagram", linked_page=fb.pages[0].id)
    assert err.value.field == "linked_page"
    ev = core.link_instagram(ig.id, fb.pages[0].id)
    assert ev.type == "page_linked"


def test_permission_revoked_event(core: Core, fb: tuple[str, str]) -> None:
    cid, aid = fb
    token = core.token(fb_login(core, cid, aid))
    assert token is not None
    ev = core.fire_event(aid, "permission_revoked", client_id=cid, permission="pages_show_list")
    assert ev.to_json()["permission"] == "pages_show_list"
    assert (
        core.scopes_now(token) == ["pages_read_engagement"] and core.check_token(token.value).valid
    )
    with pytest.raises(InvalidRequest) as err:
        core.fire_event(aid, "permission_revoked", client_id=cid)
    assert err.value.field == "permission"
    with pytest.raises(InvalidRequest) as err:
        core.fire_event(aid, "locked", page_id="1")
    assert err.value.field == "page_id"


def test_every_event_bumps_seq_once(core: Core, fb: tuple[str, str]) -> None:
    cid, aid = fb
    fb_login(core, cid, aid)
    for event in ("password_change", "locked", "unlocked", "suspended", "reinstated",
                  "restricted", "unrestricted", "checkpoint", "checkpoint_cleared",
                  "switched_to_personal", "switched_to_professional", "admin_removed",
                  "app_removed"):  # fmt: skip
        seq = core.seq
        core.fire_event(aid, event)
        assert core.seq == seq + 1 and core.account_seq(aid) == core.seq, event
    core.account_state(aid)
    assert core.seq == seq + 1


def test_admin_change_touches_the_other_admins(core: Core) -> None:
    a = core.create_account("facebook", pages=1)
    b = core.create_account("facebook", pages=0)
    core.fire_event(b.id, "admin_added", page_id=a.pages[0].id)
    assert core.account_seq(a.id) == core.seq


def test_quiet_until_access_token_ignores_its_refresh_token(clock: ManualClock) -> None:
    core = Core(clock)
    cid = core.create_app_registration("linkedin", redirect_uris=[REDIRECT]).client_id
    aid = core.create_account("linkedin").id
    code = core.approve(cid, aid, REDIRECT, requested=[], granted=[])
    pair = core.issue_from_code(code.value, client_id=cid, redirect_uri=REDIRECT)
    assert pair.refresh is not None
    assert core.quiet_until(pair.access.value) == clock.now() + timedelta(seconds=5183999)
    assert core.quiet_until(pair.refresh.value) == clock.now() + timedelta(seconds=31536059)
    seq = core.seq
    core.refresh(pair.refresh.value, client_id=cid)
    assert core.seq == seq + 1
    core.revoke(pair.refresh.value)
    assert core.quiet_until(pair.access.value) is False
