"""Payment reminders as jobs (SPEC 13): an issuer's daily pass, queued by its reminders schedule
(billing/jobs/schedule.py) in the issuer's local morning, or run by `flask reminders run`."""

from __future__ import annotations

from flask import current_app

from billing.extensions import database, now
from billing.jobs.queue import DELIVERY, task
from billing.mail.models import BillingContact
from billing.reminders.services import PassSummary, send_reminders, unsubscribe_token
from billing.scheduling.services import record_result


def unsubscribe_url(contact: BillingContact) -> str:
    """The link in a reminder that stops reminders to `contact` (RFC 8058 one-click too)."""
    base = str(current_app.config["PUBLIC_URL"]).rstrip("/")
    token = unsubscribe_token(current_app.config["SECRET_KEY"], contact)
    return f"{base}/unsubscribe/{contact.id}/{token}"


def run_pass(party_id: int) -> PassSummary:
    """One issuer's pass now, in one unit of work (its mails queued as it commits)."""
    with database().transaction() as session:
        return send_reminders(session, party_id, now=now(), unsubscribe_url=unsubscribe_url)


@task(queue_name=DELIVERY)
def send_reminders_of(schedule_id: int, party_id: int, slot: str) -> str:
    """The reminders schedule's daily pass for one issuer; what it did is kept on the schedule.
    Run twice for one slot, the second sends nothing (each step once per invoice)."""
    summary = run_pass(party_id)
    words = summary.words()
    with database().transaction() as session:
        record_result(session, schedule_id, ok=True, result=words, now=now())
    return words
