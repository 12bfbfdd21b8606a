"""Scheduled work as jobs (SPEC 12): a dispatcher every minute, month-end, the FX import by URL,
the payment reminders.

Every minute the `dispatch_schedules` periodic job claims the schedules whose slot has come
(billing/scheduling: the slot is recorded on the row under a row lock, so two workers or a
retried dispatch never run one slot twice) and, in the same transaction, queues their work:
- month-end: `request_run` of the month that has just closed in the issuer's calendar (a month
  already queued or running is "already", not an error);
- FX import: a job that fetches the file and stores its rates (a fetch or parse failure fails
  the job with a one-line reason, retried by Procrastinate, and stores nothing).

On SQLite there is no worker: `flask schedule run-due` runs what is due now, in-process (cron it
every minute on a single machine). A failed job's reason is kept (JobFailure) for the Jobs page.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from flask import current_app, has_app_context
from procrastinate import JobContext, RetryStrategy

from billing.calendar import billing_period
from billing.errors import DomainError
from billing.extensions import database, now
from billing.invoicing.fx import FxFileError
from billing.invoicing.services import import_fx_file
from billing.jobs import queue as job_queue
from billing.jobs.month_end import request_run
from billing.jobs.queue import SCHEDULE, defer, queue, task
from billing.jobs.reminders import send_reminders_of
from billing.parties.customers import Seller
from billing.scheduling.models import FX_IMPORT, MONTH_END, REMINDERS, Schedule
from billing.scheduling.services import (
    DueRun,
    claim_due,
    record_job_failure,
    record_result,
    url_problem,
)

log = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 30
FETCH_LIMIT_BYTES = 2 * 1024 * 1024
FX_ACTOR = "schedule: fx import"
# A central bank's site that is down is often back within the hour: 4 tries, 1, 2, 4 min apart.
FX_RETRY = RetryStrategy(max_attempts=4, exponential_wait=60)


class FetchError(Exception):
    """The file could not be fetched; the message is one line for people."""


def _loopback_http_allowed() -> bool:
    return bool(current_app.config.get("BILLING_ENV") != "production")


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to https (or to this machine outside production)."""

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        problem = url_problem(newurl, allow_loopback_http=_loopback_http_allowed())
        if problem:
            raise FetchError(f"redirected to {newurl}: {problem.lower()}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str) -> bytes:
    """The body at `url`: at most 2 MB, 30 s; FetchError (one line) for anything else."""
    problem = url_problem(url, allow_loopback_http=_loopback_http_allowed())
    if problem:
        raise FetchError(f"{url}: {problem.lower()}")
    opener = urllib.request.build_opener(_SafeRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": "tcf-billing fx import"})  # noqa: S310 - scheme checked above
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            body: bytes = response.read(FETCH_LIMIT_BYTES + 1)
    except urllib.error.HTTPError as error:
        error.close()  # it holds the connection's socket
        raise FetchError(f"{url} answered {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise FetchError(f"{url} could not be reached: {error.reason}") from None
    except (TimeoutError, OSError) as error:
        raise FetchError(f"{url} could not be read: {error}") from None
    if len(body) > FETCH_LIMIT_BYTES:
        raise FetchError(f"{url} sent more than 2 MB: not a daily rates file")
    return body


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


@task(queue_name=SCHEDULE, retry=FX_RETRY)
def import_fx_from_url(schedule_id: int, slot: str) -> str:
    """Fetch the schedule's rates file and store its rates; a failure stores nothing, is
    recorded on the schedule and fails the job (tried again later)."""
    db = database()
    with db.transaction() as session:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None or schedule.kind != FX_IMPORT:
            return "no such schedule"
        source, url = schedule.source or "", schedule.url
    try:
        content = fetch(url)  # no transaction is open while the bank's site answers
        with db.transaction() as session:
            result = import_fx_file(session, source, content, actor=FX_ACTOR, now=now())
            summary = (
                f"{source.upper()} rates of {result.on.isoformat()}: {result.added} added, "
                f"{result.changed} changed, {result.unchanged} unchanged"
            )
            record_result(session, schedule_id, ok=True, result=summary, now=now())
    except (FetchError, FxFileError, DomainError) as error:
        reason = _one_line(error)
        with db.transaction() as session:
            record_result(session, schedule_id, ok=False, result=reason, now=now())
        raise FetchError(reason) from None
    return summary


def _month_end(session: Any, due: DueRun, at: datetime) -> str:
    """Queue the month-end run of `due` in the dispatcher's transaction (a savepoint: a month
    refused stores nothing of its own and the other schedules still run)."""
    period = billing_period(datetime.fromisoformat(due.period_start).date())
    try:
        with session.begin_nested():
            answers = request_run(
                session,
                period=period,
                issuer_code=due.issuer_code,
                issue=due.issue,
                actor=Seller("schedule: month-end", due.party_id),
                now=at,
            )
    except DomainError as error:
        record_result(session, due.schedule_id, ok=False, result=_one_line(error), now=at)
        return f"month-end {due.issuer_code}: {_one_line(error)}"
    words = []
    for answer in answers:
        state = f"already {answer.state}" if answer.already else "queued"
        words.append(f"{period.start:%Y-%m} of {answer.issuer}: run {answer.run_id} {state}")
    result = "; ".join(words) + (" (with issue)" if due.issue else " (drafts only)")
    record_result(session, due.schedule_id, ok=True, result=result, now=at)
    return f"month-end {result}"


def dispatch(at: datetime) -> list[str]:
    """Claim the slots due at `at` and queue their work, in one transaction; answers what was
    queued, in words (on SQLite the work runs in this process once it commits)."""
    said: list[str] = []
    with database().transaction() as session:
        for due in claim_due(session, at):
            if due.kind == MONTH_END:
                said.append(_month_end(session, due, at))
            elif due.kind == REMINDERS:
                slot = due.slot.isoformat()
                defer(
                    session,
                    send_reminders_of,
                    queueing_lock=f"schedule:{due.schedule_id}:{slot}",
                    schedule_id=due.schedule_id,
                    party_id=due.party_id,
                    slot=slot,
                )
                said.append(f"reminders of {due.issuer_code} for slot {slot}: queued")
            else:
                slot = due.slot.isoformat()
                defer(
                    session,
                    import_fx_from_url,
                    queueing_lock=f"schedule:{due.schedule_id}:{slot}",
                    schedule_id=due.schedule_id,
                    slot=slot,
                )
                said.append(f"fx import {due.source} of slot {slot}: queued")
    return said


@queue.periodic(cron="* * * * *", periodic_id="dispatch-schedules")
@task(queue_name=SCHEDULE)
def dispatch_schedules(timestamp: int) -> list[str]:
    """Every minute: queue the work of the schedules that are due."""
    return dispatch(now())


async def record_failures(
    call_next: Callable[[], Awaitable[Any]], context: JobContext, worker: Any
) -> Any:
    """A worker middleware: keep the one-line reason of a job that raised, for the Jobs page."""
    try:
        return await call_next()
    except Exception as error:
        job_id, task_name = context.job.id, context.job.task_name
        if job_id is not None:
            await asyncio.to_thread(_store_failure, job_id, task_name, _one_line(error))
        raise


def _store_failure(job_id: int, task_name: str, error: str) -> None:
    app = job_queue._worker_app
    if app is None and not has_app_context():  # pragma: no cover - a worker sets its app
        return
    try:
        if has_app_context():
            _write_failure(job_id, task_name, error)
        else:
            assert app is not None  # noqa: S101 - checked above
            with app.app_context():
                _write_failure(job_id, task_name, error)
    except Exception:  # the job's own failure matters more than its note
        log.exception("could not record the failure of job %s", job_id)


def _write_failure(job_id: int, task_name: str, error: str) -> None:
    with database().transaction() as session:
        record_job_failure(session, job_id, task_name, error, now=now())


queue.worker_defaults.setdefault("worker_middleware", []).append(record_failures)
