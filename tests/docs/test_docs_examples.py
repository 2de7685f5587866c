"""Every code example of the hand-written docs pages (docs/, not the generated reference)
runs here, as written: Python blocks are executed, YAML blocks are read by the reader
that takes them (scenarios are run), shell blocks are parsed by conntrack's own argument
parser (and `make`'s and pytest's targets and options checked), and the control API's
curl session is sent to a real `conntrack serve`.

A block is found by its marker, ``<!-- docs-test: NAME -->`` (the ``docs_block``
fixture), and :func:`test_every_example_is_marked_and_tested` fails on a ```python,
```yaml or ```sh block without one, or on a name no test here runs: a new example cannot
go untested. Output excerpts are ```text blocks and are not examples.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import yaml
from real_clients.conftest import REDIRECT_URI, control, new_account, new_app
from real_clients.test_guide import run_block
from serve.support import running

from conntrack import classify
from conntrack._cliparser import parser
from conntrack._policy import resolve_policy
from conntrack._serveconfig import load_config
from conntrack.population._model import load_population
from conntrack.product._file import load_product
from conntrack.scenario._loader import load_file
from conntrack.scenario._runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
Block = Callable[[str], str]

#: Every shell example, by name; each line is a command checked by :func:`check_command`.
SHELL = [
    "setup",
    "qa-first-steps",
    "run-commands",
    "validate",
    "add-scenario",
    "pytest-commands",
    "ci-commands",
    "product-commands",
    "serve-commands",
    "tls-serve",
    "notifications-commands",
    "deliver-commands",
    "population-commands",
    "cluster-commands",
    "workers",
]
#: Blocks that a test of their own runs (below), by name.
OWN = [
    "control-curl",
    "control-token",
    "scenario-example",
    "product-file",
    "serve-config",
    "policy-file",
    "fortnight",
    "population-model",
    "ci-workflow",
    "first-test",
    "survive",
    "outside-pytest",
    "time-machine",
    "travel",
    "classify",
    "tls-trust",
    "guide",
    "consent",
    "oauth1",
]
#: Programs an example may run that are not ours: only their presence is checked.
OTHERS = {"cp", "pip", "dask", "export", "curl", "openssl"}

FENCE = re.compile(r"(<!-- docs-test: ([\w-]+)[^>]*-->\n)?```(\w*)\n(.*?)\n```", re.DOTALL)


def guide_pages() -> list[Path]:
    """The hand-written pages: everything under docs/ but the generated reference and
    the build's own hooks."""
    return [
        page
        for page in sorted(DOCS.rglob("*.md"))
        if page.relative_to(DOCS).parts[0] not in ("reference", "_hooks")
    ]


def test_every_example_is_marked_and_tested() -> None:
    names: list[str] = []
    for page in guide_pages():
        for match in FENCE.finditer(page.read_text(encoding="utf-8")):
            _, name, lang, _ = match.groups()
            where = f"{page.relative_to(ROOT)}: block starting {match.group(0)[:60]!r}"
            assert lang, f"{where}: say its language (```text for output)"
            if lang in ("python", "yaml", "sh"):
                assert name, f"{where}: mark it <!-- docs-test: NAME --> and test it here"
                names.append(name)
            else:
                assert lang == "text", f"{where}: ```{lang}: use python, yaml, sh or text"
    assert len(names) == len(set(names)), f"a name used twice: {sorted(names)}"
    assert sorted(names) == sorted(SHELL + OWN), "a marked block without its test, or back"


# -- shell ------------------------------------------------------------------------------


def commands(code: str) -> Iterator[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped."""
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            yield words


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):", text, re.MULTILINE))


def pytest_help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return done.stdout


def check_command(words: list[str], pytest_options: Callable[[], str]) -> None:
    """One command of an example: conntrack's parsed by its real parser, with the
    library's files it names existing; `make` targets in the Makefile; pytest options
    known to pytest with conntrack's plugin."""
    program, args = words[0], words[1:]
    if program == "conntrack":
        try:
            parser().parse_args(args)
        except SystemExit as stop:  # argparse's way to refuse
            raise AssertionError(f"conntrack refuses {shlex.join(words)!r}") from stop
        for arg in args:
            if arg.startswith(("scenarios/", "examples/", "bench/")):
                assert (ROOT / arg).exists(), f"{shlex.join(words)!r}: no {arg} here"
    elif program == "make":
        assert set(args) <= make_targets(), f"{args}: not all targets of the Makefile"
    elif program == "pytest":
        for arg in args:
            if arg.startswith("-"):
                assert arg in pytest_options(), f"pytest does not know {arg}"
            elif arg.startswith(("scenarios/", "examples/")):
                assert (ROOT / arg).exists(), f"{shlex.join(words)!r}: no {arg} here"
    else:
        assert program in OTHERS, f"{shlex.join(words)!r}: a program the docs do not use"


@pytest.mark.parametrize("name", SHELL)
def test_shell_examples_parse(name: str, docs_block: Block) -> None:
    found: list[str] = []

    def options() -> str:
        if not found:
            found.append(pytest_help())
        return found[0]

    checked = 0
    for words in commands(docs_block(name)):
        check_command(words, options)
        checked += 1
    assert checked, f"{name}: no command in the block"


def curl(words: list[str], base: str, env: dict[str, str]) -> httpx.Response:
    """Send what a curl command of the docs sends (``-s``, ``-X``, ``-H``, ``-d``), with
    localhost:8400 and $VARIABLES replaced."""
    method, headers, data, url = "GET", {}, None, ""
    args = iter(words[1:])
    for arg in args:
        if arg == "-s":
            continue
        if arg.startswith("-X"):
            method = arg[2:] or next(args)
        elif arg == "-H":
            name, value = next(args).split(":", 1)
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data, method = next(args), "POST" if method == "GET" else method
        else:
            url = arg
    for key, value in env.items():
        headers = {k: v.replace(f"${key}", value) for k, v in headers.items()}
    url = re.sub(r"^(https?://)?[\w.]+:8400", base, url)
    return httpx.request(method, url, headers=headers, content=data, timeout=10)


def test_the_control_api_curl_session_runs_against_conntrack_serve(docs_block: Block) -> None:
    with running() as server:
        for words in commands(docs_block("control-curl")):
            assert words[0] == "curl"
            answer = curl(words, server.url, {})
            assert answer.status_code < 300, (words, answer.text)


def test_the_control_token_example(docs_block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server reads the token from the environment and admits the host named; the
    curl line gets the state with it, and nothing without it."""
    export, serve, get = list(commands(docs_block("control-token")))
    assert export[:2] == ["export", "CONNTRACK_CONTROL_TOKEN=$(openssl"]
    check_command(serve, str)
    token = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("CONNTRACK_CONTROL_TOKEN", token)
    allow = serve[serve.index("--allow-host") + 1]
    with running("--allow-host", allow) as server:  # on 127.0.0.1 rather than 0.0.0.0
        port = server.url.rsplit(":", 1)[1]
        answer = curl(get, server.url, {"CONNTRACK_CONTROL_TOKEN": token})
        assert answer.status_code == 200 and "apps" in answer.json(), answer.text
        url = f"{server.url}/_conntrack/state"
        host = {"Host": f"{allow}:{port}"}
        assert httpx.get(url, headers=host, timeout=10).status_code == 401
        bearer = {**host, "Authorization": f"Bearer {token}"}
        assert httpx.get(url, headers=bearer, timeout=10).status_code == 200


# -- YAML -------------------------------------------------------------------------------


def written(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_scenario_example_passes(docs_block: Block, tmp_path: Path) -> None:
    (scenario,) = load_file(written(tmp_path, "example.yaml", docs_block("scenario-example")))
    result = run_scenario(scenario, run_id="docs")
    assert result.error is None and result.passed, result.outcomes


def test_the_product_file_loads(docs_block: Block, tmp_path: Path) -> None:
    product = load_product(written(tmp_path, "product.yaml", docs_block("product-file")))
    assert product.name == "acme" and product.providers == ("facebook", "linkedin", "twitter")
    assert product.state_of("needs_reconnect") == "invalid"


def test_the_serve_config_loads(docs_block: Block, tmp_path: Path) -> None:
    config = load_config(written(tmp_path, "conntrack.yaml", docs_block("serve-config")))
    assert config.seed == 7 and len(config.apps) == 2 and len(config.accounts) == 2


def test_the_policy_files_load(docs_block: Block, tmp_path: Path) -> None:
    quieter = resolve_policy(str(written(tmp_path, "quieter.yaml", docs_block("policy-file"))))
    assert quieter.name == "quieter" and quieter.expiring_window == timedelta(days=14)
    assert quieter.for_("facebook", "monitored").reminders == (timedelta(days=10),)
    fortnight = resolve_policy(str(written(tmp_path, "fortnight.yaml", docs_block("fortnight"))))
    assert fortnight.name == "fortnight"


def test_the_compare_example_runs(docs_block: Block, tmp_path: Path) -> None:
    """The page's `--compare fortnight.yaml` output comes from this policy file."""
    policy = written(tmp_path, "fortnight.yaml", docs_block("fortnight"))
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "conntrack"),
            "notifications",
            str(ROOT / "scenarios/facebook_opt_out_and_in.yaml"),
            "--compare",
            str(policy),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stderr
    page = (DOCS / "product/notifications.md").read_text(encoding="utf-8")
    for line in done.stdout.splitlines()[2:6]:  # the first rows of the differences
        assert line.rstrip() in page, line


def test_the_population_model_loads(docs_block: Block, tmp_path: Path) -> None:
    spec = load_population(written(tmp_path, "base.yaml", docs_block("population-model")))
    assert spec is not None


def test_the_ci_workflow_runs_conntrack_as_documented(docs_block: Block) -> None:
    workflow = yaml.safe_load(docs_block("ci-workflow"))
    steps = [step["run"] for step in workflow["jobs"]["scenarios"]["steps"] if "run" in step]
    ours = [shlex.split(step) for step in steps if step.startswith("conntrack ")]
    assert ours, steps
    for words in ours:
        check_command(words, str)


# -- Python -----------------------------------------------------------------------------


def test_the_first_examples_pass_in_a_project_of_their_own(
    pytester: pytest.Pytester, docs_block: Block
) -> None:
    pytester.makepyfile(
        test_integration=docs_block("first-test") + "\n\n" + docs_block("survive"),
        test_time="def test_travel(conntrack_fakes):\n"
        + "".join(f"    {line}\n" for line in docs_block("travel").splitlines())
        + "\n\ndef test_time_machine(conntrack_fakes):\n"
        + "".join(f"    {line}\n" for line in docs_block("time-machine").splitlines()),
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=4)


def test_the_outside_pytest_block_runs_as_written(docs_block: Block) -> None:
    exec(docs_block("outside-pytest"), {})  # its own asserts say what it expects


def test_the_classify_block_says_what_its_comments_say(docs_block: Block) -> None:
    code = docs_block("classify")
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    linkedin = next(line for line in code.splitlines() if line.startswith('classify("linkedin"'))
    verdicts = [namespace["v"].action, namespace["v"].reason, eval(linkedin, namespace)]
    said = re.findall(r"(Action|Reason)\.([A-Z_]+)", code)
    assert [(type(v).__name__, v.name) for v in verdicts] == said
    assert classify is namespace["classify"]


@pytest.fixture(scope="module")
def serve_url() -> Iterator[str]:
    with running("--seed", "1") as server:
        yield server.url


@pytest.fixture
def oauth_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """oauthlib refuses http:// unless told it is a local test: this is one."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def test_the_oauth_client_guide_runs_as_written(
    serve_url: str, docs_block: Block, oauth_on_loopback: None
) -> None:
    app = control(serve_url, "POST", "apps", provider="facebook", redirect_uris=[REDIRECT_URI])
    control(serve_url, "POST", "accounts", provider="facebook", id="ada", name="Ada Admin")
    consent = run_block(docs_block("consent"))["consent"]
    ns = run_block(
        docs_block("guide"),
        serve_url,
        APP_ID=app["client_id"],
        APP_SECRET=app["client_secret"],
        consent=consent,
    )
    assert ns["long"]["expires_in"] == 5183944  # as the block's comment says
    me = httpx.get(
        f"{serve_url}/graph.facebook.com/v21.0/me",
        params={"access_token": ns["long"]["access_token"]},
    )
    assert me.json() == {"id": "ada", "name": "Ada Admin"}


def test_the_oauth1_block_runs_as_written(
    serve_url: str, docs_block: Block, oauth_on_loopback: None
) -> None:
    consent = run_block(docs_block("consent"))["consent"]
    app = new_app(serve_url, "twitter")
    account = new_account(serve_url, "twitter")
    ns = run_block(docs_block("oauth1"), serve_url, app=app, account=account, consent=consent)
    assert ns["tokens"]["user_id"] == account["id"]
    assert str(ns["me"]["id"]) == account["id"]


def test_the_tls_block_trusts_the_ca(tmp_path: Path, docs_block: Block) -> None:
    ca = tmp_path / "conntrack-ca.pem"
    with running("--tls", "--ca-file", str(ca)) as fakes:
        code = docs_block("tls-trust").replace("https://127.0.0.1:8400", fakes.url)
        ns = run_block(code.replace('"conntrack-ca.pem"', repr(str(ca))))
        prepared = requests.Request("GET", f"{fakes.url}/_conntrack/health").prepare()
        with ns["session"] as session:  # what Session.send reads: session.verify alone
            assert session.send(prepared).status_code == 200
