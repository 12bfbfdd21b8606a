"""Stripe's events, each recorded once (SPEC 6): payments and refunds exactly once, whatever
Stripe retries or reorders.

The edge verifies the signature (stripe.Webhook.construct_event) and passes the body here:
`read_event` checks the event's shape (a signed event can still be malformed: 400, nothing
written), then `record_event` acts on it. The event id is inserted first: of two deliveries of
one event, the unique index lets one through and the other fails on it (IntegrityError), which
the edge answers as a duplicate. A payment is known by its payment intent (also unique), so
checkout.session.completed and payment_intent.succeeded for the same payment record it once. A
refund whose payment has not arrived yet waits, pending, and is applied when it does.

A refund Stripe sends that cannot be applied as sent (more than its payment, another currency)
never blocks its payment: both are recorded, the refund as `flagged`, the payment flagged for
finance to review.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.audit import record
from billing.calendar import local_date
from billing.db import lock_customer_then_documents
from billing.errors import N_, DomainError
from billing.invoicing.models import OPEN_STATUSES, Invoice
from billing.money import minor_unit
from billing.payments.models import (
    Payment,
    PaymentMethod,
    PaymentState,
    Refund,
    RefundState,
    StripeEvent,
)
from billing.payments.queries import payment_by_intent, pending_refunds, refunded_for_intent
from billing.payments.services import AMOUNT_LIMIT, apply_to_invoice, refund_payment

ACTOR = "Stripe webhook"
PAYMENT_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "payment_intent.succeeded",
    }
)
REFUND_EVENTS = frozenset({"charge.refunded"})
# Stripe's ids ("evt_1N…", "pi_3P…", "cs_test_a1…") and event types ("charge.refunded").
_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
_EVENT_TYPE = re.compile(r"[a-z_]+(?:\.[a-z_]+){1,4}")
_CURRENCY = re.compile(r"[a-z]{3}")
# An invoice number as this platform writes them (AZT-INV-2026-000001).
_INVOICE_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{0,39}")
MAX_BODY = 256 * 1024  # Stripe's events are a few kB
STORED_DECIMALS = 2  # payments.amount is NUMERIC(16, 2)


class MalformedEventError(DomainError):
    """A signed event this platform cannot read (400): nothing is written, Stripe is told."""


@dataclass(frozen=True)
class StripeEventIn:
    """A verified event whose shape was checked: `obj` is its data.object, with the fields this
    platform acts on checked for the event types it acts on."""

    id: str
    type: str
    obj: Mapping[str, Any]


def _refuse_constant(name: str) -> Any:
    raise MalformedEventError(N_("the event holds %(name)s, which JSON does not allow"), name=name)


def read_event(payload: bytes) -> StripeEventIn:
    """The event in `payload`, or a MalformedEventError naming what is wrong with it."""
    if len(payload) > MAX_BODY:
        raise MalformedEventError(N_("the event is larger than any Stripe event"))
    try:
        text = payload.decode("utf-8")
        event = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MalformedEventError(N_("the body is not JSON in UTF-8")) from None
    if not isinstance(event, dict):
        raise MalformedEventError(N_("the event is not a JSON object"))
    event_id, kind = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not _STRIPE_ID.fullmatch(event_id):
        raise MalformedEventError(N_("the event has no id"))
    if not isinstance(kind, str) or not _EVENT_TYPE.fullmatch(kind):
        raise MalformedEventError(N_("the event has no type"))
    created = event.get("created")
    if created is not None and (isinstance(created, bool) or not isinstance(created, int)):
        raise MalformedEventError(N_("the event's created time is not a Unix time"))
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEventError(N_("the event has no data.object"))
    if kind in PAYMENT_EVENTS:
        _check_payment(kind, obj)
    elif kind in REFUND_EVENTS:
        _check_refund(obj)
    return StripeEventIn(event_id, kind, obj)


def _stripe_id(obj: Mapping[str, Any], key: str, *, required: bool = True) -> None:
    value = obj.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or not _STRIPE_ID.fullmatch(value):
        raise MalformedEventError(N_("the event's %(key)s is not a Stripe id"), key=key)


def _minor_amount(obj: Mapping[str, Any], key: str, *, least: int = 0) -> None:
    """A whole number of the currency's minor units (checked first) that a stored amount holds."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedEventError(
            N_("the event's %(key)s is not a whole number of minor units"), key=key
        )
    if not least <= value < AMOUNT_LIMIT * 10 ** minor_unit(obj["currency"].upper()):
        raise MalformedEventError(N_("the event's %(key)s is out of range"), key=key)


def _currency(obj: Mapping[str, Any]) -> None:
    value = obj.get("currency")
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise MalformedEventError(N_("the event's currency is not an ISO 4217 code"))
    try:
        minor_unit(value.upper())
    except ValueError:
        raise MalformedEventError(
            N_("the event's currency %(currency)s is unknown"), currency=repr(value)
        ) from None
    if minor_unit(value.upper()) > STORED_DECIMALS:
        raise MalformedEventError(
            N_("%(currency)s has more decimals than amounts are kept with"),
            currency=value.upper(),
        )


def _check_payment(kind: str, obj: Mapping[str, Any]) -> None:
    if kind.startswith("checkout.session"):
        status = obj.get("payment_status")
        if not isinstance(status, str):
            raise MalformedEventError(N_("the checkout session has no payment status"))
        if status != "paid":
            return  # nothing to record yet
        _stripe_id(obj, "id")
        _stripe_id(obj, "payment_intent")
        _currency(obj)
        _minor_amount(obj, "amount_total", least=1)
    else:
        _stripe_id(obj, "id")
        _currency(obj)
        _minor_amount(obj, "amount_received", least=1)
    metadata = obj.get("metadata")
    number = metadata.get("invoice_number") if isinstance(metadata, dict) else None
    if not isinstance(number, str) or not _INVOICE_NUMBER.fullmatch(number):
        raise MalformedEventError(N_("the event's metadata names no invoice number"))
    reference = obj.get("client_reference_id")
    if reference is not None and reference != number:
        raise MalformedEventError(N_("the event's client reference and metadata name two invoices"))


def _check_refund(obj: Mapping[str, Any]) -> None:
    _stripe_id(obj, "payment_intent")
    _stripe_id(obj, "id", required=False)
    _currency(obj)
    _minor_amount(obj, "amount_refunded")


def seen_event(session: Session, event_id: str) -> bool:
    return (
        session.execute(select(StripeEvent.id).where(StripeEvent.event_id == event_id)).first()
        is not None
    )


def record_event(session: Session, event: StripeEventIn, *, now: datetime) -> StripeEvent:
    """Record a verified, well-formed event and act on it. Raises IntegrityError when it was
    recorded already (concurrently; the caller answers that as a duplicate), and
    MalformedEventError when it names what does not exist (the caller rolls back)."""
    stored = StripeEvent(event_id=event.id, type=event.type, received_at=now, outcome="received")
    session.add(stored)
    session.flush()  # the unique event id decides here
    if event.type in PAYMENT_EVENTS:
        stored.outcome, stored.payment_id = _payment(session, event, now=now)
    elif event.type in REFUND_EVENTS:
        stored.outcome, stored.payment_id = _refund(session, event, now=now)
    else:
        stored.outcome = "ignored: not an event this platform acts on"
    record(
        session,
        actor=ACTOR,
        action="stripe.event",
        entity_type="stripe_event",
        entity_id=stored.event_id,
        now=now,
        after={"type": event.type, "outcome": stored.outcome, "payment": stored.payment_id},
    )
    session.flush()
    return stored


def _amount(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_unit(currency))


def _invoice_locked(session: Session, number: str) -> Invoice:
    """The invoice named by the event, locked in the one lock order (its customer first)."""
    found = session.execute(
        select(Invoice.id, Invoice.customer_id).where(
            Invoice.number == number, Invoice.kind == "invoice"
        )
    ).first()
    if found is None:
        raise MalformedEventError(
            N_("the event names no invoice of this platform (%(number)s)"), number=number
        )
    lock_customer_then_documents(session, found.customer_id, [found.id])
    return session.execute(
        select(Invoice)
        .where(Invoice.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _payment(session: Session, event: StripeEventIn, *, now: datetime) -> tuple[str, int | None]:
    obj = event.obj
    if event.type.startswith("checkout.session"):
        if obj["payment_status"] != "paid":
            return "waiting: the checkout is not paid yet", None
        intent, minor, checkout_id = obj["payment_intent"], obj["amount_total"], obj["id"]
    else:
        intent, minor, checkout_id = obj["id"], obj["amount_received"], None
    number = obj["metadata"]["invoice_number"]
    currency = obj["currency"].upper()
    invoice = _invoice_locked(session, number)
    existing = payment_by_intent(session, intent)
    if existing is not None:
        if existing.invoice_id != invoice.id:
            raise MalformedEventError(
                N_("payment intent %(intent)s paid another invoice than %(number)s"),
                intent=intent,
                number=number,
            )
        if checkout_id and not existing.stripe_checkout_session_id:
            existing.stripe_checkout_session_id = checkout_id
        return f"duplicate: payment {existing.id} records it", existing.id
    amount = _amount(minor, currency)
    waiting = pending_refunds(session, intent)
    why = _mismatch(invoice, amount, currency) or _refunds_beyond(waiting, amount, currency)
    payment = Payment(
        customer_id=invoice.customer_id,
        issuer_party_id=invoice.issuer_party_id,
        invoice_id=invoice.id,
        amount=amount,
        currency=currency,
        # The issuer's business day when Stripe told us (calendar.local_date), not UTC's.
        value_date=local_date(now, invoice.issuer.time_zone),
        reference=intent[:200],
        method=PaymentMethod.STRIPE.value,
        stripe_checkout_session_id=checkout_id,
        stripe_payment_intent_id=intent,
        stripe_event_id=event.id,
        state=PaymentState.FLAGGED.value if why else PaymentState.RECORDED.value,
        flag_reason=why,
        applied_total=Decimal(0),
        refunded_total=Decimal(0),
        created_at=now,
        created_by=ACTOR,
    )
    session.add(payment)
    session.flush()
    if why is None:
        apply_to_invoice(session, payment, invoice, amount, actor=ACTOR, now=now)
    record(
        session,
        actor=ACTOR,
        action="payment.record",
        entity_type="payment",
        entity_id=payment.id,
        now=now,
        after={
            "invoice": invoice.number,
            "amount": str(amount),
            "currency": currency,
            "value_date": payment.value_date.isoformat(),
            "state": payment.state,
            "flag_reason": why,
        },
    )
    for refund in waiting:
        if _refundable(payment, refund):
            refund_payment(session, payment, refund, actor=ACTOR, now=now)
        else:
            _flag_refund(session, payment, refund, now=now)
    outcome = f"flagged: {why}" if why else f"payment recorded for {invoice.number}"
    return outcome, payment.id


def _mismatch(invoice: Invoice, amount: Decimal, currency: str) -> str | None:
    if currency != invoice.currency:
        return f"paid in {currency}; {invoice.number} is in {invoice.currency}"
    if invoice.is_credit_note or invoice.status not in OPEN_STATUSES:
        return f"{invoice.number} is {invoice.status.replace('_', ' ')}: nothing was due"
    if amount != invoice.amount_due:
        return f"paid {amount} {currency}; {invoice.amount_due} was due on {invoice.number}"
    return None


def _refunds_beyond(refunds: list[Refund], amount: Decimal, currency: str) -> str | None:
    """Why refunds that came before their payment cannot all be applied to it, or None."""
    if not refunds:
        return None
    if any(r.currency != currency for r in refunds):
        return f"Stripe refunded this payment in another currency than its {currency}"
    refunded = sum((r.amount for r in refunds), Decimal(0))
    if refunded > amount:
        return (
            f"Stripe refunded {refunded} {currency} before this payment of {amount} {currency} "
            "arrived: more than was paid"
        )
    return None


def _refundable(payment: Payment, refund: Refund) -> bool:
    return (
        refund.currency == payment.currency
        and refund.amount <= payment.amount - payment.refunded_total
    )


def _flag_refund(session: Session, payment: Payment, refund: Refund, *, now: datetime) -> None:
    """Keep a refund that cannot be applied as sent, and flag its payment for review."""
    left = payment.amount - payment.refunded_total
    why = (
        f"Stripe refunded {refund.amount} {refund.currency} of a payment in {payment.currency}"
        if refund.currency != payment.currency
        else f"Stripe refunded {refund.amount} {refund.currency}; {left} of the payment was left"
    )
    refund.payment = payment
    refund.state = RefundState.FLAGGED.value
    refund.reason = f"refunded in Stripe, not applied: {why}"
    session.add(refund)
    if payment.state != PaymentState.FLAGGED.value:
        payment.state = PaymentState.FLAGGED.value
        payment.flag_reason = why
    session.flush()
    record(
        session,
        actor=ACTOR,
        action="payment.refund_flagged",
        entity_type="payment",
        entity_id=payment.id,
        now=now,
        after={
            "amount": str(refund.amount),
            "currency": refund.currency,
            "state": payment.state,
            "flag_reason": payment.flag_reason,
        },
    )


def _payment_locked(session: Session, intent: str) -> Payment | None:
    """The payment of a payment intent, locked in the one lock order: its customer, the invoice
    it paid (a refund may reopen it), then the payment."""
    found = session.execute(
        select(Payment.id, Payment.customer_id, Payment.invoice_id).where(
            Payment.stripe_payment_intent_id == intent
        )
    ).first()
    if found is None:
        return None
    invoices = [found.invoice_id] if found.invoice_id is not None else []
    lock_customer_then_documents(session, found.customer_id, invoices, [found.id])
    return payment_by_intent(session, intent)


def _refund(session: Session, event: StripeEventIn, *, now: datetime) -> tuple[str, int | None]:
    obj = event.obj
    intent = obj["payment_intent"]
    currency = obj["currency"].upper()
    # Stripe sends what was refunded so far: the new refund is what this adds.
    cumulative = _amount(obj["amount_refunded"], currency)
    new = cumulative - refunded_for_intent(session, intent)
    if new <= 0:
        return "duplicate: this refund is recorded", None
    payment = _payment_locked(session, intent)
    refund = Refund(
        stripe_payment_intent_id=intent,
        stripe_charge_id=obj.get("id"),
        stripe_event_id=event.id,
        amount=new,
        currency=currency,
        state=RefundState.PENDING.value,
        reason="refunded in Stripe",
        created_at=now,
        created_by=ACTOR,
    )
    session.add(refund)
    if payment is None:
        session.flush()
        return "refund pending: its payment has not arrived yet", None
    if not _refundable(payment, refund):
        _flag_refund(session, payment, refund, now=now)
        return f"flagged: {payment.flag_reason}", payment.id
    refund_payment(session, payment, refund, actor=ACTOR, now=now)
    session.flush()
    return f"refund of {new} {currency} recorded", payment.id
