"""Seeded randomness: ids, secrets, token strings, people, pages and posts.

Everything random in the fakes comes from here, so the same seed gives the same run.
Two independent streams are kept: one for things that mutations create (ids, tokens,
people) and one for per-request noise (``fbtrace_id``), so that an extra read — a
debug call, an error — never shifts the tokens a later mutation gets.
"""

from __future__ import annotations

import random
import string
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faker import Faker


_BASE62 = string.ascii_letters + string.digits
_URLSAFE = _BASE62 + "-_"
_TRACE = _BASE62 + "-_"


def _table(alphabet: str) -> bytes:
    """A ``bytes.translate`` table sending each byte value to a character of ``alphabet``."""
    return bytes(ord(alphabet[b % len(alphabet)]) for b in range(256))


# Strings are made from random bytes mapped through a table, at C speed: a run refreshes
# tokens thousands of times and one ``Random.choice`` a character cost more than the
# HTTP round trip. The slight bias of ``byte % len`` does not matter for fakes.
_TABLES = {a: _table(a) for a in (_BASE62, _URLSAFE, string.digits, "0123456789abcdef")}


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    if n <= 0:
        return ""
    return rng.randbytes(n).translate(_TABLES[alphabet]).decode("ascii")


PAGE_CATEGORIES = (
    "Local business",
    "Restaurant",
    "Brand",
    "Shopping & retail",
    "Nonprofit organization",
    "Product/service",
    "Health/beauty",
    "Media/news company",
)


#: The faker providers :class:`IdSource` draws from: a Faker of these gives the same
#: values as ``Faker("en_US")`` with all 26, whose making scans every provider's locales
#: (~18 ms; tests/fake_providers/test_faker_subset.py compares them).
FAKER_PROVIDERS = [
    "faker.providers.company",
    "faker.providers.internet",
    "faker.providers.lorem",
    "faker.providers.person",
]


class IdSource:
    """The seeded generators of one core."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"conntrack-fakes:{seed}:things")
        self.noise = random.Random(f"conntrack-fakes:{seed}:noise")
        self._seed = seed
        self._faker: Faker | None = None
        #: The faker's random stream, kept here so that a state file can save and
        #: restore it without making the faker (see :attr:`faker`).
        self.faker_random = random.Random()
        self.faker_random.seed(seed)

    @property
    def faker(self) -> Faker:
        """The seeded faker, made on first use: importing faker costs ~40 ms and
        making one more, which ``conntrack serve`` would pay before its ready line
        even when it only loads a state file."""
        if self._faker is None:
            from faker import Faker

            self._faker = Faker("en_US", providers=FAKER_PROVIDERS)
            self._faker.seed_instance(self._seed)
            self._faker.random = self.faker_random  # type: ignore[attr-defined]  # proxy.pyi lacks it
        return self._faker

    def digits(self, n: int, *, first: str = "1") -> str:
        """A numeric id of ``n`` digits (Facebook ids are numeric strings)."""
        return first + _chars(self.rng, string.digits, n - len(first))

    def hex(self, n: int) -> str:
        return _chars(self.rng, "0123456789abcdef", n)

    def token(self, prefix: str = "EAA", length: int = 180) -> str:
        """An opaque Facebook-like access token: ``EAA`` and base62 characters."""
        return prefix + _chars(self.rng, _BASE62, length)

    def code(self, length: int = 340, prefix: str = "AQ") -> str:
        """A long random authorization code, ``AQ…`` like Facebook's by default."""
        return prefix + _chars(self.rng, _URLSAFE, length)

    def base62(self, n: int) -> str:
        """``n`` random base62 characters (OAuth 1.0a tokens, secrets, verifiers)."""
        return _chars(self.rng, _BASE62, n)

    def trace_id(self) -> str:
        """A ``fbtrace_id``-like string (per request, from the noise stream)."""
        return "A" + _chars(self.noise, _TRACE, 22)

    def person(self) -> tuple[str, str]:
        """A faker-made (name, email)."""
        first, last = self.faker.first_name(), self.faker.last_name()
        domain = self.faker.free_email_domain()
        return f"{first} {last}", f"{first}.{last}@{domain}".lower()

    def company(self) -> str:
        return str(self.faker.company())

    def category(self) -> str:
        return self.rng.choice(PAGE_CATEGORIES)

    def sentence(self) -> str:
        return str(self.faker.sentence(nb_words=12))

    def hours(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)
