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

#: Problems listed per file. A hostile (or badly generated) file can hold tens of
#: thousands of mistakes; listing them all costs seconds and megabytes and helps nobody:
#: the author fixes the first ones and runs again. Past this many the readers only count
#: (see :func:`add_problem`) or stop looking, and the message ends in one line saying so.
MAX_PROBLEMS = 100

# Markers in a problem list, never shown: one problem past MAX_PROBLEMS (counted, its
# words dropped), and "the reader stopped looking here" (more may follow, uncounted).
_MORE = "\0more"
_STOPPED = "\0stopped"


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


def add_problem(problems: list[Problem], problem: Problem) -> None:
    """Append ``problem``; past :data:`MAX_PROBLEMS` only a marker that counts it."""
    if len(problems) < MAX_PROBLEMS:
        problems.append(problem)
    else:
        problems.append(Problem(problem.file, 0, _MORE))


def full(problems: list[Problem]) -> bool:
    """Whether ``problems`` holds :data:`MAX_PROBLEMS`: a reader may stop looking."""
    return len(problems) >= MAX_PROBLEMS


def stopped(problems: list[Problem], file: str) -> None:
    """Note that a reader of ``file`` stopped looking: more problems may follow."""
    problems.append(Problem(file, 0, _STOPPED))


class ScenarioError(InputError):
    """A scenario file that does not load or validate: one or more problems.

    ``problems`` holds the problems found, sorted; the message lists at most
    :data:`MAX_PROBLEMS` per file and then one line with how many more there are (or
    that the reader stopped looking), so a file with 20 000 mistakes is refused at once.
    """

    def __init__(self, problems: list[Problem]) -> None:
        more: dict[str, int] = {}
        halted: set[str] = set()
        kept: list[Problem] = []
        for p in problems:
            if p.message == _MORE:
                more[p.file] = more.get(p.file, 0) + 1
            elif p.message == _STOPPED:
                halted.add(p.file)
            else:
                kept.append(p)
        self.problems = sorted(kept)
        by_file: dict[str, list[Problem]] = {f: [] for f in sorted(set(more) | halted)}
        for p in self.problems:
            by_file.setdefault(p.file, []).append(p)
        lines: list[str] = []
        for file in sorted(by_file):
            found = by_file[file]
            lines += [str(p) for p in found[:MAX_PROBLEMS]]
            extra = more.get(file, 0) + max(0, len(found) - MAX_PROBLEMS)
            if file in halted:
                lines.append(
                    f"{file}: … and more problems (conntrack stops looking after "
                    f"{MAX_PROBLEMS} per file); fix these first"
                )
            elif extra:
                lines.append(f"{file}: … and {extra} more problems; fix these first")
        super().__init__("\n".join(lines))


class ProfileError(InputError):
    """A provider profile, or an override of one, that is wrong."""


class LifecycleError(ConntrackError):
    """A lifecycle trigger fired in a state whose table row does not allow it."""


class ProviderProtocolError(ConntrackError):
    """A provider answered something that cannot be parsed as its protocol."""
