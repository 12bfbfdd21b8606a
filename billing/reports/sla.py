"""Service levels as customers and operators read them (SPEC 7): a service's recent months, a
month asked for by a customer, the SLA statement of a customer's month (PDF and CSV), and the
segment report.

The figures are billing.sla's and billing.invoicing.sla_credits' (`month_credit`): the API, the
portal, the statement and the staff page show the same availability and the same credit.
A statement is what the customer sees: an invoice number is named once the invoice is shown to
the customer (issued, with its PDF), never a draft's.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from billing.calendar import Period, add_months, billing_period, local_date
from billing.csvfile import csv_writer, text_cell
from billing.errors import N_, InvalidRequestError, Text
from billing.inventory.models import Segment
from billing.invoicing.sla_credits import MonthCredit, month_credit
from billing.money import Money, format_money
from billing.parties.models import Customer
from billing.pdf import PDF_ASSETS, render_pdf_styled
from billing.sales.models import Contract, Service
from billing.sla.availability import Interval, clipped, merged, minutes, shown
from billing.sla.models import Outage

RECENT_MONTHS = 12
PERIOD_HELP = N_("Write the month as YYYY-MM, e.g. 2026-11.")


# --- Months -------------------------------------------------------------------------------------


def parse_month(text: object, field: str = "period") -> Period:
    """A month written YYYY-MM (from 2000, as billing months are); InvalidRequestError naming
    `field` otherwise."""
    value = text.strip() if isinstance(text, str) else ""
    parts = value.split("-")
    if (
        len(parts) == 2
        and len(parts[0]) == 4
        and len(parts[1]) == 2
        and all(p.isascii() and p.isdigit() for p in parts)
        and 1 <= int(parts[1]) <= 12
        and int(parts[0]) >= 2000
    ):
        return billing_period(date(int(parts[0]), int(parts[1]), 1))
    raise InvalidRequestError(
        N_("%(value)s is not a month"), {field: [PERIOD_HELP]}, value=repr(value[:20])
    )


def current_month(service: Service, now: datetime) -> Period:
    """The month still running in the calendar of the service's issuer."""
    return billing_period(local_date(now, service.contract.party.time_zone))


def service_period(service: Service, text: str | None, now: datetime) -> Period:
    """The month a customer asks a service's availability for (YYYY-MM; by default the one
    running in its issuer's calendar): from its contract's month up to the current month, else
    InvalidRequestError naming `period`."""
    latest = current_month(service, now)
    if text is None:
        return latest
    period = parse_month(text)
    signed = billing_period(
        local_date(service.contract.signed_at, service.contract.party.time_zone)
    )
    if period.start > latest.start:
        raise InvalidRequestError(
            N_("%(month)s has not begun yet"),
            {
                "period": [
                    Text(N_("Choose %(month)s or an earlier month."), month=f"{latest.start:%Y-%m}")
                ]
            },
            month=f"{period.start:%Y-%m}",
        )
    if period.start < signed.start:
        raise InvalidRequestError(
            N_("%(circuit)s's contract was signed in %(month)s"),
            {
                "period": [
                    Text(N_("Choose %(month)s or a later month."), month=f"{signed.start:%Y-%m}")
                ]
            },
            circuit=service.circuit_id,
            month=f"{signed.start:%Y-%m}",
        )
    return period


def recent_periods(service: Service, now: datetime, count: int = RECENT_MONTHS) -> list[Period]:
    """The service's last `count` months of its issuer's calendar, newest first (the running
    one included), those it was in service in only."""
    rfs = service.ready_for_service_date
    if rfs is None:
        return []
    latest = current_month(service, now).start
    periods = []
    for back in range(count):
        period = billing_period(add_months(latest, -back))
        if period.end < rfs:
            break
        if service.end_date is not None and period.start > service.end_date:
            continue
        periods.append(period)
    return periods


def recent_months(
    session: Session, service: Service, now: datetime, count: int = RECENT_MONTHS
) -> list[MonthCredit]:
    """The availability and credit of each of `recent_periods`, each month read once."""
    return [month_credit(session, service, p, now) for p in recent_periods(service, now, count)]


def billed_on(credit: MonthCredit) -> str | None:
    """The number of the invoice that carries the month's credit, once the customer sees it."""
    invoice = credit.billed_invoice
    return invoice.number if invoice is not None and invoice.shown_to_customer else None


# --- The SLA statement of a customer's month ----------------------------------------------------

STATEMENT_MONTHS = 24


def statement_months(
    session: Session, customer: Customer, now: datetime, count: int = STATEMENT_MONTHS
) -> list[Period]:
    """The months a customer's statement may be made for, newest first: the one running in its
    account owner's calendar (so far) and those before it, back to its first contract's month
    (at most `count`)."""
    time_zone = customer.owner_party.time_zone
    first = session.scalar(
        select(func.min(Contract.signed_at)).where(Contract.customer_id == customer.id)
    )
    if first is None:
        return []
    earliest = billing_period(local_date(first, time_zone)).start
    latest = billing_period(local_date(now, time_zone)).start
    months = []
    for back in range(count):
        period = billing_period(add_months(latest, -back))
        if period.start < earliest:
            break
        months.append(period)
    return months


@dataclass(frozen=True, slots=True)
class StatementLine:
    circuit_id: str
    product: str
    protection: str
    minutes: int
    down_minutes: int
    availability: Decimal  # exact; shown truncated
    target: Decimal | None
    credit: Money | None  # negative, as billed or as the next run would bill it
    billed_on: str | None

    @property
    def availability_shown(self) -> str:
        return f"{shown(self.availability)}"


@dataclass(frozen=True, slots=True)
class SlaStatement:
    customer_name: str
    period: Period
    made_at: datetime
    lines: tuple[StatementLine, ...]

    @property
    def month(self) -> str:
        return f"{self.period.start:%B %Y}"

    @property
    def credits(self) -> list[Money]:
        """The credits per currency, in currency order."""
        by_currency: dict[str, Money] = {}
        for line in self.lines:
            if line.credit is not None:
                c = line.credit.currency
                by_currency[c] = by_currency.get(c, Money.zero(c)) + line.credit
        return [by_currency[c] for c in sorted(by_currency)]


def sla_statement(
    session: Session, customer: Customer, period: Period, now: datetime
) -> SlaStatement:
    """Each of the customer's services that was active in `period` (a month, in each service's
    issuer's calendar), with its availability and credit, by circuit."""
    services = session.scalars(
        select(Service)
        .where(
            Service.customer_id == customer.id,
            Service.ready_for_service_date.is_not(None),
            Service.ready_for_service_date <= period.end,
            or_(Service.end_date.is_(None), Service.end_date >= period.start),
        )
        .options(selectinload(Service.product), selectinload(Service.contract))
        .order_by(Service.circuit_id)
    )
    lines = []
    for service in services:
        credit = month_credit(session, service, period, now)
        month = credit.month
        if month.availability is None:  # not in service yet in this month's days so far
            continue
        lines.append(
            StatementLine(
                circuit_id=service.circuit_id,
                product=service.product.name,
                protection=service.protection,
                minutes=month.minutes,
                down_minutes=month.down_minutes,
                availability=month.availability,
                target=month.target,
                credit=credit.credit,
                billed_on=billed_on(credit),
            )
        )
    return SlaStatement(customer.legal_name, period, now, tuple(lines))


STATEMENT_COLUMNS = (
    "customer",
    "month",
    "circuit",
    "product",
    "protection",
    "active_minutes",
    "down_minutes",
    "availability_percent",
    "target_percent",
    "credit",
    "currency",
    "billed_on",
)


def statement_rows(statement: SlaStatement) -> list[list[object]]:
    rows: list[list[object]] = []
    for line in statement.lines:
        credit = None if line.credit is None else line.credit.rounded()
        rows.append(
            [
                text_cell(statement.customer_name),
                f"{statement.period.start:%Y-%m}",
                text_cell(line.circuit_id),
                text_cell(line.product),
                line.protection,
                line.minutes,
                line.down_minutes,
                shown(line.availability),
                None if line.target is None else line.target.normalize(),
                None if credit is None else credit.amount,
                None if credit is None else credit.currency,
                line.billed_on,
            ]
        )
    return rows


def statement_csv(statement: SlaStatement) -> bytes:
    """The statement as CSV: a header and a row per service, every cell spreadsheet-safe."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(STATEMENT_COLUMNS)
    writer.writerows(statement_rows(statement))
    return out.getvalue().encode("utf-8")


def _money(value: Money | None) -> str:
    return "—" if value is None else format_money(value, with_code=True)


def _percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.normalize():f}%"


_env = Environment(loader=FileSystemLoader(PDF_ASSETS), autoescape=True, undefined=StrictUndefined)
_env.filters.update(money=_money, pct=_percent)


def statement_html(statement: SlaStatement) -> str:
    return _env.get_template("sla_statement.html").render(s=statement)


def statement_pdf(statement: SlaStatement) -> bytes:
    return render_pdf_styled(statement_html(statement), "invoice.css")


def statement_filename(statement: SlaStatement, customer_id: int, extension: str) -> str:
    return f"sla-statement-{customer_id}-{statement.period.start:%Y-%m}.{extension}"


# --- The segment report (operators) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorstMonth:
    month: date
    minutes: int


@dataclass(frozen=True, slots=True)
class SegmentFigures:
    """A segment's outages over a range of months (UTC): how many records touch it, the minutes
    it was down (overlapping records merged, an open outage up to now), the mean minutes to
    repair of the closed ones, and its worst months by minutes."""

    code: str
    name: str
    outages: int
    open_outages: int
    minutes: int
    mttr_minutes: Decimal | None
    worst_months: tuple[WorstMonth, ...]


def month_start_utc(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def report_months(first: date, last: date) -> list[Period]:
    months = []
    month = billing_period(first).start
    while month <= last:
        months.append(billing_period(month))
        month = add_months(month, 1)
    return months


def _figures(
    segment: Segment,
    records: Sequence[tuple[datetime, datetime | None]],
    months: Sequence[Period],
    window: Interval,
    now: datetime,
) -> SegmentFigures:
    spans = merged((start, end or now) for start, end in records)
    closed = [int((end - start).total_seconds() // 60) for start, end in records if end is not None]
    mttr = (
        (Decimal(sum(closed)) / len(closed)).quantize(Decimal("0.1"), ROUND_HALF_UP)
        if closed
        else None
    )
    per_month = []
    for period in months:
        low = month_start_utc(period.start)
        high = min(month_start_utc(add_months(period.start, 1)), now)
        if high > low and (down := minutes(clipped(spans, (low, high)))):
            per_month.append(WorstMonth(period.start, down))
    worst = sorted(per_month, key=lambda m: (-m.minutes, m.month))[:3]
    return SegmentFigures(
        code=segment.code,
        name=segment.name,
        outages=len(records),
        open_outages=sum(1 for _, end in records if end is None),
        minutes=minutes(clipped(spans, window)),
        mttr_minutes=mttr,
        worst_months=tuple(worst),
    )


SEGMENT_SORTS = {
    "segment": lambda f: (f.code,),
    "outages": lambda f: (f.outages, f.code),
    "minutes": lambda f: (f.minutes, f.code),
    "mttr": lambda f: (f.mttr_minutes if f.mttr_minutes is not None else Decimal(-1), f.code),
}
SEGMENT_DEFAULT_SORT = "-minutes"


def segment_report(
    session: Session, first: date, last: date, now: datetime, sort: str = SEGMENT_DEFAULT_SORT
) -> list[SegmentFigures]:
    """Every segment's figures for the months (UTC) from `first`'s to `last`'s, up to now: the
    outages that were down at some time in them, read in one SELECT."""
    months = report_months(first, last)
    window = (
        month_start_utc(months[0].start),
        min(month_start_utc(add_months(months[-1].start, 1)), now),
    )
    segments = list(session.scalars(select(Segment).order_by(Segment.code)))
    records: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    if window[1] > window[0]:
        rows = session.execute(
            select(Outage.segment_id, Outage.starts_at, Outage.ends_at)
            .where(
                Outage.starts_at < window[1],
                or_(Outage.ends_at.is_(None), Outage.ends_at > window[0]),
            )
            .order_by(Outage.starts_at, Outage.id)
        ).all()
        for segment_id, starts_at, ends_at in rows:
            records[segment_id].append((starts_at, ends_at))
    figures = [_figures(s, records[s.id], months, window, now) for s in segments]
    return sorted_figures(figures, sort)


def sorted_figures(figures: Iterable[SegmentFigures], sort: str) -> list[SegmentFigures]:
    key = sort.removeprefix("-")
    by = SEGMENT_SORTS.get(key, SEGMENT_SORTS["minutes"])
    reverse = sort.startswith("-") if key in SEGMENT_SORTS else True
    return sorted(figures, key=by, reverse=reverse)
