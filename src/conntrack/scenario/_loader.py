"""Load and validate scenario files into the model of :mod:`._model`.

Loading runs in three passes, each of which collects :class:`Problem` objects rather
than raising, so that one run reports every mistake in every file at once:

1. :mod:`._marks` parses the YAML and keeps the line of every key and value;
2. the packaged ``schema.json`` (JSON Schema 2020-12) checks the shape: keys, types,
   enum values. Its errors are translated into plain sentences at the right line,
   with a "did you mean" for misspelt keys and values;
3. :class:`_Builder` parses times, resolves references (connections, users,
   providers), checks that everything falls inside the run, and builds the model.

Nothing in here lets an exception other than :class:`ScenarioError` escape for bad
input: a scenario author must see ``file:line: what is wrong``, never a traceback.
"""

from __future__ import annotations

import itertools
import json
import re
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._causes import CAUSE_EVENTS
from .._durations import format_duration, format_instant, parse_duration, parse_instant
from .._exceptions import (
    MAX_PROBLEMS,
    DurationError,
    Problem,
    ScenarioError,
    add_problem,
    stopped,
)
from .._lifecycle import REASONS, STATES
from .._limits import (
    MAX_CONNECTIONS,
    MAX_EVENTS,
    MAX_SECONDS,
    run_syncs_problem,
    start_problem,
    syncs_problem,
)
from .._profiles import override_problems, providers
from ._fastschema import Check, conformer
from ._marks import DocReader, Document, load_documents, read_text, suggest
from ._marks import Path as DataPath
from ._model import (
    COMPANY_EVENTS,
    CONNECTION_ACTIONS,
    PROVIDER_EVENTS,
    BannerExpect,
    CompanySpec,
    ConnectionSpec,
    EmailExpect,
    Expectation,
    GapExpect,
    ReconnectsExpect,
    Scenario,
    StateExpect,
    TimelineEvent,
    TransitionsExpect,
    Where,
)

if TYPE_CHECKING:
    import jsonschema

    from .._policy import PolicyPatch

_T = TypeVar("_T")

SUFFIXES = (".yaml", ".yml")
#: The providers whose connections may say ``account_type:`` (Instagram's professional or
#: personal account; PROVIDERS.md §2, §2b).
INSTAGRAM_PROVIDERS = ("instagram", "instagram-facebook")
#: The provider whose connections may say ``linked_to_page:`` (Instagram through Facebook
#: Login reads the account linked to a Facebook Page; PROVIDERS.md §2b).
PAGE_LINKED_PROVIDER = "instagram-facebook"


@cache
def _zones() -> list[str]:
    return sorted(zoneinfo.available_timezones() | {"UTC"})


_INSTANT = re.compile(r"\s*\d{4}-\d{2}-\d{2}")


@cache
def schema() -> dict[str, Any]:
    """The packaged JSON Schema of a scenario document."""
    text = resources.files(__package__).joinpath("schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # only for a document with something to complain about (_conforms)

    return jsonschema.Draft202012Validator(_inlined(schema()))


@cache
def _conforms() -> Check:
    """Whether a document conforms to the schema, without importing ``jsonschema``
    (``_fastschema``); a schema it cannot check conforms nothing, so ``jsonschema``
    judges every document."""
    return conformer(_inlined(schema())) or (lambda data: False)


def _inlined(schema_: dict[str, Any]) -> dict[str, Any]:
    """``schema_`` with each local ``$ref`` replaced by what it names (its siblings are
    annotations only: description, examples), for the same verdicts and messages.

    A ``$ref`` is looked up through ``referencing`` at every use: 10 000 timeline events
    cost 40 000 lookups, about half of validating them (0.65 -> 0.28 CPU s). The
    ``$defs`` are not recursive.
    """
    defs: dict[str, Any] = schema_.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                named = defs[str(node["$ref"]).removeprefix("#/$defs/")]
                notes = {k: v for k, v in node.items() if k != "$ref"}
                return {**notes, **inline(named)}
            return {k: v if k == "$defs" else inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined: dict[str, Any] = inline(schema_)
    return inlined


# --- public API -------------------------------------------------------------------


def discover(paths: Sequence[str | Path]) -> list[Path]:
    """The scenario files named by ``paths``, in order, each once.

    A file is taken as given (whatever its suffix); a directory is searched
    recursively for ``*.yaml`` and ``*.yml`` (sorted), skipping ``README*`` files and
    hidden directories. Raises :class:`ScenarioError` for paths that do not exist and
    for directories without a scenario, naming every such path at once.
    """
    found: list[Path] = []
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SUFFIXES
                and p.is_file()
                and not p.name.startswith("README")
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not files:
                problems.append(
                    Problem(str(given), 0, "no *.yaml or *.yml scenario files in this folder")
                )
            found.extend(files)
        elif path.exists() or path.is_symlink():  # a link to nowhere: read_text says why
            found.append(path)
        else:
            problems.append(
                Problem(
                    str(given),
                    0,
                    "no such file or directory — check the spelling, or give a scenario "
                    "file (.yaml, .yml) or a folder of them",
                )
            )
    if problems:
        raise ScenarioError(problems)
    return list(dict.fromkeys(found))


def load_file(path: str | Path) -> list[Scenario]:
    """Every scenario of one file (one per YAML document), or :class:`ScenarioError`."""
    scenarios, problems = _load(Path(path))
    if problems:
        raise ScenarioError(problems)
    return scenarios


def load_paths(paths: Sequence[str | Path]) -> list[Scenario]:
    """Discover and load every scenario; one :class:`ScenarioError` for all problems."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for path in discover(paths):
        found, wrong = _load(path)
        scenarios.extend(found)
        problems.extend(wrong)
    if problems:
        raise ScenarioError(problems)
    return scenarios


def _load(path: Path) -> tuple[list[Scenario], list[Problem]]:
    file = str(path)
    text, problems = read_text(path, "file")
    if text is None:
        return [], problems
    documents, problems = load_documents(text, file)
    if not problems and all(doc.data is None for doc in documents):
        line = documents[0].line if documents else 1
        problems.append(
            Problem(file, line, "the file holds no scenario; start it with 'scenario: <name>'")
        )
    scenarios = []
    for doc in documents:
        if doc.data is None and len(documents) > 1:
            continue  # a stray '---' between or after scenarios
        found = _Builder(file, doc, problems).build()
        if found is not None:
            scenarios.append(found)
    return scenarios, problems


# --- messages -----------------------------------------------------------------------


def _unknown(what: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str):
        return f"'{what}' must be one of {', '.join(allowed)}; got {_describe(value)}"
    return f"unknown {what} '{value}'{suggest(value, allowed)} (allowed: {', '.join(allowed)})"


def _describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "text"}
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{kinds.get(type(value), type(value).__name__)} {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _label(path: DataPath) -> str:
    """How a message names the value at ``path``: ``'at'``, ``item 2 of 'at'``."""
    if not path:
        return "the document"
    last = path[-1]
    if isinstance(last, int):
        return f"item {last + 1} of '{path[-2]}'" if len(path) > 1 else f"item {last + 1}"
    return f"'{last}'"


def _key(path: DataPath) -> str:
    """The last key name on ``path`` (the field an enum value belongs to)."""
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "value"


def _title(schema_: dict[str, Any], path: DataPath) -> str:
    if len(path) == 2 and path[0] == "connections":
        return f"connection '{path[1]}'"
    title = str(schema_.get("title", "mapping"))
    return "the scenario" if title == "scenario" else f"the {title}"


def _example(schema_: dict[str, Any], key: str) -> str:
    examples = schema_.get("properties", {}).get(key, {}).get("examples")
    if not examples:
        return f"'{key}: …'"
    example = examples[0]
    if isinstance(example, str):
        return f"'{key}: {example}'"
    return f"'{key}: {json.dumps(example).replace(chr(34), '')}'"


def _has_words(error: jsonschema.ValidationError) -> bool:
    return isinstance(error.schema, dict) and "x-expected" in error.schema


def _schema_problems(file: str, doc: Document) -> tuple[list[Problem], set[DataPath]]:
    """The schema's complaints about ``doc`` as problems, and the paths they concern."""
    problems: list[Problem] = []
    bad: set[DataPath] = set()
    if _conforms()(doc.data):
        return problems, bad  # jsonschema would find nothing (``_fastschema``)

    def add(path: DataPath, message: str, *, key: bool = False) -> None:
        line = doc.key_line_of(path) if key else doc.line_of(path)
        add_problem(problems, Problem(file, line, message))
        bad.add(path)

    # iter_errors is lazy: take a few times the problems that will be listed (one value
    # may draw several complaints) and stop, so 20 000 mistakes cost no more than 300.
    errors = list(itertools.islice(_validator().iter_errors(doc.data), 3 * MAX_PROBLEMS + 1))
    halted = len(errors) > 3 * MAX_PROBLEMS
    del errors[3 * MAX_PROBLEMS :]
    # A value of the wrong type gets one message: the first type error that has words
    # for what was expected. Other complaints about it (an expectation's shape, say)
    # would only repeat the same mistake.
    typed: dict[DataPath, jsonschema.ValidationError] = {}
    for error in errors:
        if error.validator == "type":
            path = tuple(error.absolute_path)
            if path not in typed or not _has_words(typed[path]):
                typed[path] = error
    for error in errors:
        path = tuple(error.absolute_path)
        if path in doc.broken:
            continue  # the YAML layer already said what is wrong with this value
        if path in typed and typed[path] is not error:
            continue
        sub: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
        value = error.instance
        expected = sub.get("x-expected")
        if error.validator == "additionalProperties" and isinstance(value, dict):
            allowed = list(sub.get("properties", {}))
            for name in value:
                if name not in allowed:
                    add(
                        (*path, name),
                        f"unknown key '{name}' in {_title(sub, path)}"
                        f"{suggest(name, allowed)} (allowed: {', '.join(allowed)})",
                        key=True,
                    )
        elif error.validator == "required" and isinstance(value, dict):
            for name in error.validator_value:
                if name not in value and (*path, name) not in bad:
                    bad.add((*path, name))
                    add_problem(
                        problems,
                        Problem(
                            file,
                            doc.line_of(path),
                            f"{_title(sub, path)} is missing the required key '{name}'; "
                            f"add {_example(sub, name)}",
                        ),
                    )
        elif error.validator == "enum":
            add(path, _unknown(_key(path), value, [str(v) for v in error.validator_value]))
        elif error.validator == "type":
            words = expected or f"of type {error.validator_value}"
            add(path, f"{_label(path)} must be {words}; got {_describe(value)}")
        elif error.validator == "minimum":
            add(path, f"{_label(path)} must be {error.validator_value} or more; got {value!r}")
        elif error.validator == "maximum":
            add(path, f"{_label(path)} must be {error.validator_value} or less; got {value!r}")
        elif error.validator in ("minItems", "maxItems"):
            add(path, f"{_label(path)} must be {expected}; got a list of {len(value)} item(s)")
        elif error.validator == "minLength":
            add(path, f"{_label(path)} must not be empty")
        elif error.validator == "minProperties":
            example = sub.get("examples", ["{…}"])[0]
            add(
                path,
                f"{_label(path)} must not be empty; write e.g. {_key(path)}: {example}",
            )
        elif error.validator == "pattern" and path and path[-1] == "connections":
            add((*path, value), f"bad connection id '{value}': {sub.get('x-message')}", key=True)
        elif "x-message" in sub:
            add(path, str(sub["x-message"]))
        else:  # pragma: no cover - every keyword of schema.json is handled above
            add(path, f"{_label(path)}: {error.message}")
    if halted:
        stopped(problems, file)
    return problems, bad


# --- semantic checks and the model ------------------------------------------------------


class _Builder(DocReader):
    """Builds one :class:`Scenario` from a schema-checked document, checking meaning.

    Every accessor tolerates any shape: where the schema already complained about a
    value (``bad``) or the value is of the wrong type, it is skipped silently, so each
    mistake is reported once and nothing raises.
    """

    def __init__(self, file: str, doc: Document, problems: list[Problem]) -> None:
        super().__init__(file, doc, problems)
        self.count_before = len(problems)
        self.bad: set[DataPath] = set()
        self.start: datetime | None = None
        self.until: timedelta | None = None
        self.users: list[str] | None = None
        self.connections: dict[str, ConnectionSpec] | None = None
        self.first_users: list[str] = []
        self.event_paths: dict[int, DataPath] = {}

    # -- helpers

    def where(self, path: DataPath, *, key: bool = False) -> Where:
        line = self.doc.key_line_of(path) if key else self.doc.line_of(path)
        return Where(self.file, line)

    def get(self, path: DataPath, kind: type | tuple[type, ...] = object) -> Any:
        """The value at ``path`` if present, not flagged by the schema, and of ``kind``."""
        if path in self.bad:
            return None
        value: Any = self.doc.data
        for part in path:
            if isinstance(part, str) and isinstance(value, dict):
                value = value.get(part)
            elif isinstance(part, int) and isinstance(value, list) and part < len(value):
                value = value[part]
            else:
                return None
        if isinstance(value, bool) and kind is not bool and kind is not object:
            return None
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)  # JSON Schema counts 7.0 as an integer; so do we
        return value if isinstance(value, kind) else None

    def items(self, path: DataPath) -> list[DataPath]:
        value = self.get(path, list)
        return [(*path, i) for i in range(len(value))] if value is not None else []

    def time(self, path: DataPath, *, in_run: bool = True) -> timedelta | None:
        """A time at ``path`` as an offset from start: a duration or an instant."""
        value = self.get(path, (str, int, float))
        if value is None:
            return None
        return self.time_value(path, value, in_run=in_run)

    def time_value(
        self, path: DataPath, value: str | float, *, in_run: bool = True
    ) -> timedelta | None:
        """``value`` (written at ``path``) as an offset from start, checked against the run."""
        if isinstance(value, str) and _INSTANT.match(value):
            try:
                instant = parse_instant(value)
            except DurationError as e:
                self.problem(path, f"{_label(path)}: {e}")
                return None
            if self.start is None:
                return None  # start is missing or wrong: already reported
            offset = instant - self.start
            if offset < timedelta(0):
                self.problem(
                    path,
                    f"{_label(path)} {value} is before start ({format_instant(self.start)}); "
                    "use a later instant or a duration from start like '20d'",
                )
                return None
            if offset > timedelta(seconds=MAX_SECONDS):
                self.problem(
                    path,
                    f"{_label(path)} {value} is more than 100 years (36500d) after start "
                    f"({format_instant(self.start)}), like any duration; a run lasts at most "
                    "100 years: use an earlier instant or a duration like '365d'",
                )
                return None
        else:
            try:
                offset = parse_duration(value)
            except DurationError as e:
                self.problem(
                    path,
                    f"{_label(path)}: {e}; or write an instant like 2026-01-05T09:00:00Z",
                )
                return None
        if in_run and self.until is not None and offset > self.until:
            self.problem(
                path,
                f"{_label(path)} {format_duration(offset)} is after the end of the run "
                f"(until: {format_duration(self.until)} from start); "
                "move it earlier or extend 'until'",
            )
            return None
        return offset

    def duration(self, path: DataPath, default: timedelta) -> timedelta:
        value = self.get(path, (str, int, float))
        if value is None:
            return default
        try:
            return parse_duration(value)
        except DurationError as e:
            self.problem(path, f"{_label(path)}: {e}")
            return default

    def user(self, path: DataPath) -> str | None:
        value = self.get(path, str)
        if value is None or self.users is None or value in self.users:
            return value
        n = len(self.first_users)
        which = "1 user, user1" if n == 1 else f"{n} users, user1..user{n}"
        first = set(self.first_users)
        joining = [u for u in self.users if u not in first]
        if joining:
            which += f" (and {', '.join(joining)}, who join{'s' if len(joining) == 1 else ''})"
        self.problem(
            path,
            f"unknown user '{value}': this company has {which}; use one of them, raise "
            "'company: users' or add a user_joined event",
        )
        return None

    def connection(self, path: DataPath) -> ConnectionSpec | None:
        value = self.get(path, str)
        if value is None or self.connections is None:
            return None
        found = self.connections.get(value)
        if found is None:
            known = list(self.connections)
            self.problem(
                path,
                f"unknown connection '{value}'{suggest(value, known)} "
                f"(connections: {', '.join(known) or 'none'})",
            )
        return found

    # -- the document

    def build(self) -> Scenario | None:
        if not isinstance(self.doc.data, dict):
            kind = "empty" if self.doc.data is None else _describe(self.doc.data)
            self.problem(
                (),
                f"a scenario document must be a mapping of keys like 'scenario:', 'start:', "
                f"'until:', 'connections:'; this one is {kind}",
            )
            return None
        if self.too_many(("timeline",), "events") or self.too_many(("expect",), "expectations"):
            return None  # a crowd: checking each item would take long and say nothing more
        schema_problems, bad = _schema_problems(self.file, self.doc)
        self.problems.extend(schema_problems)
        self.bad = bad | self.doc.broken
        if self.full():  # enough to fix first: the checks of meaning would only add more
            stopped(self.problems, self.file)
            return None

        start = self.get(("start",), str)
        if start is not None:
            try:
                self.start = parse_instant(start)
            except DurationError as e:
                self.problem(("start",), f"'start': {e}")
            else:
                wrong = start_problem(self.start)
                if wrong is not None:
                    self.problem(("start",), f"'start' {wrong}")
                    self.start = None
        self.until = self.time(("until",), in_run=False)
        if self.until is not None and self.until <= timedelta(0):
            self.problem(("until",), "'until' must be after start, like '120d'")
            self.until = None
        company = self.company()
        policy = self.policy()
        profiles = self.profiles()
        apps = self.apps()
        self.connections = self.connection_specs()
        timeline = self.events()
        wanted = self.each(self.items(("expect",)), self.expectation)
        expect = [x for x in wanted if x is not None]

        if (
            len(self.problems) > self.count_before
            or self.doc.broken
            or self.start is None
            or self.until is None
            or self.connections is None
        ):
            return None
        return Scenario(
            name=self.get(("scenario",), str),
            seed=self.get(("seed",), int) or 0,
            start=self.start,
            until=self.until,
            company=company,
            connections=self.connections,
            timeline=tuple(timeline),
            expect=tuple(expect),
            where=Where(self.file, self.doc.line),
            description=self.get(("description",), str) or "",
            profiles=profiles,
            apps=apps,
            policy=policy,
        )

    def too_many(self, path: DataPath, what: str) -> bool:
        """Whether the list at ``path`` holds more than ``MAX_EVENTS`` items (a problem,
        at the first item past the limit)."""
        items = self.get(path, list)
        if items is None or len(items) <= MAX_EVENTS:
            return False
        self.problem(
            (*path, MAX_EVENTS),
            f"'{path[-1]}' holds {len(items)} {what}; at most {MAX_EVENTS} are allowed: "
            "split the scenario into several files (a population run models a crowd)",
        )
        return True

    def company(self) -> CompanySpec:
        path: DataPath = ("company", "users")
        users = self.get(path, int)
        if users is None and not ({path, ("company",)} & self.bad):
            users = 1  # the default; when users or company is wrong, check no user ids
        if users is not None and users >= 1:
            self.users = [f"user{i}" for i in range(1, users + 1)]
            self.first_users = list(self.users)
        opt_out = [self.user(p) for p in self.items(("company", "opt_out"))]
        return CompanySpec(
            users=users or 1,
            opt_out=tuple(u for u in opt_out if u is not None),
            name=self.get(("company", "name"), str),
            timezone=self.timezone(("company", "timezone")),
        )

    def timezone(self, path: DataPath) -> str:
        value = self.get(path, str)
        if value is None:
            return "UTC"
        zones = _zones()
        if value not in zones:
            self.problem(
                path,
                f"unknown time zone '{value}'{suggest(value, zones)}; write an IANA name "
                "like Europe/Paris, America/New_York or UTC",
            )
            return "UTC"
        return value

    def policy(self) -> PolicyPatch | None:
        # Imported here: the policy reader uses this package's line-keeping YAML.
        from .._policy import read_policy

        if self.get(("policy",), dict) is None:
            return None
        patch, problems = read_policy(self.doc, self.file, at=("policy",), whole=False)
        self.problems.extend(problems)
        return patch

    def profiles(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        known = providers()
        for provider, overrides in (self.get(("profiles",), dict) or {}).items():
            path: DataPath = ("profiles", provider)
            if provider not in known:
                self.problem(path, _unknown("provider", provider, known), key=True)
                continue
            if not isinstance(overrides, dict) or path in self.bad:
                continue
            if self.profile_overrides(provider, overrides):
                result[provider] = dict(overrides)
        return result

    def apps(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        known = providers()
        for provider, settings in (self.get(("apps",), dict) or {}).items():
            path: DataPath = ("apps", provider)
            if provider not in known:
                self.problem(path, _unknown("provider", provider, known), key=True)
            elif isinstance(settings, dict) and path not in self.bad:
                result[provider] = dict(settings)
        return result

    def profile_overrides(self, provider: str, overrides: dict[str, Any]) -> bool:
        """Check ``overrides`` of one provider's profile; whether they are all right."""
        path: DataPath = ("profiles", provider)
        problems = override_problems(provider, overrides)
        for key, message, about_key in problems:
            self.problem(path if key is None else (*path, key), message, key=about_key)
        return not problems

    def connection_specs(self) -> dict[str, ConnectionSpec] | None:
        connections = self.get(("connections",), dict)
        if connections is None:
            return None
        if len(connections) > MAX_CONNECTIONS:
            self.problem(
                ("connections", list(connections)[MAX_CONNECTIONS]),
                f"'connections' holds {len(connections)} connections; at most "
                f"{MAX_CONNECTIONS} are allowed in a scenario: split it into several "
                "files (a population run models a crowd)",
                key=True,
            )
            return None
        known = providers()
        result: dict[str, ConnectionSpec] = {}
        before = len(self.problems)
        for cid in connections:
            path: DataPath = ("connections", cid)
            if self.get(path, dict) is None:
                continue
            provider = self.get((*path, "provider"), str)
            if provider is not None and provider not in known:
                self.problem((*path, "provider"), _unknown("provider", provider, known))
            sync_every = self.duration((*path, "sync_every"), timedelta(hours=6))
            if sync_every <= timedelta(0):
                self.problem((*path, "sync_every"), "'sync_every' must be more than 0, like 6h")
            elif self.until is not None:
                many = syncs_problem(self.until.total_seconds(), sync_every.total_seconds())
                if many is not None:
                    self.problem(
                        (*path, "sync_every"),
                        f"connection '{cid}': 'sync_every' {format_duration(sync_every)} over "
                        f"a run of {format_duration(self.until)} {many}",
                    )
            scopes = self.get((*path, "scopes"), list)
            account_type = self.get((*path, "account_type"), str)
            if account_type is not None and provider not in (None, *INSTAGRAM_PROVIDERS):
                self.problem(
                    (*path, "account_type"),
                    f"connection '{cid}': 'account_type' is Instagram's (personal, business "
                    f"or creator), not {provider}'s: use it with provider "
                    f"{' or '.join(INSTAGRAM_PROVIDERS)}, or drop it",
                )
            linked = self.get((*path, "linked_to_page"), bool)
            if linked is not None and provider not in (None, PAGE_LINKED_PROVIDER):
                self.problem(
                    (*path, "linked_to_page"),
                    f"connection '{cid}': 'linked_to_page' says whether an Instagram account "
                    "read through Facebook Login is linked to the Facebook Page, not "
                    f"{provider}'s: use it with provider {PAGE_LINKED_PROVIDER}"
                    + (" (Instagram Login needs no Page)" if provider == "instagram" else "")
                    + ", or drop it",
                )
            result[cid] = ConnectionSpec(
                id=cid,
                provider=provider or "",
                kind=self.get((*path, "kind"), str) or "owned",
                connected_by=self.user((*path, "connected_by")) or "user1",
                sync_every=sync_every,
                where=self.where(path, key=True),
                connect_at=self.time((*path, "connect_at")) or timedelta(0),
                scopes=tuple(str(s) for s in scopes) if scopes is not None else None,
                account_type=account_type,
                decline=tuple(str(s) for s in self.get((*path, "decline"), list) or ()),
                linked_to_page=linked is not False,
            )
        if self.until is not None and len(self.problems) == before:  # not twice
            many = run_syncs_problem(
                self.until.total_seconds(), [c.sync_every.total_seconds() for c in result.values()]
            )
            if many is not None:
                self.problem(("connections",), f"the {len(result)} connections {many}", key=True)
        return result

    def events(self) -> list[TimelineEvent]:
        """The timeline, in time order, checked as a whole: who is a member when, which
        connection is disconnected when."""
        paths = self.items(("timeline",))
        # Users who join are known by name before their event: expectations may name them.
        for p in paths:
            user = self.get((*p, "user"), str)
            joins = self.get((*p, "event"), str) == "user_joined"
            if joins and user and self.users is not None and user not in self.users:
                self.users.append(user)
        found = [e for e in self.each(paths, self.event) if e is not None]
        found.sort(key=lambda e: e.at)
        return found if self.full() else self.check_sequence(found)

    def each(self, paths: list[DataPath], read: Callable[[DataPath], _T]) -> Iterator[_T]:
        """``read`` of each path until the file has :data:`MAX_PROBLEMS` problems."""
        for path in paths:
            if self.full():
                stopped(self.problems, self.file)
                return
            yield read(path)

    def check_sequence(self, events: list[TimelineEvent]) -> list[TimelineEvent]:
        """Membership and connect/disconnect order, in time order."""
        if self.users is None or self.connections is None:
            return events
        first = self.first_users
        members = list(first)
        # What the loader knows of each connection: "disconnected" after a disconnect,
        # "maybe" after an add (which may fail: a blocked pop-up, a declined permission),
        # nothing (connected) otherwise. After an add both a retry ('add') and a
        # 'reconnect' may fit; the run records the one that does not as a failed attempt.
        failing = {
            cid: why
            for cid, c in self.connections.items()
            if (why := c.first_connect_fails) is not None
        }
        seen: set[str] = set()  # connections with a connection action so far
        # A personal Instagram account's first connect fails (not_eligible), as does one
        # not linked to its Facebook Page: the connection starts disconnected, and an
        # 'add' connects it.
        known: dict[str, str] = dict.fromkeys(failing, "disconnected")
        ok: list[TimelineEvent] = []
        for e in events:
            path = self.event_paths[id(e)]
            when = format_duration(e.at)
            if e.event == "user_joined":
                if e.user in members:
                    self.problem(
                        (*path, "user"),
                        f"'{e.user}' is already a member at {when}; a user who joins must be "
                        f"new (this company starts with user1..user{len(first)})",
                    )
                    continue
                members.append(str(e.user))
            elif e.event in ("user_left", "opt_out", "opt_in") and e.user not in members:
                self.problem(
                    (*path, "user"),
                    f"'{e.user}' is not a member of the company at {when}; "
                    f"members then: {', '.join(members) or 'none'}",
                )
                continue
            elif e.event == "user_left":
                members.remove(str(e.user))
            if e.by is not None and e.by not in members:
                self.problem(
                    (*path, "by"),
                    f"'{e.by}' is not a member of the company at {when}; "
                    f"members then: {', '.join(members) or 'none'}",
                )
                continue
            if e.connection is not None and e.event in CONNECTION_ACTIONS:
                now = known.get(e.connection)
                gone = now == "disconnected"
                if e.event == "add" and now is None:
                    self.problem(
                        (*path, "event"),
                        f"'add' at {when}: connection '{e.connection}' is not disconnected; "
                        "disconnect it first ({event: disconnect}), or use 'reconnect'",
                    )
                    continue
                if e.event in ("reconnect", "disconnect") and gone:
                    never = e.connection not in seen and e.connection in failing
                    why = f" ({failing[e.connection]}: its first connect fails)" if never else ""
                    self.problem(
                        (*path, "event"),
                        f"'{e.event}' at {when}: connection '{e.connection}' is disconnected "
                        f"then{why}; add it {'' if never else 'again '}first "
                        "({event: add, by: userN})",
                    )
                    continue
                if e.event == "disconnect":
                    known[e.connection] = "disconnected"
                elif e.event == "add":
                    known[e.connection] = "maybe"
                seen.add(e.connection)
            ok.append(e)
        return ok

    def event(self, path: DataPath) -> TimelineEvent | None:
        if self.get(path, dict) is None:
            return None
        at = self.time((*path, "at"))
        name = self.get((*path, "event"), str)
        if name is None:
            return None
        if not self.only_for(path, name, "cause", CAUSE_EVENTS):
            return None
        if name in COMPANY_EVENTS:
            return self.company_event(path, name, at)
        if self.get((*path, "connection")) is None and (*path, "connection") not in self.bad:
            self.problem(
                path,
                f"event '{name}' needs 'connection': the connection it happens to, like "
                f"{{at: 20d, event: {name}, connection: fb}}",
            )
            return None
        conn = self.connection((*path, "connection"))
        by = self.user((*path, "by"))
        if at is None or conn is None:
            return None
        if at < conn.connect_at:
            self.problem(
                (*path, "at"),
                f"event '{name}' at {format_duration(at)} comes before connection "
                f"'{conn.id}' exists (connect_at: {format_duration(conn.connect_at)}); "
                "move the event later or connect earlier",
            )
            return None
        if not self.only_for(path, name, "user", COMPANY_EVENTS):
            return None
        if not self.only_for(path, name, "for", PROVIDER_EVENTS):
            return None
        if not self.only_for(path, name, "account", ("reconnect",)):
            return None
        if not self.only_for(path, name, "popup", ("reconnect", "add")):
            return None
        if not self.only_for(path, name, "decline", ("reconnect", "add")):
            return None
        if not self.only_for(path, name, "by", CONNECTION_ACTIONS):
            return None
        if not self.only_for(path, name, "permission", ("permission_revoked",)):
            return None
        permission = self.get((*path, "permission"), str)
        if name == "permission_revoked" and permission is None:
            self.problem(
                path,
                "event 'permission_revoked' needs 'permission': the scope the user takes "
                "back, like {event: permission_revoked, permission: pages_read_engagement}",
            )
            return None
        duration: timedelta | None = None
        if name in PROVIDER_EVENTS:
            if self.get((*path, "for")) is None:
                if (*path, "for") not in self.bad:
                    self.problem(
                        path,
                        f"event '{name}' needs 'for': how long it lasts, like "
                        f"{{at: 30d, event: {name}, connection: {conn.id}, for: 6h}}",
                    )
                return None
            duration = self.duration((*path, "for"), timedelta(0))
            if duration <= timedelta(0):
                self.problem((*path, "for"), "'for' must be more than 0, like 6h")
                return None
        decline = self.decline((*path, "decline"))
        if isinstance(decline, bool):
            return None
        event = TimelineEvent(
            at=at,
            event=name,
            connection=conn.id,
            where=self.where(path),
            by=by,
            permission=permission,
            duration=duration,
            account=self.get((*path, "account"), str),
            popup=self.get((*path, "popup"), str),
            decline=decline,
            cause=self.get((*path, "cause"), str),
        )
        self.event_paths[id(event)] = path
        return event

    def only_for(self, path: DataPath, name: str, key: str, events: Sequence[str]) -> bool:
        """Whether ``key`` is absent, or allowed on event ``name``; complains if not."""
        if self.get((*path, key)) is None or name in events:
            return True
        self.problem(
            (*path, key),
            f"'{key}' does not apply to event '{name}'; it goes with "
            f"{', '.join(events)} — remove it",
            key=True,
        )
        return False

    def decline(self, path: DataPath) -> tuple[str, ...] | str | bool | None:
        """``all``, a tuple of permissions, ``None`` (absent); ``False`` when wrong."""
        value = self.get(path)
        if value is None:
            return None
        if isinstance(value, str):
            if value != "all":
                self.problem(
                    path,
                    f"'decline' must be 'all' (the person cancels) or a list of permissions "
                    f"like [{value}]; got '{value}'",
                )
                return False
            return "all"
        items = [self.get(p, str) for p in self.items(path)]
        if not items or any(i is None for i in items):
            return False
        return tuple(str(i) for i in items)

    def company_event(
        self, path: DataPath, name: str, at: timedelta | None
    ) -> TimelineEvent | None:
        for key in ("connection", "by", "for", "account", "popup", "decline", "permission"):
            if self.get((*path, key)) is not None:
                self.problem(
                    (*path, key),
                    f"'{key}' does not apply to event '{name}', which is about a company "
                    f"user: write {{at: 30d, event: {name}, user: user2}}",
                    key=True,
                )
                return None
        user_path = (*path, "user")
        if self.get(user_path) is None:
            if user_path not in self.bad:
                self.problem(
                    path,
                    f"event '{name}' needs 'user': the company user it is about, like "
                    f"{{at: 30d, event: {name}, user: user2}}",
                )
            return None
        user = self.user(user_path)
        if at is None or user is None:
            return None
        event = TimelineEvent(at=at, event=name, connection=None, where=self.where(path), user=user)
        self.event_paths[id(event)] = path
        return event

    def expectation(self, path: DataPath) -> Expectation | None:
        item = self.get(path, dict)
        if item is None:
            return None
        shape: Callable[[DataPath], Expectation | None]
        if "email" in item:
            shape = self.email_expect
        elif "data_gap" in item:
            shape = self.gap_expect
        elif "state" in item:
            shape = self.state_expect
        elif "transitions" in item:
            shape = self.transitions_expect
        elif "reconnects" in item:
            shape = self.reconnects_expect
        elif "banner" in item or "settings" in item:
            shape = self.banner_expect
        else:
            return None  # the schema reported the missing shape
        return shape(path)

    def state_expect(self, path: DataPath) -> StateExpect | None:
        has_at, has_during = (self.get((*path, key)) is not None for key in ("at", "during"))
        if has_at == has_during:
            self.problem(
                path,
                "a state expectation needs exactly one of 'at' (an instant) or 'during' "
                "(a window 'A..B'), like {at: 20d 6h, connection: fb, state: invalid}",
            )
            return None
        at: timedelta | None
        until: timedelta | None = None
        if has_at:
            at = self.time((*path, "at"))
        else:
            window = self.within((*path, "during"))
            at, until = window if window is not None else (None, None)
        conn = self.connection((*path, "connection"))
        state = self.get((*path, "state"), str)
        reason = self.get((*path, "reason"), str)
        if reason is not None and state is not None and state != "invalid":
            self.problem(
                (*path, "reason"),
                f"a reason is only allowed with state invalid (this state is '{state}'); "
                "remove 'reason' or write 'state: invalid'",
            )
            return None
        if at is None or conn is None or state is None:
            return None
        return StateExpect(
            at=at,
            connection=conn.id,
            state=state,
            where=self.where(path),
            reason=reason,
            until=until,
        )

    def transitions_expect(self, path: DataPath) -> TransitionsExpect | None:
        conn = self.connection((*path, "transitions"))
        states: list[tuple[str, str | None]] = []
        ok = True
        for item in self.items((*path, "are")):
            text = self.get(item, str)
            if text is None:
                ok = False
                continue
            m = re.fullmatch(r"\s*([a-z_]+)\s*(?:\(\s*([a-z_]+)\s*\))?\s*", text)
            state, reason = (m.group(1), m.group(2)) if m else (text, None)
            if state not in STATES:
                self.problem(item, _unknown("state", state, list(STATES)))
                ok = False
            elif reason is not None and reason not in REASONS:
                self.problem(item, _unknown("reason", reason, list(REASONS)))
                ok = False
            elif reason is not None and state != "invalid":
                self.problem(item, f"a reason is only allowed with state invalid: '{text}'")
                ok = False
            else:
                states.append((state, reason))
        if conn is None or not ok:
            return None
        return TransitionsExpect(connection=conn.id, states=tuple(states), where=self.where(path))

    def reconnects_expect(self, path: DataPath) -> ReconnectsExpect | None:
        conn = self.connection((*path, "reconnects"))
        count = self.get((*path, "count"), int)
        within = self.within((*path, "within"))
        if conn is None or count is None:
            return None
        return ReconnectsExpect(
            connection=conn.id,
            count=count,
            where=self.where(path),
            within=within,
            failed=self.get((*path, "failed"), int),
        )

    def at_or_during(
        self, path: DataPath, example: str
    ) -> tuple[timedelta, timedelta | None] | None:
        """``at`` (an instant) or ``during`` (a window), exactly one of them."""
        has_at, has_during = (self.get((*path, key)) is not None for key in ("at", "during"))
        if has_at == has_during:
            self.problem(
                path,
                "this expectation needs exactly one of 'at' (an instant) or 'during' "
                f"(a window 'A..B'), like {example}",
            )
            return None
        if has_at:
            at = self.time((*path, "at"))
            return None if at is None else (at, None)
        window = self.within((*path, "during"))
        return None if window is None else (window[0], window[1])

    def banner_expect(self, path: DataPath) -> BannerExpect | None:
        places = [k for k in ("banner", "settings") if self.get((*path, k)) is not None]
        if len(places) != 1:
            self.problem(
                path,
                "write 'banner: <connection>' (the dashboard banner) or 'settings: "
                "<connection>' (the settings page), not both",
            )
            return None
        place = places[0]
        when = self.at_or_during(path, f"{{{place}: fb, at: 52d, shows: expiring}}")
        conn = self.connection((*path, place))
        shows = self.get((*path, "shows"), str)
        if when is None or conn is None or shows is None:
            return None
        return BannerExpect(
            connection=conn.id,
            place=place,
            shows=shows,
            at=when[0],
            until=when[1],
            where=self.where(path),
            says=self.get((*path, "says"), str),
        )

    def email_expect(self, path: DataPath) -> EmailExpect | None:
        kind = self.get((*path, "email"), str)
        conn = self.connection((*path, "about"))
        to = self.recipients((*path, "to"))
        at: tuple[timedelta, ...] | None = None
        if isinstance(self.get((*path, "at")), list):
            times = [self.time(p) for p in self.items((*path, "at"))]
            at = tuple(t for t in times if t is not None)
        elif self.get((*path, "at")) is not None:
            one = self.time((*path, "at"))
            at = (one,) if one is not None else ()
        within = self.within((*path, "within"))
        count = self.get((*path, "count"), int)
        if count is not None and at and len(at) != count:
            self.problem(
                (*path, "count"),
                f"'count' {count} contradicts the {len(at)} time(s) in 'at'; "
                "make them agree or drop one",
            )
        tolerance = self.duration((*path, "tolerance"), timedelta(hours=12))
        reaches = self.recipients((*path, "reaches"))
        if reaches is not None and to is not None:
            self.problem(
                (*path, "reaches"),
                "write 'to' (the exact recipients of every send) or 'reaches' (the sends "
                "one user gets), not both",
            )
            return None
        if reaches == "all":
            self.problem(
                (*path, "reaches"),
                "'reaches' names users (user3 or [user3, user4]); for everyone write 'to: all'",
            )
            return None
        if kind is None or conn is None:
            return None
        return EmailExpect(
            reaches=reaches if isinstance(reaches, tuple) else None,
            kind=kind,
            about=conn.id,
            where=self.where(path),
            to=to,
            at=at,
            within=within,
            count=count,
            tolerance=tolerance,
            says=self.get((*path, "says"), str),
        )

    def recipients(self, path: DataPath) -> str | tuple[str, ...] | None:
        value = self.get(path)
        if value == "all":
            return "all"
        if isinstance(value, str):
            user = self.user(path)
            return (user,) if user is not None else None
        users = []
        for item in self.items(path):
            if self.get(item) == "all":
                self.problem(item, "'all' cannot be one of a list; write 'to: all' alone")
            else:
                users.append(self.user(item))
        return tuple(u for u in users if u is not None) if users else None

    def within(self, path: DataPath) -> tuple[timedelta, timedelta] | None:
        value = self.get(path)
        if isinstance(value, str):
            parts = value.split("..")
            if len(parts) != 2 or not all(p.strip() for p in parts):
                self.problem(
                    path,
                    f"'within' must be a window 'A..B' like '20d..20d 6h' or a list [A, B]; "
                    f"got '{value}'",
                )
                return None
            bounds = [self.time_value(path, p.strip()) for p in parts]
        elif isinstance(value, list):
            bounds = [self.time(p) for p in self.items(path)]
        else:
            return None
        if len(bounds) != 2 or bounds[0] is None or bounds[1] is None:
            return None
        if bounds[0] > bounds[1]:
            self.problem(
                path,
                f"'within' starts at {format_duration(bounds[0])}, after its end "
                f"{format_duration(bounds[1])}; write the earlier time first",
            )
            return None
        return (bounds[0], bounds[1])

    def gap_expect(self, path: DataPath) -> GapExpect | None:
        conn = self.connection((*path, "data_gap"))
        if self.get((*path, "total")) is not None:
            if self.get((*path, "from")) is not None or self.get((*path, "to")) is not None:
                self.problem(
                    path,
                    "'total' sums every gap of the connection; it goes without 'from' and 'to'",
                )
                return None
            total = self.duration((*path, "total"), timedelta(0))
            tol = self.duration((*path, "tolerance"), timedelta(0))
            if conn is None:
                return None
            return GapExpect(
                connection=conn.id,
                start=None,
                end=None,
                where=self.where(path),
                tolerance=tol,
                total=total,
            )
        if self.get((*path, "from")) is None:
            self.problem(
                path,
                "a data-gap expectation needs 'from' (one gap) or 'total' (all of them), "
                "like {data_gap: fb, from: 20d, to: 23d} or {data_gap: fb, total: 3d}",
            )
            return None
        start = self.time((*path, "from"))
        end = self.time((*path, "to"))
        tolerance = self.duration((*path, "tolerance"), timedelta(0))
        if start is not None and end is not None and start > end:
            self.problem(
                (*path, "to"),
                f"the gap ends ('to': {format_duration(end)}) before it starts "
                f"('from': {format_duration(start)}); swap them",
            )
            return None
        if conn is None or start is None:
            return None
        return GapExpect(
            connection=conn.id, start=start, end=end, where=self.where(path), tolerance=tolerance
        )
