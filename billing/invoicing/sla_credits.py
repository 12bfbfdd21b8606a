"""SLA credits as billing sees them (SPEC 7): which closed months earned a credit (the run bills
each once, under the charge key (service, sla_credit, month)), what a month's credit comes to,
and finance's decisions, refused once the month's credit is billed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.calendar import Period, billing_period
from billing.errors import N_, ConflictError
from billing.invoicing.charges import ChargeKind, SlaVerdict, sla_credit
from billing.invoicing.models import Invoice, InvoiceLine
from billing.invoicing.queries import billed_charges
from billing.money import Money
from billing.parties.customers import Seller
from billing.sales.models import Contract, EarlyTerminationCharge, Service
from billing.sla.models import ChronicFailure, Outage, SlaDecision
from billing.sla.queries import (
    ServiceMonth,
    below_target_streaks,
    months_to_judge,
    service_month,
)
from billing.sla.services import record_chronic_failure, record_decision, remove_decision

SLA_KINDS = (ChargeKind.SLA_CREDIT.value, ChargeKind.SLA_OM_CREDIT.value)


def sla_verdicts(
    session: Session,
    services: Iterable[Service],
    *,
    until: date,
    now: datetime,
    record_as: str | None = None,
) -> dict[int, tuple[SlaVerdict, ...]]:
    """Each service's closed months up to `until` that earned a credit (by the tiers, or
    granted by finance; a waived month earns none). With `record_as`, three closed months below
    target in a row are recorded as a chronic failure in that actor's name (a run does; an
    estimate does not). Nothing is read per service on a platform without any outage or
    decision."""
    anything = (
        session.execute(select(Outage.id).limit(1)).first()
        or session.execute(select(SlaDecision.id).limit(1)).first()
    )
    if not anything:
        return {}
    verdicts: dict[int, tuple[SlaVerdict, ...]] = {}
    for service in services:
        months = [
            service_month(session, service, period, now)
            for period in months_to_judge(session, service, until=until, now=now)
        ]
        found = [
            SlaVerdict(m.period, m.credit_percent, m.availability_text)
            for m in months
            if m.credit_percent is not None and m.closed
        ]
        if found:
            verdicts[service.id] = tuple(found)
        if record_as is not None:
            for first, last in below_target_streaks(months):
                record_chronic_failure(session, service, first, last, actor=record_as, now=now)
    return verdicts


def terminated_by_right(flag: ChronicFailure | None, end_date: date | None) -> bool:
    """A service ended after its third month below target had closed: the customer may end it
    without the early-termination charge (SPEC 7)."""
    return (
        flag is not None and end_date is not None and end_date > billing_period(flag.last_month).end
    )


@dataclass(frozen=True, slots=True)
class ChronicCheck:
    services: int
    flagged: list[ChronicFailure]


def check_chronic_failures(
    session: Session, *, now: datetime, actor: str, party_id: int | None = None
) -> ChronicCheck:
    """Judge every active or recently ended service's closed months up to today and record the
    chronic failures not recorded yet (`flask sla check`; the billing run does the same for the
    services it bills). Safe to run again."""
    query = select(Service).where(Service.ready_for_service_date.is_not(None))
    if party_id is not None:
        query = query.join(Service.contract).where(Contract.party_id == party_id)
    services = list(session.scalars(query.order_by(Service.id)))
    flagged: list[ChronicFailure] = []
    if not session.execute(select(Outage.id).limit(1)).first():
        return ChronicCheck(len(services), flagged)
    for service in services:
        months = [
            service_month(session, service, period, now)
            for period in months_to_judge(session, service, until=date.max, now=now)
        ]
        for first, last in below_target_streaks(months):
            flag = record_chronic_failure(session, service, first, last, actor=actor, now=now)
            if flag is not None:
                flagged.append(flag)
    return ChronicCheck(len(services), flagged)


@dataclass(frozen=True, slots=True)
class MonthCredit:
    """A service's month as its page, the portal and the API show it: the availability, and
    the credit it earns (Money, in the service's price currency) or was billed (the line)."""

    month: ServiceMonth
    credit: Money | None
    billed: InvoiceLine | None

    @property
    def billed_invoice(self) -> Invoice | None:
        return None if self.billed is None else self.billed.invoice


def billed_credit(session: Session, service_id: int, period_start: date) -> InvoiceLine | None:
    return session.execute(
        select(InvoiceLine).where(
            InvoiceLine.service_id == service_id,
            InvoiceLine.charge_kind.in_(SLA_KINDS),
            InvoiceLine.charge_period_start == period_start,
        )
    ).scalar_one_or_none()


def month_credit(session: Session, service: Service, period: Period, now: datetime) -> MonthCredit:
    """The service's availability in `period` and its credit: what was billed, else what the
    next run would bill (for a closed month), else what it would come to so far."""
    from billing.invoicing.runs import service_terms  # the run's own reading of a service

    month = service_month(session, service, period, now)
    billed = billed_credit(session, service.id, period.start)
    if billed is not None:
        return MonthCredit(month, Money(billed.price_amount, billed.price_currency), billed)
    percent = month.credit_percent
    if percent is None or month.availability is None:
        return MonthCredit(month, None, None)
    termination = session.execute(
        select(EarlyTerminationCharge).where(EarlyTerminationCharge.service_id == service.id)
    ).scalar_one_or_none()
    terms = service_terms(service, termination)
    done = {c.key: c for c in billed_charges(session, [service.id]).get(service.id, [])}
    charge = sla_credit(terms, SlaVerdict(period, percent, month.availability_text), done)
    return MonthCredit(month, None if charge is None else charge.amount, None)


def _not_billed(session: Session, service: Service, period: Period) -> None:
    line = billed_credit(session, service.id, period.start)
    if line is not None:
        month = f"{period.start:%Y-%m}"
        if not line.invoice.number:
            raise ConflictError(
                N_(
                    "%(circuit)s's %(month)s credit is billed on a draft: "
                    "correct it with a credit note or by editing the draft"
                ),
                circuit=service.circuit_id,
                month=month,
            )
        raise ConflictError(
            N_(
                "%(circuit)s's %(month)s credit is billed on %(number)s: "
                "correct it with a credit note or by editing the draft"
            ),
            circuit=service.circuit_id,
            month=month,
            number=line.invoice.number,
        )


def decide_credit(
    session: Session,
    service: Service,
    period: Period,
    *,
    kind: str,
    credit_percent: object,
    reason: object,
    actor: Seller,
    now: datetime,
) -> SlaDecision:
    """Finance waives a month's credit or grants one by hand, before it is billed."""
    _not_billed(session, service, period)
    return record_decision(
        session,
        service,
        period,
        kind=kind,
        credit_percent=credit_percent,
        reason=reason,
        actor=actor,
        now=now,
    )


def undo_decision(
    session: Session, service: Service, period: Period, *, actor: Seller, now: datetime
) -> None:
    _not_billed(session, service, period)
    remove_decision(session, service, period, actor=actor, now=now)
