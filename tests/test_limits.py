"""Hostile input files end in ``file:line: message``, fast and small (issue 11, 1-2).

Every YAML reader — scenarios, policies, population models, server configs — goes
through one line-keeping reader (``scenario._marks``), which bounds the file's size, its
nesting and its expanded size (an alias counts all that its anchor holds). The readers
then bound what their values mean: the years a run may start in, how far an instant may
lie after start, how many events and syncs a run may hold.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conntrack import _limits
from conntrack._durations import parse_instant
from conntrack._exceptions import MAX_PROBLEMS, DurationError, ScenarioError
from conntrack._policy import load_policy
from conntrack._serveconfig import load_config
from conntrack.cli import main
from conntrack.population import load_population
from conntrack.product._file import load_product
from conntrack.scenario import _marks, load_file

SCENARIO = (
    "scenario: x\nstart: 2026-01-05T09:00:00Z\nuntil: 30d\n"
    "connections: {fb: {provider: facebook}}\n"
)


def bomb(levels: int = 9, key: str = "description") -> str:
    """Billion laughs: nine levels of nine aliases each, 9**9 strings once expanded."""
    lines = [f"x0: &x0 [{', '.join(['lol'] * 9)}]"]
    for n in range(1, levels):
        lines.append(f"x{n}: &x{n} [{', '.join([f'*x{n - 1}'] * 9)}]")
    # The anchors live under the reader's free-form key, where they are legal YAML.
    body = "\n".join("  " + line for line in lines)
    return f"{key}:\n{body}\n"


#: Each reader, and a valid document to which hostile content is added.
READERS: dict[str, tuple[Callable[[Path], object], str]] = {
    "scenario": (load_file, SCENARIO),
    "policy": (load_policy, "name: p\nrules: [{reminders: [10d]}]\n"),
    "population": (load_population, "companies: 2\ndays: 30\n"),
    "serve config": (load_config, "seed: 1\n"),
    "product": (
        load_product,
        "base: http://127.0.0.1:{port}/t\nredirect_uri: http://127.0.0.1:{port}/{protocol}\n"
        "start: {command: [acme]}\n",
    ),
}


@pytest.fixture(params=["fast", "pure"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "pure":
        monkeypatch.setattr(_marks, "_FastLoader", _marks._Loader)
    return str(request.param)


def problems_of(load: Callable[[Path], object], path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(path)
    rendered = [str(p) for p in info.value.problems]
    for line in rendered:
        assert line.startswith(f"{path}:"), line
        assert line.split(":")[1].isdigit() and int(line.split(":")[1]) >= 1, line
    return rendered


# --- the YAML layer: size, depth, expansion -------------------------------------------


@pytest.mark.parametrize("reader", READERS)
def test_an_alias_bomb_is_refused_by_every_reader(
    tmp_path: Path, reader: str, yaml_parser: str
) -> None:
    load, good = READERS[reader]
    path = tmp_path / "bomb.yaml"
    path.write_text(good + bomb())
    t0 = time.perf_counter()
    tracemalloc.start()
    try:
        found = problems_of(load, path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0
    assert peak < 100e6
    assert len(found) == 1, found
    assert f"more than {_limits.MAX_NODES} YAML values" in found[0]
    assert "alias" in found[0]


def test_a_merge_key_bomb_is_refused(tmp_path: Path, yaml_parser: str) -> None:
    lines = ["a0: &a0 {k: v, l: w}"]
    for n in range(1, 30):
        lines.append(f"a{n}: &a{n} {{<<: [*a{n - 1}], m{n}: *a{n - 1}, n{n}: *a{n - 1}}}")
    path = tmp_path / "merge.yaml"
    path.write_text(SCENARIO + "description:\n" + "".join(f"  {x}\n" for x in lines))
    [problem] = problems_of(load_file, path)
    assert f"more than {_limits.MAX_NODES} YAML values" in problem


def test_many_aliases_within_the_limit_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        "scenario: x\nstart: 2026-01-05T09:00:00Z\nuntil: 30d\n"
        "connections:\n  fb: &c {provider: facebook, sync_every: 6h}\n  fb2: *c\n  fb3: *c\n"
    )
    [scenario] = load_file(path)
    assert set(scenario.connections) == {"fb", "fb2", "fb3"}


@pytest.mark.parametrize("depth", [_limits.MAX_DEPTH + 1, 600, 100_000])
def test_deep_nesting_is_refused(tmp_path: Path, depth: int, yaml_parser: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(SCENARIO + "description: " + "[" * depth + "]" * depth + "\n")
    [problem] = problems_of(load_file, path)
    assert f"{path}:5:" in problem
    assert f"more than {_limits.MAX_DEPTH} deep" in problem


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("shape", ["list", "mapping"])
def test_nesting_up_to_the_limit_ends_in_problems_not_a_traceback(
    tmp_path: Path, reader: str, shape: str
) -> None:
    """Every reader, under every key, copes with the deepest document it accepts."""
    load, good = READERS[reader]
    depth = _limits.MAX_DEPTH - 1
    deep = "[" * depth + "]" * depth if shape == "list" else "{a: " * depth + "1" + "}" * depth
    for key in ("description", "profiles", "apps", "policy", "behaviour", "accounts", "zz"):
        path = tmp_path / f"{key}.yaml"
        path.write_text(good + f"{key}: {deep}\n")
        try:
            load(path)
        except ScenarioError as e:
            assert all(str(p).startswith(f"{path}:") for p in e.problems)


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    event = "  - {at: 1d, event: password_change, connection: fb}\n"
    with path.open("w") as f:
        f.write(SCENARIO + "timeline:\n")
        f.write(event * (50_000_000 // len(event)))  # 50 MB, ~960 000 events
    for load, _ in READERS.values():
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            [problem] = problems_of(load, path)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert time.perf_counter() - t0 < 1.0
        assert peak < 3 * _limits.MAX_FILE_BYTES + 1e6
        assert f"more than {_limits.MAX_FILE_BYTES} bytes" in problem
        assert "split" in problem


def test_a_timeline_over_the_event_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.yaml"
    event = "  - {at: 1d, event: password_change, connection: fb}\n"
    path.write_text(SCENARIO + "timeline:\n" + event * (_limits.MAX_EVENTS + 1))
    t0 = time.process_time()  # CPU time: a busy machine makes wall time say nothing
    [problem] = problems_of(load_file, path)
    assert time.process_time() - t0 < 2
    # The line of the first event past the limit: 6 lines of header and timeline key.
    assert problem.startswith(f"{path}:{6 + _limits.MAX_EVENTS}:"), problem
    assert f"{_limits.MAX_EVENTS + 1} events" in problem
    assert f"at most {_limits.MAX_EVENTS}" in problem


def test_an_expect_list_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "expect.yaml"
    item = "  - {data_gap: fb, total: 0s}\n"
    path.write_text(SCENARIO + "expect:\n" + item * (_limits.MAX_EVENTS + 1))
    [problem] = problems_of(load_file, path)
    assert f"{_limits.MAX_EVENTS + 1} expectations" in problem


@pytest.mark.parametrize(
    "number", ["9" * 5000, "0x" + "f" * 5000, "0b" + "1" * 20000, str(2**63), "-" + str(2**63)]
)
@pytest.mark.parametrize("key", ["until", "seed"])
def test_huge_numbers_are_refused(tmp_path: Path, number: str, key: str, yaml_parser: str) -> None:
    path = tmp_path / "n.yaml"
    text = SCENARIO.replace("until: 30d\n", "") + ("until: 30d\n" if key == "seed" else "")
    path.write_text(text + f"{key}: {number}\n")
    [problem] = problems_of(load_file, path)
    assert "whole numbers lie within" in problem
    assert len(problem) < 300


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(
    "number", [":".join(["1"] * 300_000), "-" + ":".join(["59"] * 200_000), "1" + "_0" * 400_000]
)
def test_huge_numbers_cost_no_time(
    tmp_path: Path, reader: str, number: str, yaml_parser: str
) -> None:
    """YAML 1.1 reads ``1:1:1`` as a base-60 whole number, which PyYAML adds up part by
    part: 300 000 parts took 23 CPU seconds before they were counted first."""
    load, good = READERS[reader]
    path = tmp_path / "n.yaml"
    path.write_text(good + f"zz: {number}\n")
    t0 = time.process_time()
    found = problems_of(load, path)
    assert time.process_time() - t0 < 1.0
    assert "whole numbers lie within" in found[0]


def test_the_largest_allowed_number_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text(SCENARIO + f"seed: {2**63 - 1}\n")
    [scenario] = load_file(path)
    assert scenario.seed == 2**63 - 1


def test_the_largest_base_60_number_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    # 15:..., eleven parts: 15 * 60**10 + ... is just under 2**63.
    parts = [15, 15, 13, 34, 32, 31, 55, 20, 15, 30, 7]
    assert sum(p * 60**i for i, p in enumerate(reversed(parts))) == 2**63 - 1
    path.write_text(SCENARIO + f"seed: {':'.join(map(str, parts))}\n")
    [scenario] = load_file(path)
    assert scenario.seed == 2**63 - 1
    path.write_text(SCENARIO + f"seed: 1:{':'.join(map(str, parts))}\n")
    [problem] = problems_of(load_file, path)
    assert "whole numbers lie within" in problem


def test_a_syntax_error_after_many_values_is_found_at_once(tmp_path: Path) -> None:
    """libyaml finds it fast; reading the whole file again with the pure-Python parser
    (for PyYAML's own words) took 2.8 CPU seconds for 700 KB."""
    path = tmp_path / "late.yaml"
    path.write_text(SCENARIO + "description:\n  - &a x\n" + "  - *a\n" * 99_000 + "  x: [\n")
    t0 = time.process_time()
    [problem] = problems_of(load_file, path)
    assert time.process_time() - t0 < 1.0
    assert problem.startswith(f"{path}:99007: YAML syntax error: "), problem


@pytest.mark.parametrize(
    "text",
    ['start: {command: [acme], cwd: "a\\0b"}', 'start: {command: ["a\\0b"]}',
     'start: {command: [acme], env: {A: "\\0"}}', 'start: {command: [acme]}\nname: "\\0"'],
)  # fmt: skip
def test_a_nul_in_a_product_file_is_a_problem(tmp_path: Path, text: str) -> None:
    """A NUL in 'cwd' ended in a ValueError traceback (found by ``make fuzz``)."""
    path = tmp_path / "product.yaml"
    path.write_text("base: http://127.0.0.1:{port}/t\nredirect_uri: http://x/{protocol}\n" + text)
    [problem] = problems_of(load_product, path)
    assert "holds a NUL character" in problem, problem


# --- what is not a file ----------------------------------------------------------------


def not_a_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to(os.devnull)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path.name)
    return path


NOT_A_FILE = {
    "fifo": "it is a FIFO (named pipe), not a file",
    "device": "it is a device, not a file",
    "zero": "it is a device, not a file",
    "folder": "it is a folder, not a file",
    "loop": "Too many levels of symbolic links",
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev")
@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("kind", NOT_A_FILE)
def test_what_is_not_a_file_is_refused_at_once(tmp_path: Path, reader: str, kind: str) -> None:
    """A FIFO with no writer blocked the reader for ever; /dev/zero was read for a MB."""
    load, _ = READERS[reader]
    path = not_a_file(tmp_path, kind)
    answer: list[object] = []

    def read() -> None:
        try:
            load(path)
        except ScenarioError as e:
            answer.extend(str(p) for p in e.problems)
        except Exception as e:  # reported below
            answer.append(e)

    t0 = time.perf_counter()
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # a blocked read of the FIFO: open its other end to end it
        with open(path, "wb"):
            pass
        thread.join(10)
        pytest.fail(f"reading a {kind} hung")
    assert time.perf_counter() - t0 < 1.0
    [problem] = answer
    assert isinstance(problem, str), problem
    assert problem.startswith(f"{path}: "), problem
    assert NOT_A_FILE[kind] in problem, problem


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev")
@pytest.mark.parametrize("kind", [k for k in NOT_A_FILE if k != "folder"])  # a folder of scenarios
def test_the_cli_names_what_is_not_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A symbolic link to itself was 'no such file or directory — check the spelling'."""
    path = not_a_file(tmp_path, kind)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"conntrack: {path}: ") and NOT_A_FILE[kind] in err, err


# --- meaning: start years, instants, events, syncs ------------------------------------


def scenario_with(**fields: str) -> str:
    base = {"scenario": "x", "start": "2026-01-05T09:00:00Z", "until": "30d"}
    base.update(fields)
    head = "".join(f"{k}: {v}\n" for k, v in base.items() if k != "sync_every")
    sync = fields.get("sync_every", "6h")
    return head + f"connections: {{fb: {{provider: facebook, sync_every: {sync}}}}}\n"


@pytest.mark.parametrize(
    "start", ["0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "2200-01-01T00:00:00Z",
              "9999-12-25T00:00:00Z"],
)  # fmt: skip
def test_a_start_outside_the_allowed_years_is_refused(tmp_path: Path, start: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(scenario_with(start=start))
    [problem] = problems_of(load_file, path)
    assert problem.startswith(f"{path}:2: 'start' must be between 2000 and 2199")


@pytest.mark.parametrize("start", ["2000-01-01T00:00:00Z", "2199-12-31T23:59:59Z"])
def test_the_first_and_last_allowed_starts_run(tmp_path: Path, start: str) -> None:
    """At either end of the range the run, its 100 years, a token lifetime of 100 years
    from its last day, a policy's reminders 100 years before expiry and the fakes all
    hold."""
    path = tmp_path / "s.yaml"
    path.write_text(
        scenario_with(start=start, until="36500d", sync_every="365d")
        + "profiles: {facebook: {long_token_lifetime: 36500d, data_access_lifetime: 36500d}}\n"
        + "policy: {banner_advance: 36500d, rules: [{reminders: [36500d, 10d, 0d]}]}\n"
        + "timeline: [{at: 36499d, event: reconnect, connection: fb}]\n"
    )
    assert main(["run", str(path)]) == 0


@pytest.mark.parametrize(
    "until",
    ["9999-12-31T23:59:59Z", "2126-01-06T09:00:00Z"],
)
def test_an_until_instant_is_capped_like_durations(tmp_path: Path, until: str) -> None:
    path = tmp_path / "u.yaml"
    path.write_text(scenario_with(until=until))
    [problem] = problems_of(load_file, path)
    assert problem.startswith(f"{path}:3: 'until' {until} is more than 100 years (36500d)")


@pytest.mark.parametrize(
    "text",
    ["9999-12-31T23:00:00-02:00", "0001-01-01T00:00:00+01:00"],
)
def test_an_instant_outside_the_calendar_in_utc_is_a_duration_error(text: str) -> None:
    with pytest.raises(DurationError, match="outside the calendar"):
        parse_instant(text)


def test_too_many_syncs_are_refused_with_the_interval_that_fits(tmp_path: Path) -> None:
    path = tmp_path / "sync.yaml"
    path.write_text(scenario_with(until="3650d", sync_every="1s"))
    [problem] = problems_of(load_file, path)
    assert problem.startswith(f"{path}:4: connection 'fb': 'sync_every' 1s over a run of 3650d")
    assert "315360000 syncs" in problem and f"at most {_limits.MAX_SYNCS}" in problem
    assert "sync every 52m 34s or less often" in problem


def test_syncs_at_the_limit_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "sync.yaml"
    path.write_text(scenario_with(until=f"{_limits.MAX_SYNCS}m", sync_every="1m"))
    [scenario] = load_file(path)
    assert scenario.until / scenario.connections["fb"].sync_every == _limits.MAX_SYNCS


def many_connections(count: int, until: str, sync_every: str) -> str:
    lines = [f"  c{i}: {{provider: facebook, sync_every: {sync_every}}}" for i in range(count)]
    head = f"scenario: x\nstart: 2026-01-05T09:00:00Z\nuntil: {until}\nconnections:\n"
    return head + "\n".join(lines) + "\n"


def test_too_many_connections_are_refused(tmp_path: Path) -> None:
    """Each connection is an OAuth flow and an actor: a thousand take ~20 s to replay."""
    path = tmp_path / "c.yaml"
    path.write_text(many_connections(_limits.MAX_CONNECTIONS + 1, "30d", "6h"))
    [problem] = problems_of(load_file, path)
    # The key of the first connection past the limit: 4 lines of header before c0.
    assert problem.startswith(f"{path}:{5 + _limits.MAX_CONNECTIONS}: "), problem
    assert f"{_limits.MAX_CONNECTIONS + 1} connections; at most" in problem
    path.write_text(many_connections(_limits.MAX_CONNECTIONS, "30d", "6h"))
    [scenario] = load_file(path)
    assert len(scenario.connections) == _limits.MAX_CONNECTIONS


def test_too_many_syncs_in_all_are_refused(tmp_path: Path) -> None:
    """Within the bound of each connection, the run as a whole is bounded too."""
    path = tmp_path / "c.yaml"
    # Connections each syncing 60 000 times (under the bound of one), one too many of them.
    n = _limits.MAX_RUN_SYNCS // 60_000 + 1
    path.write_text(many_connections(n, "60000h", "1h"))
    [problem] = problems_of(load_file, path)
    assert problem.startswith(f"{path}:4: the {n} connections make {n * 60_000} syncs in all")
    assert f"at most {_limits.MAX_RUN_SYNCS}" in problem
    # The interval at which they would fit, rounded up to the second.
    fits = -(-60_000 * 3600 * n // _limits.MAX_RUN_SYNCS)
    assert f"each sync every {_limits._seconds(fits)} or less often" in problem, problem
    path.write_text(many_connections(n - 1, "60000h", "1h"))
    [scenario] = load_file(path)
    assert len(scenario.connections) == n - 1


def test_the_library_and_test_data_are_inside_every_limit() -> None:
    root = Path(__file__).resolve().parent.parent
    for path in [*root.glob("scenarios/*.yaml"), *root.glob("tests/data/*.yaml")]:
        try:
            load_file(path)
        except ScenarioError as e:
            assert "at most" not in str(e) and "more than" not in str(e), str(e)


# --- the other readers' times -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("days: 100000000\n", 1, "'days' must be at most 36500 (100 years)"),
        ("start: 9999-12-01T00:00:00Z\n", 1, "'start' must be between 2000 and 2199"),
        ("start: 0001-01-01T00:00:00Z\n", 1, "'start' must be between 2000 and 2199"),
        ("start: 9999-12-31T23:00:00-02:00\n", 1, "'start': the instant"),
    ],
)
def test_population_times_are_bounded(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    [problem] = problems_of(load_population, path)
    assert problem.startswith(f"{path}:{line}: {words}"), problem


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--days", "1000000000"], "--days must be at most 36500 (100 years), got 1000000000"),
        (
            ["--days", "3650", "--transport", "asgi"],
            "'sync_every' 1m over 3650 days makes 5256000 syncs per connection",
        ),
    ],
)
def test_population_days_and_syncs_are_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], words: str
) -> None:
    """The full-stack engine syncs every connection every sync_every: bounded like a
    scenario. (The direct engine computes syncs, it does not replay them.)"""
    config = tmp_path / "p.yaml"
    config.write_text("companies: 1\ndays: 30\nsync_every: 1m\n")
    argv = ["population", "--config", str(config), *options, "--out", str(tmp_path / "o")]
    t0 = time.perf_counter()
    assert main([*argv, "--no-progress"]) == 2
    assert time.perf_counter() - t0 < 5
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


# --- through the CLI, in a child process with a memory cap --------------------------------


#: ``conntrack ARGS`` under a 2 GB address-space cap and a 60 s CPU cap, writing its
#: peak RSS (VmHWM, kB) to the file named first. (ru_maxrss of a child is no use here: on
#: Linux it starts from the forking parent's peak.)
_CHILD = """
import atexit, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
def peak(out=sys.argv[1]):
    with open("/proc/self/status") as status:
        kb = next(line for line in status if line.startswith("VmHWM:")).split()[1]
    with open(out, "w") as f:
        f.write(kb)
atexit.register(peak)
from conntrack.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_capped(args: list[str], tmp: Path) -> tuple[int, str, float, float]:
    """Exit status, stderr, CPU seconds and peak RSS (MB) of ``conntrack ARGS``.

    CPU time, not wall time: on a busy machine (CI, parallel tests) wall time says
    nothing; a child that hangs waiting ends in the timeout."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read a process's peak RSS")
    import resource

    hwm = tmp / "vmhwm"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(hwm), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return proc.returncode, proc.stderr, cpu, int(hwm.read_text()) / 1024


HOSTILE = {
    "bomb": SCENARIO + bomb(),
    "deep": SCENARIO + "description: " + "[" * 600 + "]" * 600 + "\n",
    "start_0001": scenario_with(start="0001-01-01T00:00:00Z"),
    "start_9999": scenario_with(start="9999-12-25T00:00:00Z"),
    "until_9999": scenario_with(until="9999-12-31T23:59:59Z"),
    "sync_1s": scenario_with(until="3650d", sync_every="1s"),
    "huge_int": SCENARIO + "seed: " + "9" * 5000 + "\n",
    "base_60": SCENARIO + "seed: " + ":".join(["1"] * 300_000) + "\n",
}


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_the_cli_exits_2_with_file_and_line(tmp_path: Path, name: str, command: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HOSTILE[name])
    status, err, cpu, rss = run_capped([command, str(path)], tmp_path)
    assert status == 2, err
    assert "Traceback" not in err
    assert re.match(rf"conntrack: {re.escape(str(path))}:[1-9]\d*: ", err), err
    assert cpu < 2.0  # Python, conntrack's imports and the refusal
    if name == "bomb":
        assert rss < 150  # the interpreter and conntrack's imports are ~70 MB of it


# --- many mistakes: the first MAX_PROBLEMS per file, then one line ----------------------

_MORE = re.compile(r": … and (\d+ )?more problems.*; fix these first$")


def _timeline(events: int) -> str:
    """``events`` timeline events, each with two mistakes (a misspelt event, a bad key)."""
    rows = "".join(
        f"  - {{at: {n % 25 + 1}d, event: disconect, connection: fb, bi: user1}}\n"
        for n in range(events)
    )
    return SCENARIO + "timeline:\n" + rows


def _message(load: Callable[[Path], object], path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(path)
    return str(info.value).splitlines()


def test_ten_thousand_events_with_two_mistakes_are_refused_fast(tmp_path: Path) -> None:
    """Inside every limit, 20 000 mistakes: the first 100 are listed, each at its
    file:line, then one line; the reader stops looking instead of spending seconds
    (2.5 CPU s and 125 MB before, listing all 20 000)."""
    path = tmp_path / "many.yaml"
    path.write_text(_timeline(_limits.MAX_EVENTS))
    t0 = time.process_time()
    lines = _message(load_file, path)
    assert time.process_time() - t0 < 1.5
    assert len(lines) == MAX_PROBLEMS + 1, lines[-3:]
    for line in lines[:-1]:
        assert re.match(rf"{re.escape(str(path))}:\d+: ", line), line
    assert _MORE.search(lines[-1]) and lines[-1].startswith(f"{path}:"), lines[-1]


def test_under_the_cap_every_problem_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "some.yaml"
    path.write_text(_timeline(MAX_PROBLEMS // 2 - 5))
    lines = _message(load_file, path)
    assert len(lines) == 2 * (MAX_PROBLEMS // 2 - 5)
    assert not any(_MORE.search(line) for line in lines)


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_lists_at_most_the_cap(tmp_path: Path, reader: str) -> None:
    """150 unknown keys: every reader lists the first MAX_PROBLEMS and says how many
    more (or that it stopped looking), in one last line."""
    load, good = READERS[reader]
    path = tmp_path / "keys.yaml"
    path.write_text(good + "".join(f"zzk{n}: 1\n" for n in range(150)))
    lines = _message(load, path)
    assert len(lines) == MAX_PROBLEMS + 1, lines[-3:]
    assert all("unknown key 'zzk" in line for line in lines[:-1])
    more = _MORE.search(lines[-1])
    assert more, lines[-1]
    assert more.group(1) in (None, f"{150 - MAX_PROBLEMS} ")


#: What `run` and `notifications` need only once the scenarios have loaded: the runner,
#: the fakes and the console (about 0.3-0.5 CPU s of imports).
_HEAVY = ("conntrack.scenario._runner", "conntrack._console", "conntrack.product._harness")


@pytest.mark.parametrize("command", ["run", "notifications", "validate"])
def test_a_bad_file_is_refused_before_the_runner_is_imported(tmp_path: Path, command: str) -> None:
    """`run` and `notifications` refuse a bad file as fast as `validate`: they load the
    scenarios before importing what runs them."""
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO + "until2: 1d\n")
    probe = (
        "import sys\nfrom conntrack.cli import main\n"
        f"code = main([{command!r}, {str(path)!r}])\n"
        f"print(code, [m for m in {_HEAVY!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.split("\n")[0] == "2 []", (done.stdout, done.stderr)
    assert f"{path}:5: unknown key 'until2'" in done.stderr


def _errors(validator: Any, data: object) -> list[tuple[object, ...]]:
    return sorted(
        (
            tuple(e.absolute_path),
            e.validator,
            e.message,
            repr(e.schema.get("x-expected") if isinstance(e.schema, dict) else None),
        )
        for e in validator.iter_errors(data)
    )


def test_the_validator_gives_the_same_errors_without_refs() -> None:
    """Scenario documents are validated with the ``$ref`` s inlined (a lookup per use
    was half the time of 10 000 valid events): same errors, same schema words."""
    import jsonschema

    from conntrack.scenario import _loader

    inlined = {k: v for k, v in _loader._validator().schema.items() if k != "$defs"}
    assert "$ref" not in json.dumps(inlined)
    plain = jsonschema.Draft202012Validator(_loader.schema())
    texts = [p.read_text() for p in sorted(Path("scenarios").glob("*.yaml"))]
    texts += [_timeline(20), SCENARIO + "expect:\n  - {at: x, state: nope, connection: 1}\n"]
    texts += [SCENARIO + "timeline:\n  - {at: [1], event: add, by: {a: 1}, for: -1}\n"]
    for text in texts:
        for doc in _marks.load_documents(text, "f")[0]:
            assert _errors(_loader._validator(), doc.data) == _errors(plain, doc.data)
