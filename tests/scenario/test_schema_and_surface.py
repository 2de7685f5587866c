"""The packaged schema agrees with the code, the public surface is what we mean, and no
shape of input, however wrong, escapes as anything but a ScenarioError."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import conntrack.scenario
from conntrack._exceptions import ScenarioError
from conntrack._lifecycle import REASONS, STATES
from conntrack.scenario import CONNECTION_KINDS, EMAIL_KINDS, EVENTS, load_file, schema

GOOD = Path(__file__).parent / "good" / "full.yaml"


def test_public_surface() -> None:
    assert sorted(conntrack.scenario.__all__) == sorted(
        [
            "ACCOUNT_EVENTS",
            "COMPANY_EVENTS",
            "CONNECTION_ACTIONS",
            "CONNECTION_KINDS",
            "EMAIL_KINDS",
            "EVENTS",
            "PROVIDER_EVENTS",
            "BannerExpect",
            "CompanySpec",
            "ConnectionSpec",
            "EmailExpect",
            "Expectation",
            "GapExpect",
            "ReconnectsExpect",
            "Scenario",
            "StateExpect",
            "TimelineEvent",
            "TransitionsExpect",
            "Where",
            "discover",
            "load_file",
            "load_paths",
            "schema",
        ]
    )
    for name in conntrack.scenario.__all__:
        assert getattr(conntrack.scenario, name) is not None


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_enums_match_the_code() -> None:
    defs = schema()["$defs"]
    assert tuple(defs["event"]["properties"]["event"]["enum"]) == EVENTS
    assert tuple(defs["connection"]["properties"]["kind"]["enum"]) == CONNECTION_KINDS
    assert tuple(defs["state_expect"]["properties"]["state"]["enum"]) == STATES
    assert tuple(defs["state_expect"]["properties"]["reason"]["enum"]) == REASONS
    assert tuple(defs["email_expect"]["properties"]["email"]["enum"]) == EMAIL_KINDS


def _closed_objects(node: Any, where: str = "#") -> Iterator[str]:
    """Every object schema with properties that does not forbid other keys."""
    if isinstance(node, dict):
        if "properties" in node and node.get("additionalProperties") is not False:
            yield where
        for key, value in node.items():
            yield from _closed_objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _closed_objects(value, f"{where}/{i}")


def test_every_mapping_in_the_schema_forbids_unknown_keys() -> None:
    assert list(_closed_objects(schema())) == []


def _paths(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*path, i))


DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
REPLACEMENTS: list[Any] = [None, -1, True, "x", [1], {"a": 1}]


def test_no_mutation_of_a_good_file_escapes_as_a_traceback(tmp_path: Path) -> None:
    """A deterministic stand-in for fuzzing: every value of a good file, replaced by
    values of every type, must load or fail as ScenarioError with a real line."""
    original = yaml.safe_load(GOOD.read_text("utf-8"))
    target = tmp_path / "mutant.yaml"
    tried = 0
    for path in list(_paths(original))[1:]:
        for replacement in REPLACEMENTS:
            data = copy.deepcopy(original)
            node = data
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = replacement
            target.write_text(yaml.dump(data, Dumper=DUMPER, sort_keys=False), "utf-8")
            tried += 1
            try:
                load_file(target)
            except ScenarioError as e:
                assert e.problems, path
                assert all(p.line >= 1 for p in e.problems), (path, replacement, e)
    assert tried > 300


@pytest.mark.parametrize(
    "text",
    [
        "42\n",
        "just words\n",
        "[1, 2]\n",
        "? [a]\n: b\n",
        "scenario: x\nconnections: [fb]\n",
        "scenario: x\nconnections: {fb: 3}\ntimeline: 3\nexpect: {}\n",
        "scenario: x\nexpect: [[1], 3, {}]\ntimeline: [[1], null]\n",
        "scenario: x\nprofiles: [facebook]\ncompany: [1]\n",
        "scenario: x\nprofiles: {facebook: 3, null: {}}\ncompany: {users: 0, opt_out: user1}\n",
        "scenario: x\nstart: 2026-13-45T09:00:00Z\nuntil: 2026-01-05\n",
        "scenario: x\nstart: 2026-01-05T09:00:00Z\nuntil: 1d\n"
        "connections: {fb: {provider: facebook}}\n"
        "expect: [{email: invalid, about: fb, within: '..', to: [], at: []}]\n",
        "<<: {scenario: x}\n<<: 3\n",
        "a: &x 1\nb: *x\nc: !!binary aGk=\n",
    ],
)
def test_odd_shapes_become_problems(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    assert all(p.line >= 1 for p in info.value.problems), str(info.value)
