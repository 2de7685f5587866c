"""Run one scenario: build the world, start the actors, replay the timeline in virtual time.

Everything happens inside one ``trio.run`` on a :class:`~conntrack._clock.SimClock`:
the fake providers (an in-process ASGI app), the product's connection actors, the users,
the notifier and the scenario driver. The world is set up through the fake's control API
and every connection is first made through the real OAuth flow, exactly as a reconnect.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
import trio
from faker import Faker

import fake_providers

from .._actors import ConnectionActor
from .._clock import PRIORITY_WORLD, Scheduler, SimClock
from .._dozing import Dozing
from .._driver import ScenarioDriver, UserActor
from .._lifecycle import State, TransitionRecord
from .._notify import MemoryOutbox, Notifier, Outbox, Subject, User
from .._policy import PolicySet, default_policy
from .._profiles import Profile, load_profile
from .._records import Record, Recorder, Timeline, check_run_id, new_run_id
from .._worldcontrol import WorldEvent, create_account, create_apps, world_events
from ..clients import ClientContext, make_client
from ._expectations import Outcome, check_all
from ._model import Scenario

BASE = "http://conntrack.local"
CONTROL = f"{BASE}/_conntrack"
REDIRECT_URI = "https://app.conntrack.test/oauth/callback"
#: How the 404 for a provider the scenario's world does not serve says to serve it.
RUN_HINT = "a scenario's world serves the providers of its connections: add a connection of it"
#: Where the fakes keep the Instagram accounts linked to Facebook Pages: a world with a
#: connection about one (``create_account``'s ``linked_instagram``) serves it too.
LINKED_PROTOCOL = "instagram"


def _linked(profile: Profile) -> bool:
    """Whether ``profile``'s connections are about an Instagram account linked to a Page
    (what ``create_account`` asks the fakes for)."""
    return profile.get("resource") == "instagram_business_account"


class QuietCookies(httpx.Cookies):
    """httpx's cookie jar, skipped for an answer that sets no cookie.

    httpx hands every answer to :meth:`http.cookiejar.CookieJar.extract_cookies`
    through two urllib adapters (a ``urllib.request.Request`` each time): about 5 % of a
    first login's Python calls (issue 15), though the world's answers set no cookie
    (only ``conntrack serve``'s control-token login does). Without a ``Set-Cookie`` or
    ``Set-Cookie2`` header the jar would find nothing to keep (``make_cookies``' quick
    exit), so skipping it changes nothing; an answer with one goes through the jar.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class WorldClient(httpx.AsyncClient):
    """httpx's client, with a request's ``params`` put in its URL string first.

    For ``get(url, params=...)`` httpx parses the URL, then builds a second URL with the
    query (``copy_merge_params``), which checks every character of every component again
    in Python: about 4 % of a first login's calls (its Graph calls carry the tokens and
    the app secret as parameters). A URL with no query or fragment of its own, on a
    client with no ``params`` of its own, gets the query httpx would have made
    (``str(httpx.QueryParams(params))``, what ``copy_merge_params`` puts there) before it
    is parsed once; the URL sent is the same (tests/scenario/test_world_client.py
    compares them). Any other case goes through httpx as it is.
    """

    def build_request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        params: Any = None,
        **kwargs: Any,
    ) -> httpx.Request:
        plain = isinstance(url, str) and "?" not in url and "#" not in url
        if params and plain and not self.params:
            query = str(httpx.QueryParams(params))
            if query:
                url, params = f"{url}?{query}", None
        return super().build_request(method, url, params=params, **kwargs)


def world_client(
    app: object, count: Callable[[httpx.Request], Awaitable[None]]
) -> httpx.AsyncClient:
    """The in-process client of a run's world: ``app`` through httpx's ASGI transport,
    ``count`` called on every request, the query put in the URL before it is parsed
    (:class:`WorldClient`), the cookie jar skipped where it finds nothing
    (:class:`QuietCookies`)."""
    # QuartTrio's precise ASGI types are narrower than httpx's; it is an ASGI app.
    transport = httpx.ASGITransport(app=cast(Any, app))
    http = WorldClient(transport=transport, base_url=BASE, event_hooks={"request": [count]})
    # httpx's public setter copies into a plain Cookies; the client reads self._cookies
    # (tests/scenario/test_world_client.py checks the jar in use is this one).
    http._cookies = QuietCookies()
    return http


@dataclass
class RunStats:
    wall_seconds: float = 0.0
    timers_fired: int = 0
    requests: int = 0


@dataclass
class RunResult:
    scenario: Scenario
    timeline: Timeline
    outcomes: list[Outcome]
    users: list[User]
    stats: RunStats = field(default_factory=RunStats)
    policy: PolicySet | None = None
    """The notification policy the run used."""
    skipped: str | None = None
    """Why the scenario was not run (a product that does not support one of its
    providers); ``None`` when it ran."""
    error: str | None = None
    """What broke when the run could not finish (a product that broke the product test
    protocol: the request and the answer); ``None`` when it finished. An error is not a
    failure: no expectation was judged on it."""
    run_id: str = ""
    """The run's id, part of every email's id (:func:`run_name`): random unless pinned
    (``conntrack run --run-id``, ``run_scenario(run_id=...)``); the JSON report and the
    outbox rows say it."""

    @property
    def passed(self) -> bool:
        return self.error is None and all(o.passed for o in self.outcomes)


#: The faker providers the people's names need (``company`` formats with ``last_name``):
#: a Faker of these gives the same names as ``Faker("en_US")`` with its 26 providers,
#: whose making scans every provider's locales (~18 ms, a tenth of a short run).
FAKER_PROVIDERS = ["faker.providers.company", "faker.providers.person"]


def make_users(scenario: Scenario) -> list[User]:
    """The company's people: faker-made, from the scenario's seed."""
    fake = Faker("en_US", providers=FAKER_PROVIDERS)
    fake.seed_instance(scenario.seed)
    company = scenario.company.name or fake.company()
    domain = re.sub(r"[^a-z0-9]+", "", company.lower())[:20] or "example"
    users = []
    for uid in scenario.users:
        first, last = fake.first_name(), fake.last_name()
        email = f"{first}.{last}@{domain}.test".lower()
        users.append(User(uid, f"{first} {last}", email, uid in scenario.company.opt_out))
    return users


def run_scenario(
    scenario: Scenario,
    *,
    outboxes: list[Outbox] | None = None,
    exact_sync: bool = False,
    policy: PolicySet | None = None,
    react: Reacting | None = None,
    run: str | None = None,
    run_id: str | None = None,
    notice: Noticing | None = None,
) -> RunResult:
    """Replay ``scenario``; ``exact_sync`` makes every sync a real request (no elision);
    ``policy`` is the notification policy in force (default: the packaged one), under
    the scenario's own ``policy:`` overrides; ``react(connection, kind, sent_at)`` says
    after how long someone reconnects after an email (``None``: nobody) — the user
    behaviour of population runs; ``notice(connection, state, since)`` says, for a
    connection that became ``expired`` or ``invalid`` at ``since``, after how long someone
    reconnects it without an email (they saw the banner, the settings message or missing
    data) and after how long its company disconnects it if nobody has reconnected it by
    then (each ``None``: never) — population runs' too. ``run`` names the run in every
    email's id (default: :func:`run_name` of ``run_id``, itself random by default: two
    calls are two runs, their emails' ids disjoint; the same ``run_id`` gives the same
    ids again). Everything but the ids is the same from one call to the next. Raises
    ``ValueError`` for a ``run_id`` that :func:`~conntrack._records.check_run_id` refuses."""
    if run is None:
        run = run_name(scenario, run_id=run_id)
    elif run_id is not None:
        raise ValueError(
            "give run or run_id, not both (run_name(scenario, run_id=...) names a run)"
        )
    sim = SimClock(scenario.start)
    t0 = time.perf_counter()
    in_force = policy_in_force(scenario, policy)
    result: RunResult = trio.run(
        _run,
        scenario,
        sim,
        list(outboxes or []),
        exact_sync,
        in_force,
        react,
        run,
        notice,
        clock=sim.mock_clock,
    )
    result.policy = in_force
    result.run_id = run_id_of(run)
    result.stats.wall_seconds = time.perf_counter() - t0
    return result


def policy_in_force(scenario: Scenario, base: PolicySet | None = None) -> PolicySet:
    """``base`` (default: the packaged policy) under the scenario's ``policy:``."""
    policy = base or default_policy()
    return scenario.policy.apply(policy) if scenario.policy else policy


#: Whether healthy connections sleep through their elided syncs (:mod:`conntrack._dozing`);
#: tests turn it off to compare with a timer a sync.
DOZE = True

Reacting = Callable[[str, str, datetime], timedelta | None]
Noticing = Callable[[str, str, datetime], tuple[timedelta | None, timedelta | None]]
DEAD = (State.EXPIRED.value, State.INVALID.value)


class _Watched(Recorder):
    """A recorder that also hands every transition to ``watch`` (``run_scenario``'s
    ``notice``)."""

    def __init__(self, watch: Callable[[TransitionRecord], None]) -> None:
        super().__init__()
        self._watch = watch

    def add(self, rec: Record) -> None:
        super().add(rec)
        if isinstance(rec, TransitionRecord):
            self._watch(rec)


def run_name(scenario: Scenario, repeat: int = 0, run_id: str | None = None) -> str:
    """What a run is called in its emails' ids (:func:`~conntrack._records.email_id`):
    the ``run_id`` (default: a fresh random one; a given one is checked), a tab, the
    scenario's name and seed, and, for the ``repeat``-th other run of the same name and
    seed in one invocation (a copy of a file), that count, so their ids differ. A run id
    holds no tab, so no two (run id, scenario) pairs share a name."""
    run_id = new_run_id() if run_id is None else check_run_id(run_id)
    name = f"{run_id}\t{scenario.name} (seed {scenario.seed})"
    return f"{name} #{repeat + 1}" if repeat else name


def run_id_of(run: str) -> str:
    """The run id in a :func:`run_name` (``""`` for a name made otherwise)."""
    head, tab, _ = run.partition("\t")
    return head if tab else ""


async def _run(
    scenario: Scenario,
    sim: SimClock,
    outboxes: list[Outbox],
    exact_sync: bool,
    policy: PolicySet,
    react: Reacting | None,
    run: str,
    notice: Noticing | None = None,
) -> RunResult:
    start, until = scenario.start, scenario.start + scenario.until
    # The profile in force for each protocol: the one the scenario's connections name.
    profiles_by_name = {
        name: load_profile(name, scenario.profiles.get(name))
        for name in sorted({c.provider for c in scenario.connections.values()})
    }
    profiles: dict[str, Profile] = {p.protocol: p for p in profiles_by_name.values()}
    # The world serves the providers of the scenario's connections only: an app of one
    # provider compiles a fifth of the routes and imports one provider package, not six.
    # A request for another provider's host gets a 404 that says why (RUN_HINT).
    served = set(profiles) | {LINKED_PROTOCOL for p in profiles.values() if _linked(p)}
    core = fake_providers.Core(sim, seed=scenario.seed, profiles=profiles, enabled=served)
    app = fake_providers.create_app(core, enable_hint=RUN_HINT)
    recorder = Recorder() if notice is None else _Watched(lambda rec: noticed(rec))
    scheduler = Scheduler(sim)
    # Healthy connections sleep through their elided syncs (issue 15), not with
    # --exact-sync, where every sync is a request.
    dozing = None if exact_sync or not DOZE else Dozing(core)
    if dozing is not None:
        scheduler.watch(dozing.check)
    users = make_users(scenario)
    memory = MemoryOutbox()
    stats = RunStats()

    async def count(request: httpx.Request) -> None:
        stats.requests += 1

    async with world_client(app, count) as http:
        actors: dict[str, ConnectionActor] = {}
        first = set(scenario.members_at(timedelta(0)))
        notifier = Notifier(
            scheduler,
            recorder,
            [u for u in users if u.id in first],
            [memory, *outboxes],
            state_of=lambda cid: actors[cid].state,
            policies={
                (c.provider, c.kind): policy.for_(c.provider, c.kind)
                for c in scenario.connections.values()
            },
            tz=ZoneInfo(scenario.company.timezone),
            send_at=policy.send_at,
            on_send=None
            if react is None
            else (lambda subject, kind, at: reaction(subject, kind, at)),
            run=run,
        )
        creds = await create_apps(
            http,
            CONTROL,
            profiles,
            lambda protocol: REDIRECT_URI,
            {
                profiles_by_name[name].protocol: settings
                for name, settings in scenario.apps.items()
                if name in profiles_by_name
            },
        )
        by_id = {u.id: u for u in users}
        rng = Random(scenario.seed)
        for cid, spec in scenario.connections.items():
            profile = profiles_by_name[spec.provider]
            protocol = profile.protocol
            account = await create_account(
                http,
                CONTROL,
                profile,
                by_id[spec.connected_by],
                spec.account_type,
                spec.linked_to_page,
            )
            resource = account.resource
            conn_rng = Random(rng.getrandbits(64))
            client = make_client(
                ClientContext(
                    http=http,
                    base=BASE,
                    app=creds[protocol],
                    profile=profile,
                    clock=sim,
                    resource=resource,
                    rng=conn_rng.randbytes,
                )
            )
            label = _label(account.data, resource)
            actors[cid] = ConnectionActor(
                id=cid,
                client=client,
                subject=Subject(cid, spec.provider, spec.kind, label, str(profile["display_name"])),
                account_id=account.account_id,
                page_id=account.page_id,
                linked_account_id=account.linked_account_id,
                sync_every=spec.sync_every,
                notice_window=policy.for_(spec.provider, spec.kind).window(
                    profile.lifetime("notice_window") or timedelta(0)
                ),
                scheduler=scheduler,
                recorder=recorder,
                notifier=notifier,
                oracle=None if exact_sync else core,
                rng=conn_rng,
                connected_by=spec.connected_by,
                scopes=spec.scopes,
                dozing=dozing,
            )
        user_actors = {u.id: UserActor(u.id, http, recorder, sim.now) for u in users}
        driver = ScenarioDriver(
            http=http,
            control=CONTROL,
            scheduler=scheduler,
            recorder=recorder,
            actors=actors,
            users=user_actors,
            client_ids={
                cid: creds[profiles_by_name[c.provider].protocol].client_id
                for cid, c in scenario.connections.items()
            },
            protocols={
                cid: profiles_by_name[c.provider].protocol
                for cid, c in scenario.connections.items()
            },
            notifier=notifier,
            people=by_id,
        )

        def reaction(subject: Subject, kind: str, at: datetime) -> None:
            assert react is not None
            delay = react(subject.connection, kind, at)
            if delay is not None:
                driver.plan(WorldEvent(at + delay, "reconnect", subject.connection, after_send=at))

        def noticed(rec: TransitionRecord) -> None:
            """A connection died: plan what ``notice`` says people do about it."""
            if notice is None or rec.dest not in DEAD or rec.source == rec.dest:
                return
            again, abandon = notice(rec.connection, rec.dest, rec.at)
            if again is not None:  # dropped if someone reconnected since it died
                driver.plan(WorldEvent(rec.at + again, "reconnect", rec.connection,
                                       after_send=rec.at))  # fmt: skip
            if abandon is not None:
                scheduler.call_at(rec.at + abandon, lambda: abandoned(rec),
                                  priority=PRIORITY_WORLD, key=rec.connection)  # fmt: skip

        def abandoned(died: TransitionRecord) -> None:
            """Disconnected by its company if it is still dead since ``died``."""
            actor = actors[died.connection]
            last = actor.last_login
            if actor.state in DEAD and (last is None or last <= died.at):
                driver.plan(WorldEvent(sim.now(), "disconnect", died.connection))

        for event in world_events(scenario):
            driver.plan(event)

        async with trio.open_nursery() as nursery:
            for actor in actors.values():
                nursery.start_soon(actor.run)
            for user in user_actors.values():
                nursery.start_soon(user.run)
            nursery.start_soon(driver.run)
            await scheduler.run(until)
            if dozing is not None:
                dozing.flush(until)
            nursery.cancel_scope.cancel()
    stats.timers_fired = scheduler.fired
    timeline = Timeline(recorder, start, until)
    outcomes = check_all(scenario, timeline, users)
    return RunResult(scenario, timeline, outcomes, users, stats)


def _label(account: dict[str, Any], resource: str | None) -> str:
    """How emails name the connection: the page's name, else the account's."""
    for page in account.get("pages") or []:
        if str(page.get("id")) == resource and page.get("name"):
            return str(page["name"])
    return str(account.get("name") or account.get("id"))
