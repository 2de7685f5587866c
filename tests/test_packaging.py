"""What the installed package imports, it declares: `pip install conntrack` alone must run it.

The dev extras install many libraries (authlib, requests-oauthlib, …), so a module that
imports one of them by mistake passes every other test and fails in a project that only
installed conntrack: that is how the fake X came to need oauthlib without saying so. This
test reads every import of the shipped packages (``src/conntrack``, ``fake_providers``)
and checks that each third-party one comes from a runtime dependency or from what those
depend on in turn.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = (ROOT / "src" / "conntrack", ROOT / "fake_providers")
OURS = {"conntrack", "fake_providers"}


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def runtime_closure() -> set[str]:
    """The distributions `pip install conntrack` installs: the declared dependencies and
    what they require (without extras), recursively."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [_name(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend(_name(r) for r in requires if "extra ==" not in r.replace("'", '"'))
    return seen


def imported_top_levels() -> dict[str, list[str]]:
    """Every top-level module the shipped code imports, with where (file:line)."""
    found: dict[str, list[str]] = {}
    for root in SHIPPED:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".", 1)[0]
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.setdefault(top, []).append(where)
    return found


#: Imported only where they are there when the module runs: the interceptors of the
#: in-process fakes patch urllib3 when it is installed and skip it when not
#: (``_install_urllib3``); pytest loads the plugin (entry point ``pytest11``) itself.
OPTIONAL = {
    "urllib3": {"src/conntrack/testing/_intercept.py"},
    "pytest": {"src/conntrack/pytest_plugin.py"},
    # The extra conntrack[cluster], for `conntrack population --cluster` only.
    "distributed": {"src/conntrack/population/_cluster.py"},
}


def test_every_third_party_import_is_a_runtime_dependency() -> None:
    closure = runtime_closure()
    distributions = metadata.packages_distributions()
    missing = []
    for top, where in sorted(imported_top_levels().items()):
        if top in OURS or top in sys.stdlib_module_names:
            continue
        if top in OPTIONAL:
            stray = [w for w in where if w.rsplit(":", 1)[0] not in OPTIONAL[top]]
            assert not stray, f"{top} is optional and imported only by the interceptors: {stray}"
            continue
        names = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
        if not names & closure:
            missing.append(f"{top} ({', '.join(sorted(names))}) imported at {where[0]}")
    assert not missing, "imported but not a runtime dependency:\n" + "\n".join(missing)
