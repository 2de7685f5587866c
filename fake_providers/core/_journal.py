"""The core's records one by one, and which of them changed: what ``conntrack serve
--state`` writes after every change, and reads back at start.

``_persist`` turns the whole core into one document; at a hundred thousand tokens that
takes seconds, so a server that saves it now and then loses what it answered since the
last save when it is killed. This module keeps the same records as rows instead — one
row a record, ``(table, key, body)`` with ``body`` the record's fields as a JSON array —
and tells which rows changed since it was last asked, so that a write costs what
changed, not what is kept.

Which rows changed: :class:`Journal` replaces each of the core's tables (``_tokens``,
``_codes``, ``_families``…) by a :class:`Tracked` dict that notes every key looked up,
set or removed. The core changes a record only after finding it by its key (or while
listing a table's values, which marks the whole table), so every record that may have
changed is among the noted keys; a key noted but gone from the table is a row to
delete (a token forgotten, a code spent, a reset). A table the core *replaced* (a new
dict assigned) is written whole. Keys only looked up while ``seq`` did not move are
dropped: nothing changed. A record is written whole each time, so one changed without
a mutation (nothing the core does today) is saved with the next one. A table whose
values were listed is written whole if the one who listed it — the trio task (each
request of the server is one), else the thread — also made a mutation (called
``_bump``) before the next write: a listing inside a mutation may change what it listed
in place. A listing by anyone else is a read (``GET /_conntrack/tokens`` while other
requests issue tokens) and leaves no mark; before, it made the next write one of every
row (seconds at a hundred thousand tokens, every answer held back meanwhile). Whole
writes are costly, so a core's mutations find records by key — an account's families
through ``_base.FamiliesByAccount``, its grants by app — or read a table with
``dict.values`` itself and change what they found by key, as ``delete_account`` does;
the faults table, a few rows, is written whole whenever ``seq`` moved.

Pages belong to ``_pages`` and to their creator's ``Account.pages`` (and may outlive
their place in ``_pages``): ``pages`` keeps every page once, ``live_pages`` the keys of
``_pages``; an account's row names its pages, and writing an account writes its pages.

:func:`load` decodes the rows of every table in one ``json.loads`` and builds records
positionally (no per-field checks: it reads what this module wrote; a row that does not
fit its table is a :class:`~._persist.StateFormatError`). The columns of each table are
saved with the rows, so a field added to a record later is filled with its default.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import operator
import sys
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

from ._model import Account, App, Fault, Grant, Page
from ._persist import StateFormatError, _codec, _no_gc, _plain, _rng_state, _rng_tuple, install
from ._tokenmodel import Code, Family, Token

if TYPE_CHECKING:
    from ._core import Core

#: The layout of the rows; bump it when a table or the meaning of a body changes.
FORMAT = 2


def _actor() -> Any:
    """Who runs now: the trio task (each request of the server is one), else the thread.
    A listing and a change made by different actors cannot be one mutation's."""
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            return trio.lowlevel.current_task()
        except RuntimeError:  # not inside trio
            pass
    return threading.get_ident()


class Tracked(dict[Any, Any]):
    """A dict that notes the keys it is asked for, given or loses (``touched``),
    whether it changed shape (``wrote``: a key set or removed), who listed its values
    (``scanners``, :func:`_actor`: any of them may have been changed in place by a
    mutation of the same actor) and whether it was emptied (``cleared``)."""

    __slots__ = ("cleared", "scanners", "touched", "wrote")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        #: In the order first noted: new rows are written in the order the keys came.
        self.touched: dict[Any, None] = {}
        self.wrote = False
        self.scanners: set[Any] = set()
        self.cleared = False

    def __getitem__(self, key: Any) -> Any:
        self.touched[key] = None
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        self.touched[key] = None
        return dict.get(self, key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.touched[key] = None
        self.wrote = True
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self.touched[key] = None
        self.wrote = True
        dict.__delitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        self.touched[key] = None
        self.wrote = True
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[Any, Any]:
        key, value = dict.popitem(self)
        self.touched[key] = None
        self.wrote = True
        return key, value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self.touched[key] = None
        self.wrote = True
        return dict.setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        new = dict(*args, **kwargs)
        self.touched.update(dict.fromkeys(new))
        self.wrote = True
        dict.update(self, new)

    def __ior__(self, other: Any) -> Tracked:  # type: ignore[misc]
        self.update(other)
        return self

    def clear(self) -> None:
        self.cleared = self.wrote = True
        self.touched.clear()
        dict.clear(self)

    def values(self) -> Any:
        self.scanners.add(_actor())
        return dict.values(self)

    def items(self) -> Any:
        self.scanners.add(_actor())
        return dict.items(self)

    def forget(self) -> None:
        """Start noting afresh."""
        self.touched = {}
        self.scanners = set()
        self.wrote = self.cleared = False


# -- rows -----------------------------------------------------------------------------

Row = tuple[str, str]


def _immutable(hint: Any) -> bool:
    """Whether values of type ``hint`` cannot change in place."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType) or origin is tuple:
        return all(a is Ellipsis or a is type(None) or _immutable(a) for a in args)
    if hint in (str, int, float, bool, datetime, timedelta):
        return True
    if isinstance(hint, type) and issubclass(hint, Enum):
        return True
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        params = getattr(hint, "__dataclass_params__", None)
        hints = get_type_hints(hint)
        return bool(params and params.frozen) and all(_immutable(h) for h in hints.values())
    return False


def _not_none(hint: Any) -> Any:
    """``X`` for ``X | None``, else ``hint``."""
    if get_origin(hint) in (Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return hint


@cache
def _fast(hint: Any) -> Callable[[Any], Any]:
    """The decoder of a saved value of type ``hint`` that is not ``None``, for rows this
    module wrote: no checks beyond what a wrong value breaks on (``TypeError``,
    ``ValueError``, ``KeyError``), caught per row by the caller. ``_persist``'s decoders
    check every value and take four times as long: a start with 100 000 tokens decodes
    half a million instants."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        fast = _fast(inner)
        return lambda v: None if v is None else fast(v)
    if hint is datetime:
        return datetime.fromisoformat
    if hint is timedelta:
        return lambda v: timedelta(microseconds=v)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint._value2member_map_.__getitem__
    if origin in (list, set, frozenset) or (origin is tuple and args[-1:] == (Ellipsis,)):
        make = origin
        item = _fast(args[0])
        if _plain(args[0]) is not None:
            return make
        return lambda v: make(item(x) for x in v)
    if origin is tuple:
        parts = [_fast(a) for a in args]
        return lambda v: tuple(d(x) for d, x in zip(parts, v, strict=True))
    if origin is dict:
        value = _fast(args[1])
        return lambda v: {k: value(x) for k, x in v.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = get_type_hints(hint)
        coded = [
            (f.name, _fast(hints[f.name]))
            for f in dataclasses.fields(hint)
            if _plain(hints[f.name]) is None
        ]

        def record(v: Any) -> Any:
            # ``v`` is a mapping fresh from json.loads, decoded in place.
            for name, dec in coded:
                value = v.get(name)
                if value is not None:
                    v[name] = dec(value)
            return hint(**v)

        return record
    if _plain(hint) is not None:
        return lambda v: v
    raise TypeError(f"cannot load a value of type {hint!r}")


class _Kind:
    """How the records of one dataclass become JSON arrays and back.

    ``skip``: fields not saved; ``extra``: names of values appended after the fields
    (an account's page ids)."""

    def __init__(self, kind: type, skip: tuple[str, ...] = (), extra: tuple[str, ...] = ()):
        self.kind = kind
        hints = get_type_hints(kind)
        self.fields = [f for f in dataclasses.fields(kind) if f.name not in skip]
        self.columns = [f.name for f in self.fields] + list(extra)
        self.names = [f.name for f in self.fields]
        self.encoders: list[Callable[[Any], Any] | None] = []
        self.decoders: list[tuple[int, Callable[[Any], Any]]] = []
        for i, f in enumerate(self.fields):
            enc, _ = _codec(hints[f.name])
            plain = _plain(hints[f.name]) is not None
            self.encoders.append(None if plain else enc)
            if not plain:  # None is left as it is by the row decoders: decode the rest
                self.decoders.append((i, _fast(_not_none(hints[f.name]))))

        #: The saved fields' values as a tuple, for a kind whose values are all
        #: immutable (a change is a new value, never one changed in place); else None.
        self.snapshot: Callable[[Any], tuple[Any, ...]] | None = None
        if all(_immutable(hints[f.name]) for f in self.fields) and len(self.names) > 1:
            self.snapshot = operator.attrgetter(*self.names)

    def encode(self, obj: Any) -> list[Any]:
        d = obj.__dict__
        return [
            d[n] if e is None else e(d[n]) for n, e in zip(self.names, self.encoders, strict=True)
        ]

    def decoder(self, saved: list[str]) -> Callable[[list[Any]], Any]:
        """Decode rows saved with fields ``saved`` (extras taken off) into records of
        today's fields."""
        kind, decoders, names = self.kind, self.decoders, self.names
        every = [f.name for f in dataclasses.fields(kind)]
        if saved == names:
            positional = every[: len(names)] == names

            def same(row: list[Any]) -> Any:
                if len(row) != len(names):
                    raise StateFormatError(f"expected {len(names)} values, found {len(row)}")
                for i, dec in decoders:
                    value = row[i]
                    if value is not None:
                        row[i] = dec(value)
                return kind(*row) if positional else kind(**dict(zip(names, row, strict=True)))

            return same
        unknown = [c for c in saved if c not in names]
        if unknown:
            raise StateFormatError(
                f"{kind.__name__} rows with unknown field(s) {', '.join(unknown)}"
            )
        where = {c: i for i, c in enumerate(saved)}
        missing = [
            f.name
            for f in self.fields
            if f.name not in where
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise StateFormatError(f"{kind.__name__} rows without {', '.join(missing)}")
        coded = dict(decoders)
        picks = [(n, where[n], coded.get(i)) for i, n in enumerate(names) if n in where]

        def mapped(row: list[Any]) -> Any:
            if len(row) != len(saved):
                raise StateFormatError(f"expected {len(saved)} values, found {len(row)}")
            values = {}
            for name, j, dec in picks:
                value = row[j]
                values[name] = value if dec is None or value is None else dec(value)
            return kind(**values)

        return mapped


_APP = _Kind(App)
_ACCOUNT = _Kind(Account, skip=("pages",), extra=("pages",))
_PAGE = _Kind(Page)
_GRANT = _Kind(Grant)
_CODE = _Kind(Code)
_TOKEN = _Kind(Token)
_FAMILY = _Kind(Family, skip=("tokens",))
_FAULT = _Kind(Fault)

#: Table name → (core attribute, how its records are encoded; None: the value itself).
TABLES: dict[str, tuple[str, _Kind | None]] = {
    "apps": ("_apps", _APP),
    "accounts": ("_accounts", _ACCOUNT),
    "deleted_accounts": ("_deleted_accounts", _ACCOUNT),
    "pages": ("_pages", _PAGE),
    "grants": ("_grants", _GRANT),
    "codes": ("_codes", _CODE),
    "tokens": ("_tokens", _TOKEN),
    "requests": ("_requests", _TOKEN),
    "families": ("_families", _FAMILY),
    "faults": ("_faults", _FAULT),
    "page_tokens": ("_page_tokens", None),
    "refresh_index": ("_refresh_index", None),
}
#: Tables written whole whenever ``seq`` moved: a few rows, and one of their records
#: may be changed through an object held since an earlier listing (``fault_hit``).
SMALL = ("faults",)
#: How many rows written last a journal remembers, to leave out the unchanged ones.
RECENT = 4096
#: Tables of rows without their own dict in the core.
EXTRA_TABLES = ("live_pages",)


def columns() -> dict[str, list[str]]:
    """The columns of each table's bodies, saved with them."""
    return {name: kind.columns for name, (_, kind) in TABLES.items() if kind is not None}


def _key(key: Any) -> str:
    return key if isinstance(key, str) else json.dumps(list(key), ensure_ascii=False)


def _unkey(text: str) -> Any:
    return tuple(json.loads(text)) if text.startswith("[") else text


#: Compact JSON, with one encoder made once (``json.dumps`` with options makes one a call).
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# -- what changed ---------------------------------------------------------------------


@dataclass
class Changes:
    """Rows to write and to delete, table by table; ``emptied`` tables lose every row
    first. ``seq`` is the core's at the time they were taken."""

    seq: int
    upserts: dict[str, list[Row]] = field(default_factory=dict)
    deletes: dict[str, list[str]] = field(default_factory=dict)
    emptied: list[str] = field(default_factory=list)

    def rows(self) -> int:
        return sum(map(len, self.upserts.values())) + sum(map(len, self.deletes.values()))


class Journal:
    """Tracks which of ``core``'s records changed (see the module docstring)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.seq = core.seq
        self._tables: dict[str, Tracked] = {}
        #: (table, key) → body of the rows written last, oldest first (``_unchanged``).
        self._recent: dict[tuple[str, str], str] = {}
        #: (table, key) → (its immutable field values, the record) as last written.
        self._seen: dict[tuple[str, Any], tuple[tuple[Any, ...], Any]] = {}
        #: Tables with rows in ``_recent`` or ``_seen``.
        self._cached: set[str] = set()
        tokens = core._tokens
        for name, (attr, _) in TABLES.items():
            self._tables[name] = self._track(attr)
        # Retention's schedule knows the token table it was made for, and remakes itself
        # (a scan of every token) when the core has another: it is the same table, now
        # tracked.
        schedule = getattr(core, "_forget_at", None)
        if getattr(schedule, "source", None) is tokens:
            schedule.source = core._tokens  # type: ignore[union-attr]
        #: Who made a mutation (called ``_bump``) since the last take: a listing by one
        #: of them may have been changed in place; a listing by anyone else was a read.
        self._bumpers: set[Any] = set()
        bump = core._bump

        def noting_bump() -> Any:
            self._bumpers.add(_actor())
            return bump()

        core._bump = noting_bump  # type: ignore[method-assign]

    def _track(self, attr: str) -> Tracked:
        table = Tracked(getattr(self.core, attr))
        setattr(self.core, attr, table)
        return table

    def pending(self) -> bool:
        """Whether anything may have changed since the last :meth:`take`."""
        if self.core.seq != self.seq:
            return True
        for name, (attr, _) in TABLES.items():
            table = self._tables[name]
            if table.wrote or getattr(self.core, attr) is not table:
                return True
        return False

    def take(self, *, everything: bool = False) -> Changes | None:
        """The rows that changed since the last call (all rows with ``everything``),
        or None if nothing did; noting starts afresh. Give them back with
        :meth:`give_back` if they could not be written."""
        if not everything and not self.pending():
            for table in self._tables.values():
                table.forget()
            self._bumpers = set()
            return None
        moved = everything or self.core.seq != self.seq
        out = Changes(self.core.seq)
        account_pages: dict[str, Page] = {}
        for name, (attr, kind) in TABLES.items():
            table = self._tables[name]
            current = getattr(self.core, attr)
            if current is not table:  # the core put a new dict in: write it whole
                table = self._tables[name] = self._track(attr)
                table.wrote = whole = True
            else:
                scanned = not table.scanners.isdisjoint(self._bumpers)
                whole = everything or table.cleared or (moved and (scanned or name in SMALL))
            if not (moved or table.wrote) or not (whole or table.touched):
                table.forget()
                continue
            if whole:
                out.emptied.append(name)
                keys: Iterable[Any] = dict.keys(table)
            else:
                keys = table.touched
            ups: list[Row] = []
            gone: list[str] = []
            for key in keys:
                if dict.__contains__(table, key):
                    value = dict.__getitem__(table, key)
                    if kind is None:
                        ups.append((_key(key), _dumps(value)))
                    elif kind is _ACCOUNT:
                        body = _ACCOUNT.encode(value)
                        body.append([p.id for p in value.pages])
                        ups.append((key, _dumps(body)))
                        for page in value.pages:
                            account_pages[page.id] = page
                    elif kind.snapshot is not None and not whole:
                        # A record of immutable values: compared as a tuple of them with
                        # what was last written (no encoding for one only looked up).
                        seen = (kind.snapshot(value), value)
                        last = self._seen.pop((name, key), None)
                        if last is None or last[1] is not value or last[0] != seen[0]:
                            ups.append((_key(key), _dumps(kind.encode(value))))
                        self._seen[(name, key)] = seen
                        self._cached.add(name)
                    else:
                        ups.append((_key(key), _dumps(kind.encode(value))))
                elif not whole:
                    gone.append(_key(key))
                    self._seen.pop((name, key), None)
            table.forget()
            if ups:
                out.upserts[name] = ups
            if gone:
                out.deletes[name] = gone
        # Pages: every page written once (live or only an account's), and which are live.
        if "pages" in out.upserts or "pages" in out.deletes or "pages" in out.emptied:
            live = [k for k, _ in out.upserts.get("pages", [])]
            out.upserts["live_pages"] = [(k, "1") for k in live]
            if "pages" in out.deletes:
                out.deletes["live_pages"] = out.deletes.pop("pages")
            if "pages" in out.emptied:
                out.emptied.remove("pages")
                out.emptied.append("live_pages")
                if everything:
                    out.emptied.append("pages")
        if account_pages:
            written = {k for k, _ in out.upserts.get("pages", [])}
            extra = [(k, _dumps(_PAGE.encode(p))) for k, p in account_pages.items()]
            out.upserts.setdefault("pages", []).extend(r for r in extra if r[0] not in written)
        self._unchanged(out)
        self.seq = out.seq
        self._bumpers = set()
        return out

    def _unchanged(self, out: Changes) -> None:
        """Drop the rows the file already holds as they are: a record only looked up
        (the app, the account, the grant of a token being issued) comes back unchanged.
        Remembers the bodies of the :data:`RECENT` rows written last."""
        recent, seen = self._recent, self._seen
        for name in out.emptied:
            if name in self._cached:  # a table written whole: forget its rows
                self._cached.discard(name)
                for pair in [p for p in recent if p[0] == name]:
                    del recent[pair]
                for key in [p for p in seen if p[0] == name]:
                    del seen[key]
        for name, gone in out.deletes.items():
            for text in gone:
                recent.pop((name, text), None)
        for name, rows in list(out.upserts.items()):
            if name in out.emptied:
                continue
            self._cached.add(name)
            kept: list[Row] = []
            for text, body in rows:
                if recent.pop((name, text), None) != body:
                    kept.append((text, body))
                recent[(name, text)] = body
            if kept:
                out.upserts[name] = kept
            else:
                del out.upserts[name]
        while len(recent) > RECENT:
            del recent[next(iter(recent))]
        while len(seen) > RECENT:
            del seen[next(iter(seen))]

    def give_back(self, changes: Changes) -> None:
        """Changes that could not be written: note their keys again for the next take."""
        self.seq = min(self.seq, changes.seq - 1)
        self._recent.clear()
        self._seen.clear()
        for name in changes.emptied:
            if name in self._tables:
                self._tables[name].cleared = True
        keys = {n: [k for k, _ in rows] for n, rows in changes.upserts.items()}
        for name, gone in changes.deletes.items():
            keys.setdefault(name, []).extend(gone)
        keys["pages"] = [*keys.get("pages", []), *keys.pop("live_pages", [])]
        for name, texts in keys.items():
            table = self._tables.get(name)
            if table is not None:
                table.touched.update(dict.fromkeys(_unkey(k) for k in texts))
                table.wrote = True


# -- reading back ---------------------------------------------------------------------


def random_states(core: Core) -> dict[str, Any]:
    """The generators' states, saved now and then (each write would cost more than the
    records it saves); at load they are used only if saved at the same ``seq``."""
    return {
        "seq": core.seq,
        "things": _rng_state(core.ids.rng),
        "noise": _rng_state(core.ids.noise),
        "faker": _rng_state(core.ids.faker_random),
    }


def load(
    core: Core,
    bodies: dict[str, str],
    *,
    keys: dict[str, list[str]],
    seed: int,
    seq: int,
    saved_columns: dict[str, list[str]],
    random: dict[str, Any] | None,
) -> None:
    """Replace everything ``core`` keeps with the rows of a state file: ``bodies`` are
    each table's row bodies as one JSON array (one text to decode in one go) in the
    order they were first written, ``keys`` their keys
    (needed for ``live_pages``, ``page_tokens`` and ``refresh_index`` only). Raises
    :class:`StateFormatError` or ``StateProviderError`` (``core`` unchanged then)."""
    with _no_gc():
        _load(core, bodies, keys, seed, seq, saved_columns, random)
        # Retention's schedule is not made here: the core's first mutation makes it
        # (``_sweep`` finds it made for other tables), after the server is ready — a
        # fifth of a second at a hundred thousand tokens off the start.
        # Hundreds of thousands of long-lived objects, none in a cycle: out of the cyclic
        # collector's sight (else its next full pass walks them all, and the first one,
        # counting every allocation made while it was paused, comes at once).
        gc.freeze()


def _rows(bodies: dict[str, str], name: str) -> list[Any]:
    text = bodies.get(name)
    if not text:
        return []
    try:
        out = json.loads(text)
    except ValueError as e:
        raise StateFormatError(f"{name}: a row cannot be read ({e})") from None
    return out


def _decode(name: str, rows: list[Any], decode: Callable[[list[Any]], Any]) -> list[Any]:
    out = []
    for i, row in enumerate(rows):
        try:
            if not isinstance(row, list):
                raise StateFormatError(f"expected a list, found {row!r:.40}")
            out.append(decode(row))
        except (StateFormatError, TypeError, ValueError, KeyError, IndexError) as e:
            raise StateFormatError(f"{name} row {i + 1}: {e}") from None
    return out


def _records(bodies: dict[str, str], name: str, saved_columns: dict[str, list[str]]) -> list[Any]:
    kind = TABLES[name][1]
    assert kind is not None
    decode = kind.decoder(saved_columns.get(name, kind.columns))
    return _decode(name, _rows(bodies, name), decode)


def _accounts(
    bodies: dict[str, str], name: str, saved: list[str], pages: dict[str, Page]
) -> list[Account]:
    rows = _rows(bodies, name)
    if "pages" not in saved:
        raise StateFormatError(f"{name} rows without pages")
    at = saved.index("pages")
    page_ids = []
    for row in rows:
        page_ids.append(row.pop(at) if isinstance(row, list) and len(row) > at else [])
    decode = _ACCOUNT.decoder([c for c in saved if c != "pages"])
    records = _decode(name, rows, decode)
    for account, ids in zip(records, page_ids, strict=True):
        try:
            account.pages = [pages[i] for i in ids]
        except (KeyError, TypeError):
            raise StateFormatError(f"{name}: account {account.id} names pages not saved") from None
    return records


def _load(
    core: Core,
    bodies: dict[str, str],
    keys: dict[str, list[str]],
    seed: int,
    seq: int,
    saved_columns: dict[str, list[str]],
    random: dict[str, Any] | None,
) -> None:
    pages = {p.id: p for p in _records(bodies, "pages", saved_columns)}
    accounts, deleted = (
        _accounts(bodies, name, saved_columns.get(name, _ACCOUNT.columns), pages)
        for name in ("accounts", "deleted_accounts")
    )
    live = list(keys.get("live_pages", []))
    if not set(live) <= pages.keys():
        raise StateFormatError("live_pages names pages not saved")
    maps: list[dict[Any, Any]] = []
    for name in ("page_tokens", "refresh_index"):
        values = _rows(bodies, name)
        names = keys.get(name, [])
        if len(names) != len(values):
            raise StateFormatError(f"{name}: keys and rows do not match")
        maps.append({_unkey(k): v for k, v in zip(names, values, strict=True)})
    states = None
    if random is not None and random.get("seq") == seq:
        states = tuple(_rng_tuple(random.get(k)) for k in ("things", "noise", "faker"))
    install(
        core, seed=seed, seq=seq, random_states=states,
        apps=_records(bodies, "apps", saved_columns), accounts=accounts, deleted=deleted,
        pages=pages, live=live, grants=_records(bodies, "grants", saved_columns),
        codes=_records(bodies, "codes", saved_columns),
        tokens=_records(bodies, "tokens", saved_columns),
        requests=_records(bodies, "requests", saved_columns),
        families=_records(bodies, "families", saved_columns),
        faults=_records(bodies, "faults", saved_columns),
        page_tokens=maps[0], refresh_index=maps[1],
    )  # fmt: skip
