"""The world and the product each use only the other's public surface: the fake
providers (``fake_providers/``) import nothing private of conntrack, and conntrack
(``src/conntrack/``) nothing private of the fakes (issue 12, "Architecture").

Private is a module or a name with a leading underscore anywhere in the dotted path
(``conntrack._durations``, ``conntrack.clients._browser``, ``from fake_providers.core
import _journal``, ``from conntrack import _x``). Each violation is reported as
``file:line: the import``, so that the fix (export the name, or import it from the
public module) is one look away. Also checked: ``import fake_providers`` stays light —
it does not pull conntrack's provider clients or httpx.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import conntrack
import fake_providers

#: (the package's sources, the other package whose privates it must not import).
SIDES = (
    (Path(fake_providers.__file__).parent, "conntrack"),
    (Path(conntrack.__file__).parent, "fake_providers"),
)


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


def _imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted name) of everything a module imports, whether by an import
    statement (anywhere: top level, function, TYPE_CHECKING block) or by
    ``importlib.import_module("…")`` / ``__import__("…")`` with a literal name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id == "__import__")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def violations(root: Path, other: str) -> list[str]:
    """``file:line: name`` for each import under ``root`` of a private part of ``other``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in _imports(tree):
            if (name == other or name.startswith(other + ".")) and _private(name):
                found.append(f"{path}:{line}: imports {name} (private to {other})")
    return found


@pytest.mark.parametrize(("root", "other"), SIDES, ids=["fake_providers", "conntrack"])
def test_each_side_imports_only_the_others_public_surface(root: Path, other: str) -> None:
    found = violations(root, other)
    assert not found, (
        f"{len(found)} import(s) of {other}'s private modules or names; export what is "
        f"needed from {other}'s public surface (its __init__) and import it from there:\n"
        + "\n".join(found)
    )


def test_the_check_finds_every_form_and_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "import importlib\n"
        "from conntrack._durations import parse_duration\n"  # 2
        "import conntrack._profiles\n"  # 3
        "from conntrack.clients import _browser\n"  # 4
        "from conntrack import _secret\n"  # 5
        "def f():\n"
        "    from conntrack.clients._base import CLIENTS\n"  # 7
        "    importlib.import_module('conntrack._exceptions')\n"  # 8
        "from conntrack import parse_duration, clients\n"  # public: fine
        "from conntrack.clients import make_client\n"  # public: fine
        "from .conntrack import _mine\n"  # relative: this package's own
        "import conntrack_other._x\n"  # another package that only starts alike
    )
    found = violations(tmp_path, "conntrack")
    assert [f.split(": ")[0] for f in found] == [
        f"{tmp_path / 'bad.py'}:{n}" for n in (2, 3, 4, 5, 7, 8)
    ]
    assert "conntrack._durations.parse_duration" in found[0]


def test_importing_the_fakes_leaves_conntracks_clients_alone() -> None:
    # The fakes use conntrack's durations and profiles; the provider clients (and httpx)
    # are the product's side and cost a third of conntrack's import time.
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c",
         "import sys, fake_providers\n"
         "print(sorted(m for m in ('conntrack.clients', 'httpx') if m in sys.modules))"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
