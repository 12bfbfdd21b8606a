"""Jobs (SPEC 12): the queue and every task, registered when this package is imported."""

from billing.jobs import documents, events, month_end, schedule
from billing.jobs.queue import AlreadyQueuedError, defer, queue, run_worker

__all__ = [
    "AlreadyQueuedError",
    "defer",
    "documents",
    "events",
    "month_end",
    "queue",
    "run_worker",
    "schedule",
]
