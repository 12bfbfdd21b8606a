"""Stored payments (SPEC 6): payments, what they paid, refunds and the Stripe events received."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, UTCDateTime
from billing.invoicing.models import Invoice
from billing.money import Money
from billing.parties.models import Customer, Party

AMOUNT = Numeric(16, 2)


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    STRIPE = "stripe"


class PaymentState(StrEnum):
    RECORDED = "recorded"  # counts: applied to invoices, the rest is credit balance
    FLAGGED = "flagged"  # kept for finance to review; applied to nothing, no credit yet


class Payment(Base):
    """Money received from a customer for one issuer, in one currency."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # What a payment paid and gave back never exceeds it: the rest is credit balance. In
        # whole cents: SQLite keeps NUMERIC as binary floating point (1317.63 + 2.13 > 1319.76).
        CheckConstraint(
            "applied_total >= 0 AND refunded_total >= 0"
            " AND ROUND(applied_total * 100) + ROUND(refunded_total * 100) <= ROUND(amount * 100)",
            name="within_amount",
        ),
        CheckConstraint("method IN ('bank_transfer', 'stripe')", name="method_valid"),
        CheckConstraint("state IN ('recorded', 'flagged')", name="state_valid"),
        CheckConstraint(
            "(state = 'flagged') = (flag_reason IS NOT NULL)", name="flagged_has_reason"
        ),
        CheckConstraint(
            "method = 'stripe' OR stripe_payment_intent_id IS NULL", name="stripe_ids_only_stripe"
        ),
        CheckConstraint(
            "method = 'bank_transfer' OR idempotency_key IS NULL", name="key_only_bank_transfer"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    issuer_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    currency: Mapped[str] = mapped_column(String(3))
    value_date: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(200), default="")
    method: Mapped[str] = mapped_column(String(16))
    # The invoice a Stripe payment was made for (from the session's metadata).
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_event_id: Mapped[str | None] = mapped_column(String(255))
    # The one-time key of the bank-transfer form that recorded it: a form posted again (or ten
    # times at once) finds its payment here instead of recording another.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=PaymentState.RECORDED.value)
    flag_reason: Mapped[str | None] = mapped_column(Text)
    applied_total: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal(0))
    refunded_total: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))

    customer: Mapped[Customer] = relationship()
    issuer: Mapped[Party] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    applications: Mapped[list[PaymentApplication]] = relationship(
        back_populates="payment", order_by="PaymentApplication.id"
    )

    @property
    def unapplied(self) -> Decimal:
        """What is left of it: the customer's credit balance, once recorded."""
        return self.unapplied_money.amount

    # The stored amounts as Money in the payment's currency: what services add up.
    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def applied_money(self) -> Money:
        return Money(self.applied_total, self.currency)

    @property
    def refunded_money(self) -> Money:
        return Money(self.refunded_total, self.currency)

    @property
    def unapplied_money(self) -> Money:
        return self.amount_money - self.applied_money - self.refunded_money


class PaymentApplication(Base):
    """Part of a payment applied to an invoice of the same customer, issuer and currency.

    A refund that reaches applied money reverses it with a negative application, so the rows
    stay append-only and the sum per invoice is what was paid."""

    __tablename__ = "payment_applications"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))

    payment: Mapped[Payment] = relationship(back_populates="applications")
    invoice: Mapped[Invoice] = relationship()

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.payment.currency)


class RefundState(StrEnum):
    APPLIED = "applied"
    # A Stripe refund whose payment has not arrived yet: applied when it does.
    PENDING = "pending"
    # A Stripe refund that cannot be applied as sent (more than its payment, another currency):
    # recorded, applied to nothing, its payment flagged for finance to review.
    FLAGGED = "flagged"


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("state IN ('applied', 'pending', 'flagged')", name="state_valid"),
        CheckConstraint("state = 'pending' OR payment_id IS NOT NULL", name="applied_has_payment"),
        CheckConstraint(
            "payment_id IS NOT NULL OR stripe_payment_intent_id IS NOT NULL",
            name="linked_to_a_payment",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255))
    stripe_event_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16), default=RefundState.APPLIED.value)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))

    payment: Mapped[Payment | None] = relationship()

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)


class StripeEvent(Base):
    """A Stripe webhook event, recorded once: the unique event id decides between duplicates."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(200))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
