"""Bulk issue as jobs (issue 17): the drafts finance selected, issued through the issuing path a
billing run's issuing chunks take (`billing.payments.issuing.issue_drafts_of_run`, the PDFs left
to render jobs), one draft per unit of work, in id order.

A draft that cannot be issued (no exchange rate, no tax rule, no agreement in effect) stays a
draft and its reason is kept on the bulk issue; any other failure of one draft is kept the same
way: the others go on. Each job does a chunk and defers the next; the bulk issue's row says which
ids are done (`done_through_id`), so a job run twice or killed half-way issues each draft once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.db import lock_customer_then_documents
from billing.errors import DomainError
from billing.extensions import database, now
from billing.invoicing.models import BulkIssue, Invoice
from billing.jobs.documents import defer_rendering
from billing.jobs.queue import MONTH_END, AlreadyQueuedError, defer, task
from billing.parties.customers import Seller
from billing.payments.issuing import issue_drafts_of_run

log = logging.getLogger(__name__)

# Drafts per job: each in its own unit of work, so the number series is held for one at a time.
CHUNK = 25


def defer_bulk_issue(session: Session, bulk_id: int) -> None:
    """Defer the bulk issue's next job in the session's transaction (one waits at a time)."""
    key = f"bulk-issue-{bulk_id}"
    try:
        defer(session, issue_selected_drafts, queueing_lock=key, lock=key, bulk_id=bulk_id)
    except AlreadyQueuedError:
        pass  # its next job waits already: it does what this one would


@task(queue_name=MONTH_END)
def issue_selected_drafts(bulk_id: int) -> str:
    """Issue the next chunk of the bulk issue's drafts; answers what it did."""
    db = database()
    with db.transaction() as session:
        bulk = session.get(BulkIssue, bulk_id, with_for_update=True)
        if bulk is None or bulk.state == "finished":
            return "nothing to do"
        bulk.state = "running"
        chunk = bulk.remaining_ids[:CHUNK]
        actor = Seller(f"{bulk.requested_by} (bulk issue {bulk.id})", bulk.actor_party_id)
    for invoice_id in chunk:
        try:
            with db.transaction() as session:
                outcome = _issue_one(session, bulk_id, invoice_id, actor, now())
        except Exception as exc:  # one draft's failure is its own: the others go on
            log.exception("bulk issue %s: draft %s failed", bulk_id, invoice_id)
            message = exc.message if isinstance(exc, DomainError) else type(exc).__name__
            with db.transaction() as session:
                _mark_done(session, bulk_id, invoice_id, issued=False, why=f"failed: {message}")
            continue
        log.info("bulk issue %s: draft %s %s", bulk_id, invoice_id, outcome)
    with db.transaction() as session:
        bulk = session.get_one(BulkIssue, bulk_id, with_for_update=True)
        if bulk.remaining_ids:
            defer_bulk_issue(session, bulk_id)
            return f"{bulk.done} of {bulk.total} done"
        bulk.state = "finished"
        bulk.finished_at = now()
        return f"finished: {bulk.issued} of {bulk.total} issued"


def _issue_one(session: Session, bulk_id: int, invoice_id: int, actor: Seller, at: datetime) -> str:
    bulk = session.get_one(BulkIssue, bulk_id, with_for_update=True)
    if invoice_id <= bulk.done_through_id:
        return "done already"
    customer_id = session.execute(
        select(Invoice.customer_id).where(Invoice.id == invoice_id)
    ).scalar_one_or_none()
    if customer_id is None:
        _mark_done(session, bulk_id, invoice_id, issued=False, why="deleted since it was selected")
        return "gone"
    # LOCK_ORDER: the customer, then the draft; the number series is held until this commits.
    lock_customer_then_documents(session, [customer_id], [invoice_id])
    issued, left = issue_drafts_of_run(session, [invoice_id], actor=actor, now=at, render=None)
    if issued:
        defer_rendering(session, [invoice_id])
        _mark_done(session, bulk_id, invoice_id, issued=True)
        return "issued"
    status = session.execute(select(Invoice.number).where(Invoice.id == invoice_id)).scalar()
    why = left[0] if left else f"issued already as {status}"
    _mark_done(session, bulk_id, invoice_id, issued=False, why=why)
    return why


def _mark_done(
    session: Session, bulk_id: int, invoice_id: int, *, issued: bool, why: str = ""
) -> None:
    bulk = session.get_one(BulkIssue, bulk_id, with_for_update=True)
    if invoice_id <= bulk.done_through_id:
        return
    bulk.done_through_id = invoice_id
    bulk.done += 1
    if issued:
        bulk.issued += 1
    else:
        bulk.left = f"{bulk.left}{invoice_id}: {why}\n"
