"""``conntrack population --cluster``: the company ranges on Dask distributed.

A run shards by company (see :func:`conntrack.population.run_sharded`): company ``i`` is
made from the seed and ``i`` alone, and the series are sums of whole numbers. Here the
map is :func:`conntrack.population._chunk` submitted by name to Dask workers — a
``LocalCluster`` started for the run (``local``, ``local:N``) or a running ``dask
scheduler`` (``tcp://HOST:PORT``, ``tls://HOST:PORT``) — with the spec and policy shipped
as plain, pickled values; the reduce is :meth:`Series.merge` (sums, so in any order) as
the futures complete. Dask is the optional extra ``conntrack[cluster]`` and is imported here
only, when a run asks for a cluster: ``import conntrack`` and a run without ``--cluster``
never load it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .._exceptions import InputError
from .._policy import PolicySet, default_policy
from ._model import MAX_WORKERS, PopulationSpec
from ._series import Series

FORMS = "local, local:N (N workers, 1 to 32), tcp://HOST:PORT or tls://HOST:PORT"
CONNECT_TIMEOUT = 10.0
"""Seconds to reach a scheduler before giving up (Dask retries the connection until
then: ``distributed.comm.core.connect``)."""
_REMOTE = re.compile(r"^(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


class ClusterError(InputError):
    """A ``--cluster`` that cannot be used: bad address, unreachable, missing extra."""


@dataclass(frozen=True)
class Cluster:
    """Where a run goes: a ``LocalCluster`` of ``workers`` or a scheduler at ``address``."""

    address: str | None
    workers: int = 0

    def describe(self) -> str:
        if self.address is None:
            return f"a local Dask cluster of {self.workers} worker processes"
        return f"the Dask scheduler at {self.address}"


def parse_cluster(text: str) -> Cluster:
    """``local`` (one worker per core, at most 32), ``local:N`` or a scheduler address."""
    import os

    value = text.strip()
    if value == "local":
        return Cluster(None, max(1, min(os.cpu_count() or 1, MAX_WORKERS)))
    if value.startswith("local:"):
        n = value.removeprefix("local:")
        if not n.isdigit() or not 1 <= int(n) <= MAX_WORKERS:
            raise ClusterError(
                f"--cluster {text!r}: local:N takes a number of workers from 1 to "
                f"{MAX_WORKERS}, got {n!r}"
            )
        return Cluster(None, int(n))
    m = _REMOTE.match(value)
    if m is None or not 1 <= int(m.group(3)) <= 65535:
        raise ClusterError(
            f"--cluster {text!r} is not an address conntrack knows; use {FORMS} "
            "(a `dask scheduler` listens on tcp://HOST:8786 by default)"
        )
    return Cluster(value)


def require_dask() -> None:
    """Refuse a ``--cluster`` run at once, before any work, without the extra."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterError(
            "--cluster needs Dask distributed, which is not installed: "
            "pip install 'conntrack[cluster]'"
        ) from None


@contextmanager
def _client(cluster: Cluster, *, processes: bool, timeout: float) -> Iterator[Any]:
    """A connected ``distributed.Client``; what this started is closed on the way out."""
    from distributed import Client, LocalCluster

    if cluster.address is None:
        local = LocalCluster(
            n_workers=cluster.workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address="127.0.0.1:0",  # None still binds 8787 (a warning when taken)
            silence_logs=logging.ERROR,
        )
        try:
            with Client(local, timeout=timeout) as client:
                yield client
        finally:
            local.close()
        return
    try:
        client = Client(cluster.address, timeout=timeout)
    except TypeError as e:  # tls:// without an SSL context in the Dask config
        raise ClusterError(
            f"--cluster {cluster.address}: Dask has no TLS settings ({e}); set the CA, "
            "certificate and key in the Dask config (distributed.comm.tls.ca-file, "
            "distributed.comm.tls.client.cert and .key, or DASK_DISTRIBUTED__COMM__TLS__* "
            "variables), as for `dask worker`"
        ) from None
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"--cluster {cluster.address}: no Dask scheduler answered within {timeout:g} s "
            f"({e}); start one with `dask scheduler` on that machine (it listens on port "
            "8786) and check the address and the firewall"
        ) from None
    try:
        _check_versions(client, cluster.address)
        yield client
    finally:
        client.close()


def _worker_version() -> str:
    """Run on each worker: the conntrack version installed there."""
    from .. import __version__

    return __version__


def _check_versions(client: Any, address: str) -> None:
    """Every worker must run this conntrack: the series are only the same with the same
    code, and a worker without conntrack cannot even load the tasks."""
    from .. import __version__

    if not client.scheduler_info().get("workers"):
        raise ClusterError(
            f"--cluster {address}: the scheduler has no workers; start some with "
            f"`dask worker {address}` on the machines that will run the companies"
        )
    try:
        versions = client.run(_worker_version)
    except Exception as e:  # a worker that cannot import conntrack answers with its error
        raise ClusterError(
            f"--cluster {address}: a worker cannot run conntrack ({type(e).__name__}: {e}); "
            f"install conntrack {__version__} on every worker machine"
        ) from None
    wrong = {w: v for w, v in versions.items() if v != __version__}
    if wrong:
        listed = ", ".join(f"{w} has {v}" for w, v in sorted(wrong.items()))
        raise ClusterError(
            f"--cluster {address}: every worker must run conntrack {__version__} "
            f"(this machine's): {listed}"
        )


def run_on_cluster(
    spec: PopulationSpec,
    cluster: Cluster,
    *,
    transport: str = "direct",
    policy: PolicySet | None = None,
    progress: Callable[[int], None] | None = None,
    chunk: int = 250,
    processes: bool = True,
    timeout: float | None = None,
) -> Series:
    """:func:`run_population` over a Dask cluster, a chunk of companies per task.

    Parts are merged as they arrive: the series are sums of whole numbers, so the order
    changes nothing and the result is that of one process, byte for byte (as with
    :func:`run_sharded`'s pool).
    ``processes=False`` runs a local cluster's workers as threads (for tests).
    """
    require_dask()
    from distributed import as_completed

    from . import _chunk, _jobs

    policy = policy or default_policy()
    total = Series(spec.start, spec.days)
    wait = CONNECT_TIMEOUT if timeout is None else timeout
    with _client(cluster, processes=processes, timeout=wait) as client:
        futures = [
            client.submit(_chunk, job, pure=False) for job in _jobs(spec, transport, policy, chunk)
        ]
        try:
            for _future, (part, done) in as_completed(futures, with_results=True):
                total.merge(part)
                if progress is not None:
                    progress(done)
        except ClusterError:
            raise
        except Exception as e:  # a worker lost, a task that failed there
            raise ClusterError(
                f"the run on {cluster.describe()} failed: {type(e).__name__}: {e}"
            ) from None
        finally:
            client.cancel(futures)
    return total
