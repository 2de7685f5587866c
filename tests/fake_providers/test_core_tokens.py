"""The core's generic token flows: PKCE, refresh tokens and their rules, self-refresh,
revocation of a family, OAuth 1.0a storage — driven by the catalog profiles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fp_support import REDIRECT, ManualClock

from conntrack import load_profile
from fake_providers import (
    CodeProblem,
    CodeRejected,
    Core,
    InvalidRequest,
    Reason,
    RefreshProblem,
    RefreshRejected,
    TokenKind,
    TokenPair,
)
from fake_providers.core._tokens import s256

VERIFIER = "dBjftJeZ4CK-P5zk0sIbR6w0Hv9lT2tyIpEdsnW8Zsga"


def make(clock: ManualClock, protocol: str, profile: str | None = None, **over: Any) -> Core:
    prof = load_profile(profile or protocol, over or None)
    return Core(clock, seed=5, profiles={protocol: prof})


def setup(core: Core, protocol: str, **app: Any) -> tuple[str, str]:
    a = core.create_app_registration(protocol, redirect_uris=[REDIRECT], **app)
    return a.client_id, core.create_account(protocol).id


def login(
    core: Core, protocol: str, cid: str, aid: str, scopes: list[str] | None = None, **kw: Any
) -> TokenPair:
    scopes = scopes if scopes is not None else list(core.profile(protocol)["default_scopes"])
    verifier = kw.pop("verifier", None)
    code = core.approve(cid, aid, REDIRECT, requested=scopes, granted=scopes, **kw)
    return core.issue_from_code(
        code.value, client_id=cid, redirect_uri=REDIRECT, code_verifier=verifier
    )


# -- profiles by protocol -------------------------------------------------------------


def test_every_protocol_is_served_by_default(clock: ManualClock) -> None:
    core = Core(clock)
    assert set(core.profiles) == {
        "facebook",
        "google",
        "instagram",
        "linkedin",
        "tiktok",
        "twitter",
    }
    assert core.profile("tiktok").provider == "tiktok"
    tiktok = make(clock, "tiktok", "tiktok-2026")
    assert tiktok.profile("tiktok").provider == "tiktok-2026"
    assert tiktok.protocol_of("instagram-facebook") == "facebook"
    app = tiktok.create_app_registration("tiktok-2026", redirect_uris=[REDIRECT])
    assert app.provider == "tiktok"


def test_a_profile_must_speak_its_protocol(clock: ManualClock) -> None:
    from conntrack import ProfileError

    with pytest.raises(ProfileError):
        Core(clock, profiles={"tiktok": load_profile("twitter")})
    core = Core(clock, profiles={"instagram-facebook": load_profile("instagram-facebook")})
    assert core.profile("facebook").provider == "instagram-facebook"


# -- PKCE -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_pkce_verified(clock: ManualClock, method: str) -> None:
    core = make(clock, "twitter")
    cid, aid = setup(core, "twitter")
    challenge = s256(VERIFIER) if method == "S256" else VERIFIER
    kw: dict[str, Any] = {"code_challenge": challenge, "code_challenge_method": method}
    code = core.approve(cid, aid, REDIRECT, requested=["tweet.read"], granted=["tweet.read"], **kw)
    for bad, problem in ((None, CodeProblem.PKCE_MISSING), ("x" * 43, CodeProblem.PKCE_MISMATCH)):
        with pytest.raises(CodeRejected) as err:
            core.issue_from_code(
                code.value, client_id=cid, redirect_uri=REDIRECT, code_verifier=bad
            )
        assert err.value.problem is problem
    pair = core.issue_from_code(
        code.value, client_id=cid, redirect_uri=REDIRECT, code_verifier=VERIFIER
    )
    assert core.check_token(pair.access.value).valid


def test_pkce_required_and_none(clock: ManualClock) -> None:
    core = Core(clock)
    cid, aid = setup(core, "twitter")
    with pytest.raises(InvalidRequest) as err:
        core.approve(cid, aid, REDIRECT, requested=[], granted=[])
    assert err.value.field == "code_challenge"
    with pytest.raises(InvalidRequest) as err:
        core.approve(cid, aid, REDIRECT, requested=[], granted=[], code_challenge="c",
                     code_challenge_method="S512")  # fmt: skip
    assert err.value.field == "code_challenge_method"
    cid, aid = setup(core, "linkedin")  # pkce: none ignores a challenge
    code = core.approve(cid, aid, REDIRECT, requested=[], granted=[], code_challenge="c")
    assert code.code_challenge is None
    core.issue_from_code(code.value, client_id=cid, redirect_uri=REDIRECT)


def test_facebook_exchange_code_checks_pkce_too(clock: ManualClock) -> None:
    core = Core(clock)
    cid, aid = setup(core, "facebook")
    code = core.approve(cid, aid, REDIRECT, requested=[], granted=[], code_challenge="plainval")
    with pytest.raises(CodeRejected) as err:
        core.exchange_code(code.value, client_id=cid, redirect_uri=REDIRECT)
    assert err.value.problem is CodeProblem.PKCE_MISSING
    token = core.exchange_code(
        code.value, client_id=cid, redirect_uri=REDIRECT, code_verifier="plainval"
    )
    assert token.kind is TokenKind.USER_SHORT


# -- issue_from_code and refresh ------------------------------------------------------


def test_refresh_without_rotation_tiktok(clock: ManualClock) -> None:
    core = make(clock, "tiktok")
    cid, aid = setup(core, "tiktok")
    pair = login(core, "tiktok", cid, aid)
    assert pair.refresh is not None and pair.access.kind is TokenKind.ACCESS
    assert pair.access.expires_at == clock.now() + timedelta(hours=24)
    assert pair.refresh.expires_at == clock.now() + timedelta(days=365)
    assert pair.access.family == pair.refresh.family and pair.access.refresh == pair.refresh.value
    clock.advance(timedelta(hours=25))
    assert core.check_token(pair.access.value).reason is Reason.EXPIRED
    new = core.refresh(pair.refresh.value, client_id=cid)
    assert new.refresh is pair.refresh and new.access.origin == "refresh"
    assert new.access.expires_at == clock.now() + timedelta(hours=24)
    assert core.check_token(pair.refresh.value).valid
    with pytest.raises(RefreshRejected) as err:
        core.refresh(pair.refresh.value, client_id="other")
    assert err.value.reason is RefreshProblem.WRONG_CLIENT
    with pytest.raises(RefreshRejected) as err:
        core.refresh(new.access.value, client_id=cid)
    assert err.value.reason is RefreshProblem.UNKNOWN


def test_refresh_with_rotation_tiktok_2026(clock: ManualClock) -> None:
    core = make(clock, "tiktok", "tiktok-2026")
    cid, aid = setup(core, "tiktok")
    pair = login(core, "tiktok", cid, aid)
    assert pair.refresh is not None
    first_expiry = pair.refresh.expires_at
    clock.advance(timedelta(days=10))
    new = core.refresh(pair.refresh.value, client_id=cid)
    assert new.refresh is not None and new.refresh.value != pair.refresh.value
    assert new.refresh.expires_at == first_expiry  # lifetime does not reset
    assert core.check_token(pair.refresh.value).reason is Reason.ROTATED_OUT
    with pytest.raises(RefreshRejected) as err:
        core.refresh(pair.refresh.value, client_id=cid)
    assert err.value.reason is Reason.ROTATED_OUT
    fam = core.family(pair.access.family)
    assert fam is not None and fam.refresh == new.refresh.value
    assert core.refresh_token_of(pair.access) is new.refresh


def test_twitter_refresh_needs_offline_access_and_rotates(clock: ManualClock) -> None:
    core = make(clock, "twitter", pkce="optional")
    cid, aid = setup(core, "twitter")
    assert login(core, "twitter", cid, aid, ["tweet.read"]).refresh is None
    pair = login(core, "twitter", cid, aid)
    assert pair.refresh is not None and pair.refresh.expires_at is None
    new = core.refresh(pair.refresh.value, client_id=cid)
    assert new.refresh is not None and new.refresh.value != pair.refresh.value
    assert core.check_token(pair.refresh.value).reason is Reason.ROTATED_OUT


def test_linkedin_refresh_lifetime_does_not_reset(clock: ManualClock) -> None:
    core = make(clock, "linkedin")
    cid, aid = setup(core, "linkedin")
    start = clock.now()
    pair = login(core, "linkedin", cid, aid)
    assert pair.refresh is not None and core.expires_in(pair.refresh) == 31536059
    assert core.expires_in(pair.access) == 5183999
    clock.advance(timedelta(days=59))
    new = core.refresh(pair.refresh.value, client_id=cid)
    assert new.refresh is pair.refresh
    assert new.refresh.expires_at == start + timedelta(seconds=31536059)
    assert core.expires_in(new.refresh) == 31536059 - 59 * 86400
    assert new.access.expires_at == clock.now() + timedelta(seconds=5183999)
    clock.advance(timedelta(days=307))
    with pytest.raises(RefreshRejected) as err:
        core.refresh(pair.refresh.value, client_id=cid)
    assert err.value.reason is Reason.EXPIRED and err.value.check is not None


def test_linkedin_refresh_tokens_disabled(clock: ManualClock) -> None:
    core = make(clock, "linkedin", refresh_tokens_enabled=False)
    cid, aid = setup(core, "linkedin")
    assert login(core, "linkedin", cid, aid).refresh is None


def test_google_offline_and_resetting_lifetime(clock: ManualClock) -> None:
    core = make(clock, "google", refresh_token_lifetime="30d")
    cid, aid = setup(core, "google")
    assert login(core, "google", cid, aid, offline=False).refresh is None
    pair = login(core, "google", cid, aid)
    assert pair.refresh is not None
    clock.advance(timedelta(days=20))
    core.refresh(pair.refresh.value, client_id=cid)
    assert pair.refresh.expires_at == clock.now() + timedelta(days=30)


def test_google_refresh_dies_unused(clock: ManualClock) -> None:
    core = make(clock, "google")
    cid, aid = setup(core, "google")
    pair = login(core, "google", cid, aid)
    assert pair.refresh is not None
    assert core.quiet_until(pair.refresh.value) == clock.now() + timedelta(days=182)
    clock.advance(timedelta(days=181))
    core.refresh(pair.refresh.value, client_id=cid)  # used: the clock restarts
    assert core.quiet_until(pair.refresh.value) == clock.now() + timedelta(days=182)
    clock.advance(timedelta(days=182))
    assert core.check_token(pair.refresh.value).reason is Reason.UNUSED_TOO_LONG


def test_google_refresh_cap(clock: ManualClock) -> None:
    core = make(clock, "google", refresh_token_cap=2)
    cid, aid = setup(core, "google")
    pairs = [login(core, "google", cid, aid) for _ in range(3)]
    refreshes = [p.refresh.value for p in pairs if p.refresh is not None]
    assert core.check_token(refreshes[0]).reason is Reason.CAPPED
    assert all(core.check_token(r).valid for r in refreshes[1:])
    other = core.create_app_registration("google", redirect_uris=[REDIRECT])
    login(core, "google", other.client_id, aid)  # another client: its own count
    assert all(core.check_token(r).valid for r in refreshes[1:])


def test_google_testing_mode(clock: ManualClock) -> None:
    core = make(clock, "google")
    cid, aid = setup(core, "google", publishing_status="testing")
    basic = login(core, "google", cid, aid, ["openid", "email", "profile"])
    broad = login(core, "google", cid, aid)
    assert basic.refresh is not None and broad.refresh is not None
    assert core.quiet_until(broad.refresh.value) == clock.now() + timedelta(days=7)
    clock.advance(timedelta(days=7))
    assert core.check_token(broad.refresh.value).reason is Reason.TESTING_EXPIRED
    assert core.check_token(basic.refresh.value).valid
    core.set_publishing_status(cid, "production")
    assert login(core, "google", cid, aid).refresh is not None
    with pytest.raises(InvalidRequest) as err:
        core.set_publishing_status(cid, "beta")
    assert err.value.field == "publishing_status"


# -- Instagram self-refresh -----------------------------------------------------------


def ig_long(core: Core, cid: str, aid: str) -> str:
    scopes = ["instagram_business_basic"]
    code = core.approve(cid, aid, REDIRECT, requested=scopes, granted=scopes)
    short = core.exchange_code(code.value, client_id=cid, redirect_uri=REDIRECT)
    assert short.expires_at == core.now() + timedelta(hours=1)
    long = core.exchange_long_lived(short.value, client_id=cid)
    assert long.expires_at == core.now() + timedelta(seconds=5183944)
    assert long.family == short.family
    return long.value


def test_instagram_self_refresh(clock: ManualClock) -> None:
    core = make(clock, "instagram")
    cid, aid = setup(core, "instagram")
    long = ig_long(core, cid, aid)
    with pytest.raises(RefreshRejected) as err:
        core.refresh_self(long, client_id=cid)
    assert err.value.reason is RefreshProblem.TOO_YOUNG
    clock.advance(timedelta(hours=24))
    new = core.refresh_self(long, client_id=cid)
    assert new.expires_at == clock.now() + timedelta(seconds=5183944)
    assert new.origin == "self_refresh" and new.kind is TokenKind.USER_LONG
    clock.advance(timedelta(days=59))  # the old one (day 0) is past its 60 days
    with pytest.raises(RefreshRejected) as err:
        core.refresh_self(long, client_id=cid)
    assert err.value.reason is Reason.EXPIRED
    assert core.check_token(new.value).valid  # the new one lives 60 days from day 1
    clock.advance(timedelta(days=1))
    assert core.check_token(new.value).reason is Reason.EXPIRED


def test_self_refresh_refusals(clock: ManualClock) -> None:
    core = Core(clock)
    cid, aid = setup(core, "instagram")
    code = core.approve(cid, aid, REDIRECT, requested=[], granted=[])
    short = core.exchange_code(code.value, client_id=cid, redirect_uri=REDIRECT)
    with pytest.raises(RefreshRejected) as err:
        core.refresh_self(short.value)
    assert err.value.reason is RefreshProblem.WRONG_KIND
    with pytest.raises(RefreshRejected) as err:
        core.refresh_self("nope")
    assert err.value.reason is RefreshProblem.UNKNOWN
    fcid, faid = setup(core, "facebook")
    code = core.approve(fcid, faid, REDIRECT, requested=[], granted=[])
    fb = core.exchange_code(code.value, client_id=fcid, redirect_uri=REDIRECT)
    with pytest.raises(RefreshRejected) as err:
        core.refresh_self(fb.value)
    assert err.value.reason is RefreshProblem.NOT_SUPPORTED
    with pytest.raises(InvalidRequest):
        core.exchange_long_lived(login(core, "tiktok", *setup(core, "tiktok")).access.value,
                                 client_id=core.apps("tiktok")[0].client_id)  # fmt: skip


# -- revocation -----------------------------------------------------------------------


def test_revoking_one_token_revokes_its_family(clock: ManualClock) -> None:
    core = make(clock, "google")
    cid, aid = setup(core, "google")
    pair = login(core, "google", cid, aid)
    other = login(core, "google", cid, aid)
    assert pair.refresh is not None and other.refresh is not None
    refreshed = core.refresh(pair.refresh.value, client_id=cid)
    seq = core.seq
    before = core.revoke(pair.access.value)
    assert before.valid and core.seq == seq + 1
    for value in (pair.access.value, pair.refresh.value, refreshed.access.value):
        assert core.check_token(value).reason is Reason.REVOKED
    assert core.check_token(other.access.value).valid
    assert not core.revoke(pair.refresh.value).valid and core.seq == seq + 1  # already
    core.revoke(other.refresh.value)
    assert core.check_token(other.access.value).reason is Reason.REVOKED
    with pytest.raises(RefreshRejected) as err:
        core.refresh(other.refresh.value, client_id=cid)
    assert err.value.reason is Reason.REVOKED


def test_revoke_refusals(clock: ManualClock) -> None:
    from fake_providers import TokenRejected

    core = make(clock, "tiktok")
    cid, aid = setup(core, "tiktok")
    pair = login(core, "tiktok", cid, aid)
    with pytest.raises(TokenRejected):
        core.revoke("nope")
    with pytest.raises(InvalidRequest) as err:
        core.revoke(pair.access.value, client_id="other")
    assert err.value.field == "client_id"


# -- OAuth 1.0a -----------------------------------------------------------------------


def test_oauth1_three_legs(clock: ManualClock) -> None:
    core = make(clock, "twitter")
    cid, aid = setup(core, "twitter")
    request = core.oauth1_request_token(cid, "https://app.example/cb")
    assert request.kind is TokenKind.REQUEST and request.secret and request.account_id == ""
    assert core.oauth1_request(request.value) is request
    with pytest.raises(CodeRejected) as err:
        core.oauth1_access_token(request.value, "v", cid)
    assert err.value.problem is CodeProblem.NOT_APPROVED
    verifier = core.oauth1_authorize(request.value, aid)
    with pytest.raises(CodeRejected) as err:
        core.oauth1_access_token(request.value, "wrong", cid)
    assert err.value.problem is CodeProblem.VERIFIER_MISMATCH
    with pytest.raises(CodeRejected) as err:
        core.oauth1_access_token(request.value, verifier, "other")
    assert err.value.problem is CodeProblem.WRONG_CLIENT
    token = core.oauth1_access_token(request.value, verifier, cid)
    assert token.kind is TokenKind.OAUTH1 and token.value.startswith(f"{aid}-")
    assert token.secret and len(token.secret) == 45 and token.expires_at is None
    assert core.quiet_until(token.value) is None
    with pytest.raises(CodeRejected) as err:
        core.oauth1_access_token(request.value, verifier, cid)
    assert err.value.problem is CodeProblem.USED
    clock.advance(timedelta(days=3650))
    assert core.check_token(token.value).valid
    core.fire_event(aid, "password_change")
    assert core.check_token(token.value).reason is Reason.PASSWORD_CHANGED


def test_oauth1_request_token_expires(clock: ManualClock) -> None:
    core = make(clock, "twitter")
    cid, aid = setup(core, "twitter")
    request = core.oauth1_request_token(cid, "oob")
    clock.advance(timedelta(minutes=15))
    with pytest.raises(CodeRejected) as err:
        core.oauth1_authorize(request.value, aid)
    assert err.value.problem is CodeProblem.EXPIRED
    with pytest.raises(InvalidRequest):
        core.oauth1_request_token(cid, "")


def test_token_strings_follow_profile_prefixes(clock: ManualClock) -> None:
    from conntrack import Profile

    base = load_profile("tiktok")
    extra = {"access_token_prefix": "act.", "refresh_token_prefix": "rft.", "token_length": 40}
    core = Core(clock, profiles={"tiktok": Profile("tiktok", {**base.settings, **extra})})
    cid, aid = setup(core, "tiktok")
    pair = login(core, "tiktok", cid, aid)
    assert pair.access.value.startswith("act.") and len(pair.access.value) == 44
    assert pair.refresh is not None and pair.refresh.value.startswith("rft.")
