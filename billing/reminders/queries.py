"""Reading reminders (SPEC 13): an issuer's steps, the steps an invoice reached, the last one
sent to each open invoice. Reads only."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.reminders.models import SENT, InvoiceReminder, ReminderStep


def steps_of(session: Session, party_id: int) -> list[ReminderStep]:
    return list(
        session.scalars(
            select(ReminderStep)
            .where(ReminderStep.party_id == party_id)
            .order_by(ReminderStep.offset_days)
        )
    )


def reminders_of(session: Session, invoice_id: int) -> list[InvoiceReminder]:
    return list(
        session.scalars(
            select(InvoiceReminder)
            .where(InvoiceReminder.invoice_id == invoice_id)
            .order_by(InvoiceReminder.at, InvoiceReminder.offset_days)
        )
    )


def last_steps(session: Session, invoice_ids: Sequence[int]) -> dict[int, InvoiceReminder]:
    """The last reminder SENT to each invoice among `invoice_ids` (the receivables column)."""
    last: dict[int, InvoiceReminder] = {}
    if not invoice_ids:
        return last
    rows = session.scalars(
        select(InvoiceReminder)
        .where(InvoiceReminder.invoice_id.in_(list(invoice_ids)), InvoiceReminder.state == SENT)
        .order_by(InvoiceReminder.offset_days)
    )
    for reminder in rows:
        last[reminder.invoice_id] = reminder
    return last
