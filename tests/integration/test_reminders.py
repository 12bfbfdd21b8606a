"""Payment reminders (SPEC 13) on both databases: steps as data per issuer, each sent once per
invoice by the daily pass in the issuer's local morning, the latest step only; they stop when the
invoice is paid, credited or disputed, or the customer's contacts opt out (List-Unsubscribe,
one click); `invoice.overdue` and `quote.expiring` are announced once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select, update

from billing.access.services import get_party
from billing.audit import AuditEntry
from billing.calendar import zone
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import Invoice
from billing.invoicing.services import flag_dispute
from billing.jobs.queue import run_worker
from billing.jobs.reminders import run_pass
from billing.jobs.schedule import dispatch
from billing.mail.models import BillingContact, Mail
from billing.mail.services import add_contact
from billing.money import Money
from billing.parties.customers import Seller
from billing.payments.services import record_bank_payment
from billing.reminders.models import InvoiceReminder
from billing.reminders.services import ensure_standard_steps, unsubscribe_token
from billing.scheduling.models import REMINDERS, Schedule
from billing.scheduling.services import ensure_schedules
from tests import factories
from tests.integration.test_mail import Handler, _free_port

SYSTEM = Seller("tests", None)


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture(autouse=True)
def _in_app(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@dataclass(frozen=True)
class World:
    invoice_id: int
    number: str
    customer_id: int
    issuer_id: int
    due: date


def _run_jobs(app: Flask, backend: str) -> None:
    if backend == "postgres":
        run_worker(app, wait=False)


def _baku(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone("Asia/Baku")).astimezone(UTC)


def _world(db: Database, clock: FrozenClock, *, opted_in: bool = True) -> World:
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        azt = get_party(s, "AZT")
        ensure_standard_steps(s, azt, now=clock.now())
        ensure_standard_steps(s, get_party(s, "KTC"), now=clock.now())
        customer = factories.customer(s, now=clock.now(), legal_name="Dunning Carrier")
        seller = factories.party_seller(s, "AZT")
        add_contact(
            s,
            customer.id,
            {
                "name": "Ana Accounts",
                "email": "ap@dunning.example",
                "documents": ["invoices", "reminders"] if opted_in else ["invoices"],
            },
            editor=seller,
            now=clock.now(),
        )
        add_contact(
            s,
            customer.id,
            {"name": "Olga Ops", "email": "ops@dunning.example", "documents": ["invoices"]},
            editor=seller,
            now=clock.now(),
        )
        factories.active_service(
            s,
            now=clock.now(),
            customer=customer,
            mrc=Decimal("2000"),
            ready_for_service=date(2026, 11, 1),
        )
        customer_id, issuer_id = customer.id, azt.id
    invoice = factories.bill_and_issue(db, clock, customer_id)
    assert invoice.number is not None and invoice.due_date is not None
    return World(invoice.id, invoice.number, customer_id, issuer_id, invoice.due_date)


def _reminders(db: Database, invoice_id: int) -> list[tuple[int, str]]:
    with db.transaction() as s:
        rows = s.execute(
            select(InvoiceReminder.offset_days, InvoiceReminder.state)
            .where(InvoiceReminder.invoice_id == invoice_id)
            .order_by(InvoiceReminder.offset_days)
        )
        return [(offset, state) for offset, state in rows]


def _reminder_mails(db: Database) -> list[Mail]:
    with db.transaction() as s:
        return list(s.scalars(select(Mail).where(Mail.kind == "reminder").order_by(Mail.id)))


def test_each_step_goes_once_the_latest_only_and_they_stop_when_paid(
    app: Flask, db: Database, clock: FrozenClock, backend: str
) -> None:
    world = _world(db, clock)
    # Four days before the due date: no step has come.
    clock.set(_baku(world.due - timedelta(days=4)))
    assert run_pass(world.issuer_id).sent == 0
    # Three days before: the first step, to the contact who wants reminders only.
    clock.set(_baku(world.due - timedelta(days=3)))
    summary = run_pass(world.issuer_id)
    assert (summary.sent, summary.mails, summary.overdue) == (1, 1, 0)
    _run_jobs(app, backend)
    (first,) = _reminder_mails(db)
    assert first.recipients == [{"name": "Ana Accounts", "email": "ap@dunning.example"}]
    assert first.subject == f"Invoice {world.number} is due on {world.due.isoformat()}"
    assert "in 3 days" in first.text and "{" not in first.text
    assert first.invoice_id == world.invoice_id and first.status == "sent"
    assert first.list_unsubscribe and first.list_unsubscribe.startswith("<http://127.0.0.1:")
    assert first.list_unsubscribe.endswith(">") and "/unsubscribe/" in first.list_unsubscribe
    # The same morning again (a rerun, a second worker): nothing new.
    assert run_pass(world.issuer_id).sent == 0
    assert _reminders(db, world.invoice_id) == [(-3, "sent")]
    # Eight days overdue, the pass having been off since: the 1-day step is passed over, the
    # 7-day step goes; the invoice is announced overdue once.
    clock.set(_baku(world.due + timedelta(days=8)))
    summary = run_pass(world.issuer_id)
    assert (summary.sent, summary.skipped, summary.overdue) == (1, 1, 1)
    assert run_pass(world.issuer_id).overdue == 0
    assert _reminders(db, world.invoice_id) == [(-3, "sent"), (1, "skipped"), (7, "sent")]
    assert ("invoice.overdue", str(world.invoice_id)) in factories.events_recorded(db)
    # Paid in full: the 21-day step never comes.
    with db.transaction() as s:
        due = s.get(Invoice, world.invoice_id).amount_due_money  # type: ignore[union-attr]
        record_bank_payment(
            s,
            customer_id=world.customer_id,
            issuer_id=world.issuer_id,
            amount=due,
            value_date=world.due,
            reference="PAID-LATE",
            applications=None,
            actor=SYSTEM,
            now=clock.now(),
        )
    clock.set(_baku(world.due + timedelta(days=30)))
    assert run_pass(world.issuer_id).sent == 0
    assert len(_reminders(db, world.invoice_id)) == 3
    assert len(_reminder_mails(db)) == 2


def test_a_disputed_invoice_or_a_customer_who_opted_out_gets_none(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    world = _world(db, clock, opted_in=False)
    clock.set(_baku(world.due + timedelta(days=1)))
    summary = run_pass(world.issuer_id)
    assert (summary.sent, summary.stopped) == (0, {"opted out": 1})
    # Overdue is announced all the same (the customer's webhooks may want it).
    assert summary.overdue == 1
    with db.transaction() as s:
        s.execute(update(BillingContact).values(reminders=True))
        flag_dispute(
            s,
            world.invoice_id,
            reason="the circuit was down half the month",
            actor=factories.party_seller(s, "AZT"),
            now=clock.now(),
        )
    summary = run_pass(world.issuer_id)
    assert (summary.sent, summary.stopped) == (0, {"disputed": 1})
    assert _reminders(db, world.invoice_id) == [] and _reminder_mails(db) == []


def test_the_schedule_runs_the_pass_in_the_issuers_morning_once(
    app: Flask, db: Database, clock: FrozenClock, backend: str
) -> None:
    world = _world(db, clock)
    with db.transaction() as s:
        ensure_schedules(s)
        schedule = s.scalars(
            select(Schedule).where(Schedule.kind == REMINDERS, Schedule.party_id == world.issuer_id)
        ).one()
        assert (schedule.enabled, schedule.local_time) == (False, time(9))
        schedule.enabled = True  # as an admin does on the Schedules page
        # Switched on from before: its last slot is the morning before.
        schedule.last_slot = _baku(world.due - timedelta(days=4))
    clock.set(_baku(world.due - timedelta(days=3), hour=8))  # 08:00 in Baku: not yet
    assert not [line for line in dispatch(clock.now()) if "reminders of AZT" in line]
    clock.set(_baku(world.due - timedelta(days=3)) + timedelta(minutes=1))
    said = [line for line in dispatch(clock.now()) if "reminders of AZT" in line]
    assert said == [
        f"reminders of AZT for slot {_baku(world.due - timedelta(days=3)).isoformat()}: queued"
    ]
    assert not [line for line in dispatch(clock.now()) if "reminders of AZT" in line]
    _run_jobs(app, backend)
    assert _reminders(db, world.invoice_id) == [(-3, "sent")]
    with db.transaction() as s:
        schedule = s.get(Schedule, schedule.id)  # type: ignore[assignment]
        assert schedule is not None and schedule.last_ok
        assert schedule.last_result.startswith("1 reminder sent (1 mails)")


def test_the_unsubscribe_link_asks_first_then_stops_reminders_for_that_contact(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    world = _world(db, clock)
    with db.transaction() as s:
        contact = s.scalars(
            select(BillingContact).where(BillingContact.email == "ap@dunning.example")
        ).one()
        token = unsubscribe_token(app.config["SECRET_KEY"], contact)
        contact_id = contact.id
    client = app.test_client()
    url = f"/unsubscribe/{contact_id}/{token}"
    page = client.get(url)
    assert page.status_code == 200 and b"Stop payment reminders" in page.data
    for bad in (
        f"/unsubscribe/{contact_id}/{'0' * 40}",
        f"/unsubscribe/{contact_id}/x%00y",
        f"/unsubscribe/999999/{token}",
        f"/unsubscribe/{contact_id}/%C3%A9",
    ):
        assert client.get(bad).status_code == 404
        assert client.post(bad).status_code == 404
    with db.transaction() as s:
        assert s.get(BillingContact, contact_id).reminders  # type: ignore[union-attr]
    # A mail client's one-click POST (RFC 8058): no CSRF token, the link is the proof.
    answer = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 204
    with db.transaction() as s:
        assert not s.get(BillingContact, contact_id).reminders  # type: ignore[union-attr]
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "billing_contact")
        ).all()
        assert "billing_contact.unsubscribe" in actions
    # The page says so afterwards; the other contact keeps what it had.
    assert b"gets no more payment reminders" in client.get(url).data
    clock.set(_baku(world.due + timedelta(days=1)))
    assert run_pass(world.issuer_id).stopped == {"opted out": 1}


def test_open_quotes_are_announced_three_days_before_they_expire_once(
    db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        quote = factories.quote(s, now=clock.now())
        valid_until, party_id = quote.valid_until, quote.party_id
    clock.set(valid_until - timedelta(days=4))
    assert run_pass(party_id).expiring == 0
    clock.set(valid_until - timedelta(days=2))
    assert run_pass(party_id).expiring == 1
    assert run_pass(party_id).expiring == 0
    assert factories.events_recorded(db, "quote.") == [("quote.expiring", str(quote.id))]


def test_money_in_the_text_is_the_amount_due(db: Database, clock: FrozenClock) -> None:
    world = _world(db, clock)
    with db.transaction() as s:
        record_bank_payment(
            s,
            customer_id=world.customer_id,
            issuer_id=world.issuer_id,
            amount=Money(Decimal("100.00"), "USD"),
            value_date=world.due,
            reference="PART",
            applications=None,
            actor=SYSTEM,
            now=clock.now(),
        )
        due = s.get(Invoice, world.invoice_id).amount_due_money  # type: ignore[union-attr]
    clock.set(_baku(world.due - timedelta(days=3)))
    run_pass(world.issuer_id)
    (mail,) = _reminder_mails(db)
    assert f"USD {due.amount:,.2f}" in mail.text


@pytest.fixture
def smtp(app: Flask) -> Iterator[Handler]:
    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    try:
        yield handler
    finally:
        controller.stop()


def test_a_reminder_reaches_a_real_smtp_server_with_its_unsubscribe_headers_and_the_pdf(
    app: Flask, db: Database, clock: FrozenClock, backend: str, smtp: Handler
) -> None:
    world = _world(db, clock)
    clock.set(_baku(world.due + timedelta(days=1)))
    run_pass(world.issuer_id)
    _run_jobs(app, backend)
    by_subject = {m["Subject"]: m for m in smtp.messages()}
    reminder = by_subject[f"Invoice {world.number} is now overdue"]
    assert reminder["To"] == "Ana Accounts <ap@dunning.example>"
    link = reminder["List-Unsubscribe"]
    assert link.startswith("<http://127.0.0.1:") and "/unsubscribe/" in link and link.endswith(">")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (attachment,) = list(reminder.iter_attachments())
    with db.transaction() as s:
        stored = s.get(Invoice, world.invoice_id)
        assert stored is not None and attachment.get_content() == stored.pdf
    text = reminder.get_body(("plain",))
    assert text is not None and link.strip("<>") in text.get_content()
    # The invoice's own mail carries no unsubscribe: invoices are not optional.
    invoice_mails = [m for m in smtp.messages() if m["Subject"] != reminder["Subject"]]
    assert invoice_mails and all(m["List-Unsubscribe"] is None for m in invoice_mails)


def test_a_contact_stored_with_an_address_no_mail_can_go_to_is_passed_over(
    db: Database, clock: FrozenClock
) -> None:
    world = _world(db, clock)
    # A contact_email migrated as it was, before addresses were checked.
    with db.transaction() as s:
        s.execute(
            update(BillingContact)
            .where(BillingContact.email == "ops@dunning.example")
            .values(email="noc@localhost", reminders=True)
        )
    clock.set(_baku(world.due + timedelta(days=1)))
    summary = run_pass(world.issuer_id)
    assert (summary.sent, summary.mails) == (1, 1)
    (mail,) = _reminder_mails(db)
    assert mail.recipients == [{"name": "Ana Accounts", "email": "ap@dunning.example"}]
