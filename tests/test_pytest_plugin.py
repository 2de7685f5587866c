"""The pytest plugin: scenario files collected and run as test items."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIFESPAN = ROOT / "scenarios" / "facebook_60_day_lifespan.yaml"
FAILING = Path(__file__).parent / "data" / "failing_expectations.yaml"


def copy(pytester: pytest.Pytester, source: Path, folder: str = "scenarios") -> Path:
    target = pytester.path / folder / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


def test_a_scenarios_folder_is_collected_one_item_per_scenario(pytester: pytest.Pytester) -> None:
    copy(pytester, LIFESPAN)
    result = pytester.runpytest("scenarios", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*facebook_60_day_lifespan.yaml::Facebook 60-day lifespan PASSED*"]
    )


def test_each_document_of_a_multi_document_file_is_an_item(pytester: pytest.Pytester) -> None:
    text = LIFESPAN.read_text()
    second = text.replace("scenario: Facebook 60-day lifespan", "scenario: the same, again")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "two.yaml").write_text(text + "\n---\n" + second)
    result = pytester.runpytest("scenarios")
    result.assert_outcomes(passed=2)


def test_a_failed_expectation_shows_expected_actual_and_timeline(pytester: pytest.Pytester) -> None:
    copy(pytester, FAILING)
    result = pytester.runpytest("scenarios")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*scenarios/failing_expectations.yaml:12: fb is invalid (checkpoint) at 20d 6h",
            "*expected: invalid (checkpoint)",
            "*actual:   invalid (password_changed)",
            "*timeline around 20d 6h:*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_an_invalid_file_fails_at_collection_with_file_and_line(pytester: pytest.Pytester) -> None:
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "bad.yaml").write_text(
        "scenario: x\nstart: 2026-01-05T09:00:00Z\nuntil: 30d\n"
        "connections:\n  fb: {provider: facebook}\n"
        "timeline:\n  - {at: 5d, event: pasword_change, connection: fb}\n"
    )
    result = pytester.runpytest("scenarios")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*scenarios/bad.yaml:7: unknown event 'pasword_change'*"])
    assert "Traceback" not in result.stdout.str()


def test_yaml_outside_a_scenarios_folder_is_left_alone(pytester: pytest.Pytester) -> None:
    copy(pytester, LIFESPAN, folder="config")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    # ... unless it is named on the command line.
    result = pytester.runpytest("config/facebook_60_day_lifespan.yaml")
    result.assert_outcomes(passed=1)


def test_reportinfo_points_at_the_scenario_line(pytester: pytest.Pytester) -> None:
    path = copy(pytester, LIFESPAN)
    [item] = pytester.getitems(path)
    fspath, line, label = item.reportinfo()
    assert Path(fspath) == path and line == 0 and label == "scenario: Facebook 60-day lifespan"


def test_works_under_xdist(pytester: pytest.Pytester) -> None:
    copy(pytester, LIFESPAN)
    copy(pytester, ROOT / "scenarios" / "facebook_checkpoint.yaml")
    result = pytester.runpytest_subprocess("scenarios", "-n", "2")
    result.assert_outcomes(passed=2)


def test_an_alias_bomb_fails_at_collection_at_once(pytester: pytest.Pytester) -> None:
    """Billion laughs under scenarios/ is one collection error, not a CI run taken down."""
    levels = ["  x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"  x{n}: &x{n} [{', '.join([f'*x{n - 1}'] * 9)}]" for n in range(1, 9)]
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "bomb.yaml").write_text(
        "scenario: x\nstart: 2026-01-05T09:00:00Z\nuntil: 30d\n"
        "connections: {fb: {provider: facebook}}\ndescription:\n" + "\n".join(levels) + "\n"
    )
    (pytester.path / "scenarios" / "deep.yaml").write_text(
        "scenario: x\nstart: 2026-01-05T09:00:00Z\nuntil: 30d\n"
        "connections: {fb: {provider: facebook}}\ndescription: " + "[" * 600 + "]" * 600 + "\n"
    )
    t0 = time.perf_counter()
    result = pytester.runpytest("scenarios")
    assert time.perf_counter() - t0 < 10
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "*scenarios/bomb.yaml:*: this file expands to more than 100000 YAML values*",
            "*scenarios/deep.yaml:5: lists and mappings nest more than 50 deep*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
