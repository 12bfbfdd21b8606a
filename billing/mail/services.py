"""Billing contacts and queued mail: the interface the senders (invoices, statements, reminders,
webhooks) call.

How a send follows: `queue_mail` stores the Mail (status queued) and adds its id to the session's
`QUEUED` list. billing/jobs/mail.py registers a `before_commit` hook on every unit of work that
defers one `send_mail` job per id in the same transaction (billing/mail may not import the queue).
So a mail commits with its job or not at all, from any edge: a view, a command, a job, or an event
sender running inside the dispatching job (where an event recorded now would not be dispatched
until the next dispatch).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from billing.audit import record
from billing.db import order_by_choice, text_match
from billing.errors import N_, InvalidRequestError, NotFoundError, PermissionDeniedError, Text
from billing.mail.models import (
    DOCUMENTS,
    KINDS,
    LANGUAGES,
    BillingContact,
    Mail,
    MailAttempt,
)
from billing.parties.customers import Seller, get_customer
from billing.validation import InvalidValueError, clean_text

# Session.info: ids of the mails this unit of work queued (billing/jobs/mail.py defers their
# sends before it commits).
QUEUED = "billing.mails_queued"

NAME_MAX = 200
EMAIL_MAX = 200
SUBJECT_MAX = 300
# One address: something@domain.tld, no spaces, no angle brackets, quotes, commas or semicolons
# (an address is one recipient, never a list or a header fragment).
_EMAIL = re.compile(
    r"^[^@\s<>\"',;()\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$"
)


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str


def email_problem(value: str) -> str | None:
    """Why `value` is not one email address (a `Text`: a page says it in its language), or
    None."""
    if len(value) > EMAIL_MAX:
        return Text(N_("at most %(count)s characters"), count=EMAIL_MAX)
    if not _EMAIL.match(value):
        return Text(N_("not an email address (name@example.com)"))
    if not value.isascii():
        # SMTP without the SMTPUTF8 extension carries ASCII addresses only.
        return Text(N_("only ASCII letters, digits and punctuation in an email address"))
    return None


def _said(error: InvalidValueError) -> Text:
    """A refused value's message as a field message a page can say in its language."""
    return Text(error.template, **error.values)


def _line(value: object, max_length: int) -> str:
    """One line of text: CR, LF, NUL and other control characters refused (they would break
    out of a header)."""
    return clean_text(value, max_length=max_length).strip()


# --- billing contacts ---------------------------------------------------------------------


def _contact_values(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for field, max_length in (("name", NAME_MAX), ("email", EMAIL_MAX)):
        try:
            clean[field] = _line(values.get(field, ""), max_length)
        except InvalidValueError as exc:
            errors[field] = [_said(exc)]
            continue
        if not clean[field]:
            errors[field] = [N_("required")]
    if "email" in clean and "email" not in errors:
        problem = email_problem(clean["email"])
        if problem:
            errors["email"] = [problem]
    language = values.get("language", "en")
    if language not in LANGUAGES:
        errors["language"] = [Text(N_("must be one of %(choices)s"), choices=", ".join(LANGUAGES))]
    clean["language"] = language
    documents = values.get("documents", DOCUMENTS)
    if not isinstance(documents, list | tuple | set | frozenset) or not set(documents) <= set(
        DOCUMENTS
    ):
        errors["documents"] = [Text(N_("choose among %(choices)s"), choices=", ".join(DOCUMENTS))]
        documents = ()
    for document in DOCUMENTS:
        clean[document] = document in documents
    if errors:
        raise InvalidRequestError(N_("the billing contact is not valid"), errors)
    return clean


def _snapshot(contact: BillingContact) -> dict[str, Any]:
    return {
        "customer_id": contact.customer_id,
        "name": contact.name,
        "email": contact.email,
        "language": contact.language,
        "documents": contact.documents,
    }


def _may_edit(session: Session, customer_id: int, editor: Seller) -> None:
    customer = get_customer(session, customer_id)
    if not editor.may_sell_for(customer.owner_party_id):
        raise PermissionDeniedError(
            N_("%(name)s belongs to %(party)s: read-only for you"),
            name=customer.legal_name,
            party=customer.owner_party.code,
        )


def _email_free(session: Session, customer_id: int, email: str, but: int | None = None) -> None:
    taken = session.execute(
        select(BillingContact.id).where(
            BillingContact.customer_id == customer_id,
            BillingContact.email == email,
            BillingContact.id != (but or 0),
        )
    ).first()
    if taken:
        raise InvalidRequestError(
            N_("the billing contact is not valid"),
            {"email": [N_("already a contact of this customer")]},
        )


def add_contact(
    session: Session, customer_id: int, values: dict[str, Any], *, editor: Seller, now: datetime
) -> BillingContact:
    _may_edit(session, customer_id, editor)
    clean = _contact_values(values)
    _email_free(session, customer_id, clean["email"])
    contact = BillingContact(customer_id=customer_id, created_at=now, updated_at=now, **clean)
    session.add(contact)
    session.flush()
    record(
        session,
        actor=editor.label,
        action="billing_contact.create",
        entity_type="billing_contact",
        entity_id=contact.id,
        now=now,
        after=_snapshot(contact),
    )
    return contact


def get_contact(session: Session, customer_id: int, contact_id: int) -> BillingContact:
    contact = session.get(BillingContact, contact_id)
    if contact is None or contact.customer_id != customer_id:
        raise NotFoundError(N_("no billing contact %(id)s"), id=contact_id)
    return contact


def update_contact(
    session: Session,
    customer_id: int,
    contact_id: int,
    values: dict[str, Any],
    *,
    editor: Seller,
    now: datetime,
) -> BillingContact:
    contact = get_contact(session, customer_id, contact_id)
    _may_edit(session, customer_id, editor)
    clean = _contact_values(values)
    _email_free(session, customer_id, clean["email"], but=contact.id)
    before = _snapshot(contact)
    for field, value in clean.items():
        setattr(contact, field, value)
    contact.updated_at = now
    session.flush()
    record(
        session,
        actor=editor.label,
        action="billing_contact.update",
        entity_type="billing_contact",
        entity_id=contact.id,
        now=now,
        before=before,
        after=_snapshot(contact),
    )
    return contact


def remove_contact(
    session: Session, customer_id: int, contact_id: int, *, editor: Seller, now: datetime
) -> None:
    contact = get_contact(session, customer_id, contact_id)
    _may_edit(session, customer_id, editor)
    before = _snapshot(contact)
    session.delete(contact)
    session.flush()
    record(
        session,
        actor=editor.label,
        action="billing_contact.delete",
        entity_type="billing_contact",
        entity_id=contact_id,
        now=now,
        before=before,
    )


def list_contacts(session: Session, customer_id: int) -> list[BillingContact]:
    return list(
        session.execute(
            select(BillingContact)
            .where(BillingContact.customer_id == customer_id)
            .order_by(BillingContact.name, BillingContact.id)
        ).scalars()
    )


def contacts_for(session: Session, customer_id: int, document: str) -> list[BillingContact]:
    """The customer's contacts who want `document` ("invoices", "credit_notes", "reminders")."""
    if document not in DOCUMENTS:
        raise ValueError(f"unknown document {document!r}: one of {', '.join(DOCUMENTS)}")
    return [c for c in list_contacts(session, customer_id) if getattr(c, document)]


# --- queued mail --------------------------------------------------------------------------


def recipient_problem(recipient: Recipient) -> str | None:
    """Why a mail cannot go to `recipient` (its name is not one line of text, its email not one
    address), or None."""
    try:
        _line(recipient.name, NAME_MAX)
        email = _line(recipient.email, EMAIL_MAX)
    except InvalidValueError as exc:
        return _said(exc)
    return email_problem(email)


def _recipients(to: Sequence[Recipient]) -> list[dict[str, str]]:
    if not to:
        raise InvalidRequestError(N_("a mail needs a recipient"), {"to": [N_("required")]})
    problems = [
        Text(N_("%(email)s: %(problem)s"), email=recipient.email, problem=problem)
        for recipient in to
        if (problem := recipient_problem(recipient))
    ]
    if problems:
        raise InvalidRequestError(N_("the mail's recipients are not valid"), {"to": problems})
    return [{"name": r.name.strip(), "email": r.email.strip()} for r in to]


def queue_mail(
    session: Session,
    *,
    kind: str,
    party_id: int,
    customer_id: int | None,
    to: Sequence[Recipient],
    subject: str,
    text: str,
    html: str,
    now: datetime,
    invoice_id: int | None = None,
    statement_id: int | None = None,
    list_unsubscribe: str | None = None,
) -> Mail:
    """Store a mail (status queued); a `send_mail` job follows the commit (see the module's
    docstring). Recipients' names and emails and the subject must be one line each."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of mail {kind!r}")
    recipients = _recipients(to)
    try:
        subject = _line(subject, SUBJECT_MAX)
        if list_unsubscribe is not None:
            list_unsubscribe = _line(list_unsubscribe, 500)
    except InvalidValueError as exc:
        raise InvalidRequestError(N_("the mail is not valid"), {"subject": [_said(exc)]}) from None
    mail = Mail(
        public_id="mail_" + secrets.token_hex(12),
        kind=kind,
        party_id=party_id,
        customer_id=customer_id,
        invoice_id=invoice_id,
        statement_id=statement_id,
        recipients=recipients,
        subject=subject,
        text=text,
        html=html,
        list_unsubscribe=list_unsubscribe,
        status="queued",
        created_at=now,
    )
    session.add(mail)
    session.flush()
    session.info.setdefault(QUEUED, []).append(mail.id)
    return mail


def get_mail(session: Session, mail_id: int) -> Mail:
    mail = session.execute(
        select(Mail).where(Mail.id == mail_id).options(selectinload(Mail.attempts))
    ).scalar_one_or_none()
    if mail is None:
        raise NotFoundError(N_("no mail %(id)s"), id=mail_id)
    return mail


def get_mail_by_public_id(session: Session, public_id: str) -> Mail:
    mail = session.execute(
        select(Mail).where(Mail.public_id == public_id).options(selectinload(Mail.attempts))
    ).scalar_one_or_none()
    if mail is None:
        raise NotFoundError(N_("no mail %(id)s"), id=public_id)
    return mail


def record_attempt(
    session: Session,
    mail: Mail,
    outcome: str,
    detail: str,
    *,
    now: datetime,
    message_id: str | None = None,
) -> MailAttempt:
    """What came of one attempt: "sent" (the server's answer), "retry" (a passing failure: the
    job tries again) or "failed" (refused for good, with the reason)."""
    attempt = MailAttempt(mail_id=mail.id, at=now, outcome=outcome, detail=detail[:2000])
    session.add(attempt)
    if outcome == "sent":
        mail.status = "sent"
        mail.sent_at = now
        mail.answer = detail
        mail.message_id = message_id
    elif outcome == "failed":
        mail.status = "failed"
        mail.answer = detail
    session.flush()
    return attempt


def resend(session: Session, mail_id: int, *, editor: Seller, now: datetime) -> Mail:
    """Queue a copy of `mail_id` (same recipients, words and document), audited. Staff of the
    sending party, or an administrator."""
    original = get_mail(session, mail_id)
    if not editor.may_sell_for(original.party_id):
        raise PermissionDeniedError(
            N_("the mail was sent by the other party: only its staff resend it")
        )
    copy = queue_mail(
        session,
        kind=original.kind,
        party_id=original.party_id,
        customer_id=original.customer_id,
        to=[Recipient(r["name"], r["email"]) for r in original.recipients],
        subject=original.subject,
        text=original.text,
        html=original.html,
        now=now,
        invoice_id=original.invoice_id,
        statement_id=original.statement_id,
        list_unsubscribe=original.list_unsubscribe,
    )
    audit_queued(session, copy, actor=editor.label, now=now, resent=original.public_id)
    return copy


def audit_queued(
    session: Session, mail: Mail, *, actor: str, now: datetime, resent: str | None = None
) -> None:
    """The audit entry of a mail a person asked for (a resend, a test mail)."""
    record(
        session,
        actor=actor,
        action="mail.resend" if resent else f"mail.{mail.kind}",
        entity_type="mail",
        entity_id=mail.id,
        now=now,
        after={
            "mail": mail.public_id,
            "kind": mail.kind,
            "to": mail.recipients,
            "subject": mail.subject,
            **({"resent": resent} if resent else {}),
        },
    )


def mails_for_document(
    session: Session, *, invoice_id: int | None = None, statement_id: int | None = None
) -> list[Mail]:
    """The delivery log of a document: its mails, newest first, with their attempts."""
    stmt = select(Mail).options(selectinload(Mail.attempts)).order_by(Mail.id.desc())
    if invoice_id is not None:
        stmt = stmt.where(Mail.invoice_id == invoice_id)
    elif statement_id is not None:
        stmt = stmt.where(Mail.statement_id == statement_id)
    else:
        raise ValueError("a document: invoice_id or statement_id")
    return list(session.execute(stmt).scalars())


OUTBOX_SORTS: dict[str, Sequence[Any]] = {
    "created": (Mail.created_at, Mail.id),
    "subject": (Mail.subject, Mail.id),
    "status": (Mail.status, Mail.id),
    "kind": (Mail.kind, Mail.id),
}
OUTBOX_DEFAULT_SORT = "-created"


def outbox_query(
    *,
    q: str = "",
    status: str = "",
    kind: str = "",
    sort: str = OUTBOX_DEFAULT_SORT,
) -> Select[Any]:
    stmt = select(Mail)
    if q:
        stmt = stmt.where(text_match(q, Mail.subject, Mail.public_id, Mail.message_id))
    if status:
        stmt = stmt.where(Mail.status == status)
    if kind:
        stmt = stmt.where(Mail.kind == kind)
    return order_by_choice(stmt, sort, OUTBOX_SORTS, OUTBOX_DEFAULT_SORT)
