"""The one way to issue and credit (SPEC 4 and 6): invoicing finalises the document through its
one path, and in the same unit of work the customer's money follows it.

- An invoice just issued takes the customer's credit balance with that issuer, in that currency.
- A credit note on a paid or partly paid invoice turns what was paid beyond the invoice's new
  balance into credit balance: the latest payments applied to it give that much back.

Payments sit above invoicing in the layers (invoicing never imports payments), so this module is
the entry point every edge (page, API, CLI, billing run) issues through; invoicing's own
`issue_*` and `credit_invoice` do the document only. Per customer and currency it keeps:
payments received = applied to invoices + credit balance + refunded, with no invoice paid beyond
what it still owes. Services never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.audit import record
from billing.db import lock_customer_then_documents
from billing.invoicing import issuing as documents
from billing.invoicing.issuing import Renderer
from billing.invoicing.models import Invoice, InvoiceStatus
from billing.money import Money
from billing.parties.customers import Seller
from billing.payments.models import Payment, PaymentApplication
from billing.payments.services import apply_credit_balance, settle_status


def issue_invoice(
    session: Session, invoice_id: int, *, actor: Seller, now: datetime, render: Renderer
) -> Invoice:
    """Issue one draft (number, document, PDF, split, audit) and apply the credit balance."""
    return issue_invoices(session, [invoice_id], actor=actor, now=now, render=render)[0]


def issue_invoices(
    session: Session,
    invoice_ids: Sequence[int],
    *,
    actor: Seller,
    now: datetime,
    render: Renderer,
) -> list[Invoice]:
    """Issue drafts in one unit of work (none if one fails) and apply the credit balance."""
    issued = documents.issue_invoices(session, invoice_ids, actor=actor, now=now, render=render)
    _take_credit_balance(session, issued, actor=actor, now=now)
    return issued


def issue_drafts_of_run(
    session: Session,
    invoice_ids: Sequence[int],
    *,
    actor: Seller,
    now: datetime,
    render: Renderer | None = None,
) -> tuple[int, list[str]]:
    """Issue a run's drafts that can be issued (the others stay drafts with the reason) and
    apply the credit balance; answers how many were issued and what was left and why. With
    `render=None` their PDFs are left for later: the caller defers
    `billing.jobs.documents.defer_rendering` for the drafts' ids in the same unit of work."""
    issued, left = documents.issue_drafts_of_run(
        session, invoice_ids, actor=actor, now=now, render=render
    )
    _take_credit_balance(session, issued, actor=actor, now=now)
    return len(issued), left


def credit_invoice(
    session: Session,
    invoice_id: int,
    *,
    amounts: Mapping[int, Decimal] | None,
    reason: str,
    actor: Seller,
    now: datetime,
    render: Renderer,
) -> Invoice:
    """Issue a credit note (whole, or the given amount of each line); what had been paid on the
    invoice beyond its new balance becomes the customer's credit balance."""
    note = documents.credit_invoice(
        session, invoice_id, amounts=amounts, reason=reason, actor=actor, now=now, render=render
    )
    invoice = note.credited_invoice
    if invoice is not None:
        _release_overpayment(session, invoice, actor=actor.label, now=now)
    return note


def _take_credit_balance(
    session: Session, invoices: Sequence[Invoice], *, actor: Seller, now: datetime
) -> None:
    for invoice in invoices:
        if invoice.amount_due <= 0:
            continue
        apply_credit_balance(
            session,
            customer_id=invoice.customer_id,
            issuer_id=invoice.issuer_party_id,
            currency=invoice.currency,
            invoice_id=invoice.id,
            actor=actor,
            now=now,
        )


def _release_overpayment(session: Session, invoice: Invoice, *, actor: str, now: datetime) -> None:
    """Give back to their payments what `invoice` was paid beyond what it now owes (the latest
    applications first): that money is credit balance again. Then the invoice's status follows:
    `credited` when nothing is paid and nothing is due."""
    excess = -invoice.amount_due_money
    if excess.amount > 0:
        applications = list(
            session.execute(
                select(PaymentApplication)
                .where(PaymentApplication.invoice_id == invoice.id)
                .order_by(PaymentApplication.id)
            ).scalars()
        )
        payment_ids = sorted({a.payment_id for a in applications})
        lock_customer_then_documents(session, invoice.customer_id, [invoice.id], payment_ids)
        paid: dict[int, Money] = {}
        for application in applications:
            paid[application.payment_id] = (
                paid.get(application.payment_id, Money.zero(invoice.currency))
                + application.amount_money
            )
        for payment_id in reversed(list(dict.fromkeys(a.payment_id for a in applications))):
            take = min(paid[payment_id], excess)
            if take.amount <= 0:
                continue
            payment = session.get(Payment, payment_id, populate_existing=True)
            if payment is None:  # pragma: no cover - a foreign key
                continue
            _give_back(session, payment, invoice, take, actor=actor, now=now)
            excess = excess - take
            if excess.amount <= 0:
                break
    if invoice.amount_due <= 0 and invoice.paid_total == 0:
        invoice.status = InvoiceStatus.CREDITED.value
    else:
        settle_status(session, invoice, now)
    session.flush()


def _give_back(
    session: Session,
    payment: Payment,
    invoice: Invoice,
    amount: Money,
    *,
    actor: str,
    now: datetime,
) -> None:
    session.add(
        PaymentApplication(
            payment=payment,
            invoice_id=invoice.id,
            amount=-amount.amount,
            created_at=now,
            created_by=actor,
        )
    )
    payment.applied_total = (payment.applied_money - amount).amount
    invoice.paid_total = (invoice.paid_money - amount).amount
    record(
        session,
        actor=actor,
        action="payment.to_credit_balance",
        entity_type="payment",
        entity_id=payment.id,
        now=now,
        after={
            "invoice": invoice.number,
            "amount": str(amount.amount),
            "currency": amount.currency,
            "credit": str(payment.unapplied),
            "why": "credited beyond what the invoice still owed",
        },
    )
