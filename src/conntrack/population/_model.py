"""A population: a seeded customer base, a disruption model and a user-behaviour model.

Written as YAML (every key optional; the defaults make a plausible base)::

    companies: 1000
    days: 365
    start: 2026-01-05T00:00:00Z
    seed: 1
    users: [1, 5]                 # users per company, uniform inclusive
    connections: [1, 4]           # connections per company
    sync_every: 6h
    opt_out: 0.1                  # share of users who opted out of reminder emails
    providers: {facebook: 40, instagram-facebook: 15, instagram: 5, linkedin: 15,
                tiktok: 10, twitter: 10, google: 5}        # mix (weights)
    kinds: {owned: 80, monitored: 15, paid: 5}
    disruptions:                  # yearly rate per connection (a Poisson process)
      password_change: 0.4
      app_removed: 0.1
      username_change: 0.05
      checkpoint: 0.05            # cleared by itself after checkpoint_clears_after
      admin_removed: 0.02         # the person loses the page role for good
    checkpoint_clears_after: 2d
    behaviour:                    # per email kind: does someone reconnect after it, when
      expiry_reminder: {reconnect: 0.35, after: {median: 1d, spread: 1.0}}
      invalid: {reconnect: 0.7, after: {median: 12h, spread: 0.8}}
    day_one: steady               # or fresh: every connection connects on day one
    history: 3650d                # steady: how far back the base's past may reach
    churn: {connections: 0.3, companies: 0}   # yearly rates (Poisson): disconnected, leave
    arrivals: balance             # or {per_company_month: 0.1} / {per_day: 30}, with an
                                  # optional providers/kinds mix (default: the base's)
    unprompted: 0.02              # [U] daily chance that someone reconnects an expired or
                                  # invalid connection without an email
    abandon: {after: 60d, chance: 0.5}   # [U] dead that long: its company disconnects it

``after`` is a log-normal delay (``median`` and ``spread`` = sigma of its logarithm).

``day_one: steady`` (the default) starts the run in the middle of the base's life, as a
product manager sees a normal day: each connection present on day one arrived some time
before it, its age drawn from what constant arrivals and the connection churn leave
(exponential, cut at ``history``), and its past is played by the same engine from that
arrival — logins, reminders, reconnects, expiries, disruptions — without being counted,
so reminders and expiries fall on day one as on any other day. ``fresh`` is the older
behaviour: every connection connects on day one, and the 60-day cohorts show as spikes.

An expired or invalid connection is not only reconnected after an email: each day it
stays dead, someone may reconnect it unprompted (``unprompted``, a daily chance: they saw
the banner on the dashboard, the message under Settings or missing data — Highviz's "You
may see" list), and once it has been dead for ``abandon.after`` its company disconnects it
with ``abandon.chance`` (churn). Both are drawn from a hash of the death itself, like the
reactions to emails, so both engines and every worker draw the same, and they take no
draw from a company's generators: with both at 0 a base is what it was before them.

Problems are reported as ``file:line: message`` like scenario files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import _limits
from .._durations import DurationError, format_duration, parse_duration, parse_instant
from .._exceptions import ScenarioError
from .._limits import MAX_CONNECTIONS, MAX_DAYS, start_problem
from .._profiles import providers
from ..scenario._marks import DocReader, read_one, suggest
from ..scenario._marks import Path as DataPath

#: A company has at most as many users as a scenario's (``company: {users: N}``).
MAX_COMPANY_USERS = 10_000

#: A run has at most a million companies (file or ``--companies``).
MAX_COMPANIES = 1_000_000

#: A run simulates at most 50 million connection-days (companies x their mean number of
#: connections x days): a year of about 137 000 connections, a little over a minute on
#: one core at the direct engine's measured ~750 000 connection-days/s (docs/performance.md).
MAX_CONNECTION_DAYS = 50_000_000

#: At most 32 worker processes (``--workers``); more than the machine's cores are no faster.
MAX_WORKERS = 32

#: The account events a population's disruption model may use. A ``checkpoint`` is
#: cleared by itself ``checkpoint_clears_after`` later (default 2 days).
DISRUPTIONS = ("password_change", "app_removed", "username_change", "checkpoint", "admin_removed")
EMAIL_KINDS = ("expiry_reminder", "invalid")
KINDS = ("owned", "monitored", "paid")
DAY_ONE = ("steady", "fresh")
#: Units of ``arrivals``: new connections per company a day/month, or base-wide.
ARRIVAL_RATES = {"per_company_day": 1.0, "per_company_month": 12 / 365, "per_day": 1.0,
                 "per_month": 12 / 365}  # fmt: skip
CHURN_KEYS = ("connections", "companies")
ABANDON_KEYS = ("after", "chance")
KEYS = (
    "companies", "days", "start", "seed", "users", "connections", "sync_every", "opt_out",
    "providers", "kinds", "disruptions", "checkpoint_clears_after", "behaviour", "day_one",
    "history", "churn", "arrivals", "unprompted", "abandon",
)  # fmt: skip


class PopulationError(ScenarioError):
    """A population file that does not load: every problem, each with file:line."""


@dataclass(frozen=True)
class Reaction:
    """After an email of one kind: the chance someone reconnects, and the delay."""

    reconnect: float
    median: timedelta
    spread: float


@dataclass(frozen=True)
class Churn:
    """Yearly rates (Poisson) at which a connection is disconnected by its company and
    at which a company leaves (every connection of it disconnected at once)."""

    connections: float = 0.3
    companies: float = 0.0


@dataclass(frozen=True)
class Abandon:
    """A connection dead (expired or invalid) for ``after`` without anyone reconnecting it
    is disconnected by its company then, with ``chance`` (once)."""

    after: timedelta = timedelta(days=60)
    chance: float = 0.5


@dataclass(frozen=True)
class Arrivals:
    """New connections over time: ``per_day`` of one company (``base``: of the whole base,
    spread evenly over its companies), with their own mix or the base's."""

    per_day: float
    base: bool = False
    providers: dict[str, float] | None = None
    kinds: dict[str, float] | None = None


@dataclass(frozen=True)
class PopulationSpec:
    companies: int = 100
    days: int = 365
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)
    seed: int = 1
    users: tuple[int, int] = (1, 5)
    connections: tuple[int, int] = (1, 4)
    sync_every: timedelta = timedelta(hours=6)
    opt_out: float = 0.1
    providers: dict[str, float] = field(
        default_factory=lambda: {
            "facebook": 40.0,
            "instagram-facebook": 15.0,
            "instagram": 5.0,
            "linkedin": 15.0,
            "tiktok": 10.0,
            "twitter": 10.0,
            "google": 5.0,
        }
    )
    kinds: dict[str, float] = field(
        default_factory=lambda: {"owned": 80.0, "monitored": 15.0, "paid": 5.0}
    )
    disruptions: dict[str, float] = field(
        default_factory=lambda: {"password_change": 0.4, "app_removed": 0.1,
                                 "username_change": 0.05, "checkpoint": 0.05,
                                 "admin_removed": 0.02}
    )  # fmt: skip
    checkpoint_clears_after: timedelta = timedelta(days=2)
    behaviour: dict[str, Reaction] = field(
        default_factory=lambda: {
            "expiry_reminder": Reaction(0.35, timedelta(days=1), 1.0),
            "invalid": Reaction(0.7, timedelta(hours=12), 0.8),
        }
    )
    day_one: str = "steady"
    history: timedelta = timedelta(days=3650)
    churn: Churn = field(default_factory=Churn)
    arrivals: Arrivals | None = None
    """``None``: as many as the connection churn takes away (the base keeps its size)."""
    unprompted: float = 0.02
    """[U] Each day a connection is expired or invalid, the chance that someone reconnects
    it without an email (the banner, the settings message, missing data)."""
    abandon: Abandon = field(default_factory=Abandon)
    """[U] When a connection dead for long is disconnected by its company."""

    @property
    def until(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def arrivals_per_day(self) -> float:
        """New connections a company gets a day, on average."""
        if self.arrivals is None:
            return self.churn.connections / 365 * mean_connections(self)
        if self.arrivals.base:
            return self.arrivals.per_day / self.companies
        return self.arrivals.per_day


class _Reader(DocReader):
    """Reads one population model, collecting every problem (see :class:`DocReader`)."""

    def keys(
        self, value: dict[str, Any], path: DataPath, allowed: Sequence[str], what: str
    ) -> None:
        for name in value:
            if name not in allowed:
                self.problem((*path, name), f"unknown {what} '{name}'{suggest(name, allowed)} "
                             f"(allowed: {', '.join(allowed)})", key=True)  # fmt: skip

    def count(self, value: Any, path: DataPath, low: int = 1) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.problem(path, f"'{path[-1]}' must be a whole number >= {low}; got {value!r}")
            return None
        if path[-1] == "companies" and value > MAX_COMPANIES:
            self.problem(path, f"'companies' {companies_problem(value)}")
            return None
        return value

    def share(self, value: Any, path: DataPath) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.problem(path, f"'{path[-1]}' must be a share between 0 and 1; got {value!r}")
            return None
        return float(value)

    def range_(self, value: Any, path: DataPath) -> tuple[int, int] | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value, value]
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
            or value[0] > value[1]
        ):
            self.problem(path, f"'{path[-1]}' must be a number >= 1 or a range [low, high] "
                         f"like [1, 5]; got {value!r}")  # fmt: skip
            return None
        return (value[0], value[1])

    def duration(self, value: Any, path: DataPath) -> timedelta | None:
        try:
            d = parse_duration(value)
        except DurationError as e:
            self.problem(path, f"'{path[-1]}': {e}")
            return None
        if d <= timedelta(0):
            self.problem(path, f"'{path[-1]}' must be more than 0, like 6h")
            return None
        return d

    def weights(
        self, value: Any, path: DataPath, allowed: Sequence[str], what: str
    ) -> dict[str, float] | None:
        if not isinstance(value, dict) or not value:
            self.problem(path, f"'{path[-1]}' must be a mapping of {what} to weights, like "
                         f"{{{allowed[0]}: 1}}")  # fmt: skip
            return None
        out: dict[str, float] = {}
        for name, w in value.items():
            if name not in allowed:
                self.problem((*path, name), f"unknown {what} '{name}'{suggest(name, allowed)} "
                             f"(allowed: {', '.join(allowed)})", key=True)  # fmt: skip
            elif isinstance(w, bool) or not isinstance(w, int | float) or w < 0:
                self.problem((*path, name), f"the weight of '{name}' must be a number >= 0")
            else:
                out[name] = float(w)
        if out and not any(out.values()):
            self.problem(path, f"'{path[-1]}': at least one weight must be more than 0")
        return out

    def read(self) -> PopulationSpec | None:
        data = self.doc.data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problem((), "a population file is a mapping of keys like 'companies:', 'days:'")
            return None
        self.keys(data, (), KEYS, "key")
        spec: dict[str, Any] = {}
        for key in ("companies", "days"):
            if key in data:
                spec[key] = self.count(data[key], (key,))
        if (spec.get("days") or 0) > MAX_DAYS:
            self.problem(("days",), f"'days' {days_problem(spec['days'])}")
        if "seed" in data:
            spec["seed"] = self.count(data["seed"], ("seed",), low=0)
        if "start" in data:
            try:
                spec["start"] = parse_instant(str(data["start"]))
            except DurationError as e:
                self.problem(("start",), f"'start': {e}")
            else:
                wrong = start_problem(spec["start"])
                if wrong is not None:
                    self.problem(("start",), f"'start' {wrong}")
        for key, most in (("users", MAX_COMPANY_USERS), ("connections", MAX_CONNECTIONS)):
            if key in data:
                spec[key] = self.range_(data[key], (key,))
                if spec[key] is not None and spec[key][1] > most:
                    self.problem((key,), f"'{key}' must be at most {most} a company (a "
                                 f"scenario's limit); got {spec[key][1]}")  # fmt: skip
                    spec[key] = None
        if "sync_every" in data:
            spec["sync_every"] = self.duration(data["sync_every"], ("sync_every",))
        if "opt_out" in data:
            spec["opt_out"] = self.share(data["opt_out"], ("opt_out",))
        if "providers" in data:
            spec["providers"] = self.weights(data["providers"], ("providers",), providers(),
                                             "provider")  # fmt: skip
        if "kinds" in data:
            spec["kinds"] = self.weights(data["kinds"], ("kinds",), KINDS, "connection kind")
        if "disruptions" in data:
            spec["disruptions"] = self.weights(data["disruptions"], ("disruptions",),
                                               DISRUPTIONS, "disruption")  # fmt: skip
        if "checkpoint_clears_after" in data:
            spec["checkpoint_clears_after"] = self.duration(
                data["checkpoint_clears_after"], ("checkpoint_clears_after",)
            )
        if "behaviour" in data:
            spec["behaviour"] = self.behaviour(data["behaviour"])
        if "day_one" in data:
            spec["day_one"] = self.choice(data["day_one"], ("day_one",), DAY_ONE)
        if "history" in data:  # at most 100 years, as every duration
            spec["history"] = self.duration(data["history"], ("history",))
        if "churn" in data:
            spec["churn"] = self.churn(data["churn"])
        if "arrivals" in data:
            spec["arrivals"] = self.arrivals(data["arrivals"])
        if "unprompted" in data:
            spec["unprompted"] = self.daily_chance(data["unprompted"], ("unprompted",))
        if "abandon" in data:
            spec["abandon"] = self.abandon(data["abandon"])
        if self.problems:
            return None
        return PopulationSpec(**{k: v for k, v in spec.items() if v is not None})

    def choice(self, value: Any, path: DataPath, allowed: Sequence[str]) -> str | None:
        if value not in allowed:
            self.problem(path, f"'{path[-1]}' must be one of {', '.join(allowed)}; got "
                         f"{value!r}")  # fmt: skip
            return None
        return str(value)

    def rate(self, value: Any, path: DataPath, unit: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.problem(path, f"'{path[-1]}' must be a number >= 0 ({unit}); got {value!r}")
            return None
        return float(value)

    def daily_chance(self, value: Any, path: DataPath) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            self.problem(path, f"'{path[-1]}' must be a daily chance from 0 up to (not "
                         f"including) 1, like 0.02; got {value!r}")  # fmt: skip
            return None
        return float(value)

    def abandon(self, value: Any) -> Abandon | None:
        path: DataPath = ("abandon",)
        if not isinstance(value, dict):
            self.problem(path, "'abandon' must be a mapping like {after: 60d, chance: 0.5} "
                         f"(chance 0: never); got {value!r}")  # fmt: skip
            return None
        self.keys(value, path, ABANDON_KEYS, "key")
        default = Abandon()
        after = self.duration(value["after"], (*path, "after")) if "after" in value else None
        chance = self.share(value["chance"], (*path, "chance")) if "chance" in value else None
        if ("after" in value and after is None) or ("chance" in value and chance is None):
            return None
        return Abandon(after or default.after, default.chance if chance is None else chance)

    def churn(self, value: Any) -> Churn | None:
        path: DataPath = ("churn",)
        if not isinstance(value, dict):
            self.problem(path, "'churn' must be a mapping of yearly rates, like "
                         "{connections: 0.3, companies: 0}")  # fmt: skip
            return None
        self.keys(value, path, CHURN_KEYS, "key")
        rates = {
            k: self.rate(value[k], (*path, k), "a yearly rate, like 0.3")
            for k in CHURN_KEYS
            if k in value
        }
        if any(r is None for r in rates.values()):
            return None
        return Churn(**{k: r for k, r in rates.items() if r is not None})

    def arrivals(self, value: Any) -> Arrivals | None:
        path: DataPath = ("arrivals",)
        example = "'balance' or a mapping like {per_company_month: 0.1}"
        if value == "balance":
            return None
        if not isinstance(value, dict):
            self.problem(path, f"'arrivals' must be {example}; got {value!r}")
            return None
        self.keys(value, path, (*ARRIVAL_RATES, "providers", "kinds"), "key")
        given = [k for k in ARRIVAL_RATES if k in value]
        if len(given) != 1:
            self.problem(path, f"'arrivals' needs exactly one rate of {', '.join(ARRIVAL_RATES)}"
                         f"; got {len(given)}")  # fmt: skip
            return None
        key = given[0]
        rate = self.rate(value[key], (*path, key), "new connections on average")
        mix = {
            k: self.weights(value[k], (*path, k), allowed, what)
            for k, allowed, what in (("providers", providers(), "provider"),
                                     ("kinds", KINDS, "connection kind"))
            if k in value
        }  # fmt: skip
        if rate is None or any(m is None for m in mix.values()):
            return None
        return Arrivals(rate * ARRIVAL_RATES[key], not key.startswith("per_company"), **mix)

    def behaviour(self, value: Any) -> dict[str, Reaction] | None:
        path: DataPath = ("behaviour",)
        if not isinstance(value, dict):
            example = "{invalid: {reconnect: 0.7, after: {median: 12h, spread: 0.8}}}"
            self.problem(path, f"'behaviour' must map email kinds to reactions, like {example}")
            return None
        self.keys(value, path, EMAIL_KINDS, "email kind")
        out = dict(PopulationSpec().behaviour)
        for kind in EMAIL_KINDS:
            item = value.get(kind)
            if item is None:
                continue
            here = (*path, kind)
            if not isinstance(item, dict):
                self.problem(here, f"'{kind}' must be {{reconnect: 0.5, after: {{median: 1d, "
                             "spread: 1.0}}}}")  # fmt: skip
                continue
            self.keys(item, here, ("reconnect", "after"), "key")
            share = self.share(item.get("reconnect", 0.0), (*here, "reconnect"))
            after = item.get("after", {"median": "1d", "spread": 1.0})
            if not isinstance(after, dict):
                self.problem((*here, "after"), "'after' must be {median: 1d, spread: 1.0}")
                continue
            self.keys(after, (*here, "after"), ("median", "spread"), "key")
            median = self.duration(after.get("median", "1d"), (*here, "after", "median"))
            spread = after.get("spread", 1.0)
            if isinstance(spread, bool) or not isinstance(spread, int | float) or spread < 0:
                self.problem((*here, "after", "spread"), "'spread' must be a number >= 0")
                continue
            if share is not None and median is not None:
                out[kind] = Reaction(share, median, float(spread))
        return out


def days_problem(days: int) -> str:
    """Why ``days`` is too long a population run (the caller checked it is)."""
    return (
        f"must be at most {MAX_DAYS} (100 years), got {days}: a run lasts at most 100 "
        "years, like a scenario's 'until'"
    )


def _n(number: float) -> str:
    """``1 000 000``: a whole number with spaces between thousands, as the docs write."""
    return f"{round(number):,}".replace(",", " ")


def companies_problem(companies: int) -> str:
    """Why ``companies`` is too many (the caller checked that it is)."""
    return (
        f"must be at most {_n(MAX_COMPANIES)} (a million), got {_n(companies)}: simulate a "
        "sample of the base (several seeds, if need be) and scale its series"
    )


def mean_connections(spec: PopulationSpec) -> float:
    """How many connections a company has on day one, on average."""
    return sum(spec.connections) / 2


def size_problem(spec: PopulationSpec) -> str | None:
    """Why a run of ``spec`` is too large to simulate in a minute or two (``None``: it is
    not): more than ``MAX_CONNECTION_DAYS`` connection-days, or too many arrivals."""
    each = mean_connections(spec) * spec.days
    if spec.companies * each <= MAX_CONNECTION_DAYS:
        return arrivals_problem(spec)
    return (
        f"{_n(spec.companies)} companies x {mean_connections(spec):g} connections x "
        f"{_n(spec.days)} days are {_n(spec.companies * each)} connection-days; at most "
        f"{_n(MAX_CONNECTION_DAYS)} are allowed (about a minute's work): use at most "
        f"{_n(max(MAX_CONNECTION_DAYS // each, 1))} companies for {_n(spec.days)} days, or "
        "fewer days"
    )


def arrivals_problem(spec: PopulationSpec) -> str | None:
    """Why the connections that ``arrivals`` bring are too many (``None``: they are not):
    more than a scenario's connections a company, or, with the day-one connections, more
    than ``MAX_CONNECTION_DAYS`` connection-days."""
    arriving = spec.arrivals_per_day() * spec.days  # a company, on average
    if arriving > MAX_CONNECTIONS:
        return (
            f"'arrivals' bring {_n(arriving)} connections a company over {_n(spec.days)} days "
            f"on average; at most {MAX_CONNECTIONS} a company are allowed (a scenario's "
            "limit): a lower rate, or fewer days"
        )
    total = spec.companies * (mean_connections(spec) + arriving / 2) * spec.days
    if total <= MAX_CONNECTION_DAYS:
        return None
    return (
        f"with the connections 'arrivals' bring ({_n(arriving)} a company on average), "
        f"{_n(spec.companies)} companies x {_n(spec.days)} days are {_n(total)} "
        f"connection-days; at most {_n(MAX_CONNECTION_DAYS)} are allowed (about a minute's "
        "work): fewer companies, fewer days or a lower rate"
    )


def past_days(spec: PopulationSpec, *, longest: bool = False) -> float:
    """How many days before day one a connection's past is played, on average (or at
    most): the mean of the exponential of the churn cut at ``history`` (see
    ``_generate._age``); 0 for a ``fresh`` base."""
    if spec.day_one != "steady":
        return 0.0
    h = spec.history.total_seconds() / 86400
    c = spec.churn.connections / 365
    if longest or c * h < 1e-9:
        return h if longest else h / 2
    return 1 / c - h * math.exp(-c * h) / -math.expm1(-c * h)


def asgi_problem(spec: PopulationSpec) -> str | None:
    """Why ``--transport asgi``, which replays every sync of every connection (of a steady
    base's past too), would take too long (``None``: it would not): more syncs in all than
    a scenario run may make."""
    days = spec.days + past_days(spec)
    each = mean_connections(spec) * days * 86400 / spec.sync_every.total_seconds()
    if spec.companies * each <= _limits.MAX_RUN_SYNCS:
        return None
    past = (
        f" (and {_n(past_days(spec))} days of past on average)" if spec.day_one == "steady" else ""
    )
    return (
        f"--transport asgi replays every sync{past}: {_n(spec.companies)} companies x "
        f"{mean_connections(spec):g} connections x {_n(each / mean_connections(spec))} syncs "
        f"are {_n(spec.companies * each)} syncs; at most {_n(_limits.MAX_RUN_SYNCS)} are "
        f"allowed (a few minutes' work): use at most {_n(max(_limits.MAX_RUN_SYNCS // each, 1))} "
        "companies, fewer days, a shorter 'history', or the direct transport"
    )


def syncs_problem(spec: PopulationSpec) -> str | None:
    """Why the full-stack engine, which syncs every connection every ``sync_every``,
    would take too long over ``spec.days``, or with the longest past of a steady base
    (``None``: it would not)."""
    every = spec.sync_every.total_seconds()
    many = _limits.syncs_problem(spec.days * 86400, every)
    if many is not None:
        return f"'sync_every' {format_duration(spec.sync_every)} over {spec.days} days {many}"
    days = spec.days + past_days(spec, longest=True)
    many = _limits.syncs_problem(days * 86400, every)
    if many is None:
        return None
    return (
        f"'sync_every' {format_duration(spec.sync_every)} over {spec.days} days and up to "
        f"'history' {format_duration(spec.history)} of past before them {many} (or a "
        "shorter 'history', or 'day_one: fresh')"
    )


def load_population(path: str | Path | None) -> PopulationSpec:
    """A population file (``None``: the defaults), or :class:`PopulationError`."""
    if path is None:
        return PopulationSpec()
    file = str(path)
    doc, problems = read_one(path, "population file")
    if problems:
        raise PopulationError(problems)
    if doc is None:
        return PopulationSpec()
    reader = _Reader(file, doc)
    spec = reader.read()
    if spec is None:
        raise PopulationError(reader.problems)
    return spec
