"""One page per provider profile, from the profile itself and from what the fakes answer.

- Settings: the packaged profile loaded with conntrack's own loader
  (:func:`conntrack._profiles.load_profile`, so ``extends:`` is resolved as a run sees
  it), each with the comment written above it in ``profiles/NAME.yaml`` (or in the
  profile it extends); settings whose comment says ``[U]`` (unknown: a choice, not a
  documented fact) are marked.
- Errors: every failed call the fakes answered while the scenario library ran in
  process (``conntrack run scenarios/ --json``): status, code and message as conntrack's
  client read them, with the world event that led there and the scenarios that show it.
  The run is cached under ``build/docs-cache/`` by a hash of the fakes, the package and
  the scenarios.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import _errorbodies
import yaml
from _jsonschema_md import cell, code
from _pictures import CACHE, ROOT, files_key, log, run
from mkdocs.exceptions import PluginError

from conntrack._profiles import load_profile, providers

SCENARIOS = ROOT / "scenarios"
#: Settings summarised at the top of each page, in this order, when the profile has them.
SUMMARY = (
    "protocol",
    "hosts",
    "api_version",
    "refresh",
    "code_lifetime",
    "short_token_lifetime",
    "long_token_lifetime",
    "access_token_lifetime",
    "refresh_token_lifetime",
    "page_token_lifetime",
    "data_access_lifetime",
    "notice_window",
    "default_scopes",
    "optional_scopes",
    "scope_separator",
    "pkce",
)
KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*):")


def profile_comments(name: str) -> dict[str, str]:
    """``{setting: the comment block written just above it}`` of ``profiles/NAME.yaml``,
    plus ``""`` for the file's own opening comment; a profile that ``extends:`` another
    gets that one's comments for the settings it inherits."""
    text = resources.files("conntrack").joinpath("profiles", f"{name}.yaml").read_text("utf-8")
    comments: dict[str, str] = {}
    block: list[str] = []
    parent = None
    for index, line in enumerate(text.splitlines()):
        if line.startswith("#"):
            block.append(line.lstrip("#").strip())
            continue
        match = KEY_LINE.match(line)
        if match:
            if "" not in comments and index == len(block):
                comments[""], block = " ".join(block), []
            comments[match.group(1)] = " ".join(block)
            if match.group(1) == "extends":
                parent = line.split(":", 1)[1].strip()
        if not line.startswith((" ", "\t")):
            block = []
    if parent:
        inherited = profile_comments(parent)
        inherited.pop("", None)
        comments = {**inherited, **{k: v for k, v in comments.items() if v or k not in inherited}}
    return comments


@dataclass
class SeenError:
    """One kind of error answer the fakes sent while the library ran."""

    status: int
    code: str
    step: str
    message: str
    after: set[str] = field(default_factory=set)
    scenarios: set[str] = field(default_factory=set)


def _providers_of(path: Path) -> dict[str, str]:
    """``{connection id: provider profile}`` of one library scenario."""
    data = yaml.safe_load(path.read_text("utf-8"))
    found = data.get("connections", {}) if isinstance(data, dict) else {}
    return {cid: str(c.get("provider")) for cid, c in found.items() if isinstance(c, dict)}


def _run_library(paths: list[Path]) -> list[dict[str, Any]]:
    """The JSON report's scenarios of ``conntrack run PATHS`` (failures included)."""
    with tempfile.TemporaryDirectory(prefix="conntrack-docs-") as tmp:
        out = Path(tmp) / "report.json"
        done = run(
            [sys.executable, "-m", "conntrack.cli", "run", *map(str, paths), "--json", str(out)],
            "conntrack run scenarios/ (the provider pages' errors)",
            timeout=600,
        )
        if not out.exists():
            raise PluginError(
                "conntrack run scenarios/ (for the provider pages' errors) crashed: "
                f"{done.stderr[-2000:]}"
            )
        report = json.loads(out.read_text("utf-8"))
    return list(report["scenarios"])


def library_errors() -> dict[str, list[SeenError]]:
    """Per provider profile, the error answers seen in the scenario library (cached)."""
    sources = [ROOT / "fake_providers", ROOT / "src" / "conntrack", SCENARIOS]
    cached = CACHE / f"library-errors-{files_key(sources)}.json"
    files = sorted(SCENARIOS.glob("*.yaml"))
    if cached.exists():
        scenarios = json.loads(cached.read_text("utf-8"))
    else:
        log.info("conntrack docs: running the scenario library for the provider pages")
        halves = [files[0::2], files[1::2]]
        with ThreadPoolExecutor(2) as pool:
            scenarios = [s for part in pool.map(_run_library, halves) for s in part]
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(scenarios), "utf-8")
        partial.replace(cached)  # whole or not at all, should two builds race
    by_provider: dict[str, dict[tuple[int, str, str, str], SeenError]] = {}
    for scenario in scenarios:
        path = ROOT / scenario["file"]
        owners = _providers_of(path) if path.exists() else {}
        last_event: dict[str, str] = {}
        for record in scenario["records"]:
            conn = record.get("connection", "")
            if record["type"] == "event":
                last_event[conn] = record["event"]
            if record["type"] != "sync_error":
                continue
            provider = owners.get(conn, "?")
            # Numbers that change from run to run (app ids, object ids) are not the kind.
            message = re.sub(r"\d{6,}", "…", record["message"])
            key = (record["status"], record["code"], record["step"], message)
            seen = by_provider.setdefault(provider, {}).setdefault(
                key, SeenError(record["status"], record["code"], record["step"], message)
            )
            seen.after.add(last_event.get(conn, "(none)"))
            seen.scenarios.add(path.stem)
    return {p: sorted(v.values(), key=lambda e: (e.status, e.code)) for p, v in by_provider.items()}


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(code(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return "; ".join(f"{code(k)}: {cell(str(v))}" for k, v in value.items()) or "(none)"
    return code(value)


def render(name: str, errors: Iterable[SeenError]) -> str:
    """The page of one provider profile."""
    profile = load_profile(name)
    settings = profile.settings
    comments = profile_comments(name)
    title = str(settings.get("display_name", name))
    out = [
        f"# {title} (`{name}`)",
        "",
        "!!! note",
        f"    Generated at build time from `src/conntrack/profiles/{name}.yaml` (loaded with",
        "    conntrack's own profile loader) and from the answers the fakes sent while the",
        "    scenario library ran. Do not edit this page: change the profile or the fake.",
        "",
        comments.get("", ""),
        "",
        "A scenario overrides any setting under `profiles:` "
        "([scenario language](../scenario.md)); `conntrack serve` takes a config file of "
        "overrides.",
        "",
        "## At a glance",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    for key in SUMMARY:
        if key in settings:
            out.append(f"| `{key}` | {cell(_value(settings[key]))} |")
    out += ["", "## Every setting", ""]
    out += [
        "Settings marked **[U]** are not documented by the provider: the value is a "
        "plausible choice, and a scenario can change it.",
        "",
        "| setting | value | what it means |",
        "|---|---|---|",
    ]
    for key, value in settings.items():
        note = comments.get(key, "")
        mark = " **[U]**" if "[U]" in note else ""
        out.append(f"| `{key}`{mark} | {cell(_value(value))} | {cell(note)} |")
    out += ["", "## Error bodies the fake sends", ""]
    built = _errorbodies.bodies(str(settings.get("protocol", name)))
    out += [
        f"Every error answer of `fake_providers/{settings.get('protocol', name)}/_errors.py`, "
        "made at build time by calling the fake's own error builders with every value of "
        "the cause types they take (`<name>` stands for a value of the request; `…` for a "
        "per-answer id, like `fbtrace_id` or `log_id`; a status of *profile* is set by a "
        "profile setting). A builder may accept a cause the fake never passes it: the next "
        "table shows what the fake answered in real runs.",
        "",
        "| builder | cause | status | body |",
        "|---|---|---|---|",
    ]
    for b in built:
        status = "profile" if b.status is None else str(b.status)
        body = cell("`" + b.body.replace("`", "'") + "`")
        out.append(f"| `{b.builder}` | {cell(b.cause)} | {status} | {body} |")
    left = _errorbodies.unfilled(str(settings.get("protocol", name)))
    if left:
        out += [
            "",
            "Not called here (a parameter this page cannot fill: a number, a pair, a state): "
            + ", ".join(f"`{n}`" for n in left)
            + ".",
        ]
    out += ["", "## Errors seen in the scenario library", ""]
    found = list(errors)
    if not found:
        out += ["No call failed for this profile while the scenario library ran.", ""]
    else:
        out += [
            "Every error answer the fake sent to conntrack's client while the scenario "
            "library ran (`conntrack run scenarios/`), as the client read it: the HTTP "
            "status, the provider's error code and its message (long numbers, like app "
            "and object ids, shown as `…`). *After* is the last world event on the "
            "connection before the answer.",
            "",
            "| status | code | step | message | after | scenarios |",
            "|---|---|---|---|---|---|",
        ]
        for e in found:
            out.append(
                f"| {e.status} | {cell(f'`{e.code}`')} | {e.step} | {cell(e.message)} | "
                f"{', '.join(f'`{a}`' for a in sorted(e.after))} | "
                f"{', '.join(f'`{s}`' for s in sorted(e.scenarios))} |"
            )
        out.append("")
    return "\n".join(out)


def index(names: list[str]) -> str:
    """The providers' overview page."""
    out = [
        "# Providers",
        "",
        "One page per packaged provider profile (`src/conntrack/profiles/`), generated at "
        "build time: its settings and the errors its fake sends.",
        "",
        "| profile | provider | protocol | refresh | long-lived token |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        s = load_profile(name).settings
        lifetime = s.get("long_token_lifetime", s.get("access_token_lifetime", ""))
        out.append(
            f"| [`{name}`]({name}.md) | {cell(str(s.get('display_name', name)))} | "
            f"`{s.get('protocol', '')}` | `{s.get('refresh', '')}` | {cell(str(lifetime))} |"
        )
    return "\n".join(out) + "\n"


def all_pages() -> dict[str, str]:
    """``{path under docs/: Markdown}`` of the provider pages and their index."""
    names = providers()
    errors = library_errors()
    pages = {"reference/providers/index.md": index(names)}
    for name in names:
        pages[f"reference/providers/{name}.md"] = render(name, errors.get(name, []))
    return pages
