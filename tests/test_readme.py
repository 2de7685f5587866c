"""The README's examples, one for each kind of user, run as written (issue 16).

The README is the short front page (at most 12 KB); everything else lives under docs/,
whose examples tests/docs/ runs. Each README block is read by its marker
(``<!-- readme-test: NAME -->``, the ``readme_block`` fixture), and
:func:`test_every_readme_example_is_marked_and_tested` fails on a code block without one,
so a new example cannot go untested, and on a README over the size the issue allows.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conntrack._cliparser import parser
from conntrack.cli import main
from conntrack.scenario._loader import load_file
from conntrack.scenario._runner import run_scenario

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
Block = Callable[[str], str]

#: Every marked block of the README, by name (each has a test below).
NAMES = {"setup", "qa-scenario", "qa-run", "first-test", "product-commands"}
FENCE = re.compile(r"(<!-- readme-test: ([\w-]+)[^>]*-->\n)?```(\w*)\n(.*?)\n```", re.DOTALL)
LINK = re.compile(r"\]\(([^)#]+)(#[^)]*)?\)")


def commands(code: str) -> Iterator[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped."""
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            yield words


def test_every_readme_example_is_marked_and_tested() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 12 * 1024, "README.md: over 12 KB; move it to docs/"
    names = []
    for match in FENCE.finditer(text):
        _, name, lang, _ = match.groups()
        if lang != "text":
            assert name, f"README.md: mark {match.group(0)[:60]!r} <!-- readme-test: NAME -->"
            names.append(name)
    assert sorted(names) == sorted(NAMES), "a marked block without its test, or back"


def test_the_readmes_links_reach_files_of_the_repository() -> None:
    """Relative links (docs pages, folders) work on GitHub: each names a file here."""
    targets = [m[1] for m in LINK.finditer(README.read_text(encoding="utf-8")) if "://" not in m[1]]
    assert targets
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_the_setup_commands_are_make_targets(readme_block: Block) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.MULTILINE))
    said = [words for words in commands(readme_block("setup"))]
    assert said == [["make", "run"], ["make", "test"]]
    text = README.read_text(encoding="utf-8")
    for target in ("run", "test", "check", "bench", "docs"):
        assert target in targets and f"make {target}" in text, target


def test_the_qa_scenario_passes(readme_block: Block, tmp_path: Path) -> None:
    path = tmp_path / "password.yaml"
    path.write_text(readme_block("qa-scenario"), encoding="utf-8")
    (scenario,) = load_file(path)
    result = run_scenario(scenario, run_id="readme")
    assert result.error is None and result.passed, result.outcomes
    assert len(result.outcomes) == 3  # every expectation written was checked


def test_the_qa_commands_parse(readme_block: Block) -> None:
    """conntrack's lines through its own parser; the pytest line names the library."""
    programs = []
    for words in commands(readme_block("qa-run")):
        programs.append(words[0])
        if words[0] == "conntrack":
            parser().parse_args(words[1:])
        else:
            assert words == ["pytest", "scenarios/"] and (ROOT / "scenarios").is_dir()
    assert programs == ["conntrack", "conntrack", "pytest"]
    assert "password.yaml" in readme_block("qa-run")  # the file the scenario is saved as


def test_the_integration_test_passes_in_a_project_of_its_own(
    pytester: pytest.Pytester, readme_block: Block
) -> None:
    """No conftest, nothing but the installed plugin: the pasted test passes."""
    pytester.makepyfile(test_integration=readme_block("first-test"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)


def test_the_product_commands_run(
    readme_block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Both commands run from a checkout and write what the README says they write."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "120")
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    notifications, population = commands(readme_block("product-commands"))
    assert notifications[:2] == ["conntrack", "notifications"] and "--compare" in notifications
    assert main(notifications[1:]) == 0
    shown = capsys.readouterr().out
    assert "every-expiry" in shown and "default" in shown
    assert population[:2] == ["conntrack", "population"]
    assert main([*population[1:], "--no-progress"]) == 0
    out = tmp_path / population[population.index("--out") + 1]
    for name in ("series.csv", "series.json", "series.png", "report.html"):
        assert (out / name).is_file(), name
