"""Starting the product: ready when it answers, a clear error with its exit status and
log tail when it does not, and always stopped, its whole process group included."""

from __future__ import annotations

import os
import signal
import socket
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from conntrack import InputError
from conntrack.product._process import (
    TAIL_LINES,
    ProductProcess,
    ProductStartError,
    describe_status,
)

PY = sys.executable

#: A tiny server: waits WAIT seconds, then answers STATUS on PORT (both from env).
SERVER = textwrap.dedent(
    """
    import http.server, os, sys, time
    time.sleep(float(os.environ.get("WAIT", "0")))
    status = int(os.environ.get("STATUS", "200"))
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.end_headers()
            self.wfile.write(os.getcwd().encode() + b" " + os.environ["GREETING"].encode())
        def log_message(self, *a):
            print("GET", self.path, file=sys.stderr, flush=True)
    print("listening", flush=True)
    http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie still "exists": it is gone if it no longer runs
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


@pytest.fixture
def processes() -> Iterator[list[ProductProcess]]:
    """Every process a test makes, stopped whatever happens."""
    made: list[ProductProcess] = []
    yield made
    for p in made:
        p.stop()


def product(
    made: list[ProductProcess],
    tmp_path: Path,
    code: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stop_timeout: float = 5.0,
) -> ProductProcess:
    log = tmp_path / "data" / "product.log"
    p = ProductProcess([PY, "-c", code], log=log, env=env, cwd=cwd, stop_timeout=stop_timeout)
    made.append(p)
    return p


async def test_ready_once_it_answers_with_its_env_and_cwd(
    tmp_path: Path, processes: list[ProductProcess]
) -> None:
    port = free_port()
    env = {"PORT": str(port), "WAIT": "0.3", "GREETING": "hello", "STATUS": "404"}
    p = product(processes, tmp_path, SERVER, env=env, cwd=tmp_path, stop_timeout=2)
    async with p:
        assert p.running and p.pid is not None
        await p.wait_ready(f"http://127.0.0.1:{port}/health", 10)  # a 404 is up
        import httpx

        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.get(f"http://127.0.0.1:{port}/")
        assert answer.text == f"{tmp_path} hello"
    assert not p.running
    assert p.returncode == -signal.SIGTERM
    log = (tmp_path / "data" / "product.log").read_text()
    assert "listening" in log and "GET /health" in log


async def test_a_process_that_exits_fails_fast_with_status_and_tail(
    tmp_path: Path, processes: list[ProductProcess]
) -> None:
    code = "import sys\nfor i in range(100): print('line', i)\nsys.exit(3)"
    p = product(processes, tmp_path, code)
    started = trio.current_time()
    with pytest.raises(ProductStartError) as info:
        await p.wait_ready(f"http://127.0.0.1:{free_port()}/", 30)
    assert trio.current_time() - started < 10
    error = info.value
    assert isinstance(error, InputError)
    assert error.status == 3
    message = str(error)
    assert "exited with status 3 before it was ready" in message
    assert "line 99" in message and "line 70" in message and "line 69" not in message
    assert len(error.log_tail.splitlines()) == TAIL_LINES
    assert f"its log ({tmp_path / 'data' / 'product.log'}), last {TAIL_LINES} lines:" in message


async def test_a_process_that_never_answers_times_out_and_is_stopped(
    tmp_path: Path, processes: list[ProductProcess]
) -> None:
    p = product(processes, tmp_path, "import time\nprint('starting', flush=True)\ntime.sleep(60)")
    url = f"http://127.0.0.1:{free_port()}/ready"
    async with p:
        with pytest.raises(ProductStartError) as info:
            await p.wait_ready(url, 0.5)
        assert f"did not answer {url} within 0.5s" in str(info.value)
        assert "product.log):\n  | starting" in str(info.value) and info.value.status is None
    assert not p.running


async def test_a_server_error_is_not_ready(tmp_path: Path, processes: list[ProductProcess]) -> None:
    port = free_port()
    env = {"PORT": str(port), "GREETING": "x", "STATUS": "503"}
    async with product(processes, tmp_path, SERVER, env=env) as p:
        with pytest.raises(ProductStartError, match=r"within 0.7s \(last: HTTP 503\)"):
            await p.wait_ready(f"http://127.0.0.1:{port}/", 0.7)


def test_a_command_that_cannot_run(tmp_path: Path) -> None:
    p = ProductProcess(["/nonexistent/acme", "--port", "1"], log=tmp_path / "log")
    with pytest.raises(
        ProductStartError, match="cannot start the product: /nonexistent/acme --port 1"
    ):
        p.start()
    assert p.stop() is None and not p.running
    with pytest.raises(ProductStartError, match=r"in .*nowhere"):
        ProductProcess([PY], log=tmp_path / "log", cwd=tmp_path / "nowhere").start()


def test_stop_kills_what_ignores_sigterm_and_the_whole_group(
    tmp_path: Path, processes: list[ProductProcess]
) -> None:
    code = textwrap.dedent(
        f"""
        import signal, subprocess, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([{PY!r}, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    p = product(processes, tmp_path, code, stop_timeout=0.3).start()
    log = tmp_path / "data" / "product.log"
    deadline = time.monotonic() + 10
    while not log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.02)
    child = int(log.read_text().split()[0])
    assert p.pid is not None and not gone(child)
    started = time.monotonic()
    assert p.stop() == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert gone(p.pid)
    deadline = time.monotonic() + 5
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gone(child)
    assert p.stop() == -signal.SIGKILL  # idempotent


def test_the_context_manager_stops_on_failure(tmp_path: Path) -> None:
    p = ProductProcess([PY, "-c", "import time; time.sleep(60)"], log=tmp_path / "log")
    with pytest.raises(RuntimeError), p:
        assert p.running
        raise RuntimeError("the harness failed")
    assert not p.running and p.returncode == -signal.SIGTERM


async def test_aclose_stops_even_when_cancelled(tmp_path: Path) -> None:
    p = ProductProcess(
        [
            PY,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
        ],
        log=tmp_path / "log",
        stop_timeout=0.3,
    )
    with trio.move_on_after(0.2):
        async with p:
            await trio.sleep(10)  # cancelled: the exit still waits and kills
    assert not p.running and p.returncode == -signal.SIGKILL


def test_describe_status() -> None:
    assert describe_status(3) == "exited with status 3"
    assert describe_status(-9) == "was killed by signal SIGKILL"
    assert describe_status(-200) == "was killed by signal 200"


def test_the_log_tail_of_a_product_that_wrote_nothing(tmp_path: Path) -> None:
    p = ProductProcess([PY, "-c", "raise SystemExit(0)"], log=tmp_path / "log")
    with p:
        p._popen.wait(timeout=10)  # type: ignore[union-attr]
        assert p.log_tail() == "" and p.returncode == 0
    p.log.unlink()
    with ProductProcess([PY, "-c", ""], log=p.log) as quiet, pytest.raises(
        ProductStartError, match=r"exited with status 0 before it was ready\nits log \(.*\) is empty"
    ):  # fmt: skip
        trio.run(quiet.wait_ready, "http://127.0.0.1:1/", 10.0)


async def test_from_file_fills_the_placeholders_and_waits_until_ready(tmp_path: Path) -> None:
    from conntrack.product._file import load_product

    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "product.yaml").write_text(
        "base: http://127.0.0.1:{port}/t\n"
        "redirect_uri: http://127.0.0.1:{port}/cb/{protocol}\n"
        "start:\n"
        "  command: ['{python}', server.py, '{fakes}']\n"
        "  env: {PORT: '{port}', GREETING: '{data}/db {smtp_port}', WAIT: '0.2'}\n"
        "  ready: {url: 'http://127.0.0.1:{port}/health', timeout: 10s}\n"
        "  stop_timeout: 1s\n"
    )
    file = load_product(tmp_path / "product.yaml")
    port, data = free_port(), tmp_path / "data"
    env = {
        "CONNTRACK_PRODUCT_PORT": str(port),
        "CONNTRACK_DATA_DIR": str(data),
        "CONNTRACK_FAKES_URL": "http://127.0.0.1:1",
        "CONNTRACK_SMTP_PORT": "2525",
    }
    p = ProductProcess.from_file(file, env=env)
    assert p.command == [sys.executable, "server.py", "http://127.0.0.1:1"]
    assert (p.ready_url, p.ready_timeout, p.stop_timeout) == (
        f"http://127.0.0.1:{port}/health",
        10.0,
        1.0,
    )
    async with p:  # returns once ready
        import httpx

        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.get(f"http://127.0.0.1:{port}/")
        assert answer.text == f"{tmp_path} {data}/db 2525"
        assert p.env["CONNTRACK_SMTP_PORT"] == "2525"
    assert not p.running
    assert "GET /health" in (data / "product.log").read_text()


async def test_an_async_with_that_is_never_ready_stops_the_product(tmp_path: Path) -> None:
    p = ProductProcess(
        [PY, "-c", "import time; time.sleep(60)"],
        log=tmp_path / "log",
        ready_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout=0.3,
    )
    with pytest.raises(ProductStartError, match="did not answer"):
        async with p:
            raise AssertionError("never ready, never here")
    assert not p.running


def test_from_file_needs_the_harness_values(tmp_path: Path) -> None:
    from conntrack.product._file import load_product

    (tmp_path / "product.yaml").write_text(
        "base: http://127.0.0.1:{port}/t\nredirect_uri: http://x/cb\nstart: {command: run}\n"
    )
    with pytest.raises(ValueError, match="data, fakes, smtp_port"):
        ProductProcess.from_file(load_product(tmp_path / "product.yaml"), env={}, port=1)


#: A product whose group holds a zombie that nobody reaps while it stops: a keeper
#: process (in a group of its own, so the stop leaves it) forks a child into the
#: product's group and never waits for it.
ZOMBIE = textwrap.dedent(
    """
    import os, time
    group = os.getpgid(0)
    if os.fork() == 0:
        os.setpgid(0, 0)
        child = os.fork()
        if child == 0:
            os.setpgid(0, group)
            os._exit(0)
        print(os.getpid(), child, flush=True)
        time.sleep(60)
        os._exit(0)
    time.sleep(60)
    """
)


def test_a_zombie_in_the_group_does_not_make_stop_wait(tmp_path: Path) -> None:
    """Children outliving the product are reparented to PID 1, which (in a container)
    may reap them seconds later: a zombie of the group must not hold the stop for its
    whole stop_timeout."""
    p = ProductProcess([PY, "-c", ZOMBIE], log=tmp_path / "log", stop_timeout=5).start()
    keeper = 0
    try:
        deadline = time.monotonic() + 10
        while not p.log_tail().strip() and time.monotonic() < deadline:
            time.sleep(0.02)
        keeper, child = (int(w) for w in p.log_tail().split())
        while not gone(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gone(child) and os.getpgid(child) == p.pid  # a zombie of the group
        started = time.monotonic()
        assert p.stop() == -signal.SIGTERM
        assert time.monotonic() - started < 2.5
    finally:
        p.stop()
        if keeper:
            os.kill(keeper, signal.SIGKILL)


def test_each_start_writes_a_fresh_log(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("an older run\n")
    with ProductProcess([PY, "-c", "print('this run')"], log=log) as p:
        p._popen.wait(timeout=10)  # type: ignore[union-attr]
    assert log.read_text() == "this run\n"
