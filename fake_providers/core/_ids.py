"""Seeded randomness: ids, secrets, token strings, people, pages and posts.

Everything random in the fakes comes from here, so the same seed gives the same run.
Two independent streams are kept: one for things that mutations create (ids, tokens,
people) and one for per-request noise (``fbtrace_id``), so that an extra read — a
debug call, an error — never shifts the tokens a later mutation gets.
"""

from __future__ import annotations

import random
import string

from faker import Faker

_BASE62 = string.ascii_letters + string.digits
_URLSAFE = _BASE62 + "-_"
_TRACE = _BASE62 + "-_"

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


class IdSource:
    """The seeded generators of one core."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"conntrack-fakes:{seed}:things")
        self.noise = random.Random(f"conntrack-fakes:{seed}:noise")
        self.faker = Faker("en_US")
        self.faker.seed_instance(seed)

    def digits(self, n: int, *, first: str = "1") -> str:
        """A numeric id of ``n`` digits (Facebook ids are numeric strings)."""
        return first + "".join(self.rng.choice(string.digits) for _ in range(n - len(first)))

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def token(self, prefix: str = "EAA", length: int = 180) -> str:
        """An opaque Facebook-like access token: ``EAA`` and base62 characters."""
        return prefix + "".join(self.rng.choice(_BASE62) for _ in range(length))

    def code(self, length: int = 340, prefix: str = "AQ") -> str:
        """A long random authorization code, ``AQ…`` like Facebook's by default."""
        return prefix + "".join(self.rng.choice(_URLSAFE) for _ in range(length))

    def base62(self, n: int) -> str:
        """``n`` random base62 characters (OAuth 1.0a tokens, secrets, verifiers)."""
        return "".join(self.rng.choice(_BASE62) for _ in range(n))

    def trace_id(self) -> str:
        """A ``fbtrace_id``-like string (per request, from the noise stream)."""
        return "A" + "".join(self.noise.choice(_TRACE) for _ in range(22))

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
