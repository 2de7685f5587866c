"""``conntrack serve``: every fake provider on one port, for real clients over real HTTP.

The fakes run on a :class:`~conntrack._clock.TravelClock` (wall time plus a forward-only
offset the control API moves), never on a free-running virtual clock: outside clients
wait on real sockets. Served by hypercorn's trio worker.

Starting is two steps. :func:`prepare` does everything that can fail on bad input
before a socket is opened — reads ``--config`` (:mod:`._serveconfig`), picks the
providers and profiles, opens and loads ``--state`` (:mod:`._statefile`), creates the
config's apps and accounts, makes the ``--tls`` certificates (:mod:`._tls`) — and answers
a :class:`Server`. :func:`serve` then listens; so ``GET /_conntrack/health`` answers
only once the state is loaded. While it serves, what changed (a token issued, a code
spent, an event fired) is committed to the state file within ``--state-lag`` (default
:data:`DEFAULT_STATE_LAG`) of its answer: :meth:`Server.lagging` writes every lag, and an
answer that changed something waits (:meth:`Server.caught_up`) while the oldest change
not yet committed is older than the lag, so a writer that falls behind holds the answers
back instead of letting its backlog grow. With ``--state-lag 0`` every answer that
follows a change leaves only once the changed records are committed
(:meth:`Server.durable` and :meth:`Server.saved`: one write at a time in a worker
thread, shared by the answers under way).
:meth:`Server.saver` saves the rest once a second (the generators' states, what changed
without an answer) and checkpoints the file, and the stop (Ctrl-C, SIGTERM, SIGHUP: the
caller cancels it) saves the last of it.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config, Sockets
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio

import fake_providers
from fake_providers import StateFormatError, StateProviderError

from ._clock import TravelClock
from ._exceptions import InputError
from ._hosts import loopback, split_host
from ._serveconfig import (
    ConfigError,
    ProvidersError,
    ServeConfig,
    apply_config,
    load_config,
    served_profiles,
)
from ._statefile import Loaded, StateError, StateFile
from ._tls import DEFAULT_CA_FILE, TlsFiles, make_tls

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8400
#: How often the saver writes what no answer wrote: the generators' states, and changes
#: that no request made.
SAVE_EVERY = 1.0
#: ``--state-lag`` when none is given, in seconds: an answered change is committed within
#: about this long (and the write under way), and a kill -9 loses at most the answers of
#: about the last this long. Measured (``bench/bench_state.py``, 8 clients on Facebook's
#: token endpoint): writing before every answer (``--state-lag 0``) costs 23-25 % of the
#: throughput, a 20 ms lag 5 %.
DEFAULT_STATE_LAG = 0.020

log = logging.getLogger("conntrack.serve")

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class _BoundConfig(Config):
    """hypercorn's config, serving on a socket already bound (:func:`bind_socket`)."""

    def __init__(self, sock: socket.socket, secure: bool) -> None:
        super().__init__()
        self._bound = sock
        self._secure = secure

    def create_sockets(self) -> Sockets:
        sock = [self._bound]
        return Sockets(sock if self._secure else [], [] if self._secure else sock, [])


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` as hypercorn binds one, or the OSError with the
    socket closed: hypercorn's own bind leaves the socket that failed unclosed (a
    ResourceWarning; one file descriptor a try for a caller that tries port after port),
    and its error comes out of its nurseries wrapped in exception groups."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.setblocking(False)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def make_config(
    host: str, port: int, tls: TlsFiles | None = None, *, sock: socket.socket | None = None
) -> Config:
    """hypercorn's config for ``host:port``; with ``sock`` (bound to it) serving on that."""
    config = Config() if sock is None else _BoundConfig(sock, secure=tls is not None)
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
    loaded: Loaded | None = None
    #: Lines for the console once listening (what was loaded, created, written).
    notes: list[str] = field(default_factory=list)
    #: How long the last write to the state file took, in seconds.
    last_save_seconds: float = 0.0
    #: A failed write was said on stderr; said again only after one succeeded.
    _failing: bool = False
    #: ``--state-lag``: 0, every answer leaves once what changed before it is written;
    #: else what changed is written within this many seconds (:meth:`lagging`), and an
    #: answer that changed something waits while older changes are not (:meth:`caught_up`).
    lag: float = 0.0
    #: Back-pressure (:meth:`caught_up`), in ``time.monotonic()`` seconds: when the oldest
    #: change answered and not yet taken into a write was answered, and the oldest in the
    #: write under way (None: none).
    _since: float | None = None
    _taken_since: float | None = None
    #: Group commit (:meth:`saved`): writes begun and ended so far, whether one is under
    #: way, and the event set when it ends.
    _begun: int = 0
    _ended: int = 0
    _writing: bool = False
    _write_ended: trio.Event | None = None

    def changed(self) -> bool:
        return self.state is not None and self.state.pending(self.clock.offset)

    def save(self, *, random: bool = False) -> bool:
        """Write what changed since the last write (the changed records, ``seq``, the
        clock; with ``random`` the generators' states too), in one transaction, now;
        whether it wrote. For when no :meth:`saved` runs: before serving, after it.

        A write that fails (a full disk, a file removed) is said on stderr; what it would
        have written is kept, and written by the next one."""
        if self.state is None:
            return False
        started = time.perf_counter()
        try:
            wrote = self.state.flush(
                clock_offset=self.clock.offset, now=self.clock.now(), random=random
            )
        except sqlite3.Error as e:
            self._cannot_save(e)
            return False
        self._failing = False
        if wrote:
            self.last_save_seconds = time.perf_counter() - started
        return wrote

    @property
    def unsaved(self) -> bool:
        """Whether the last write to the state file failed: what it held is not in it."""
        return self._failing

    def _cannot_save(self, error: Exception) -> None:
        if not self._failing and self.state is not None:
            _cannot_save(self.state.path, error)
        self._failing = True

    async def saved(self, *, random: bool = False) -> None:
        """Return once every change made before the call is in the state file.

        Group commit: one write at a time, in a worker thread (SQLite's I/O off the
        server's thread); the changes made while it runs go into the next one, written
        for everyone who waits on them. Under load a write covers many answers; alone,
        an answer waits for its own. A write that fails is said on stderr and its changes
        kept for the next one; the waiters go on."""
        if self.state is None:
            return
        if random or self.changed():
            needed = self._begun + 1
        elif self._writing:
            needed = self._begun  # what we read may be in the write under way
        else:
            # Nothing changed: forget what was only read (a listing would otherwise
            # make the next write rewrite its whole table).
            self.state.settle()
            return
        while self._ended < needed:
            if self._writing:
                if self._write_ended is None:
                    self._write_ended = trio.Event()
                await self._write_ended.wait()
            else:
                await self._write(random=random)

    async def _write(self, *, random: bool) -> None:
        state = self.state
        assert state is not None
        self._writing = True
        self._begun += 1
        number = self._begun
        started = time.perf_counter()
        # The changes answered so far go into this write.
        taken, self._since = self._since, None
        self._taken_since = taken
        try:
            batch = state.batch(clock_offset=self.clock.offset, now=self.clock.now(), random=random)
            if batch is not None:
                try:
                    await trio.to_thread.run_sync(state.commit, batch)
                except sqlite3.Error as e:
                    state.done(batch, ok=False)
                    self._cannot_save(e)
                    # Given back: still the oldest unwritten.
                    if taken is not None:
                        self._since = taken if self._since is None else min(taken, self._since)
                else:
                    state.done(batch)
                    self._failing = False
                    self.last_save_seconds = time.perf_counter() - started
        finally:
            self._taken_since = None
            self._ended = number
            self._writing = False
            ended, self._write_ended = self._write_ended, None
            if ended is not None:
                ended.set()

    async def saver(self, every: float = SAVE_EVERY) -> None:
        """Every ``every`` seconds, save what no answer saved and the generators'
        states, then checkpoint the state file's -wal in a worker thread (its fsyncs
        off the server's thread); until cancelled."""
        state = self.state
        assert state is not None
        while True:
            await trio.sleep(every)
            await self.saved(random=True)
            try:
                await trio.to_thread.run_sync(state.checkpoint)
            except sqlite3.Error as e:
                self._cannot_save(e)

    async def caught_up(self) -> None:
        """With ``lag``, before an answer that changed something leaves: note its change,
        and wait (:meth:`saved`) while the oldest change answered and not yet committed
        — in the write under way or not yet taken — is older than ``lag``. Back-pressure:
        a writer that falls behind (a slow disk, a big write) holds back the answers that
        add to its backlog, so that what a kill -9 can lose stays about ``lag`` of
        answers, however slow the writes; answers that changed nothing never wait."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        oldest = self._since if self._taken_since is None else self._taken_since
        if now - oldest > self.lag:
            await self.saved()

    async def lagging(self) -> None:
        """With ``lag``: write what changed every half ``lag``, until cancelled. So a
        change answered is taken into a write within half the lag and, while a write
        takes less than the other half, committed before any answer has to wait for it
        (:meth:`caught_up`): back-pressure holds answers back only when the writer
        falls behind."""
        while True:
            await trio.sleep(self.lag / 2)
            if self.changed():
                await self.saved()
            elif self.state is not None and not self._writing:
                self.state.settle()

    def durable(self, app: ASGIApp) -> ASGIApp:
        """``app``, whose answers leave only once what changed before them is in the
        state file (:meth:`saved`, awaited before an answer's start is sent); with a
        ``lag``, whose answers that changed something (the core's ``seq`` moved while
        they were made) leave once older changes are (:meth:`caught_up`)."""
        if self.state is None:
            return app
        core = self.core

        async def durable_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def send_after_saving(message: Any) -> None:
                if message["type"] == "http.response.start":
                    await self.saved()
                await send(message)

            await app(scope, receive, send_after_saving)

        async def lagging_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            seq = core.seq

            async def send_caught_up(message: Any) -> None:
                if message["type"] == "http.response.start" and core.seq != seq:
                    await self.caught_up()
                await send(message)

            await app(scope, receive, send_caught_up)

        return lagging_app if self.lag > 0 else durable_app

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
    state_lag: float | None = None,
) -> Server:
    """Everything before listening (see the module docstring); raises
    :class:`InputError` (exit 2) for bad input, having released what it opened.
    ``state_lag`` (seconds, ``--state-lag``; None: :data:`DEFAULT_STATE_LAG`): see
    :attr:`Server.lag`."""
    for name in allow_hosts:
        if not split_host(name)[0]:  # it would admit nothing, without a word
            raise InputError(
                f"--allow-host {name!r}: not a host name; give the name clients put in the "
                "Host header, such as fakes.internal (a port may follow: fakes.internal:8400)"
            )
    if ca_file is not None and not tls:
        raise InputError("--ca-file goes with --tls: add --tls, or leave --ca-file out")
    if state_lag and state is None:
        raise InputError("--state-lag goes with --state: add --state, or leave --state-lag out")
    if state_lag is None:
        state_lag = DEFAULT_STATE_LAG if state is not None else 0.0
    if not 0 <= state_lag <= 60:
        raise InputError("--state-lag: give milliseconds from 0 to 60000")
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
    server = Server(core, clock, config=conf, lag=state_lag)
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
            _same_seed(server, Path(state), seed, conf)
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
    core = server.core
    try:
        loaded = server.state.load(core)
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
    saving = "saving every change before answering (--state-lag 0)"
    if server.lag > 0:
        saving = (
            f"saving changes within {server.lag * 1000:.0f} ms of answering "
            "(--state-lag; 0: before answering)"
        )
    if loaded is not None:
        clock = server.clock
        clock.offset = loaded.clock_offset
        if clock.now() < loaded.now:
            # The wall clock went back since: never let the fakes' clock do the same.
            clock.offset += loaded.now - clock.now()
        server.loaded = loaded
        what = (
            "converted the older state file saved" if loaded.migrated else "loaded the state saved"
        )
        server.notes.append(
            f"state {path}: {what} at {loaded.saved_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({_count(len(core.apps()), 'app')}, {_count(len(core.accounts()), 'account')}, "
            f"{_count(len(core.tokens()), 'token')}); {saving}"
        )
    else:
        server.notes.append(f"state {path}: new; {saving}")
    server.state.attach(core)  # from here on, the core notes what changes


def _same_seed(server: Server, path: Path, seed: int | None, conf: ServeConfig | None) -> None:
    """Refuse a seed (``--seed``, else the config's) other than the one a loaded state
    file was made with: what the file holds was drawn from its own seed, and a seed that
    changed nothing would be ignored without a word. A new file takes the seed."""
    if server.loaded is None:
        return
    saved = server.core.seed
    if seed is not None and seed != saved:
        raise StateError(
            f"--seed {seed}: the state file {path} was made with seed {saved}, and a seed "
            f"applies only to a new state file; leave --seed out (or give --seed {saved}) "
            f"to go on with this one, or give another --state file to start afresh"
        )
    if seed is None and conf is not None and conf.seed is not None and conf.seed != saved:
        raise ConfigError(
            [
                conf.problem(
                    ("seed",),
                    f"seed {conf.seed}: the state file {path} was made with seed {saved}, "
                    "and a seed applies only to a new state file; set the seed back (or "
                    f"give --seed {saved}), or give another --state file to start afresh",
                )
            ]
        )


def _app(server: Server, host: str) -> QuartTrio:
    """The fakes' app as a server bound to ``host`` serves it: answering only loopback
    names, IP addresses, the provider hosts, ``host`` and ``--allow-host`` names, with
    the control token if there is one (``fake_providers._security``)."""
    return fake_providers.create_app(
        server.core,
        allow_hosts=(host, *server.allow_hosts),
        control_token=server.control_token,
    )


#: The environment variable a control token may come from (``--control-token`` wins).
TOKEN_ENV = "CONNTRACK_CONTROL_TOKEN"


def control_token_of(option: str | None, environ: Mapping[str, str]) -> str | None:
    """The control token ``conntrack serve`` requires: ``--control-token``, else
    :data:`TOKEN_ENV`, else none. Raises :class:`InputError` for one that is given but
    cannot guard anything: empty (``--control-token ''``, or the variable set to nothing,
    as when ``$(cat token-file)`` found no file) would otherwise mean no token at all, and
    whitespace or a character outside printable ASCII cannot be sent in an
    ``Authorization`` header."""
    where, value = ("--control-token", option) if option is not None else (TOKEN_ENV, None)
    if option is None:
        value = environ.get(TOKEN_ENV)
        if value is None:
            return None
    assert value is not None
    if not value.strip():
        how = "give a token" + (f", or unset {TOKEN_ENV}" if where == TOKEN_ENV else "")
        raise InputError(
            f"{where} is empty: an empty token guards nothing; {how} (a long random one: "
            "openssl rand -hex 16)"
        )
    bad = sorted({c for c in value if not "!" <= c <= "~"})
    if bad:
        raise InputError(
            f"{where}: the token may hold printable ASCII only, no spaces (it is sent as "
            f"'Authorization: Bearer TOKEN'), and has {', '.join(map(repr, bad))}; "
            "give another (openssl rand -hex 16)"
        )
    return value


def bind_warning(host: str, control_token: str | None) -> str | None:
    """What to say when ``host`` reaches beyond loopback and no control token guards the
    control API; None when all is well."""
    if control_token or loopback(host):
        return None
    return (
        f"warning: serving on {host}, beyond loopback, without a control token: whoever "
        "reaches this address can read every client secret and token and change "
        f"everything; start it with --control-token TOKEN (or {TOKEN_ENV}), or leave "
        "--host at 127.0.0.1"
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
    app = server.durable(_app(server, host))
    # Bound here, before anything starts: a port in use raises the plain OSError.
    sock = bind_socket(host, port)
    try:
        async with trio.open_nursery() as nursery:
            if server.state is not None:
                nursery.start_soon(server.saver)
                if server.lag > 0:
                    nursery.start_soon(server.lagging)
            config = make_config(host, port, server.tls, sock=sock)
            await hypercorn_serve(app, config, task_status=task_status)
            nursery.cancel_scope.cancel()
    finally:
        sock.close()
        server.save(random=True)
