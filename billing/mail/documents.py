"""The mails of the facts: an issued invoice or credit note to the customer's contacts, an
approved settlement statement to the other party's finance users, a test mail; and what each
carries when it is sent (the stored PDF, byte for byte, or the statement's PDF)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from billing.access.models import Role, User
from billing.config import DEFAULT_MAIL_FROM
from billing.errors import N_, ConflictError, NotFoundError, PermissionDeniedError, Text
from billing.invoicing.models import Invoice
from billing.mail.compose import Attachment
from billing.mail.models import Mail
from billing.mail.services import (
    Recipient,
    audit_queued,
    contacts_for,
    queue_mail,
    recipient_problem,
)
from billing.money import Money, format_money
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.settlement.document import statement_pdf
from billing.settlement.models import SettlementStatement

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "mail"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class AttachmentNotReadyError(Exception):
    """The document's PDF is not rendered yet: the send is tried again later. Its first
    argument is the message, a `Text` (the outbox page says it in its language)."""


def _money(amount: Any, currency: str) -> str:
    return format_money(Money(amount, currency), with_code=True)


_env.filters.update(money=_money)


def _render(name: str, language: str = "en", **context: Any) -> tuple[str, str]:
    """The text and HTML bodies of template `name` in `language` (templates/mail/
    <name>.<language>.txt and .html; English is <name>.txt and .html)."""
    stem = name if language == "en" else f"{name}.{language}"
    return (
        _env.get_template(f"{stem}.txt").render(**context),
        _env.get_template(f"{stem}.html").render(**context),
    )


def deliverable(recipients: list[Recipient]) -> list[Recipient]:
    """The recipients a mail can go to: an address stored before it was checked (a customer's
    old contact email turned contact, a user's login) that is not one address, or a name with
    a line break, is passed over and logged, never the reason no one gets the document."""
    kept = []
    for recipient in recipients:
        problem = recipient_problem(recipient)
        if problem:
            log.warning("mail not sent to %r: %s", recipient.email, problem)
        else:
            kept.append(recipient)
    return kept


def mail_from(settings: Mapping[str, str], party: Party) -> str:
    """The From of `party`'s mail: MAIL_FROM_<code>, else a default, else its name at the
    platform's example domain."""
    return (
        settings.get(party.code)
        or DEFAULT_MAIL_FROM.get(party.code)
        or f"{party.legal_name} Billing <billing@{party.code.lower()}.example>"
    )


# The subject of a document's mail in each language its words are written in (templates/mail/
# <kind>.<language>.txt and .html); a contact in another language gets English.
SUBJECTS = {
    "en": {
        "invoice": "Invoice {number} from {issuer}",
        "credit_note": "Credit note {number} from {issuer}",
    },
    "ru": {
        "invoice": "Счёт {number} от {issuer}",
        "credit_note": "Кредит-нота {number} от {issuer}",
    },
    "az": {
        "invoice": "{issuer}: hesab-faktura {number}",
        "credit_note": "{issuer}: kredit notası {number}",
    },
    "kk": {
        "invoice": "{issuer}: шот-фактура {number}",
        "credit_note": "{issuer}: кредиттік нота {number}",
    },
}


def queue_document_mail(session: Session, invoice_id: int, *, now: datetime) -> list[Mail]:
    """Queue the mails of an issued invoice or credit note to the customer's contacts who want
    it: one per language they read (in English where there are no words in theirs yet); none
    when nobody wants it."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.is_draft or invoice.number is None:
        return []
    wanted = "credit_notes" if invoice.is_credit_note else "invoices"
    kind = "credit_note" if invoice.is_credit_note else "invoice"
    by_language: dict[str, list[Recipient]] = {}
    for contact in contacts_for(session, invoice.customer_id, wanted):
        language = contact.language if contact.language in SUBJECTS else "en"
        by_language.setdefault(language, []).append(Recipient(contact.name, contact.email))
    mails = []
    for language, recipients in sorted(by_language.items()):
        to = deliverable(recipients)
        if not to:
            continue
        text, html = _render(
            kind,
            language,
            invoice=invoice,
            issuer=invoice.issuer,
            customer=invoice.customer,
        )
        subject = SUBJECTS[language][kind].format(
            number=invoice.number, issuer=_short_name(invoice.issuer)
        )
        mails.append(
            queue_mail(
                session,
                kind=kind,
                party_id=invoice.issuer_party_id,
                customer_id=invoice.customer_id,
                to=to,
                subject=subject,
                text=text,
                html=html,
                now=now,
                invoice_id=invoice.id,
            )
        )
    return mails


def _short_name(party: Party) -> str:
    """ "AzerTelecom" of "AzerTelecom LLC": the name people say."""
    words = party.legal_name.split()
    if len(words) > 1 and words[-1].rstrip(".").upper() in {"LLC", "JSC", "OJSC", "LTD", "INC"}:
        return " ".join(words[:-1])
    return party.legal_name


def statement_label(statement: SettlementStatement) -> str:
    return f"{statement.period_start:%Y-%m} ({statement.basis})"


def queue_statement_mail(
    session: Session, statement_id: int, approving_party_id: int, *, now: datetime
) -> Mail | None:
    """Queue the approved statement to the other party's finance users (active, with an
    email); None when there are none."""
    statement = session.get(SettlementStatement, statement_id)
    sender = session.get(Party, approving_party_id)
    if statement is None or sender is None:
        return None
    finance = list(
        session.execute(
            select(User)
            .where(
                User.party_id.is_not(None),
                User.party_id != approving_party_id,
                User.role == Role.FINANCE.value,
                User.active.is_(True),
            )
            .order_by(User.id)
        ).scalars()
    )
    to = deliverable([Recipient(user.name, user.email) for user in finance])
    if not to:
        return None
    text, html = _render(
        "statement", statement=statement, sender=sender, label=statement_label(statement)
    )
    return queue_mail(
        session,
        kind="statement",
        party_id=sender.id,
        customer_id=None,
        to=to,
        subject=f"Settlement statement {statement_label(statement)} from {_short_name(sender)}",
        text=text,
        html=html,
        now=now,
        statement_id=statement.id,
    )


def queue_test_mail(
    session: Session, party_id: int, to: Recipient, *, actor: str, now: datetime
) -> Mail:
    """A test mail from `party_id` to `to`, through the same queue as every other, audited."""
    party = session.get(Party, party_id)
    if party is None:
        raise ValueError(f"no party {party_id}")
    text, html = _render("test", party=party, now=now)
    mail = queue_mail(
        session,
        kind="test",
        party_id=party.id,
        customer_id=None,
        to=[to],
        subject=f"Test email from {_short_name(party)} billing",
        text=text,
        html=html,
        now=now,
    )
    audit_queued(session, mail, actor=actor, now=now)
    return mail


def email_document_again(
    session: Session, invoice_id: int, *, editor: Seller, now: datetime
) -> list[Mail]:
    """Queue new mails of an issued invoice or credit note to its contacts as they are now
    (a corrected address gets it), audited. Staff of the issuer, or an administrator."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFoundError(N_("no invoice %(id)s"), id=invoice_id)
    if not editor.may_sell_for(invoice.issuer_party_id):
        raise PermissionDeniedError(
            N_("%(issuer)s issued it: only its staff email it"), issuer=invoice.issuer.code
        )
    if invoice.is_draft:
        raise ConflictError(N_("a draft is not emailed: issue it first"))
    mails = queue_document_mail(session, invoice_id, now=now)
    if not mails:
        if invoice.is_credit_note:
            nobody = N_(
                "no billing contact of %(customer)s receives credit notes: add one on the "
                "customer's page"
            )
        else:
            nobody = N_(
                "no billing contact of %(customer)s receives invoices: add one on the "
                "customer's page"
            )
        raise ConflictError(nobody, customer=invoice.customer.legal_name)
    for mail in mails:
        audit_queued(session, mail, actor=editor.label, now=now, resent=invoice.number or "")
    return mails


def email_statement_again(
    session: Session, statement_id: int, *, editor: Seller, now: datetime
) -> Mail:
    """Queue the approved statement again to the other party's finance users, from the
    editor's party (an administrator sends as the last party that approved), audited."""
    statement = session.get(SettlementStatement, statement_id)
    if statement is None:
        raise NotFoundError(N_("no settlement statement %(id)s"), id=statement_id)
    if statement.approved_at is None:
        raise ConflictError(N_("a statement is emailed once both parties have approved it"))
    sender_id = editor.party_id
    if sender_id is None:
        last = max(statement.approvals, key=lambda a: (a.approved_at, a.id), default=None)
        if last is None:
            raise ConflictError(N_("the statement has no approval to send it from"))
        sender_id = last.party_id
    mail = queue_statement_mail(session, statement_id, sender_id, now=now)
    if mail is None:
        raise ConflictError(N_("the other party has no active finance user to send it to"))
    audit_queued(session, mail, actor=editor.label, now=now, resent=statement_label(statement))
    return mail


def attachment_for(session: Session, mail: Mail) -> Attachment | None:
    """What `mail` carries: the document's stored PDF, read now (AttachmentNotReadyError while
    it is not rendered), the statement's PDF, or nothing."""
    if mail.invoice_id is not None:
        invoice = session.execute(
            select(Invoice).where(Invoice.id == mail.invoice_id).options(undefer(Invoice.pdf))
        ).scalar_one()
        if invoice.pdf is None:
            raise AttachmentNotReadyError(
                Text(N_("%(number)s: the PDF is not rendered yet"), number=invoice.number)
            )
        return Attachment(f"{invoice.number}.pdf", invoice.pdf)
    if mail.statement_id is not None:
        statement = session.get(SettlementStatement, mail.statement_id)
        if statement is None:
            return None
        name = f"settlement-{statement.period_start:%Y-%m}-{statement.basis}.pdf"
        return Attachment(name, statement_pdf(statement))
    return None
