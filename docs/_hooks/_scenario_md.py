"""The scenario-language reference, from the packaged JSON Schema
(``src/conntrack/scenario/schema.json``, the one the loader validates against).

The top-level keys first, then one section per ``$defs`` entry: objects as tables of
their keys, value types (durations, instants, …) by their description and allowed
forms, and the expectation kinds by the key that selects each.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from _jsonschema_md import allowed_of, description_of, keys_in, rows, table, type_of


def load_schema() -> dict[str, Any]:
    """The schema exactly as the package ships it."""
    text = resources.files("conntrack.scenario").joinpath("schema.json").read_text("utf-8")
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def _link(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    return f"[{name}](#{name})"


def _selectors(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """An if/then/else chain as ``(condition, target)`` pairs: which key picks which kind."""
    found: list[tuple[str, str]] = []
    node: Any = schema
    while isinstance(node, dict) and "if" in node:
        condition = node["if"]
        keys = condition.get("required") or [
            k for alt in condition.get("anyOf", []) for k in alt.get("required", [])
        ]
        target = node.get("then", {})
        found.append((" or ".join(f"`{k}`" for k in keys), type_of(target, _link)))
        node = node.get("else")
    return found


def render() -> str:
    """The whole page."""
    schema = load_schema()
    out = [
        "# Scenario language",
        "",
        "!!! note",
        "    Generated at build time from the packaged JSON Schema",
        "    (`src/conntrack/scenario/schema.json`), the one `conntrack run` and",
        "    `conntrack validate` check every scenario against. Do not edit this page:",
        "    change the schema.",
        "",
        description_of(schema),
        "",
        "## Top-level keys",
        "",
        table(list(rows(schema, _link))),
    ]
    defs: dict[str, Any] = schema.get("$defs", {})
    out += ["## Types", ""]
    out.append(
        "Each section below is one `$defs` entry of the schema, linked from the tables that use it."
    )
    out.append("")
    for name, sub in defs.items():
        out += [f"### {name}", ""]
        text = description_of(sub)
        if text:
            out += [text, ""]
        if "if" in sub:
            out += [
                "One of the kinds below, chosen by the key it has:",
                "",
                "| key present | kind |",
                "|---|---|",
            ]
            out += [f"| {key} | {target} |" for key, target in _selectors(sub)]
            out.append("")
        found = list(rows(sub, _link))
        if found:
            out.append(table(found))
        elif "if" not in sub:
            out += [
                f"Type: {type_of(sub, _link)}.",
                "",
            ]
            allowed = allowed_of(sub)
            if allowed:
                out += [f"Allowed: {allowed}.", ""]
        if sub.get("additionalProperties") is False:
            out += ["No other keys are allowed.", ""]
    return "\n".join(out)


def documented_keys() -> set[str]:
    """Every key the schema names (for the completeness test)."""
    return keys_in(load_schema())
