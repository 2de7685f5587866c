"""Provider profiles: per-provider facts as data, one packaged YAML file a profile.

A profile (``profiles/NAME.yaml``) is a mapping of settings: lifetimes, refresh rule,
scope separator, … Its ``protocol`` names the fake and the client that speak it; several
profiles may share one protocol (``tiktok`` and ``tiktok-2026``, ``facebook`` and
``instagram-facebook``). A profile may ``extends:`` another and change a few keys. Code
reads it through :class:`Profile`. A scenario or server config may override keys; an
unknown profile or key is an error.

Refresh kinds (``refresh``):

- ``none`` — nothing to refresh (a token that never expires, OAuth 1.0a);
- ``exchange_only`` — a short token can be exchanged for a long one, never refreshed
  (Facebook: a person logs in again after 60 days);
- ``refresh_token`` — a refresh grant; ``refresh_token_rotates`` and
  ``refresh_token_lifetime_resets`` say what it does to the refresh token;
- ``self`` — the long-lived access token refreshes itself (Instagram Login), once it is
  ``refresh_min_age`` old and not expired.
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
from ._limits import MAX_INTEGER

REFRESH_KINDS = ("none", "exchange_only", "refresh_token", "self")


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
    def protocol(self) -> str:
        """The fake and client family that speaks this profile (``facebook`` …)."""
        return str(self.settings.get("protocol", self.provider))

    @property
    def refresh(self) -> str:
        return str(self.settings.get("refresh", "none"))

    def flag(self, key: str) -> bool:
        """A yes/no setting; missing means no."""
        return bool(self.settings.get(key, False))

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
    raw: dict[str, dict[str, Any]] = {}
    for entry in resources.files("conntrack").joinpath("profiles").iterdir():
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text("utf-8"))
            assert isinstance(data, dict), entry.name
            raw[entry.name.removesuffix(".yaml")] = data

    def resolved(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        data = dict(raw[name])
        parent = data.pop("extends", None)
        if parent is None:
            return data
        assert parent in raw and parent not in seen, f"profile {name}: bad extends {parent}"
        return {**resolved(parent, (*seen, name)), **data}

    return {name: resolved(name) for name in sorted(raw)}


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


def _is_duration_setting(value: Any) -> bool:
    """Whether a profile setting is a duration (so an override must be one too)."""
    if not isinstance(value, str):
        return False
    if value == "never":
        return True
    try:
        parse_duration(value)
    except DurationError:
        return False
    return True


#: Whole-number settings the fakes use as sizes or HTTP statuses: a negative token length
#: hangs the token maker, a billion-character one or a billion pages exhausts memory.
_INT_RANGES = {
    "token_length": (16, 4096),
    "code_length": (16, 4096),
    "account_pages": (0, 100),
    "oauth_error_status": (100, 599),
}


def _type_problem(setting: str, base: Any, value: Any) -> str | None:
    """What is wrong with ``value`` as an override of a setting whose packaged value is
    ``base`` (a flag, a whole number, a list of text): the fakes use it as that type."""
    if isinstance(base, bool):
        ok, wanted = isinstance(value, bool), "true or false"
    elif isinstance(base, int):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be a whole number like {base}, got {value!r}"
        low, high = _INT_RANGES.get(setting, (0, MAX_INTEGER))
        ok, wanted = low <= value <= high, f"a whole number from {low} to {high}"
    elif isinstance(base, list) and all(isinstance(v, str) for v in base):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        wanted = f"a list of text like {base}"
    else:
        return None
    return None if ok else f"must be {wanted}, got {value!r}"


OverrideProblem = tuple[str | None, str, bool]
"""``(setting, message, about the key)``: ``setting`` ``None`` is the overrides as a
whole; ``about the key`` says whether the message concerns the setting's name (an
unknown setting) rather than its value."""


def override_problems(name: str, overrides: Mapping[str, Any]) -> list[OverrideProblem]:
    """What is wrong with ``overrides`` of profile ``name``; empty when they are all
    right. Shared by scenario files and ``conntrack serve --config``, which place the
    messages at their lines."""
    # Imported here: the scenario package imports this module.
    from .scenario._marks import suggest

    base = load_profile(name)
    settings = sorted(base.settings)
    unknown: list[OverrideProblem] = [
        (key, f"the {name} profile has no setting '{key}'{suggest(key, settings)} "
              f"(settings: {', '.join(settings)})", True)
        for key in overrides
        if key not in base.settings
    ]  # fmt: skip
    if unknown:
        return unknown
    try:
        profile = load_profile(name, overrides)
    except ProfileError as e:
        return [(None, str(e), True)]
    problems: list[OverrideProblem] = []
    for key in overrides:
        wrong = _type_problem(key, base.settings[key], overrides[key])
        if wrong is not None:
            problems.append((key, f"profile '{name}', setting '{key}': {wrong}", False))
        elif _is_duration_setting(base.settings[key]):
            try:
                profile.lifetime(key)
            except ProfileError as e:
                problems.append((key, f"{e}; write a duration like '30d' or 'never'", False))
    return problems
