"""Reading a product file's YAML document into a :class:`~._file.ProductFile`.

Every check of ``product.yaml`` (see :mod:`._file` for the format) lives here: unknown
keys with a "did you mean", required keys, conntrack's states, reasons, email kinds and
provider names, durations, regular expressions (and the named group ``connection``),
templates and their placeholders, URLs, the folder ``cwd`` names. Each problem is one
:class:`~conntrack.Problem` at the line of the value (or of the key) it is about, and
all of them are collected, so an author fixes a file in one pass.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._durations import parse_duration
from .._exceptions import DurationError, Problem
from .._lifecycle import REASONS, STATES
from .._profiles import providers as known_providers
from ..scenario._marks import DocReader, Document, suggest
from ..scenario._marks import Path as DataPath
from ..scenario._marks import kind_of as _kind
from ..scenario._model import EMAIL_KINDS
from ._file import (
    EMAIL_KEYS,
    KEYS,
    READY_KEYS,
    SHOWS,
    SOURCES,
    START_KEYS,
    START_PLACEHOLDERS,
    TIMEOUT_KEYS,
    EmailRules,
    ProductFile,
    Rule,
    Start,
)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Values that fill a template to check that what it makes is a URL.
_SAMPLE = {"port": 8000, "data": "/tmp/data", "fakes": "http://127.0.0.1:9000",
           "smtp_port": 2525, "protocol": "facebook", "python": "/usr/bin/python3"}  # fmt: skip


def read_product(file: str, doc: Document) -> tuple[ProductFile | None, list[Problem]]:
    """The product file of ``doc``, or ``None`` and every problem found."""
    reader = _Reader(file, doc)
    product = reader.read()
    return (product if not reader.problems else None), reader.problems


class _Reader(DocReader):
    """Reads one product file, collecting every problem (see :class:`DocReader`)."""

    got = True

    def text(self, path: DataPath, value: Any, what: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(path, f"'{_name(path)}' must be {what}; got {_kind(value)}")
            return None
        text = str(value)
        if not text.strip():
            self.problem(path, f"'{_name(path)}' must be {what}, not empty")
            return None
        return None if self.nul(path, text) else text

    def nul(self, path: DataPath, text: str) -> bool:
        """Whether ``text`` holds a NUL character (a problem: no path, command, variable
        or header can hold one; the start of the product would end in a traceback)."""
        if "\x00" not in text:
            return False
        self.problem(path, f"'{_name(path)}' holds a NUL character ('\\0'); remove it")
        return True

    def template(self, path: DataPath, value: str, allowed: Sequence[str]) -> bool:
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError as e:
            self.problem(path, f"{e} in {_shown(value)}: write a brace as '{{{{' or '}}}}'")
            return False
        ok = True
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            if name not in allowed:
                where = f"placeholder {{{name}}}" if name else "an empty placeholder {}"
                self.problem(
                    path,
                    f"'{_name(path)}' uses an unknown {where}; it may use "
                    f"{', '.join('{' + a + '}' for a in allowed)} (a brace is written '{{{{' "
                    f"or '}}}}'){suggest(name, allowed) if name else ''}",
                )
                ok = False
            elif spec or conversion:
                self.problem(
                    path, f"placeholder {{{name}}} takes no format ('!' or ':'): write {{{name}}}"
                )
                ok = False
        return ok

    def url(self, path: DataPath, value: Any, allowed: Sequence[str], example: str) -> str | None:
        text = self.text(path, value, f"a URL like {example}")
        if text is None or not self.template(path, text, allowed):
            return None
        sample = ProductFile.expand(text, **{k: _SAMPLE[k] for k in allowed})
        try:
            parts = urlsplit(sample)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in sample
            _ = parts.port
        except ValueError:
            ok = False
        if not ok:
            self.problem(
                path, f"'{_name(path)}' must be an http(s) URL like {example}; got {_shown(text)}"
            )
            return None
        return text

    def duration(self, path: DataPath, value: Any, *, positive: bool = True) -> timedelta | None:
        try:
            d = parse_duration(value)
        except DurationError as e:
            self.problem(path, f"'{_name(path)}': {e}")
            return None
        if positive and d <= timedelta(0):
            self.problem(path, f"'{_name(path)}' must be longer than 0s; got {_shown(value)}")
            return None
        return d

    def word_map(self, key: str, allowed: Sequence[str], what: str) -> dict[str, str]:
        value = self.doc.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(
                (key,),
                f"'{key}' must map the product's words to conntrack's {what}s, "
                f"like {{active: {allowed[0]}}}; got {_kind(value)}",
            )
            return {}
        out: dict[str, str] = {}
        for word, mapped in value.items():
            path: DataPath = (key, word)
            if not isinstance(mapped, str) or mapped not in allowed:
                hint = suggest(mapped, allowed) if isinstance(mapped, str) else ""
                self.problem(
                    path,
                    f"'{key}: {word}' must be a conntrack {what}, one of "
                    f"{', '.join(allowed)}; got {_shown(mapped)}{hint}",
                )
                continue
            out[word] = mapped
        return out

    def regex(
        self, path: DataPath, value: Any, *, group: str | None = None
    ) -> re.Pattern[str] | None:
        if not isinstance(value, str) or not value:
            self.problem(path, f"'{_name(path)}' must be a regular expression; got {_kind(value)}")
            return None
        try:
            compiled = re.compile(value)
        except re.error as e:
            self.problem(
                path,
                f"'{_name(path)}': not a regular expression: {e.msg} at "
                f"position {e.pos} of {_shown(value)}",
            )
            return None
        if group and group not in compiled.groupindex:
            self.problem(
                path,
                f"'{_name(path)}': the regular expression {_shown(value)} needs a "
                f"group named '{group}', like (?P<{group}>[\\w-]+)",
            )
            return None
        return compiled

    # -- sections ----------------------------------------------------------------------

    def start(self) -> Start | None:
        value = self.doc.data.get("start")
        if value is None:
            self.problem(
                (),
                "the product file needs 'start', with the 'command' that starts "
                "the product, like start: {command: [python, -m, acme]}",
            )
            return None
        if not self.mapping(("start",), value, START_KEYS, "'start'"):
            return None
        command = self.command(value)
        cwd = self.cwd(value.get("cwd"))
        env = self.env(value.get("env"))
        ready_url, ready_timeout = None, timedelta(seconds=30)
        ready = value.get("ready")
        if ready is not None and self.mapping(("start", "ready"), ready, READY_KEYS, "'ready'"):
            if "url" in ready:
                ready_url = self.url(
                    ("start", "ready", "url"),
                    ready["url"],
                    START_PLACEHOLDERS,
                    "http://127.0.0.1:{port}/health",
                )
            if "timeout" in ready:
                ready_timeout = (
                    self.duration(("start", "ready", "timeout"), ready["timeout"]) or ready_timeout
                )
        stop = timedelta(seconds=5)
        if "stop_timeout" in value:
            stop = self.duration(("start", "stop_timeout"), value["stop_timeout"]) or stop
        if command is None or cwd is None or env is None:
            return None
        where = f"{self.file}:{self.doc.line_of(('start', 'command'))}"
        return Start(tuple(command), cwd, env, ready_url, ready_timeout, stop, where)

    def command(self, start: dict[str, Any]) -> list[str] | None:
        path: DataPath = ("start", "command")
        value = start.get("command")
        if value is None:
            self.problem(
                ("start",), "'start' needs 'command', like [python, -m, acme] or 'python -m acme'"
            )
            return None
        if isinstance(value, str):
            try:
                parts = shlex.split(value)
            except ValueError as e:
                self.problem(
                    path,
                    f"'command' cannot be split like a shell would: {e}; "
                    "check the quotes, or write it as a list",
                )
                return None
            if not parts:
                self.problem(path, "'command' is empty: write the program and its arguments")
                return None
            for part in parts:
                if not self.template(path, part, START_PLACEHOLDERS):
                    return None
            return parts
        if not isinstance(value, list) or not value:
            self.problem(
                path,
                f"'command' must be a list like [python, -m, acme] or a string; got {_kind(value)}",
            )
            return None
        parts = []
        for i, part in enumerate(value):
            text = self.text((*path, i), part, "text")
            if text is None or not self.template((*path, i), text, START_PLACEHOLDERS):
                return None
            parts.append(text)
        return parts

    def cwd(self, value: Any) -> Path | None:
        folder = Path(self.file).resolve().parent
        if value is None:
            return folder
        text = self.text(("start", "cwd"), value, "a folder, relative to the product file's")
        if text is None:
            return None
        cwd = (folder / text).resolve()
        if not cwd.is_dir():
            self.problem(
                ("start", "cwd"),
                f"'cwd' is not a folder: {cwd} (a relative 'cwd' "
                f"is taken from the product file's folder, {folder})",
            )
            return None
        return cwd

    def env(self, value: Any) -> dict[str, str] | None:
        path: DataPath = ("start", "env")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(
                path,
                f"'env' must map variable names to values, like "
                f'{{ACME_DB: "{{data}}/acme.db"}}; got {_kind(value)}',
            )
            return None
        out: dict[str, str] = {}
        ok = True
        for name, raw in value.items():
            where: DataPath = (*path, name)
            if not _ENV_NAME.fullmatch(name):
                self.problem(
                    where,
                    f"'{name}' is not a variable name: use letters, digits "
                    "and '_', not starting with a digit",
                    key=True,
                )
                ok = False
                continue
            if name.startswith("CONNTRACK_"):
                self.problem(
                    where,
                    f"'{name}': the CONNTRACK_ variables are the harness's; name yours otherwise",
                    key=True,
                )
                ok = False
                continue
            if isinstance(raw, bool):
                text: str | None = "true" if raw else "false"
            elif raw is None:
                text = ""
            elif isinstance(raw, str | int | float):
                text = str(raw)
            else:
                self.problem(where, f"'{name}' must be text; got {_kind(raw)}")
                text = None
            if text is None or self.nul(where, text):
                ok = False
                continue
            if not self.template(where, text, START_PLACEHOLDERS):
                ok = False
                continue
            out[name] = text
        return out if ok else None

    def providers(self) -> tuple[str, ...]:
        value = self.doc.data.get("providers")
        known = known_providers()
        if value is None:
            return tuple(known)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.problem(
                ("providers",),
                "'providers' must be a list of provider names, like [facebook, linkedin]",
            )
            return ()
        out = []
        for i, name in enumerate(value):
            if not isinstance(name, str) or name not in known:
                hint = suggest(name, known) if isinstance(name, str) else ""
                self.problem(
                    ("providers", i),
                    f"unknown provider {_shown(name)}{hint} (allowed: {', '.join(known)})",
                )
            elif name not in out:
                out.append(name)
        return tuple(out)

    def banners(self) -> bool | tuple[tuple[str, re.Pattern[str]], ...]:
        value = self.doc.data.get("banners", True)
        if isinstance(value, bool):
            return value
        if not isinstance(value, dict) or not value:
            self.problem(
                ("banners",),
                "'banners' must be true, false, or a mapping of what a "
                "banner shows to a regular expression on its text, like "
                "{expiring: 'expires in', invalid: 'reconnect'}",
            )
            return True
        self.mapping(("banners",), value, SHOWS, "'banners'")
        out = []
        for shows, raw in value.items():
            if shows in SHOWS:
                regex = self.regex(("banners", shows), raw)
                if regex is not None:
                    out.append((shows, regex))
        return tuple(out)

    def emails(self) -> EmailRules:
        value = self.doc.data.get("emails")
        if value is None:
            return EmailRules()
        if not self.mapping(("emails",), value, EMAIL_KEYS, "'emails'"):
            return EmailRules()
        kind = self.rule(("emails", "kind"), value.get("kind"), kind=True)
        connection = self.rule(("emails", "connection"), value.get("connection"), kind=False)
        return EmailRules(kind or EmailRules.kind, connection or EmailRules.connection)

    def rule(self, path: DataPath, value: Any, *, kind: bool) -> Rule | None:
        if value is None:
            return None
        allowed = (*SOURCES, "map") if kind else SOURCES
        what = f"'{path[-1]}'"
        if not self.mapping(path, value, allowed, what):
            return None
        sources = [s for s in SOURCES if s in value]
        if len(sources) != 1:
            self.problem(
                path,
                f"{what} reads one of {', '.join(SOURCES)}; got {', '.join(sources) or 'none'}",
            )
            return None
        source = sources[0]
        raw = value[source]
        where: DataPath = (*path, source)
        if "map" in value and source != "header":
            self.problem(
                (*path, "map"),
                "'map' goes with 'header' only: with 'subject' or "
                "'body', each regular expression names its kind",
                key=True,
            )
            return None
        if source == "header":
            header = self.text(where, raw, "a header name, like X-Acme-Kind")
            if header is None:
                return None
            mapping: dict[str, str] = {}
            if kind and "map" in value:
                mapping = self.kind_map((*path, "map"), value["map"])
            return Rule("header", header=header, map=mapping)
        if not kind:
            regex = self.regex(where, raw, group="connection")
            return Rule(source, patterns=((regex, ""),)) if regex is not None else None
        if not isinstance(raw, dict) or not raw:
            self.problem(
                where,
                f"'{source}' must map regular expressions to kinds, like "
                "{'expires in': expiry_reminder}",
            )
            return None
        patterns = []
        for text, word in raw.items():
            regex = self.regex((*where, text), text)
            if regex is None:
                continue
            if self.email_kind((*where, text), word):
                patterns.append((regex, word))
        return Rule(source, patterns=tuple(patterns))

    def kind_map(self, path: DataPath, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            self.problem(
                path,
                "'map' must map the header's values to kinds, like {reminder: expiry_reminder}",
            )
            return {}
        out = {}
        for word, kind in value.items():
            if self.email_kind((*path, word), kind):
                out[word] = kind
        return out

    def email_kind(self, path: DataPath, value: Any) -> bool:
        """Whether ``value`` is one of conntrack's email kinds; else a problem at
        ``path`` with a did-you-mean."""
        if isinstance(value, str) and value in EMAIL_KINDS:
            return True
        hint = suggest(value, EMAIL_KINDS) if isinstance(value, str) else ""
        self.problem(
            path, f"{_shown(value)} is not an email kind{hint} (allowed: {', '.join(EMAIL_KINDS)})"
        )
        return False

    def timeouts(self) -> tuple[timedelta, timedelta]:
        clock, request = timedelta(seconds=30), timedelta(seconds=10)
        value = self.doc.data.get("timeouts")
        if value is None or not self.mapping(("timeouts",), value, TIMEOUT_KEYS, "'timeouts'"):
            return clock, request
        if "clock" in value:
            clock = self.duration(("timeouts", "clock"), value["clock"]) or clock
        if "request" in value:
            request = self.duration(("timeouts", "request"), value["request"]) or request
        return clock, request

    def read(self) -> ProductFile | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.problem(
                (), f"a product file must be a mapping of {', '.join(KEYS)}; got {_kind(data)}"
            )
            return None
        self.mapping((), data, KEYS, "a product file")
        name = Path(self.file).resolve().parent.name or Path(self.file).stem
        if "name" in data:
            name = self.text(("name",), data["name"], "text") or name
        base = redirect = None
        if "base" not in data:
            self.problem(
                (),
                "the product file needs 'base', the protocol's base URL, like "
                "http://127.0.0.1:{port}/_conntrack_test",
            )
        else:
            base = self.url(
                ("base",), data["base"], ("port",), "http://127.0.0.1:{port}/_conntrack_test"
            )
        if "redirect_uri" not in data:
            self.problem(
                (),
                "the product file needs 'redirect_uri', the product's OAuth "
                "callback, like http://127.0.0.1:{port}/oauth/{protocol}/callback",
            )
        else:
            redirect = self.url(
                ("redirect_uri",),
                data["redirect_uri"],
                ("port", "protocol"),
                "http://127.0.0.1:{port}/oauth/{protocol}/callback",
            )
        start = self.start()
        provider_names = self.providers()
        states = self.word_map("states", STATES, "state")
        reasons = self.word_map("reasons", REASONS, "reason")
        banners = self.banners()
        emails = self.emails()
        step = None
        if data.get("step") is not None:
            step = self.duration(("step",), data["step"])
        clock, request = self.timeouts()
        tls = data.get("tls", False)
        if not isinstance(tls, bool):
            self.problem(("tls",), f"'tls' must be true or false; got {_shown(tls)}")
        if self.problems or base is None or redirect is None or start is None:
            return None
        return ProductFile(
            file=self.file,
            name=name,
            base=base,
            redirect_uri=redirect,
            start=start,
            providers=provider_names,
            states=states,
            reasons=reasons,
            banners=banners,
            emails=emails,
            step=step,
            clock_timeout=clock,
            request_timeout=request,
            tls=bool(tls),
        )


def _name(path: DataPath) -> str:
    """How a message names the value at ``path``: its key, or ``key[index]``."""
    if not path:
        return "the file"
    if isinstance(path[-1], int) and len(path) > 1:
        return f"{path[-2]}[{path[-1]}]"
    name = str(path[-1])  # a key may be a regular expression the author wrote
    return name if len(name) <= 60 else f"{name[:60]}…"


def _shown(value: Any, size: int = 60) -> str:
    """``repr(value)``, cut short: a message quotes what was written, not a whole page."""
    text = repr(value)
    return text if len(text) <= size else f"{text[:size]}… ({len(text)} characters)"
