"""Whether a scenario document conforms to the packaged schema, without ``jsonschema``.

Most documents conform, and for them the schema has nothing to say; ``jsonschema``
(with ``referencing`` and ``rpds``) costs ~25 ms to import, a tenth of a short run's own
work (issue 15). :func:`conforms` answers "no complaint possible" for the keywords
``schema.json`` uses, with ``jsonschema``'s own semantics for Draft 2020-12 (the type
checks, ``re.search`` for ``pattern``, keywords that ignore values of another type);
when it answers ``False`` the loader asks ``jsonschema`` for the complaints, so every
message still comes from there. A keyword it does not know makes it answer ``False``
for every document (``jsonschema`` then decides everything, as before); it is never
allowed to say ``True`` where ``jsonschema`` would complain
(``tests/scenario/test_fastschema.py`` checks both on the library and the bad files).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

#: Keywords that never make a document invalid.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"}
)


class Unsupported(Exception):
    """The schema uses a keyword this module does not check."""


def _is_type(name: str, value: Any) -> bool:
    """``jsonschema``'s Draft 2020-12 type checker."""
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, numbers.Number)
    raise Unsupported(f"type {name!r}")


def _same(a: Any, b: Any) -> bool:
    """Equal for ``enum`` in the narrowest sense (same type, equal): anything looser is
    left to ``jsonschema``."""
    return type(a) is type(b) and a == b


def compile_schema(schema: Any) -> Check:
    """A function telling whether a value conforms to ``schema`` (``$ref`` already
    inlined); raises :class:`Unsupported` for a keyword it does not check."""
    if schema is True:
        return lambda value: True
    if schema is False:
        return lambda value: False
    if not isinstance(schema, dict):
        raise Unsupported(f"schema {schema!r}")
    checks: list[Check] = [_keyword(schema, k, v) for k, v in schema.items() if _checked(k)]
    if not checks:
        return lambda value: True
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _checked(keyword: str) -> bool:
    return not (keyword in _ANNOTATIONS or keyword.startswith("x-") or keyword in _LATER)


#: Read with another keyword: ``then``/``else`` with ``if``, ``properties`` with
#: ``additionalProperties`` when both are there.
_LATER = frozenset({"then", "else"})


def _keyword(schema: dict[str, Any], keyword: str, arg: Any) -> Check:
    if keyword == "type":
        names = arg if isinstance(arg, list) else [arg]
        for name in names:
            _is_type(name, None)  # unknown type names are Unsupported now, not later
        return lambda v: any(_is_type(n, v) for n in names)
    if keyword == "enum":
        return lambda v: any(_same(v, e) for e in arg)
    if keyword == "pattern":
        rx = re.compile(arg)
        return lambda v: not isinstance(v, str) or rx.search(v) is not None
    if keyword in ("minimum", "maximum"):
        low = keyword == "minimum"
        return lambda v: not _is_type("number", v) or (v >= arg if low else v <= arg)
    if keyword in ("minItems", "maxItems"):
        low = keyword == "minItems"
        return lambda v: not isinstance(v, list) or (len(v) >= arg if low else len(v) <= arg)
    if keyword == "minLength":
        return lambda v: not isinstance(v, str) or len(v) >= arg
    if keyword == "minProperties":
        return lambda v: not isinstance(v, dict) or len(v) >= arg
    if keyword == "required":
        return lambda v: not isinstance(v, dict) or all(name in v for name in arg)
    if keyword == "properties":
        props = {name: compile_schema(sub) for name, sub in arg.items()}
        return lambda v: (
            not isinstance(v, dict)
            or all(check(v[name]) for name, check in props.items() if name in v)
        )
    if keyword == "additionalProperties":
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = schema.get("properties", {})
        extra = compile_schema(arg)
        return lambda v: (
            not isinstance(v, dict) or all(extra(v[name]) for name in v if name not in known)
        )
    if keyword == "propertyNames":
        name_ok = compile_schema(arg)
        return lambda v: not isinstance(v, dict) or all(name_ok(name) for name in v)
    if keyword == "items":
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        item = compile_schema(arg)
        return lambda v: not isinstance(v, list) or all(item(x) for x in v)
    if keyword == "anyOf":
        options = [compile_schema(sub) for sub in arg]
        return lambda v: any(option(v) for option in options)
    if keyword == "not":
        negated = compile_schema(arg)
        return lambda v: not negated(v)
    if keyword == "if":
        cond = compile_schema(arg)
        then = compile_schema(schema.get("then", True))
        other = compile_schema(schema.get("else", True))
        return lambda v: then(v) if cond(v) else other(v)
    raise Unsupported(keyword)


def conformer(schema: Any) -> Check | None:
    """:func:`compile_schema`, or None when the schema uses a keyword it does not check."""
    try:
        return compile_schema(schema)
    except Unsupported:
        return None
