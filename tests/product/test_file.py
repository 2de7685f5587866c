"""The product file: what a good one loads to, what a bad one says (``file:line:``, did
you mean), and how a product's connection JSON becomes conntrack's words."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conntrack import REASONS, STATES, InputError, providers
from conntrack._limits import MAX_FILE_BYTES
from conntrack.product._file import (
    PLACEHOLDERS,
    EmailRules,
    ProductFile,
    ProductFileError,
    load_product,
)
from conntrack.product._interface import ProductError

MINIMAL = """\
base: http://127.0.0.1:{port}/_conntrack_test
redirect_uri: http://127.0.0.1:{port}/oauth/{protocol}/callback
start: {command: [python, -m, acme]}
"""

FULL = """\
name: acme
base: http://127.0.0.1:{port}/_conntrack_test/
redirect_uri: http://127.0.0.1:{port}/oauth/{protocol}/callback
start:
  command: "python -m acme --port {port} --db '{data}/a b.db' --json '{{\\"x\\": 1}}'"
  cwd: app
  env: {ACME_DB: "{data}/acme.db", ACME_FAKES: "{fakes}", ACME_SMTP: "{smtp_port}", ACME_DEBUG: true, ACME_N: 3}
  ready: {url: "http://127.0.0.1:{port}/health", timeout: 45s}
  stop_timeout: 2s
providers: [facebook, linkedin, twitter]
states: {active: connected, expiring_soon: expiring, needs_reconnect: invalid}
reasons: {pw: password_changed, gone: access_revoked}
banners: {expiring: "expires in", invalid: "(?i)reconnect"}
emails:
  kind: {header: X-Acme-Kind, map: {reminder: expiry_reminder}}
  connection: {subject: "for (?P<connection>[\\\\w-]+)"}
step: 6h
timeouts: {clock: 1m, request: 5s}
tls: true
"""


def write(tmp_path: Path, text: str, name: str = "product.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ProductFileError) as info:
        load_product(write(tmp_path, text))
    return [str(p) for p in info.value.problems]


def minimal(tmp_path: Path, extra: str = "") -> ProductFile:
    return load_product(write(tmp_path, MINIMAL + extra))


# -- a good file --------------------------------------------------------------------


def test_a_full_file_loads_and_fills_its_templates(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    p = load_product(write(tmp_path, FULL))
    values = {"port": 8123, "data": "/d", "fakes": "http://127.0.0.1:9", "smtp_port": 2525}
    assert p.name == "acme"
    assert p.base_url(port=8123) == "http://127.0.0.1:8123/_conntrack_test"
    assert p.redirect_uri_for("linkedin", port=8123) == (
        "http://127.0.0.1:8123/oauth/linkedin/callback"
    )
    assert p.command(**values) == [
        "python", "-m", "acme", "--port", "8123", "--db", "/d/a b.db", "--json", '{"x": 1}',
    ]  # fmt: skip
    assert p.start.cwd == (tmp_path / "app").resolve()
    assert p.env(**values) == {
        "ACME_DB": "/d/acme.db",
        "ACME_FAKES": "http://127.0.0.1:9",
        "ACME_SMTP": "2525",
        "ACME_DEBUG": "true",
        "ACME_N": "3",
    }
    assert p.ready_url(**values) == "http://127.0.0.1:8123/health"
    assert p.start.ready_timeout == timedelta(seconds=45)
    assert p.start.stop_timeout == timedelta(seconds=2)
    assert p.providers == ("facebook", "linkedin", "twitter")
    assert p.step == timedelta(hours=6)
    assert (p.clock_timeout, p.request_timeout) == (timedelta(minutes=1), timedelta(seconds=5))
    assert p.tls is True
    assert p.emails.classify({"X-Acme-Kind": "reminder"}, "Your link for fb-1", "") == (
        "expiry_reminder",
        "fb-1",
    )


def test_a_minimal_file_takes_the_defaults(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    p = load_product(write(folder, MINIMAL))
    assert p.name == "shop"  # the folder's name
    assert p.start.cwd == folder.resolve()
    assert p.start.env == {}
    assert p.ready_url(port=7) == "http://127.0.0.1:7/_conntrack_test/connections"
    assert p.start.ready_timeout == timedelta(seconds=30)
    assert p.start.stop_timeout == timedelta(seconds=5)
    assert p.providers == tuple(providers())
    assert dict(p.states) == {} and dict(p.reasons) == {}
    assert p.banners is True
    assert p.emails == EmailRules()
    assert p.emails.classify(
        {"x-conntrack-kind": "invalid", "X-Conntrack-Connection": "fb"}, "", ""
    ) == ("invalid", "fb")
    assert p.step is None
    assert (p.clock_timeout, p.request_timeout) == (timedelta(seconds=30), timedelta(seconds=10))
    assert p.tls is False


def test_a_command_string_is_split_like_a_shell(tmp_path: Path) -> None:
    p = load_product(
        write(tmp_path, MINIMAL.replace("[python, -m, acme]", "\"node 'my app.js' {port}\""))
    )
    assert p.command(port=1, data="d", fakes="f", smtp_port=2) == ["node", "my app.js", "1"]


def test_unsupported_names_the_provider_and_the_list(tmp_path: Path) -> None:
    p = minimal(tmp_path, "providers: [facebook, linkedin, facebook]\n")
    assert p.providers == ("facebook", "linkedin")
    assert p.unsupported("facebook") is None
    why = p.unsupported("tiktok")
    assert why is not None and "tiktok" in why and "facebook, linkedin" in why


def test_expand_fills_only_what_it_is_given() -> None:
    assert ProductFile.expand("{{x}} {port}", port=3) == "{x} 3"
    with pytest.raises(ValueError, match=r"\{data\}"):
        ProductFile.expand("{data}/db", port=3)


# -- a bad file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "line", "says"),
    [
        ("nmae: x\n", 4, "unknown key 'nmae' in a product file — did you mean 'name'?"),
        ("providers: [facebok]\n", 4, "unknown provider 'facebok' — did you mean 'facebook'?"),
        ("providers: facebook\n", 0, None),  # one name is a list of one
        ("providers: []\n", 4, "'providers' must be a list of provider names"),
        ("states: {on: conected}\n", 4, "did you mean 'connected'?"),
        ("states: [a]\n", 4, "'states' must map the product's words to conntrack's states"),
        ("reasons: {pw: pasword_changed}\n", 4, "did you mean 'password_changed'?"),
        (
            "banners: {expird: x}\n",
            4,
            "unknown key 'expird' in 'banners' — did you mean 'expired'?",
        ),
        ("banners: {expiring: '('}\n", 4, "'expiring': not a regular expression"),
        ("banners: maybe\n", 4, "'banners' must be true, false, or a mapping"),
        ("emails: {knd: {header: X}}\n", 4, "did you mean 'kind'?"),
        (
            "emails:\n  kind: {header: X, subject: {a: invalid}}\n",
            5,
            "reads one of header, subject, body",
        ),
        (
            "emails:\n  kind: {subject: {a: invalid}, map: {a: invalid}}\n",
            5,
            "'map' goes with 'header' only",
        ),
        (
            "emails:\n  kind: {header: X, map: {a: reminder}}\n",
            5,
            "'reminder' is not an email kind — did you mean 'expiry_reminder'?",
        ),
        (
            "emails:\n  kind:\n    subject:\n      'x[': invalid\n",
            7,
            "'x[': not a regular expression",
        ),
        ("emails:\n  connection: {body: 'for (\\w+)'}\n", 5, "needs a group named 'connection'"),
        ("emails:\n  connection: {header: ''}\n", 5, "'header' must be a header name"),
        ("step: 6 hours\n", 4, "'step': expected a duration like '20d 6h'"),
        ("step: 0s\n", 4, "'step' must be longer than 0s"),
        ("timeouts: {clock: 30s, requst: 1s}\n", 4, "did you mean 'request'?"),
        ("timeouts: {clock: -5}\n", 4, "'clock': a duration cannot be negative"),
        ("tls: maybe\n", 4, "'tls' must be true or false"),
    ],
)
def test_each_problem_names_its_line(
    tmp_path: Path, extra: str, line: int, says: str | None
) -> None:
    path = write(tmp_path, MINIMAL + extra)
    if says is None:
        load_product(path)
        return
    with pytest.raises(ProductFileError) as info:
        load_product(path)
    assert any(str(p) == f"{path}:{line}: {p.message}" and says in p.message
               for p in info.value.problems), info.value  # fmt: skip


@pytest.mark.parametrize(
    ("start", "line", "says"),
    [
        ("start: {comand: x}", 3, "did you mean 'command'?"),
        ("start: {comand: x}", 3, "'start' needs 'command'"),
        ("start: {command: []}", 3, "'command' must be a list like [python, -m, acme]"),
        ("start: {command: 'a \"b'}", 3, "cannot be split like a shell would"),
        ("start: {command: [a, {b: 1}]}", 3, "'command[1]' must be text; got a mapping"),
        ("start: {command: [a, '{prot}']}", 3, "unknown placeholder {prot}"),
        ("start: {command: [a, '{protocol}']}", 3, "unknown placeholder {protocol}"),
        ("start: {command: ['{pyhton}']}", 3, "did you mean 'python'?"),
        ("start: {command: [a, '{port!r}']}", 3, "takes no format"),
        ("start: {command: [a, '{port']}", 3, "write a brace as '{{' or '}}'"),
        ("start: {command: a, cwd: nowhere}", 3, "'cwd' is not a folder"),
        ("start: {command: a, env: {1X: a}}", 3, "'1X' is not a variable name"),
        (
            "start: {command: a, env: {CONNTRACK_PORT: a}}",
            3,
            "the CONNTRACK_ variables are the harness's",
        ),
        ("start: {command: a, env: {A: '{dat}'}}", 3, "did you mean 'data'?"),
        ("start: {command: a, env: {A: [1]}}", 3, "'A' must be text; got a list"),
        ("start: {command: a, env: [A]}", 3, "'env' must map variable names to values"),
        ("start: {command: a, ready: {url: 'ftp://x'}}", 3, "'url' must be an http(s) URL"),
        ("start: {command: a, ready: {timeout: forever}}", 3, "'timeout': expected a duration"),
        ("start: {command: a, ready: {wait: 1s}}", 3, "unknown key 'wait' in 'ready'"),
        ("start: {command: a, stop_timeout: 0}", 3, "'stop_timeout' must be longer than 0s"),
        ("start: [python]", 3, "'start' must be a mapping of command, cwd"),
    ],
)
def test_start_problems(tmp_path: Path, start: str, line: int, says: str) -> None:
    text = MINIMAL.replace("start: {command: [python, -m, acme]}", start)
    found = problems(tmp_path, text)
    assert any(p.startswith(f"{tmp_path / 'product.yaml'}:{line}: ") and says in p
               for p in found), found  # fmt: skip


def test_required_keys_are_named(tmp_path: Path) -> None:
    found = problems(tmp_path, "name: x\n")
    assert any("needs 'base'" in p for p in found)
    assert any("needs 'redirect_uri'" in p for p in found)
    assert any("needs 'start'" in p for p in found)


def test_urls_and_their_placeholders(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        MINIMAL.replace("/_conntrack_test", "/{protocol}").replace("{protocol}/callback", "{prot}"),
    )
    assert any(":1: 'base' uses an unknown placeholder {protocol}" in p for p in found), found
    assert any(":2: 'redirect_uri' uses an unknown placeholder {prot};" in p
               and "did you mean" in p for p in found), found  # fmt: skip
    found = problems(tmp_path, MINIMAL.replace("http://127.0.0.1:{port}/_conntrack_test", "x"))
    assert any(":1: 'base' must be an http(s) URL" in p for p in found), found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "providers: [facebok]\nstates: {a: b}\nstep: x\ntls: 1\n")
    assert [p.split(": ", 1)[0].rsplit(":", 1)[1] for p in found] == ["4", "5", "6", "7"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "the product file is empty"),
        ("- a\n", "a product file must be a mapping"),
        ("base: [\n", "YAML syntax error"),
        ("base: a\nbase: b\n", "duplicate key 'base'"),
        ("---\nbase: a\n---\nbase: b\n", "a product file holds one YAML document"),
    ],
)
def test_files_that_are_not_product_files(tmp_path: Path, text: str, says: str) -> None:
    found = problems(tmp_path, text)
    assert any(says in p for p in found), found


def test_a_missing_or_huge_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the product file"):
        load_product(tmp_path / "missing.yaml")
    huge = tmp_path / "huge.yaml"
    huge.write_text("# " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ProductFileError, match="a YAML file may hold no more than"):
        load_product(huge)


# -- the product's words ------------------------------------------------------------


@pytest.fixture
def product(tmp_path: Path) -> ProductFile:
    return minimal(
        tmp_path,
        "states: {active: connected, needs_reconnect: invalid, gone: disconnected}\n"
        "reasons: {pw: password_changed}\n"
        "banners: {expiring: 'expires in', invalid: '(?i)reconnect', expired: 'expired'}\n",
    )


def test_view_maps_words_and_reads_instants(product: ProductFile) -> None:
    obj = {
        "name": "fb",
        "state": "needs_reconnect",
        "reason": "pw",
        "banner": "Please RECONNECT fb",
        "settings": "Reconnect to resume syncing",
        "last_synced_at": "2026-03-01T09:00:00Z",
        "state_since": "2026-03-01T10:00:00+01:00",
        "extra": [1],
    }
    view = product.view(obj)
    assert (view.name, view.state, view.reason, view.shows) == (
        "fb", "invalid", "password_changed", "invalid"
    )  # fmt: skip
    assert view.banner == "Please RECONNECT fb"
    assert view.settings == "Reconnect to resume syncing"
    assert view.last_synced_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert view.state_since == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert view.raw == obj


@pytest.mark.parametrize("state", STATES)
def test_conntrack_words_need_no_mapping(product: ProductFile, state: str) -> None:
    view = product.view({"name": "x", "state": state, "reason": REASONS[0]})
    assert view.state == state and view.reason == REASONS[0]
    assert (view.banner, view.settings, view.shows) == ("", "", "none")
    assert view.last_synced_at is None and view.state_since is None


def test_banner_rules(tmp_path: Path, product: ProductFile) -> None:
    def shows(p: ProductFile, state: str, banner: str | None) -> str:
        return p.view({"name": "x", "state": state, "banner": banner}).shows

    assert shows(product, "active", "Your token expires in 3 days") == "expiring"
    assert shows(product, "active", "Nothing to see") == "none"
    assert shows(product, "expired", "") == "none"
    by_state = minimal(tmp_path)
    assert shows(by_state, "expiring", "anything") == "expiring"
    assert shows(by_state, "invalid", "anything") == "invalid"
    assert shows(by_state, "connected", "anything") == "none"
    assert shows(by_state, "expired", None) == "none"
    none = minimal(tmp_path, "banners: false\n")
    view = none.view({"name": "x", "state": "invalid", "banner": 42})  # ignored: no banners
    assert (view.banner, view.shows) == ("", "none")


def test_an_unmapped_reason_matters_only_when_invalid(product: ProductFile) -> None:
    assert product.view({"name": "x", "state": "expired", "reason": "token_expired"}).reason is None
    with pytest.raises(ProductError) as info:
        product.view({"name": "x", "state": "needs_reconnect", "reason": "pwd"})
    assert "add it to 'reasons:'" in str(info.value) and "did you mean 'pw'?" in str(info.value)
    assert '"reason": "pwd"' in info.value.answer


@pytest.mark.parametrize(
    ("obj", "says"),
    [
        ([1], "a connection must be a JSON object"),
        ({"state": "active"}, "needs its 'name'"),
        ({"name": "", "state": "active"}, "needs its 'name'"),
        ({"name": "x"}, "connection 'x' needs its 'state'"),
        ({"name": "x", "state": 3}, "connection 'x' needs its 'state'"),
        ({"name": "x", "state": "activ"}, "add it to 'states:'"),
        ({"name": "x", "state": "active", "reason": 5}, "'reason' must be a string or null"),
        ({"name": "x", "state": "active", "banner": ["a"]}, "'banner' must be a string or null"),
        ({"name": "x", "state": "active", "settings": 1}, "'settings' must be a string or null"),
        ({"name": "x", "state": "active", "last_synced_at": "today"}, "'last_synced_at'"),
        ({"name": "x", "state": "active", "state_since": 5}, "'state_since' must be an ISO"),
        ({"name": "x", "state": "active", "state_since": "2026-03-01T09:00"}, "no time zone"),
    ],
)
def test_malformed_objects_are_product_errors_showing_the_object(
    product: ProductFile, obj: object, says: str
) -> None:
    with pytest.raises(ProductError) as info:
        product.view(obj)
    assert says in str(info.value)
    assert info.value.answer.startswith(("{", "["))
    assert "answer: " in str(info.value)


def test_views_of_a_whole_answer(product: ProductFile) -> None:
    got = product.views([{"name": "a", "state": "active"}, {"name": "b", "state": "gone"}])
    assert [(v.name, v.state) for v in got] == [("a", "connected"), ("b", "disconnected")]
    assert product.views([]) == []
    with pytest.raises(ProductError, match="must answer a JSON list"):
        product.views({"connections": []})
    with pytest.raises(ProductError, match="lists connection 'a' twice"):
        product.views([{"name": "a", "state": "active"}, {"name": "a", "state": "active"}])


def test_a_huge_object_is_shown_shortened(product: ProductFile) -> None:
    with pytest.raises(ProductError) as info:
        product.view({"name": "x", "state": "nope", "junk": "y" * 100_000})
    assert len(info.value.answer) < 3000 and "characters)" in info.value.answer


def test_placeholders_are_the_documented_ones() -> None:
    assert PLACEHOLDERS == ("port", "data", "fakes", "smtp_port", "protocol", "python")


def test_a_huge_value_is_quoted_short(tmp_path: Path) -> None:
    huge = "x" * 50_000
    found = problems(
        tmp_path,
        MINIMAL + f"states: {{a: {huge}}}\nproviders: [{huge}]\n"
        f"emails:\n  kind:\n    subject:\n      ? '{huge}('\n      : invalid\n",
    )
    assert len(found) == 3, found
    assert all(len(p) < 600 and "…" in p for p in found), found


# -- hostile files ------------------------------------------------------------------

GOOD_FILE = {
    "name": "acme",
    "base": "http://127.0.0.1:{port}/_conntrack_test",
    "redirect_uri": "http://127.0.0.1:{port}/oauth/{protocol}/callback",
    "start": {
        "command": ["python", "-m", "acme"],
        "env": {"ACME_DB": "{data}/acme.db"},
        "ready": {"url": "http://127.0.0.1:{port}/health", "timeout": "30s"},
        "stop_timeout": "5s",
    },
    "providers": ["facebook", "linkedin"],
    "states": {"active": "connected", "broken": "invalid"},
    "reasons": {"pw": "password_changed"},
    "banners": {"expiring": "expires", "invalid": "reconnect"},
    "emails": {
        "kind": {"subject": {"expires in": "expiry_reminder", "stopped": "invalid"}},
        "connection": {"header": "X-Acme-Connection"},
    },
    "step": "6h",
    "timeouts": {"clock": "30s", "request": "10s"},
    "tls": False,
}


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fuzz shapes every YAML reader must survive (tests/fuzz/hostile.py), with the
    product file as one more reader."""
    from fuzz import hostile as module

    monkeypatch.setitem(module.GOOD, "product file", GOOD_FILE)
    monkeypatch.setitem(module.LOADERS, "product file", load_product)
    monkeypatch.setitem(module.KEYS, "product file", sorted(module._keys(GOOD_FILE)))
    return module


def test_hostile_product_files_load_or_name_a_line(tmp_path: Path, hostile: Any) -> None:
    import random

    path = tmp_path / "product.yaml"
    for shape in hostile.SHAPES:  # every shape a few times, each seeded: reproducible
        for i in range(3):
            content = hostile.SHAPES[shape](random.Random(f"{shape}:{i}"), "product file")
            path.write_bytes(
                content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
            )
            found = hostile.check("product file", path)
            assert found is None, f"{shape} {i}:\n{found}"
