"""Nothing of one in-process world shows in the next: each ``with fakes()`` (each test)
starts from a fresh core, and what the former world's requests left on the reused app
(Google's nonces, X's rate-limit windows, …) goes with it."""

from __future__ import annotations

import sys
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests

from conntrack.testing import Fakes, _intercept, current, fakes

from .test_fakes import facebook_token

REDIRECT = "https://app.example/cb"


def _google_code(f: Fakes, nonce: str | None) -> tuple[dict[str, str], str]:
    app = f.create_app("google", redirect_uris=[REDIRECT])
    ada = f.create_account("google", name="Ada")
    query = {
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid email",
        "state": "s",
    }
    if nonce is not None:
        query["nonce"] = nonce
    auth = "https://accounts.google.com/o/oauth2/v2/auth?" + urlencode(query)
    landed = f.authorize(auth, account=ada["id"])
    return app, parse_qs(urlsplit(landed).query)["code"][0]


def test_a_nonce_of_the_former_world_is_not_in_the_next_worlds_id_token() -> None:
    """Same seed, same code: the nonce a code of the first world was given (never
    exchanged) must not reach the id_token of the second world's code."""
    with fakes() as first:
        _, first_code = _google_code(first, "nonce-of-the-first-world")
    with fakes() as second:
        app, code = _google_code(second, None)
        assert code == first_code  # the seed makes the same code: the leak would show
        answer = requests.post(
            "https://oauth2.googleapis.com/token",
            data={
                "code": code,
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "redirect_uri": REDIRECT,
                "grant_type": "authorization_code",
            },
            timeout=5,
        )
        claims = jwt.decode(answer.json()["id_token"], options={"verify_signature": False})
        assert "nonce" not in claims


def _x_remaining(f: Fakes, client_id: str | None = None, account_id: str | None = None) -> int:
    app = f.create_app("twitter", redirect_uris=[REDIRECT], client_id=client_id)
    ada = f.create_account("twitter", name="Ada", id=account_id)
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "users.read tweet.read",
        "state": "s",
        "code_challenge": "verifier",
        "code_challenge_method": "plain",
    }
    landed = f.authorize("https://x.com/i/oauth2/authorize?" + urlencode(query), account=ada["id"])
    code = parse_qs(urlsplit(landed).query)["code"][0]
    token = requests.post(
        "https://api.x.com/2/oauth2/token",
        data={
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code_verifier": "verifier",
        },
        auth=(app["client_id"], app["client_secret"]),
        timeout=5,
    ).json()["access_token"]
    me = requests.get(
        "https://api.x.com/2/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert me.status_code == 200, me.text
    return int(me.headers["x-rate-limit-remaining"])


def test_x_rate_limit_windows_start_afresh_in_each_world() -> None:
    with fakes() as first:
        remaining = _x_remaining(first)
    with fakes() as second:
        assert _x_remaining(second) == remaining


def test_one_fakes_object_in_many_threads_at_once_leaves_no_world_behind() -> None:
    """A decorated function run by eight threads at once (threads switching as often as
    Python lets them): each call ends its own world, in its own thread, and when all
    are done no world is left open or active."""
    decorated = fakes()
    strays: list[str] = []

    @decorated
    def work() -> None:
        world = current()
        world.travel("1s")
        if current() is not world:
            strays.append("answered by another thread's world")

    def loop() -> None:
        for _ in range(60):
            work()

    # Once in this thread first: what a first call compiles or imports lazily is done
    # before the threads race (CPython 3.11's compile() is not safe under switches this
    # frequent: a SystemError "AST constructor recursion depth mismatch" was seen).
    work()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=loop) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert not strays
    assert decorated._open == []  # every world entered was left, by its own thread
    assert not _intercept.any_active()


def test_a_request_under_way_when_its_world_ends_is_answered_by_that_world() -> None:
    """A background thread's request still running when its test ends finishes in its
    own world: the next world does not take the app from under it (it would answer with
    the next world's core, and could change it)."""
    answers: list[requests.Response] = []
    with fakes() as first:
        _, token = facebook_token(first)
        first.fault("facebook", "latency", delay_ms=600, count=1)
        late = threading.Thread(
            target=lambda: answers.append(
                requests.get(
                    "https://graph.facebook.com/v21.0/me",
                    params={"access_token": token, "fields": "name"},
                    timeout=5,
                )
            )
        )
        late.start()
        time.sleep(0.2)  # the request waits in the fault's latency
    with fakes():
        late.join(timeout=10)
    assert [a.status_code for a in answers] == [200]
    assert answers[0].json()["name"] == "Ada Admin"


def test_a_reset_forgets_what_requests_stored_for_the_world(conntrack_fakes: Fakes) -> None:
    """POST /_conntrack/reset is a new world on the same app: X's rate-limit window of
    the same app and account (kept on the app by the requests that spent it) starts
    again too."""
    ids = {"client_id": "app-1", "account_id": "2244994945"}
    first = _x_remaining(conntrack_fakes, **ids)
    conntrack_fakes.control("POST", "/_conntrack/reset")
    assert _x_remaining(conntrack_fakes, **ids) == first
