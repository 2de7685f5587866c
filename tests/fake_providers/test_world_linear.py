"""A login costs the fakes no step per account or page in the world (issue 15): a consent
page lists a bounded number of accounts (any other is typed), and ``pages_of`` reads an
account's own pages without a scan while no page is shared. Listing every account and
scanning every page made each login of a company with N connections cost N steps, N² in
all (1 000 Facebook Pages in 18 s, 2 000 in 58 s)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fp_support import ManualClock
from test_ui import PROVIDERS, form_of, open_consent, query, submit

from fake_providers import Core
from fake_providers._consent import LISTED_ACCOUNTS


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_list_stops_at_the_bound_and_the_last_account_still_logs_in(
    client: httpx.AsyncClient, core: Core, provider: str
) -> None:
    accounts = [core.create_account(provider) for _ in range(LISTED_ACCOUNTS + 3)]
    app, page = await open_consent(client, core, provider)
    listed = form_of(page).options.get("account_id", [])
    if listed:  # the providers whose page has a list (not an account card per person)
        assert listed == [a.id for a in accounts[:LISTED_ACCOUNTS]]
    assert accounts[-1].id not in page.text
    last = accounts[-1]
    boxes = [v for k, v in form_of(page).checkboxes if k == "granted"]
    fields = [("typed_account_id", last.id), *(("granted", s) for s in boxes)]
    r = await submit(client, page, [*fields, ("action", "approve")])
    assert query(r.headers["location"]).get("code")
    assert core.grant(app.client_id, last.id) is not None


class _NoScan(dict[str, Any]):
    """A page table that refuses to be listed: a scan of every page fails the test."""

    def values(self) -> Any:
        raise AssertionError("pages_of scanned every page in the world")


def test_pages_of_reads_the_account_own_pages_without_a_scan() -> None:
    core = Core(ManualClock(), seed=3)
    owners = [core.create_account("facebook", pages=2) for _ in range(3)]
    core.pages_of(owners[0].id)  # works out that no page is shared (one scan)
    core._pages = table = _NoScan(core._pages)
    core._shared_admins = (table, False)
    assert core.pages_of(owners[1].id) == owners[1].pages
    core.fire_event(owners[1].id, "admin_removed", page_id=owners[1].pages[0].id)
    assert core.pages_of(owners[1].id) == owners[1].pages[1:]
    assert core.account_state(owners[2].id).admin_of == tuple(p.id for p in owners[2].pages)


def test_pages_of_an_admin_added_to_another_page() -> None:
    core = Core(ManualClock(), seed=3)
    owner, helper = core.create_account("facebook", pages=2), core.create_account("facebook")
    assert core.pages_of(owner.id) == owner.pages
    core.fire_event(helper.id, "admin_added", page_id=owner.pages[1].id)
    assert core.pages_of(helper.id) == [owner.pages[1], *helper.pages]  # table order
    assert core.pages_of(owner.id) == owner.pages
