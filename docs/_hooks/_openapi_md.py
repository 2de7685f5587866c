"""OpenAPI 3.1 documents to Markdown: every path and method with its parameters, request
body and answers, then every component schema as a table of its keys.

Used for the fakes' control API (``fake_providers/openapi.yaml``, the document the fakes
serve at ``/_conntrack/openapi.json``) and the product test protocol
(``src/conntrack/product/openapi.json``, the one the harness checks products against).
"""

from __future__ import annotations

import re
from typing import Any

from _jsonschema_md import allowed_of, cell, code, description_of, rows, table, type_of

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def anchor(kind: str, name: str) -> str:
    """A stable heading id (``schema-clockrequest``, ``post-clock``)."""
    return f"{kind}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _link(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    if "/schemas/" in ref:
        return f"[{name}](#{anchor('schema', name)})"
    return f"`{name}`"


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    """A ``$ref`` to a component parameter or response, followed (schemas stay links)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and "/schemas/" not in node["$ref"]:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
        seen += 1
        assert seen < 20, "a $ref loop in the OpenAPI document"
    return node


def _body(doc: dict[str, Any], content: dict[str, Any] | None) -> list[str]:
    """A request or response body: media type, schema type, and inline keys."""
    out: list[str] = []
    for media, spec in (content or {}).items():
        schema = spec.get("schema", {})
        out.append(f"`{media}`: {type_of(schema, _link)}")
        found = list(rows(schema, _link))
        if found:
            out += ["", table(found)]
        example = spec.get("example")
        if example is not None:
            out += ["", f"Example: {code(example)}"]
    return out


def operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Every ``(METHOD, path)`` of the document."""
    return [
        (method.upper(), path)
        for path, item in doc.get("paths", {}).items()
        for method in METHODS
        if method in item
    ]


def render(doc: dict[str, Any], title: str, source: str, intro: str) -> str:
    """The whole page of one OpenAPI document."""
    info = doc.get("info", {})
    out = [
        f"# {title}",
        "",
        "!!! note",
        f"    Generated at build time from `{source}`. Do not edit this page: change the",
        "    document.",
        "",
        intro,
        "",
        f"**{cell(info.get('title', ''))}**, version `{info.get('version', '?')}`, "
        f"OpenAPI `{doc.get('openapi', '?')}`.",
        "",
        str(info.get("description", "")),
        "",
    ]
    servers = doc.get("servers") or []
    if servers:
        out += ["Servers: " + ", ".join(f"`{s.get('url')}`" for s in servers), ""]
    out += ["## Operations", "", "| method | path | summary |", "|---|---|---|"]
    for method, path in operations(doc):
        summary = doc["paths"][path][method.lower()].get("summary", "")
        link = anchor(method.lower(), path)
        out.append(f"| `{method}` | [`{cell(path)}`](#{link}) | {cell(summary)} |")
    out.append("")
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            out += [
                f"### `{method.upper()} {path}` {{#{anchor(method, path)}}}",
                "",
            ]
            if op.get("summary"):
                out += [f"**{op['summary']}**", ""]
            if op.get("description"):
                out += [str(op["description"]), ""]
            if op.get("tags"):
                out += ["Tags: " + ", ".join(f"`{t}`" for t in op["tags"]), ""]
            params = [_resolve(doc, p) for p in [*shared, *op.get("parameters", [])]]
            if params:
                out += [
                    "Parameters:",
                    "",
                    "| name | in | type | required | allowed values | description |",
                    "|---|---|---|---|---|---|",
                ]
                for p in params:
                    schema = p.get("schema", {})
                    out.append(
                        f"| `{p['name']}` | {p.get('in', '')} | "
                        f"{cell(type_of(schema, _link))} | "
                        f"{'yes' if p.get('required') else ''} | "
                        f"{cell(allowed_of(schema))} | "
                        f"{cell(p.get('description', '') or description_of(schema))} |"
                    )
                out.append("")
            body = _resolve(doc, op.get("requestBody"))
            if isinstance(body, dict):
                required = " (required)" if body.get("required") else ""
                out += [f"Request body{required}: " + str(body.get("description", "")), ""]
                out += [*_body(doc, body.get("content")), ""]
            out += ["Answers:", ""]
            for status, answer in op.get("responses", {}).items():
                answer = _resolve(doc, answer)
                out += [f"- **{status}**: {cell(answer.get('description', ''))}"]
                for line in _body(doc, answer.get("content")):
                    out.append(f"    {line}" if line else "")
            out.append("")
    schemas = doc.get("components", {}).get("schemas", {})
    if schemas:
        out += ["## Schemas", ""]
        for name, schema in schemas.items():
            out += [f"### {name} {{#{anchor('schema', name)}}}", ""]
            text = description_of(schema)
            if text:
                out += [text, ""]
            out += [f"Type: {type_of(schema, _link)}.", ""]
            allowed = allowed_of(schema)
            if allowed:
                out += [f"Allowed: {allowed}.", ""]
            found = list(rows(schema, _link))
            if found:
                out.append(table(found))
    extras = {k: v for k, v in doc.items() if k.startswith("x-")}
    for key, value in extras.items():
        out += [f"## `{key}`", ""]
        out.append(_extension(value))
        out.append("")
    return "\n".join(out)


def _extension(value: Any) -> str:
    """A vendor extension (``x-conntrack-environment``, …) as a readable list."""
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            text = v.get("description", "") if isinstance(v, dict) else v
            lines.append(f"- `{k}`: {cell(text if isinstance(text, str) else code(text))}")
        return "\n".join(lines)
    return cell(value if isinstance(value, str) else code(value))
