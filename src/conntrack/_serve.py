"""``conntrack serve``: every fake provider on one port, for real clients over real HTTP.

The fakes run on a :class:`~conntrack._clock.TravelClock` (wall time plus a forward-only
offset the control API moves), never on a free-running virtual clock: outside clients
wait on real sockets. Served by hypercorn's trio worker.

Starting is two steps. :func:`prepare` does everything that can fail on bad input
before a socket is opened — reads ``--config`` (:mod:`._serveconfig`), picks the
providers and profiles, opens and loads ``--state`` (:mod:`._statefile`), creates the
config's apps and accounts, makes the ``--tls`` certificates (:mod:`._tls`) — and answers
a :class:`Server`. :func:`serve` then listens; so ``GET /_conntrack/health`` answers
only once the state is loaded. While it serves, :meth:`Server.saver` writes a snapshot
when anything changed (the core's ``seq`` or the clock's offset), at most once a second;
when it stops (Ctrl-C, SIGTERM: the caller cancels it) it writes the last one.
"""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio

import fake_providers
from fake_providers.core._persist import StateFormatError, StateProviderError

from ._clock import TravelClock
from ._exceptions import InputError
from ._serveconfig import (
    ConfigError,
    ProvidersError,
    ServeConfig,
    apply_config,
    load_config,
    served_profiles,
)
from ._statefile import Snapshot, StateError, StateFile
from ._tls import DEFAULT_CA_FILE, TlsFiles, make_tls

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8400
#: At most one snapshot a second: a burst of requests costs one write, and a kill -9
#: loses at most the last second.
SAVE_EVERY = 1.0
#: A snapshot reads the whole core between two requests (about 30 ms per thousand
#: tokens): with a very large state, wait this many times as long as the last one took
#: before the next, so snapshots never hold up more than a tenth of the time.
SAVE_SPACING = 10.0

log = logging.getLogger("conntrack.serve")


def make_config(host: str, port: int, tls: TlsFiles | None = None) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = log
    if tls is not None:
        config.certfile = str(tls.certfile)
        config.keyfile = str(tls.keyfile)
    return config


@dataclass
class Server:
    """A prepared server: its core and clock, and the state file and TLS files it uses."""

    core: fake_providers.Core
    clock: TravelClock
    state: StateFile | None = None
    tls: TlsFiles | None = None
    config: ServeConfig | None = None
    #: Host names answered besides loopback, IP addresses and the provider hosts
    #: (``--allow-host``), and the control token (``--control-token``): ``_security``.
    allow_hosts: tuple[str, ...] = ()
    control_token: str | None = None
    loaded: Snapshot | None = None
    #: Lines for the console once listening (what was loaded, created, written).
    notes: list[str] = field(default_factory=list)
    #: The (seq, clock offset) the state file holds now.
    _saved: tuple[int, timedelta] | None = None
    #: How long the last snapshot took, in seconds (dump, encode, write), and how long
    #: its dump held up requests.
    last_save_seconds: float = 0.0
    last_dump_seconds: float = 0.0

    def _key(self) -> tuple[int, timedelta]:
        return (self.core.seq, self.clock.offset)

    def changed(self) -> bool:
        return self.state is not None and self._key() != self._saved

    def save(self) -> bool:
        """Write a snapshot now if anything changed since the last; whether it wrote.

        A write that fails (a full disk, a file removed) is said on stderr and leaves
        the last complete snapshot in place; the saver tries again a second later."""
        if self.state is None or not self.changed():
            return False
        started = time.perf_counter()
        key, document, now = self._key(), self.core.dump(), self.clock.now()
        try:
            self.state.write(document, seq=key[0], clock_offset=key[1], now=now)
        except sqlite3.Error as e:
            _cannot_save(self.state.path, e)
            return False
        self._saved = key
        self.last_save_seconds = time.perf_counter() - started
        return True

    async def saver(self, every: float = SAVE_EVERY) -> None:
        """Save what changed, at most once every ``every`` seconds, until cancelled.

        The core is read (``dump``) here, between two requests, so a snapshot is one
        consistent instant; encoding and writing it run in a worker thread, so requests
        are served meanwhile. A cancel waits for a write under way to finish."""
        assert self.state is not None
        state = self.state
        while True:
            await trio.sleep(max(every, SAVE_SPACING * self.last_dump_seconds))
            if not self.changed():
                continue
            started = time.perf_counter()
            key, document, now = self._key(), self.core.dump(), self.clock.now()
            self.last_dump_seconds = time.perf_counter() - started

            def write() -> None:
                state.write(document, seq=key[0], clock_offset=key[1], now=now)  # noqa: B023

            try:
                await trio.to_thread.run_sync(write)
            except sqlite3.Error as e:
                _cannot_save(state.path, e)
                continue
            self._saved = key
            self.last_save_seconds = time.perf_counter() - started

    def close(self) -> None:
        """Release the state file and remove the private TLS files."""
        if self.state is not None:
            self.state.close()
            self.state = None
        if self.tls is not None:
            self.tls.close()


def _cannot_save(path: Path, error: Exception) -> None:
    print(f"conntrack: cannot save the state to {path}: {error}", file=sys.stderr, flush=True)


def prepare(
    *,
    host: str = DEFAULT_HOST,
    seed: int | None = None,
    providers: Sequence[str] | None = None,
    config: str | Path | None = None,
    state: str | Path | None = None,
    tls: bool = False,
    ca_file: str | Path | None = None,
    clock: TravelClock | None = None,
    allow_hosts: Sequence[str] = (),
    control_token: str | None = None,
) -> Server:
    """Everything before listening (see the module docstring); raises
    :class:`InputError` (exit 2) for bad input, having released what it opened."""
    if ca_file is not None and not tls:
        raise InputError("--ca-file goes with --tls: add --tls, or leave --ca-file out")
    conf = load_config(config) if config is not None else None
    names = providers if providers is not None else (conf.providers if conf else None)
    try:
        profiles = served_profiles(names, conf.profiles if conf else None)
    except ProvidersError as e:
        if conf is not None and e.where == "profiles":
            raise ConfigError([conf.problem(("profiles", e.name), str(e), key=True)]) from None
        if conf is not None and providers is None and conf.providers is not None:
            index = conf.providers.index(e.name)
            raise ConfigError([conf.problem(("providers", index), str(e))]) from None
        raise InputError(f"--providers: {e}") from None
    clock = clock or TravelClock()
    core = fake_providers.Core(
        clock,
        seed=seed if seed is not None else (conf.seed if conf and conf.seed is not None else 0),
        profiles=profiles,
        enabled=profiles,
    )
    server = Server(core, clock, config=conf)
    server.allow_hosts, server.control_token = tuple(allow_hosts), control_token or None
    if server.control_token is not None:
        server.notes.append(
            "control token: required by the control API (Authorization: Bearer) and the "
            "index page (open /_conntrack/?token=TOKEN once in a browser)"
        )
    server.notes.append(f"providers: {', '.join(p.provider for p in profiles.values())}")
    try:
        if state is not None:
            _load_state(server, Path(state))
        if conf is not None:
            apps, accounts = apply_config(core, conf, fresh=server.loaded is None)
            server.notes.append(
                f"config {conf.file}: {_count(len(apps), 'app')} and "
                f"{_count(len(accounts), 'account')} created"
                + ("" if server.loaded is None else " (the others kept as the state has them)")
            )
        if tls:
            default = DEFAULT_CA_FILE if state is None else Path(state).parent / DEFAULT_CA_FILE
            hosts = [h for p in profiles.values() for h in p.hosts]
            server.tls = make_tls(hosts, ca_file or default, bind=host, state=server.state)
            made = "the CA kept in the state file" if server.tls.kept else "a new local CA"
            local = [n for n in server.tls.identities if n not in hosts]
            server.notes.append(
                f"TLS: a certificate by {made} for {', '.join(local)} and "
                f"{_count(len(set(hosts)), 'provider host')}; clients trust the CA in "
                f"{server.tls.ca_file}"
            )
        if server.state is not None:
            server.save()
    except BaseException:
        server.close()
        raise
    return server


def _load_state(server: Server, path: Path) -> None:
    server.state = StateFile.open(path)
    snapshot = server.state.read()
    core = server.core
    if snapshot is not None:
        try:
            core.load(snapshot.document)
        except StateProviderError as e:
            served = ",".join(sorted({*core.profiles, *e.providers}))
            raise StateError(
                f"{path}: {e}; serve them too (--providers {served}) or give another --state"
            ) from None
        except StateFormatError as e:
            raise StateError(
                f"{path}: a state file this conntrack cannot read ({e}); it was written by "
                "another version: give another --state file"
            ) from None
        clock = server.clock
        clock.offset = snapshot.clock_offset
        if clock.now() < snapshot.now:
            # The wall clock went back since: never let the fakes' clock do the same.
            clock.offset += snapshot.now - clock.now()
        server.loaded = snapshot
        server._saved = (core.seq, clock.offset)
        snap = core.snapshot()
        server.notes.append(
            f"state {path}: loaded the snapshot saved at {snapshot.saved_at:%Y-%m-%d %H:%M:%S} "
            f"UTC ({_count(len(snap['apps']), 'app')}, {_count(len(snap['accounts']), 'account')}"
            f", {_count(len(snap['tokens']), 'token')}); saving changes at most once a second"
        )
    else:
        server.notes.append(f"state {path}: new; saving changes at most once a second")


def _app(server: Server, host: str) -> QuartTrio:
    """The fakes' app as a server bound to ``host`` serves it: answering only loopback
    names, IP addresses, the provider hosts, ``host`` and ``--allow-host`` names, with
    the control token if there is one (``fake_providers._security``)."""
    return fake_providers.create_app(
        server.core,
        allow_hosts=(host, *server.allow_hosts),
        control_token=server.control_token,
    )


def bind_warning(host: str, control_token: str | None) -> str | None:
    """What to say when ``host`` reaches beyond loopback and no control token guards the
    control API; None when all is well."""
    if control_token:
        return None
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host.lower() == "localhost"
    if loopback:
        return None
    return (
        f"warning: serving on {host}, beyond loopback, without a control token: whoever "
        "reaches this address can read every client secret and token and change "
        "everything; start it with --control-token TOKEN (or CONNTRACK_CONTROL_TOKEN)"
    )


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


async def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    seed: int = 0,
    core: fake_providers.Core | None = None,
    server: Server | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the fakes until cancelled; reports the bound URLs through ``task_status``.

    With a prepared ``server``: its core, TLS and state file (saved while serving, and
    once more when cancelled). The caller closes ``server``."""
    if server is None:
        clock = TravelClock()
        server = Server(core or fake_providers.Core(clock, seed=seed), clock)
    app = _app(server, host)
    try:
        async with trio.open_nursery() as nursery:
            if server.state is not None:
                nursery.start_soon(server.saver)
            await hypercorn_serve(app, make_config(host, port, server.tls), task_status=task_status)
            nursery.cancel_scope.cancel()
    finally:
        server.save()
