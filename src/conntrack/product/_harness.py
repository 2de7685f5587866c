"""The world around a product under test: run one scenario against a :class:`Product`.

The world is everything conntrack plays (see :mod:`._interface`): the fake providers on a
clock only the harness moves, the company's people and their browsers, the scenario's
timeline and the recorder. The product is anything behind the :class:`Product`
interface — a real product over HTTP (:class:`~._client.HttpProduct`, started from its
product file with an SMTP capture for its emails) or an in-process one (conntrack's
:class:`~._model.ModelProduct`, whose emails come through an outbox). The world takes a
product and an email source; processes, SMTP and HTTP exist only for a product file.

The walk (the spec's algorithm): the instants of interest are the start, every connect
and timeline event, every instant an expectation names (``at``, ``until``, the bounds of
``within``/``during``/``from``/``to``, each email ``at``), ``until``, the ``step`` grid
(when the product does not say when it next has work, or the product file gives
``step``) and every ``next`` the product answers. At each instant ``t``, in this order:
the fakes' clock is set to ``t``; the account events and faults due at ``t`` go to the
fakes' control API; company changes (``PUT company``) and disconnects (each looked at
right after); ``advance(t)``; the logins due at ``t`` (their connections looked at first;
login → the fakes' consent page → the product's callback, then ``advance(t)`` again, a
no-op that answers the product's ``next``); then the world observes ``connections()``
and the emails received, and records. An account event, fault or disconnect written
after a login of the same instant is played after it, in the written order. (In process
the world's logins at ``t`` come before the sync due at ``t``; here the product syncs
first, then the login is played.)

**What "at" means when the product is observed on a grid.** The in-process engine knows
the exact instant of everything. Here the world sees the product only at the instants
of interest, after the product has done everything due up to that instant. So:

- ``{at: X, state: S}`` holds when the product, asked at ``X`` (every expectation
  instant is an instant of interest), shows ``S``: exact, as in-process.
- A transition is dated when the product says it began (``state_since``); without that,
  at the first instant the world saw it: up to one ``step`` (or one ``next``) late. So
  ``transitions`` (the order of states) is exact, but a ``during`` window or a
  ``data_gap`` bound may be off by up to a step unless the product reports
  ``state_since``/``next``.
- An email is dated by its ``Date:`` header (the product's virtual send instant) when it
  lies between the previous instant and this one, else at the instant it was received.
- Neither a change nor an email is dated before the world last acted on its connection
  (an account event, a fault, a disconnect): a product that catches up late ran that
  work against the world as it was then.
- A data gap opens at the earlier of ``last_synced_at + sync_every`` (a sync due that
  brought no data) and the instant the connection turned expired, invalid or
  disconnected; it closes at the next later ``last_synced_at``.
- A banner is dated with its state's change, else when seen.

A product that breaks the protocol raises :class:`ProductError`: the scenario's
:class:`RunResult` then has ``error`` (the request and the answer) and no outcomes, and
everything started (the product's process, the SMTP capture, the fakes) is stopped.
"""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import httpx
import trio

import fake_providers

from .._actors import ChangeOracle
from .._durations import format_duration, format_instant
from .._notify import Outbox
from .._profiles import Profile, load_profile
from .._records import EmailRecord, Recorder, Timeline
from .._worldcontrol import WorldControl, create_account, create_apps
from ..clients import AppCredentials
from ..scenario._expectations import check_all
from ..scenario._model import Scenario
from ..scenario._runner import RunResult, RunStats, make_users, run_id_of, run_name
from ._file import ProductFile, load_product
from ._interface import CapturedEmail, Product, ProductError
from ._observe import Observer
from ._process import Terminated, until_sigterm
from ._walk import Walk, WorldAccount

#: Where an in-process product's apps send the browser back (it never leaves the run).
DEFAULT_REDIRECT_URI = "https://app.conntrack.test/oauth/{protocol}/callback"
#: The fakes' base URL for the world's own client (in-process ASGI, no socket).
LOCAL_FAKES = "http://conntrack.local"


class WorldClock:
    """The fakes' clock: an instant only the harness sets, forward only."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError(
                f"the world's clock only moves forward: {format_instant(when)} is before "
                f"{format_instant(self._now)}"
            )
        self._now = when


class EmailSource(Protocol):
    """Where the world reads the emails the product sent since it last looked."""

    def drain(self) -> list[CapturedEmail]: ...


class EmailList:
    """The email source of an in-process product: an outbox it delivers to (one
    :class:`EmailRecord` a recipient, as conntrack's notifier sends), or
    :meth:`append` for a :class:`CapturedEmail`."""

    def __init__(self) -> None:
        self._emails: list[CapturedEmail] = []

    def append(self, email: CapturedEmail) -> None:
        self._emails.append(email)

    def deliver(self, email: EmailRecord) -> None:
        self._emails.append(
            CapturedEmail(
                at=email.at,
                kind=email.kind,
                connection=email.about,
                to=(email.address,),
                subject=email.subject,
                body=email.body,
            )
        )

    def drain(self) -> list[CapturedEmail]:
        out, self._emails = self._emails, []
        return out


@dataclass(frozen=True)
class ProductEnv:
    """What an in-process product is built from (the same facts a product's process
    gets as ``CONNTRACK_*`` variables): the fakes' URL and an in-process ``transport`` to
    them, the apps created for it (by protocol), the start instant, each connection's
    ``sync_every``, and ``outbox``, where it delivers its emails. ``oracle`` is what
    the in-process fakes can say about change (:class:`~conntrack._actors.ChangeOracle`):
    a product in the same process may skip a sync whose answer cannot have changed, as
    the in-process engine does."""

    scenario: Scenario
    start: datetime
    fakes_url: str
    transport: httpx.AsyncBaseTransport
    apps: dict[str, AppCredentials]
    sync_every: dict[str, timedelta]
    outbox: EmailList
    clock: WorldClock
    oracle: ChangeOracle | None = None


ProductFactory = Callable[[ProductEnv], "AbstractAsyncContextManager[Product] | Product"]


def skip_reason(scenario: Scenario, file: ProductFile | None = None) -> str | None:
    """Why a product (the one of ``file``, when given) cannot run ``scenario``: it sets
    ``policy:`` (conntrack's notification policy; a product sends by its own, so the
    scenario's reminders would be judged against another policy), a connection whose
    first connect fails (``account_type: personal``, ``linked_to_page: false``), or a
    provider the product does not support."""
    if scenario.policy is not None:
        return (
            f"{scenario.where}: the scenario sets 'policy:', conntrack's notification "
            "policy; a product sends by its own (run it without --product, or drop "
            "'policy:' and expect the product's reminders)"
        )
    for spec in scenario.connections.values():
        if (fails := spec.first_connect_fails) is not None:
            return (
                f"{spec.where}: connection '{spec.id}' has '{fails}', whose first "
                "connect fails; the harness walks a product through connects that "
                "succeed (run it without --product)"
            )
    if file is None:
        return None
    for spec in scenario.connections.values():
        reason = file.unsupported(spec.provider)
        if reason is not None:
            return f"connection '{spec.id}': {reason}"
    return None


def run_product_scenario(
    scenario: Scenario,
    product_file: str | Path | ProductFile | None = None,
    *,
    outboxes: Sequence[Outbox] | None = None,
    run: str | None = None,
    product: ProductFactory | Product | None = None,
    redirect_uri: str | None = None,
    step: timedelta | None = None,
) -> RunResult:
    """Run ``scenario`` against a product: the one ``product_file`` starts, or the one
    ``product(env)`` builds in process (a :class:`Product`, or an async context manager
    giving one, e.g. ``lambda env: ModelProduct(...).running()``), or ``product`` itself
    when it is a ready :class:`Product` (it then knows its apps and gives its emails to
    no one: build it from the env for that). The emails recorded
    also go to ``outboxes``; ``run`` names the run in their ids (default:
    :func:`~conntrack.scenario._runner.run_name`: a random run id, the scenario's name
    and seed). ``step`` is the grid between instants (default: the
    product file's ``step``, else the smallest ``sync_every``, used only while the
    product does not answer ``next``). A scenario the product cannot run (see
    :func:`skip_reason`) comes back with ``skipped``; a product that broke the
    protocol with ``error``."""
    if (product_file is None) == (product is None):
        raise ValueError("give a product file or a product factory (one of them)")
    file = None
    if product_file is not None:
        file = product_file if isinstance(product_file, ProductFile) else load_product(product_file)
    reason = skip_reason(scenario, file)
    if reason is not None:
        return _empty(scenario, skipped=reason)
    t0 = time.perf_counter()
    options = _Options(
        outboxes=list(outboxes or []),
        run=run or run_name(scenario),
        step=step if step is not None else (file.step if file else None),
        redirect_uri=redirect_uri,
    )
    try:
        if file is not None:
            result = trio.run(until_sigterm, _run_file, scenario, file, options)
        else:
            assert product is not None
            result = trio.run(until_sigterm, _run_factory, scenario, product, options)
    except BaseExceptionGroup as group:
        # One thing went wrong, deep in a nursery (a product's own): say that thing.
        leaves = _leaves(group)
        if len(leaves) == 1:
            raise leaves[0] from None
        raise
    result.stats.wall_seconds = time.perf_counter() - t0
    result.run_id = run_id_of(options.run)
    return result


@dataclass
class _Options:
    outboxes: list[Outbox] = field(default_factory=list)
    run: str = ""
    step: timedelta | None = None
    redirect_uri: str | None = None


def _empty(
    scenario: Scenario, *, skipped: str | None = None, error: str | None = None
) -> RunResult:
    start = scenario.start
    timeline = Timeline(Recorder(), start, start + scenario.until)
    return RunResult(
        scenario, timeline, [], make_users(scenario), RunStats(), skipped=skipped, error=error
    )


# -- the fakes -----------------------------------------------------------------------------


@dataclass
class _Fakes:
    """The fake providers of one run, on the world's clock."""

    clock: WorldClock
    core: fake_providers.Core
    app: Any
    profiles: dict[str, Profile]
    """By the scenario's provider name (``instagram-facebook``…)."""


def _make_fakes(scenario: Scenario) -> _Fakes:
    clock = WorldClock(scenario.start)
    by_name = {
        name: load_profile(name, scenario.profiles.get(name))
        for name in sorted({c.provider for c in scenario.connections.values()})
    }
    core = fake_providers.Core(
        clock, seed=scenario.seed, profiles={p.protocol: p for p in by_name.values()}
    )
    return _Fakes(clock, core, fake_providers.create_app(core), by_name)


@asynccontextmanager
async def _served(fakes: _Fakes, tls: Any = None) -> AsyncIterator[str]:
    """Serve the fakes over hypercorn on ``127.0.0.1`` and a free port, in this trio run
    (real time: a product in another process waits on sockets); yields their URL."""
    from hypercorn.trio import serve as hypercorn_serve

    from .._serve import make_config

    config = make_config("127.0.0.1", 0, tls)
    # Served as `conntrack serve` serves them: only loopback names, IP addresses and the
    # provider hosts are answered, so a web page that points its own name at this port
    # (DNS rebinding) cannot read the apps' secrets. The world's in-process app, which
    # its client reaches as conntrack.local, shares the core but is no socket.
    app = fake_providers.create_app(fakes.core, allow_hosts=("127.0.0.1",))
    error: BaseException | None = None
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(hypercorn_serve, app, config)
        try:
            yield str(urls[0]).rstrip("/")
        except BaseException as e:
            # Raised again outside the nursery, so that it is not wrapped in an
            # exception group: the CLI tells a product that did not start (an
            # InputError) by its type.
            error = e
        finally:
            nursery.cancel_scope.cancel()
    if error is not None:
        raise error


async def _setup(
    scenario: Scenario, fakes: _Fakes, http: httpx.AsyncClient, redirect: Callable[[str], str]
) -> tuple[dict[str, AppCredentials], dict[str, WorldAccount]]:
    """Create the apps (one a protocol, redirecting to the product) and each
    connection's provider account, as the in-process runner does."""
    control = f"{LOCAL_FAKES}/_conntrack"
    apps = await create_apps(
        http,
        control,
        sorted({p.protocol for p in fakes.profiles.values()}),
        redirect,
        {
            fakes.profiles[name].protocol: s
            for name, s in scenario.apps.items()
            if name in fakes.profiles
        },
    )
    people = {u.id: u for u in make_users(scenario)}
    accounts: dict[str, WorldAccount] = {}
    for cid, spec in scenario.connections.items():
        profile = fakes.profiles[spec.provider]
        account = await create_account(
            http,
            control,
            profile,
            people[spec.connected_by],
            spec.account_type,
            spec.linked_to_page,
        )
        accounts[cid] = WorldAccount(
            account_id=account.account_id,
            page_id=account.page_id,
            linked_account_id=account.linked_account_id,
            connected_by=spec.connected_by,
        )
    return apps, accounts


# -- one run -------------------------------------------------------------------------------


async def _run_factory(
    scenario: Scenario, factory: ProductFactory | Product, options: _Options
) -> RunResult:
    fakes = _make_fakes(scenario)
    transport = httpx.ASGITransport(app=cast(Any, fakes.app))
    async with httpx.AsyncClient(transport=transport, base_url=LOCAL_FAKES) as http:
        template = options.redirect_uri or DEFAULT_REDIRECT_URI
        apps, accounts = await _setup(
            scenario, fakes, http, lambda protocol: template.format(protocol=protocol)
        )
        emails = EmailList()
        env = ProductEnv(
            scenario=scenario,
            start=scenario.start,
            fakes_url=LOCAL_FAKES,
            transport=transport,
            apps=apps,
            sync_every={cid: c.sync_every for cid, c in scenario.connections.items()},
            outbox=emails,
            clock=fakes.clock,
            oracle=fakes.core,
        )

        def made() -> AbstractAsyncContextManager[Product] | Product:
            if hasattr(factory, "advance"):  # a ready product
                return cast(Product, factory)
            return cast(ProductFactory, factory)(env)

        return await _guarded(
            scenario, lambda: _open(made()), fakes, http, apps, accounts, emails, options
        )


@asynccontextmanager
async def _open(made: AbstractAsyncContextManager[Product] | Product) -> AsyncIterator[Product]:
    if isinstance(made, AbstractAsyncContextManager) or hasattr(made, "__aenter__"):
        async with cast(AbstractAsyncContextManager[Product], made) as product:
            yield product
    else:
        yield cast(Product, made)


async def _run_file(scenario: Scenario, file: ProductFile, options: _Options) -> RunResult:
    from ._client import HttpProduct
    from ._process import ProductProcess
    from ._smtp import SmtpCapture

    fakes = _make_fakes(scenario)
    port = free_port()
    tls = None
    try:
        with tempfile.TemporaryDirectory(prefix="conntrack-product-") as data:
            if file.tls:
                from .._tls import make_tls

                hosts = [h for p in fakes.profiles.values() for h in p.hosts]
                tls = make_tls(hosts, Path(data) / "ca.pem", bind="127.0.0.1")
            transport = httpx.ASGITransport(app=cast(Any, fakes.app))
            async with (
                httpx.AsyncClient(transport=transport, base_url=LOCAL_FAKES) as http,
                _served(fakes, tls) as fakes_url,
            ):
                apps, accounts = await _setup(
                    scenario,
                    fakes,
                    http,
                    lambda protocol: file.redirect_uri_for(protocol, port=port),
                )
                with SmtpCapture(file.emails) as smtp:
                    env = product_env(
                        scenario,
                        fakes_url=fakes_url,
                        apps=apps,
                        smtp=(smtp.host, smtp.port),
                        port=port,
                        data=Path(data) / "data",
                        ca_file=tls.ca_file if tls else None,
                    )

                    @asynccontextmanager
                    async def started() -> AsyncIterator[Product]:
                        async with (
                            ProductProcess.from_file(file, env=env, port=port) as process,
                            # No proxy from the environment: the product is on 127.0.0.1
                            # (its ready check does the same).
                            httpx.AsyncClient(trust_env=False) as client,
                        ):
                            try:
                                yield HttpProduct(file, file.base_url(port=port), client)
                            except ProductError as e:
                                raise await process.explain(e) from None

                    return await _guarded(
                        scenario, started, fakes, http, apps, accounts, smtp, options
                    )
    finally:
        if tls is not None:
            tls.close()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the product binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def product_env(
    scenario: Scenario,
    *,
    fakes_url: str,
    apps: dict[str, AppCredentials],
    smtp: tuple[str, int],
    port: int,
    data: Path,
    ca_file: Path | None = None,
    environ: dict[str, str] | None = None,
) -> dict[str, str]:
    """The ``CONNTRACK_*`` variables a product's ``start`` command gets (the spec),
    ``CONNTRACK_SYNC_EVERY``, JSON ``{connection: duration}`` from the scenario, and
    ``NO_PROXY``/``no_proxy``: ``environ``'s (default ``os.environ``) plus loopback, so
    that the product reaches the fakes and SMTP here, never through the user's proxy."""
    import json
    import os
    from dataclasses import asdict

    data.mkdir(parents=True, exist_ok=True)
    env = {
        "CONNTRACK_FAKES_URL": fakes_url,
        "CONNTRACK_SMTP_HOST": smtp[0],
        "CONNTRACK_SMTP_PORT": str(smtp[1]),
        "CONNTRACK_PRODUCT_PORT": str(port),
        "CONNTRACK_START": format_instant(scenario.start),
        "CONNTRACK_DATA_DIR": str(data),
        "CONNTRACK_APPS": json.dumps({p: asdict(a) for p, a in sorted(apps.items())}),
    }
    # Not in the protocol: how often the scenario says each connection syncs, for a
    # product that takes its cadence from the test (conntrack's reference product).
    env["CONNTRACK_SYNC_EVERY"] = json.dumps(
        {cid: format_duration(c.sync_every) for cid, c in scenario.connections.items()}
    )
    if ca_file is not None:
        env["CONNTRACK_CA_FILE"] = str(ca_file)
    for protocol, a in sorted(apps.items()):
        up = protocol.upper()
        env[f"CONNTRACK_{up}_CLIENT_ID"] = a.client_id
        env[f"CONNTRACK_{up}_CLIENT_SECRET"] = a.client_secret
        env[f"CONNTRACK_{up}_REDIRECT_URI"] = a.redirect_uri
    # Tools read one spelling or the other (Python's lower case first): each keeps its
    # value (else the other's), loopback appended; "*" (no proxy at all) stays as is.
    outer = os.environ if environ is None else environ
    for name, other in (("NO_PROXY", "no_proxy"), ("no_proxy", "NO_PROXY")):
        given = [h.strip() for h in (outer.get(name) or outer.get(other) or "").split(",")]
        given = [h for h in given if h]
        loopback = ("127.0.0.1", "localhost", "::1")
        env[name] = ",".join(given + [h for h in loopback if h not in given and "*" not in given])
    return env


async def _guarded(
    scenario: Scenario,
    opening: Callable[[], AbstractAsyncContextManager[Product]],
    fakes: _Fakes,
    http: httpx.AsyncClient,
    apps: dict[str, AppCredentials],
    accounts: dict[str, WorldAccount],
    emails: EmailSource,
    options: _Options,
) -> RunResult:
    """Open the product, walk the scenario, close the product; a :class:`ProductError`
    anywhere (also while opening or closing) becomes the result's ``error``."""
    users = make_users(scenario)
    observer = Observer(scenario, users, run=options.run, outboxes=options.outboxes)
    world = WorldControl(
        http,
        f"{LOCAL_FAKES}/_conntrack",
        client_ids={
            cid: apps[fakes.profiles[c.provider].protocol].client_id
            for cid, c in scenario.connections.items()
        },
        protocols={
            cid: fakes.profiles[c.provider].protocol for cid, c in scenario.connections.items()
        },
        people={u.id: u for u in users},
    )
    walk = Walk(
        scenario,
        clock=fakes.clock,
        http=http,
        world=world,
        accounts=accounts,
        observer=observer,
        users=users,
        emails=emails,
        step=options.step,
    )
    until = scenario.start + scenario.until
    try:
        async with opening() as product:
            await walk.run(product)
    except BaseException as e:  # a ProductError may come in a group (a nursery)
        error = _product_error(e)
        if error is None:
            raise
        timeline = Timeline(observer.recorder, scenario.start, until)
        return RunResult(
            scenario,
            timeline,
            [],
            users,
            RunStats(timers_fired=walk.instants, requests=walk.calls),
            error=str(error),
        )
    timeline = Timeline(observer.recorder, scenario.start, until)
    outcomes = check_all(scenario, timeline, users)
    return RunResult(
        scenario,
        timeline,
        outcomes,
        users,
        RunStats(timers_fired=walk.instants, requests=walk.calls),
    )


def _leaves(e: BaseException) -> list[BaseException]:
    if isinstance(e, BaseExceptionGroup):
        return [leaf for x in e.exceptions for leaf in _leaves(x)]
    return [] if isinstance(e, trio.Cancelled) else [e]


def _product_error(e: BaseException) -> ProductError | None:
    """The :class:`ProductError` that ended a run, also from inside an exception group
    (a product's nursery), when it is the only kind of thing that went wrong."""
    if isinstance(e, ProductError):
        return e
    if isinstance(e, BaseExceptionGroup):
        found = [_product_error(x) for x in e.exceptions]
        if found and all(f is not None for f in found):
            return found[0]
    return None


__all__ = [
    "EmailList",
    "EmailSource",
    "ProductEnv",
    "ProductFactory",
    "Terminated",
    "WorldClock",
    "run_product_scenario",
    "skip_reason",
]
