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
- scalars are JSON's (text, numbers, booleans, null): a ``!!binary`` or ``!!timestamp``
  value is a problem, and so is a whole number beyond ±(2^63 - 1);
- nothing here raises for bad input: every problem becomes a :class:`Problem`.

Every reader of a user's YAML file (scenarios, policies, population models, server
configs, product files) comes through here, so the limits of :mod:`conntrack._limits`
that make a hostile file cheap to refuse are enforced here once: that it is a regular
file (a FIFO or ``/dev/zero`` is never read), the file's size (checked before it is read
whole), the digits of a whole number (counted before PyYAML computes it), and, in one
pass over the parser's events before anything is composed, the nesting depth and the
*expanded* size of each file — an alias ``*a`` counts every value its anchor ``&a``
holds, each time it is used, which is what a "billion laughs" file multiplies.
Composing is then safe (no deeper than the limit, no more nodes than the file has
text), and converting cannot expand more values than were counted.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, ClassVar

import yaml

from .._exceptions import Problem, add_problem, full
from .._limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_INTEGER, MAX_NODES
from .._output import not_a_file

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


#: The tags of untagged lists and mappings: any other on one is refused, like on a value.
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


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
        if node.tag not in _PLAIN_TAGS:  # !!python/object/apply:os.system [...], !!set, !!omap
            kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            return self._broken(
                node, path, f"a tagged {kind} ({tag}) has no use here; write plain values "
                "without '!' tags"
            )  # fmt: skip
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
        if node.tag == _INT_TAG and _too_many_digits(node.value):
            return self._broken(node, path, _too_large(node.value))
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e)
            return self._broken(node, path, f"{problem}; write plain values without '!' tags")
        except Exception as e:  # a constructor's own: !!timestamp x, !!bool maybe, !!int 1e5
            if "Exceeds the limit" in str(e):  # int() of more than 4300 digits
                return self._broken(node, path, _too_large(node.value))
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            return self._broken(
                node, path, f"{tag} cannot read {_shorten(node.value)!r}; write plain values "
                "without '!' tags"
            )  # fmt: skip
        finally:
            self.loader.constructed_objects = {}
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            return self._broken(node, path, _too_large(node.value))
        if value is not None and not isinstance(value, str | int | float):
            return self._broken(
                node, path, f"a {type(value).__name__} value "
                f"({node.tag.replace('tag:yaml.org,2002:', '!!')}) has no use here; "
                "write plain values without '!' tags"
            )  # fmt: skip
        return value

    def _broken(self, node: yaml.Node, path: Path, message: str) -> None:
        self.problem(node, message)
        self.doc.broken.add(path)
        return None

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
                if not isinstance(merged, dict):
                    continue  # a recursive merge: already a problem
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result


_INT_TAG = "tag:yaml.org,2002:int"
_BASE_60 = re.compile(r"[-+]?[0-9_]+(?::[0-9_]+)+")


def _too_many_digits(text: str) -> bool:
    """Whether the whole number ``text`` has too many digits to lie within
    ``MAX_INTEGER``, seen without computing it: PyYAML adds up a base-60 number
    (``1:1:1…``, YAML 1.1) part by part, which takes quadratic time (23 CPU seconds for
    300 000 parts), and ``int()`` refuses more than 4 300 decimal digits only after
    reading them."""
    digits = text.replace("_", "").strip().lstrip("+-")
    if _BASE_60.fullmatch(text.strip()):
        # 60**11 > 2**63: twelve parts or more, the first not zero, are out of range.
        parts = digits.split(":")
        while len(parts) > 1 and not parts[0].strip("0"):
            parts.pop(0)
        return len(parts) > 11
    if digits[:2].lower() in ("0x", "0o", "0b"):
        digits = digits[2:]
    # In base 2 or more, 65 digits (without leading zeros) pass 2**64.
    return len(digits.lstrip("0")) > 64


def _shorten(text: str, size: int = 24) -> str:
    return text if len(text) <= size else f"{text[:size]}… ({len(text)} characters)"


def _too_large(text: str) -> str:
    return (
        f"the number {_shorten(text.strip())} is out of range: whole numbers lie within "
        f"±{MAX_INTEGER} (2^63 - 1); write a smaller number"
    )


def _scan(loader_class: type[Any], text: str, file: str) -> tuple[Problem | None, int]:
    """The first limit ``text`` passes, found from the parser's events alone: nesting
    deeper than ``MAX_DEPTH``, or more than ``MAX_NODES`` values once every alias is
    expanded. ``None`` if it passes none (or has a syntax error: :func:`_parse` reports
    that in its own words). And how many values it counted.

    Memory stays at the depth plus one number per anchor: nothing is composed, nothing
    expanded; an alias adds the size its anchor had when it closed.
    """
    sizes: dict[str, int] = {}
    opened: list[tuple[str | None, int]] = []  # (anchor, count when it opened)
    count = 0
    loader: Any = None
    try:
        loader = loader_class(text)  # the pure-Python reader checks characters here
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                count += sizes.get(event.anchor or "", 1)  # unknown, recursive: composer says
            elif isinstance(event, yaml.ScalarEvent):
                count += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                opened.append((event.anchor, count))
                count += 1
                if len(opened) > MAX_DEPTH:
                    return Problem(
                        file,
                        _event_line(event),
                        f"lists and mappings nest more than {MAX_DEPTH} deep here; at most "
                        f"{MAX_DEPTH} levels are allowed: flatten the structure",
                    ), count
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, before = opened.pop()
                if anchor is not None:
                    sizes[anchor] = count - before
            elif isinstance(event, yaml.DocumentStartEvent):
                sizes.clear()  # anchors are per document; the count is for the file
            if count > MAX_NODES:
                return Problem(
                    file,
                    _event_line(event),
                    f"this file expands to more than {MAX_NODES} YAML values (an alias "
                    "'*name' counts everything its anchor '&name' holds, each time it is "
                    f"used); at most {MAX_NODES} are allowed: write the values out, use "
                    "fewer aliases of aliases, or split the file",
                ), count
    except yaml.YAMLError:
        return None, count
    finally:
        if loader is not None:
            loader.dispose()
    return None, count


def _event_line(event: yaml.Event) -> int:
    mark = event.start_mark
    return int(mark.line) + 1 if mark is not None else 0


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
    before it are still returned so their problems are reported too. A text past one of
    the limits (size, depth, expanded size) gives that one problem and no document.
    """
    if len(text) > MAX_FILE_BYTES:
        return [], [_too_big(file, text)]
    documents, problems, read = _parse(_FastLoader, text, file)
    if read is not None and read <= _REPARSE_VALUES and _FastLoader is not _Loader:
        # Report syntax errors in PyYAML's own words, the same with or without libyaml,
        # unless reading again in pure Python would cost a good part of a second.
        documents, problems, _ = _parse(_Loader, text, file)
    return documents, problems


#: A syntax error found by libyaml after more values than this is reported in libyaml's
#: words: the pure-Python parser reads about 30 000 values a second.
_REPARSE_VALUES = 5_000


def _parse(
    loader_class: type[Any], text: str, file: str
) -> tuple[list[Document], list[Problem], int | None]:
    """The documents of ``text`` and their problems, and, if a syntax error stopped the
    parser, how many values it had read before (else ``None``)."""
    documents: list[Document] = []
    problems: list[Problem] = []
    limit, count = _scan(loader_class, text, file)
    if limit is not None:
        return documents, [limit], None
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
        return documents, problems, count
    finally:
        if loader is not None:
            loader.dispose()
    return documents, problems, None


def _nodes(loader: Any) -> Iterator[yaml.Node]:
    while loader.check_node():
        node = loader.get_node()
        if node is not None:
            yield node


def suggest(value: str, allowed: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for the nearest allowed word, or nothing."""
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def kind_of(value: Any) -> str:
    """What a wrong value is, for a "; got ..." message: a mapping, a list, nothing, 'x'."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return _shorten(repr(value), 60)


@dataclass
class DocReader:
    """The problem-collecting base of the readers of a line-marked :class:`Document`.

    Each reader of a user's file (scenarios, policies, population models, server
    configs, product files) turns one document into its model and collects *every*
    problem instead of stopping at the first, each at the line of the value (or of the
    key) it is about, so an author fixes a file in one pass. This base holds the part
    they share: where a problem is, and the check of a mapping's keys (unknown keys are
    named with a "did you mean" and the allowed list, worded the same in every file).
    """

    file: str
    doc: Document
    problems: list[Problem] = field(default_factory=list)
    #: Whether a non-mapping's message also says what was there instead ("; got a list").
    got: ClassVar[bool] = False

    def problem(self, path: Path, message: str, *, key: bool = False) -> None:
        """Add ``message`` at the line of the value at ``path`` (or of its key)."""
        line = self.doc.key_line_of(path) if key else self.doc.line_of(path)
        add_problem(self.problems, Problem(self.file, line, message))

    def full(self) -> bool:
        """Whether this file has :data:`MAX_PROBLEMS` problems: stop looking for more
        (after :func:`~conntrack._exceptions.stopped`), as a long list only costs time."""
        return full(self.problems)

    def mapping(self, path: Path, value: Any, allowed: Sequence[str], what: str) -> bool:
        """Whether ``value`` is a mapping to read on; a problem if not, and one per unknown key.

        ``what`` names the mapping in the messages ("an app", "'start'").
        Unknown keys do not make the answer ``False``: the known ones are still read, so
        their problems are found in the same pass.
        """
        if not isinstance(value, dict):
            shown = f"; got {kind_of(value)}" if self.got else ""
            self.problem(path, f"{what} must be a mapping of {', '.join(allowed)}{shown}")
            return False
        for name in value:
            if name not in allowed:
                self.problem(
                    (*path, name),
                    f"unknown key '{name}' in {what}{suggest(name, allowed)} "
                    f"(allowed: {', '.join(allowed)})",
                    key=True,
                )
        return True


def _too_big(file: str, text: str | bytes) -> Problem:
    """The file passes ``MAX_FILE_BYTES``: say so at the line where it does."""
    head = text[:MAX_FILE_BYTES]
    line = (head.count(b"\n") if isinstance(head, bytes) else head.count("\n")) + 1
    return Problem(
        file,
        line,
        f"the file passes {MAX_FILE_BYTES // 1_000_000} MB here: a YAML file may hold no "
        f"more than {MAX_FILE_BYTES} bytes; split it into several files",
    )


def read_text(path: str | PurePath, what: str) -> tuple[str | None, list[Problem]]:
    """The text of the file at ``path``, or why not: unreadable, not UTF-8, or larger
    than ``MAX_FILE_BYTES`` (found without reading more than that)."""
    file = str(path)
    kind = None
    try:
        # Opened without blocking (a FIFO with no writer would block the open for ever)
        # and read only if it is a regular file: a FIFO or /dev/zero is never read.
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as stream:
            kind = not_a_file(os.fstat(fd).st_mode)
            data = b"" if kind else stream.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:  # where a folder cannot be opened (Windows)
        kind = "a folder"
    except OSError as e:
        return None, [Problem(file, 0, f"cannot read the {what}: {e.strerror or e}")]
    if kind is not None:
        message = f"cannot read the {what}: it is {kind}, not a file; give a YAML file's path"
        return None, [Problem(file, 0, message)]
    if len(data) > MAX_FILE_BYTES:
        return None, [_too_big(file, data)]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as e:
        return None, [Problem(file, 0, f"not UTF-8 text ({e.reason}); save the {what} as UTF-8")]


def read_one(path: str | PurePath, what: str) -> tuple[Document | None, list[Problem]]:
    """The one YAML document of the file at ``path`` (``None`` when the file holds
    none), or the problems: unreadable, not UTF-8, too large, bad YAML, or more than
    one document. ``what`` names the file in messages (``policy file``, ``config file``
    …)."""
    file = str(path)
    text, problems = read_text(path, what)
    if text is None:
        return None, problems
    docs, problems = load_documents(text, file)
    if problems:
        return None, problems
    docs = [d for d in docs if d.data is not None]
    if len(docs) > 1:
        return None, [Problem(file, docs[1].line, f"a {what} holds one YAML document")]
    return (docs[0] if docs else None), []
