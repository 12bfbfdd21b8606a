"""Webhooks to customers as jobs (SPEC 13): the fan-out of events, one job per attempt, retries.

- `fan_out_webhooks` is the sender of every customer event type (billing/jobs/events.py `on`): in
  the dispatching unit of work it writes one pending delivery per subscribed endpoint and defers
  `deliver_webhook` for each on the DELIVERY queue.
- `deliver_webhook` claims the attempt (one unit of work), checks the target again (DNS may have
  changed), signs and POSTs with no transaction open, and records the outcome (another unit of
  work). A failed attempt's next one is due after the backoff (billing/outbound/services.py).
- Retries on PostgreSQL: the failed attempt defers the next job `schedule_at` its due time; a
  sweep every minute (`retry_webhooks`) also queues any due delivery that has no job waiting (a
  job that found its delivery not yet due, a lost worker). On SQLite nothing waits in-process:
  `flask webhooks retry` (cron it every minute on a single machine) sends what is due.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app, render_template
from sqlalchemy.orm import Session

from billing.events import Event
from billing.extensions import database, now
from billing.jobs.events import on
from billing.jobs.queue import DELIVERY, AlreadyQueuedError, defer, queue, task
from billing.mail.services import Recipient, contacts_for, queue_mail
from billing.outbound.models import PENDING, WebhookEndpoint
from billing.outbound.sending import Outcome, post
from billing.outbound.services import (
    DISABLED_EVENT,
    EVENT_TYPES,
    Attempt,
    claim_attempt,
    due_deliveries,
    fan_out,
    record_outcome,
)
from billing.outbound.signing import HEADER, signature_header
from billing.outbound.targets import TargetError, check_target
from billing.parties.models import Customer, Party

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


@on(*EVENT_TYPES)
def fan_out_webhooks(session: Session, event: Event, at: datetime) -> None:
    for delivery_id in fan_out(session, event, at):
        defer(session, deliver_webhook, delivery_id=delivery_id)


@on(DISABLED_EVENT)
def mail_disabled_endpoint(session: Session, event: Event, at: datetime) -> None:
    """Tell the customer's billing contacts (those who get invoices) that an endpoint was
    disabled, and how to switch it on again."""
    endpoint = session.get(WebhookEndpoint, int(event.subject_id))
    customer = session.get(Customer, event.customer_id) if event.customer_id else None
    if endpoint is None or customer is None:
        return  # deleted since
    contacts = contacts_for(session, customer.id, "invoices")
    if not contacts:
        return
    party = session.get_one(Party, customer.owner_party_id)
    context = {"customer": customer, "endpoint": endpoint, "party": party}
    queue_mail(
        session,
        kind="webhook_disabled",
        party_id=party.id,
        customer_id=customer.id,
        to=[Recipient(c.name, c.email) for c in contacts],
        subject="Webhook endpoint disabled after 3 days of failures",
        text=render_template("mail/webhook_disabled.txt", **context),
        html=render_template("mail/webhook_disabled.html", **context),
        now=at,
    )


def _production() -> bool:
    return bool(current_app.config.get("BILLING_ENV") == "production")


def _send(attempt: Attempt) -> Outcome:
    try:
        target = check_target(attempt.url, production=_production())
    except TargetError as error:
        return Outcome(error=f"refused: {error}")
    headers = {
        HEADER: signature_header(attempt.secret, int(attempt.at.timestamp()), attempt.body),
        "TCF-Event-Id": attempt.event_id,
    }
    timeout = float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", TIMEOUT_SECONDS))
    return post(target, attempt.body, headers, timeout=timeout)


def _queue(session: Session, delivery_id: int, at: datetime | None = None) -> None:
    try:
        defer(
            session,
            deliver_webhook,
            queueing_lock=f"webhook-delivery:{delivery_id}",
            schedule_at=at,
            delivery_id=delivery_id,
        )
    except AlreadyQueuedError:
        pass  # a job for it is waiting already


def attempt_delivery(delivery_id: int) -> str:
    """One attempt of the delivery if it is due; answers its status afterwards (or why not)."""
    db = database()
    with db.transaction() as session:
        attempt = claim_attempt(session, delivery_id, now())
    if attempt is None:
        return "not due"
    outcome = _send(attempt)  # no transaction is open while the customer's server answers
    with db.transaction() as session:
        delivery = record_outcome(session, attempt, outcome, now())
        if delivery is None:
            return "gone"
        if delivery.status == PENDING and delivery.next_attempt_at is not None:
            _queue(session, delivery.id, delivery.next_attempt_at)
        status = delivery.status
    log.info("webhook delivery %s: %s", delivery_id, status)
    return status


@task(queue_name=DELIVERY, retry=False)
def deliver_webhook(delivery_id: int) -> str:
    """Attempt the delivery (its own retries are the backoff above, not Procrastinate's)."""
    return attempt_delivery(delivery_id)


def run_due(limit: int = 100) -> dict[str, int]:
    """Attempt, in this process, every delivery that is due now; answers how many ended how."""
    with database().transaction() as session:
        due = due_deliveries(session, now(), limit)
    counts: dict[str, int] = {}
    for delivery_id in due:
        status = attempt_delivery(delivery_id)
        counts[status] = counts.get(status, 0) + 1
    return counts


def queue_due() -> int:
    """Queue a job for every due delivery with none waiting; answers how many were due."""
    with database().transaction() as session:
        due = due_deliveries(session, now())
        for delivery_id in due:
            _queue(session, delivery_id)
    return len(due)


@queue.periodic(cron="* * * * *", periodic_id="retry-webhooks")
@task(queue_name=DELIVERY)
def retry_webhooks(timestamp: int) -> int:
    """Every minute (PostgreSQL): the webhook deliveries that are due get a job."""
    return queue_due()


def replayed(session: Session, delivery_id: int) -> None:
    """Queue the replay of a delivery (the API's and the portal's replay), in their unit of work."""
    _queue(session, delivery_id)
