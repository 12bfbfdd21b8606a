"""Reads of service levels: a service's routes and their segments, the outages on them, the
policy in force, and a service's availability in a month of its issuer's calendar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from billing.calendar import Period, add_months, billing_period, local_date
from billing.inventory.models import Route, Segment
from billing.sales.models import Service
from billing.sla.availability import (
    Interval,
    Tier,
    active_window,
    availability_percent,
    clipped,
    credit_percent,
    local_midnight,
    merged,
    minutes,
    service_down,
    shown,
)
from billing.sla.models import ChronicFailure, Outage, SlaDecision, SlaPolicy


@dataclass(frozen=True, slots=True)
class ServiceMonth:
    """A service's availability in one month of its issuer's calendar (SPEC 7).

    `minutes` are its active minutes of the month (up to now for the month still running),
    `down_minutes` those its path was down; `availability` is None when it was not active in
    the month. `earned_percent` is the credit the tiers give; `decision` finance's word, which
    overrides it."""

    service_id: int
    period: Period
    minutes: int
    down_minutes: int
    availability: Decimal | None
    target: Decimal | None
    earned_percent: Decimal | None
    decision: SlaDecision | None
    closed: bool  # the month has ended in the issuer's calendar

    @property
    def credit_percent(self) -> Decimal | None:
        if self.decision is not None:
            return self.decision.credit_percent if self.decision.kind == "grant" else None
        return self.earned_percent

    @property
    def below_target(self) -> bool:
        return (
            self.availability is not None
            and self.target is not None
            and self.availability < self.target
        )

    @property
    def availability_text(self) -> str:
        """Two decimals, truncated: "99.49%"; "—" when the service was not active."""
        return "—" if self.availability is None else f"{shown(self.availability)}%"


def service_routes(session: Session, service: Service) -> list[list[int]]:
    """The segment ids of each route the service rides: its own route, and for a protected
    service the route protecting it."""
    route = session.get(Route, service.reservation.route_id)
    if route is None:
        return []
    routes = [route]
    if service.protection == "protected" and route.protection_route is not None:
        routes.append(route.protection_route)
    return [
        list(session.scalars(select(Segment.id).where(Segment.route_id == r.id))) for r in routes
    ]


def outage_intervals(
    session: Session, segment_ids: Sequence[int], window: Interval, now: datetime
) -> dict[int, list[Interval]]:
    """Each segment's outages that touch `window`, merged, an open one running to `now`."""
    start, end = window
    rows = session.execute(
        select(Outage.segment_id, Outage.starts_at, Outage.ends_at).where(
            Outage.segment_id.in_(segment_ids),
            Outage.starts_at < end,
            or_(Outage.ends_at.is_(None), Outage.ends_at > start),
        )
    ).all()
    result: dict[int, list[Interval]] = {segment_id: [] for segment_id in segment_ids}
    for segment_id, starts_at, ends_at in rows:
        result[segment_id].append((starts_at, ends_at if ends_at is not None else now))
    return {k: merged(v) for k, v in result.items()}


def policy_on(session: Session, protection: str, day: date) -> SlaPolicy | None:
    """The policy of `protection` in force on `day` (the latest that took effect by then)."""
    return session.execute(
        select(SlaPolicy)
        .where(SlaPolicy.protection == protection, SlaPolicy.effective_from <= day)
        .order_by(SlaPolicy.effective_from.desc())
        .options(selectinload(SlaPolicy.tiers))
        .limit(1)
    ).scalar_one_or_none()


def decision_for(session: Session, service_id: int, period_start: date) -> SlaDecision | None:
    return session.execute(
        select(SlaDecision).where(
            SlaDecision.service_id == service_id, SlaDecision.period_start == period_start
        )
    ).scalar_one_or_none()


def service_month(
    session: Session, service: Service, period: Period, now: datetime
) -> ServiceMonth:
    """The service's availability in `period` (a month of its issuer's calendar), up to now."""
    time_zone = service.contract.party.time_zone
    window = active_window(
        period,
        time_zone,
        ready_for_service=service.ready_for_service_date,
        end_date=service.end_date,
        now=now,
    )
    closed = local_date(now, time_zone) > period.end
    policy = policy_on(session, service.protection, period.start)
    target = policy.target_percent if policy is not None else None
    decision = decision_for(session, service.id, period.start)
    if window is None:
        return ServiceMonth(service.id, period, 0, 0, None, target, None, decision, closed)
    routes = service_routes(session, service)
    segments = [s for route in routes for s in route]
    intervals = outage_intervals(session, segments, window, now)
    down = clipped(
        service_down(
            [[intervals[s] for s in route] for route in routes],
            protected=service.protection == "protected",
        ),
        window,
    )
    active, down_minutes = minutes([window]), minutes(down)
    availability = availability_percent(active, down_minutes)
    tiers = [Tier(t.below_percent, t.credit_percent) for t in policy.tiers] if policy else []
    return ServiceMonth(
        service.id,
        period,
        active,
        down_minutes,
        availability,
        target,
        credit_percent(availability, tiers),
        decision,
        closed,
    )


def months_to_judge(
    session: Session, service: Service, *, until: date, now: datetime
) -> list[Period]:
    """The closed months up to `until` in which the service was active and something may be
    owed: a month one of its segments was down in, or one finance decided on."""
    rfs = service.ready_for_service_date
    if rfs is None:
        return []
    time_zone = service.contract.party.time_zone
    last = min(until, local_date(now, time_zone) - timedelta(days=1))
    if service.end_date is not None:
        last = min(last, service.end_date)
    if last < rfs:
        return []
    first_month, last_month = billing_period(rfs), billing_period(last)
    if last_month.end > last:  # the month is not over yet
        last_month = billing_period(add_months(last_month.start, -1))
    if last_month.start < first_month.start:
        return []
    start = local_midnight(first_month.start, time_zone)
    end = local_midnight(last_month.end + timedelta(days=1), time_zone)
    segments = [s for route in service_routes(session, service) for s in route]
    months: set[date] = set()
    rows = session.execute(
        select(Outage.starts_at, Outage.ends_at).where(
            Outage.segment_id.in_(segments),
            Outage.starts_at < end,
            or_(Outage.ends_at.is_(None), Outage.ends_at > start),
        )
    ).all()
    for starts_at, ends_at in rows:
        low = max(local_date(starts_at, time_zone), first_month.start)
        high = min(local_date(ends_at or now, time_zone), last_month.end)
        month = billing_period(low).start
        while month <= high:
            months.add(month)
            month = add_months(month, 1)
    decided = session.scalars(
        select(SlaDecision.period_start).where(
            and_(
                SlaDecision.service_id == service.id,
                SlaDecision.period_start >= first_month.start,
                SlaDecision.period_start <= last_month.start,
            )
        )
    )
    months.update(decided)
    return [billing_period(m) for m in sorted(months)]


CHRONIC_MONTHS = 3  # SPEC 7: three months below target in a row


def below_target_streaks(months: Sequence[ServiceMonth]) -> list[tuple[date, date]]:
    """The runs of at least three calendar-consecutive closed months the service was active and
    below its target in, as (first month, last month)."""
    streaks: list[tuple[date, date]] = []
    run: list[date] = []
    for month in sorted(months, key=lambda m: m.period.start):
        start = month.period.start
        if not (month.closed and month.below_target):
            run = []
            continue
        if run and add_months(run[-1], 1) != start:
            run = []
        run.append(start)
        if len(run) >= CHRONIC_MONTHS:
            if streaks and streaks[-1][0] == run[0]:
                streaks[-1] = (run[0], start)
            else:
                streaks.append((run[0], start))
    return streaks


def chronic_failures_of(session: Session, service_id: int) -> list[ChronicFailure]:
    return list(
        session.scalars(
            select(ChronicFailure)
            .where(ChronicFailure.service_id == service_id)
            .order_by(ChronicFailure.first_month)
        )
    )


def chronic_on_contract(session: Session, contract_id: int) -> list[ChronicFailure]:
    return list(
        session.scalars(
            select(ChronicFailure)
            .where(ChronicFailure.contract_id == contract_id)
            .order_by(ChronicFailure.first_month)
        )
    )


def chronically_failing(
    session: Session, *, party_id: int | None, limit: int = 50
) -> list[tuple[ChronicFailure, Service]]:
    """Services flagged as chronically failing and not terminated, the latest flag first; a
    party's own services only when `party_id` is given (an administrator sees all)."""
    from billing.sales.models import Contract

    query = (
        select(ChronicFailure, Service)
        .join(Service, Service.id == ChronicFailure.service_id)
        .join(Contract, Contract.id == Service.contract_id)
        .where(Service.state != "terminated")
        .order_by(ChronicFailure.last_month.desc(), Service.circuit_id)
        .limit(limit)
    )
    if party_id is not None:
        query = query.where(Contract.party_id == party_id)
    return [(flag, service) for flag, service in session.execute(query).all()]


def flagged_before(session: Session, service_ids: Sequence[int]) -> dict[int, ChronicFailure]:
    """Each service's earliest chronic-failure flag, for the services that have one."""
    found: dict[int, ChronicFailure] = {}
    if not service_ids:
        return found
    for flag in session.scalars(
        select(ChronicFailure)
        .where(ChronicFailure.service_id.in_(service_ids))
        .order_by(ChronicFailure.first_month.desc())
    ):
        found[flag.service_id] = flag
    return found
