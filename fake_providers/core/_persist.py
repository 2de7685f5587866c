"""The core's whole state as one JSON-ready document, and back: what ``conntrack serve
--state`` saves and restarts from.

:func:`dump` answers a document of plain data (dicts, lists, strings, numbers, ``None``)
holding every record the core keeps — apps, accounts, pages, grants, codes, tokens
(OAuth 1.0a secrets and request tokens included), families, the page-token and
refresh-token indexes, faults — plus ``seq``, the seed and the state of the seeded
generators, so that a restarted core goes on issuing *new* ids and tokens instead of
replaying the ones it already gave out. :func:`load` puts such a document back into a
core made with the same clock and profiles; a token issued before the restart works
after it, with the same value, expiry, refresh rules and secrets.

Records are encoded from their dataclass fields by type (``datetime`` as ISO 8601 with
microseconds, enums by value, sets as sorted lists, tuples as lists, nested dataclasses as
mappings), so a field added to a record is saved without touching this module as long
as its type is one of those. A page belongs both to ``core._pages`` and to its creator's
``Account.pages``: accounts keep their pages' ids and are linked back on load. A
family's list of tokens is not saved: it is made again from the tokens, in their order.

A document that cannot be read — another ``FORMAT``, a missing or unknown field, a value
of the wrong type — raises :class:`StateFormatError`; one whose records belong to a
provider the core does not serve raises :class:`StateProviderError`. Neither leaves the
core half-loaded: everything is decoded before anything is replaced.
"""

from __future__ import annotations

import dataclasses
import gc
import operator
import random
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

from ._model import Account, App, Fault, Grant, Page
from ._tokenmodel import Code, Family, Token

if TYPE_CHECKING:
    from ._core import Core

#: The version of the document; bump it when an older conntrack could no longer read a
#: newer document or the other way round (a field renamed, a meaning changed).
FORMAT = 1

#: Every attribute a core instance has, and whether :func:`dump` saves it (``True``) or it
#: is made again from the clock and profiles the core is built with (``False``). A test
#: checks this against a real core, so a new attribute cannot be forgotten here.
CORE_ATTRIBUTES = {
    "clock": False,
    "seed": True,
    "ids": True,
    "_profiles": False,
    "_killers": False,
    "_seq": True,
    "_apps": True,
    "_accounts": True,
    "_deleted_accounts": True,
    "_pages": True,
    "_grants": True,
    "_codes": True,
    "_tokens": True,
    "_families": True,
    "_page_tokens": True,
    "_requests": True,
    "_refresh_index": True,
    "_faults": True,
    # Retention's schedule (``_retention``): made again from the records by the first
    # mutation after a load.
    "_forget_at": False,
    # Family ids by account (``_base.FamiliesByAccount``): made again from the families.
    "_account_families": False,
}


class StateFormatError(ValueError):
    """A saved document this version of the core cannot read."""


class StateProviderError(ValueError):
    """A saved document with records of providers the core does not serve."""

    def __init__(self, message: str, providers: list[str]) -> None:
        super().__init__(message)
        self.providers = providers


Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


# -- encoding and decoding by type ----------------------------------------------------


def _bad(what: str, value: Any) -> StateFormatError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return StateFormatError(f"expected {what}, found {shown}")


def _scalar(kind: type) -> Decoder:
    def decode(value: Any) -> Any:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _bad(kind.__name__, value)
        return value

    return decode


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _bad("an instant", value)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _bad("an ISO 8601 instant", value) from None
    if at.tzinfo is None:
        raise _bad("an instant with a UTC offset", value)
    return at


def _duration(value: Any) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad("a duration in microseconds", value)
    return timedelta(microseconds=value)


def _enum(kind: type[Enum]) -> Decoder:
    def decode(value: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise _bad(f"a {kind.__name__}", value) from None

    return decode


def _items(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _bad("a list", value)
    return value


def _identity(value: Any) -> Any:
    return value


@cache
def _codec(hint: Any) -> tuple[Encoder, Decoder]:
    """The encoder and decoder of values of type ``hint`` (a resolved annotation)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"cannot persist a union of several types: {hint!r}")
        enc, dec = _codec(inner[0])
        return (
            lambda v: None if v is None else enc(v),
            lambda v: None if v is None else dec(v),
        )
    if origin in (list, set, frozenset) or (origin is tuple and args[-1:] == (Ellipsis,)):
        enc, dec = _codec(args[0])
        make = origin if origin is not None else list
        if origin in (set, frozenset):
            return (lambda v: sorted(enc(x) for x in v), lambda v: make(dec(x) for x in _items(v)))
        if enc is _identity:
            return (list, lambda v: make(dec(x) for x in _items(v)))
        return (lambda v: [enc(x) for x in v], lambda v: make(dec(x) for x in _items(v)))
    if origin is tuple:
        codecs = [_codec(a) for a in args]

        def decode_tuple(v: Any) -> tuple[Any, ...]:
            if len(_items(v)) != len(codecs):
                raise _bad(f"a list of {len(codecs)}", v)
            return tuple(c[1](x) for c, x in zip(codecs, v, strict=True))

        return (lambda v: [c[0](x) for c, x in zip(codecs, v, strict=True)], decode_tuple)
    if origin is dict:
        if args[0] is not str:
            raise TypeError(f"cannot persist a mapping with non-text keys: {hint!r}")
        enc, dec = _codec(args[1])

        def decode_map(v: Any) -> dict[str, Any]:
            if not isinstance(v, dict):
                raise _bad("a mapping", v)
            return {str(k): dec(x) for k, x in v.items()}

        return (lambda v: {k: enc(x) for k, x in v.items()}, decode_map)
    if hint is Any:
        return (_identity, _identity)
    if hint is datetime:
        return (lambda v: v.isoformat(), _instant)
    if hint is timedelta:
        return (lambda v: v // timedelta(microseconds=1), _duration)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return (lambda v: v.value, _enum(hint))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _record_codec(hint, ())
    if hint in (str, int, bool, float):
        return (_identity, _scalar(hint))
    raise TypeError(f"cannot persist a value of type {hint!r}")


def _plain(hint: Any) -> tuple[type, ...] | None:
    """For a field saved as it is (text, a number, a flag, or one of those or None), the
    types its saved value may have; None for one that needs encoding."""
    if hint in (str, int, float, bool):
        return (int, float) if hint is float else (hint,)
    if hint is Any:
        return (object,)
    if get_origin(hint) in (Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        if len(inner) == 1 and (found := _plain(inner[0])) is not None:
            return (*found, type(None))
    return None


@cache
def _record_codec(kind: type, skip: tuple[str, ...]) -> tuple[Encoder, Decoder]:
    """Encode a dataclass as a mapping of its fields (less ``skip``), and back.

    Plain fields (text, numbers, flags) are copied in one C-level ``attrgetter`` and
    type-checked on the way back; only the others go through their codecs: a snapshot
    of a hundred thousand tokens is made between two requests."""
    hints = get_type_hints(kind)
    fields = [f for f in dataclasses.fields(kind) if f.name not in skip]
    plain = {f.name: t for f in fields if (t := _plain(hints[f.name])) is not None}
    coded = [(f.name, *_codec(hints[f.name])) for f in fields if f.name not in plain]
    plain_names = tuple(plain)
    get_plain = operator.attrgetter(*plain_names) if len(plain_names) > 1 else None
    names = {f.name for f in fields}
    required = {
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }

    def encode(obj: Any) -> dict[str, Any]:
        if get_plain is not None:
            out = dict(zip(plain_names, get_plain(obj), strict=True))
        else:
            out = {name: getattr(obj, name) for name in plain_names}
        for name, enc, _ in coded:
            out[name] = enc(getattr(obj, name))
        return out

    def decode(data: Any) -> Any:
        if not isinstance(data, dict):
            raise _bad(f"a {kind.__name__} record", data)
        unknown = data.keys() - names
        if unknown:
            raise StateFormatError(
                f"{kind.__name__} record with unknown field(s) {', '.join(sorted(unknown))}"
            )
        missing = required - data.keys()
        if missing:
            raise StateFormatError(f"{kind.__name__} record without {', '.join(sorted(missing))}")
        values = dict(data)
        for name, allowed in plain.items():
            if name in values:
                value = values[name]
                if not isinstance(value, allowed) or (
                    bool not in allowed and isinstance(value, bool)
                ):
                    what = " or ".join(t.__name__ for t in allowed)
                    raise StateFormatError(f"{kind.__name__}.{name}: {_bad(what, value)}")
        for name, _, dec in coded:
            if name in values:
                try:
                    values[name] = dec(values[name])
                except StateFormatError as e:
                    raise StateFormatError(f"{kind.__name__}.{name}: {e}") from None
        return kind(**values)

    return encode, decode


def _records(kind: type, skip: tuple[str, ...] = ()) -> tuple[Encoder, Decoder]:
    return _record_codec(kind, skip)


# -- the document ---------------------------------------------------------------------


def _rng_state(rng: Any) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_tuple(state: Any) -> tuple[Any, ...]:
    """A saved generator state as ``random.Random.setstate`` takes it (checked on a
    scratch generator, so a bad one is found before anything changes)."""
    try:
        version, internal, gauss = state
        out = (version, tuple(internal), gauss)
        random.Random().setstate(out)
    except (TypeError, ValueError):
        raise StateFormatError("the saved state of a random generator cannot be read") from None
    return out


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused: dumping or loading makes (or frees) hundreds
    of thousands of objects and no cycles, and the collections those allocations set off
    would take a third to a half of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dump(core: Core) -> dict[str, Any]:
    """Everything the core keeps, as JSON-ready data (see the module docstring)."""
    with _no_gc():
        return _dump(core)


def _dump(core: Core) -> dict[str, Any]:
    enc_app = _records(App)[0]
    enc_account = _records(Account, ("pages",))[0]
    enc_page = _records(Page)[0]
    enc_grant = _records(Grant)[0]
    enc_code = _records(Code)[0]
    enc_token = _records(Token)[0]
    enc_family = _records(Family, ("tokens",))[0]
    enc_fault = _records(Fault)[0]
    # A page may outlive its place in ``core._pages`` (its last admin deleted) and still
    # be listed by its creator's account: save every page once, and which ones are live.
    pages = dict(core._pages)
    people = [*core._accounts.values(), *core._deleted_accounts.values()]
    for a in people:
        for p in a.pages:
            pages.setdefault(p.id, p)

    def account(a: Account) -> dict[str, Any]:
        one = enc_account(a)
        one["pages"] = [p.id for p in a.pages]
        return one

    return {
        "format": FORMAT,
        "seed": core.seed,
        "seq": core._seq,
        "random": {
            "things": _rng_state(core.ids.rng),
            "noise": _rng_state(core.ids.noise),
            "faker": _rng_state(core.ids.faker_random),
        },
        "apps": [enc_app(a) for a in core._apps.values()],
        "accounts": [account(a) for a in core._accounts.values()],
        "deleted_accounts": [account(a) for a in core._deleted_accounts.values()],
        "pages": [enc_page(p) for p in pages.values()],
        "live_pages": list(core._pages),
        "grants": [enc_grant(g) for g in core._grants.values()],
        "codes": [enc_code(c) for c in core._codes.values()],
        "tokens": [enc_token(t) for t in core._tokens.values()],
        "requests": [enc_token(t) for t in core._requests.values()],
        "families": [enc_family(f) for f in core._families.values()],
        "page_tokens": [[user, page, value] for (user, page), value in core._page_tokens.items()],
        "refresh_index": [
            [client, account, list(values)]
            for (client, account), values in core._refresh_index.items()
        ],
        "faults": [enc_fault(f) for f in core._faults.values()],
    }


_KEYS = (
    "format", "seed", "seq", "random", "apps", "accounts", "deleted_accounts", "pages",
    "live_pages", "grants", "codes", "tokens", "requests", "families", "page_tokens",
    "refresh_index", "faults",
)  # fmt: skip


def _section(doc: dict[str, Any], key: str, decode: Decoder) -> list[Any]:
    out = []
    for i, item in enumerate(_items(doc[key])):
        try:
            out.append(decode(item))
        except StateFormatError as e:
            raise StateFormatError(f"{key}[{i}]: {e}") from None
    return out


def _triples(doc: dict[str, Any], key: str) -> list[tuple[str, str, Any]]:
    out = []
    for item in _items(doc[key]):
        if not (isinstance(item, list) and len(item) == 3):
            raise StateFormatError(f"{key}: expected [text, text, value], found {item!r:.60}")
        if not (isinstance(item[0], str) and isinstance(item[1], str)):
            raise StateFormatError(f"{key}: expected [text, text, value], found {item!r:.60}")
        out.append((item[0], item[1], item[2]))
    return out


def _accounts(doc: dict[str, Any], key: str, pages: dict[str, Page]) -> list[Account]:
    """The accounts of ``doc[key]``, each linked to its pages (saved by id)."""
    decode = _records(Account, ("pages",))[1]
    out = []
    for i, raw in enumerate(_items(doc[key])):
        if not isinstance(raw, dict):
            raise StateFormatError(f"{key}[{i}]: expected an Account record, found {raw!r:.60}")
        try:
            account = decode({k: v for k, v in raw.items() if k != "pages"})
        except StateFormatError as e:
            raise StateFormatError(f"{key}[{i}]: {e}") from None
        ids = [_scalar(str)(x) for x in _items(raw.get("pages", []))]
        if not set(ids) <= pages.keys():
            raise StateFormatError(f"{key}[{i}]: names pages not saved")
        account.pages = [pages[x] for x in ids]
        out.append(account)
    return out


def load(core: Core, doc: Any) -> None:
    """Replace everything ``core`` keeps with a document :func:`dump` made.

    Raises :class:`StateFormatError` for a document this version cannot read and
    :class:`StateProviderError` when it holds records of providers ``core`` does not
    serve; ``core`` is unchanged then.
    """
    with _no_gc():
        _load(core, doc)


def _load(core: Core, doc: Any) -> None:
    if not isinstance(doc, dict):
        raise StateFormatError("the saved state is not a mapping")
    if doc.get("format") != FORMAT:
        raise StateFormatError(
            f"the saved state has format {doc.get('format')!r}; this conntrack reads format "
            f"{FORMAT}"
        )
    missing = [k for k in _KEYS if k not in doc]
    unknown = sorted(set(doc) - set(_KEYS))
    if missing or unknown:
        what = [f"without {', '.join(missing)}"] if missing else []
        what += [f"with unknown key(s) {', '.join(unknown)}"] if unknown else []
        raise StateFormatError(f"the saved state is {' and '.join(what)}")
    seed, seq = _scalar(int)(doc["seed"]), _scalar(int)(doc["seq"])
    apps = _section(doc, "apps", _records(App)[1])
    pages = {p.id: p for p in _section(doc, "pages", _records(Page)[1])}
    accounts = _accounts(doc, "accounts", pages)
    deleted = _accounts(doc, "deleted_accounts", pages)
    live = [_scalar(str)(x) for x in _items(doc["live_pages"])]
    if not set(live) <= pages.keys():
        raise StateFormatError("live_pages names pages not saved")
    grants = _section(doc, "grants", _records(Grant)[1])
    codes = _section(doc, "codes", _records(Code)[1])
    tokens = _section(doc, "tokens", _records(Token)[1])
    requests = _section(doc, "requests", _records(Token)[1])
    families = _section(doc, "families", _records(Family, ("tokens",))[1])
    faults = _section(doc, "faults", _records(Fault)[1])
    page_tokens = {(u, p): _scalar(str)(v) for u, p, v in _triples(doc, "page_tokens")}
    refresh_index = {
        (c, a): [_scalar(str)(x) for x in _items(v)] for c, a, v in _triples(doc, "refresh_index")
    }
    saved = doc["random"]
    if not isinstance(saved, dict) or {"things", "noise", "faker"} - saved.keys():
        raise StateFormatError("the saved state of the random generators cannot be read")
    random_states = tuple(_rng_tuple(saved[k]) for k in ("things", "noise", "faker"))
    install(
        core, seed=seed, seq=seq, random_states=random_states, apps=apps, accounts=accounts,
        deleted=deleted, pages=pages, live=live, grants=grants, codes=codes, tokens=tokens,
        requests=requests, families=families, faults=faults, page_tokens=page_tokens,
        refresh_index=refresh_index,
    )  # fmt: skip


def install(
    core: Core,
    *,
    seed: int,
    seq: int,
    random_states: tuple[Any, ...] | None,
    apps: list[App],
    accounts: list[Account],
    deleted: list[Account],
    pages: dict[str, Page],
    live: list[str],
    grants: list[Grant],
    codes: list[Code],
    tokens: list[Token],
    requests: list[Token],
    families: list[Family],
    faults: list[Fault],
    page_tokens: dict[tuple[str, str], str],
    refresh_index: dict[tuple[str, str], list[str]],
) -> None:
    """Replace everything ``core`` keeps with decoded records (the last step of
    :func:`load`, and of ``_journal.load``): raises :class:`StateProviderError`, with
    ``core`` unchanged, if some belong to a provider it does not serve.

    ``random_states`` are the generators' states to go on from; ``None`` when they were
    not saved at ``seq`` (a server killed since): the generators then start streams of
    their own for (seed, seq), which no earlier run drew from, so no id or token already
    handed out is made again."""
    # The providers of every record, a table at a time in C (a start with a hundred
    # thousand tokens: a tenth of a second by a comprehension over them all).
    named: set[str] = set()
    provider = operator.attrgetter("provider")
    for group in (apps, accounts, deleted, grants, codes, tokens, requests, families, faults):
        named.update(map(provider, group))
    foreign = sorted(named - set(core._profiles))
    if foreign:
        raise StateProviderError(
            f"the saved state holds records of {', '.join(foreign)}, which this server does "
            "not serve",
            foreign,
        )
    if random_states is not None:
        things, noise, faker = random_states
        core.ids.rng.setstate(things)
        core.ids.noise.setstate(noise)
        core.ids.faker_random.setstate(faker)
    else:
        core.ids.rng.seed(f"conntrack-fakes:{seed}:things:after:{seq}")
        core.ids.noise.seed(f"conntrack-fakes:{seed}:noise:after:{seq}")
        core.ids.faker_random.seed(f"conntrack-fakes:{seed}:faker:after:{seq}")
    core.seed = seed
    core._seq = seq
    core._apps = {a.client_id: a for a in apps}
    core._accounts = {a.id: a for a in accounts}
    core._deleted_accounts = {a.id: a for a in deleted}
    core._pages = {i: pages[i] for i in live}
    core._grants = {(g.client_id, g.account_id): g for g in grants}
    core._codes = {c.value: c for c in codes}
    core._tokens = {t.value: t for t in tokens}
    core._requests = {t.value: t for t in requests}
    core._families = {f.id: f for f in families}
    for token in tokens:  # a family's tokens, in the order they were issued
        family = core._families.get(token.family)
        if family is not None:
            family.tokens.append(token.value)
    core._page_tokens = page_tokens
    core._refresh_index = refresh_index
    core._faults = {f.id: f for f in faults}
