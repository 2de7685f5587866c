"""Notification policies as data: who is reminded of what, when, through which channel.

A policy is a YAML document. Two are packaged (``policies/*.yaml``), chosen by name where a
file is also accepted (``--policy every-expiry``): ``default``, what the products in the
field promise and nothing more, and ``every-expiry``, a reminder for every connection
with a hard expiry (TikTok and monitored LinkedIn too)::

    name: default
    extends: every-expiry            # optional: start from a packaged policy
    send_at: "09:00"                 # company-local time of day for reminders
    invalid: {channels: [email, banner, settings], opt_out_silences: false}
    banner_advance: never            # or a duration: "expires soon" banner that early
    expiring_window: 14d             # optional; default: each connection's earliest reminder
    rules:                           # first match wins
      - {providers: [facebook], kinds: [monitored], reminders: [10d]}
      - {reminders: [10d, 5d, 1d, 0d], channels: [email, banner, settings]}

Channels: ``email`` (the reminder or invalid email), ``banner`` (the dashboard banner),
``settings`` (the message on the connection's settings page). A scenario's ``policy:``
key overrides keys of the policy in force; its ``rules`` come before the policy's; its
``extends: NAME`` puts that packaged policy in force first.

The ``expiring`` window (the connection's ``expiring`` state, its banner and settings
message) opens at the connection's earliest reminder, so nobody gets a reminder while the
product still shows the connection as fine. A rule's ``expiring_window`` (else the
top-level one) sets it explicitly. With neither and no reminder there is no window: the
product promises nothing before the expiry (in-app notices go with the emails, as
Meltwater sends "both emails and in-app notifications"), so the connection shows as
connected until it expires, then as expired.

Every problem is reported as ``file:line: message`` naming the allowed values, with a
"did you mean" for a misspelt name, like the scenario loader.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ._durations import format_duration, parse_duration
from ._exceptions import DurationError, Problem, ScenarioError
from ._profiles import providers
from .scenario._marks import DocReader, Document, kind_of, read_one, suggest
from .scenario._marks import Path as DataPath

CHANNELS = ("email", "banner", "settings")
KINDS = ("owned", "monitored", "paid")
KEYS = ("name", "extends", "send_at", "invalid", "banner_advance", "expiring_window", "rules")
RULE_KEYS = ("providers", "kinds", "reminders", "channels", "expiring_window")
INVALID_KEYS = ("channels", "opt_out_silences")
_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class PolicyError(ScenarioError):
    """A policy file (or a scenario's ``policy:``) that does not load: its problems."""


@dataclass(frozen=True)
class Policy:
    """What one connection gets (its provider and kind matched against the rules)."""

    reminders: tuple[timedelta, ...] = ()
    """Offsets before the hard expiry; ``0`` is "on the day"."""
    invalid_email: bool = True
    opt_out_silences_invalid: bool = False
    banner_advance: timedelta | None = None
    """Show the "expires soon" banner this long before the hard expiry even while the
    connection is still ``connected`` ("advance notice"); ``None``: from ``expiring`` on."""
    reminder_email: bool = True
    banner: bool = True
    """The dashboard banner while expiring or expired (and invalid, per ``invalid_banner``)."""
    settings: bool = True
    invalid_banner: bool = True
    invalid_settings: bool = True
    expiring_window: timedelta | None = None
    """How long before the hard expiry the connection turns ``expiring`` (banner and
    settings message): the policy's explicit ``expiring_window``, else the earliest
    reminder, else ``0`` (no reminder: no window, connected until the expiry). ``None``
    (a ``Policy`` made by hand): the provider's own ``notice_window`` applies."""

    def window(self, profile_window: timedelta) -> timedelta:
        """The ``expiring`` window of a connection whose profile says ``profile_window``;
        ``0``: none (the connection is ``connected`` until its hard expiry)."""
        return profile_window if self.expiring_window is None else self.expiring_window


@dataclass(frozen=True)
class Rule:
    reminders: tuple[timedelta, ...]
    providers: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    channels: tuple[str, ...] = CHANNELS
    line: int = 0
    expiring_window: timedelta | None = None
    """Set explicitly for the connections this rule matches (else the policy's, else the
    earliest reminder)."""

    def matches(self, provider: str, kind: str) -> bool:
        return (self.providers is None or provider in self.providers) and (
            self.kinds is None or kind in self.kinds
        )


@dataclass(frozen=True)
class PolicySet:
    """A whole policy: the rules for every connection, send time and channels."""

    name: str
    rules: tuple[Rule, ...]
    send_at: time = time(9, 0)
    invalid_channels: tuple[str, ...] = CHANNELS
    opt_out_silences_invalid: bool = False
    banner_advance: timedelta | None = None
    source: str = ""
    expiring_window: timedelta | None = None
    """Explicit ``expiring`` window for every rule without its own."""

    def for_(self, provider: str, kind: str) -> Policy:
        rule = next((r for r in self.rules if r.matches(provider, kind)), None)
        reminders = tuple(sorted(set(rule.reminders if rule else ()), reverse=True))
        channels = rule.channels if rule else CHANNELS
        window = rule.expiring_window if rule else None
        if window is None:
            window = self.expiring_window
        if window is None:
            # The earliest reminder; none: no window (nothing promised before the expiry).
            window = reminders[0] if reminders else timedelta(0)
        return Policy(
            reminders=reminders,
            invalid_email="email" in self.invalid_channels,
            opt_out_silences_invalid=self.opt_out_silences_invalid,
            banner_advance=self.banner_advance,
            reminder_email="email" in channels,
            banner="banner" in channels,
            settings="settings" in channels,
            invalid_banner="banner" in self.invalid_channels,
            invalid_settings="settings" in self.invalid_channels,
            expiring_window=window,
        )

    def describe(self) -> list[str]:
        """The rules in words, one line each (for reports and ``--compare``)."""
        out = []
        for r in self.rules:
            who = ", ".join(r.providers) if r.providers else "every provider"
            kinds = f" ({', '.join(r.kinds)})" if r.kinds else ""
            when = ", ".join(format_duration(o) for o in r.reminders) or "no reminder"
            line = f"{who}{kinds}: {when} before expiry via {', '.join(r.channels)}"
            if r.expiring_window is not None:
                line += f"; expiring from {format_duration(r.expiring_window)} before"
            out.append(line)
        return out


@dataclass
class _Reader(DocReader):
    """Reads a policy mapping at ``base`` of a line-marked document, collecting problems."""

    base: DataPath = ()

    def get(self, path: DataPath) -> Any:
        value: Any = self.doc.data
        for part in path:
            if isinstance(part, str) and isinstance(value, dict):
                value = value.get(part)
            elif isinstance(part, int) and isinstance(value, list) and part < len(value):
                value = value[part]
            else:
                return None
        return value

    def keys(self, path: DataPath, allowed: Sequence[str], what: str) -> dict[str, Any] | None:
        value = self.get(path)
        return value if self.mapping(path, value, allowed, what) else None

    def names(self, path: DataPath, allowed: Sequence[str], what: str) -> tuple[str, ...] | None:
        value = self.get(path)
        if not isinstance(value, list) or not value:
            self.problem(path, f"'{path[-1]}' must be a list of {what}s, like [{allowed[0]}]")
            return None
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or item not in allowed:
                shown = f"'{item}'" if isinstance(item, str) else repr(item)
                hint = suggest(item, allowed) if isinstance(item, str) else ""
                self.problem(
                    (*path, i),
                    f"unknown {what} {shown}{hint} (allowed: {', '.join(allowed)})",
                )
            else:
                out.append(item)
        return tuple(out) if len(out) == len(value) else None

    def offset(self, path: DataPath, what: str = "a reminder offset") -> timedelta | None:
        value = self.get(path)
        if (isinstance(value, str) and value.strip().startswith("-")) or (
            isinstance(value, int | float) and not isinstance(value, bool) and value < 0
        ):
            self.problem(
                path,
                f"{what} cannot be negative (got {value}): it is how long before the "
                "expiry, like 10d, or 0d for the day itself",
            )
            return None
        try:
            return parse_duration(value)
        except DurationError as e:
            self.problem(path, f"{e}; {what} is a duration like 10d or 0d")
            return None

    def window(self, path: DataPath) -> timedelta | None:
        """An explicit ``expiring_window``: a duration longer than zero."""
        window = self.offset(path, "'expiring_window'")
        if window is not None and window <= timedelta(0):
            self.problem(
                path,
                "'expiring_window' must be longer than 0, like 14d (how long before the "
                "expiry the banner and the settings message show); leave it out to follow "
                "the earliest reminder",
            )
            return None
        return window

    def rule(self, path: DataPath) -> Rule | None:
        if self.keys(path, RULE_KEYS, "a rule") is None:
            return None
        ok = True
        reminders: list[timedelta] = []
        value = self.get((*path, "reminders"))
        if value is None:
            self.problem(path, "a rule needs 'reminders': offsets like [10d, 5d, 1d, 0d], or []")
            ok = False
        elif not isinstance(value, list):
            self.problem((*path, "reminders"), "'reminders' must be a list like [10d, 1d, 0d]")
            ok = False
        else:
            for i in range(len(value)):
                one = self.offset((*path, "reminders", i))
                ok = ok and one is not None
                if one is not None:
                    reminders.append(one)
        found: dict[str, tuple[str, ...] | None] = {}
        for key, allowed, what in (
            ("providers", providers(), "provider"),
            ("kinds", KINDS, "connection kind"),
            ("channels", CHANNELS, "channel"),
        ):
            if self.get((*path, key)) is None:
                found[key] = None
                continue
            found[key] = self.names((*path, key), allowed, what)
            ok = ok and found[key] is not None
        window = None
        if self.get((*path, "expiring_window")) is not None:
            window = self.window((*path, "expiring_window"))
            ok = ok and window is not None
        if not ok:
            return None
        return Rule(
            reminders=tuple(reminders),
            providers=found["providers"],
            kinds=found["kinds"],
            channels=found["channels"] or CHANNELS,
            line=self.doc.line_of(path),
            expiring_window=window,
        )

    def read(self, whole: bool) -> PolicyPatch | None:
        """The policy (``whole``) or the override of one at ``self.base``."""
        top = self.keys(self.base, KEYS, "a policy")
        if top is None:
            return None
        count = len(self.problems)
        changes: dict[str, Any] = {}
        rules: tuple[Rule, ...] = ()
        extends: str | None = None
        if "name" in top:
            if isinstance(top["name"], str) and top["name"]:
                changes["name"] = top["name"]
            else:
                self.problem((*self.base, "name"), "'name' must be text, like 'quieter'")
        if "extends" in top:
            value = top["extends"]
            names = packaged_policies()
            if isinstance(value, str) and value in names:
                extends = value
            else:
                shown = f"'{value}'" if isinstance(value, str) else kind_of(value)
                hint = suggest(value, names) if isinstance(value, str) else ""
                self.problem(
                    (*self.base, "extends"),
                    f"'extends' names a packaged policy; unknown {shown}{hint} "
                    f"(packaged: {', '.join(names)})",
                )
        if "send_at" in top:
            text = top["send_at"]
            m = _HHMM.fullmatch(str(text).strip()) if isinstance(text, str) else None
            if m is None:
                self.problem(
                    (*self.base, "send_at"),
                    f'\'send_at\' must be a time of day "HH:MM" in quotes, like "09:00"; '
                    f"got {text!r}",
                )
            else:
                changes["send_at"] = time(int(m.group(1)), int(m.group(2)))
        if "banner_advance" in top:
            value = top["banner_advance"]
            if value == "never" or value is None:
                changes["banner_advance"] = None
            else:
                advance = self.offset((*self.base, "banner_advance"), "'banner_advance'")
                if advance is not None:
                    changes["banner_advance"] = advance
        if "expiring_window" in top:
            window = self.window((*self.base, "expiring_window"))
            if window is not None:
                changes["expiring_window"] = window
        if "invalid" in top:
            path = (*self.base, "invalid")
            inv = self.keys(path, INVALID_KEYS, "'invalid'")
            if inv is not None:
                if "channels" in inv:
                    if inv["channels"] == []:
                        changes["invalid_channels"] = ()
                    else:
                        channels = self.names((*path, "channels"), CHANNELS, "channel")
                        if channels is not None:
                            changes["invalid_channels"] = channels
                if "opt_out_silences" in inv:
                    if isinstance(inv["opt_out_silences"], bool):
                        changes["opt_out_silences_invalid"] = inv["opt_out_silences"]
                    else:
                        self.problem(
                            (*path, "opt_out_silences"),
                            "'opt_out_silences' must be true or false",
                        )
        if "rules" in top:
            path = (*self.base, "rules")
            if not isinstance(top["rules"], list):
                self.problem(path, "'rules' must be a list of rules like {reminders: [10d]}")
            else:
                found = [self.rule((*path, i)) for i in range(len(top["rules"]))]
                rules = tuple(r for r in found if r is not None)
        elif whole:
            self.problem(self.base, "a policy needs 'rules', like [{reminders: [10d, 0d]}]")
        if len(self.problems) > count:
            return None
        return PolicyPatch(changes, rules, self.file, extends)


@dataclass(frozen=True)
class PolicyPatch:
    """What a policy file or a scenario's ``policy:`` says: settings and rules."""

    changes: dict[str, Any]
    rules: tuple[Rule, ...]
    source: str = ""
    extends: str | None = None
    """A packaged policy's name (``extends:``): it replaces ``base`` before the rest."""

    def apply(self, base: PolicySet) -> PolicySet:
        """``base`` (or the packaged policy this extends) with these settings; these
        rules first (first match wins)."""
        start = packaged_policy(self.extends) if self.extends else base
        return replace(start, **self.changes, rules=self.rules + start.rules)


def read_policy(
    doc: Document, file: str, *, at: DataPath = (), whole: bool = True
) -> tuple[PolicyPatch | None, list[Problem]]:
    """Read the policy mapping at ``at`` of ``doc``: a whole policy, or an override."""
    reader = _Reader(file, doc, base=at)
    return reader.read(whole), reader.problems


def load_policy(path: str | Path) -> PolicySet:
    """A policy file, or :class:`PolicyError` with every ``file:line:`` problem."""
    file = str(path)
    doc, problems = read_one(path, "policy file")
    if not problems and doc is None:
        problems = [Problem(file, 1, "a policy file holds one YAML document with 'rules:'")]
    if problems or doc is None:
        raise PolicyError(problems)
    patch, problems = read_policy(doc, file)
    if problems or patch is None:
        raise PolicyError(problems)
    policy = patch.apply(PolicySet(name=Path(path).stem, rules=(), source=file))
    # A file that extends a packaged policy is still its own (its name, its source).
    return replace(policy, name=patch.changes.get("name", Path(path).stem), source=file)


_PACKAGED = resources.files("conntrack").joinpath("policies")


@cache
def packaged_policies() -> tuple[str, ...]:
    """The names of the packaged policies (``policies/NAME.yaml``), ``default`` first."""
    names = {p.name.removesuffix(".yaml") for p in _PACKAGED.iterdir() if p.name.endswith(".yaml")}
    return tuple(sorted(names, key=lambda n: (n != "default", n)))


@cache
def packaged_policy(name: str) -> PolicySet:
    """The packaged policy ``name`` (one of :func:`packaged_policies`)."""
    if name not in packaged_policies():
        raise PolicyError([Problem(f"policy '{name}'", 0, _unknown_name(name))])
    with resources.as_file(_PACKAGED.joinpath(f"{name}.yaml")) as path:
        return load_policy(path)


def default_policy() -> PolicySet:
    """The packaged policy of the products in the field: what the seeds promise."""
    return packaged_policy("default")


def resolve_policy(value: str) -> PolicySet:
    """What ``--policy VALUE`` (or ``--compare VALUE``) means: a policy file, or a
    packaged policy by name.

    A file that exists is read as a file, and so is anything that looks like a path (a
    folder in it, or a ``.yaml``/``.yml`` suffix): ``--policy FILE`` works as it always
    did, a missing file included. Otherwise the value is a packaged policy's name; an
    unknown one is refused naming the packaged policies."""
    path = Path(value)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long for a file: the file reader says so
        exists = True
    looks_like_a_path = len(path.parts) > 1 or path.suffix in (".yaml", ".yml")
    if exists or looks_like_a_path or not value:
        return load_policy(value)
    if value in packaged_policies():
        return packaged_policy(value)
    raise PolicyError([Problem(f"policy '{value}'", 0, _unknown_name(value))])


def _unknown_name(name: str) -> str:
    names = packaged_policies()
    return (
        f"no such policy file, and no packaged policy of that name{suggest(name, names)} "
        f"(packaged: {', '.join(names)}); give a policy file's path or one of those names"
    )
