"""What the schedule pages read (SPEC 12)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, joinedload

from billing.db import Page
from billing.scheduling.due import Timing, due_slot, month_closed_by, next_slot
from billing.scheduling.models import MONTH_END, JobFailure, Schedule
from billing.scheduling.services import timing


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    schedule: Schedule
    timing: Timing
    next_due: datetime | None
    # Month-end: the month the next run bills ("2026-11").
    next_period: str


def schedules(session: Session, now: datetime) -> list[ScheduleRow]:
    """Every schedule, month-end first, with when it is next due (if switched on)."""
    rows = []
    for schedule in session.scalars(
        select(Schedule)
        .options(joinedload(Schedule.party))
        .order_by(Schedule.kind.desc(), Schedule.id)
    ):
        when = timing(schedule)
        # A slot that has passed and not run yet (no dispatcher since) is the next one to run.
        upcoming = due_slot(now, when, schedule.last_slot) or next_slot(now, when)
        period = ""
        if schedule.kind == MONTH_END:
            period = month_closed_by(upcoming, when.time_zone).start.strftime("%Y-%m")
        rows.append(ScheduleRow(schedule, when, upcoming if schedule.enabled else None, period))
    return rows


def job_failures(session: Session, job_ids: Iterable[int]) -> dict[int, JobFailure]:
    ids = list(job_ids)
    if not ids:
        return {}
    return {
        f.job_id: f for f in session.scalars(select(JobFailure).where(JobFailure.job_id.in_(ids)))
    }


# The job queue's own tables (Procrastinate, PostgreSQL only) read as they are: a job and when
# it was deferred, started and finished (its events), failures first, then newest first.
JOB_STATUSES = ("todo", "doing", "failed", "succeeded", "cancelled", "aborted")
_JOBS = """
FROM procrastinate_jobs j
WHERE (:status = '' OR j.status::text = :status)
  AND (:task = '' OR j.task_name = :task)
  AND (:q = '' OR j.task_name ILIKE :like OR j.args::text ILIKE :like OR j.id::text = :q
       OR j.queue_name ILIKE :like)
"""
_EVENT = "(SELECT {agg}(e.at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type {cond})"


@dataclass(frozen=True, slots=True)
class JobRun:
    id: int
    task_name: str
    queue: str
    status: str
    attempts: int
    args: dict[str, Any]
    deferred_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str


def job_runs(
    session: Session, *, status: str, task: str, q: str, number: int, per_page: int
) -> Page[JobRun]:
    """Page `number` of the queue's jobs, failed ones first, then newest first."""
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    params = {"status": status, "task": task, "q": q, "like": like}
    total = int(session.execute(text("SELECT count(*) " + _JOBS), params).scalar_one())
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    rows = session.execute(
        text(
            "SELECT j.id, j.task_name, j.queue_name, j.status::text, j.attempts, j.args, "
            + _EVENT.format(agg="min", cond="= 'deferred'")
            + " AS deferred_at, "
            + _EVENT.format(agg="max", cond="= 'started'")
            + " AS started_at, "
            + _EVENT.format(agg="max", cond="IN ('succeeded', 'failed', 'cancelled', 'aborted')")
            + " AS finished_at "
            + _JOBS
            + " ORDER BY (j.status = 'failed') DESC, j.id DESC LIMIT :limit OFFSET :offset"
        ),
        {**params, "limit": per_page, "offset": (number - 1) * per_page},
    ).all()
    failures = job_failures(session, [row.id for row in rows])
    items = [
        JobRun(
            id=row.id,
            task_name=row.task_name,
            queue=row.queue_name,
            status=row.status,
            attempts=row.attempts,
            args=dict(row.args or {}),
            deferred_at=row.deferred_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            error=failures[row.id].error if row.id in failures else "",
        )
        for row in rows
    ]
    return Page(items, number, per_page, total)


def job_task_names(session: Session) -> list[str]:
    return list(
        session.execute(
            text("SELECT DISTINCT task_name FROM procrastinate_jobs ORDER BY task_name")
        ).scalars()
    )


def job_status(session: Session, job_id: int) -> str | None:
    found = session.execute(
        text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
    ).scalar_one_or_none()
    return None if found is None else str(found)
