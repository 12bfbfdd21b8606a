"""Rendering issued documents' PDFs as jobs (SPEC 12).

A billing run's issuing chunks take numbers and freeze documents without rendering them
(`render=None`), and defer `render_documents` for what they issued in the same unit of work. The
task reads the documents still without a PDF in one short unit of work, renders them with no
transaction open (no row and no number series is held while WeasyPrint works), then stores each
PDF in another short unit of work, only where none is stored yet. Run twice, it changes nothing
the second time; killed half-way, the documents stay issued with their numbers and the next run
renders what is missing. A PDF that fails to render fails the job: Procrastinate tries it again,
and the failure stays on the Jobs page.

Parallel rendering is more workers (`flask worker --queues documents`), never processes forked
by a request, a command or a job.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from billing.extensions import database, now
from billing.invoicing.issuing import documents_to_render, store_rendered_pdf
from billing.invoicing.queries import waiting_for_pdf
from billing.invoicing.rendering import render_invoice
from billing.jobs.queue import DOCUMENTS, defer, task

# Documents per job: about a second of rendering each.
CHUNK = 10
ACTOR = "job:render_documents"


@task(queue_name=DOCUMENTS)
def render_documents(invoice_ids: list[int]) -> int:
    """Render and store the PDFs of the issued documents among `invoice_ids` that have none;
    answers how many it stored."""
    db = database()
    with db.transaction() as session:
        documents = documents_to_render(session, invoice_ids)
    # No transaction is open here: rendering holds no lock.
    pdfs = [(invoice_id, render_invoice(document)) for invoice_id, document in documents]
    if not pdfs:
        return 0
    with db.transaction() as session:
        return sum(
            store_rendered_pdf(session, invoice_id, pdf, actor=ACTOR, now=now())
            for invoice_id, pdf in pdfs
        )


def defer_rendering(session: Session, invoice_ids: Sequence[int], chunk: int = CHUNK) -> None:
    """Defer the rendering of `invoice_ids`' PDFs in the session's transaction, one job per
    `chunk` of ids (on SQLite they are rendered in this process once it commits)."""
    ids = sorted(set(invoice_ids))
    for start in range(0, len(ids), max(1, chunk)):
        defer(session, render_documents, invoice_ids=ids[start : start + chunk])


def defer_pending(session: Session, chunk: int = CHUNK) -> int:
    """Defer rendering for every issued document still waiting for its PDF (after a failure, or
    documents issued before any worker ran); answers how many there are."""
    ids = waiting_for_pdf(session)
    defer_rendering(session, ids, chunk)
    return len(ids)
