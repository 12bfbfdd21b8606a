"""Issuing without rendering, rendering as jobs (SPEC 12): a run's drafts take their numbers and are
issued with no PDF ("PDF being prepared"); render jobs store the PDF afterwards, byte for byte what
rendering at issue gives; until then the customer does not see the document (API, portal), staff
do, marked; a render that fails leaves the document issued with its number, and the next run of
the job (or `flask invoices render-pending`) renders it."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from billing.access.services import create_portal_login
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import document_of
from billing.invoicing.models import Invoice
from billing.invoicing.queries import get_invoice, waiting_for_pdf
from billing.invoicing.rendering import render_invoice, render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.jobs import documents as render_jobs
from billing.jobs.queue import run_worker
from billing.parties.customers import Seller
from billing.payments.issuing import issue_drafts_of_run
from billing.pdf import missing_system_libraries
from tests import factories
from tests.conftest import IN_CI
from tests.helpers import FAST_HASH, PASSWORD, bearer, login, make_api_key

ADMIN = Seller("admin", None)
INVOICES = "/api/v1/invoices"

# A re-render gives the stored bytes only with HarfBuzz's subsetter (libharfbuzz-subset0): the
# fontTools fallback writes fonts that depend on what the process rendered before. Stored PDFs
# are served as stored either way. CI installs the library, so there every byte is compared.
BYTE_STABLE = IN_CI or not missing_system_libraries()


@pytest.fixture
def seed() -> str:
    return "reference"


@dataclass(frozen=True)
class World:
    drafts: tuple[int, ...]
    customers: tuple[int, ...]


@pytest.fixture
def world(db: Database, clock: FrozenClock) -> World:
    """Three customers with a service each, billed for October: three drafts."""
    clock.set(datetime(2026, 10, 1, 9, tzinfo=UTC))
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        services = [
            factories.active_service(
                s, now=clock.now(), mrc=Decimal(mrc), ready_for_service=date(2026, 10, 1)
            )
            for mrc in ("3000", "1250.50", "780")
        ]
        customers = tuple(service.customer_id for service in services)
    summary = run_billing(
        db.transaction,
        period=parse_period("2026-10"),
        issuer_code=None,
        actor=ADMIN,
        clock=clock.now,
    )
    clock.set(datetime(2026, 10, 2, 9, tzinfo=UTC))
    assert len(summary.invoice_ids) == 3
    return World(tuple(sorted(summary.invoice_ids)), customers)


def _issue_without_pdfs(db: Database, clock: FrozenClock, ids: tuple[int, ...]) -> None:
    with db.transaction() as s:
        issued, left = issue_drafts_of_run(s, list(ids), actor=ADMIN, now=clock.now())
    assert (issued, left) == (len(ids), [])


def _render(app: Flask, db: Database, backend: str, ids: tuple[int, ...]) -> None:
    """Defer the render jobs in a unit of work; on PostgreSQL a worker runs them, on SQLite they
    ran when it committed."""
    with app.app_context():
        with db.transaction() as s:
            render_jobs.defer_rendering(s, list(ids), chunk=2)
        if backend == "postgres":
            run_worker(app, wait=False)


def _numbers(db: Database, ids: tuple[int, ...]) -> dict[int, str]:
    with db.transaction() as s:
        return {i: str(get_invoice(s, i).number) for i in ids}


def _stored(db: Database, invoice_id: int) -> tuple[bytes | None, str | None]:
    with db.transaction() as s:
        row = s.execute(
            select(Invoice.pdf, Invoice.pdf_sha256).where(Invoice.id == invoice_id)
        ).one()
        return (None if row.pdf is None else bytes(row.pdf)), row.pdf_sha256


def test_pdfs_rendered_by_jobs_are_the_bytes_of_rendering_at_issue_and_customers_see_them_after(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: World, client: FlaskClient
) -> None:
    first = world.drafts[0]
    # Issued with inline rendering, then rolled back: the number goes back to the series, so
    # issuing again on the same day gives the very same document.
    with pytest.raises(RuntimeError), db.transaction() as s:
        issue_drafts_of_run(s, [first], actor=ADMIN, now=clock.now(), render=render_invoices)
        inline_pdf = bytes(s.execute(select(Invoice.pdf).where(Invoice.id == first)).scalar_one())
        inline_number = get_invoice(s, first).number
        raise RuntimeError("roll back")

    _issue_without_pdfs(db, clock, world.drafts)
    numbers = _numbers(db, world.drafts)
    assert numbers[first] == inline_number
    assert len(set(numbers.values())) == 3
    with db.transaction() as s:
        assert waiting_for_pdf(s) == list(world.drafts)
    key = bearer(make_api_key(app, world.customers[0]))
    mine = numbers[first]
    # Issued, numbered, but not shown to its customer yet.
    assert client.get(f"{INVOICES}/{mine}", headers=key).status_code == 404
    assert client.get(f"{INVOICES}/{mine}/pdf", headers=key).status_code == 404
    assert client.post(f"{INVOICES}/{mine}/payment-session", headers=key).status_code == 404
    listed = client.get(INVOICES, headers=key).get_json()["items"]
    assert mine not in [item["number"] for item in listed]
    # Staff see it, marked, with no download link.
    with db.transaction() as s:
        finance = factories.staff_user(s, now=clock.now(), role="finance").email
    staff = app.test_client()
    login(staff, finance)
    page = staff.get(f"/finance/invoices/{first}").text
    assert "PDF being prepared" in page, page[-3000:]
    assert 'id="download-pdf"' not in page
    assert "PDF being prepared" in staff.get("/finance/invoices").text
    # It is legally issued: receivables count it.
    assert mine in staff.get("/finance/receivables").text

    _render(app, db, backend, world.drafts)

    assert _numbers(db, world.drafts) == numbers
    for invoice_id in world.drafts:
        pdf, digest = _stored(db, invoice_id)
        assert pdf is not None
        assert digest == hashlib.sha256(pdf).hexdigest()
        with db.transaction() as s:
            fresh = render_invoice(document_of(get_invoice(s, invoice_id)))
        if BYTE_STABLE:
            assert fresh == pdf
    served = _stored(db, first)[0]
    if BYTE_STABLE:
        assert served == inline_pdf
    with db.transaction() as s:
        assert waiting_for_pdf(s) == []
    response = client.get(f"{INVOICES}/{mine}/pdf", headers=key)
    assert response.status_code == 200
    assert response.data == served
    assert client.get(f"{INVOICES}/{mine}", headers=key).status_code == 200
    assert mine in [i["number"] for i in client.get(INVOICES, headers=key).get_json()["items"]]
    page = staff.get(f"/finance/invoices/{first}").text
    assert "PDF being prepared" not in page
    assert 'id="download-pdf"' in page
    with db.transaction() as s:
        audited = s.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'invoice.pdf_stored'")
        ).scalar_one()
    assert audited == 3

    # Run again: nothing changes (the PDFs are there).
    _render(app, db, backend, world.drafts)
    assert _stored(db, first)[0] == served
    with db.transaction() as s:
        assert (
            s.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'invoice.pdf_stored'")
            ).scalar_one()
            == 3
        )


def test_the_portal_shows_a_document_only_once_its_pdf_exists(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: World
) -> None:
    first = world.drafts[0]
    _issue_without_pdfs(db, clock, (first,))
    number = _numbers(db, (first,))[first]
    with db.transaction() as s:
        customer_id = get_invoice(s, first).customer_id
        create_portal_login(
            s,
            customer_id=customer_id,
            email="ops@waiting.example",
            name="Customer Staff",
            password=PASSWORD,
            actor="tests",
            now=clock.now(),
            hash_method=FAST_HASH,
        )
    portal = app.test_client()
    login(portal, "ops@waiting.example")
    assert number not in portal.get("/portal/").text
    assert portal.get(f"/portal/invoices/{number}").status_code == 404
    assert portal.get(f"/portal/invoices/{number}/pdf").status_code == 404
    _render(app, db, backend, (first,))
    assert number in portal.get("/portal/").text
    assert portal.get(f"/portal/invoices/{number}").status_code == 200
    pdf = portal.get(f"/portal/invoices/{number}/pdf")
    assert pdf.status_code == 200
    assert pdf.data == _stored(db, first)[0]


def test_render_pending_renders_what_a_failed_job_left_and_numbers_do_not_change(
    app: Flask,
    db: Database,
    clock: FrozenClock,
    backend: str,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A render that fails (the job raises: on PostgreSQL Procrastinate keeps it for a retry,
    on SQLite the log has it) leaves every document issued with its number and no PDF;
    `flask invoices render-pending` renders them, and nothing else changes."""
    _issue_without_pdfs(db, clock, world.drafts)
    numbers = _numbers(db, world.drafts)

    def broken(document: object) -> bytes:
        raise OSError("the renderer died")

    monkeypatch.setattr(render_jobs, "render_invoice", broken)
    _render(app, db, backend, world.drafts)
    for invoice_id in world.drafts:
        assert _stored(db, invoice_id) == (None, None)
    with db.transaction() as s:
        assert {get_invoice(s, i).status for i in world.drafts} == {"issued"}
    if backend == "postgres":
        with db.transaction() as s:
            failed = s.execute(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'render_documents'"
                    " AND status = 'todo' AND attempts >= 1"
                )
            ).scalar_one()
        assert failed == 2  # two chunks, each waiting for its retry

    monkeypatch.undo()
    runner = app.test_cli_runner()
    folder = tmp_path / "pdfs"
    written = runner.invoke(args=["invoices", "render", "--period", "2026-10", "--output", folder])
    assert written.exit_code == 0, written.output
    assert "0 PDFs written" in written.output
    assert "3 still being prepared (not written)" in written.output
    one = runner.invoke(args=["invoices", "pdf", numbers[world.drafts[0]]])
    assert one.exit_code == 1
    assert "PDF is being prepared" in one.output
    result = runner.invoke(args=["invoices", "render-pending"])
    assert result.exit_code == 0, result.output
    if backend == "postgres":
        assert "3 documents queued for rendering" in result.output
        run_worker(app, wait=False)
    else:
        assert "3 of 3 PDFs rendered and stored" in result.output
    assert _numbers(db, world.drafts) == numbers
    with db.transaction() as s:
        assert waiting_for_pdf(s) == []
        fresh = {i: render_invoice(document_of(get_invoice(s, i))) for i in world.drafts}
    if BYTE_STABLE:
        assert fresh == {i: _stored(db, i)[0] for i in world.drafts}
    again = app.test_cli_runner().invoke(args=["invoices", "render-pending"])
    assert again.exit_code == 0
    assert "No document is waiting for its PDF." in again.output


def test_the_database_refuses_an_issued_document_without_issue_date_and_a_pdf_without_sha(
    db: Database, clock: FrozenClock, world: World
) -> None:
    first = world.drafts[0]
    _issue_without_pdfs(db, clock, (first,))
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.execute(text("UPDATE invoices SET issue_date = NULL WHERE id = :i"), {"i": first})
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.execute(text("UPDATE invoices SET pdf = :p WHERE id = :i"), {"p": b"%PDF", "i": first})
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.execute(
            text("UPDATE invoices SET pdf_sha256 = :h WHERE id = :i"), {"h": "0" * 64, "i": first}
        )
    # Both NULL (being prepared) and both set are fine.
    assert _stored(db, first) == (None, None)


def test_no_request_job_or_command_forks_render_processes() -> None:
    """Forked render processes inside a transaction outlived a killed CLI and kept its locks:
    only the bench renders over a process pool; requests, jobs and commands render in their own
    process (one document) or through render jobs (a batch: start more workers)."""
    billing = Path(__file__).resolve().parents[2] / "billing"
    pool = billing / "invoicing" / "rendering.py"
    users = [
        str(path.relative_to(billing))
        for path in sorted(billing.rglob("*.py"))
        if path != pool
        and any(
            word in path.read_text(encoding="utf-8")
            for word in ("render_invoices", "ProcessPoolExecutor", "multiprocessing", "os.fork")
        )
    ]
    assert users == []


@pytest.mark.postgres
def test_a_worker_killed_while_rendering_leaves_the_numbers_and_the_next_worker_renders(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: World, tmp_path: Path
) -> None:
    """SIGKILL a worker in the middle of a render: the documents stay issued with their numbers
    and no PDF, no lock is left behind (staff still issue meanwhile), and the next worker renders
    them, with the very bytes of a fresh render."""
    if backend != "postgres":
        pytest.skip("workers run on PostgreSQL")
    root = Path(__file__).resolve().parents[2]
    marker = tmp_path / "rendering"
    issued = world.drafts[:2]
    _issue_without_pdfs(db, clock, issued)
    numbers = _numbers(db, issued)
    with app.app_context(), db.transaction() as s:
        render_jobs.defer_rendering(s, list(issued))
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "BILLING_ENV": "test",
        "FLASK_APP": "tests.integration.slow_render_app",
        "RENDER_MARKER": str(marker),
        "JOB_HEARTBEAT_SECONDS": "0.5",
        "JOB_STALLED_SECONDS": "2",
    }
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "flask", "worker", "--queues", "documents"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the worker never started rendering"
        # Rendering holds no lock: the third draft is issued (the series row is free).
        _issue_without_pdfs(db, clock, world.drafts[2:])
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert _numbers(db, issued) == numbers
    assert [_stored(db, i) for i in issued] == [(None, None), (None, None)]
    with db.transaction() as s:
        assert get_invoice(s, issued[0]).status == "issued"
    time.sleep(2.5)  # the dead worker's heartbeat grows stale
    again = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            "from tests.integration.slow_render_app import app; from billing.jobs import run_worker;"
            "run_worker(app, wait=False)",
        ],
        cwd=root,
        env={**env, "RENDER_SLEEP": "0"},
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert _numbers(db, issued) == numbers
    with db.transaction() as s:
        fresh = {i: render_invoice(document_of(get_invoice(s, i))) for i in issued}
    if BYTE_STABLE:
        assert fresh == {i: _stored(db, i)[0] for i in issued}
