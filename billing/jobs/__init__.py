"""Jobs (SPEC 12): the queue and every task, registered when this package is imported."""

from billing.jobs import documents
from billing.jobs.queue import AlreadyQueuedError, defer, queue, run_worker

__all__ = ["AlreadyQueuedError", "defer", "documents", "queue", "run_worker"]
