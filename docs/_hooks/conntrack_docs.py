"""MkDocs hook: the reference pages and pictures, generated from the code at every build.

Nothing here is committed as Markdown: ``on_files`` adds the generated pages and images
to the build as virtual files (``File.generated``), so they cannot drift from the code.

==================================  =================================================
page                                made from
==================================  =================================================
reference/scenario.md               src/conntrack/scenario/schema.json
reference/cli.md                    conntrack._cliparser.parser()
reference/control-api.md            fake_providers/openapi.yaml
reference/product-protocol.md       src/conntrack/product/openapi.json
reference/lifecycle.md              conntrack._lifecycle.TRANSITIONS (transitions' diagram)
img/generated/lifecycle.svg         the same, drawn by Graphviz's dot
reference/providers/*.md            src/conntrack/profiles/*.yaml + the fakes' answers
img/generated/report-failing.png    headless Chromium on a failing scenario's report
img/generated/population.png        ``conntrack population``'s series.png
==================================  =================================================
"""

from __future__ import annotations

import json
import time
from typing import Any

import _cli_md
import _openapi_md
import _pictures
import _providers_md
import _scenario_md
import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from conntrack import _lifecycle

CONTROL_API = _pictures.ROOT / "fake_providers" / "openapi.yaml"
PRODUCT_API = _pictures.ROOT / "src" / "conntrack" / "product" / "openapi.json"


def control_api() -> dict[str, Any]:
    data = yaml.safe_load(CONTROL_API.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def product_api() -> dict[str, Any]:
    data = json.loads(PRODUCT_API.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def lifecycle_page(svg: bool) -> str:
    """The lifecycle diagram (the SVG, or Mermaid without ``dot``) and its table."""
    engine = "graphviz" if svg else "mermaid"
    out = [
        "# Connection lifecycle",
        "",
        "!!! note",
        "    Generated at build time from `conntrack._lifecycle.TRANSITIONS`, the one",
        "    `transitions` table every connection runs on; the diagram is drawn by",
        f'    `transitions`\' own diagram extension (`graph_engine="{engine}"`).',
        "",
    ]
    if svg:
        out += [
            "![The connection lifecycle: every state and trigger of the transitions table]"
            "(../img/generated/lifecycle.svg)",
            "",
        ]
    else:
        out += ["```mermaid", _pictures.lifecycle_mermaid(), "```", ""]
    out += [
        "`reconnected` counts as healthy and behaves like `connected`. Healthy states "
        "(the connection still syncs): "
        + ", ".join(f"`{s}`" for s in sorted(_lifecycle.HEALTHY))
        + ".",
        "",
        "## The table",
        "",
        "| trigger | from | to |",
        "|---|---|---|",
    ]
    for row in _lifecycle.TRANSITIONS:
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        dest = "(stays)" if row["dest"] == "=" else f"`{row['dest']}`"
        out.append(f"| `{row['trigger']}` | {', '.join(f'`{s}`' for s in sources)} | {dest} |")
    out += [
        "",
        "## Why a connection is invalid",
        "",
        "The `reason` of an `invalid` connection (the error classifier maps provider "
        "errors to these):",
        "",
    ]
    out += [f"- `{r}`" for r in _lifecycle.REASONS]
    return "\n".join(out) + "\n"


INDEX = """# Reference

Generated from the code at every build (`make docs`); nothing here is written by hand.

| page | made from |
|---|---|
| [Scenario language](scenario.md) | the JSON Schema, `src/conntrack/scenario/schema.json` |
| [Command line](cli.md) | the argument parser, `src/conntrack/_cliparser.py` |
| [Control API](control-api.md) | the fakes' OpenAPI document, `fake_providers/openapi.yaml` |
| [Product protocol](product-protocol.md) | `src/conntrack/product/openapi.json` |
| [Connection lifecycle](lifecycle.md) | the `transitions` table, `conntrack._lifecycle` |
| [Providers](providers/index.md) | `src/conntrack/profiles/` and the fakes' answers |
"""


def pages(svg: bool) -> dict[str, str]:
    """Every generated page: ``{path under docs/: Markdown}``."""
    found = {
        "reference/index.md": INDEX,
        "reference/scenario.md": _scenario_md.render(),
        "reference/cli.md": _cli_md.render(),
        "reference/control-api.md": _openapi_md.render(
            control_api(),
            "Control API",
            "fake_providers/openapi.yaml",
            "The JSON API under `/_conntrack/` that tests and scripts use to set up and "
            "drive the fake providers (`conntrack serve`, or the in-process fakes): apps, "
            "accounts, tokens, the clock, faults.",
        ),
        "reference/product-protocol.md": _openapi_md.render(
            product_api(),
            "Product test protocol",
            "src/conntrack/product/openapi.json",
            "What a product under test serves so that `conntrack run --product` can drive "
            "it: its clock, its connections, its state.",
        ),
    }
    found["reference/lifecycle.md"] = lifecycle_page(svg)
    found.update(_providers_md.all_pages())
    return found


def pictures() -> dict[str, str]:
    """Every generated image: ``{path under docs/: file on disk}``."""
    return {
        "img/generated/report-failing.png": str(_pictures.report_screenshot()),
        "img/generated/population.png": str(_pictures.population_plot()),
    }


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages and images to the build."""
    started = time.perf_counter()
    svg = _pictures.lifecycle_svg()
    if svg is not None:
        files.append(File.generated(config, "img/generated/lifecycle.svg", content=svg))
    for path, text in pages(svg is not None).items():
        files.append(File.generated(config, path, content=text))
    for path, source in pictures().items():
        files.append(File.generated(config, path, abs_src_path=source))
    _pictures.log.info(
        "conntrack docs: reference pages and pictures made in %.1f s",
        time.perf_counter() - started,
    )
    return files
