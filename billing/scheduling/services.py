"""Editing schedules, claiming the slots that are due, recording what a run did (SPEC 12).

Services take a session and never commit: the admin page, `flask schedule run-due` and the
dispatch job commit.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, time
from urllib.parse import urlsplit

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from billing.audit import record
from billing.errors import N_, ConflictError, InvalidRequestError, NotFoundError
from billing.parties.models import Party
from billing.scheduling.due import Timing, due_slot, latest_slot, month_closed_by
from billing.scheduling.models import FX_IMPORT, MONTH_END, REMINDERS, JobFailure, Schedule

# The central banks publish in their own capitals' time.
FX_TIME_ZONES = {"cbar": "Asia/Baku", "nbk": "Asia/Almaty"}
ISSUERS = ("AZT", "KTC")


def issuer(schedule: Schedule) -> Party:
    # The database's CHECK gives every month-end schedule an issuer.
    if schedule.party is None:
        raise ValueError(f"schedule {schedule.id} has no issuer")
    return schedule.party


def timing(schedule: Schedule) -> Timing:
    if schedule.kind == MONTH_END:
        return Timing(issuer(schedule).time_zone, schedule.local_time, schedule.day_of_month)
    if schedule.kind == REMINDERS:
        return Timing(issuer(schedule).time_zone, schedule.local_time)
    return Timing(FX_TIME_ZONES[schedule.source or ""], schedule.local_time)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, *, allow_loopback_http: bool) -> str | None:
    """Why `url` may not be fetched, or None: https only; http to this machine outside
    production (a test's local server)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return N_("Give a full address, https://…")
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and allow_loopback_http and is_loopback(parts.hostname):
        return None
    if allow_loopback_http:
        return N_("Only https:// addresses are fetched (or http:// to this machine)")
    return N_("Only https:// addresses are fetched")


def ensure_schedules(session: Session) -> None:
    """Every issuer's month-end and reminders (09:00 local) and both FX imports exist, switched
    off until an administrator switches them on (the seed calls it)."""
    have = {(s.kind, s.party_id, s.source) for s in session.scalars(select(Schedule))}
    for party in session.scalars(select(Party).where(Party.code.in_(ISSUERS)).order_by(Party.id)):
        if (MONTH_END, party.id, None) not in have:
            session.add(
                Schedule(kind=MONTH_END, party_id=party.id, day_of_month=1, local_time=time(6))
            )
        if (REMINDERS, party.id, None) not in have:
            session.add(Schedule(kind=REMINDERS, party_id=party.id, local_time=time(9)))
    for source in FX_TIME_ZONES:
        if (FX_IMPORT, None, source) not in have:
            session.add(Schedule(kind=FX_IMPORT, source=source, local_time=time(10)))
    session.flush()


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    enabled: bool
    local_time: time
    day_of_month: int | None = None
    issue: bool = False
    url: str = ""


def _state(schedule: Schedule) -> dict[str, object]:
    return {
        "enabled": schedule.enabled,
        "local_time": schedule.local_time.strftime("%H:%M"),
        "day_of_month": schedule.day_of_month,
        "issue": schedule.issue,
        "url": schedule.url,
    }


def update_schedule(
    session: Session,
    schedule_id: int,
    change: ScheduleChange,
    *,
    actor: str,
    now: datetime,
    allow_loopback_http: bool,
) -> Schedule:
    """Change a schedule. Switching it on (or moving its time) never runs a slot that has passed
    already: the first run is the next slot."""
    schedule = session.get(Schedule, schedule_id, with_for_update=True)
    if schedule is None:
        raise NotFoundError(N_("no such schedule"))
    errors: dict[str, list[str]] = {}
    if schedule.kind == MONTH_END:
        if change.day_of_month is None or not 1 <= change.day_of_month <= 28:
            errors["day_of_month"] = [N_("Choose a day from 1 to 28 (every month has it).")]
    elif schedule.kind == REMINDERS:
        pass  # on or off, and when
    else:
        url = change.url.strip()
        problem = url_problem(url, allow_loopback_http=allow_loopback_http) if url else None
        if problem:
            errors["url"] = [problem]
        elif change.enabled and not url:
            errors["url"] = [N_("Give the file's address before switching the import on.")]
    if errors:
        raise InvalidRequestError(N_("The schedule was not changed"), errors)
    before = _state(schedule)
    schedule.enabled = change.enabled
    schedule.local_time = change.local_time.replace(second=0, microsecond=0)
    if schedule.kind == MONTH_END:
        schedule.day_of_month = change.day_of_month
        schedule.issue = change.issue
    elif schedule.kind == FX_IMPORT:
        schedule.url = change.url.strip()
    after = _state(schedule)
    if after == before:
        return schedule
    if schedule.enabled:
        slot = latest_slot(now, timing(schedule))
        schedule.last_slot = max(slot, schedule.last_slot) if schedule.last_slot else slot
    record(
        session,
        actor=actor,
        action="schedule.change",
        entity_type="schedule",
        entity_id=schedule.id,
        now=now,
        before=before,
        after=after,
    )
    session.flush()
    return schedule


@dataclass(frozen=True, slots=True)
class DueRun:
    """A slot claimed for running: what the job needs to know."""

    schedule_id: int
    kind: str
    slot: datetime
    issuer_code: str = ""
    party_id: int | None = None
    period_start: str = ""
    issue: bool = False
    source: str = ""


def claim_due(session: Session, now: datetime) -> list[DueRun]:
    """The due slots of the switched-on schedules, each recorded as run in this transaction.

    The rows are locked (in id order) first: a second dispatcher waits, then sees the slot taken
    and claims nothing, so a slot is handed to the queue once however many dispatchers run."""
    schedules = session.scalars(
        select(Schedule)
        .where(Schedule.enabled.is_(True))
        .order_by(Schedule.id)
        .with_for_update(of=Schedule)
        .execution_options(populate_existing=True)
    ).all()
    claimed = []
    for schedule in schedules:
        when = timing(schedule)
        slot = due_slot(now, when, schedule.last_slot)
        if slot is None:
            continue
        schedule.last_slot = slot
        if schedule.kind == MONTH_END:
            claimed.append(
                DueRun(
                    schedule.id,
                    MONTH_END,
                    slot,
                    issuer_code=issuer(schedule).code,
                    party_id=schedule.party_id,
                    period_start=month_closed_by(slot, when.time_zone).start.isoformat(),
                    issue=schedule.issue,
                )
            )
        elif schedule.kind == REMINDERS:
            claimed.append(
                DueRun(
                    schedule.id,
                    REMINDERS,
                    slot,
                    issuer_code=issuer(schedule).code,
                    party_id=schedule.party_id,
                )
            )
        else:
            claimed.append(DueRun(schedule.id, FX_IMPORT, slot, source=schedule.source or ""))
        record(
            session,
            actor="schedule",
            action="schedule.dispatch",
            entity_type="schedule",
            entity_id=schedule.id,
            now=now,
            after={"slot": slot},
        )
    session.flush()
    return claimed


def record_result(
    session: Session, schedule_id: int, *, ok: bool, result: str, now: datetime
) -> None:
    """What the schedule's last run did, one line, shown on its row."""
    schedule = session.get(Schedule, schedule_id, with_for_update=True)
    if schedule is None:
        return
    before = {"last_ok": schedule.last_ok, "last_result": schedule.last_result}
    schedule.last_run_at = now
    schedule.last_ok = ok
    schedule.last_result = result[:500]
    record(
        session,
        actor="schedule",
        action="schedule.ran" if ok else "schedule.failed",
        entity_type="schedule",
        entity_id=schedule_id,
        now=now,
        before=before,
        after={"last_ok": ok, "last_result": schedule.last_result},
    )
    session.flush()


def record_job_failure(
    session: Session, job_id: int, task_name: str, error: str, *, now: datetime
) -> None:
    """Keep the last error of job `job_id` (one line) for the Jobs page."""
    failure = session.get(JobFailure, job_id)
    if failure is None:
        session.add(JobFailure(job_id=job_id, task_name=task_name, error=error[:1000], at=now))
    else:
        failure.error, failure.at = error[:1000], now
    session.flush()


def retry_failed_job(session: Session, job_id: int, *, actor: str, now: datetime) -> str:
    """Put failed job `job_id` back in its queue to run at once (PostgreSQL's queue only);
    answers its task's name. A job that is not failed (any more) is refused."""
    row = session.execute(
        text(
            "SELECT task_name, status::text AS status FROM procrastinate_jobs WHERE id = :id FOR UPDATE"
        ),
        {"id": job_id},
    ).one_or_none()
    if row is None:
        raise NotFoundError(N_("there is no job %(id)s"), id=job_id)
    if row.status != "failed":
        raise ConflictError(
            N_("job %(id)s is %(status)s, not failed: there is nothing to retry"),
            id=job_id,
            status=row.status,
        )
    session.execute(
        text("SELECT procrastinate_retry_job_v2(:id, :at, NULL, NULL, NULL)"),
        {"id": job_id, "at": now},
    )
    record(
        session,
        actor=actor,
        action="job.retry",
        entity_type="job",
        entity_id=job_id,
        now=now,
        before={"status": "failed"},
        after={"status": "todo", "task": row.task_name},
    )
    return str(row.task_name)
