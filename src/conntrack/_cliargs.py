"""What the ``conntrack`` command accepts on its command line, and how it says no.

A usage error is one line (what, which option, where to get help), never argparse's
usage block; whole numbers are checked against a range with an example; counts that
would make a command wait for ever (``--attempts``) have a ceiling.
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Callable

from ._exceptions import InputError

EXIT_INPUT = 2


class Parser(argparse.ArgumentParser):
    """One line per usage error (what, which option, how to get help), not the usage."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: {message}; see '{self.prog} --help'\n")


def whole(low: int, high: int, example: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text) if len(text) <= 30 else None
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high}, like {example}; got {text!r}"
            )
        return value

    return parse


def text(text: str) -> str:
    """An argparse type: text that is not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


MAX_ATTEMPTS = 10
"""``--attempts`` at most: the waits double from 0.5 s up to 30 s, so 10 attempts already
wait about two minutes for one email (10**9 waited for ever)."""


def check_attempts(args: argparse.Namespace) -> None:
    if getattr(args, "attempts", 1) > MAX_ATTEMPTS:
        raise InputError(
            f"--attempts must be at most {MAX_ATTEMPTS}, got {args.attempts}: the waits "
            f"between attempts double up to 30 s, so {MAX_ATTEMPTS} already wait about two "
            "minutes for one email; deliver again later with 'conntrack deliver' instead"
        )


def only(group: BaseException, kind: type[OSError]) -> OSError | None:
    """The one ``kind`` error that a (nested) exception group holds and nothing else."""
    while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
        group = group.exceptions[0]
    return group if isinstance(group, kind) else None
