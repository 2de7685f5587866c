"""What a test naturally passes to the API works, or is refused in the API's own terms:
an account named by its id or by the dict ``create_account`` answered (not a page saying
there is no account "{'email': …}"), a travel given as a number."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from conntrack.testing import Fakes, FakesError, fakes

REDIRECT = "https://app.example/cb"


def _dialog(f: Fakes) -> str:
    app = f.create_app("facebook", redirect_uris=[REDIRECT])
    query = {"client_id": app["client_id"], "redirect_uri": REDIRECT, "state": "s"}
    return "https://www.facebook.com/v21.0/dialog/oauth?" + urlencode(query)


def test_authorize_takes_the_account_as_create_account_answered_it(
    conntrack_fakes: Fakes,
) -> None:
    ada = conntrack_fakes.create_account("facebook", name="Ada")
    landed = conntrack_fakes.authorize(_dialog(conntrack_fakes), account=ada)
    assert parse_qs(urlsplit(landed).query)["state"] == ["s"]
    assert conntrack_fakes.account(ada)["grants"]


def test_event_and_account_take_the_dict_too(conntrack_fakes: Fakes) -> None:
    ada = conntrack_fakes.create_account("facebook", name="Ada")
    fired = conntrack_fakes.event("facebook", ada, "password_change")
    assert fired["account"] == ada["id"]
    assert [ev["type"] for ev in conntrack_fakes.account(ada)["events"]] == ["password_change"]


def test_a_dict_without_an_id_is_refused_with_what_to_give(conntrack_fakes: Fakes) -> None:
    with pytest.raises(FakesError, match="needs its 'id'"):
        conntrack_fakes.authorize(_dialog(conntrack_fakes), account={"name": "Ada"})


def test_travel_refuses_a_bare_number_in_its_own_words(conntrack_fakes: Fakes) -> None:
    before = conntrack_fakes.now
    with pytest.raises(FakesError, match=r"travel\(\) takes a duration such as '1h'"):
        conntrack_fakes.travel(3600)  # type: ignore[arg-type]
    assert conntrack_fakes.now - before < timedelta(minutes=1)


def test_one_provider_may_be_named_without_a_list() -> None:
    """``providers="linkedin"`` is the LinkedIn world, not 'unknown provider l'."""
    with fakes(providers="linkedin") as world:
        assert world.create_app("linkedin", redirect_uris=[REDIRECT])["client_id"]
        with pytest.raises(FakesError, match="'facebook' is not enabled"):
            world.create_app("facebook", redirect_uris=[REDIRECT])


@pytest.mark.conntrack_fakes(providers="twitter")
def test_the_marker_takes_one_provider_too(conntrack_fakes: Fakes) -> None:
    assert conntrack_fakes.create_account("twitter")["id"].isdigit()
