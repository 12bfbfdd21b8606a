"""Reminder steps per issuer and the reminders each invoice has had (SPEC 13)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, UTCDateTime
from billing.parties.models import Party

# A step falls this many days before the due date at most, or after it at most.
EARLIEST_OFFSET = -30
LATEST_OFFSET = 365
SENT = "sent"
# A later step was due already when this one's day came (the job was off, or the terms short):
# it is never sent afterwards, so a customer never gets two reminders in one morning.
SKIPPED = "skipped"


class ReminderStep(Base):
    """One step of an issuer's reminders: `offset_days` from the due date (negative: before it),
    with its own subject and text. Placeholders: {number}, {customer}, {issuer}, {due_date},
    {amount_due}, {days} (days overdue, or days left before the due date)."""

    __tablename__ = "reminder_steps"
    __table_args__ = (
        UniqueConstraint("party_id", "offset_days", name="uq_reminder_steps_party_offset"),
        CheckConstraint(
            f"offset_days BETWEEN {EARLIEST_OFFSET} AND {LATEST_OFFSET}", name="offset_in_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    offset_days: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    party: Mapped[Party] = relationship()

    @property
    def label(self) -> str:
        return step_label(self.offset_days)


def step_label(offset_days: int) -> str:
    if offset_days < 0:
        days = -offset_days
        return f"{days} day{'s' if days != 1 else ''} before due"
    if offset_days == 0:
        return "on the due date"
    return f"{offset_days} day{'s' if offset_days != 1 else ''} overdue"


class InvoiceReminder(Base):
    """A step reached by an invoice: sent (to whom, by which mails) or skipped. Once per step
    and invoice, whatever reruns."""

    __tablename__ = "invoice_reminders"
    __table_args__ = (
        UniqueConstraint("invoice_id", "step_id", name="uq_invoice_reminders_invoice_step"),
        CheckConstraint(f"state IN ('{SENT}', '{SKIPPED}')", name="state_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("reminder_steps.id"), index=True)
    # The step's offset when it was reached (a step edited later keeps its history readable).
    offset_days: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The mails sent (their public ids) and to whom.
    mails: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recipients: Mapped[list[Any]] = mapped_column(JSON, default=list)

    step: Mapped[ReminderStep] = relationship()

    @property
    def label(self) -> str:
        return step_label(self.offset_days)
