"""The one exception hierarchy of conntrack.

::

    ConntrackError                 root: catch this to catch everything we raise
    ├── InputError                 bad input from a user: a file, an option, a value
    │   ├── DurationError          a duration or instant that does not parse
    │   ├── ScenarioError          a scenario that does not load or validate
    │   │                          (carries every Problem found, each with file:line)
    │   └── ProfileError           a provider profile or override that is wrong
    ├── LifecycleError             a trigger fired in a state that does not allow it
    └── ProviderProtocolError      a fake (or real) provider answered something the
                                   client cannot parse at all

The CLI turns every ``InputError`` into exit status 2 with its message and no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConntrackError(Exception):
    """Root of every exception conntrack raises on purpose."""


class InputError(ConntrackError):
    """Bad input from a user; the message says what, where and how to fix it."""


class DurationError(InputError, ValueError):
    """A duration such as ``20d 6h`` or an instant that does not parse."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input file, at a line (1-based; 0 when unknown)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        # Line 0 means the problem is the file as a whole (missing, unreadable).
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class ScenarioError(InputError):
    """A scenario file that does not load or validate: one or more problems."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ProfileError(InputError):
    """A provider profile, or an override of one, that is wrong."""


class LifecycleError(ConntrackError):
    """A lifecycle trigger fired in a state whose table row does not allow it."""


class ProviderProtocolError(ConntrackError):
    """A provider answered something that cannot be parsed as its protocol."""
