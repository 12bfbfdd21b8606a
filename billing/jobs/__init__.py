"""Jobs (SPEC 12): the queue and every task, registered when this package is imported."""

from billing.jobs import (
    documents,
    events,
    issuing,
    mail,
    month_end,
    outbound,
    reminders,
    schedule,
)
from billing.jobs.queue import AlreadyQueuedError, defer, queue, run_worker

__all__ = [
    "AlreadyQueuedError",
    "defer",
    "documents",
    "events",
    "issuing",
    "mail",
    "month_end",
    "outbound",
    "queue",
    "reminders",
    "run_worker",
    "schedule",
]
