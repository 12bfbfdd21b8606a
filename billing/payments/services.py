"""Recording payments and refunds (SPEC 6), and applying them to invoices.

An invoice's `paid_total` is the sum of what payments applied to it; its status follows
(issued -> partially_paid -> paid, and back when a refund reverses a payment). What a recorded
payment has not applied and not refunded is the customer's credit balance with that issuer in that
currency. Services never commit: the edge does, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.audit import record
from billing.db import lock_customer_then_documents, lock_documents
from billing.errors import N_, InvalidRequestError, NotFoundError, PermissionDeniedError, Text
from billing.events import record_event
from billing.invoicing.models import OPEN_STATUSES, Invoice, InvoiceStatus
from billing.invoicing.queries import get_invoice
from billing.money import Money
from billing.parties.customers import Seller
from billing.parties.models import Customer, Party
from billing.payments.models import (
    Payment,
    PaymentApplication,
    PaymentMethod,
    PaymentState,
    Refund,
    RefundState,
)
from billing.payments.queries import (
    credit_payments,
    get_payment,
    open_invoices,
    payment_by_idempotency_key,
)

AMOUNT_LIMIT = Decimal(10) ** 14


class PaymentError(InvalidRequestError):
    """A payment, an application or a refund that cannot be recorded as given (422)."""


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    applied: Money  # to invoices
    credit: Money  # left as credit balance
    # The form was posted before: this is the payment it recorded then; nothing new was written.
    duplicate: bool = False


def _may_act(actor: Seller, issuer: Party) -> None:
    if not actor.may_sell_for(issuer.id):
        raise PermissionDeniedError(
            N_("only %(issuer)s's finance staff record payments for %(issuer)s's invoices"),
            issuer=issuer.code,
        )


def _checked_amount(money: Money, field: str = "amount") -> Money:
    if money.amount <= 0:
        raise PaymentError(N_("an amount must be above zero"), {field: [N_("must be above zero")]})
    if money.amount >= AMOUNT_LIMIT or money.rounded().amount != money.amount:
        raise PaymentError(
            N_("%(amount)s %(currency)s is not an amount in %(currency)s"),
            {
                field: [
                    Text(
                        N_("at most %(limit)s with the currency's decimals"), limit=AMOUNT_LIMIT - 1
                    )
                ]
            },
            amount=money.amount,
            currency=money.currency,
        )
    return money


def settle_status(session: Session, invoice: Invoice, now: datetime) -> None:
    """The status that follows what was paid: issued, partially paid or paid. An invoice paid
    in full is announced (`invoice.paid`, SPEC 13) the first time it is."""
    if invoice.status not in (*OPEN_STATUSES, InvoiceStatus.PAID.value):
        return
    if invoice.amount_due <= 0:
        if invoice.status != InvoiceStatus.PAID.value:
            record_event(
                session,
                "invoice.paid",
                subject_type="invoice",
                subject_id=invoice.id,
                customer_id=invoice.customer_id,
                party_id=invoice.issuer_party_id,
                now=now,
            )
        invoice.status = InvoiceStatus.PAID.value
    elif invoice.paid_total > 0:
        invoice.status = InvoiceStatus.PARTIALLY_PAID.value
    else:
        invoice.status = InvoiceStatus.ISSUED.value


def _payable(session: Session, invoice_id: int, payment: Payment) -> Invoice:
    """The invoice, locked, when `payment` may pay it; a PaymentError naming why not, on the
    allocation's field `invoice_<id>`."""
    field = f"invoice_{invoice_id}"
    try:
        invoice = get_invoice(session, invoice_id, for_update=True)
    except NotFoundError:
        raise PaymentError(
            N_("there is no invoice %(id)s"),
            {field: [Text(N_("no invoice %(id)s"), id=invoice_id)]},
            id=invoice_id,
        ) from None
    name = invoice.number or Text(N_("draft %(id)s"), id=invoice.id)
    why = None
    if invoice.customer_id != payment.customer_id:
        why = Text(N_("%(name)s is another customer's invoice"), name=name)
    elif invoice.issuer_party_id != payment.issuer_party_id:
        why = Text(N_("%(name)s was issued by another party"), name=name)
    elif invoice.is_credit_note or invoice.status not in OPEN_STATUSES:
        why = Text(
            N_("%(name)s is not an open invoice (it is %(status)s)"),
            name=name,
            status=invoice.status.replace("_", " "),
        )
    elif invoice.currency != payment.currency:
        why = Text(
            N_("%(name)s is in %(currency)s; the payment is in %(payment_currency)s"),
            name=name,
            currency=invoice.currency,
            payment_currency=payment.currency,
        )
    if why:
        raise PaymentError(why, {field: [why]})
    return invoice


def apply_to_invoice(
    session: Session,
    payment: Payment,
    invoice: Invoice,
    amount: Decimal,
    *,
    actor: str,
    now: datetime,
) -> None:
    session.add(
        PaymentApplication(
            payment=payment, invoice_id=invoice.id, amount=amount, created_at=now, created_by=actor
        )
    )
    payment.applied_total += amount
    invoice.paid_total += amount
    settle_status(session, invoice, now)
    record(
        session,
        actor=actor,
        action="payment.apply",
        entity_type="invoice",
        entity_id=invoice.id,
        now=now,
        after={
            "payment": payment.id,
            "amount": str(amount),
            "currency": payment.currency,
            "paid_total": str(invoice.paid_total),
            "status": invoice.status,
        },
    )


def _apply_given(
    session: Session,
    payment: Payment,
    applications: Mapping[int, Decimal],
    *,
    actor: str,
    now: datetime,
) -> Decimal:
    wanted = Decimal(0)
    checked: list[tuple[Invoice, Decimal]] = []
    for invoice_id, amount in sorted(applications.items()):
        invoice = _payable(session, invoice_id, payment)
        field = f"invoice_{invoice.id}"
        _checked_amount(Money(amount, payment.currency), field)
        if amount > invoice.amount_due:
            raise PaymentError(
                N_("%(number)s has %(due)s %(currency)s due; %(amount)s cannot be applied to it"),
                {
                    field: [
                        Text(
                            N_("at most %(due)s is due on %(number)s"),
                            due=invoice.amount_due,
                            number=invoice.number,
                        )
                    ]
                },
                number=invoice.number,
                due=invoice.amount_due,
                currency=invoice.currency,
                amount=amount,
            )
        wanted += amount
        checked.append((invoice, amount))
    if wanted > payment.unapplied:
        raise PaymentError(
            N_("%(wanted)s %(currency)s applied is more than the %(available)s available"),
            {"amount": [N_("the invoices' amounts add up to more than the payment")]},
            wanted=wanted,
            currency=payment.currency,
            available=payment.unapplied,
        )
    for invoice, amount in checked:
        apply_to_invoice(session, payment, invoice, amount, actor=actor, now=now)
    return wanted


def _apply_oldest_first(
    session: Session, payment: Payment, *, actor: str, now: datetime, only: int | None = None
) -> Decimal:
    """Apply what is left of `payment` to the customer's open invoices, oldest due first (or to
    invoice `only`)."""
    applied = Decimal(0)
    for invoice in open_invoices(
        session, payment.customer_id, payment.issuer_party_id, payment.currency, only=only
    ):
        amount = min(invoice.amount_due, payment.unapplied)
        if amount <= 0:
            break
        apply_to_invoice(session, payment, invoice, amount, actor=actor, now=now)
        applied += amount
    return applied


def _customer_and_issuer(
    session: Session, customer_id: int, issuer_id: int
) -> tuple[Customer, Party]:
    customer = session.get(Customer, customer_id)
    issuer = session.get(Party, issuer_id)
    if customer is None:
        raise PaymentError(
            N_("there is no customer %(id)s"), {"customer": [N_("unknown")]}, id=customer_id
        )
    if issuer is None:
        raise PaymentError(
            N_("there is no party %(id)s"), {"issuer": [N_("unknown")]}, id=issuer_id
        )
    return customer, issuer


def record_bank_payment(
    session: Session,
    *,
    customer_id: int,
    issuer_id: int,
    amount: Money,
    value_date: date,
    reference: str,
    applications: Mapping[int, Decimal] | None,
    actor: Seller,
    now: datetime,
    idempotency_key: str | None = None,
) -> Recorded:
    """A bank transfer received: applied to the invoices given ({invoice id: amount}), or, with
    None, to the customer's open invoices oldest due first. What is left is credit balance.

    An allocation naming anything but an open invoice of this customer, issuer and currency
    refuses the whole payment. With an `idempotency_key` (the form's one-time key), a payment
    already recorded with it is returned as a duplicate and nothing new is written, also when
    the same form is posted concurrently (the key is UNIQUE)."""
    lock_customer_then_documents(session, customer_id)
    customer, issuer = _customer_and_issuer(session, customer_id, issuer_id)
    _may_act(actor, issuer)
    _checked_amount(amount)
    reference = reference.strip()
    if not reference:
        raise PaymentError(
            N_("a bank transfer needs its reference"), {"reference": [N_("required")]}
        )
    if idempotency_key is not None:
        earlier = payment_by_idempotency_key(session, idempotency_key)
        if earlier is not None:
            return _recorded_before(earlier, customer_id)
    payment = Payment(
        customer_id=customer.id,
        issuer_party_id=issuer.id,
        amount=amount.amount,
        currency=amount.currency,
        value_date=value_date,
        reference=reference[:200],
        method=PaymentMethod.BANK_TRANSFER.value,
        state=PaymentState.RECORDED.value,
        applied_total=Decimal(0),
        refunded_total=Decimal(0),
        created_at=now,
        created_by=actor.label,
        idempotency_key=idempotency_key,
    )
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:
        # The same form, posted at the same moment by another request that committed first.
        earlier = payment_by_idempotency_key(session, idempotency_key) if idempotency_key else None
        if earlier is None:
            raise
        return _recorded_before(earlier, customer_id)
    if applications is None:
        applied = _apply_oldest_first(session, payment, actor=actor.label, now=now)
    else:
        applied = _apply_given(session, payment, applications, actor=actor.label, now=now)
    record(
        session,
        actor=actor.label,
        action="payment.record",
        entity_type="payment",
        entity_id=payment.id,
        now=now,
        after={
            "customer": customer.legal_name,
            "issuer": issuer.code,
            "amount": str(amount.amount),
            "currency": amount.currency,
            "value_date": value_date.isoformat(),
            "reference": payment.reference,
            "applied": str(applied),
        },
    )
    session.flush()
    return Recorded(
        payment, Money(applied, amount.currency), Money(payment.unapplied, amount.currency)
    )


def _recorded_before(payment: Payment, customer_id: int) -> Recorded:
    if payment.customer_id != customer_id or payment.method != PaymentMethod.BANK_TRANSFER.value:
        raise PaymentError(
            N_("this form was used for another payment; open the form again"),
            {"idempotency_key": [N_("used already")]},
        )
    return Recorded(
        payment,
        Money(payment.applied_total, payment.currency),
        Money(payment.unapplied, payment.currency),
        duplicate=True,
    )


def apply_credit_balance(
    session: Session,
    *,
    customer_id: int,
    issuer_id: int,
    currency: str,
    invoice_id: int | None = None,
    actor: Seller,
    now: datetime,
) -> Money:
    """Apply the customer's credit balance (with this issuer, in this currency) to invoice
    `invoice_id`, or to its open invoices oldest due first. Returns what was applied."""
    lock_customer_then_documents(session, customer_id)
    _customer, issuer = _customer_and_issuer(session, customer_id, issuer_id)
    _may_act(actor, issuer)
    if invoice_id is not None:
        invoice = get_invoice(session, invoice_id, customer_id=customer_id)
        if invoice.currency != currency or invoice.issuer_party_id != issuer_id:
            raise PaymentError(
                N_("%(number)s is not %(issuer)s's invoice in %(currency)s"),
                {"invoice": [N_("another issuer or currency")]},
                number=invoice.number,
                issuer=issuer.code,
                currency=currency,
            )
    applied = Money.zero(currency)
    for payment in credit_payments(session, customer_id, issuer_id, currency):
        applied += Money(
            _apply_oldest_first(session, payment, actor=actor.label, now=now, only=invoice_id),
            currency,
        )
    session.flush()
    return applied


def _reverse(
    session: Session, payment: Payment, amount: Decimal, *, actor: str, now: datetime
) -> None:
    """Take `amount` back from what `payment` paid on invoices, the latest application first."""
    paid: dict[int, Decimal] = {}
    for application in payment.applications:
        paid[application.invoice_id] = (
            paid.get(application.invoice_id, Decimal(0)) + application.amount
        )
    for application in reversed(payment.applications):
        if amount <= 0:
            break
        left = paid[application.invoice_id]
        take = min(left, amount)
        if take <= 0:
            continue
        invoice = get_invoice(session, application.invoice_id, for_update=True)
        session.add(
            PaymentApplication(
                payment=payment,
                invoice_id=invoice.id,
                amount=-take,
                created_at=now,
                created_by=actor,
            )
        )
        paid[application.invoice_id] = left - take
        payment.applied_total -= take
        invoice.paid_total -= take
        settle_status(session, invoice, now)
        amount -= take


def refund_payment(
    session: Session, payment: Payment, refund: Refund, *, actor: str, now: datetime
) -> None:
    if refund.currency != payment.currency:
        raise PaymentError(
            N_("the payment is in %(currency)s; a refund of it is too"),
            {"amount": [Text(N_("in %(currency)s"), currency=payment.currency)]},
            currency=payment.currency,
        )
    refundable = payment.amount - payment.refunded_total
    if refund.amount > refundable:
        raise PaymentError(
            N_("at most %(refundable)s %(currency)s of this payment can be refunded"),
            {"amount": [Text(N_("at most %(refundable)s"), refundable=refundable)]},
            refundable=refundable,
            currency=payment.currency,
        )
    from_credit = min(payment.unapplied, refund.amount)
    if refund.amount > from_credit:
        _reverse(session, payment, refund.amount - from_credit, actor=actor, now=now)
    payment.refunded_total += refund.amount
    refund.payment = payment
    refund.state = RefundState.APPLIED.value
    record(
        session,
        actor=actor,
        action="payment.refund",
        entity_type="payment",
        entity_id=payment.id,
        now=now,
        after={
            "amount": str(refund.amount),
            "currency": refund.currency,
            "refunded_total": str(payment.refunded_total),
            "reason": refund.reason,
        },
    )


def record_refund(
    session: Session,
    *,
    payment_id: int,
    amount: Money,
    reason: str,
    actor: Seller,
    now: datetime,
) -> Refund:
    """Money given back from a payment: from its credit balance first, then from the invoices it
    paid (latest first), which become due again."""
    lock_documents(session, payment_ids=[payment_id])
    payment = get_payment(session, payment_id, for_update=True)
    _may_act(actor, payment.issuer)
    _checked_amount(amount)
    refund = Refund(
        amount=amount.amount,
        currency=amount.currency,
        reason=reason.strip(),
        state=RefundState.APPLIED.value,
        created_at=now,
        created_by=actor.label,
    )
    refund_payment(session, payment, refund, actor=actor.label, now=now)
    session.add(refund)
    session.flush()
    return refund


def accept_flagged_payment(
    session: Session, payment_id: int, *, actor: Seller, now: datetime
) -> Payment:
    """Finance has reviewed a flagged payment: it becomes credit balance (then applied as any)."""
    lock_documents(session, payment_ids=[payment_id])
    payment = get_payment(session, payment_id, for_update=True)
    _may_act(actor, payment.issuer)
    if payment.state != PaymentState.FLAGGED.value:
        raise PaymentError(N_("this payment is not flagged"), {"payment": [N_("not flagged")]})
    before = {"state": payment.state, "flag_reason": payment.flag_reason}
    payment.state = PaymentState.RECORDED.value
    payment.flag_reason = None
    record(
        session,
        actor=actor.label,
        action="payment.accept_flagged",
        entity_type="payment",
        entity_id=payment.id,
        now=now,
        before=before,
        after={"state": payment.state, "credit": str(payment.unapplied)},
    )
    session.flush()
    return payment
