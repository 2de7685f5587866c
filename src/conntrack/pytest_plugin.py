"""The pytest plugin: scenario files as test items (entry point ``pytest11``).

``pytest scenarios/`` collects every ``*.yaml``/``*.yml`` file below a folder named
``scenarios`` (and any YAML file named on the command line) as a file, and each YAML
document in it as one test item. A file that does not load fails at collection with its
``file:line: message`` problems, no traceback; a scenario whose expectations do not
hold fails with what was expected, what happened and the timeline around it, as
``conntrack run`` prints it. ``reportinfo()`` points at the scenario's own line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._exceptions import ScenarioError
from .scenario import Scenario, load_file

SUFFIXES = (".yaml", ".yml")
FOLDER = "scenarios"


def _wanted(path: Path, config: pytest.Config) -> bool:
    if path.suffix not in SUFFIXES or path.name.startswith("README"):
        return False
    if FOLDER in path.parent.parts:
        return True
    # Also a YAML file named on the command line itself. (Not every YAML file in a folder
    # named there: test folders keep fixtures and broken examples in YAML too.)
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return False
    return any(Path(arg.split("::", 1)[0]).resolve() == path for arg in config.args)


def _shown(path: Path) -> Path:
    """The path as the user would write it: relative to the working folder if inside."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _wanted(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """One scenario file; each YAML document is an item."""

    def collect(self) -> Iterator[ScenarioItem]:
        try:
            scenarios = load_file(_shown(self.path))
        except ScenarioError as e:
            raise self.CollectError(str(e)) from None
        seen: dict[str, int] = {}
        for scenario in scenarios:
            name = scenario.name
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name} [{seen[name]}]"
            yield ScenarioItem.from_parent(self, name=name, scenario=scenario)


class ScenarioFailed(Exception):
    """A scenario ran and at least one expectation did not hold."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


class ScenarioItem(pytest.Item):
    """One scenario: replayed in virtual time, its expectations checked."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        # pytest-trio's trio_mode inspects every item's ``obj`` for a coroutine
        # function; a scenario is a plain (synchronous) test.
        self.obj = self.runtest

    def runtest(self) -> None:
        from ._console import render_plain, result_view
        from .scenario._runner import run_scenario

        result = run_scenario(self.scenario)
        if not result.passed:
            # The same table as ``conntrack run`` prints, as plain text: pytest's report
            # is no place for ANSI codes.
            raise ScenarioFailed(render_plain(result_view(result)))

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.report
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.where.line - 1, f"scenario: {self.scenario.name}"
