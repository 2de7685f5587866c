"""Provider profiles: per-provider facts as data, from the packaged ``profiles.yaml``.

A profile is a mapping of settings (lifetimes, refresh rule, scope separator, …). Code
reads it through :class:`Profile`, whose typed accessors parse durations once. A
scenario or server config may override keys; an unknown provider or key is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ._durations import parse_duration
from ._exceptions import DurationError, ProfileError

REFRESH_KINDS = ("none", "exchange_only", "rotating", "non_resetting")


class Profile:
    """One provider's settings. ``lifetime(key)`` gives ``None`` for ``never``."""

    def __init__(self, provider: str, settings: Mapping[str, Any]) -> None:
        self.provider = provider
        self.settings: dict[str, Any] = dict(settings)
        if self.settings.get("refresh", "none") not in REFRESH_KINDS:
            raise ProfileError(
                f"profile {provider!r}: refresh must be one of {', '.join(REFRESH_KINDS)}, "
                f"got {self.settings.get('refresh')!r}"
            )

    def __getitem__(self, key: str) -> Any:
        try:
            return self.settings[key]
        except KeyError:
            raise ProfileError(f"profile {self.provider!r} has no setting {key!r}") from None

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    def lifetime(self, key: str) -> timedelta | None:
        """A duration setting; ``None`` where the profile says ``never``."""
        value = self[key]
        if value is None or value == "never":
            return None
        try:
            return parse_duration(value)
        except DurationError as e:
            raise ProfileError(f"profile {self.provider!r}, setting {key!r}: {e}") from None

    @property
    def hosts(self) -> list[str]:
        return list(self.settings.get("hosts", []))

    @property
    def scope_separator(self) -> str:
        return str(self.settings.get("scope_separator", " "))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Profile:
        unknown = sorted(set(overrides) - set(self.settings))
        if unknown:
            raise ProfileError(
                f"profile {self.provider!r} has no setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.settings))}"
            )
        return Profile(self.provider, {**self.settings, **overrides})


@cache
def _catalog() -> dict[str, dict[str, Any]]:
    text = resources.files("conntrack").joinpath("profiles.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def providers() -> list[str]:
    """The providers the catalog knows."""
    return sorted(_catalog())


def load_profile(provider: str, overrides: Mapping[str, Any] | None = None) -> Profile:
    """The packaged profile of ``provider``, with ``overrides`` applied."""
    catalog = _catalog()
    if provider not in catalog:
        raise ProfileError(f"unknown provider {provider!r}; known: {', '.join(sorted(catalog))}")
    profile = Profile(provider, catalog[provider])
    return profile.with_overrides(overrides) if overrides else profile
