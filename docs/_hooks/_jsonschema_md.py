"""JSON Schema to Markdown tables: one row per key, with type, allowed values, default,
description and examples, nested objects as dotted paths.

Shared by the scenario-language page (the packaged ``scenario/schema.json``) and the
OpenAPI pages (request and response bodies, ``components/schemas``). A ``$ref`` is not
expanded: it becomes a link to the section that documents its target, so a type used in
ten places is described once and recursion cannot loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

#: Turns a ``$ref`` (``#/$defs/time``, ``#/components/schemas/Error``) into a Markdown link.
RefLink = Callable[[str], str]


@dataclass(frozen=True)
class Row:
    """One documented key: its dotted path and what the schema says of it."""

    path: str
    type: str
    required: bool
    allowed: str
    default: str
    description: str


def cell(text: str) -> str:
    """Text safe in one Markdown table cell: no newlines, and pipes escaped outside code
    spans (inside one, Python-Markdown's tables keep a pipe as it is, and would show a
    backslash)."""
    parts = " ".join(str(text).split()).split("`")
    if len(parts) % 2 == 0:  # an unclosed code span: escape everything
        return "`".join(parts).replace("|", "\\|")
    return "`".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))


def code(value: Any) -> str:
    """A JSON value as inline code (YAML-like scalars stay readable)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("`", "'")
    return f"`{text}`"


def type_of(schema: Any, ref_link: RefLink) -> str:
    """A short type description: ``string``, ``list of [event](#event)``, ``a or b``."""
    if not isinstance(schema, dict):
        return "any"
    if "$ref" in schema:
        return ref_link(schema["$ref"])
    if "const" in schema:
        return f"constant {code(schema['const'])}"
    for combiner, word in (("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")):
        if combiner in schema:
            parts = [type_of(s, ref_link) for s in schema[combiner]]
            return word.join(dict.fromkeys(parts))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "array" or "items" in schema:
        return f"list of {type_of(schema.get('items', {}), ref_link)}"
    extra = schema.get("additionalProperties")
    if kind == "object" and isinstance(extra, dict) and not schema.get("properties"):
        return f"mapping of name to {type_of(extra, ref_link)}"
    if kind is None and "enum" in schema:
        kinds = {type(v).__name__ for v in schema["enum"]}
        names = {"str": "string", "int": "integer", "bool": "boolean"}
        return names.get(kinds.pop(), "any") if len(kinds) == 1 else "any"
    return str(kind or "any")


def allowed_of(schema: Any) -> str:
    """Allowed values and bounds: enum, pattern, minimum/maximum, lengths, formats."""
    if not isinstance(schema, dict):
        return ""
    parts: list[str] = []
    if "enum" in schema:
        parts.append(", ".join(code(v) for v in schema["enum"]))
    for key, word in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("minLength", "length >="),
        ("maxLength", "length <="),
        ("minItems", "items >="),
        ("maxItems", "items <="),
        ("minProperties", "keys >="),
        ("maxProperties", "keys <="),
    ):
        if key in schema:
            parts.append(f"{word} {schema[key]}")
    if "pattern" in schema:
        parts.append(f"matches {code(schema['pattern'])}")
    if "format" in schema:
        parts.append(f"format {schema['format']}")
    if schema.get("uniqueItems"):
        parts.append("unique items")
    items = schema.get("items")
    if isinstance(items, dict) and "$ref" not in items:
        inner = allowed_of(items)
        if inner:
            parts.append(f"each: {inner}")
    for combiner in ("oneOf", "anyOf"):
        for alternative in schema.get(combiner, []):
            inner = allowed_of(alternative)
            if inner:
                parts.append(inner)
    return "; ".join(dict.fromkeys(parts))


def description_of(schema: Any) -> str:
    """The description, the ``x-expected`` hint conntrack's errors give, and examples."""
    if not isinstance(schema, dict):
        return ""
    text = str(schema.get("description", ""))
    hint = schema.get("x-expected")
    if hint and hint not in text:
        text = f"{text} Expected: {hint}." if text else f"Expected: {hint}."
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        text += " Example: " + ", ".join(code(e) for e in examples[:3]) + "."
    return text.strip()


def rows(schema: Any, ref_link: RefLink, prefix: str = "") -> Iterator[Row]:
    """Every key of an object schema, then the keys of its inline nested objects (as
    ``parent.child``, ``parent.<name>.child`` for a mapping, ``parent[].child`` for a
    list). ``$ref`` targets are not entered: they are documented in their own section."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    required = set(schema.get("required", []))
    for key, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}{key}"
        yield Row(
            path=path,
            type=type_of(sub, ref_link),
            required=key in required,
            allowed=allowed_of(sub),
            default=code(sub["default"]) if isinstance(sub, dict) and "default" in sub else "",
            description=description_of(sub),
        )
        yield from nested(sub, ref_link, path)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and schema.get("properties") is None and not prefix:
        yield from nested(schema, ref_link, "")


def nested(sub: Any, ref_link: RefLink, path: str) -> Iterator[Row]:
    """The keys inside ``sub`` (an inline object, a mapping's values, a list's items)."""
    if not isinstance(sub, dict) or "$ref" in sub:
        return
    if sub.get("properties"):
        yield from rows(sub, ref_link, f"{path}.")
    extra = sub.get("additionalProperties")
    if isinstance(extra, dict) and "$ref" not in extra:
        yield from rows(extra, ref_link, f"{path}.<name>." if path else "<name>.")
    items = sub.get("items")
    if isinstance(items, dict) and "$ref" not in items:
        yield from rows(items, ref_link, f"{path}[].")


def table(found: list[Row]) -> str:
    """The rows as one Markdown table (empty text for none)."""
    if not found:
        return ""
    lines = [
        "| key | type | required | allowed values | default | description |",
        "|---|---|---|---|---|---|",
    ]
    for r in found:
        lines.append(
            f"| {cell(f'`{r.path}`')} | {cell(r.type)} | {'yes' if r.required else ''} | "
            f"{cell(r.allowed)} | {cell(r.default)} | {cell(r.description)} |"
        )
    return "\n".join(lines) + "\n"


def keys_in(schema: Any) -> set[str]:
    """Every property name anywhere in ``schema`` (the tests check each is documented)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                found.update(value)
            found |= keys_in(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= keys_in(value)
    return found
