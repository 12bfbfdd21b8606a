"""Dispatching recorded events (billing/events.py) to their senders, as jobs (SPEC 13).

A unit of work that records an event gets a `dispatch_events` job in the same transaction (a
`before_commit` hook on every unit of work): no event is committed without the job that sends it,
and a rolled-back unit of work leaves neither. The job takes the events not yet dispatched (rows
locked, others' skipped, so two workers never hand the same event out twice), calls every sender
registered for the event's type (`on(...)`: the email and webhook modules), and marks it
dispatched, all in one unit of work. Senders only write rows and defer their own jobs (one send,
one job, retried on its own), so dispatching is quick and safe to run twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.db import before_commit
from billing.events import RECORDED, Event
from billing.extensions import database, now
from billing.jobs.queue import DELIVERY, defer, queue, task

Sender = Callable[[Session, Event, datetime], None]

# Event type -> the senders that act on it, registered at import by the sending modules.
_SENDERS: defaultdict[str, list[Sender]] = defaultdict(list)

# Events per dispatching unit of work.
BATCH = 100


def on(*types: str) -> Callable[[Sender], Sender]:
    """Register a sender for events of `types`: `sender(session, event, now)` runs inside the
    dispatching unit of work, once per event."""

    def register(sender: Sender) -> Sender:
        for type_ in types:
            if sender not in _SENDERS[type_]:
                _SENDERS[type_].append(sender)
        return sender

    return register


def _defer_dispatch(session: Session) -> None:
    if session.info.pop(RECORDED, False):
        defer(session, dispatch_events)


# Every unit of work that recorded events defers their dispatch before it commits.
before_commit(_defer_dispatch)
# (No after_rollback hook: a savepoint's rollback fires it too. A flag left by a rolled-back unit
# of work costs at most one dispatch job that finds nothing.)


def dispatch(session: Session, at: datetime, limit: int = BATCH) -> int:
    """Hand up to `limit` undispatched events to their senders; answers how many."""
    events = (
        session.execute(
            select(Event)
            .where(Event.dispatched_at.is_(None))
            .order_by(Event.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    for event in events:
        for sender in _SENDERS.get(event.type, []):
            sender(session, event, at)
        event.dispatched_at = at
    # An event a sender recorded (RECORDED set again) gets a dispatch job of its own as this
    # unit of work commits.
    return len(events)


@task(queue_name=DELIVERY)
def dispatch_events() -> int:
    """Dispatch the events waiting; answers how many. Run twice, the second finds none."""
    total = 0
    while True:
        with database().transaction() as session:
            count = dispatch(session, now())
        total += count
        if count < BATCH:
            return total


@queue.periodic(cron="* * * * *", periodic_id="sweep-events")
@task(queue_name=DELIVERY)
def sweep_events(timestamp: int) -> int:
    """Every minute: the events a dispatch job left (it failed all its attempts, or its worker
    died) are dispatched; usually there are none."""
    return dispatch_events()
