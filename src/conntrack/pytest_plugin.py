"""The pytest plugin: scenario files as test items (entry point ``pytest11``).

``pytest scenarios/`` collects every ``*.yaml``/``*.yml`` file below a folder named
``scenarios`` (and any YAML file named on the command line) as a file, and each YAML
document in it as one test item. A file that does not load fails at collection with its
``file:line: message`` problems, no traceback; a scenario whose expectations do not
hold fails with what was expected, what happened and the timeline around it, as
``conntrack run`` prints it. ``reportinfo()`` points at the scenario's own line.

``pytest scenarios/ --conntrack-product FILE`` (or the ini option ``conntrack_product``,
relative to the ini file) runs every item against the product under test that the
product file starts, as ``conntrack run --product FILE`` does: a scenario for a provider
the product does not support is a pytest skip with the reason; one where the product
broke the product test protocol fails with the request and the answer; a product file
that does not load is one usage error (its ``file:line: message`` problems), and a
product that does not start fails its item with its exit status and log and stops the
session (every other item would wait for it the same way).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._exceptions import InputError, ScenarioError
from .scenario import Scenario, load_file

if TYPE_CHECKING:
    from .product._file import ProductFile
    from .scenario._runner import RunResult
    from .testing import Fakes

FAKES = "conntrack_fakes"
SUFFIXES = (".yaml", ".yml")
FOLDER = "scenarios"
OPTION = "--conntrack-product"
INI = "conntrack_product"
PRODUCT = pytest.StashKey["ProductFile | None"]()
"""The loaded product file of the session (``None``: conntrack's own model)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conntrack", "conntrack scenarios")
    group.addoption(
        OPTION,
        dest="conntrack_product",
        metavar="FILE",
        default=None,
        help="run the scenario items against the product this product file "
        "(product.yaml) starts, through the product test protocol",
    )
    parser.addini(
        INI,
        f"product file for the scenario items (relative to the ini file); {OPTION} overrides it",
        default="",
    )


def _product_path(config: pytest.Config) -> Path | None:
    given = config.getoption("conntrack_product")
    if given:
        return Path(given)
    ini = str(config.getini(INI) or "").strip()
    if not ini:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return _shown(base / ini)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{FAKES}(seed=0, providers=None, config=None): how the {FAKES} fixture builds "
        "this test's world (as conntrack serve's --seed, --providers and --config)",
    )
    path = _product_path(config)
    if path is None:
        config.stash[PRODUCT] = None
        return
    from .product._file import load_product

    try:
        config.stash[PRODUCT] = load_product(path)
    except InputError as e:
        # One clear usage error with the file:line problems, no traceback.
        raise pytest.UsageError(f"{OPTION} {path}:\n{e}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    # The in-process fakes' loop (a thread) ends with the session that started it, unless
    # a world outlives the session (an in-process pytest run inside a test using the
    # fixture): that world keeps its loop, which the interpreter's exit stops.
    engine = sys.modules.get("conntrack.testing._engine")
    intercept = sys.modules.get("conntrack.testing._intercept")
    if engine is not None and not (intercept is not None and intercept.any_active()):
        engine.stop_shared_engine()


@pytest.fixture
def conntrack_fakes(request: pytest.FixtureRequest) -> Iterator[Fakes]:
    """The fake providers in this test's process: a fresh world for every test.

    While the test runs, requests, urllib3 and httpx (sync and async) calls to any
    provider host are answered by the fakes, with the real URLs and no port or
    certificate; other hosts are not touched. The fixture's value drives the world:
    ``create_app``, ``create_account``, ``authorize``, ``event``, ``travel``, ``fault``,
    ``now`` (``conntrack.testing.Fakes``). ``@pytest.mark.conntrack_fakes(seed=…,
    providers=[…], config="fakes.yaml")`` sets how the world is built (a relative
    ``config`` is beside the test file)."""
    from .testing import fakes

    marker = request.node.get_closest_marker(FAKES)
    options = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        raise pytest.UsageError(
            f"@pytest.mark.{FAKES} takes keywords only: seed=, providers=, config="
        )
    unknown = sorted(set(options) - {"seed", "providers", "config"})
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.{FAKES}: unknown option {', '.join(unknown)}; "
            "it takes seed=, providers= and config="
        )
    config = options.get("config")
    if config is not None and not Path(config).is_absolute():
        # Relative to the test file, as a file the test sits beside (the error names the
        # path it tried).
        options["config"] = _shown(request.node.path.parent / config)
    world = fakes(**options)
    try:
        f = world.__enter__()  # builds the world: a bad seed, provider or config fails here
    except InputError as e:
        pytest.fail(f"{FAKES}: {e}", pytrace=False)
    try:
        yield f
    finally:
        world.__exit__(None, None, None)


def pytest_report_header(config: pytest.Config) -> str | None:
    product = config.stash.get(PRODUCT, None)
    if product is None:
        return None
    return f"conntrack product: {product.name} ({product.file})"


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

    def setup(self) -> None:
        """Against a product, the scenario runs here: a product that broke the protocol
        is then an *error* of the item (pytest's word for "could not be tested"), not a
        failure of its expectations, and a scenario it does not support is a skip."""
        from ._console import render_plain, result_view

        self._result: RunResult | None = None
        product = self.config.stash.get(PRODUCT, None)
        if product is None:
            return
        result = self._run_product(product)
        if result.skipped is not None:
            pytest.skip(result.skipped)
        if result.error is not None:
            # pytrace=False: the report is the request and the answer, no traceback.
            pytest.fail(render_plain(result_view(result)), pytrace=False)
        self._result = result

    def runtest(self) -> None:
        from ._console import render_plain, result_view
        from .scenario._runner import run_scenario

        result = self._result or run_scenario(self.scenario)
        if not result.passed:
            # The same table as ``conntrack run`` prints, as plain text: pytest's report
            # is no place for ANSI codes.
            raise ScenarioFailed(render_plain(result_view(result)))

    def _run_product(self, product: ProductFile) -> RunResult:
        from .cli import input_error_in, interrupted
        from .product._harness import Terminated, run_product_scenario

        try:
            result: RunResult = run_product_scenario(self.scenario, product)
        except BaseException as e:
            if isinstance(e, Terminated):
                # SIGTERM: the harness stopped the product; pytest would record this item
                # as failed and start the product again for the next one.
                pytest.exit("conntrack: terminated (SIGTERM); the product was stopped", 143)
            if interrupted(e) and not isinstance(e, KeyboardInterrupt):
                # Ctrl-C inside trio's nurseries: pytest stops the session only for a
                # KeyboardInterrupt itself (the harness has stopped what it started).
                raise KeyboardInterrupt from None
            bad = input_error_in(e)
            if bad is None:
                raise
            # The product did not start (its exit status and log tail are in ``bad``):
            # every other item would wait for it as long, so the session stops here.
            self.session.shouldstop = f"conntrack: the product {product.name} did not start"
            pytest.fail(str(bad), pytrace=False)
        return result

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
