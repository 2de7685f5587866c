"""The Fakers made with only the providers they draw from give the same people, page
names and posts as ``Faker("en_US")`` with every provider (issue 15: making that one
scans the locales of all 26 providers, ~18 ms of every run).

A faker release that moved a format onto another provider (a company name that names a
city, say) fails here, not silently in a run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from faker import Faker

from conntrack.scenario._runner import FAKER_PROVIDERS as RUNNER_PROVIDERS
from fake_providers.core._ids import FAKER_PROVIDERS as IDS_PROVIDERS

SEEDS = range(0, 400, 7)


def draws(fake: Faker, calls: list[Callable[[Faker], object]]) -> list[object]:
    return [call(fake) for _ in range(4) for call in calls]


@pytest.mark.parametrize(
    ("providers", "calls"),
    [
        (
            RUNNER_PROVIDERS,  # make_users: the company, then each person's names
            [lambda f: f.company(), lambda f: f.first_name(), lambda f: f.last_name()],
        ),
        (
            IDS_PROVIDERS,  # IdSource: person(), company(), sentence()
            [
                lambda f: f.first_name(),
                lambda f: f.last_name(),
                lambda f: f.free_email_domain(),
                lambda f: f.company(),
                lambda f: f.sentence(nb_words=12),
            ],
        ),
    ],
)
def test_a_faker_of_the_providers_used_draws_what_the_full_one_does(
    providers: list[str], calls: list[Callable[[Faker], object]]
) -> None:
    full = Faker("en_US")
    few = Faker("en_US", providers=providers)
    for seed in SEEDS:
        full.seed_instance(seed)
        few.seed_instance(seed)
        assert draws(few, calls) == draws(full, calls), seed
