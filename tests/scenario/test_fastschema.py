"""The loader's quick conformance check (``_fastschema``) never says "conforms" where
``jsonschema`` would complain, and says it for the documents that do conform, so that a
good file is loaded without importing ``jsonschema`` (issue 15) and a bad one gets
exactly the messages it got before (they still come from ``jsonschema``)."""

from __future__ import annotations

import copy
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conntrack.scenario import _loader
from conntrack.scenario._fastschema import Unsupported, compile_schema, conformer
from conntrack.scenario._marks import load_documents

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [
        *(ROOT / "scenarios").glob("*.yaml"),
        *(ROOT / "tests" / "scenario" / "bad").glob("*.yaml"),
        *(ROOT / "tests" / "scenario" / "good").glob("*.yaml"),
        ROOT / "bench" / "facebook_365d.yaml",
    ]
)
#: Values a mutation puts where another was: every JSON type, and near misses.
ODD = [None, True, False, 0, -1, 1.5, 10**9, "", "x", "1d", "bogus", [], [1], {}, {"x": 1}]


def documents() -> Iterator[Any]:
    for file in FILES:
        docs, _ = load_documents(file.read_text("utf-8"), str(file))
        for doc in docs:
            yield doc.data


def complains(data: Any) -> bool:
    return next(_loader._validator().iter_errors(data), None) is not None


def paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*at, i))


def mutate(data: Any, rng: random.Random) -> Any:
    """``data`` with one value replaced, one key added or removed, or one item dropped."""
    out = copy.deepcopy(data)
    where = rng.choice(list(paths(out)))
    if not where:
        return rng.choice(ODD)
    parent = out
    for step in where[:-1]:
        parent = parent[step]
    last = where[-1]
    roll = rng.random()
    if roll < 0.6:
        parent[last] = rng.choice(ODD)
    elif roll < 0.8 or not isinstance(parent, dict):
        del parent[last]
    else:
        parent[f"{last}_extra"] = parent[last]
    return out


def test_the_packaged_schema_is_checked_quickly() -> None:
    assert conformer(_loader._inlined(_loader.schema())) is not None


def test_every_good_document_conforms_and_every_bad_one_is_left_to_jsonschema() -> None:
    conforms = _loader._conforms()
    seen = 0
    for data in documents():
        seen += 1
        assert conforms(data) == (not complains(data)), data
    assert seen >= len(FILES)


def test_a_mutated_document_never_conforms_where_jsonschema_complains() -> None:
    conforms = _loader._conforms()
    rng = random.Random(15)
    library = list(documents())
    checked = 0
    for _ in range(1500):
        data = mutate(rng.choice(library), rng)
        if complains(data):
            assert not conforms(data), data
            checked += 1
        else:
            assert conforms(data), data
    assert checked > 500  # most mutations break something


@pytest.mark.parametrize(
    "schema",
    [{"format": "date"}, {"prefixItems": [{}]}, {"type": "integer", "oneOf": [{}]}],
)
def test_a_keyword_it_does_not_know_leaves_everything_to_jsonschema(schema: Any) -> None:
    with pytest.raises(Unsupported):
        compile_schema(schema)
    assert conformer(schema) is None


def test_jsonschemas_type_rules() -> None:
    """Whole floats are integers, booleans are neither integers nor numbers, a pattern
    is searched, not matched, and keywords skip values of other types."""
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"type": "integer"}, 3.0),
        ({"type": "integer"}, 3.5),
        ({"type": "integer"}, True),
        ({"type": "number"}, False),
        ({"type": ["string", "null"]}, None),
        ({"pattern": "b"}, "abc"),
        ({"pattern": "^b"}, "abc"),
        ({"pattern": "^b"}, 5),
        ({"minimum": 1}, "zero"),
        ({"minItems": 1}, {}),
        ({"required": ["a"]}, []),
        ({"enum": ["a", 1]}, 1),
        ({"enum": [1]}, True),
        ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}),
        ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"ok": 1, "Not": 2}),
        ({"if": {"required": ["a"]}, "then": {"required": ["b"]}}, {"a": 1}),
        ({"if": {"required": ["a"]}, "else": {"required": ["b"]}}, {"c": 1}),
        ({"not": {"type": "string"}}, "s"),
        ({"anyOf": [{"type": "string"}, {"minimum": 3}]}, 2),
    ]
    for schema, value in cases:
        valid = jsonschema.Draft202012Validator(schema).is_valid(value)
        quick = compile_schema(schema)(value)
        assert quick == valid or (valid and not quick), (schema, value)


def test_loading_a_good_file_does_not_import_jsonschema() -> None:
    code = (
        "import sys\n"
        "from conntrack.scenario import load_paths\n"
        f"load_paths([{str(ROOT / 'bench' / 'facebook_365d.yaml')!r}])\n"
        "print('jsonschema' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
