"""The docs site (issue 16): it builds strictly, and its generated references miss nothing.

The build test runs ``mkdocs build --strict`` as ``make docs`` does (a broken link or
anchor, or a page left out of the nav, fails it) into a temporary folder and checks that
every generated page and picture is there. The other tests call the page generators of
``docs/_hooks/`` in process and check them against the code they are made from: every
key of the scenario schema, every CLI option, every OpenAPI operation, every provider
profile and setting, every transition of the lifecycle table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "docs" / "_hooks"
#: A first build runs the scenario library once for the provider pages (~20 s of CPU);
#: later builds take it from build/docs-cache/.
BUILD_TIMEOUT_S = 600


def hook(name: str) -> ModuleType:
    """One of docs/_hooks/'s modules (they import each other by bare name)."""
    sys.path.insert(0, str(HOOKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(HOOKS))


def nav_paths(node: Any) -> Iterator[str]:
    """Every page path named in mkdocs.yml's nav."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from nav_paths(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from nav_paths(value)


def mkdocs_nav() -> list[str]:
    class _Loader(yaml.SafeLoader):
        """mkdocs.yml names a Python function with a !!python/name tag: read it as text."""

    _Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text("utf-8"), Loader=_Loader)
    return list(nav_paths(config["nav"]))


def generated_pages() -> list[str]:
    """The pages the hook makes: the fixed ones and one a provider profile."""
    from conntrack._profiles import providers

    reference = hook("conntrack_docs")
    fixed = ["reference/index.md"]
    fixed += [f"reference/{p.split(')')[0]}" for p in reference.INDEX.split("](")[1:]]
    assert "reference/cli.md" in fixed and "reference/providers/index.md" in fixed
    return fixed + [f"reference/providers/{name}.md" for name in providers()]


def test_every_generated_page_is_in_the_nav() -> None:
    nav = set(mkdocs_nav())
    missing = [p for p in generated_pages() if p not in nav]
    assert not missing, f"mkdocs.yml's nav lacks {missing}: add them under Reference"


def test_every_page_under_docs_is_in_the_nav() -> None:
    nav = set(mkdocs_nav())
    pages = {
        str(p.relative_to(ROOT / "docs"))
        for p in (ROOT / "docs").rglob("*.md")
        if "_hooks" not in p.parts
    }
    assert not pages - nav, f"pages left out of mkdocs.yml's nav: {sorted(pages - nav)}"


def test_scenario_reference_has_every_schema_key() -> None:
    scenario = hook("_scenario_md")
    page = scenario.render()
    keys = scenario.documented_keys()
    assert {"scenario", "connections", "timeline", "expect", "provider"} <= keys
    missing = [k for k in sorted(keys) if f"`{k}`" not in page and f".{k}`" not in page]
    assert not missing, f"scenario.md misses schema keys {missing}"
    for name in scenario.load_schema()["$defs"]:
        assert f"### {name}\n" in page, f"scenario.md has no section for $defs/{name}"


def test_scenario_reference_shows_allowed_values() -> None:
    scenario = hook("_scenario_md")
    page = scenario.render()
    kinds = scenario.load_schema()["$defs"]["connection"]["properties"]["kind"]["enum"]
    assert all(f"`{k}`" in page for k in kinds)


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for inner in sub._actions:
                    if not isinstance(inner, argparse._HelpAction):
                        yield name, inner


def test_cli_reference_has_every_command_and_option() -> None:
    cli = hook("_cli_md")
    from conntrack._cliparser import parser

    page = cli.render()
    sections = page.split("\n## ")
    by_command = {s.split("`")[1].removeprefix("conntrack "): s for s in sections[1:]}
    commands = cli.commands()
    assert set(by_command) == set(commands), "a command has no section"
    checked = 0
    for command, action in _options(parser()):
        section = by_command[command]
        names = action.option_strings or [str(action.metavar or action.dest)]
        for name in names:
            assert name in section, f"cli.md: `conntrack {command}` lacks {name}"
        if action.help:
            first = " ".join(str(action.help).split())[:40].replace("|", "\\|")
            assert first in " ".join(section.split()), f"cli.md: help of {names} missing"
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("which", ["control", "product"])
def test_openapi_reference_has_every_operation_and_schema(which: str) -> None:
    openapi = hook("_openapi_md")
    reference = hook("conntrack_docs")
    doc = reference.control_api() if which == "control" else reference.product_api()
    page = openapi.render(doc, "t", "s", "i")
    operations = openapi.operations(doc)
    assert operations
    for method, path in operations:
        assert f"### `{method} {path}`" in page, f"{which}: {method} {path} missing"
    for name in doc.get("components", {}).get("schemas", {}):
        assert f"### {name} {{#" in page, f"{which}: schema {name} missing"
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                for status in op.get("responses", {}):
                    assert f"**{status}**" in page


def test_every_provider_profile_has_a_page_with_every_setting() -> None:
    providers = hook("_providers_md")
    from conntrack._profiles import load_profile
    from conntrack._profiles import providers as profiles

    names = profiles()
    assert {"facebook", "instagram", "linkedin", "twitter", "tiktok", "google"} <= set(names)
    index = providers.index(names)
    for name in names:
        assert f"]({name}.md)" in index
        page = providers.render(name, [])
        for key in load_profile(name).settings:
            assert f"| `{key}`" in page, f"providers/{name}.md lacks setting {key}"


def test_unknown_settings_are_marked() -> None:
    providers = hook("_providers_md")
    page = providers.render("facebook", [])
    comments = providers.profile_comments("facebook")
    unknown = [k for k, note in comments.items() if k and "[U]" in note]
    assert unknown, "facebook.yaml has [U] settings"
    for key in unknown:
        assert f"| `{key}` **[U]** |" in page


def test_lifecycle_diagram_has_every_transition() -> None:
    pictures = hook("_pictures")
    from conntrack._lifecycle import STATES, TRANSITIONS

    dot = pictures.lifecycle_dot()
    mermaid = pictures.lifecycle_mermaid()
    for row in TRANSITIONS:
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        for source in sources:
            dest = source if row["dest"] == "=" else row["dest"]
            assert f"{source} -> {dest} [label={row['trigger']}]" in dot
            assert f"{source} --> {dest}: {row['trigger']}" in mermaid
    assert all(state in dot for state in STATES)


def test_error_rows_come_from_the_records() -> None:
    providers = hook("_providers_md")
    seen = providers.SeenError(400, "190/460", "sync", "Error validating access token")
    seen.after.add("password_change")
    seen.scenarios.add("facebook_password_change_reconnect")
    page = providers.render("facebook", [seen])
    row = [line for line in page.splitlines() if "190/460" in line]
    assert row and "`password_change`" in row[0] and "400" in row[0]


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict``, as ``make docs`` runs it; then every page is there."""
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-6000:]}"
    for page in generated_pages():
        assert (site / page.replace(".md", ".html")).exists(), f"{page} was not built"
    for image in ("report-failing.png", "population.png"):
        assert (site / "img" / "generated" / image).stat().st_size > 1000
    search = json.loads((site / "search" / "search_index.json").read_text("utf-8"))
    assert any(d["location"].startswith("reference/cli.html") for d in search["docs"])


def test_error_bodies_are_the_fakes_own() -> None:
    """The provider pages list the bodies the fakes' builders make, byte for byte."""
    errorbodies = hook("_errorbodies")
    providers = hook("_providers_md")
    from fake_providers.core import Reason
    from fake_providers.facebook import _errors as fb

    expected = fb.token_error(Reason.PASSWORD_CHANGED, fb.PASSWORD_CHANGED).body("…")
    page = providers.render("facebook", [])
    assert json.dumps(expected, ensure_ascii=False) in page
    from conntrack._profiles import load_profile
    from conntrack._profiles import providers as profiles

    for name in profiles():
        protocol = load_profile(name).settings["protocol"]
        found = errorbodies.bodies(protocol)
        assert len(found) >= 8, f"{protocol}: only {len(found)} error bodies built"
        page = providers.render(name, [])
        for body in found:
            assert f"| `{body.builder}` |" in page, f"{name}.md lacks {body.builder}"


def test_without_chromium_the_screenshot_is_a_placeholder_and_the_log_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pictures = hook("_pictures")
    monkeypatch.setattr(pictures, "CACHE", tmp_path)
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-such-chromium"))
    with caplog.at_level("INFO", logger="mkdocs.hooks.conntrack"):
        path = pictures.report_screenshot()
    assert path.name == "report-failing-placeholder.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert "no Chromium" in caplog.text and "placeholder" in caplog.text


def test_without_dot_the_lifecycle_is_left_to_mermaid(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pictures = hook("_pictures")
    monkeypatch.setattr(pictures.shutil, "which", lambda name: None)
    with caplog.at_level("INFO", logger="mkdocs.hooks.conntrack"):
        assert pictures.lifecycle_svg() is None
    assert "no Graphviz 'dot'" in caplog.text
    page = hook("conntrack_docs").lifecycle_page(False)
    assert "```mermaid\n" in page and "stateDiagram-v2" in page
    assert "lifecycle.svg" not in page


def test_a_hung_step_is_a_clear_build_error() -> None:
    pictures = hook("_pictures")
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match=r"the step did not finish in 0 s: .*sleep 5"):
        pictures.run(
            [sys.executable, "-c", "import time; time.sleep(5)", "sleep 5"], "the step", 0.2
        )
