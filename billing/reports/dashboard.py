"""The finance dashboard's figures (SPEC 10), each read with SQL aggregates and scoped to one
issuing party (a finance user's own) or to every party (an administrator's `party_id=None`):
receivables by age, cash collected this month, billed per month, days sales outstanding, runs
waiting and open disputes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from billing.calendar import Period, add_months, first_of_month, last_of_month, local_date
from billing.invoicing.models import BillingRun, Invoice, InvoiceStatus
from billing.money import Money
from billing.parties.models import Party
from billing.parties.queries import list_parties
from billing.payments.models import Payment, PaymentState
from billing.payments.queries import Ageing, ageing_totals

DSO_WINDOW_DAYS = 90
CHART_MONTHS = 12
ACTIVE_RUN_STATES = ("queued", "running")


def parties_seen(session: Session, party_id: int | None) -> list[Party]:
    """The issuing parties a dashboard shows: one, or all of them in their listing order."""
    return [p for p in list_parties(session) if party_id is None or p.id == party_id]


def _issuer(party_id: int | None, column: Any) -> Any:
    return true() if party_id is None else column == party_id


# --- Receivables by age ---


def receivables_by_age(session: Session, on: date, *, party_id: int | None) -> list[Ageing]:
    """What is owed per currency and ageing bucket on `on` (the receivables page's buckets)."""
    return ageing_totals(session, on, issuer_party_id=party_id)


# --- Cash collected this month ---


@dataclass(frozen=True, slots=True)
class Collected:
    """The recorded payments one party received in its own current month, in one currency."""

    party: str
    month: Period
    amount: Money
    payments: int


def cash_collected(session: Session, at: datetime, *, party_id: int | None) -> list[Collected]:
    """Recorded payments (flagged ones wait for review; refunds are not deducted) whose value
    date falls in each issuer's local month at the instant `at`, per issuer and currency."""
    parties = parties_seen(session, party_id)
    if not parties:
        return []
    months = {}
    for party in parties:
        today = local_date(at, party.time_zone)
        months[party.id] = Period(first_of_month(today), last_of_month(today))
    in_month = or_(
        *(
            and_(Payment.issuer_party_id == pid, Payment.value_date.between(m.start, m.end))
            for pid, m in months.items()
        )
    )
    rows = session.execute(
        select(Payment.issuer_party_id, Payment.currency, func.sum(Payment.amount), func.count())
        .where(Payment.state == PaymentState.RECORDED.value, in_month)
        .group_by(Payment.issuer_party_id, Payment.currency)
    )
    found = {(pid, currency): (amount, count) for pid, currency, amount, count in rows}
    return [
        Collected(
            party.code,
            months[party.id],
            Money(Decimal(amount), currency).rounded(),
            int(count),
        )
        for party in parties
        for (pid, currency), (amount, count) in sorted(found.items())
        if pid == party.id
    ]


# --- Billed per month ---


def last_months(today: date, count: int = CHART_MONTHS) -> list[Period]:
    """The `count` calendar months up to and including `today`'s, oldest first."""
    first = first_of_month(today)
    starts = [add_months(first, -back) for back in range(count - 1, -1, -1)]
    return [Period(start, last_of_month(start)) for start in starts]


@dataclass(frozen=True, slots=True)
class BilledSeries:
    """What one party billed in one currency each month (oldest first): issued invoices less
    credit notes, before tax; a month with nothing issued is zero."""

    party: str
    currency: str
    amounts: tuple[Money, ...]


def billed_per_month(
    session: Session, months: list[Period], *, party_id: int | None
) -> list[BilledSeries]:
    """Each party's billing per month and currency over `months`, summed in SQL. Every party
    shown gets a series in every currency anyone billed in, so the chart compares like with
    like; a currency nobody billed in is left out."""
    if not months:
        return []
    month_of = case(
        *((Invoice.issue_date.between(m.start, m.end), index) for index, m in enumerate(months))
    ).label("month")
    rows = session.execute(
        select(Invoice.issuer_party_id, Invoice.currency, month_of, func.sum(Invoice.subtotal))
        .where(
            Invoice.status != InvoiceStatus.DRAFT.value,
            Invoice.issue_date.between(months[0].start, months[-1].end),
            _issuer(party_id, Invoice.issuer_party_id),
        )
        .group_by(Invoice.issuer_party_id, Invoice.currency, month_of)
    )
    sums: dict[tuple[int, str, int], Decimal] = {}
    for pid, currency, index, amount in rows:
        sums[(pid, currency, int(index))] = Decimal(amount)
    currencies = sorted({currency for _, currency, _ in sums})
    return [
        BilledSeries(
            party.code,
            currency,
            tuple(
                Money(sums.get((party.id, currency, index), Decimal(0)), currency).rounded()
                for index in range(len(months))
            ),
        )
        for currency in currencies
        for party in parties_seen(session, party_id)
    ]


# --- Days sales outstanding ---


def days_sales_outstanding(
    owed: Money, billed: Money, days: int = DSO_WINDOW_DAYS
) -> Decimal | None:
    """DSO = what is owed ÷ what was billed in the last `days` days × `days`, to a tenth of a
    day (half up); None when nothing was billed then (the ratio means nothing)."""
    if billed.amount <= 0:
        return None
    ratio = owed.amount / billed.amount * days
    return ratio.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Dso:
    currency: str
    owed: Money
    billed: Money  # invoice totals with tax, less credit notes, in the window
    days: Decimal | None


def dso_per_currency(
    session: Session, today: date, *, party_id: int | None, window: int = DSO_WINDOW_DAYS
) -> list[Dso]:
    """Days sales outstanding per currency on `today`: the receivables (with tax, as owed)
    against the totals issued in the `window` days up to and including `today`."""
    owed = {
        row.currency: Money(row.total, row.currency)
        for row in receivables_by_age(session, today, party_id=party_id)
    }
    rows = session.execute(
        select(Invoice.currency, func.sum(Invoice.total))
        .where(
            Invoice.status != InvoiceStatus.DRAFT.value,
            Invoice.issue_date.between(today - timedelta(days=window - 1), today),
            _issuer(party_id, Invoice.issuer_party_id),
        )
        .group_by(Invoice.currency)
    )
    billed = {currency: Money(Decimal(amount), currency).rounded() for currency, amount in rows}
    figures = []
    for currency in sorted(set(owed) | set(billed)):
        o = owed.get(currency, Money.zero(currency))
        b = billed.get(currency, Money.zero(currency))
        figures.append(Dso(currency, o, b, days_sales_outstanding(o, b, window)))
    return figures


# --- Runs waiting, disputes open ---


@dataclass(frozen=True, slots=True)
class RunWaiting:
    run: BillingRun
    drafts: int  # this party's drafts the run made that are not issued yet


def runs_waiting(session: Session, *, party_id: int | None, limit: int = 20) -> list[RunWaiting]:
    """Billing runs still queued or running, and finished runs whose drafts wait to be issued,
    newest first. A run of every party counts only the viewer's party's drafts."""
    drafts = (
        select(Invoice.billing_run_id.label("run_id"), func.count().label("drafts"))
        .where(
            Invoice.status == InvoiceStatus.DRAFT.value,
            Invoice.billing_run_id.is_not(None),
            _issuer(party_id, Invoice.issuer_party_id),
        )
        .group_by(Invoice.billing_run_id)
        .subquery()
    )
    count = func.coalesce(drafts.c.drafts, 0)
    stmt = (
        select(BillingRun, count)
        .outerjoin(drafts, drafts.c.run_id == BillingRun.id)
        .where(or_(BillingRun.state.in_(ACTIVE_RUN_STATES), count > 0))
        .options(selectinload(BillingRun.issuer))
        .order_by(BillingRun.id.desc())
        .limit(limit)
    )
    if party_id is not None:
        stmt = stmt.where(
            or_(BillingRun.issuer_party_id == party_id, BillingRun.issuer_party_id.is_(None))
        )
    return [RunWaiting(run, int(n)) for run, n in session.execute(stmt)]


def drafts_waiting(session: Session, *, party_id: int | None) -> int:
    """Every draft not issued yet (from a run or not)."""
    return int(
        session.execute(
            select(func.count()).where(
                Invoice.status == InvoiceStatus.DRAFT.value,
                _issuer(party_id, Invoice.issuer_party_id),
            )
        ).scalar_one()
    )


def open_disputes(session: Session, *, party_id: int | None, limit: int = 20) -> list[Invoice]:
    """Invoices in dispute now, the longest disputed first."""
    stmt = (
        select(Invoice)
        .where(Invoice.disputed_at.is_not(None), _issuer(party_id, Invoice.issuer_party_id))
        .options(selectinload(Invoice.customer), selectinload(Invoice.issuer))
        .order_by(Invoice.disputed_at, Invoice.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def disputes_count(session: Session, *, party_id: int | None) -> int:
    return int(
        session.execute(
            select(func.count()).where(
                Invoice.disputed_at.is_not(None), _issuer(party_id, Invoice.issuer_party_id)
            )
        ).scalar_one()
    )
