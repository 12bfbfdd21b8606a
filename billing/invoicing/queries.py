"""Reading invoicing data (SPEC 4): exchange rates, tax rules, billed charges and invoices.

One loader per aggregate: an invoice is loaded here, by id or by number, and nowhere else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from billing.calendar import Period, local_date
from billing.db import order_by_choice, text_match
from billing.errors import N_, NotFoundError
from billing.invoicing.charges import Charge, ChargeKey, ChargeKind
from billing.invoicing.fx import FxRate, round_rate
from billing.invoicing.models import (
    OPEN_STATUSES,
    RATE_PLACES,
    BillingRun,
    FxRateRecord,
    Invoice,
    InvoiceDispute,
    InvoiceLine,
    InvoiceStatus,
    TaxRuleRecord,
)
from billing.invoicing.tax import TaxRule
from billing.money import Money
from billing.parties.models import Customer, Party
from billing.parties.queries import list_parties
from billing.sales.models import Contract

FX_SORTS: dict[str, tuple[Any, ...]] = {
    "date": (FxRateRecord.rate_date, FxRateRecord.base, FxRateRecord.quote, FxRateRecord.id),
    "base": (FxRateRecord.base, FxRateRecord.quote, FxRateRecord.rate_date, FxRateRecord.id),
    "quote": (FxRateRecord.quote, FxRateRecord.base, FxRateRecord.rate_date, FxRateRecord.id),
    "source": (FxRateRecord.source, FxRateRecord.rate_date, FxRateRecord.id),
}
FX_DEFAULT_SORT = "-date"


def rate_on(session: Session, base: str, quote: str, day: date) -> FxRate | None:
    """The latest rate of `base` in `quote` on or before `day`, from any source; on the same day a
    rate entered by hand wins over a central bank's."""
    row = session.execute(
        select(FxRateRecord)
        .where(
            FxRateRecord.base == base,
            FxRateRecord.quote == quote,
            FxRateRecord.rate_date <= day,
        )
        .order_by(
            FxRateRecord.rate_date.desc(),
            case((FxRateRecord.source == "manual", 0), else_=1),
            FxRateRecord.source,
        )
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    return FxRate(row.base, row.quote, row.rate, row.rate_date, row.source)


def fx_rates_listing(q: str = "", sort: str = FX_DEFAULT_SORT) -> Select[tuple[FxRateRecord]]:
    """The stored rates for the rates page: `q` matches either currency code or the source."""
    stmt = select(FxRateRecord)
    if q.strip():
        stmt = stmt.where(
            text_match(q.strip(), FxRateRecord.base, FxRateRecord.quote, FxRateRecord.source)
        )
    return order_by_choice(stmt, sort, FX_SORTS, FX_DEFAULT_SORT)


def rate_between(session: Session, source: str, target: str, day: date, via: str) -> FxRate | None:
    """The rate that turns `source` into `target` on `day`: as stored either way round, else
    crossed through `via` (the issuer's own currency, which its central bank quotes both in)."""
    direct = rate_on(session, source, target, day)
    if direct is not None:
        return direct
    inverse = rate_on(session, target, source, day)
    if inverse is not None:
        return FxRate(source, target, _rate_value(1 / inverse.rate), inverse.on, inverse.source)
    if via in (source, target):
        return None
    source_in_via = rate_on(session, source, via, day)
    target_in_via = rate_on(session, target, via, day)
    if source_in_via is None or target_in_via is None:
        return None
    return FxRate(
        source,
        target,
        _rate_value(source_in_via.rate / target_in_via.rate),
        min(source_in_via.on, target_in_via.on),
        f"{source_in_via.source} cross",
    )


def _rate_value(rate: Decimal) -> Decimal:
    """A derived rate kept to the places a stored rate has, so the rate printed on the invoice is
    exactly the one its amounts were converted at."""
    return round_rate(rate, RATE_PLACES)


TAX_RULE_SORTS: dict[str, tuple[Any, ...]] = {
    "issuer": (Party.listing_order, TaxRuleRecord.customer_country, TaxRuleRecord.effective_from),
    "country": (TaxRuleRecord.customer_country, Party.listing_order, TaxRuleRecord.effective_from),
    "rate": (TaxRuleRecord.rate_percent, TaxRuleRecord.id),
    "from": (TaxRuleRecord.effective_from, TaxRuleRecord.id),
}
TAX_RULE_DEFAULT_SORT = "issuer"


def tax_rule_value(record: TaxRuleRecord) -> TaxRule:
    return TaxRule(
        record.issuer.code,
        record.customer_country,
        record.rate_percent,
        record.name,
        record.legal_note,
        record.effective_from,
        record.effective_to,
        record.category_code,
        record.exemption_reason_code,
        record.exemption_reason,
        tuple((n.language, n.note) for n in record.notes),
    )


def tax_rules(session: Session, issuer_party_id: int | None = None) -> list[TaxRule]:
    """The stored rules as values, for one issuer or all."""
    stmt = select(TaxRuleRecord).options(
        selectinload(TaxRuleRecord.issuer), selectinload(TaxRuleRecord.notes)
    )
    if issuer_party_id is not None:
        stmt = stmt.where(TaxRuleRecord.issuer_party_id == issuer_party_id)
    return [tax_rule_value(r) for r in session.execute(stmt.order_by(TaxRuleRecord.id)).scalars()]


def tax_rule_records(session: Session, issuer_party_id: int) -> list[TaxRuleRecord]:
    stmt = (
        select(TaxRuleRecord)
        .where(TaxRuleRecord.issuer_party_id == issuer_party_id)
        .options(selectinload(TaxRuleRecord.notes))
    )
    return list(session.execute(stmt.order_by(TaxRuleRecord.id)).scalars())


def tax_rule_listing(q: str = "", sort: str = TAX_RULE_DEFAULT_SORT) -> Select[Any]:
    stmt = select(TaxRuleRecord).join(Party, Party.id == TaxRuleRecord.issuer_party_id)
    if q.strip():
        stmt = stmt.where(
            text_match(
                q.strip(),
                Party.code,
                TaxRuleRecord.customer_country,
                TaxRuleRecord.name,
                TaxRuleRecord.legal_note,
            )
        )
    return order_by_choice(stmt, sort, TAX_RULE_SORTS, TAX_RULE_DEFAULT_SORT)


def get_tax_rule(session: Session, rule_id: int) -> TaxRuleRecord:
    rule = session.get(TaxRuleRecord, rule_id)
    if rule is None:
        raise NotFoundError(N_("tax rule %(id)s not found"), id=rule_id)
    return rule


def billed_charges(session: Session, service_ids: Iterable[int]) -> dict[int, list[Charge]]:
    """What earlier runs billed for each service, draft or issued, as charges in the currency of
    the service's prices (the charge keys are what makes a run bill nothing twice)."""
    ids = list(service_ids)
    found: dict[int, list[Charge]] = defaultdict(list)
    if not ids:
        return found
    rows = session.execute(
        select(
            InvoiceLine.service_id,
            InvoiceLine.charge_kind,
            InvoiceLine.charge_period_start,
            InvoiceLine.period_start,
            InvoiceLine.period_end,
            InvoiceLine.price_amount,
            InvoiceLine.price_currency,
            InvoiceLine.description,
        ).where(InvoiceLine.service_id.in_(ids), InvoiceLine.charge_kind.is_not(None))
    )
    for sid, kind, key_start, start, end, amount, currency, description in rows:
        if sid is None or kind is None or key_start is None:  # pragma: no cover - filtered out
            continue
        found[sid].append(
            Charge(
                ChargeKey(sid, ChargeKind(kind), key_start),
                Period(start, end),
                Money(amount, currency),
                description,
            )
        )
    return found


def get_billing_run(session: Session, run_id: int) -> BillingRun:
    run = session.get(BillingRun, run_id)
    if run is None:
        raise NotFoundError(N_("billing run %(id)s not found"), id=run_id)
    return run


def recent_billing_runs(
    session: Session, *, party_id: int | None, limit: int = 20
) -> list[BillingRun]:
    stmt = select(BillingRun).options(selectinload(BillingRun.issuer))
    if party_id is not None:
        stmt = stmt.where(
            or_(BillingRun.issuer_party_id == party_id, BillingRun.issuer_party_id.is_(None))
        )
    return list(session.execute(stmt.order_by(BillingRun.id.desc()).limit(limit)).scalars())


def _invoice_options() -> tuple[Any, ...]:
    return (
        selectinload(Invoice.lines),
        selectinload(Invoice.taxes),
        selectinload(Invoice.issuer),
        selectinload(Invoice.customer),
        selectinload(Invoice.credited_invoice),
    )


def get_invoice(
    session: Session, invoice_id: int, *, for_update: bool = False, customer_id: int | None = None
) -> Invoice:
    """One invoice or credit note with its lines and taxes; `customer_id` limits it to one
    customer's documents (anyone else's is not found)."""
    stmt = select(Invoice).where(Invoice.id == invoice_id).options(*_invoice_options())
    if customer_id is not None:
        stmt = stmt.where(Invoice.customer_id == customer_id)
    if for_update:
        stmt = stmt.with_for_update(of=Invoice).execution_options(populate_existing=True)
    invoice = session.execute(stmt).scalar_one_or_none()
    if invoice is None:
        raise NotFoundError(N_("invoice %(id)s not found"), id=invoice_id)
    return invoice


def get_invoice_by_number(
    session: Session, number: str, *, customer_id: int | None = None
) -> Invoice:
    stmt = select(Invoice).where(Invoice.number == number).options(*_invoice_options())
    if customer_id is not None:
        stmt = stmt.where(Invoice.customer_id == customer_id)
    invoice = session.execute(stmt).scalar_one_or_none()
    if invoice is None:
        raise NotFoundError(N_("invoice %(id)s not found"), id=number)
    return invoice


def invoice_pdf(session: Session, invoice: Invoice) -> bytes:
    """The stored PDF of an issued invoice (the column is loaded only when asked for)."""
    pdf = session.execute(select(Invoice.pdf).where(Invoice.id == invoice.id)).scalar_one()
    if pdf is None and invoice.number:
        raise NotFoundError(
            N_(
                "%(number)s's PDF is being prepared: run `flask invoices render-pending` "
                "or start `flask worker`"
            ),
            number=invoice.number,
        )
    if pdf is None:
        raise NotFoundError(N_("a draft has no PDF"))
    return bytes(pdf)


def shown_to_customers() -> Any:
    """The clause a customer-facing listing adds (API, portal, email): an issued document with
    its stored PDF. One issued but still waiting for its PDF is not shown yet (SPEC 12)."""
    return and_(Invoice.status != InvoiceStatus.DRAFT.value, Invoice.pdf_sha256.is_not(None))


def issuers_of_customer(session: Session, customer: Customer) -> list[Party]:
    """The parties a customer pays to: those that issued it a document it can see, those that
    signed its contracts (they invoice its services), and the party that owns the account."""
    issued = select(Invoice.issuer_party_id).where(
        Invoice.customer_id == customer.id, shown_to_customers()
    )
    signed = select(Contract.party_id).where(Contract.customer_id == customer.id)
    return list(
        session.scalars(
            select(Party)
            .where(
                or_(
                    Party.id.in_(issued),
                    Party.id.in_(signed),
                    Party.id == customer.owner_party_id,
                )
            )
            .order_by(Party.listing_order, Party.code)
        )
    )


def waiting_for_pdf(session: Session, *, limit: int | None = None) -> list[int]:
    """The ids of issued documents whose PDF is not rendered yet, in issue order."""
    stmt = (
        select(Invoice.id)
        .where(Invoice.status != InvoiceStatus.DRAFT.value, Invoice.pdf_sha256.is_(None))
        .order_by(Invoice.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())


def open_drafts(session: Session, customer_ids: Iterable[int]) -> list[Invoice]:
    """These customers' drafts, locked: a draft being issued at the same moment is waited for,
    and is then no longer a draft (a run never adds a line to an issued invoice)."""
    return list(
        session.execute(
            select(Invoice)
            .where(Invoice.customer_id.in_(list(customer_ids)), Invoice.status == "draft")
            .order_by(Invoice.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    )


def credit_notes_of(session: Session, invoice_id: int) -> list[Invoice]:
    stmt = (
        select(Invoice)
        .where(Invoice.credited_invoice_id == invoice_id)
        .options(selectinload(Invoice.lines))
        .order_by(Invoice.id)
    )
    return list(session.execute(stmt).scalars())


INVOICE_SORTS: dict[str, tuple[Any, ...]] = {
    "number": (Invoice.number, Invoice.id),
    "issued": (Invoice.issue_date, Invoice.id),
    "due": (Invoice.due_date, Invoice.id),
    "period": (Invoice.period_start, Invoice.id),
    "customer": (Customer.legal_name, Invoice.id),
    "total": (Invoice.total, Invoice.id),
    "status": (Invoice.status, Invoice.id),
}
INVOICE_DEFAULT_SORT = "-issued"


@dataclass(frozen=True, slots=True)
class InvoiceFilters:
    q: str = ""
    issuer_party_id: int | None = None
    customer_id: int | None = None
    status: str = ""
    kind: str = ""
    period_start: date | None = None
    overdue_on: date | None = None  # only invoices overdue on that day
    disputed: bool = False  # only invoices flagged as disputed now


def invoice_listing(filters: InvoiceFilters, sort: str = INVOICE_DEFAULT_SORT) -> Select[Any]:
    stmt = select(Invoice).join(Customer, Customer.id == Invoice.customer_id)
    stmt = stmt.options(selectinload(Invoice.customer), selectinload(Invoice.issuer))
    if filters.q.strip():
        stmt = stmt.where(text_match(filters.q.strip(), Invoice.number, Customer.legal_name))
    if filters.issuer_party_id is not None:
        stmt = stmt.where(Invoice.issuer_party_id == filters.issuer_party_id)
    if filters.customer_id is not None:
        stmt = stmt.where(Invoice.customer_id == filters.customer_id)
    if filters.status:
        stmt = stmt.where(Invoice.status == filters.status)
    if filters.kind:
        stmt = stmt.where(Invoice.kind == filters.kind)
    if filters.period_start is not None:
        stmt = stmt.where(Invoice.period_start == filters.period_start)
    if filters.overdue_on is not None:
        stmt = stmt.where(overdue_clause(filters.overdue_on))
    if filters.disputed:
        stmt = stmt.where(Invoice.disputed_at.is_not(None))
    return order_by_choice(stmt, sort, INVOICE_SORTS, INVOICE_DEFAULT_SORT)


def overdue_in_issuers_calendars(session: Session, at: datetime) -> Any:
    """Overdue where each issuer keeps its calendar: past the due date on the issuer's own day at
    the instant `at` (the business calendar, SPEC 3)."""
    clauses = [
        and_(Invoice.issuer_party_id == party.id, overdue_clause(local_date(at, party.time_zone)))
        for party in list_parties(session)
    ]
    return or_(*clauses) if clauses else false()


def run_invoices(session: Session, run_id: int) -> list[Invoice]:
    """The drafts and invoices a billing run made or added to, with their customer and issuer,
    in id order (the run's page)."""
    stmt = (
        select(Invoice)
        .where(Invoice.billing_run_id == run_id)
        .options(selectinload(Invoice.customer), selectinload(Invoice.issuer))
        .order_by(Invoice.id)
    )
    return list(session.execute(stmt).scalars())


def invoices_with_ids(session: Session, ids: Iterable[int]) -> list[Invoice]:
    """These invoices with their customer, in id order (a bulk issue's page)."""
    stmt = (
        select(Invoice)
        .where(Invoice.id.in_(list(ids)))
        .options(selectinload(Invoice.customer))
        .order_by(Invoice.id)
    )
    return list(session.execute(stmt).scalars())


def overdue_clause(on: date) -> Any:
    return and_(
        Invoice.status.in_(OPEN_STATUSES),
        Invoice.due_date < on,
        Invoice.total - Invoice.credited_total - Invoice.paid_total > 0,
    )


@dataclass(frozen=True, slots=True)
class BilledRevenue:
    issuer: str
    currency: str
    invoiced: Money  # before tax, net of credit notes issued in the same period
    invoices: int


def billed_revenue(session: Session, first: date, last: date) -> list[BilledRevenue]:
    """Revenue billed (issued invoices less credit notes, before tax) between two issue dates,
    per issuer and currency: the dashboard's figure of the month (SPEC 10)."""
    rows = session.execute(
        select(
            Party.code,
            Invoice.currency,
            func.sum(Invoice.subtotal),
            func.sum(case((Invoice.kind == "invoice", 1), else_=0)),
        )
        .join(Party, Party.id == Invoice.issuer_party_id)
        .where(Invoice.status != "draft", Invoice.issue_date.between(first, last))
        .group_by(Party.code, Party.listing_order, Invoice.currency)
        .order_by(Party.listing_order, Invoice.currency)
    )
    return [
        BilledRevenue(
            code, currency, Money(Decimal(total or 0), currency).rounded(), int(count or 0)
        )
        for code, currency, total, count in rows
    ]


def overdue_invoices(session: Session, on: date, *, limit: int = 20) -> list[Invoice]:
    stmt = (
        select(Invoice)
        .where(overdue_clause(on))
        .options(selectinload(Invoice.customer), selectinload(Invoice.issuer))
        .order_by(Invoice.due_date, Invoice.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def disputes_of(session: Session, invoice_id: int) -> list[InvoiceDispute]:
    """An invoice's disputes, the first opened first."""
    stmt = (
        select(InvoiceDispute)
        .where(InvoiceDispute.invoice_id == invoice_id)
        .order_by(InvoiceDispute.opened_at, InvoiceDispute.id)
    )
    return list(session.execute(stmt).scalars())


def issued_documents(
    session: Session, first: date, last: date, issuer_party_id: int | None = None
) -> list[tuple[int, str, str]]:
    """(id, number, PDF SHA-256) of the invoices and credit notes issued between two days."""
    stmt = select(Invoice.id, Invoice.number, Invoice.pdf_sha256).where(
        Invoice.status != "draft", Invoice.issue_date.between(first, last)
    )
    if issuer_party_id is not None:
        stmt = stmt.where(Invoice.issuer_party_id == issuer_party_id)
    rows = session.execute(stmt.order_by(Invoice.issue_date, Invoice.number))
    return [(i, str(n), str(h)) for i, n, h in rows]


def stored_pdf(session: Session, invoice_id: int) -> bytes:
    pdf = session.execute(select(Invoice.pdf).where(Invoice.id == invoice_id)).scalar_one()
    if pdf is None:
        raise NotFoundError(N_("invoice %(id)s has no PDF"), id=invoice_id)
    return bytes(pdf)
