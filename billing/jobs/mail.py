"""Sending mail as jobs (SPEC 13): one `send_mail` job per queued mail, retried on its own.

- `billing.mail.services.queue_mail` stores a mail and notes its id on the session; the
  `before_commit` hook below defers its `send_mail` in the same transaction, whichever edge
  queued it (a view, a command, a job, an event sender).
- Event senders: an issued invoice or credit note goes to the customer's contacts who want it;
  an approved settlement statement to the other party's finance users.
- `send_mail` reads the mail and its attachment in one short unit of work, talks to the SMTP
  server with no transaction open, then records the attempt in another. A 4xx answer or a lost
  connection records a "retry" attempt and raises, so Procrastinate tries again (MAIL_RETRY);
  the last allowed attempt, or a 5xx answer, marks the mail failed with the reason. A mail no
  longer queued (sent, failed) is left alone: running the job twice sends once.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from procrastinate import RetryStrategy
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.db import before_commit
from billing.events import Event
from billing.extensions import database, now
from billing.jobs.events import on
from billing.jobs.queue import DELIVERY, defer, is_queued, task
from billing.mail.compose import compose
from billing.mail.documents import (
    AttachmentNotReadyError,
    attachment_for,
    mail_from,
    queue_document_mail,
    queue_statement_mail,
)
from billing.mail.models import Mail
from billing.mail.services import QUEUED, record_attempt
from billing.mail.transport import (
    OUTBOX_ANSWER,
    PermanentMailError,
    TemporaryMailError,
    deliver,
    parse_smtp_url,
)
from billing.parties.models import Party

log = logging.getLogger(__name__)

# Attempts per mail, waiting 4 s, 16 s, 1 min, 4 min, 17 min, 68 min, 4.5 h between them: a
# server down for an afternoon still gets the mail; after that, the mail is failed for a person.
MAIL_ATTEMPTS = 8
MAIL_RETRY = RetryStrategy(max_attempts=MAIL_ATTEMPTS, exponential_wait=4)


def _defer_sends(session: Session) -> None:
    for mail_id in session.info.pop(QUEUED, []):
        defer(session, send_mail, lock=f"mail:{mail_id}", mail_id=mail_id)


# Every unit of work that queued mail defers their sends before it commits.
before_commit(_defer_sends)


@on("invoice.issued", "credit_note.issued")
def mail_issued_document(session: Session, event: Event, at: datetime) -> None:
    queue_document_mail(session, int(event.subject_id), now=at)


@on("settlement.approved")
def mail_approved_statement(session: Session, event: Event, at: datetime) -> None:
    if event.party_id is not None:
        queue_statement_mail(session, int(event.subject_id), event.party_id, now=at)


def _record(mail_id: int, outcome: str, detail: str, message_id: str | None = None) -> str:
    """Record an attempt's outcome in a unit of work of its own; answers the mail's status."""
    with database().transaction() as session:
        mail = session.get(Mail, mail_id, with_for_update=True)
        if mail is None or mail.status != "queued":
            return mail.status if mail else "missing"
        if outcome == "retry" and len(mail.attempts) + 1 >= MAIL_ATTEMPTS:
            outcome, detail = "failed", f"gave up after {MAIL_ATTEMPTS} attempts: {detail}"
        record_attempt(session, mail, outcome, detail, now=now(), message_id=message_id)
        return mail.status


def _compose(mail_id: int) -> EmailMessage | str:
    """The message of a queued mail, read in a short unit of work; or the mail's status when it
    is not queued (sent or failed already: nothing to do). AttachmentNotReadyError while its
    document's PDF is not rendered; ValueError for a MAIL_FROM setting that is no address."""
    with database().transaction() as session:
        mail = session.get(Mail, mail_id)
        if mail is None or mail.status != "queued":
            return mail.status if mail else "missing"
        attachment = attachment_for(session, mail)
        party = session.get_one(Party, mail.party_id)
        sender = mail_from(current_app.config.get("MAIL_FROM", {}), party)
        return compose(mail, sender=sender, attachment=attachment, now=now())


def _retry(mail_id: int, reason: str) -> str:
    """A passing failure: recorded, then raised so that Procrastinate tries again (unless it
    was the last attempt: the mail is failed)."""
    if _record(mail_id, "retry", reason) == "queued":
        raise TemporaryMailError(reason)
    return "failed"


@task(queue_name=DELIVERY, retry=MAIL_RETRY)
def send_mail(mail_id: int) -> str:
    """Send one queued mail; answers its status afterwards."""
    config = current_app.config
    try:
        message = _compose(mail_id)
    except AttachmentNotReadyError as exc:
        return _retry(mail_id, str(exc))
    except ValueError as exc:
        return _record(mail_id, "failed", f"the sender's MAIL_FROM setting: {exc}")
    if isinstance(message, str):
        return message
    message_id = str(message["Message-ID"])
    # No transaction is open while the server is talked to.
    try:
        settings = parse_smtp_url(config.get("SMTP_URL", ""))
    except ValueError as exc:
        return _record(mail_id, "failed", str(exc))
    if settings is None:
        return _record(mail_id, "sent", OUTBOX_ANSWER, message_id)
    try:
        answer = deliver(
            message,
            settings,
            require_tls=config.get("BILLING_ENV") == "production",
            timeout=float(config.get("SMTP_TIMEOUT_SECONDS", 30)),
        )
    except PermanentMailError as exc:
        log.warning("mail %s refused by %s: %s", mail_id, settings.safe_url, exc)
        return _record(mail_id, "failed", str(exc))
    except TemporaryMailError as exc:
        log.warning("mail %s not sent through %s, for now: %s", mail_id, settings.safe_url, exc)
        return _retry(mail_id, str(exc))
    return _record(mail_id, "sent", answer, message_id)


# A queued mail never tried for this long lost its in-process send (the process stopped).
UNTRIED_AFTER = timedelta(minutes=1)


def retry_wait(attempts: int) -> timedelta:
    """How long after its last attempt a mail tried `attempts` times is due again (MAIL_RETRY's
    waits: 4 s, 16 s, 64 s, ...)."""
    return timedelta(seconds=MAIL_RETRY.exponential_wait ** max(1, attempts))


def due_mail_ids(session: Session, at: datetime, limit: int = 100) -> list[int]:
    """Queued mails whose next attempt is due at `at`, oldest first."""
    queued = session.execute(
        select(Mail)
        .where(Mail.status == "queued")
        .options(selectinload(Mail.attempts))
        .order_by(Mail.id)
    ).scalars()
    due: list[int] = []
    for mail in queued:
        last = mail.attempts[-1].at if mail.attempts else mail.created_at
        wait = retry_wait(len(mail.attempts)) if mail.attempts else UNTRIED_AFTER
        if last + wait <= at:
            due.append(mail.id)
        if len(due) >= limit:
            break
    return due


def send_due(limit: int = 100) -> Counter[str]:
    """Send, in this process, the queued mails whose next attempt is due; answers how many
    ended in each status. For SQLite, where nothing else tries a mail again: with PostgreSQL
    the workers do (this refuses, so that a mail is never sent by two processes at once)."""
    db = database()
    with db.transaction() as session:
        if is_queued(session):
            raise RuntimeError("with PostgreSQL the workers send and retry mail by themselves")
        ids = due_mail_ids(session, now(), limit)
    counts: Counter[str] = Counter()
    for mail_id in ids:
        try:
            counts[send_mail(mail_id=mail_id)] += 1
        except TemporaryMailError:
            counts["queued"] += 1
    return counts
