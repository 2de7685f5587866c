"""Every file in ``bad/`` is one mistake and says, in its header, what we must answer.

A header line ``# expect: 7: unknown event 'pasword_change'`` means: loading the file
reports a problem at line 7 whose message contains that text. The file must report
exactly the expected problems, no more: so adding a negative example is adding a file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conntrack._exceptions import ScenarioError
from conntrack.scenario import _marks, load_file, load_paths

BAD = Path(__file__).parent / "bad"
_EXPECT = re.compile(r"^# expect: (\d+): (.+)$", re.MULTILINE)


def _expected(path: Path) -> list[tuple[int, str]]:
    found = [(int(line), text.strip()) for line, text in _EXPECT.findall(path.read_text("utf-8"))]
    assert found, f"{path.name} has no '# expect: LINE: message' header"
    return found


BAD_FILES = sorted(BAD.glob("*.yaml"))


def test_there_are_bad_examples() -> None:
    assert len(BAD_FILES) >= 16


@pytest.fixture(params=["fast", "pure"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with libyaml (when installed) and with PyYAML's pure-Python parser: the
    answers must not depend on which one parsed the file."""
    if request.param == "pure":
        monkeypatch.setattr(_marks, "_FastLoader", _marks._Loader)
    return str(request.param)


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_file_reports_exactly_the_expected_problems(path: Path, yaml_parser: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    problems = info.value.problems
    expected = _expected(path)
    rendered = "\n".join(str(p) for p in problems)
    for line, text in expected:
        wanted = f"{path}:{line}: {text}"
        assert any(str(p).startswith(wanted) for p in problems), (
            f"missing: {wanted}\ngot:\n{rendered}"
        )
    assert len(problems) == len(expected), f"unexpected problems:\n{rendered}"
    assert all(p.file == str(path) for p in problems)


def test_load_paths_reports_every_file_at_once_sorted() -> None:
    with pytest.raises(ScenarioError) as info:
        load_paths([BAD])
    problems = info.value.problems
    assert problems == sorted(problems)
    assert {p.file for p in problems} == {str(p) for p in BAD_FILES}
    assert len(problems) == sum(len(_expected(p)) for p in BAD_FILES)
    # The exception's text is the problems, one per line, as file:line: message.
    assert str(info.value).splitlines() == [str(p) for p in problems]
