"""Stripe's events, each recorded once (SPEC 6): payments and refunds exactly once, whatever
Stripe retries or reorders.

The edge verifies the signature (stripe.Webhook.construct_event) and passes the event here. The
event id is inserted first: of two deliveries of one event, the unique index lets one through and
the other fails on it (IntegrityError), which the edge answers as a duplicate. A payment is known
by its payment intent (also unique), so checkout.session.completed and payment_intent.succeeded for
the same payment record it once. A refund whose payment has not arrived yet waits, pending, and is
applied when it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.audit import record
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
from billing.payments.services import apply_to_invoice, refund_payment

ACTOR = "Stripe webhook"
PAYMENT_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "payment_intent.succeeded",
    }
)


def seen_event(session: Session, event_id: str) -> bool:
    return (
        session.execute(select(StripeEvent.id).where(StripeEvent.event_id == event_id)).first()
        is not None
    )


def record_event(session: Session, event: Mapping[str, Any], *, now: datetime) -> StripeEvent:
    """Record a verified event and act on it. Raises IntegrityError when it was recorded already
    (concurrently); the caller answers that as a duplicate."""
    stored = StripeEvent(
        event_id=str(event["id"]), type=str(event["type"]), received_at=now, outcome="received"
    )
    session.add(stored)
    session.flush()  # the unique event id decides here
    obj = event.get("data", {}).get("object", {})
    kind = stored.type
    if kind in PAYMENT_EVENTS:
        stored.outcome, stored.payment_id = _payment(session, kind, obj, stored.event_id, now=now)
    elif kind == "charge.refunded":
        stored.outcome, stored.payment_id = _refund(session, obj, stored.event_id, now=now)
    else:
        stored.outcome = "ignored: not an event this platform acts on"
    record(
        session,
        actor=ACTOR,
        action="stripe.event",
        entity_type="stripe_event",
        entity_id=stored.event_id,
        now=now,
        after={"type": kind, "outcome": stored.outcome, "payment": stored.payment_id},
    )
    session.flush()
    return stored


def _amount(minor: object, currency: str) -> Decimal:
    return Decimal(int(str(minor))).scaleb(-minor_unit(currency))


def _payment(
    session: Session, kind: str, obj: Mapping[str, Any], event_id: str, *, now: datetime
) -> tuple[str, int | None]:
    if kind.startswith("checkout.session"):
        if obj.get("payment_status") != "paid":
            return "waiting: the checkout is not paid yet", None
        intent, minor, checkout_id = (
            obj.get("payment_intent"),
            obj.get("amount_total"),
            obj.get("id"),
        )
    else:
        intent, minor, checkout_id = obj.get("id"), obj.get("amount_received"), None
    number = str((obj.get("metadata") or {}).get("invoice_number") or "")
    currency = str(obj.get("currency") or "").upper()
    if not intent or minor is None:
        return "ignored: no payment intent or amount", None
    existing = payment_by_intent(session, str(intent))
    if existing is not None:
        if checkout_id and not existing.stripe_checkout_session_id:
            existing.stripe_checkout_session_id = str(checkout_id)
        return f"duplicate: payment {existing.id} records it", existing.id
    invoice = session.execute(
        select(Invoice).where(Invoice.number == number).with_for_update()
    ).scalar_one_or_none()
    if invoice is None:
        return f"not recorded: no invoice {number!r} — check the payment in Stripe", None
    try:
        amount = _amount(minor, currency)
    except ValueError:
        return f"not recorded: unknown currency {currency!r} — check the payment in Stripe", None
    why = _mismatch(invoice, amount, currency)
    payment = Payment(
        customer_id=invoice.customer_id,
        issuer_party_id=invoice.issuer_party_id,
        invoice_id=invoice.id,
        amount=amount,
        currency=currency,
        value_date=now.date(),
        reference=str(intent)[:200],
        method=PaymentMethod.STRIPE.value,
        stripe_checkout_session_id=str(checkout_id) if checkout_id else None,
        stripe_payment_intent_id=str(intent),
        stripe_event_id=event_id,
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
            "state": payment.state,
            "flag_reason": why,
        },
    )
    for refund in pending_refunds(session, str(intent)):
        refund_payment(session, payment, refund, actor=ACTOR, now=now)
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


def _refund(
    session: Session, obj: Mapping[str, Any], event_id: str, *, now: datetime
) -> tuple[str, int | None]:
    intent = obj.get("payment_intent")
    currency = str(obj.get("currency") or "").upper()
    if not intent or obj.get("amount_refunded") is None:
        return "ignored: no payment intent or refunded amount", None
    try:
        # Stripe sends what was refunded so far: the new refund is what this adds.
        cumulative = _amount(obj["amount_refunded"], currency)
    except ValueError:
        return f"not recorded: unknown currency {currency!r}", None
    new = cumulative - refunded_for_intent(session, str(intent))
    if new <= 0:
        return "duplicate: this refund is recorded", None
    payment = payment_by_intent(session, str(intent))
    refund = Refund(
        stripe_payment_intent_id=str(intent),
        stripe_charge_id=str(obj.get("id") or "") or None,
        stripe_event_id=event_id,
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
    refund_payment(session, payment, refund, actor=ACTOR, now=now)
    session.flush()
    return f"refund of {new} {currency} recorded", payment.id
