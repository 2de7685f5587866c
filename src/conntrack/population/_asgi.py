"""The full-stack engine of population runs (``--transport asgi``): every company is a
scenario replayed by the actor engine — fakes over in-process HTTP, OAuth clients, the
notifier — with the population's user behaviour hooked to every email. Slow (every
sync is a request), exact: the direct engine must give the same series."""

from __future__ import annotations

from datetime import datetime, timedelta

from .._lifecycle import TransitionRecord
from .._policy import PolicySet
from .._records import EmailRecord
from ..scenario._model import CompanySpec, ConnectionSpec, Scenario, TimelineEvent, Where
from ..scenario._runner import run_scenario
from ._generate import Company, names, noticed, reaction_delay
from ._model import PopulationSpec
from ._series import Series


def origin(spec: PopulationSpec, company: Company) -> datetime:
    """When the company's scenario starts: day one, or the first arrival of its past in a
    steady base (the past is played, not counted: the series starts on day one)."""
    return min([spec.start, *(c.connect_at for c in company.connections)])


def as_scenario(spec: PopulationSpec, company: Company) -> Scenario:
    where = Where(f"<population company {company.id}>", 0)
    t0 = origin(spec, company)
    connections = {
        c.id: ConnectionSpec(
            id=c.id,
            provider=c.provider,
            kind=c.kind,
            connected_by="user1",
            sync_every=spec.sync_every,
            where=where,
            connect_at=c.connect_at - t0,
        )
        for c in company.connections
    }
    leaving = [
        TimelineEvent(c.leave_at - t0, "disconnect", c.id, where)
        for c in company.connections
        if c.leave_at is not None
    ]
    timeline = sorted(
        [
            *(
                TimelineEvent(d.at - t0, d.event, c.id, where)
                for c in company.connections
                for d in c.disruptions
            ),
            *leaving,
        ],
        key=lambda e: (e.at, e.connection or "", e.event),
    )
    return Scenario(
        name=company.id,
        seed=spec.seed * 1_000_003 + company.index,
        start=t0,
        until=spec.until - t0,
        company=CompanySpec(
            users=len(company.users),
            opt_out=tuple(u for u, out in company.users if out),
            name=names(spec, company)[0],
        ),
        connections=connections,
        timeline=tuple(timeline),
        expect=(),
        where=where,
    )


def simulate_company(
    spec: PopulationSpec, company: Company, policy: PolicySet, series: Series
) -> None:
    scenario = as_scenario(spec, company)

    def react(connection: str, kind: str, at: datetime) -> timedelta | None:
        return reaction_delay(spec.seed, company.id, connection, at, kind, spec.behaviour.get(kind))

    def notice(
        connection: str, state: str, at: datetime
    ) -> tuple[timedelta | None, timedelta | None]:
        return noticed(spec, company.id, connection, at, state)

    noticing = spec.unprompted > 0 or spec.abandon.chance > 0
    result = run_scenario(scenario, policy=policy, react=react, notice=notice if noticing else None)
    tl = result.timeline
    for rec in tl.records_only:
        if isinstance(rec, EmailRecord):
            series.email(rec.at, rec.kind, 1)
    for cid in scenario.connections:
        changes: list[tuple[datetime, str]] = []
        first = tl.initial.get(cid)
        if first is not None:
            changes.append(first)
        leave: datetime | None = None  # disconnected by its company: churn, abandoned
        for t in tl.transitions(cid):
            if t.trigger == "reconnect":
                series.reconnect(t.at)
            if t.dest != t.source:
                changes.append((t.at, t.dest))
                if t.dest == "disconnected" and leave is None:
                    leave = t.at
        series.lifeline(changes)
        for gap in tl.gaps.get(cid, []):
            end = gap.end
            # A connection that left the base (churn) lacks no data from then on.
            if leave is not None and gap.start >= leave:
                continue
            if leave is not None and (end is None or end > leave):
                end = leave
            series.gap(gap.start, end)
    series.connections += len(scenario.connections)
    series.companies += 1


__all__ = ["TransitionRecord", "as_scenario", "simulate_company"]
