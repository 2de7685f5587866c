"""The command-line reference, from the ``conntrack`` argparse parser itself
(:func:`conntrack._cliparser.parser`): every command, argument, option, help text,
default and choice, plus each command's usage line as argparse prints it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from _jsonschema_md import cell

from conntrack._cliparser import parser


def commands() -> dict[str, argparse.ArgumentParser]:
    """Each sub-command's own parser, in the order ``conntrack --help`` lists them."""
    top = parser()
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("conntrack's parser has no sub-commands")


def _help_of(top: argparse.ArgumentParser, name: str) -> str:
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.dest == name:
                    return str(choice.help or "")
    return ""


def arguments(sub: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every argument of a command but ``-h``."""
    for action in sub._actions:
        if not isinstance(action, argparse._HelpAction):
            yield action


def _name(action: argparse.Action) -> str:
    if not action.option_strings:
        return str(action.metavar or action.dest)
    names = ", ".join(action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar or (
        "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.dest.upper()
    )
    return f"{names} {metavar}"


def _default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
        return ""
    return f"`{action.default}`"


def render() -> str:
    """The whole page."""
    top = parser()
    out = [
        "# Command line",
        "",
        "!!! note",
        "    Generated at build time from conntrack's argument parser",
        "    (`src/conntrack/_cliparser.py`). Do not edit this page: change the parser.",
        "",
        str(top.description or ""),
        "",
        "```text",
        top.format_usage().strip(),
        "```",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    subs = commands()
    for name in subs:
        out.append(f"| [`{name}`](#{name}) | {cell(_help_of(top, name))} |")
    out.append("")
    for name, sub in subs.items():
        out += [f"## `conntrack {name}` {{#{name}}}", "", _help_of(top, name), ""]
        if sub.description:
            out += [str(sub.description), ""]
        out += ["```text", sub.format_usage().strip(), "```", ""]
        found = list(arguments(sub))
        if found:
            out += [
                "| argument | help | default | choices |",
                "|---|---|---|---|",
            ]
            for action in found:
                choices = ", ".join(f"`{c}`" for c in action.choices) if action.choices else ""
                required = " (required)" if action.option_strings and action.required else ""
                out.append(
                    f"| {cell(f'`{_name(action)}`')}{required} | {cell(action.help or '')} | "
                    f"{cell(_default(action))} | {cell(choices)} |"
                )
            out.append("")
        if sub.epilog:
            out += [str(sub.epilog), ""]
    return "\n".join(out)
