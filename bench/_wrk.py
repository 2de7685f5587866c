"""wrk and oauth2-mock-server for ``bench_server.py``: where they are, how to get them,
and one wrk run with what it cost (its output parsed, the CPU of the server process read
from ``/proc`` before and after, wrk's own CPU from the children's rusage).

wrk is the load generator the issue measured with (``wrk -t2 -c50``, loopback): written
in C, it takes far less CPU a request than the server it loads, so what it measures is the
server (the Python clients of the fallback took as much CPU as the server did).
oauth2-mock-server (npm, pinned in ``bench/package.json``) is the widely used Node mock
OAuth2 server the token endpoint is compared with.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Where ``make bench-tools`` installs oauth2-mock-server (``npm install`` of
#: ``bench/package.json`` there): outside the tree, so no build of the package takes it in
#: (hatchling reads only the root ``.gitignore``).
NODE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "conntrack/bench-node"
MOCK_CLI = NODE_DIR / "node_modules" / "oauth2-mock-server" / "dist" / "oauth2-mock-server.mjs"
HOW_TO_GET = (
    "`make bench-tools` installs both: wrk from Debian (apt-get install -y wrk; as root, "
    f"else it says the command) and oauth2-mock-server from npm into {NODE_DIR} (the "
    "version pinned in bench/package.json; needs Node.js >= 20.19 and npm: apt-get "
    "install -y nodejs npm). BENCH_OAUTH2_MOCK_SERVER=PATH names another copy of its CLI "
    "(dist/oauth2-mock-server.mjs)."
)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def mock_server_command() -> list[str] | None:
    """How to start oauth2-mock-server (``node CLI``), or None when it is not installed."""
    node = shutil.which("node")
    cli = Path(os.environ.get("BENCH_OAUTH2_MOCK_SERVER", MOCK_CLI))
    if node is None or not cli.is_file():
        return None
    return [node, str(cli)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid``, all its threads (Linux; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Load:
    """One URL under wrk: ``pid`` is the server process that answers it; ``body`` (with
    ``Content-Type: application/x-www-form-urlencoded``) makes the requests POSTs."""

    url: str
    pid: int
    body: str | None = None


@dataclass
class Tally:
    """What the runs of one case added up to."""

    requests: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    wrk_cpu: float = 0.0
    errors: int = 0
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def per_request(self, cpu: float) -> float:
        """Milliseconds of ``cpu`` a request."""
        return cpu * 1000 / self.requests if self.requests else float("nan")


_SOCKET_ERRORS = r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse(output: str) -> tuple[int, float, float, float, int]:
    """Requests, the seconds they took, p50 and p99 (ms), and answers that were not
    2xx/3xx or failed, from ``wrk --latency``'s report."""
    found = re.search(r"(\d+) requests in ([\d.]+\w+)", output)
    assert found is not None, output
    requests, took = int(found.group(1)), _ms(found.group(2)) / 1000
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return requests, took, p50, p99, errors


def _script(folder: Path, body: str) -> Path:
    path = folder / f"post-{abs(hash(body))}.lua"
    path.write_text(
        f'wrk.method = "POST"\nwrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
    )
    return path


def run(loads: Sequence[Load], seconds: float, clients: int, tally: Tally) -> None:
    """wrk against every load at once for ``seconds`` (``clients`` connections shared out,
    two threads in all), adding what it measured to ``tally``: requests, wall time, the
    CPU every answering server spent meanwhile, wrk's own CPU, p50 and p99 (the worst
    load's), errors."""
    wrk = wrk_path()
    assert wrk is not None
    threads = max(1, 2 // len(loads))
    pids = sorted({load.pid for load in loads})
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        commands = []
        for load in loads:
            command = [wrk, f"-t{threads}", f"-c{clients // len(loads)}", f"-d{seconds:g}s"]
            command += ["--latency", "--timeout", "10s"]
            if load.body is not None:
                command += ["-s", str(_script(Path(tmp), load.body))]
            commands.append([*command, load.url])
        cpu0 = [cpu_seconds(pid) for pid in pids]
        own0, wall0 = _children_cpu(), time.perf_counter()
        procs = [subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands]
        outputs = [p.communicate()[0] for p in procs]
        wall = time.perf_counter() - wall0
        tally.wrk_cpu += _children_cpu() - own0
        tally.server_cpu += sum(cpu_seconds(pid) - c for pid, c in zip(pids, cpu0, strict=True))
    p50s, p99s, took = [], [], [wall]
    for proc, output in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {output}")
        requests, spent, p50, p99, errors = parse(output)
        took.append(spent)
        tally.requests += requests
        tally.errors += errors
        p50s.append(p50)
        p99s.append(p99)
    tally.seconds += min(took)  # wrk's own count, but never more than the wall time
    tally.p50.append(max(p50s))
    tally.p99.append(max(p99s))
