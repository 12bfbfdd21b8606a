"""Email to billing contacts (SPEC 13) through a real SMTP server on loopback (aiosmtpd): an
issued invoice reaches the contacts who want it with its stored PDF byte for byte; a 4xx answer
is tried again, a 5xx fails with the reason; headers cannot be injected; an approved statement
goes to the other party's finance users; without SMTP_URL mail lands in the outbox."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import delete, select

from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError, PermissionDeniedError
from billing.events import record_event
from billing.invoicing.models import Invoice
from billing.jobs.mail import MAIL_ATTEMPTS, send_mail
from billing.jobs.queue import run_worker
from billing.mail.compose import compose
from billing.mail.documents import queue_document_mail
from billing.mail.models import BillingContact, Mail
from billing.mail.services import (
    Recipient,
    add_contact,
    contacts_for,
    queue_mail,
    remove_contact,
    resend,
    update_contact,
)
from billing.mail.transport import (
    OUTBOX_ANSWER,
    PermanentMailError,
    SmtpSettings,
    deliver,
    parse_smtp_url,
)
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.settlement.services import approve_statement, build_statement
from tests import factories
from tests.helpers import bearer, make_api_key

SYSTEM = Seller("tests", None)


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture(autouse=True)
def _in_app(app: Flask) -> Iterator[None]:
    """Jobs run in the app's context (on SQLite, right after the commit that defers them)."""
    with app.app_context():
        yield


@dataclass
class Handler:
    """An SMTP server's DATA step: stores each envelope; answers from `answers` in turn (then
    250)."""

    answers: list[str] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.answers:
            answer = self.answers.pop(0)
            if not answer.startswith("250"):
                return answer
        self.envelopes.append(envelope)
        return f"250 OK queued as Q{len(self.envelopes)}"

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(e.original_content, policy=default_policy)  # type: ignore[misc]
            for e in self.envelopes
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(app: Flask) -> Iterator[Handler]:
    handler = Handler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    try:
        yield handler
    finally:
        controller.stop()


def _run_jobs(app: Flask, backend: str) -> None:
    """On PostgreSQL a worker runs what is queued (on SQLite it ran after each commit)."""
    if backend == "postgres":
        run_worker(app, wait=False)


@dataclass(frozen=True)
class Issued:
    invoice_id: int
    number: str
    customer_id: int


def _issue_with_contacts(app: Flask, db: Database, clock: FrozenClock, backend: str) -> Issued:
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        customer = factories.customer(s, now=clock.now(), legal_name="Mail Carrier")
        seller = factories.party_seller(s, "AZT")
        add_contact(
            s,
            customer.id,
            {"name": "Ana Accounts", "email": "ap@carrier.example", "language": "en"},
            editor=seller,
            now=clock.now(),
        )
        add_contact(
            s,
            customer.id,
            {"name": "Rustam Ops", "email": "ops@carrier.example", "documents": ["reminders"]},
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
        customer_id = customer.id
    invoice = factories.bill_and_issue(db, clock, customer_id)
    with db.transaction() as s:
        # What the issuing path records (a no-op when it has already).
        record_event(
            s,
            "invoice.issued",
            subject_type="invoice",
            subject_id=invoice.id,
            customer_id=customer_id,
            party_id=invoice.issuer_party_id,
            now=clock.now(),
        )
        issued = Issued(invoice.id, invoice.number, customer_id)
    _run_jobs(app, backend)
    return issued


def _mails(db: Database) -> list[Mail]:
    with db.transaction() as s:
        mails = list(s.execute(select(Mail).order_by(Mail.id)).scalars())
        for mail in mails:
            _ = mail.attempts
        return mails


def test_an_issued_invoice_reaches_its_contacts_with_the_stored_pdf(
    app: Flask, db: Database, clock: FrozenClock, backend: str, smtp: Handler
) -> None:
    issued = _issue_with_contacts(app, db, clock, backend)
    (mail,) = _mails(db)
    assert mail.status == "sent" and mail.kind == "invoice"
    assert mail.answer == "250 OK queued as Q1"
    assert [a.outcome for a in mail.attempts] == ["sent"]
    (envelope,) = smtp.envelopes
    # Only the contact who wants invoices; the reminders-only one does not get it.
    assert envelope.rcpt_tos == ["ap@carrier.example"]
    assert envelope.mail_from == "billing@azertelecom.example"
    (message,) = smtp.messages()
    assert message["Subject"] == f"Invoice {issued.number} from AzerTelecom"
    assert message["From"] == "AzerTelecom Billing <billing@azertelecom.example>"
    assert message["To"] == "Ana Accounts <ap@carrier.example>"
    assert message["Date"] is not None and message["Message-ID"] == mail.message_id
    assert mail.message_id is not None and mail.message_id.endswith("@azertelecom.example>")
    assert message["List-Unsubscribe"] is None
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and issued.number in text.get_content()
    assert html is not None and f"<strong>{issued.number}</strong>" in html.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{issued.number}.pdf"
    with db.transaction() as s:
        stored = s.get_one(Invoice, issued.invoice_id).pdf
    key = make_api_key(app, issued.customer_id)
    served = app.test_client().get(f"/api/v1/invoices/{issued.number}/pdf", headers=bearer(key))
    assert served.status_code == 200
    assert attachment.get_content() == stored == served.data


def test_a_4xx_answer_is_tried_again_and_a_5xx_fails_with_the_reason(
    app: Flask, db: Database, clock: FrozenClock, backend: str, smtp: Handler
) -> None:
    smtp.answers[:] = ["451 4.3.0 try later"]
    issued = _issue_with_contacts(app, db, clock, backend)
    (mail,) = _mails(db)
    assert mail.status == "queued"
    assert [(a.outcome, a.detail) for a in mail.attempts] == [
        ("retry", "message refused: 451 4.3.0 try later")
    ]
    if backend == "postgres":
        # Procrastinate tries the job again after MAIL_RETRY's first wait (4 s).
        time.sleep(4.5)
        run_worker(app, wait=False)
    else:
        # No retries in-process: `flask mail retry` (cron) calls the task again.
        assert send_mail(mail_id=mail.id) == "sent"
    assert send_mail(mail_id=mail.id) == "sent"  # once more: sent once
    (mail,) = _mails(db)
    assert [a.outcome for a in mail.attempts] == ["retry", "sent"]
    assert mail.answer == "250 OK queued as Q1" and len(smtp.envelopes) == 1

    smtp.answers[:] = ["550 5.1.1 mailbox unavailable"]
    with db.transaction() as s:
        again = resend(s, mail.id, editor=SYSTEM, now=clock.now())
        assert again.invoice_id == issued.invoice_id
    _run_jobs(app, backend)
    failed = _mails(db)[1]
    assert failed.status == "failed"
    assert failed.answer == "message refused: 550 5.1.1 mailbox unavailable"
    assert [a.outcome for a in failed.attempts] == ["failed"]
    assert len(smtp.envelopes) == 1


def test_flask_mail_retry_sends_what_is_due_where_no_worker_runs(
    app: Flask, db: Database, clock: FrozenClock, backend: str, smtp: Handler
) -> None:
    """On SQLite nothing retries a mail by itself: `flask mail retry` (cron) does, once its wait
    is over. With PostgreSQL the workers do, and the command says so."""
    retry = app.test_cli_runner()
    if backend == "postgres":
        result = retry.invoke(args=["mail", "retry"])
        assert result.exit_code == 1 and "workers" in result.output
        return
    smtp.answers[:] = ["421 4.7.0 busy"]
    _issue_with_contacts(app, db, clock, backend)
    (mail,) = _mails(db)
    assert mail.status == "queued"
    result = retry.invoke(args=["mail", "retry"])
    assert result.exit_code == 0 and result.output.endswith("0 mail(s) due\n"), result.output
    clock.advance(timedelta(seconds=5))
    result = retry.invoke(args=["mail", "retry"])
    assert result.exit_code == 0 and result.output == "1 sent\n1 mail(s) due\n", result.output
    (mail,) = _mails(db)
    assert [a.outcome for a in mail.attempts] == ["retry", "sent"]
    assert len(smtp.envelopes) == 1


def test_a_mail_that_keeps_failing_for_now_fails_after_the_last_attempt(
    app: Flask, db: Database, clock: FrozenClock, backend: str
) -> None:
    app.config["SMTP_URL"] = f"smtp://user:s3cret-pass@127.0.0.1:{_free_port()}"  # nobody listens
    with db.transaction() as s:
        azt = s.execute(select(Party).where(Party.code == "AZT")).scalar_one()
        mail_id = queue_mail(
            s,
            kind="test",
            party_id=azt.id,
            customer_id=None,
            to=[Recipient("Ops", "ops@example.com")],
            subject="Hello",
            text="t",
            html="<p>t</p>",
            now=clock.now(),
        ).id
    _run_jobs(app, backend)
    with app.app_context():
        for _ in range(MAIL_ATTEMPTS - 2):
            with pytest.raises(Exception, match="ConnectionRefusedError"):
                send_mail(mail_id=mail_id)
        assert send_mail(mail_id=mail_id) == "failed"
    (mail,) = _mails(db)
    assert [a.outcome for a in mail.attempts] == ["retry"] * (MAIL_ATTEMPTS - 1) + ["failed"]
    assert mail.answer is not None and mail.answer.startswith(f"gave up after {MAIL_ATTEMPTS}")
    assert all("s3cret" not in a.detail for a in mail.attempts)


def test_without_smtp_url_mail_goes_to_the_outbox(
    app: Flask, db: Database, clock: FrozenClock, backend: str
) -> None:
    app.config["SMTP_URL"] = ""
    _issue_with_contacts(app, db, clock, backend)
    (mail,) = _mails(db)
    assert (mail.status, mail.answer) == ("sent", OUTBOX_ANSWER)
    assert mail.sent_at == clock.now() and mail.message_id is not None


def test_names_and_subjects_cannot_inject_headers(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        azt = s.execute(select(Party).where(Party.code == "AZT")).scalar_one()
        customer = factories.customer(s, now=clock.now())
        seller = factories.party_seller(s, "AZT")
        for values in (
            {"name": "Eve\r\nBcc: all@evil.example", "email": "eve@example.com"},
            {"name": "Eve", "email": "eve@example.com\r\nBcc: all@evil.example"},
            {"name": "Eve", "email": "eve@example.com, all@evil.example"},
            {"name": "Eve\x00", "email": "eve@example.com"},
            {"name": "x" * 201, "email": "eve@example.com"},
            {"name": "Eve", "email": "not-an-address"},
        ):
            with pytest.raises(InvalidRequestError):
                add_contact(s, customer.id, values, editor=seller, now=clock.now())
        common: dict[str, Any] = dict(
            kind="test", party_id=azt.id, customer_id=None, text="t", html="h", now=clock.now()
        )
        with pytest.raises(InvalidRequestError):
            queue_mail(
                s,
                to=[Recipient("Ops", "ops@example.com")],
                subject="Hi\r\nBcc: all@evil.example",
                **common,
            )
        with pytest.raises(InvalidRequestError):
            queue_mail(
                s,
                to=[Recipient("Ops\nBcc: x@evil.example", "o@example.com")],
                subject="Hi",
                **common,
            )
        with pytest.raises(InvalidRequestError):
            queue_mail(s, to=[], subject="Hi", **common)
        # A row written some other way: composition strips what would start a header.
        mail = Mail(
            public_id="mail_x",
            kind="test",
            party_id=azt.id,
            status="queued",
            recipients=[{"name": "Ops\r\nBcc: all@evil.example", "email": "ops@example.com"}],
            subject="Hi\r\nBcc: all@evil.example",
            text="t",
            html="h",
            created_at=clock.now(),
        )
    message = compose(
        mail,
        sender="AzerTelecom Billing <billing@azertelecom.example>\r\nBcc: x@evil.example",
        attachment=None,
        now=clock.now(),
    )
    raw = message.as_bytes()
    assert b"\nBcc:" not in raw and b"\rBcc:" not in raw
    assert message["Subject"] == "Hi Bcc: all@evil.example"


def test_contacts_are_edited_by_the_owning_party_and_audited(
    db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now(), owner="AZT")
        azt = factories.party_seller(s, "AZT")
        ktc = factories.party_seller(s, "KTC")
        with pytest.raises(PermissionDeniedError):
            add_contact(
                s, customer.id, {"name": "A", "email": "a@example.com"}, editor=ktc, now=clock.now()
            )
        contact = add_contact(
            s,
            customer.id,
            {"name": "A", "email": "a@example.com", "language": "ru"},
            editor=azt,
            now=clock.now(),
        )
        with pytest.raises(InvalidRequestError):  # the same address twice
            add_contact(
                s, customer.id, {"name": "B", "email": "a@example.com"}, editor=azt, now=clock.now()
            )
        with pytest.raises(InvalidRequestError):
            update_contact(
                s,
                customer.id,
                contact.id,
                {"name": "A", "email": "a@example.com", "language": "de"},
                editor=azt,
                now=clock.now(),
            )
        update_contact(
            s,
            customer.id,
            contact.id,
            {"name": "A", "email": "a@example.com", "documents": ["credit_notes"]},
            editor=azt,
            now=clock.now(),
        )
        assert contacts_for(s, customer.id, "invoices") == []
        assert [c.email for c in contacts_for(s, customer.id, "credit_notes")] == ["a@example.com"]
        with pytest.raises(PermissionDeniedError):
            remove_contact(s, customer.id, contact.id, editor=ktc, now=clock.now())
        remove_contact(s, customer.id, contact.id, editor=azt, now=clock.now())
        assert contacts_for(s, customer.id, "credit_notes") == []
        from billing.audit import AuditEntry

        actions = (
            s.execute(select(AuditEntry.action).where(AuditEntry.entity_type == "billing_contact"))
            .scalars()
            .all()
        )
        assert actions == [
            "billing_contact.create",
            "billing_contact.update",
            "billing_contact.delete",
        ]


def test_an_approved_statement_goes_to_the_other_partys_finance_users(
    app: Flask, db: Database, clock: FrozenClock, backend: str, smtp: Handler
) -> None:
    clock.set(datetime(2026, 12, 1, 6, tzinfo=UTC))
    with db.transaction() as s:
        factories.demo_agreement(s, now=clock.now())
        factories.staff_user(
            s,
            now=clock.now(),
            party="KTC",
            role="finance",
            email="fin@ktc.example",
            name="KTC Finance",
        )
        factories.staff_user(
            s,
            now=clock.now(),
            party="AZT",
            role="finance",
            email="fin@azt.example",
            name="AZT Finance",
        )
        factories.staff_user(
            s, now=clock.now(), party="KTC", role="sales", email="sales@ktc.example"
        )
        sid = build_statement(s, "2026-11", "invoiced", actor=SYSTEM, now=clock.now()).id
        # KTC approves first (recording settlement.approved with party KTC), then AZT.
        approve_statement(s, sid, actor=factories.party_seller(s, "KTC"), now=clock.now())
        azt = factories.party_seller(s, "AZT")
        assert approve_statement(s, sid, actor=azt, now=clock.now()).state == "approved"
    _run_jobs(app, backend)
    mails = _mails(db)
    assert [(m.kind, m.status, m.statement_id) for m in mails] == [("statement", "sent", sid)] * 2
    # Each approval goes to the other party's finance users (not its sales), from the approver.
    assert sorted(e.rcpt_tos for e in smtp.envelopes) == [["fin@azt.example"], ["fin@ktc.example"]]
    by_recipient = {m["To"]: m for m in smtp.messages()}
    message = by_recipient["KTC Finance <fin@ktc.example>"]
    assert message["From"] == "AzerTelecom Billing <billing@azertelecom.example>"
    assert message["Subject"] == "Settlement statement 2026-11 (invoiced) from AzerTelecom"
    assert by_recipient["AZT Finance <fin@azt.example>"]["Subject"].endswith("from Kazakhtelecom")
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "settlement-2026-11-invoiced.pdf"
    assert attachment.get_content().startswith(b"%PDF")


def test_an_event_with_nobody_to_tell_sends_nothing(
    app: Flask, db: Database, clock: FrozenClock, backend: str, smtp: Handler
) -> None:
    with db.transaction() as s:
        record_event(
            s,
            "settlement.approved",
            subject_type="statement",
            subject_id=999,
            customer_id=None,
            party_id=1,
            now=clock.now(),
        )
        record_event(
            s,
            "invoice.issued",
            subject_type="invoice",
            subject_id=999,
            customer_id=None,
            party_id=1,
            now=clock.now(),
        )
    _run_jobs(app, backend)
    assert _mails(db) == [] and smtp.envelopes == []


def test_the_smtp_url_shows_itself_without_the_password() -> None:
    settings = parse_smtp_url("smtp://user%40x:p%40ss@mail.example:2525")
    assert settings is not None
    assert (settings.host, settings.port, settings.username, settings.password) == (
        "mail.example",
        2525,
        "user@x",
        "p@ss",
    )
    assert "p@ss" not in repr(settings) and "p@ss" not in settings.safe_url
    tls = parse_smtp_url("smtps://mail.example")
    assert tls is not None and tls.port == 465 and tls.tls_mode == "TLS (smtps)"
    assert parse_smtp_url("") is None
    with pytest.raises(ValueError):
        parse_smtp_url("http://mail.example")


def test_in_production_mail_goes_out_only_over_tls_unless_the_server_is_loopback(
    app: Flask, clock: FrozenClock, smtp: Handler
) -> None:
    settings = parse_smtp_url(app.config["SMTP_URL"])
    assert settings is not None and settings.is_loopback

    @dataclass(frozen=True)
    class Remote(SmtpSettings):
        """The same server, taken for one elsewhere (it offers no STARTTLS)."""

        @property
        def is_loopback(self) -> bool:
            return False

    remote = Remote(settings.scheme, settings.host, settings.port)
    mail = Mail(
        public_id="mail_tls",
        kind="test",
        party_id=1,
        status="queued",
        recipients=[{"name": "Ops", "email": "ops@example.com"}],
        subject="TLS",
        text="t",
        html="<p>t</p>",
        created_at=clock.now(),
    )
    message = compose(
        mail,
        sender="AzerTelecom Billing <billing@azertelecom.example>",
        attachment=None,
        now=clock.now(),
    )
    with pytest.raises(PermanentMailError, match="does not offer STARTTLS"):
        deliver(message, remote, require_tls=True)
    assert smtp.envelopes == []
    assert deliver(message, settings, require_tls=True) == "250 OK queued as Q1"
    assert deliver(message, remote, require_tls=False) == "250 OK queued as Q2"


def test_list_unsubscribe_only_when_asked_for(clock: FrozenClock) -> None:
    def composed(list_unsubscribe: str | None) -> EmailMessage:
        mail = Mail(
            public_id="mail_lu",
            kind="reminder",
            party_id=1,
            status="queued",
            recipients=[{"name": "Ops", "email": "ops@example.com"}],
            subject="Reminder",
            text="t",
            html="<p>t</p>",
            list_unsubscribe=list_unsubscribe,
            created_at=clock.now(),
        )
        return compose(
            mail,
            sender="AzerTelecom Billing <billing@azertelecom.example>",
            attachment=None,
            now=clock.now(),
        )

    asked = composed("<https://billing.example/unsubscribe/abc>")
    assert asked["List-Unsubscribe"] == "<https://billing.example/unsubscribe/abc>"
    assert asked["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert asked["Message-ID"] == "<mail_lu@azertelecom.example>"
    plain = composed(None)
    assert plain["List-Unsubscribe"] is None and plain["List-Unsubscribe-Post"] is None


def test_an_address_stored_unchecked_is_passed_over_not_a_reason_to_send_nothing(
    app: Flask, db: Database, clock: FrozenClock, backend: str, smtp: Handler
) -> None:
    """A contact made by the migration from an old contact_email that is not one address (or a
    name with a line break) is skipped; the others still get the document."""
    issued = _issue_with_contacts(app, db, clock, backend)
    with db.transaction() as s:
        for name, email in (
            ("Old", "noc@localhost"),
            ("Eve\r\nBcc: x@evil.example", "e@x.example"),
        ):
            s.add(
                BillingContact(
                    customer_id=issued.customer_id,
                    name=name,
                    email=email,
                    language="en",
                    invoices=True,
                    credit_notes=True,
                    reminders=True,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
        (mail,) = queue_document_mail(s, issued.invoice_id, now=clock.now())
        assert [r["email"] for r in mail.recipients] == ["ap@carrier.example"]
        s.execute(delete(BillingContact).where(BillingContact.email == "ap@carrier.example"))
        assert queue_document_mail(s, issued.invoice_id, now=clock.now()) == []


def test_a_from_setting_that_is_no_address_fails_the_mail_with_the_reason(
    app: Flask, db: Database, clock: FrozenClock, backend: str, smtp: Handler
) -> None:
    app.config["MAIL_FROM"] = {**app.config["MAIL_FROM"], "AZT": "AzerTelecom Billing"}
    with db.transaction() as s:
        azt = s.execute(select(Party).where(Party.code == "AZT")).scalar_one()
        with pytest.raises(InvalidRequestError):  # SMTP carries ASCII addresses only
            queue_mail(
                s,
                kind="test",
                party_id=azt.id,
                customer_id=None,
                to=[Recipient("Ана", "ана@example.com")],
                subject="Hi",
                text="t",
                html="h",
                now=clock.now(),
            )
        queue_mail(
            s,
            kind="test",
            party_id=azt.id,
            customer_id=None,
            to=[Recipient("Ана Иванова", "ana@example.com")],
            subject="Привет",
            text="т",
            html="<p>т</p>",
            now=clock.now(),
        )
    _run_jobs(app, backend)
    (mail,) = _mails(db)
    assert mail.status == "failed" and smtp.envelopes == []
    assert (
        mail.answer == "the sender's MAIL_FROM setting: not a From address: 'AzerTelecom Billing'"
    )
    # Set right, a resend goes out, non-ASCII name and subject encoded.
    app.config["MAIL_FROM"]["AZT"] = "AzerTelecom Billing <billing@azertelecom.example>"
    with db.transaction() as s:
        resend(s, mail.id, editor=SYSTEM, now=clock.now())
    _run_jobs(app, backend)
    (message,) = smtp.messages()
    assert message["To"] == "Ана Иванова <ana@example.com>" and message["Subject"] == "Привет"


def test_contacts_get_the_document_in_their_language_or_in_english(
    app: Flask, db: Database, clock: FrozenClock, backend: str, smtp: Handler
) -> None:
    issued = _issue_with_contacts(app, db, clock, backend)
    smtp.envelopes.clear()
    with db.transaction() as s:
        seller = factories.party_seller(s, "AZT")
        for name, email, language in (
            ("Ольга Бухгалтерия", "olga@carrier.example", "ru"),
            ("Aigerim", "aigerim@carrier.example", "kk"),
            ("Leyla", "leyla@carrier.example", "az"),
        ):
            add_contact(
                s,
                issued.customer_id,
                {"name": name, "email": email, "language": language},
                editor=seller,
                now=clock.now(),
            )
        mails = queue_document_mail(s, issued.invoice_id, now=clock.now())
        # One mail per language, in the order of the language codes: az, en, kk, ru.
        assert [[r["email"] for r in m.recipients] for m in mails] == [
            ["leyla@carrier.example"],
            ["ap@carrier.example"],
            ["aigerim@carrier.example"],
            ["olga@carrier.example"],
        ]
    _run_jobs(app, backend)
    by_recipient = {
        tuple(e.rcpt_tos): m for e, m in zip(smtp.envelopes, smtp.messages(), strict=True)
    }
    russian = by_recipient[("olga@carrier.example",)]
    assert russian["Subject"] == f"Счёт {issued.number} от AzerTelecom"
    text = russian.get_body(preferencelist=("plain",))
    assert text is not None and "Оплатить до" in text.get_content()
    english = by_recipient[("ap@carrier.example",)]
    assert english["Subject"] == f"Invoice {issued.number} from AzerTelecom"
    kazakh = by_recipient[("aigerim@carrier.example",)]
    assert kazakh["Subject"] == f"AzerTelecom: шот-фактура {issued.number}"
    kazakh_text = kazakh.get_body(preferencelist=("plain",))
    assert kazakh_text is not None and "Төлеу мерзімі" in kazakh_text.get_content()
    azerbaijani = by_recipient[("leyla@carrier.example",)]
    assert azerbaijani["Subject"] == f"AzerTelecom: hesab-faktura {issued.number}"
    azerbaijani_html = azerbaijani.get_body(preferencelist=("html",))
    assert azerbaijani_html is not None
    assert '<html lang="az">' in azerbaijani_html.get_content()
    assert "Son ödəniş tarixi" in azerbaijani_html.get_content()
    for message in (kazakh, azerbaijani):
        (pdf,) = list(message.iter_attachments())
        assert pdf.get_filename() == f"{issued.number}.pdf"
    (attachment,) = list(russian.iter_attachments())
    assert attachment.get_filename() == f"{issued.number}.pdf"
