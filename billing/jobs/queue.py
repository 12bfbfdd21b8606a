"""The job queue (SPEC 12): Procrastinate on PostgreSQL, in-process on SQLite.

Jobs are an edge, like a view or a CLI command: a task opens its own unit of work, calls services
and commits, and running it twice changes nothing the second time. Business packages never import
this module.

- `defer(session, task, ...)` puts a job in the same transaction as the record that asks for it:
  on PostgreSQL the job row is inserted through the session's own connection, so a rolled-back
  request leaves no job, and a committed one always has its job.
- On SQLite (the embedded default) there is no queue and no worker: the same task function runs
  in this process right after the session commits, in the order the jobs were deferred.
- `flask worker` runs `run_worker`: any number of them, on any number of machines, against the
  one database. A worker that dies (SIGKILL, a lost machine) stops sending heartbeats; its jobs
  are put back in the queue by the next worker that starts and by a sweep every minute.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import procrastinate
from flask import Flask, current_app, has_app_context
from procrastinate import JobContext, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.manager import JobManager
from sqlalchemy.orm import Session

from billing.db import after_commit

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Queues, so that operators can give month-end its own workers (`flask worker --queues`).
MONTH_END = "month_end"
DOCUMENTS = "documents"
SCHEDULE = "schedule"
# Emails and webhooks (SPEC 13): many small sends, each retried on its own.
DELIVERY = "delivery"
QUEUES = (MONTH_END, DOCUMENTS, SCHEDULE, DELIVERY)

# A task that fails for a passing reason (a deadlock victim, a lost connection) is tried again:
# 5 attempts, waiting 2, 4, 8, 16 s.
RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)

# Seconds between a worker's heartbeats, and without one before its jobs count as abandoned.
HEARTBEAT_SECONDS = 10.0
STALLED_AFTER_SECONDS = 60.0

queue = procrastinate.App(connector=procrastinate.PsycopgConnector())

# Defers through the session's own connection (never a pool of its own), synchronously, in
# a view, a command or a task alike.
_DEFERRER = JobManager(connector=procrastinate.SyncPsycopgConnector())

# The Flask app a `flask worker` process serves (tasks run in its app context).
_worker_app: Flask | None = None


class AlreadyQueuedError(Exception):
    """A job with the same queueing lock is waiting already (Procrastinate's queueing lock)."""

    def __init__(self, lock: str) -> None:
        super().__init__(f"a job is already queued under {lock!r}")
        self.lock = lock


def conninfo(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL (postgresql+psycopg://...)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql://" + database_url[len(prefix) :]
    return database_url


def task(
    *,
    queue_name: str,
    retry: RetryStrategy | bool = RETRY,
    lock: str | None = None,
) -> Callable[[Callable[P, R]], procrastinate.tasks.Task[P, R, P]]:
    """Declare a task: a plain function of JSON arguments, run in the app context (the worker's
    app, or the app that deferred it when it runs in-process)."""

    def register(func: Callable[P, R]) -> procrastinate.tasks.Task[P, R, P]:
        @functools.wraps(func)
        def in_app(*args: P.args, **kwargs: P.kwargs) -> R:
            if has_app_context():
                return func(*args, **kwargs)
            if _worker_app is None:  # pragma: no cover - a worker sets it before it starts
                raise RuntimeError("a task ran outside the app: start it with `flask worker`")
            with _worker_app.app_context():
                return func(*args, **kwargs)

        return queue.task(name=func.__name__, queue=queue_name, retry=retry, lock=lock)(in_app)

    return register


def is_queued(session: Session) -> bool:
    """Whether jobs go to a queue (PostgreSQL) or run in-process (SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def defer(
    session: Session,
    job: procrastinate.tasks.Task[Any, Any, Any],
    *,
    queueing_lock: str | None = None,
    lock: str | None = None,
    schedule_at: datetime | None = None,
    **arguments: Any,
) -> int | None:
    """Defer `job(**arguments)` in the session's transaction: queued when it commits (its id is
    answered), never if it rolls back. `queueing_lock` allows one waiting job per key
    (AlreadyQueuedError for a second); `lock` lets one job per key run at a time; `schedule_at`
    holds the job back until then (by the database's clock).

    On SQLite the task runs in this process once the session commits (None is answered); a job
    scheduled for later is not run at all there (nothing waits in-process): the caller runs
    what is due from a command (e.g. `flask webhooks retry`)."""
    if not is_queued(session):
        if schedule_at is None:
            # In the app that deferred it (its database), never in another one's.
            app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
            after_commit(session, functools.partial(_run_inline, app, job, arguments))
        return None
    new_job = job.configure(
        queueing_lock=queueing_lock, lock=lock, schedule_at=schedule_at
    ).make_new_job(**arguments)
    try:
        # A savepoint: a refused job (its queueing lock taken) leaves the transaction usable.
        # (It is emitted when the session's connection is asked for inside the block.)
        with session.begin_nested():
            connection = session.connection().connection.dbapi_connection
            deferred = _DEFERRER.defer_job(job=new_job, connection=connection)
    except AlreadyEnqueued:
        raise AlreadyQueuedError(queueing_lock or "") from None
    return deferred.id


_inline = threading.local()


def _run_inline(
    app: Flask | None, job: procrastinate.tasks.Task[Any, Any, Any], arguments: dict[str, Any]
) -> None:
    """Run a deferred task in this process, in the app that deferred it. A task deferred by a
    task runs after it, not inside it: one after the other, in the order deferred, as a single
    worker would. (A unit of work outside any app, which only a test script commits, has no
    app to run its jobs in: they are logged and dropped, never run against another app.)"""
    if app is None:
        log.warning("job %s deferred outside an app: not run", job.name)
        return
    pending: deque[tuple[Flask, Any, dict[str, Any]]] | None = getattr(_inline, "pending", None)
    if pending is not None:
        pending.append((app, job, arguments))
        return
    _inline.pending = pending = deque([(app, job, arguments)])
    try:
        while pending:
            next_app, next_job, next_arguments = pending.popleft()
            try:
                with next_app.app_context():
                    next_job(**next_arguments)
            except Exception:
                # No retry in-process: the task records its own failure where a person sees it
                # (the run's page); the log has the traceback. The request that deferred it has
                # committed and answers as it would with a queue.
                log.exception("job %s failed in-process", next_job.name)
    finally:
        _inline.pending = None


def run_worker(
    app: Flask,
    *,
    queues: Iterable[str] | None = None,
    concurrency: int = 1,
    wait: bool = True,
    name: str | None = None,
) -> None:
    """Run a worker until it is stopped (SIGINT or SIGTERM: it finishes its jobs first), or,
    with `wait=False`, until the queues are empty."""
    global _worker_app
    previous, _worker_app = _worker_app, app
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(app.config["DATABASE_URL"]),
        min_size=1,
        max_size=max(2, concurrency + 1),
    )
    stalled_after = float(app.config.get("JOB_STALLED_SECONDS", STALLED_AFTER_SECONDS))

    async def work(signals: bool = True) -> None:
        async with queue.open_async():
            # A worker that starts picks up what a dead one left (it need not wait for the sweep).
            await _retry_stalled(queue, stalled_after)
            options: dict[str, Any] = {"queues": list(queues)} if queues else {}
            if name:
                options["name"] = name
            await queue.run_worker_async(
                **options,
                concurrency=concurrency,
                wait=wait,
                update_heartbeat_interval=float(
                    app.config.get("JOB_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)
                ),
                stalled_worker_timeout=stalled_after,
                listen_notify=wait,
                install_signal_handlers=signals,
            )

    try:
        with queue.replace_connector(connector):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                asyncio.run(work())
                return
            # Called where an event loop already runs (a test driving a browser): a thread of its
            # own, with no signal handlers (only the main thread may install them).
            error: list[BaseException] = []

            def in_thread() -> None:
                try:
                    asyncio.run(work(signals=False))
                except BaseException as exc:  # handed to the caller below
                    error.append(exc)

            runner = threading.Thread(target=in_thread, name="worker")
            runner.start()
            runner.join()
            if error:
                raise error[0]
    finally:
        # A worker that ended leaves no app behind for a later task to run in by mistake.
        _worker_app = previous


async def _retry_stalled(app: procrastinate.App, seconds: float) -> int:
    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds))
    for job in stalled:
        log.warning("job %s (%s) was abandoned by its worker: queued again", job.id, job.task_name)
        await app.job_manager.retry_job(job)
    return len(stalled)


def _stalled_after() -> float:
    config = _worker_app.config if _worker_app is not None else current_app.config
    return float(config.get("JOB_STALLED_SECONDS", STALLED_AFTER_SECONDS))


@queue.periodic(cron="* * * * *", periodic_id="retry-stalled")
@queue.task(
    name="retry_stalled_jobs", queue=SCHEDULE, queueing_lock="retry_stalled_jobs", pass_context=True
)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
    """Every minute: the jobs of a worker that stopped sending heartbeats go back to the queue."""
    return await _retry_stalled(context.app, _stalled_after())


@queue.periodic(cron="17 3 * * *", periodic_id="prune-jobs")
@queue.task(
    name="prune_finished_jobs",
    queue=SCHEDULE,
    queueing_lock="prune_finished_jobs",
    pass_context=True,
)
async def prune_finished_jobs(context: JobContext, timestamp: int) -> None:
    """Daily: forget succeeded and cancelled jobs after 30 days (failed ones stay for review);
    millions of old rows slow every worker's start."""
    await context.app.job_manager.delete_old_jobs(nb_hours=24 * 30, include_failed=False)
