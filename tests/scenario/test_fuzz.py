"""Thousands of malformed scenario documents: every one ends in file:line problems.

No input may make the loader raise anything but ScenarioError, and every problem of a
file that has content names a line.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conntrack._exceptions import ScenarioError
from conntrack.scenario import load_file

GOOD = {
    "scenario": "fuzz",
    "start": "2026-01-05T09:00:00Z",
    "until": "30d",
    "company": {"users": 2, "opt_out": ["user2"]},
    "connections": {"fb": {"provider": "facebook", "sync_every": "6h"}},
    "timeline": [{"at": "5d", "event": "password_change", "connection": "fb"}],
    "expect": [
        {"at": "5d 6h", "connection": "fb", "state": "invalid", "reason": "password_changed"},
        {"email": "invalid", "about": "fb", "to": "all", "within": "5d..6d"},
        {"data_gap": "fb", "from": "5d"},
    ],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "fb",
            "user1",
            "20d",
            "6h",
            "-1d",
            "x..y",
            "5d..1d",
            "all",
            "2026-01-05",
            "2026-13-40T99:00:00Z",
            "invalid",
            "password_change",
            "facebook",
            "never",
            "pasword_change",
            "0s",
            "1e9d",
        ]
    ),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    *GOOD,
                    "at",
                    "event",
                    "connection",
                    "state",
                    "email",
                    "about",
                    "to",
                    "from",
                    "within",
                    "count",
                    "reason",
                    "provider",
                    "kind",
                    "users",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


def _mutate(doc: dict, path: list[str], value: object) -> dict:
    out = dict(doc)
    if not path:
        return out
    key = path[0]
    if len(path) == 1 or not isinstance(out.get(key), dict):
        out[key] = value
    else:
        out[key] = _mutate(out[key], path[1:], value)
    return out


def _check(tmp: Path, text: str) -> None:
    path = tmp / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_file(path)
    except ScenarioError as e:
        assert e.problems
        for p in e.problems:
            assert p.file == str(path)
            if text.strip():
                assert p.line >= 1, str(p)
            assert str(p).startswith(f"{path}:")


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    key=st.lists(
        st.sampled_from([*GOOD, "company", "connections", "fb", "x"]), min_size=1, max_size=3
    ),
    value=values,
)
def test_one_broken_value(tmp_path_factory, key: list[str], value: object) -> None:  # type: ignore[no-untyped-def]
    doc = _mutate(GOOD, key, value)
    _check(tmp_path_factory.mktemp("f"), yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=values)
def test_any_structure(tmp_path_factory, doc: object) -> None:  # type: ignore[no-untyped-def]
    _check(tmp_path_factory.mktemp("f"), yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.text(
        alphabet=st.sampled_from(list("ab:-[]{},'\"#&*!|>%@` \n\t0123456789")), max_size=80
    )
)
def test_any_text(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    _check(tmp_path_factory.mktemp("f"), text)
