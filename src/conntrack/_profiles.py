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

Permissions: ``default_scopes`` are the ones the product needs (a login without one of
them is refused); ``optional_scopes`` are asked for too, but the connection works
without them (Traackr: "three permissions required …, the fourth is optional and won't
affect the connection"). It maps each optional permission to what the product does not
do without it, the note its settings page shows ("media insights are not collected"); a
plain list gets a generic note. An optional permission may not also be required, and
must be one the provider knows where the profile lists them (``known_scopes``, or the
app's ``app_scopes``): a packaged profile that breaks this is refused at load with its
``file:line``, a scenario's or server config's override at its own line.
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

#: The note of an optional permission given as a plain list (no text of its own).
GENERIC_EFFECT = "what needs it is not collected"


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

    @property
    def optional_scopes(self) -> dict[str, str]:
        """The permissions the product asks for besides the required ones and can do
        without, each with what it does not do without it (see the module docstring)."""
        return optional_scopes_of(self.settings.get("optional_scopes"))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Profile:
        unknown = sorted(set(overrides) - set(self.settings))
        if unknown:
            raise ProfileError(
                f"profile {self.provider!r} has no setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.settings))}"
            )
        return Profile(self.provider, {**self.settings, **overrides})


_SAFE_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _catalog() -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, Any]] = {}
    for entry in resources.files("conntrack").joinpath("profiles").iterdir():
        if entry.name.endswith(".yaml"):
            # Our own packaged files, so libyaml's safe loader when it is there: the same
            # data, a tenth of the pure-Python parser's 20 ms at every process start.
            data = yaml.load(entry.read_text("utf-8"), Loader=_SAFE_LOADER)
            assert isinstance(data, dict), entry.name
            raw[entry.name.removesuffix(".yaml")] = data

    def resolved(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        data = dict(raw[name])
        parent = data.pop("extends", None)
        if parent is None:
            return data
        assert parent in raw and parent not in seen, f"profile {name}: bad extends {parent}"
        return {**resolved(parent, (*seen, name)), **data}

    catalog = {name: resolved(name) for name in sorted(raw)}
    for name, settings in catalog.items():
        problems = optional_scope_problems(name, settings)
        if problems:
            key, message = problems[0]
            raise ProfileError(f"{_where(name, key, raw)}: {message}")
    return catalog


def _where(name: str, key: str, raw: Mapping[str, Mapping[str, Any]]) -> str:
    """``profiles/NAME.yaml:LINE`` of ``key`` in the packaged profile that sets it (the
    profile itself, or the one it ``extends``)."""
    while key not in raw[name] and isinstance(raw[name].get("extends"), str):
        name = raw[name]["extends"]
    entry = resources.files("conntrack").joinpath("profiles", f"{name}.yaml")
    node = yaml.compose(entry.read_text("utf-8"))
    line = 1
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if k.value == key:
                line = k.start_mark.line + 1
    return f"src/conntrack/profiles/{name}.yaml:{line}"


def optional_scopes_of(value: Any) -> dict[str, str]:
    """``optional_scopes`` as ``{permission: note}``: a mapping as it is, a list with
    :data:`GENERIC_EFFECT` as each note; anything else (refused at load) as nothing."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(s): GENERIC_EFFECT for s in value}
    return {}


def optional_scope_problems(name: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with the permissions of profile ``name`` (settings after any
    overrides), as ``(setting, message)``: ``optional_scopes`` of the wrong shape, an
    optional permission that is also required, one the provider does not know."""
    value = settings.get("optional_scopes", {})
    example = "{instagram_manage_insights: media insights are not collected}"
    if isinstance(value, Mapping):
        bad = [k for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str)]
        bad += [k for k, v in value.items() if isinstance(v, str) and not v.strip()]
    elif isinstance(value, list):
        bad = [v for v in value if not isinstance(v, str) or not v]
    else:
        bad = [value]
    if bad:
        return [
            (
                "optional_scopes",
                f"profile '{name}', setting 'optional_scopes': must map each optional "
                f"permission to what the product does not do without it, like {example} "
                f"(or be a list of permissions); got {value!r}",
            )
        ]
    optional = optional_scopes_of(value)
    required = [str(s) for s in settings.get("default_scopes") or ()]
    known = settings.get("known_scopes") or settings.get("app_scopes")
    problems: list[tuple[str, str]] = []
    for scope in optional:
        if scope in required:
            problems.append(
                (
                    "optional_scopes",
                    f"profile '{name}': '{scope}' is both required (default_scopes) and "
                    "optional (optional_scopes); a permission is one or the other: remove "
                    "it from one of the two lists",
                )
            )
        elif isinstance(known, list) and scope not in known:
            from .scenario._marks import suggest  # the scenario package imports this module

            which = "known_scopes" if settings.get("known_scopes") else "app_scopes"
            problems.append(
                (
                    "optional_scopes",
                    f"profile '{name}': '{scope}' is not a permission "
                    f"{settings.get('display_name', name)} knows{suggest(scope, known)} "
                    f"(its {which}: {', '.join(map(str, known))})",
                )
            )
    return problems


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
    scoped = [k for k in ("optional_scopes", "default_scopes") if k in overrides]
    if scoped:
        for _, message in optional_scope_problems(name, profile.settings):
            problems.append((scoped[0], message, False))
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
