"""What happened, for the readers outside (SPEC 13): the outbox of domain events.

A business package that makes something a customer (or the other party) should hear of records
an event in the same unit of work: an invoice whose PDF is stored, a payment that pays it, a
service that goes live. The event commits with the change or not at all. The jobs layer
(billing/jobs/events.py) sees that a unit of work recorded events, defers their dispatch in the
same transaction, and hands each event to the senders registered for its type (email, webhooks).
Business packages never know who listens.

Each event is recorded once per `key` (by default its type and subject): recording it again
changes nothing, so the paths that reach the same fact twice (a rerun, a retried job) send once.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from billing.db import Base, UTCDateTime

# Session.info flag: this unit of work recorded events (billing/jobs/events.py dispatches them).
RECORDED = "billing.events_recorded"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_undispatched", "dispatched_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What customers see (`evt_…`): ids of ours never leave the platform.
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    # Once per key: the same fact recorded twice is one event.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The subject as the API showed it when the event was dispatched (a webhook's `data`), frozen
    # so that a replay sends the same body.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def new_public_id() -> str:
    return "evt_" + secrets.token_hex(12)


def record_event(
    session: Session,
    type: str,
    *,
    subject_type: str,
    subject_id: object,
    customer_id: int | None,
    now: datetime,
    party_id: int | None = None,
    key: str | None = None,
) -> Event | None:
    """Record that `type` happened to the subject, in the session's unit of work; answers the
    event, or None if one with the same key is recorded already (nothing changes)."""
    event = Event(
        public_id=new_public_id(),
        type=type,
        subject_type=subject_type,
        subject_id=str(subject_id),
        customer_id=customer_id,
        party_id=party_id,
        key=key or f"{type}:{subject_type}:{subject_id}",
        created_at=now,
    )
    try:
        # A savepoint: the key recorded already (earlier, or by a concurrent unit of work) leaves
        # this one usable; the second recording is a no-op, not an error.
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        return None
    session.info[RECORDED] = True
    return event
