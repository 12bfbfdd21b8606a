"""Month-end as jobs (SPEC 12): a billing run is one issuer's month, carried by jobs.

`request_run` records a run per issuer and defers its first job in the same transaction. Each job
(`month_end_step`) does one chunk in one short unit of work and defers the next: bill the next
customers (LOCK_ORDER: customers in id order, then their drafts), or, once every customer is
billed and the run issues, issue the next drafts of the month (customers, then the drafts, then
the number series, held only for the chunk) with their PDFs left to render jobs
(billing/jobs/documents.py). The run row says where the run stands, so a job run twice, killed
half-way or resumed does only what is left.

Two runs of one issuer's month never execute at once: at most one is queued or running (a
partial UNIQUE index), its jobs share a queueing lock (one waits at a time) and a lock (one runs
at a time), keyed by issuer and month. A second request answers the run already there.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from billing.audit import record
from billing.calendar import Period, local_date
from billing.db import lock_customer_then_documents
from billing.errors import N_, DomainError, PermissionDeniedError
from billing.extensions import database, now
from billing.invoicing.models import BillingRun, Invoice
from billing.invoicing.queries import get_billing_run
from billing.invoicing.runs import (
    ACTIVE_STATES,
    RUN_LEASE_SECONDS,
    BillingRunError,
    active_run,
    add_skipped,
    bill_chunk,
    check_period,
    is_abandoned,
    month_drafts,
    month_runs,
    run_lock_key,
)
from billing.jobs.documents import defer_rendering
from billing.jobs.queue import MONTH_END, AlreadyQueuedError, defer, task
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.payments.issuing import issue_drafts_of_run

log = logging.getLogger(__name__)

# Customers billed per job, and drafts issued per job (the number series is held for one).
BILL_CHUNK = 50
ISSUE_CHUNK = 25


@dataclass(frozen=True, slots=True)
class RunRequest:
    run_id: int
    issuer: str
    # True when that issuer's month was already queued or running: this is that run.
    already: bool
    state: str


def _chunk(name: str, default: int) -> int:
    return max(1, int(current_app.config.get(name, default)))


def lease_seconds() -> int:
    return int(current_app.config.get("RUN_LEASE_SECONDS", RUN_LEASE_SECONDS))


def parties_to_bill(session: Session, issuer_code: str | None, actor: Seller) -> list[Party]:
    """The issuers a run of `issuer_code` bills (None: every party, for an administrator)."""
    if issuer_code is None:
        if not actor.is_admin:
            raise PermissionDeniedError(
                N_("a party's finance staff run billing for their own party")
            )
        return list(session.execute(select(Party).order_by(Party.id)).scalars())
    party = session.execute(
        select(Party).where(Party.code == issuer_code.strip().upper())
    ).scalar_one_or_none()
    if party is None:
        raise BillingRunError(
            N_("%(issuer)s is not an issuer"),
            {"issuer": [N_("Choose AZT or KTC.")]},
            issuer=repr(issuer_code[:20]),
        )
    if not actor.may_sell_for(party.id):
        raise PermissionDeniedError(N_("you may not run billing for %(party)s"), party=party.code)
    return [party]


def _defer_step(session: Session, run: BillingRun, party_code: str) -> None:
    key = run_lock_key(party_code, run.period_start)
    try:
        defer(session, month_end_step, queueing_lock=key, lock=key, run_id=run.id)
    except AlreadyQueuedError:
        pass  # the run's next job waits already: it does what this one would


def request_run(
    session: Session,
    *,
    period: Period,
    issuer_code: str | None,
    issue: bool,
    actor: Seller,
    now: datetime,
) -> list[RunRequest]:
    """Queue the month of `issuer_code` (None: every issuer the actor may bill for, one run
    each). An issuer's month already queued or running is answered as it is (`already`); one
    abandoned by its jobs is resumed. The caller commits: the runs and their first jobs are
    queued together."""
    parties = parties_to_bill(session, issuer_code, actor)
    for party in parties:
        check_period(period, local_date(now, party.time_zone))
    answers = []
    for party in parties:
        existing = active_run(session, party.id, period.start)
        if existing is None:
            run = BillingRun(
                period_start=period.start,
                issuer_party_id=party.id,
                state="queued",
                phase="billing",
                issue=issue,
                started_at=now,
                started_by=actor.label,
            )
            try:
                with session.begin_nested():
                    session.add(run)
                    session.flush()
            except IntegrityError:
                # Another request queued this month between our read and our insert.
                existing = active_run(session, party.id, period.start)
                if existing is None:  # pragma: no cover - it finished in between
                    raise
            else:
                record(
                    session,
                    actor=actor.label,
                    action="billing_run.start",
                    entity_type="billing_run",
                    entity_id=run.id,
                    now=now,
                    after={"period": f"{period.start:%Y-%m}", "issuer": party.code, "issue": issue},
                )
                _defer_step(session, run, party.code)
                answers.append(RunRequest(run.id, party.code, False, run.state))
                continue
        if is_abandoned(session, existing, now, lease_seconds()):
            resume_run(session, existing.id, actor=actor, now=now)
        if issue and not existing.issue:
            # Asked to issue a month still being billed: the run goes on to issue.
            locked = session.get(
                BillingRun, existing.id, with_for_update=True, populate_existing=True
            )
            if locked is not None and locked.state in ACTIVE_STATES and locked.phase == "billing":
                locked.issue = True
                record(
                    session,
                    actor=actor.label,
                    action="billing_run.issue_requested",
                    entity_type="billing_run",
                    entity_id=locked.id,
                    now=now,
                    after={"issue": True},
                )
        answers.append(RunRequest(existing.id, party.code, True, existing.state))
    return answers


def resume_month(
    session: Session,
    *,
    period: Period,
    issuer_code: str | None,
    actor: Seller,
    now: datetime,
) -> list[RunRequest]:
    """Resume each issuer's latest run of the month if it was abandoned, failed or cancelled
    (`flask billing run --resume`); a month with no such run is run afresh, without issuing
    unless its latest run issued."""
    answers = []
    for party in parties_to_bill(session, issuer_code, actor):
        runs = month_runs(session, party.id, period.start)
        latest = runs[0] if runs else None
        if latest is None or latest.state == "finished":
            answers.extend(
                request_run(
                    session,
                    period=period,
                    issuer_code=party.code,
                    issue=bool(latest and latest.issue),
                    actor=actor,
                    now=now,
                )
            )
            continue
        resume_run(session, latest.id, actor=actor, now=now)
        answers.append(RunRequest(latest.id, party.code, False, latest.state))
    return answers


def _run_for(session: Session, run_id: int, actor: Seller) -> BillingRun:
    run = get_billing_run(session, run_id)
    if run.issuer_party_id is None:
        raise BillingRunError(
            N_("billing run %(id)s ran for every issuer: run the month again"), id=run_id
        )
    if not actor.may_sell_for(run.issuer_party_id):
        raise PermissionDeniedError(N_("you may not manage this billing run"))
    return run


def resume_run(session: Session, run_id: int, *, actor: Seller, now: datetime) -> None:
    """Carry an abandoned, failed or cancelled run on from where it stopped (its next job is
    deferred again). A run that is going on is left alone; a finished one has nothing left."""
    run = _run_for(session, run_id, actor)
    if run.state == "finished":
        return
    if run.state in ACTIVE_STATES and not is_abandoned(session, run, now, lease_seconds()):
        return
    if run.state not in ACTIVE_STATES:
        other = active_run(session, run.issuer_party_id or 0, run.period_start)
        if other is not None:
            raise BillingRunError(
                N_("billing run %(id)s of this month is %(state)s: wait for it to end"),
                id=other.id,
                state=other.state,
            )
    before = run.state
    run.state = "queued" if run.state != "running" else "running"
    run.cancel_requested_at = None
    run.cancel_requested_by = ""
    run.finished_at = None
    run.heartbeat_at = now
    session.flush()
    record(
        session,
        actor=actor.label,
        action="billing_run.resume",
        entity_type="billing_run",
        entity_id=run.id,
        now=now,
        before={"state": before},
        after={"state": run.state, "phase": run.phase},
    )
    issuer = session.get(Party, run.issuer_party_id)
    if issuer is not None:
        _defer_step(session, run, issuer.code)


def cancel_run(session: Session, run_id: int, *, actor: Seller, now: datetime) -> None:
    """Ask a queued or running run to stop: it ends `cancelled` before its next chunk (what it
    billed stays billed; running the month again finishes it). An abandoned run ends at once."""
    run = _run_for(session, run_id, actor)
    if run.state not in ACTIVE_STATES or run.cancel_requested_at is not None:
        return
    run.cancel_requested_at = now
    run.cancel_requested_by = actor.label
    if is_abandoned(session, run, now, lease_seconds()):
        run.state = "cancelled"
        run.finished_at = now
    record(
        session,
        actor=actor.label,
        action="billing_run.cancel",
        entity_type="billing_run",
        entity_id=run.id,
        now=now,
        after={"state": run.state},
    )


def _transient(exc: BaseException) -> bool:
    """A deadlock victim, a serialization failure, a lost connection: tried again."""
    if isinstance(exc, DBAPIError):
        code = getattr(getattr(exc, "orig", None), "sqlstate", None)
        if exc.connection_invalidated or code in ("40P01", "40001"):
            return True
        return isinstance(exc, OperationalError) and code is None and not _on_sqlite()
    return False


def _on_sqlite() -> bool:
    return str(current_app.config.get("DATABASE_URL", "")).startswith("sqlite")


@task(queue_name=MONTH_END)
def month_end_step(run_id: int) -> str:
    """One chunk of a run: bill the next customers or issue the next drafts, then defer the
    next chunk; answers what it did. Idempotent: it reads where the run stands under its lock."""
    db = database()
    try:
        with db.transaction() as session:
            return _step(session, run_id, now())
    except Exception as exc:
        if _transient(exc):
            raise  # Procrastinate tries the job again (RETRY)
        with db.transaction() as session:
            run = session.get(BillingRun, run_id, with_for_update=True)
            if run is not None and run.state in ACTIVE_STATES:
                run.state = "failed"
                run.finished_at = now()
                message = exc.message if isinstance(exc, DomainError) else str(exc)
                run.error = f"{type(exc).__name__}: {message}"[:2000]
        raise


def _step(session: Session, run_id: int, at: datetime) -> str:
    run = session.get(BillingRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.state not in ACTIVE_STATES or run.issuer is None:
        return "nothing to do"
    if run.cancel_requested_at is not None:
        run.state = "cancelled"
        run.finished_at = at
        record(
            session,
            actor=run.cancel_requested_by or "job: month-end",
            action="billing_run.cancelled",
            entity_type="billing_run",
            entity_id=run.id,
            now=at,
            after={"phase": run.phase, "customers_done": run.customers_done},
        )
        return "cancelled"
    run.state = "running"
    run.heartbeat_at = at
    code = run.issuer.code
    if run.phase == "billing":
        outcome = bill_chunk(session, run, now=at, size=_chunk("MONTH_END_BILL_CHUNK", BILL_CHUNK))
        if run.customers_done >= run.customers_total:
            run.phase = "issuing" if run.issue else "done"
        did = f"billed {outcome.customers} customer(s), {outcome.charges} charge(s)"
    elif run.phase == "issuing":
        did = _issue_chunk(session, run, at)
    else:
        did = ""
    if run.phase == "done":
        run.state = "finished"
        run.finished_at = at
        record(
            session,
            actor="job: month-end",
            action="billing_run.finish",
            entity_type="billing_run",
            entity_id=run.id,
            now=at,
            after={
                "charges": run.charges_billed,
                "invoices": run.invoices_touched,
                "issued": run.invoices_issued,
            },
        )
    else:
        _defer_step(session, run, code)
    log.info("billing run %s (%s %s): %s", run.id, code, f"{run.period_start:%Y-%m}", did)
    return did


def _issue_chunk(session: Session, run: BillingRun, at: datetime) -> str:
    drafts = month_drafts(session, run, limit=_chunk("MONTH_END_ISSUE_CHUNK", ISSUE_CHUNK))
    if not drafts:
        run.phase = "done"
        return "issuing done"
    ids = [d.id for d in drafts]
    customers = sorted({d.customer_id for d in drafts})
    actor = Seller(f"job: billing run {run.id}", run.issuer_party_id)
    started = time.perf_counter()
    # LOCK_ORDER: the customers, then the drafts; the number series is taken inside and held
    # until this unit of work commits.
    lock_customer_then_documents(session, customers, ids)
    issued, left = issue_drafts_of_run(session, ids, actor=actor, now=at, render=None)
    session.flush()
    held_ms = int((time.perf_counter() - started) * 1000)
    issued_ids = list(
        session.execute(
            select(Invoice.id).where(Invoice.id.in_(ids), Invoice.status != "draft")
        ).scalars()
    )
    defer_rendering(session, issued_ids)
    run.invoices_issued += issued
    run.issued_through_id = max(ids)
    run.issuing_chunks += 1
    run.series_hold_max_ms = max(run.series_hold_max_ms, held_ms)
    add_skipped(run, left)
    log.info(
        "billing run %s issued %s invoice(s); number series held %d ms", run.id, issued, held_ms
    )
    return f"issued {issued} invoice(s) in {held_ms} ms"
