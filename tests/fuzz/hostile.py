"""Hostile YAML documents for every reader of a user's file, and the check each must pass.

The readers: scenarios (``conntrack run``/``validate``/``notifications`` and the pytest
plugin), policies (``--policy``), population models (``population --config``), server
configs (``serve --config``, the ``conntrack_fakes`` marker's ``config=``) and product
files (``run --product``, ``--conntrack-product``).

One generator drives both the quick hypothesis fuzz of ``make test``
(``test_readers.py``, through ``st.randoms()``) and the long ``make fuzz``
(``fuzz_yaml.py``, through seeded ``random.Random``): a document is a function of one
random source. Shapes (:data:`SHAPES`) start from a good document of the reader and make
it hostile: a value replaced by a hostile scalar or structure, alias bombs (plain and
through merge keys), deep nesting, huge numbers, odd dates and durations, binary junk,
tags (``!!python/object…``, ``!!binary``, ``!!timestamp``…), merge keys and duplicate
keys, very long strings, long lists, edits of the text, several documents.

:func:`check` loads one file with one reader: it must return, or raise an
:class:`~conntrack._exceptions.InputError` whose problems each name the file and (but
for an unreadable file) a line. Anything else is a problem of conntrack's, described in
words for the report.
"""

from __future__ import annotations

import random
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from conntrack._exceptions import InputError, ScenarioError
from conntrack._policy import load_policy
from conntrack._serveconfig import load_config
from conntrack.population import load_population
from conntrack.product._file import load_product
from conntrack.scenario import load_file

GOOD: dict[str, dict[str, Any]] = {
    "scenario": {
        "scenario": "fuzz",
        "seed": 3,
        "start": "2026-01-05T09:00:00Z",
        "until": "30d",
        "company": {"users": 2, "opt_out": ["user2"], "timezone": "Europe/Paris"},
        "policy": {"rules": [{"reminders": ["10d", "1d"]}]},
        "profiles": {"facebook": {"long_token_lifetime": "20d"}},
        "connections": {
            "fb": {"provider": "facebook", "sync_every": "6h"},
            "li": {"provider": "linkedin", "kind": "monitored", "connect_at": "1d"},
        },
        "timeline": [
            {"at": "5d", "event": "password_change", "connection": "fb"},
            {"at": "6d", "event": "reconnect", "connection": "fb", "by": "user2"},
            {"at": "7d", "event": "outage", "connection": "li", "for": "6h"},
        ],
        "expect": [
            {"at": "5d 6h", "connection": "fb", "state": "invalid", "reason": "password_changed"},
            {"email": "invalid", "about": "fb", "to": "all", "within": "5d..6d"},
            {"data_gap": "fb", "from": "5d", "to": "6d"},
        ],
    },
    "policy": {
        "name": "fuzz",
        "send_at": "09:00",
        "invalid": {"channels": ["email", "banner"], "opt_out_silences": False},
        "banner_advance": "3d",
        "rules": [
            {"providers": ["facebook"], "kinds": ["monitored"], "reminders": ["10d"]},
            {"reminders": ["10d", "5d", "1d", "0d"], "channels": ["email", "settings"]},
        ],
    },
    "population": {
        "companies": 3,
        "days": 30,
        "start": "2026-01-05T00:00:00Z",
        "seed": 1,
        "users": [1, 3],
        "connections": [1, 2],
        "sync_every": "6h",
        "opt_out": 0.1,
        "providers": {"facebook": 4, "linkedin": 1},
        "kinds": {"owned": 8, "paid": 1},
        "disruptions": {"password_change": 0.4, "checkpoint": 0.05},
        "checkpoint_clears_after": "2d",
        "behaviour": {"invalid": {"reconnect": 0.7, "after": {"median": "12h", "spread": 0.8}}},
    },
    "serve config": {
        "seed": 7,
        "providers": ["facebook", "linkedin", "tiktok-2026"],
        "profiles": {"facebook": {"long_token_lifetime": "30d"}},
        "apps": [
            {
                "provider": "facebook",
                "client_id": "1234",
                "client_secret": "s3cret",
                "redirect_uris": ["http://localhost:3000/callback"],
                "name": "My App",
            },
            {"provider": "linkedin", "client_id": "li", "publishing_status": "testing"},
        ],
        "accounts": [
            {"provider": "facebook", "id": "100000000000001", "name": "Ada", "pages": 2},
            {"provider": "linkedin", "id": "lin-1", "type": "personal"},
        ],
    },
    "product": {
        "name": "fuzz",
        "base": "http://127.0.0.1:{port}/_test",
        "redirect_uri": "http://127.0.0.1:{port}/oauth/{protocol}/callback",
        "start": {
            "command": ["{python}", "-m", "acme"],
            "cwd": ".",
            "env": {"ACME_DB": "{data}/acme.db"},
            "ready": {"url": "http://127.0.0.1:{port}/health", "timeout": "30s"},
            "stop_timeout": "5s",
        },
        "providers": ["facebook", "linkedin"],
        "states": {"active": "connected", "needs_reconnect": "invalid"},
        "reasons": {"password_reset": "password_changed"},
        "banners": {"expiring": "disconnects on", "invalid": "^Acme lost access"},
        "emails": {
            "kind": {"subject": {"expires (today|tomorrow)": "expiry_reminder"}},
            "connection": {"header": "X-Acme-Connection"},
        },
        "step": "6h",
        "timeouts": {"clock": "30s", "request": "10s"},
        "tls": False,
    },
}

LOADERS: dict[str, Callable[[Path], object]] = {
    "scenario": load_file,
    "policy": load_policy,
    "population": load_population,
    "serve config": load_config,
    "product": load_product,
}
READERS = tuple(GOOD)

HOSTILE_SCALARS = [
    "", " ", "~", "null", "0", "-1", "-0", "0.0", "1e9", "1e308", "1e999", "-1e999", ".inf",
    "-.inf", ".nan", "0x7fffffffffffffff", "0x8000000000000000", "0o777", "0b101", "1_000",
    "190:20:30", "1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18:19:20:21:22:23:24:25:26",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59", "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z",
    "2199-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "2026-02-30T00:00:00Z",
    "2026-01-05T24:00:00Z", "2026-12-31T23:59:60Z", "2026-01-05", "2026-01-05T09:00:00",
    "10000-01-01T00:00:00Z", "2026-01-05T09:00:00.999999999Z", "2026-W02-1",
    "0s", "1s", "1d", "36500d", "36501d", "5000000w", "1e9d", "99999999999999999999999d",
    "1.5.5d", "-1d", "1d -1h", "20d 6h", "6h", "1m", "0.000001s", "5d..1d", "x..y", "..",
    "yes", "no", "on", "off", "true", "True", "y", "n", "=", "<<", "&a", "*a", "!", "%",
    "@", "`", "'", '"', "#", "|", ">", "- ", ": ", "? ", "{", "}", "[", "]", ",",
    "facebook", "linkdin", "user1", "user999999", "all", "fb", "never", "invalid",
    "password_change", "reconnect", "\u202e", "\ufeff", "\x85", "\u2028", "é" * 40,
    "a" * 300, "\U0001f600",
]  # fmt: skip

TAGS = [
    "!!python/object:os.system", "!!python/object/apply:os.system", "!!python/name:os.system",
    "!!python/tuple", "!!binary", "!!timestamp", "!!set", "!!omap", "!!pairs", "!!int",
    "!!float", "!!bool", "!!str", "!!null", "!!merge", "!!map", "!!seq", "!custom", "!",
    "!<tag:yaml.org,2002:int>", "!<!>", "!!value", "!!yaml",
]  # fmt: skip


def _keys(doc: Any, found: set[str] | None = None) -> set[str]:
    found = set() if found is None else found
    if isinstance(doc, dict):
        for k, v in doc.items():
            found.add(str(k))
            _keys(v, found)
    elif isinstance(doc, list):
        for v in doc:
            _keys(v, found)
    return found


KEYS = {reader: sorted(_keys(doc)) for reader, doc in GOOD.items()}


def _scalar(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(HOSTILE_SCALARS)
    if pick < 0.65:
        return rng.choice([None, True, False, 0, -1, 2**63, -(2**63), 1e308, float("inf")])
    if pick < 0.8:
        return rng.randint(-(10**30), 10**30)
    chars = "ab:-[]{},'\"#&*!|>%@` \n\t0123456789dhmswZT.\\\x00\x7f\u00e9\U0001f600"
    return "".join(rng.choice(chars) for _ in range(rng.randint(0, 20)))


def _value(rng: random.Random, reader: str, depth: int = 0) -> Any:
    if depth > 3 or rng.random() < 0.55:
        return _scalar(rng)
    if rng.random() < 0.5:
        return [_value(rng, reader, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        rng.choice([*KEYS[reader], "x", "<<"]): _value(rng, reader, depth + 1)
        for _ in range(rng.randint(0, 4))
    }


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*path, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, (*path, i)))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replace(copy[path[0]], path[1:], value)
    return copy


def _dump(rng: random.Random, doc: Any) -> str:
    try:
        return yaml.safe_dump(
            doc,
            allow_unicode=rng.random() < 0.7,
            default_flow_style=rng.choice([None, True, False]),
            sort_keys=False,
            width=rng.choice([80, 10**6]),
        )
    except (yaml.YAMLError, ValueError, OverflowError):  # an int past 4300 digits
        return yaml.safe_dump({"x": 1})


def _at_random_key(rng: random.Random, reader: str, hostile: str) -> str:
    """A good document with ``hostile`` (YAML text, one line or a block) as the value of
    one of its keys, or of a key of its own."""
    doc = dict(GOOD[reader])
    key = rng.choice([*doc, "description", "x"])
    doc.pop(key, None)
    body = _dump(rng, doc) if doc else ""
    if "\n" in hostile:
        indented = "".join(f"  {line}\n" for line in hostile.splitlines())
        return f"{body}{key}:\n{indented}"
    return f"{body}{key}: {hostile}\n"


# --- shapes ---------------------------------------------------------------------------


def mutate_value(rng: random.Random, reader: str) -> str:
    doc: Any = GOOD[reader]
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(doc))
        doc = _replace(doc, path, _value(rng, reader))
    return _dump(rng, doc)


def random_structure(rng: random.Random, reader: str) -> str:
    return _dump(rng, _value(rng, reader))


def alias_bomb(rng: random.Random, reader: str) -> str:
    levels, width = rng.randint(2, 12), rng.randint(2, 12)
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    merge = rng.random() < 0.3
    for n in range(1, levels):
        if merge:
            refs = ", ".join(f"*a{n - 1}" for _ in range(width))
            lines.append(f"a{n}: &a{n} {{<<: [{refs}], k{n}: [{refs}]}}")
        else:
            lines.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]")
    if rng.random() < 0.3:
        lines.append(f"a{levels}: *a{rng.randint(0, levels)}")  # sometimes undefined
    return _at_random_key(rng, reader, "\n".join(lines))


def deep(rng: random.Random, reader: str) -> str:
    depth = rng.choice([10, 48, 49, 50, 51, 60, 500, 999, 1001, 5000, 50_000])
    style = rng.choice(["list", "map", "block", "mixed"])
    if style == "list":
        text = "[" * depth + "]" * depth
    elif style == "map":
        text = "{a: " * depth + "1" + "}" * depth
    elif style == "mixed":
        text = "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2)
    else:
        depth = min(depth, 2000)  # the text grows as depth squared
        text = "\n".join(" " * i + "- " for i in range(0, depth * 2, 2)) + "x"
    return _at_random_key(rng, reader, text)


def huge_number(rng: random.Random, reader: str) -> str:
    digits = rng.choice([19, 20, 300, 309, 4300, 4301, 10_000, 100_000, 300_000])
    number = rng.choice(
        [
            "9" * digits,
            "-" + "9" * digits,
            "0x" + "f" * digits,
            "0o" + "7" * digits,
            "0b" + "1" * digits,
            "1" + "0" * digits + ".5",
            f"1e{digits}",
            f"-1e-{digits}",
            ":".join(["59"] * digits),  # base 60 (YAML 1.1): PyYAML sums it part by part
            "-" + ":".join(["1"] * digits),
            "1:" + "0_" * min(digits, 300_000) + "0",
            "1_" * min(digits, 50_000) + "1",
        ]
    )
    return _at_random_key(rng, reader, number)


def odd_date(rng: random.Random, reader: str) -> str:
    year = rng.choice(["0001", "0999", "1900", "1969", "1970", "1999", "2000", "2199",
                       "2200", "9998", "9999"])  # fmt: skip
    date = f"{year}-{rng.choice(['01-01', '02-29', '12-31', '13-01', '00-00'])}"
    time = rng.choice(["T00:00:00", "T23:59:59", "T24:00:00", " 12:00", "T12:00:00.1234567"])
    zone = rng.choice(["Z", "+00:00", "-23:59", "+23:59", "+24:00", "", "z", " UTC"])
    text = date + time + zone
    doc = dict(GOOD[reader])
    key = rng.choice([k for k in ("start", "until", "connect_at") if k in doc] or list(doc))
    if reader == "scenario" and rng.random() < 0.4:
        doc["timeline"] = [{"at": text, "event": "password_change", "connection": "fb"}]
    else:
        doc[key] = text
    if rng.random() < 0.5:
        return _dump(rng, doc).replace(f"'{text}'", text)  # unquoted: YAML may resolve it
    return _dump(rng, doc)


ODD_DURATIONS = [
    "0s", "0d", "1s", "-1d", "36500d", "36501d", "5215w", "5216w", "876000h", "876001h",
    "1e400d", "1e-400s", "0.0000001s", "nand", "infd", "99999999999999999999999999d",
    "9" * 5000 + "s", "1d" * 50_000, "1d " * 30_000 + "x", "P1Y", "1:00:00", "1d -1h",
    "20 d", "1.5.5d", ".5d", "5.d", "1D", "1 d 2 h", "\uff11d", "d", "", " ", "2026-01-05T09:00:00Z",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "5d..6d", "..", "1e9", "1e18", "-0",
]  # fmt: skip


def odd_duration(rng: random.Random, reader: str) -> str:
    """Every value of the good document that is a duration (or an instant) replaced by
    an odd one, quoted or not."""
    doc: Any = GOOD[reader]
    timed = [
        p for p in _paths(doc)
        if p and isinstance(_at(doc, p), str) and _TIMED.fullmatch(_at(doc, p))
    ]  # fmt: skip
    for path in rng.sample(timed, rng.randint(1, len(timed))) if timed else []:
        doc = _replace(doc, path, rng.choice(ODD_DURATIONS))
    text = _dump(rng, doc)
    return text.replace("'", "") if rng.random() < 0.3 else text


_TIMED = re.compile(r"[0-9][0-9.]*[wdhms]( [0-9]+[wdhms])*|\d{4}-\d\d-\d\dT.*|\d\d:\d\d")


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def junk(rng: random.Random, reader: str) -> bytes:
    good = _dump(rng, GOOD[reader]).encode()
    noise = rng.randbytes(rng.randint(1, 2000))
    pick = rng.random()
    if pick < 0.3:
        return noise
    specials = [b"\x00", b"\xff", b"\xfe\xff", b"\xef\xbb\xbf", b"\xed\xa0\x80", b"\x1b[2J",
                b"\r", b"\r\n", b"\t", b"\x85", b"\xc0\xaf", b"\xf4\x90\x80\x80"]  # fmt: skip
    out = bytearray(good)
    for _ in range(rng.randint(1, 10)):
        at = rng.randint(0, len(out))
        out[at:at] = rng.choice([*specials, noise[: rng.randint(1, 50)]])
    return bytes(out)


def tagged(rng: random.Random, reader: str) -> str:
    tag = rng.choice(TAGS)
    value = rng.choice(["x", "[ls, -l]", "{a: 1}", "aGVsbG8=", "'!!!'", "2026-99-99", "maybe",
                        "1", "", "[[1, 2], [3, 4]]", "{? a, ? b}"])  # fmt: skip
    if rng.random() < 0.5:
        return _at_random_key(rng, reader, f"{tag} {value}")
    text = _dump(rng, GOOD[reader])
    lines = text.splitlines()
    at = rng.randrange(len(lines))
    if ": " in lines[at]:
        key, _, rest = lines[at].partition(": ")
        lines[at] = f"{key}: {tag} {rest}"
    return "\n".join(lines) + "\n"


def merge_and_duplicates(rng: random.Random, reader: str) -> str:
    doc = GOOD[reader]
    key = rng.choice(list(doc))
    choices = [
        f"base: &b {{x: 1}}\n<<: *b\n{key}: 1\n{key}: 2\n",
        f"<<: [{{{key}: 1}}, {{{key}: 2}}]\n",
        "<<: 1\n",
        "<<: [1, *nope]\n",
        "<<: &r {<<: *r}\n",
        f"{key}: &m {{<<: *m}}\n",
        "? [a, b]\n: 1\n",
        "? {a: 1}\n: 2\n",
    ]
    extra = rng.choice(choices)
    return _dump(rng, {k: v for k, v in doc.items() if k != key}) + extra


def long_string(rng: random.Random, reader: str) -> str:
    size = rng.choice([1_000, 10_000, 100_000, 999_000, 1_000_001, 1_200_000])  # bytes
    char = rng.choice(["a", "é", "\U0001f600", " ", "\n", "'", "#"])
    text = char * (size // len(char.encode()))
    style = rng.choice(["plain", "quoted", "key"])
    if style == "key":
        return f"{text.strip() or 'a' * size}: 1\n"
    if style == "quoted":
        return _at_random_key(rng, reader, yaml.safe_dump(text, width=10**9).strip())
    return _at_random_key(rng, reader, "a" + text.replace("\n", " ").replace("#", "x"))


def many_items(rng: random.Random, reader: str) -> str:
    count = rng.choice([1_000, 10_001, 30_000, 60_000, 120_000])
    item = rng.choice(
        ["1", "{at: 1d, event: password_change, connection: fb}", "[]", "{data_gap: fb, total: 0s}"]
    )
    key = rng.choice(["timeline", "expect", "connections", "rules", "accounts", "apps", "x"])
    # Sometimes a syntax error at the very end, after every value was read.
    tail = rng.choice(["", "", "", "  x: [\n", "- : -\n", "\t\x00\n"])
    if key == "connections" and reader == "scenario":
        body = "".join(f"  c{i}: {{provider: facebook}}\n" for i in range(min(count, 2_000)))
        doc = {k: v for k, v in GOOD[reader].items() if k not in ("connections", "timeline")}
        doc.pop("expect", None)
        return _dump(rng, doc) + "connections:\n" + body + tail
    doc = {k: v for k, v in GOOD[reader].items() if k != key}
    if rng.random() < 0.3:  # aliases of one anchor: a short text of many values
        return _dump(rng, doc) + f"{key}:\n  - &i {item}\n" + "  - *i\n" * count + tail
    return _dump(rng, doc) + f"{key}:\n" + f"  - {item}\n" * count + tail


def edit_text(rng: random.Random, reader: str) -> str:
    text = list(_dump(rng, GOOD[reader]))
    for _ in range(rng.randint(1, 10)):
        at = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.4:
            text.insert(at, rng.choice(list(":-[]{},'\"#&*!|>%@` \n\t0123456789")))
        elif op < 0.7 and text:
            del text[min(at, len(text) - 1)]
        elif text:
            text[min(at, len(text) - 1)] = rng.choice(list(" \n:-&*!"))
    return "".join(text)


def several_documents(rng: random.Random, reader: str) -> str:
    parts = [_dump(rng, GOOD[reader]) for _ in range(rng.randint(0, 3))]
    head = rng.choice(["", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n", "%TAG ! tag:x,2000:\n---\n",
                       "%FOO bar\n---\n", "...\n", "---\n...\n---\n"])  # fmt: skip
    return head + "---\n".join(parts) + rng.choice(["", "...\n", "---\n", "--- |\n  text\n"])


SHAPES: dict[str, Callable[[random.Random, str], str | bytes]] = {
    "mutate_value": mutate_value,
    "random_structure": random_structure,
    "alias_bomb": alias_bomb,
    "deep": deep,
    "huge_number": huge_number,
    "odd_date": odd_date,
    "odd_duration": odd_duration,
    "junk": junk,
    "tagged": tagged,
    "merge_and_duplicates": merge_and_duplicates,
    "long_string": long_string,
    "many_items": many_items,
    "edit_text": edit_text,
    "several_documents": several_documents,
}
#: How often each shape is drawn: the expensive ones (long strings, long lists) rarely.
WEIGHTS = {"long_string": 0.3, "many_items": 0.2, "deep": 0.7, "alias_bomb": 0.7}


def document(rng: random.Random, reader: str | None = None) -> tuple[str, str, bytes]:
    """(reader, shape, file content) drawn from ``rng``."""
    reader = reader or rng.choice(READERS)
    names = list(SHAPES)
    shape = rng.choices(names, weights=[WEIGHTS.get(n, 1.0) for n in names])[0]
    content = SHAPES[shape](rng, reader)
    data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
    return reader, shape, data


def check(reader: str, path: Path) -> str | None:
    """Load ``path`` with ``reader``: ``None`` when it loads or is refused as it should
    be, else what went wrong (a traceback, a problem without file or line)."""
    try:
        LOADERS[reader](path)
    except ScenarioError as e:
        if not e.problems:
            return "an error without problems"
        for p in e.problems:
            if p.file != str(path):
                return f"a problem names another file: {p}"
            if p.line < 1 and not p.message.startswith(("not UTF-8", "cannot read")):
                return f"a problem without a line: {p}"
    except InputError as e:
        return f"an InputError that is not a list of file:line problems: {e}"
    except Exception:
        return traceback.format_exc()
    return None
