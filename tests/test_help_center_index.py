"""The second table of ``scenarios/README.md``, "The help-center cases", indexes every
case the three help-center texts describe: each row names the scenarios that play it, or
says ``not a scenario:`` and why. A scenario it names must be in the library, unless the
row marks it *(coming)* (another part of the work is writing it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "scenarios" / "README.md"
SEEDS = ("Highviz", "Traackr", "Meltwater")
LINK = re.compile(r"\[`([a-z0-9_]+\.yaml)`\]\(\1\)( \*\(coming)?")


def rows() -> list[list[str]]:
    text = INDEX.read_text(encoding="utf-8")
    assert "## The help-center cases" in text, "scenarios/README.md lost its second table"
    section = text.split("## The help-center cases", 1)[1].split("\n## ", 1)[0]
    return [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in section.splitlines()
        if line.startswith("| ") and line.split(" | ")[0][2:] in SEEDS
    ]


def test_every_seed_has_cases_and_every_case_an_answer() -> None:
    found = rows()
    assert {r[0] for r in found} == set(SEEDS)
    for seed, case, played in found:
        assert case.startswith('"') or case.startswith("…"), (seed, case)
        assert LINK.search(played) or played.startswith("not a scenario"), (seed, case)


def test_every_scenario_named_is_in_the_library_or_marked_coming() -> None:
    library = {p.name for p in (ROOT / "scenarios").glob("*.yaml")}
    missing = [
        (name, case)
        for _seed, case, played in rows()
        for name, coming in LINK.findall(played)
        if name not in library and not coming
    ]
    assert not missing, f"not in scenarios/ and not marked *(coming)*: {missing}"
