"""Reading payments: one payment, an invoice's payments, credit balances, receivables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from billing.db import order_by_choice, text_match
from billing.errors import N_, NotFoundError
from billing.invoicing.models import OPEN_STATUSES, Invoice
from billing.money import Money
from billing.parties.models import Customer, Party
from billing.payments.models import (
    Payment,
    PaymentApplication,
    PaymentState,
    Refund,
    RefundState,
)

BUCKETS = ("current", "1–30", "31–60", "61–90", "90+")
# Each bucket's days past due, both ends included; None is open-ended ("current" is not due yet,
# or has no due date). The one place the buckets' bounds are written: the rows' ageing, the
# totals summed in SQL and the receivables filter all read them here.
BUCKET_DAYS: dict[str, tuple[int | None, int | None]] = {
    "current": (None, 0),
    "1–30": (1, 30),
    "31–60": (31, 60),
    "61–90": (61, 90),
    "90+": (91, None),
}


def ageing_bucket(due: date | None, on: date) -> str:
    """Where an open invoice stands on `on`: not yet due, or how many days past its due date."""
    late = (on - due).days if due is not None else 0
    for bucket, (_, last) in BUCKET_DAYS.items():
        if last is None or late <= last:
            return bucket
    raise AssertionError("the last bucket is open-ended")  # pragma: no cover


def in_bucket(bucket: str, on: date) -> Any:
    """The SQL clause of open invoices in `bucket` on `on` (by due date, as ageing_bucket)."""
    first, last = BUCKET_DAYS[bucket]
    clauses = []
    if last is not None:  # at most `last` days late: due on or after on - last
        clauses.append(Invoice.due_date >= on - timedelta(days=last))
    if first is not None:  # at least `first` days late
        clauses.append(Invoice.due_date <= on - timedelta(days=first))
    if first is None:
        return or_(Invoice.due_date.is_(None), *clauses)
    return and_(*clauses)


def ageing_case(on: date) -> Any:
    """The bucket of each open invoice on `on`, as an SQL expression."""
    return case(*((in_bucket(b, on), b) for b in BUCKETS[1:]), else_=BUCKETS[0])


def receivable() -> Any:
    """The clause of an invoice with something still owed on it."""
    return and_(
        Invoice.kind == "invoice",
        Invoice.status.in_(OPEN_STATUSES),
        Invoice.total - Invoice.credited_total - Invoice.paid_total > 0,
    )


def get_payment(session: Session, payment_id: int, *, for_update: bool = False) -> Payment:
    stmt = (
        select(Payment)
        .where(Payment.id == payment_id)
        .options(
            selectinload(Payment.applications).selectinload(PaymentApplication.invoice),
            selectinload(Payment.customer),
            selectinload(Payment.issuer),
        )
    )
    if for_update:
        stmt = stmt.with_for_update(of=Payment).execution_options(populate_existing=True)
    payment = session.execute(stmt).scalar_one_or_none()
    if payment is None:
        raise NotFoundError(N_("payment %(id)s not found"), id=payment_id)
    return payment


def payment_by_intent(session: Session, intent_id: str) -> Payment | None:
    return session.execute(
        select(Payment)
        .where(Payment.stripe_payment_intent_id == intent_id)
        .with_for_update()
        .options(selectinload(Payment.applications), selectinload(Payment.issuer))
    ).scalar_one_or_none()


def payment_by_idempotency_key(session: Session, key: str) -> Payment | None:
    """The payment a bank-transfer form with this one-time key recorded, if any."""
    return session.execute(
        select(Payment)
        .where(Payment.idempotency_key == key)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def pending_refunds(session: Session, intent_id: str) -> list[Refund]:
    return list(
        session.execute(
            select(Refund)
            .where(
                Refund.stripe_payment_intent_id == intent_id,
                Refund.state == RefundState.PENDING.value,
            )
            .order_by(Refund.id)
        ).scalars()
    )


def refunded_for_intent(session: Session, intent_id: str) -> Decimal:
    """What refunds of a Stripe payment intent came to so far, applied or pending."""
    total = session.execute(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.stripe_payment_intent_id == intent_id
        )
    ).scalar_one()
    return Decimal(total)


def open_invoices(
    session: Session, customer_id: int, issuer_id: int, currency: str, *, only: int | None = None
) -> list[Invoice]:
    """The customer's open invoices of this issuer in this currency, oldest due first, locked."""
    stmt = (
        select(Invoice)
        .where(
            Invoice.customer_id == customer_id,
            Invoice.issuer_party_id == issuer_id,
            Invoice.currency == currency,
            Invoice.kind == "invoice",
            Invoice.status.in_(OPEN_STATUSES),
        )
        .order_by(Invoice.due_date, Invoice.issue_date, Invoice.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if only is not None:
        stmt = stmt.where(Invoice.id == only)
    return [i for i in session.execute(stmt).scalars() if i.amount_due > 0]


def credit_payments(
    session: Session, customer_id: int, issuer_id: int, currency: str
) -> list[Payment]:
    """Recorded payments with something left to apply, oldest first, locked."""
    return list(
        session.execute(
            select(Payment)
            .where(
                Payment.customer_id == customer_id,
                Payment.issuer_party_id == issuer_id,
                Payment.currency == currency,
                Payment.state == PaymentState.RECORDED.value,
                Payment.amount - Payment.applied_total - Payment.refunded_total > 0,
            )
            .order_by(Payment.value_date, Payment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    )


@dataclass(frozen=True)
class CreditBalance:
    customer_id: int
    customer: str
    issuer_party_id: int
    issuer: str
    balance: Money


def credit_balances(session: Session, customer_id: int | None = None) -> list[CreditBalance]:
    """Each customer's credit balance per issuer and currency (unapplied recorded payments)."""
    left = func.sum(Payment.amount - Payment.applied_total - Payment.refunded_total)
    stmt = (
        select(
            Customer.id,
            Customer.legal_name,
            Party.id,
            Party.code,
            Payment.currency,
            left,
        )
        .join(Customer, Customer.id == Payment.customer_id)
        .join(Party, Party.id == Payment.issuer_party_id)
        .where(Payment.state == PaymentState.RECORDED.value)
        .group_by(Customer.id, Customer.legal_name, Party.id, Party.code, Payment.currency)
        .having(left > 0)
        .order_by(Customer.legal_name, Party.code, Payment.currency)
    )
    if customer_id is not None:
        stmt = stmt.where(Payment.customer_id == customer_id)
    return [
        CreditBalance(c_id, name, p_id, code, Money(Decimal(amount), currency))
        for c_id, name, p_id, code, currency, amount in session.execute(stmt)
    ]


def payments_of_invoice(session: Session, invoice_id: int) -> list[PaymentApplication]:
    return list(
        session.execute(
            select(PaymentApplication)
            .where(PaymentApplication.invoice_id == invoice_id)
            .options(selectinload(PaymentApplication.payment))
            .order_by(PaymentApplication.id)
        ).scalars()
    )


PAYMENT_SORTS: dict[str, tuple[Any, ...]] = {
    "date": (Payment.value_date, Payment.id),
    "customer": (Customer.legal_name, Payment.id),
    "amount": (Payment.amount, Payment.id),
    "state": (Payment.state, Payment.id),
}
PAYMENT_DEFAULT_SORT = "-date"


def payment_listing(
    q: str = "",
    *,
    issuer_party_id: int | None = None,
    flagged: bool = False,
    sort: str = PAYMENT_DEFAULT_SORT,
    currency: str = "",
    received_in: tuple[date, date] | None = None,
) -> Select[Any]:
    """Payments for the list: `received_in` keeps those whose value date is between two days."""
    stmt = (
        select(Payment)
        .join(Customer, Customer.id == Payment.customer_id)
        .options(
            selectinload(Payment.customer),
            selectinload(Payment.issuer),
            selectinload(Payment.invoice),
        )
    )
    if q.strip():
        stmt = stmt.where(text_match(q.strip(), Customer.legal_name, Payment.reference))
    if issuer_party_id is not None:
        stmt = stmt.where(Payment.issuer_party_id == issuer_party_id)
    if flagged:
        stmt = stmt.where(Payment.state == PaymentState.FLAGGED.value)
    if currency:
        stmt = stmt.where(Payment.currency == currency)
    if received_in is not None:
        stmt = stmt.where(Payment.value_date.between(*received_in))
    return order_by_choice(stmt, sort, PAYMENT_SORTS, PAYMENT_DEFAULT_SORT)


RECEIVABLE_SORTS: dict[str, tuple[Any, ...]] = {
    "due": (Invoice.due_date, Invoice.id),
    "customer": (Customer.legal_name, Invoice.due_date, Invoice.id),
    "number": (Invoice.number, Invoice.id),
    "due_amount": (Invoice.total - Invoice.credited_total - Invoice.paid_total, Invoice.id),
}
RECEIVABLE_DEFAULT_SORT = "due"


@dataclass(frozen=True, slots=True)
class ReceivableFilters:
    """What the receivables are narrowed to: an issuer, a currency, an ageing bucket on `on`."""

    issuer_party_id: int | None = None
    currency: str = ""
    bucket: str = ""
    on: date | None = None


def receivables_listing(
    q: str = "",
    *,
    issuer_party_id: int | None = None,
    sort: str = RECEIVABLE_DEFAULT_SORT,
    filters: ReceivableFilters | None = None,
) -> Select[Any]:
    """Open invoices with something due: what customers owe, oldest due first by default."""
    stmt = (
        select(Invoice)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(receivable())
        .options(selectinload(Invoice.customer), selectinload(Invoice.issuer))
    )
    if q.strip():
        stmt = stmt.where(text_match(q.strip(), Customer.legal_name, Invoice.number))
    filters = filters or ReceivableFilters(issuer_party_id=issuer_party_id)
    if filters.issuer_party_id is not None:
        stmt = stmt.where(Invoice.issuer_party_id == filters.issuer_party_id)
    if filters.currency:
        stmt = stmt.where(Invoice.currency == filters.currency)
    if filters.bucket and filters.on is not None:
        stmt = stmt.where(in_bucket(filters.bucket, filters.on))
    return order_by_choice(stmt, sort, RECEIVABLE_SORTS, RECEIVABLE_DEFAULT_SORT)


def ageing_totals(
    session: Session, on: date, *, issuer_party_id: int | None = None
) -> list[Ageing]:
    """What is owed per currency and ageing bucket on `on`, summed in SQL (the finance
    dashboard's panel; the receivables page's currency totals add up the same)."""
    bucket = ageing_case(on).label("bucket")
    due = func.sum(Invoice.total - Invoice.credited_total - Invoice.paid_total)
    stmt = select(Invoice.currency, bucket, due).where(receivable())
    if issuer_party_id is not None:
        stmt = stmt.where(Invoice.issuer_party_id == issuer_party_id)
    rows: dict[str, Ageing] = {}
    for currency, name, amount in session.execute(stmt.group_by(Invoice.currency, bucket)):
        row = rows.setdefault(currency, Ageing("", "", currency))
        row.buckets[name] += Money(Decimal(amount), currency).rounded().amount
    return [rows[currency] for currency in sorted(rows)]


@dataclass
class Ageing:
    """What one customer owes one issuer in one currency, by how late it is."""

    customer: str
    issuer: str
    currency: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, Decimal(0)))

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), Decimal(0))


def ageing_summary(invoices: Sequence[Invoice], on: date) -> list[Ageing]:
    rows: dict[tuple[str, str, str], Ageing] = {}
    for invoice in invoices:
        key = (invoice.customer.legal_name, invoice.issuer.code, invoice.currency)
        row = rows.setdefault(key, Ageing(*key))
        row.buckets[ageing_bucket(invoice.due_date, on)] += invoice.amount_due
    return [rows[key] for key in sorted(rows)]


def currency_totals(summary: Sequence[Ageing]) -> list[Ageing]:
    """The ageing summary added up across customers and issuers: one row per currency (its
    customer and issuer empty), by currency code."""
    totals: dict[str, Ageing] = {}
    for row in summary:
        total = totals.setdefault(row.currency, Ageing("", "", row.currency))
        for bucket, amount in row.buckets.items():
            total.buckets[bucket] += amount
    return [totals[currency] for currency in sorted(totals)]


def open_invoices_of(session: Session, customer_id: int) -> list[Invoice]:
    """All of a customer's open invoices with something due, oldest due first (for a form)."""
    stmt = (
        select(Invoice)
        .where(
            Invoice.customer_id == customer_id,
            Invoice.kind == "invoice",
            Invoice.status.in_(OPEN_STATUSES),
            Invoice.total - Invoice.credited_total - Invoice.paid_total > 0,
        )
        .options(selectinload(Invoice.issuer))
        .order_by(Invoice.due_date, Invoice.issue_date, Invoice.id)
    )
    return list(session.execute(stmt).scalars())


def refunds_of(session: Session, payment_id: int) -> list[Refund]:
    return list(
        session.execute(
            select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id)
        ).scalars()
    )


def credit_for_invoice(session: Session, invoice: Invoice) -> Money | None:
    """The customer's credit balance that could pay `invoice` (same issuer and currency), when
    the invoice is open and the balance above zero."""
    if invoice.is_credit_note or invoice.status not in OPEN_STATUSES or invoice.amount_due <= 0:
        return None
    left = session.execute(
        select(
            func.coalesce(
                func.sum(Payment.amount - Payment.applied_total - Payment.refunded_total), 0
            )
        ).where(
            Payment.customer_id == invoice.customer_id,
            Payment.issuer_party_id == invoice.issuer_party_id,
            Payment.currency == invoice.currency,
            Payment.state == PaymentState.RECORDED.value,
        )
    ).scalar_one()
    return Money(Decimal(left), invoice.currency) if Decimal(left) > 0 else None


@dataclass(frozen=True)
class LedgerCheck:
    """Where a customer's money with one issuer in one currency went (SPEC 6), each side summed
    from its own rows, so that a path that loses money shows up as an imbalance.

    received = applied + credit + refunded + held, always: `applied` is what payment
    applications put on invoices, `credit` the credit balance (recorded payments' unapplied part),
    `refunded` the refunds given back, `held` what flagged Stripe payments keep for review.
    `invoices_paid` is what the invoices say they were paid (it must equal `applied`), and
    `paid_beyond_due` what sits on invoices beyond what they still owe after credit notes (money
    that should have become credit balance; it must be zero)."""

    received: Money
    applied: Money
    credit: Money
    refunded: Money
    held: Money
    invoices_paid: Money
    paid_beyond_due: Money

    @property
    def problems(self) -> list[str]:
        found = []
        accounted = self.applied + self.credit + self.refunded + self.held
        if accounted != self.received:
            found.append(
                f"received {self.received.amount} but applied {self.applied.amount} + credit "
                f"{self.credit.amount} + refunded {self.refunded.amount} + held "
                f"{self.held.amount} = {accounted.amount}"
            )
        if self.invoices_paid != self.applied:
            found.append(
                f"invoices say {self.invoices_paid.amount} was paid; applications "
                f"{self.applied.amount}"
            )
        if self.paid_beyond_due.amount != 0:
            found.append(f"{self.paid_beyond_due.amount} paid beyond what invoices owe")
        return found

    @property
    def balanced(self) -> bool:
        return not self.problems


def ledger_balance(
    session: Session, customer_id: int, issuer_id: int, currency: str
) -> LedgerCheck:
    """Each side of the payments invariant for one customer, issuer and currency (a check for
    tests and audits; it reads, it never locks)."""

    def summed(stmt: Any) -> Money:
        return Money(Decimal(session.execute(stmt).scalar_one() or 0), currency)

    mine = (
        Payment.customer_id == customer_id,
        Payment.issuer_party_id == issuer_id,
        Payment.currency == currency,
    )
    left = Payment.amount - Payment.applied_total - Payment.refunded_total
    invoices = (
        Invoice.customer_id == customer_id,
        Invoice.issuer_party_id == issuer_id,
        Invoice.currency == currency,
        Invoice.kind == "invoice",
    )
    beyond = Invoice.paid_total - (Invoice.total - Invoice.credited_total)
    return LedgerCheck(
        received=summed(select(func.sum(Payment.amount)).where(*mine)),
        applied=summed(
            select(func.sum(PaymentApplication.amount))
            .join(Payment, Payment.id == PaymentApplication.payment_id)
            .where(*mine)
        ),
        credit=summed(
            select(func.sum(left)).where(*mine, Payment.state == PaymentState.RECORDED.value)
        ),
        refunded=summed(
            select(func.sum(Refund.amount))
            .join(Payment, Payment.id == Refund.payment_id)
            .where(*mine, Refund.state == RefundState.APPLIED.value)
        ),
        held=summed(
            select(func.sum(left)).where(*mine, Payment.state == PaymentState.FLAGGED.value)
        ),
        invoices_paid=summed(select(func.sum(Invoice.paid_total)).where(*invoices)),
        paid_beyond_due=summed(select(func.sum(beyond)).where(*invoices, beyond > 0)),
    )
