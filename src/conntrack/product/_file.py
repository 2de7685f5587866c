"""The product file (``product.yaml``): how the world starts a product and reads its words.

A product file is one YAML document::

    name: acme                                    # optional, shown in reports
    base: http://127.0.0.1:{port}/_conntrack_test # the protocol's base URL
    redirect_uri: http://127.0.0.1:{port}/oauth/{protocol}/callback
    start:
      command: [python, -m, acme]                 # a list (no shell) or a string (shlex)
      cwd: .                                      # relative to this file's folder
      env: {ACME_DB: "{data}/acme.db"}
      ready: {url: "http://127.0.0.1:{port}/health", timeout: 30s}
      stop_timeout: 5s
    providers: [facebook, linkedin, twitter]      # others are skipped, with the reason
    states:  {active: connected, needs_reconnect: invalid}
    reasons: {password_changed: password_changed}
    banners: true                                 # false, or {expiring: regex, ...}
    emails:
      kind: {header: X-Acme-Kind, map: {reminder: expiry_reminder}}
      connection: {header: X-Acme-Connection}
    step: 6h
    timeouts: {clock: 30s, request: 10s}
    tls: false

Templates (``base``, ``redirect_uri``, ``start.command``, ``start.env`` values,
``start.ready.url``) may use the placeholders ``{port}`` (the port the product listens
on), ``{data}`` (its fresh data folder), ``{fakes}`` (the fakes' base URL),
``{smtp_port}`` and, in ``redirect_uri`` only, ``{protocol}``; in ``start`` also
``{python}``, the interpreter conntrack runs on (``sys.executable``: a Python product
installed next to conntrack starts with ``command: ["{python}", -m, acme]`` whether or
not its virtualenv is on ``PATH``). ``{{`` and ``}}`` write a brace.
:meth:`ProductFile.expand` fills them.

It is read like every conntrack file: :mod:`conntrack.scenario._marks` keeps the line of
every value and enforces the size limits, and every problem is one ``file:line:
message`` with a "did you mean" for a misspelt key or word; :func:`load_product` raises
:class:`ProductFileError` (an ``InputError``: the CLI exits 2) with all of them. The
checks themselves are in :mod:`._fileread`; this module holds what a loaded file is.

:meth:`ProductFile.view` turns one object of ``GET {base}/connections`` (the product's
words) into a :class:`~._interface.ConnectionView` (conntrack's): a state word the file
does not map may be one of conntrack's own (identity), anything else is a
:class:`~._interface.ProductError` showing the object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .._durations import parse_instant
from .._exceptions import DurationError, Problem, ScenarioError
from .._lifecycle import REASONS, STATES
from ..scenario._marks import read_one, suggest
from ..scenario._model import EMAIL_KINDS
from ._interface import ConnectionView, ProductError

KEYS = (
    "name",
    "base",
    "redirect_uri",
    "start",
    "providers",
    "states",
    "reasons",
    "banners",
    "emails",
    "step",
    "timeouts",
    "tls",
)
START_KEYS = ("command", "cwd", "env", "ready", "stop_timeout")
READY_KEYS = ("url", "timeout")
EMAIL_KEYS = ("kind", "connection")
SOURCES = ("header", "subject", "body")
TIMEOUT_KEYS = ("clock", "request")
SHOWS = ("expiring", "expired", "invalid")
"""What a banner can be about (besides ``none``)."""
PLACEHOLDERS = ("port", "data", "fakes", "smtp_port", "protocol", "python")
"""Every placeholder a template may use; ``protocol`` only in ``redirect_uri``."""
START_PLACEHOLDERS = ("port", "data", "fakes", "smtp_port", "python")
"""The placeholders of ``start`` (command, env, ready url)."""

DEFAULT_KIND_HEADER = "X-Conntrack-Kind"
DEFAULT_CONNECTION_HEADER = "X-Conntrack-Connection"


class ProductFileError(ScenarioError):
    """A product file that does not load: every ``file:line: message`` problem."""


@dataclass(frozen=True)
class Start:
    """How the harness starts the product: ``command`` and ``env`` values are templates
    (see :meth:`ProductFile.command` and :meth:`ProductFile.env`); ``cwd`` is absolute;
    ``ready_url`` is a template, ``None`` for ``{base}/connections``."""

    command: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    ready_url: str | None = None
    ready_timeout: timedelta = timedelta(seconds=30)
    stop_timeout: timedelta = timedelta(seconds=5)
    where: str = ""
    """``file:line`` of ``command``, for a program that then does not run."""


@dataclass(frozen=True)
class Rule:
    """How to read one thing (an email's kind, or its connection) from an email.

    ``source`` is ``header``, ``subject`` or ``body``. For a header, ``header`` names it
    and ``map`` turns its value into conntrack's word (a value the map lacks is taken as
    it is). For a kind read from the subject or body, ``patterns`` are ``(regex, kind)``
    pairs, first match wins; for a connection, one regex whose group ``connection`` is
    the name.
    """

    source: str
    header: str = ""
    map: Mapping[str, str] = field(default_factory=dict)
    patterns: tuple[tuple[re.Pattern[str], str], ...] = ()

    def read(self, headers: Mapping[str, str], subject: str, body: str) -> str | None:
        """The word this rule reads, or ``None`` when it finds none."""
        if self.source == "header":
            value = _header(headers, self.header)
            if value is None or not value.strip():
                return None
            value = value.strip()
            return self.map.get(value, value)
        text = subject if self.source == "subject" else body
        for regex, word in self.patterns:
            match = regex.search(text)
            if match is not None:
                return word if word else (match.group("connection") or "").strip() or None
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value)
    return None


@dataclass(frozen=True)
class EmailRules:
    """How to tell an email's kind and connection (the file's ``emails:``)."""

    kind: Rule = Rule("header", DEFAULT_KIND_HEADER)
    connection: Rule = Rule("header", DEFAULT_CONNECTION_HEADER)

    def classify(
        self, headers: Mapping[str, str], subject: str, body: str
    ) -> tuple[str | None, str | None]:
        """``(kind, connection)``: the kind only when it is one of conntrack's
        (:data:`EMAIL_KINDS`), each ``None`` when the rules find none."""
        kind = self.kind.read(headers, subject, body)
        connection = self.connection.read(headers, subject, body)
        return (kind if kind in EMAIL_KINDS else None), connection


@dataclass(frozen=True)
class ProductFile:
    """A loaded, checked product file (see the module docstring)."""

    file: str
    name: str
    base: str
    redirect_uri: str
    start: Start
    providers: tuple[str, ...]
    states: Mapping[str, str] = field(default_factory=dict)
    """Product state word → conntrack state (conntrack's own words need no entry)."""
    reasons: Mapping[str, str] = field(default_factory=dict)
    banners: bool | tuple[tuple[str, re.Pattern[str]], ...] = True
    """``False``: the product shows no banner; ``True``: what it shows is the state;
    else ``(shows, regex)`` pairs, first match on the banner's text wins."""
    emails: EmailRules = field(default_factory=EmailRules)
    step: timedelta | None = None
    """The grid between instants of interest; ``None``: the smallest ``sync_every``."""
    clock_timeout: timedelta = timedelta(seconds=30)
    request_timeout: timedelta = timedelta(seconds=10)
    tls: bool = False

    @property
    def folder(self) -> Path:
        """The folder of the product file."""
        return Path(self.file).resolve().parent

    # -- templates ---------------------------------------------------------------------

    @staticmethod
    def expand(template: str, **values: object) -> str:
        """``template`` with its placeholders filled from ``values`` (``port=8000``,
        ``data=...``); ``{{``/``}}`` are braces. A placeholder without a value is a
        ``ValueError`` (the loader already refused unknown ones)."""
        try:
            return template.format_map({k: str(v) for k, v in values.items()})
        except KeyError as e:
            raise ValueError(
                f"the template {template!r} needs a value for {{{e.args[0]}}}"
            ) from None

    def base_url(self, *, port: int) -> str:
        """The protocol's base URL, without a trailing slash."""
        return self.expand(self.base, port=port).rstrip("/")

    def redirect_uri_for(self, protocol: str, *, port: int) -> str:
        """The product's OAuth redirect URI for ``protocol`` (``facebook``…)."""
        return self.expand(self.redirect_uri, port=port, protocol=protocol)

    def command(self, **values: object) -> list[str]:
        """``start.command`` with its placeholders filled."""
        return [self.expand(part, **values) for part in self.start.command]

    def env(self, **values: object) -> dict[str, str]:
        """``start.env`` with its placeholders filled (only the file's own variables;
        the harness adds the ``CONNTRACK_*`` ones)."""
        return {k: self.expand(v, **values) for k, v in self.start.env.items()}

    def ready_url(self, **values: object) -> str:
        """The URL the harness polls until the product answers below 500."""
        if self.start.ready_url is None:
            return self.base_url(port=int(str(values["port"]))) + "/connections"
        return self.expand(self.start.ready_url, **values)

    # -- providers ---------------------------------------------------------------------

    def unsupported(self, provider: str) -> str | None:
        """Why a scenario with a ``provider`` connection is skipped (``None``: it is
        not)."""
        if provider in self.providers:
            return None
        return (
            f"the product does not support provider '{provider}' (the product file "
            f"{self.file} lists: {', '.join(self.providers)})"
        )

    # -- the product's words -----------------------------------------------------------

    def state_of(self, word: str) -> str | None:
        """conntrack's state for the product's ``word``, or ``None``."""
        mapped = self.states.get(word)
        if mapped is not None:
            return mapped
        return word if word in STATES else None

    def reason_of(self, word: str) -> str | None:
        """conntrack's reason for the product's ``word``, or ``None``."""
        mapped = self.reasons.get(word)
        if mapped is not None:
            return mapped
        return word if word in REASONS else None

    def shows_of(self, state: str, banner: str) -> str:
        """What the banner is about: ``expiring``, ``expired``, ``invalid`` or ``none``."""
        if self.banners is False or not banner.strip():
            return "none"
        if self.banners is True:
            return state if state in SHOWS else "none"
        for shows, regex in self.banners:
            if regex.search(banner):
                return shows
        return "none"

    def view(self, obj: Any) -> ConnectionView:
        """One object of ``GET {base}/connections`` in conntrack's words, or
        :class:`ProductError` showing the object and what is wrong with it."""
        shown = _show(obj)
        if not isinstance(obj, dict):
            raise ProductError("a connection must be a JSON object", answer=shown)

        def broken(what: str) -> ProductError:
            return ProductError(f"GET /connections: {what}", answer=shown)

        name = obj.get("name")
        if not isinstance(name, str) or not name:
            raise broken("a connection needs its 'name', a non-empty string")
        word = obj.get("state")
        if not isinstance(word, str) or not word:
            raise broken(f"connection '{name}' needs its 'state', a non-empty string")
        state = self.state_of(word)
        if state is None:
            known = sorted({*self.states, *STATES})
            raise broken(
                f"connection '{name}' has state {word!r}, which the product file does not "
                f"map (mapped: {', '.join(sorted(self.states)) or 'none'}; conntrack's own: "
                f"{', '.join(STATES)}): add it to 'states:' in {self.file}"
                f"{suggest(word, known)}"
            )
        reason = self._reason(obj, name, state, broken)
        banner = self._text(obj, "banner", name, broken) if self.banners is not False else ""
        settings = self._text(obj, "settings", name, broken)
        return ConnectionView(
            name=name,
            state=state,
            reason=reason,
            banner=banner,
            settings=settings,
            shows=self.shows_of(state, banner),
            last_synced_at=self._instant(obj, "last_synced_at", name, broken),
            state_since=self._instant(obj, "state_since", name, broken),
            raw=dict(obj),
        )

    def views(self, answer: Any) -> list[ConnectionView]:
        """Every object of a ``GET {base}/connections`` answer (a JSON list), each name
        once, or :class:`ProductError`."""
        if not isinstance(answer, list):
            raise ProductError("GET /connections must answer a JSON list", answer=_show(answer))
        out = [self.view(obj) for obj in answer]
        seen: set[str] = set()
        for view in out:
            if view.name in seen:
                raise ProductError(
                    f"GET /connections lists connection '{view.name}' twice",
                    answer=_show(answer),
                )
            seen.add(view.name)
        return out

    def _reason(self, obj: dict[str, Any], name: str, state: str, broken: Any) -> str | None:
        word = obj.get("reason")
        if word is None or word == "":
            return None
        if not isinstance(word, str):
            raise broken(f"connection '{name}': 'reason' must be a string or null")
        reason = self.reason_of(word)
        if reason is None and state == "invalid":
            known = sorted({*self.reasons, *REASONS})
            raise broken(
                f"connection '{name}' is invalid with reason {word!r}, which the product "
                f"file does not map (conntrack's own: {', '.join(REASONS)}): add it to "
                f"'reasons:' in {self.file}{suggest(word, known)}"
            )
        return reason  # an unmapped word on a state other than invalid means nothing here

    @staticmethod
    def _text(obj: dict[str, Any], key: str, name: str, broken: Any) -> str:
        value = obj.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise broken(f"connection '{name}': '{key}' must be a string or null")
        return value

    @staticmethod
    def _instant(obj: dict[str, Any], key: str, name: str, broken: Any) -> datetime | None:
        value = obj.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise broken(f"connection '{name}': '{key}' must be an ISO 8601 instant or null")
        try:
            return parse_instant(value)
        except DurationError as e:
            raise broken(f"connection '{name}': '{key}': {e}") from None


def _show(obj: Any, size: int = 2000) -> str:
    try:
        text = json.dumps(obj, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(obj)
    return text if len(text) <= size else text[:size] + f"… ({len(text)} characters)"


def load_product(path: str | Path) -> ProductFile:
    """The product file at ``path``, or :class:`ProductFileError` with every
    ``file:line: message`` problem."""
    from ._fileread import read_product  # it builds this module's classes

    file = str(path)
    doc, problems = read_one(path, "product file")
    if problems:
        raise ProductFileError(problems)
    if doc is None:
        message = "the product file is empty: it needs at least 'base', 'redirect_uri' and 'start'"
        raise ProductFileError([Problem(file, 1, message)])
    product, problems = read_product(file, doc)
    if product is None:
        raise ProductFileError(problems)
    return product
