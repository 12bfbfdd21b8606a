"""Payment reminders (dunning, SPEC 13): editing an issuer's steps, and the daily pass that sends
each invoice the step it has reached, once.

The daily pass of one issuer (`send_reminders`, run by the reminders schedule in the issuer's
local morning) looks at the issuer's open invoices on its local business date:
- an invoice past its due date is announced once (`invoice.overdue`, for webhooks);
- reminders stop for an invoice paid, credited, or disputed (an open dispute), and for a
  customer none of whose billing contacts wants reminders (opted out);
- otherwise the latest active step whose day has come and that the invoice has not reached yet
  is sent, one mail per contact who wants reminders (each with its own List-Unsubscribe), with
  the invoice's PDF attached; steps passed over on the way (the pass did not run on their day,
  or the terms were shorter than the step) are recorded as skipped and never sent later. A step
  is reached once per invoice (UNIQUE), so a rerun, or two passes at once, send nothing twice.
The same pass announces the issuer's open quotes that expire within three days
(`quote.expiring`, once per quote).

Services take a session and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from billing.audit import record
from billing.calendar import local_date
from billing.errors import (
    N_,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    Text,
)
from billing.events import record_event
from billing.invoicing.models import OPEN_STATUSES, Invoice, InvoiceDispute
from billing.mail.models import BillingContact
from billing.mail.services import Recipient, contacts_for, queue_mail, recipient_problem
from billing.money import format_money
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.reminders.models import (
    EARLIEST_OFFSET,
    LATEST_OFFSET,
    SENT,
    SKIPPED,
    InvoiceReminder,
    ReminderStep,
)
from billing.reminders.queries import steps_of
from billing.reminders.steps import STANDARD_STEPS, fill, template_problem
from billing.sales.models import Quote, QuoteState

log = logging.getLogger(__name__)

SUBJECT_MAX = 200
BODY_MAX = 5000
# Open quotes announced as expiring this long before their end.
EXPIRING_WITHIN = timedelta(days=3)

UnsubscribeUrl = Callable[[BillingContact], str]


# --- steps ---------------------------------------------------------------------------------


def ensure_standard_steps(session: Session, party: Party, *, now: datetime) -> None:
    """The standard four steps for an issuer that has none (the seed calls it)."""
    if steps_of(session, party.id):
        return
    for step in STANDARD_STEPS:
        session.add(
            ReminderStep(
                party_id=party.id,
                offset_days=step.offset_days,
                subject=step.subject,
                body=step.body,
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
    session.flush()


@dataclass(frozen=True, slots=True)
class StepChange:
    offset_days: int
    subject: str
    body: str
    active: bool = True


def _checked(change: StepChange) -> StepChange:
    errors: dict[str, list[str]] = {}
    if not EARLIEST_OFFSET <= change.offset_days <= LATEST_OFFSET:
        errors["offset_days"] = [
            Text(
                N_("From %(earliest)s (days before the due date) to %(latest)s (days after)."),
                earliest=EARLIEST_OFFSET,
                latest=LATEST_OFFSET,
            )
        ]
    subject = " ".join((change.subject or "").split())
    body = (change.body or "").replace("\r\n", "\n").strip()
    for name, value, limit in (("subject", subject, SUBJECT_MAX), ("body", body, BODY_MAX)):
        if not value:
            errors[name] = [N_("Required.")]
        elif len(value) > limit:
            errors[name] = [Text(N_("At most %(count)s characters."), count=limit)]
        elif "\x00" in value:
            errors[name] = [N_("Remove the NUL character.")]
        else:
            problem = template_problem(value)
            if problem:
                errors[name] = [problem]
    if errors:
        raise InvalidRequestError(N_("The reminder step was not saved"), errors)
    return StepChange(change.offset_days, subject, body, change.active)


def _may_edit(party: Party, editor: Seller) -> None:
    if not editor.may_sell_for(party.id):
        raise PermissionDeniedError(
            N_("%(party)s's reminders are edited by its own staff"), party=party.code
        )


def _snapshot(step: ReminderStep) -> dict[str, object]:
    return {
        "offset_days": step.offset_days,
        "subject": step.subject,
        "body": step.body,
        "active": step.active,
    }


def _taken(session: Session, party_id: int, offset_days: int, but: int | None = None) -> None:
    other = session.scalar(
        select(ReminderStep.id).where(
            ReminderStep.party_id == party_id,
            ReminderStep.offset_days == offset_days,
            ReminderStep.id != (but or 0),
        )
    )
    if other is not None:
        raise InvalidRequestError(
            N_("The reminder step was not saved"),
            {"offset_days": [N_("Another step falls on that day already: edit that one.")]},
        )


def add_step(
    session: Session, party: Party, change: StepChange, *, editor: Seller, now: datetime
) -> ReminderStep:
    _may_edit(party, editor)
    change = _checked(change)
    _taken(session, party.id, change.offset_days)
    step = ReminderStep(
        party_id=party.id,
        offset_days=change.offset_days,
        subject=change.subject,
        body=change.body,
        active=change.active,
        created_at=now,
        updated_at=now,
    )
    session.add(step)
    session.flush()
    record(
        session,
        actor=editor.label,
        action="reminder_step.add",
        entity_type="reminder_step",
        entity_id=step.id,
        now=now,
        after={"party": party.code, **_snapshot(step)},
    )
    return step


def get_step(session: Session, step_id: int) -> ReminderStep:
    step = session.get(ReminderStep, step_id)
    if step is None:
        raise NotFoundError(N_("no such reminder step"))
    return step


def update_step(
    session: Session, step_id: int, change: StepChange, *, editor: Seller, now: datetime
) -> ReminderStep:
    step = session.get(ReminderStep, step_id, with_for_update=True)
    if step is None:
        raise NotFoundError(N_("no such reminder step"))
    _may_edit(step.party, editor)
    change = _checked(change)
    _taken(session, step.party_id, change.offset_days, but=step.id)
    before = _snapshot(step)
    step.offset_days = change.offset_days
    step.subject = change.subject
    step.body = change.body
    step.active = change.active
    after = _snapshot(step)
    if after == before:
        return step
    step.updated_at = now
    session.flush()
    record(
        session,
        actor=editor.label,
        action="reminder_step.update",
        entity_type="reminder_step",
        entity_id=step.id,
        now=now,
        before=before,
        after=after,
    )
    return step


def remove_step(session: Session, step_id: int, *, editor: Seller, now: datetime) -> None:
    """Remove a step no invoice has reached; one that was reached is switched off instead (its
    history stays readable on the invoices)."""
    step = session.get(ReminderStep, step_id, with_for_update=True)
    if step is None:
        raise NotFoundError(N_("no such reminder step"))
    _may_edit(step.party, editor)
    reached = session.scalar(select(exists().where(InvoiceReminder.step_id == step.id)))
    if reached:
        raise ConflictError(
            N_("invoices have reached this step: switch it off instead of removing it"),
            {"step": [N_("Reached by invoices already: untick Active to stop it.")]},
        )
    before = _snapshot(step)
    session.delete(step)
    session.flush()
    record(
        session,
        actor=editor.label,
        action="reminder_step.remove",
        entity_type="reminder_step",
        entity_id=step_id,
        now=now,
        before=before,
    )


# --- the daily pass --------------------------------------------------------------------------


@dataclass
class PassSummary:
    """What one issuer's daily pass did, in numbers and words."""

    sent: int = 0
    mails: int = 0
    skipped: int = 0
    overdue: int = 0
    expiring: int = 0
    stopped: dict[str, int] = field(default_factory=dict)

    def stop(self, why: str) -> None:
        self.stopped[why] = self.stopped.get(why, 0) + 1

    def words(self) -> str:
        said = (
            f"{self.sent} reminder{'s' if self.sent != 1 else ''} sent ({self.mails} mails), "
            f"{self.skipped} step{'s' if self.skipped != 1 else ''} skipped, "
            f"{self.overdue} newly overdue, {self.expiring} quotes expiring"
        )
        if self.stopped:
            said += "; none for " + ", ".join(
                f"{count} {why}" for why, count in sorted(self.stopped.items())
            )
        return said


def _disputed(session: Session, invoice_ids: Sequence[int]) -> set[int]:
    if not invoice_ids:
        return set()
    return set(
        session.scalars(
            select(InvoiceDispute.invoice_id).where(
                InvoiceDispute.invoice_id.in_(list(invoice_ids)),
                InvoiceDispute.resolved_at.is_(None),
            )
        )
    )


def _reached(session: Session, invoice_ids: Sequence[int]) -> dict[int, set[int]]:
    reached: dict[int, set[int]] = {}
    if not invoice_ids:
        return reached
    rows = session.execute(
        select(InvoiceReminder.invoice_id, InvoiceReminder.step_id).where(
            InvoiceReminder.invoice_id.in_(list(invoice_ids))
        )
    )
    for invoice_id, step_id in rows:
        reached.setdefault(invoice_id, set()).add(step_id)
    return reached


def _values(invoice: Invoice, party: Party, days: int) -> dict[str, str]:
    return {
        "number": invoice.number or "",
        "customer": invoice.customer.legal_name,
        "issuer": party.legal_name,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else "",
        "amount_due": format_money(invoice.amount_due_money, with_code=True),
        "days": str(abs(days)),
    }


def _reachable(contacts: Sequence[BillingContact]) -> list[BillingContact]:
    """The contacts a mail can go to: one stored before addresses were checked (a migrated
    contact_email such as noc@localhost) is passed over and logged, never an error that stops
    the issuer's whole pass (as the document mails do)."""
    reachable = []
    for contact in contacts:
        problem = recipient_problem(Recipient(contact.name, contact.email))
        if problem:
            log.warning("reminder not sent to billing contact %s: %s", contact.id, problem)
        else:
            reachable.append(contact)
    return reachable


def _html(text: str) -> str:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def _reach(
    session: Session,
    invoice: Invoice,
    step: ReminderStep,
    state: str,
    *,
    now: datetime,
    recipients: Sequence[str] = (),
) -> InvoiceReminder | None:
    """Record that `invoice` reached `step`; None if it had already (a concurrent pass)."""
    reminder = InvoiceReminder(
        invoice_id=invoice.id,
        step_id=step.id,
        offset_days=step.offset_days,
        state=state,
        at=now,
        mails=[],
        recipients=list(recipients),
    )
    try:
        with session.begin_nested():
            session.add(reminder)
            session.flush()
    except IntegrityError:
        return None
    return reminder


def _send(
    session: Session,
    invoice: Invoice,
    step: ReminderStep,
    contacts: Sequence[BillingContact],
    *,
    party: Party,
    days: int,
    unsubscribe_url: UnsubscribeUrl,
    now: datetime,
) -> int:
    reminder = _reach(session, invoice, step, SENT, now=now, recipients=[c.email for c in contacts])
    if reminder is None:
        return 0
    values = _values(invoice, party, days)
    subject, text = fill(step.subject, values), fill(step.body, values)
    mails = []
    for contact in contacts:
        url = unsubscribe_url(contact)
        footer = (
            "\n\nYou receive payment reminders as a billing contact of "
            f"{invoice.customer.legal_name}. To stop them: {url}"
        )
        mail = queue_mail(
            session,
            kind="reminder",
            party_id=party.id,
            customer_id=invoice.customer_id,
            to=[Recipient(contact.name, contact.email)],
            subject=subject,
            text=text + footer,
            html=_html(text + footer),
            now=now,
            invoice_id=invoice.id,
            # RFC 2369: the address in angle brackets (RFC 8058's one-click POST goes to it).
            list_unsubscribe=f"<{url}>",
        )
        mails.append(mail.public_id)
    reminder.mails = mails
    record(
        session,
        actor="reminders",
        action="invoice.reminder_sent",
        entity_type="invoice",
        entity_id=invoice.id,
        now=now,
        after={"step": step.label, "mails": mails, "to": [c.email for c in contacts]},
    )
    return len(mails)


def send_reminders(
    session: Session, party_id: int, *, now: datetime, unsubscribe_url: UnsubscribeUrl
) -> PassSummary:
    """One issuer's daily pass (see the module's docstring); safe to run again the same day."""
    party = session.get(Party, party_id)
    if party is None:
        raise NotFoundError(N_("no such issuer"))
    today = local_date(now, party.time_zone)
    summary = PassSummary()
    steps = [s for s in steps_of(session, party.id) if s.active]
    invoices = list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.issuer_party_id == party.id,
                Invoice.kind == "invoice",
                Invoice.status.in_(OPEN_STATUSES),
                Invoice.due_date.is_not(None),
            )
            .order_by(Invoice.due_date, Invoice.id)
            .options(selectinload(Invoice.customer))
        )
    )
    ids = [invoice.id for invoice in invoices]
    disputed = _disputed(session, ids)
    reached = _reached(session, ids)
    wanted: dict[int, list[BillingContact]] = {}
    for invoice in invoices:
        assert invoice.due_date is not None  # noqa: S101 - selected above
        if invoice.amount_due <= 0:
            continue
        days = (today - invoice.due_date).days
        if days > 0 and record_event(
            session,
            "invoice.overdue",
            subject_type="invoice",
            subject_id=invoice.id,
            customer_id=invoice.customer_id,
            party_id=party.id,
            now=now,
        ):
            summary.overdue += 1
        due_steps = [
            s for s in steps if s.offset_days <= days and s.id not in reached.get(invoice.id, set())
        ]
        if not due_steps:
            continue
        if invoice.id in disputed:
            summary.stop("disputed")
            continue
        if invoice.customer_id not in wanted:
            wanted[invoice.customer_id] = _reachable(
                contacts_for(session, invoice.customer_id, "reminders")
            )
        contacts = wanted[invoice.customer_id]
        if not contacts:
            summary.stop("opted out")
            continue
        *passed, latest = due_steps
        for step in passed:
            if _reach(session, invoice, step, SKIPPED, now=now):
                summary.skipped += 1
        mails = _send(
            session,
            invoice,
            latest,
            contacts,
            party=party,
            days=days,
            unsubscribe_url=unsubscribe_url,
            now=now,
        )
        if mails:
            summary.sent += 1
            summary.mails += mails
    summary.expiring = announce_expiring_quotes(session, party.id, now=now)
    return summary


def announce_expiring_quotes(session: Session, party_id: int, *, now: datetime) -> int:
    """`quote.expiring` for the issuer's open quotes ending within three days, once each."""
    quotes = session.scalars(
        select(Quote).where(
            Quote.party_id == party_id,
            Quote.state == QuoteState.OPEN.value,
            Quote.valid_until > now,
            Quote.valid_until <= now + EXPIRING_WITHIN,
        )
    )
    announced = 0
    for quote in quotes:
        if record_event(
            session,
            "quote.expiring",
            subject_type="quote",
            subject_id=quote.id,
            customer_id=quote.customer_id,
            party_id=party_id,
            now=now,
        ):
            announced += 1
    return announced


def unsubscribe(session: Session, contact_id: int, *, now: datetime) -> BillingContact:
    """The contact asked (through a reminder's link) to receive no more reminders."""
    contact = session.get(BillingContact, contact_id, with_for_update=True)
    if contact is None:
        raise NotFoundError(N_("no such contact"))
    if contact.reminders:
        contact.reminders = False
        contact.updated_at = now
        session.flush()
        record(
            session,
            actor=f"contact {contact.email}",
            action="billing_contact.unsubscribe",
            entity_type="billing_contact",
            entity_id=contact.id,
            now=now,
            before={"reminders": True},
            after={"reminders": False},
        )
    return contact


def unsubscribe_token(secret_key: str, contact: BillingContact) -> str:
    """The token of a contact's unsubscribe link: it names the contact and its address (a link
    sent to an address no longer the contact's stops working)."""
    message = f"unsubscribe:{contact.id}:{contact.email.lower()}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


def contact_by_token(
    session: Session, secret_key: str, contact_id: int, token: str
) -> BillingContact:
    """The contact an unsubscribe link names; NotFoundError for a wrong or stale link."""
    contact = session.get(BillingContact, contact_id) if token.isascii() else None
    if contact is None or not hmac.compare_digest(
        unsubscribe_token(secret_key, contact).encode(), token.encode()
    ):
        raise NotFoundError(N_("this link is not valid (any more)"))
    return contact
