"""Line-keeping YAML: plain Python data plus the line every value and key came from.

A scenario error must name the file and line of the offending value, but PyYAML's
constructed ``dict``/``list`` objects forget where they came from. So we compose the
node graph (which carries marks), convert it to plain data ourselves and keep a side
table from a JSON-pointer-like path (a tuple of keys and indices) to the 1-based line
(the approach of tavern's ``stage_lines``).

The conversion is stricter than ``yaml.safe_load`` on purpose:

- mapping keys are the text the author wrote (``1:`` is the key ``"1"``, ``yes:`` is
  ``"yes"``), because keys are names, never numbers or booleans;
- timestamps stay strings, so the data is JSON-shaped for the schema and
  :func:`conntrack._durations.parse_instant` sees exactly what was written;
- a key repeated in one mapping is a problem (YAML says keys are unique; PyYAML
  silently keeps the last one), and so is a recursive alias;
- nothing here raises for bad input: every problem becomes a :class:`Problem`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import yaml

from .._exceptions import Problem

PathKey = str | int
Path = tuple[PathKey, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Loader(yaml.SafeLoader):
    """A SafeLoader whose implicit resolvers leave timestamps as strings.

    Pure Python: slow, but its error messages are the same on every platform.
    """

    yaml_implicit_resolvers = _RESOLVERS


# libyaml parses about ten times faster; we use it when present, for files that parse.
_FastLoader: type[Any] = _Loader
if getattr(yaml, "__with_libyaml__", False):  # pragma: no branch

    class _CLoader(yaml.CSafeLoader):
        yaml_implicit_resolvers = _RESOLVERS

    _FastLoader = _CLoader


@dataclass
class Document:
    """One YAML document: its data, where it starts, and the line of every path.

    ``lines[path]`` is the line of the value at ``path``; ``key_lines[path]`` the line
    of the key that names it (only for values inside a mapping). ``broken`` holds the
    paths whose value could not be read (already a problem; the value is ``None``).
    """

    data: Any
    line: int
    lines: dict[Path, int] = field(default_factory=dict)
    key_lines: dict[Path, int] = field(default_factory=dict)
    broken: set[Path] = field(default_factory=set)

    def line_of(self, path: Path) -> int:
        """The line of the value at ``path``, or of its nearest recorded ancestor."""
        for n in range(len(path), -1, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return line
        return self.line

    def key_line_of(self, path: Path) -> int:
        """The line of the key naming ``path`` (falls back to the value's line)."""
        line = self.key_lines.get(path)
        return line if line is not None else self.line_of(path)


class _Converter:
    """Turns one composed node graph into plain data, recording lines and problems."""

    def __init__(self, loader: Any, file: str, doc: Document) -> None:
        self.loader = loader
        self.file = file
        self.doc = doc
        self.problems: list[Problem] = []
        self._active: set[int] = set()

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, message))

    def convert(self, node: yaml.Node, path: Path) -> Any:
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self._active:
            self.problem(node, "recursive alias: an anchor cannot contain itself; remove the '*'")
            self.doc.broken.add(path)
            return None
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        self.problem(node, f"unsupported YAML node {node.tag!r}")  # pragma: no cover
        return None  # pragma: no cover

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e)
            self.problem(node, f"{problem}; write plain values without '!' tags")
            self.doc.broken.add(path)
            return None
        finally:
            self.loader.constructed_objects = {}
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, "a key must be a plain word, not a list or a mapping")
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.problem(
                    key_node,
                    f"duplicate key '{key}' (first at line {first_line[key]}): "
                    "a key may appear only once in a mapping; remove or rename one",
                )
                continue
            first_line[key] = line
            self.doc.key_lines.setdefault((*path, key), line)
            result[key] = self.convert(value_node, (*path, key))
        # ``<<: *anchor`` merges keys the mapping does not set itself (YAML merge keys).
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.problem(source, "'<<' merges a mapping (or a list of mappings) only")
                    continue
                merged = self.convert(source, path)
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result


def _error_line(error: yaml.YAMLError, text: str) -> int:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(error, "position", None)  # ReaderError: a bad character
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 0


def _error_message(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        parts = [p for p in (error.context, error.problem) if p]
        what = ", ".join(parts) if parts else "invalid YAML"
    else:
        what = str(error).splitlines()[0] if str(error) else "invalid YAML"
        return f"YAML cannot read this file: {what} — remove or replace that character"
    return (
        f"YAML syntax error: {what} — check the indentation, the ':' after each key "
        "and the quoting on or just before this line"
    )


def load_documents(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """Every document of ``text`` as a :class:`Document`, and every problem found.

    A syntax error ends the stream (YAML cannot resynchronise), but the documents
    before it are still returned so their problems are reported too.
    """
    documents, problems, failed = _parse(_FastLoader, text, file)
    if failed and _FastLoader is not _Loader:
        # Report syntax errors in PyYAML's own words, the same with or without libyaml.
        documents, problems, _ = _parse(_Loader, text, file)
    return documents, problems


def _parse(
    loader_class: type[Any], text: str, file: str
) -> tuple[list[Document], list[Problem], bool]:
    documents: list[Document] = []
    problems: list[Problem] = []
    loader: Any = None
    try:
        loader = loader_class(text)
        for node in _nodes(loader):
            doc = Document(data=None, line=node.start_mark.line + 1)
            converter = _Converter(loader, file, doc)
            doc.data = converter.convert(node, ())
            problems.extend(converter.problems)
            documents.append(doc)
    except yaml.YAMLError as e:
        problems.append(Problem(file, _error_line(e, text), _error_message(e)))
        return documents, problems, True
    finally:
        if loader is not None:
            loader.dispose()
    return documents, problems, False


def _nodes(loader: Any) -> Iterator[yaml.Node]:
    while loader.check_node():
        node = loader.get_node()
        if node is not None:
            yield node


def suggest(value: str, allowed: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for the nearest allowed word, or nothing."""
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def read_one(path: str | PurePath, what: str) -> tuple[Document | None, list[Problem]]:
    """The one YAML document of the file at ``path`` (``None`` when the file holds
    none), or the problems: unreadable, not UTF-8, bad YAML, or more than one document.
    ``what`` names the file in messages (``policy file``, ``config file`` …)."""
    file = str(path)
    try:
        with open(file, encoding="utf-8") as stream:
            text = stream.read()
    except UnicodeDecodeError as e:
        return None, [Problem(file, 0, f"not UTF-8 text ({e.reason}); save the {what} as UTF-8")]
    except OSError as e:
        return None, [Problem(file, 0, f"cannot read the {what}: {e.strerror or e}")]
    docs, problems = load_documents(text, file)
    if problems:
        return None, problems
    docs = [d for d in docs if d.data is not None]
    if len(docs) > 1:
        return None, [Problem(file, docs[1].line, f"a {what} holds one YAML document")]
    return (docs[0] if docs else None), []
