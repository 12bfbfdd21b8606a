"""Webhook endpoints, the fan-out of events to them, and each delivery's attempts (SPEC 13).

Services take a session and never commit: the API, the portal, the jobs and the CLI do. A
delivery's attempt is three steps so that no transaction is open while a customer's server
answers: `claim_attempt` (a unit of work: the delivery is due, is leased for a minute and its
body frozen), the POST itself (billing/outbound/sending.py), `record_outcome` (a unit of work:
succeeded, or the next attempt after a backoff, or failed; the endpoint disabled after 3 days of
failures with nothing delivered).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from billing.audit import record
from billing.errors import N_, ConflictError, InvalidRequestError, NotFoundError, Text
from billing.events import Event, record_event
from billing.outbound.models import (
    DISABLED,
    ENABLED,
    FAILED,
    PENDING,
    SUCCEEDED,
    WebhookDelivery,
    WebhookEndpoint,
    state_of,
)
from billing.outbound.sending import Outcome
from billing.outbound.signing import event_body, new_secret
from billing.outbound.subjects import UnknownSubjectError, show_subject
from billing.outbound.targets import Resolver, TargetError, check_target, check_url, resolve

# The events a customer may subscribe to, and what each one's `data` is.
EVENT_TYPES = (
    "invoice.issued",
    "invoice.paid",
    "invoice.overdue",
    "credit_note.issued",
    "service.activated",
    "service.terminated",
    "quote.expiring",
)
DISABLED_EVENT = "webhook_endpoint.disabled"
MAX_ENDPOINTS = 16

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=6)
RETRY_FOR = timedelta(days=3)
DISABLE_AFTER = timedelta(days=3)
# A claimed attempt keeps others off the delivery this long (the POST times out well before).
LEASE = timedelta(seconds=60)
ACTOR = "webhooks"


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, … at most 6 h."""
    exponent = min(max(attempts, 1) - 1, 20)
    delay: timedelta = FIRST_RETRY * (2**exponent)
    return min(delay, LONGEST_RETRY)


def _public_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def checked_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        shown = ", ".join(repr(e[:64]) for e in unknown[:5])
        raise InvalidRequestError(
            N_("unknown event type %(shown)s: choose from %(choices)s"),
            {"events": [Text(N_("unknown event type %(shown)s"), shown=shown)]},
            shown=shown,
            choices=", ".join(EVENT_TYPES),
        )
    if not events:
        raise InvalidRequestError(
            N_("choose at least one event type"),
            {"events": [N_("choose at least one event type")]},
        )
    return [e for e in EVENT_TYPES if e in events]


def checked_url(url: str, *, production: bool, resolver: Resolver = resolve) -> str:
    try:
        check_target(url, production=production, resolver=resolver)
    except TargetError as error:
        raise InvalidRequestError(
            N_("url: %(error)s"), {"url": [error.args[0]]}, error=error.args[0]
        ) from None
    return url


def create_endpoint(
    session: Session,
    customer_id: int,
    *,
    url: str,
    events: list[str],
    actor: str,
    now: datetime,
    production: bool,
    resolver: Resolver = resolve,
) -> WebhookEndpoint:
    """A new enabled endpoint; its `secret` is for the answer that shows it once."""
    chosen = checked_events(events)
    checked_url(url, production=production, resolver=resolver)
    count = session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.customer_id == customer_id)
    )
    if (count or 0) >= MAX_ENDPOINTS:
        raise ConflictError(
            N_("at most %(count)s webhook endpoints; delete one first"), count=MAX_ENDPOINTS
        )
    endpoint = WebhookEndpoint(
        public_id=_public_id("we_"),
        customer_id=customer_id,
        url=url,
        events=chosen,
        secret=new_secret(),
        status=ENABLED,
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    record(
        session,
        actor=actor,
        action="webhook_endpoint.create",
        entity_type="webhook_endpoint",
        entity_id=endpoint.public_id,
        now=now,
        after=state_of(endpoint),
    )
    return endpoint


def endpoint_listing(customer_id: int) -> Select[Any]:
    return (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.customer_id == customer_id)
        .order_by(WebhookEndpoint.id.desc())
    )


def get_endpoint(
    session: Session, public_id: str, *, customer_id: int, lock: bool = False
) -> WebhookEndpoint:
    """One of the customer's endpoints; anyone else's is not found."""
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.public_id == public_id[:40], WebhookEndpoint.customer_id == customer_id
    )
    endpoint = session.scalar(stmt.with_for_update() if lock else stmt)
    if endpoint is None:
        raise NotFoundError(N_("no webhook endpoint %(id)s"), id=public_id[:40])
    return endpoint


def delete_endpoint(
    session: Session, public_id: str, *, customer_id: int, actor: str, now: datetime
) -> None:
    endpoint = get_endpoint(session, public_id, customer_id=customer_id, lock=True)
    before = state_of(endpoint)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    record(
        session,
        actor=actor,
        action="webhook_endpoint.delete",
        entity_type="webhook_endpoint",
        entity_id=public_id,
        now=now,
        before=before,
    )
    session.flush()


def enable_endpoint(
    session: Session, public_id: str, *, customer_id: int, actor: str, now: datetime
) -> WebhookEndpoint:
    """Switch a disabled endpoint on again: a fresh start, no failures counted."""
    endpoint = get_endpoint(session, public_id, customer_id=customer_id, lock=True)
    if endpoint.status == ENABLED:
        return endpoint
    before = state_of(endpoint)
    endpoint.status = ENABLED
    endpoint.disabled_reason = None
    endpoint.first_failure_at = None
    record(
        session,
        actor=actor,
        action="webhook_endpoint.enable",
        entity_type="webhook_endpoint",
        entity_id=endpoint.public_id,
        now=now,
        before=before,
        after=state_of(endpoint),
    )
    session.flush()
    return endpoint


def delivery_listing(endpoint_id: int) -> Select[Any]:
    return (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
    )


def get_delivery(session: Session, endpoint: WebhookEndpoint, public_id: str) -> WebhookDelivery:
    delivery = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.public_id == public_id[:40],
            WebhookDelivery.endpoint_id == endpoint.id,
        )
    )
    if delivery is None:
        raise NotFoundError(N_("no delivery %(id)s of this endpoint"), id=public_id[:40])
    return delivery


def replay_delivery(
    session: Session,
    endpoint_id: str,
    delivery_id: str,
    *,
    customer_id: int,
    actor: str,
    now: datetime,
) -> WebhookDelivery:
    """Send a delivery again, now: the same body, a new signature time, a new 3-day series of
    retries. The caller defers its job."""
    endpoint = get_endpoint(session, endpoint_id, customer_id=customer_id, lock=True)
    if endpoint.status != ENABLED:
        raise ConflictError(N_("the endpoint is disabled: enable it before replaying a delivery"))
    delivery = get_delivery(session, endpoint, delivery_id)
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status = PENDING
    delivery.next_attempt_at = now
    delivery.first_attempt_at = None
    record(
        session,
        actor=actor,
        action="webhook_delivery.replay",
        entity_type="webhook_delivery",
        entity_id=delivery.public_id,
        now=now,
        before=before,
        after={"status": PENDING},
    )
    session.flush()
    return delivery


def fan_out(session: Session, event: Event, at: datetime) -> list[int]:
    """A pending delivery of the event to each enabled endpoint of its customer subscribed to
    its type; answers their ids (the caller defers a job for each). Twice changes nothing."""
    if event.customer_id is None or event.type not in EVENT_TYPES:
        return []
    endpoints = session.scalars(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.customer_id == event.customer_id,
            WebhookEndpoint.status == ENABLED,
        )
        .order_by(WebhookEndpoint.id)
    )
    have = set(
        session.scalars(
            select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event.id)
        )
    )
    made = []
    for endpoint in endpoints:
        if not endpoint.subscribes_to(event.type) or endpoint.id in have:
            continue
        delivery = WebhookDelivery(
            public_id=_public_id("whd_"),
            endpoint_id=endpoint.id,
            event_id=event.id,
            status=PENDING,
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        session.add(delivery)
        made.append(delivery)
    session.flush()
    return [d.id for d in made]


@dataclass(frozen=True, slots=True)
class Attempt:
    """A claimed attempt: what to send where, signed at `at`."""

    delivery_id: int
    url: str
    secret: str
    event_id: str
    body: bytes
    at: datetime


def due_deliveries(session: Session, at: datetime, limit: int = 100) -> list[int]:
    """The pending deliveries whose next attempt is due, oldest first."""
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .join(WebhookEndpoint)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= at,
                WebhookEndpoint.status == ENABLED,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )


def _frozen_data(session: Session, event: Event, at: datetime) -> dict[str, Any]:
    # Frozen at the first delivery, so that every retry and replay sends the same bytes.
    if event.data is None:
        event.data = show_subject(session, event.subject_type, event.subject_id, at)
    return event.data


def claim_attempt(session: Session, delivery_id: int, at: datetime) -> Attempt | None:
    """Take the delivery's attempt if it is due (None if not, or not pending, or its endpoint
    is off): leased for a minute, its body frozen."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != PENDING:
        return None
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > at:
        return None
    endpoint = delivery.endpoint
    if endpoint.status != ENABLED:
        return None
    event = delivery.event
    try:
        data = _frozen_data(session, event, at)
    except (UnknownSubjectError, NotFoundError) as error:
        _finish(session, delivery, FAILED, at, error=str(error)[:500])
        return None
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or at
    delivery.last_attempt_at = at
    delivery.next_attempt_at = at + LEASE
    session.flush()
    return Attempt(
        delivery_id=delivery.id,
        url=endpoint.url,
        secret=endpoint.secret,
        event_id=event.public_id,
        body=event_body(event.public_id, event.type, event.created_at, data),
        at=at,
    )


def refused_target(url: str, *, production: bool, resolver: Resolver = resolve) -> Outcome | None:
    """The failed outcome of an attempt to a URL that may not receive webhooks (now), or None."""
    try:
        check_url(url)
        check_target(url, production=production, resolver=resolver)
    except TargetError as error:
        return Outcome(error=f"refused: {error}")
    return None


def _finish(
    session: Session, delivery: WebhookDelivery, status: str, at: datetime, *, error: str
) -> None:
    delivery.status = status
    delivery.next_attempt_at = None
    delivery.last_error = error
    record(
        session,
        actor=ACTOR,
        action=f"webhook_delivery.{status}",
        entity_type="webhook_delivery",
        entity_id=delivery.public_id,
        now=at,
        after={"attempts": delivery.attempts, "error": error},
    )


def record_outcome(
    session: Session, attempt: Attempt, outcome: Outcome, at: datetime
) -> WebhookDelivery | None:
    """What the attempt did: succeeded; or retried after a backoff; or, 3 days after its first
    attempt, failed. An endpoint with no success for 3 days is disabled (and an event recorded so
    that its customer hears of it)."""
    delivery = session.get(WebhookDelivery, attempt.delivery_id, with_for_update=True)
    if delivery is None or delivery.status != PENDING:
        return None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id, with_for_update=True)
    if endpoint is None:  # pragma: no cover - deleting the endpoint deletes its deliveries
        return None
    delivery.last_response_code = outcome.status
    delivery.last_response_body = outcome.body
    delivery.last_error = outcome.error
    if outcome.ok:
        delivery.status = SUCCEEDED
        delivery.delivered_at = at
        delivery.next_attempt_at = None
        endpoint.first_failure_at = None
        session.flush()
        return delivery
    if outcome.error is None:
        delivery.last_error = f"answered {outcome.status}"
    endpoint.first_failure_at = endpoint.first_failure_at or attempt.at
    first = delivery.first_attempt_at or attempt.at
    if at - first >= RETRY_FOR:
        _finish(session, delivery, FAILED, at, error=delivery.last_error or "failed")
    else:
        # The last attempt is 3 days after the first, whatever the backoff had reached.
        delivery.next_attempt_at = min(at + retry_delay(delivery.attempts), first + RETRY_FOR)
    if endpoint.status == ENABLED and at - endpoint.first_failure_at >= DISABLE_AFTER:
        disable_endpoint(session, endpoint, at)
    session.flush()
    return delivery


def disable_endpoint(session: Session, endpoint: WebhookEndpoint, at: datetime) -> None:
    """Off after 3 days without a successful delivery: its pending deliveries fail, and an event
    tells the customer (by email, where a sender is registered for it)."""
    assert endpoint.first_failure_at is not None  # noqa: S101 - only after failures
    before = state_of(endpoint)
    endpoint.status = DISABLED
    endpoint.disabled_reason = (
        f"No successful delivery since {endpoint.first_failure_at:%Y-%m-%d %H:%M} UTC "
        f"(3 days of failures); disabled {at:%Y-%m-%d %H:%M} UTC."
    )
    pending = session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == PENDING
        )
    )
    for delivery in pending:
        _finish(session, delivery, FAILED, at, error="the endpoint was disabled")
    record(
        session,
        actor=ACTOR,
        action="webhook_endpoint.disable",
        entity_type="webhook_endpoint",
        entity_id=endpoint.public_id,
        now=at,
        before=before,
        after=state_of(endpoint),
    )
    record_event(
        session,
        DISABLED_EVENT,
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        customer_id=endpoint.customer_id,
        now=at,
        key=f"{DISABLED_EVENT}:{endpoint.id}:{at.isoformat()}",
    )
