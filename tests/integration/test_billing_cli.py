"""`flask billing run` and `flask invoices pdf` (SPEC 11, issue 8), against the test database."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import BillingRun, Invoice, InvoiceLine
from billing.jobs.queue import run_worker
from billing.parties.models import Party
from tests import factories


@pytest.fixture
def seed() -> str:
    return "reference"


def run(app: Flask, *args: str) -> Result:
    """`flask ...`; a billing run waits for its end (on PostgreSQL a worker thread runs it)."""
    if args[:2] == ("billing", "run") and app.config["DATABASE_URL"].startswith("postgres"):
        with _worker(app):
            return app.test_cli_runner().invoke(args=[*args, "--wait"])
    return app.test_cli_runner().invoke(args=list(args))


@contextmanager
def _worker(app: Flask) -> Iterator[None]:
    """A worker in a thread, emptying the queue again and again until the block ends."""
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            run_worker(app, wait=False)
            time.sleep(0.2)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(60)


@pytest.fixture
def service_id(db: Database, clock: FrozenClock) -> int:
    """An AZT service ready since 1 November at 3,000 a month and 500 once, taxed as export."""
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        service = factories.active_service(
            s,
            now=clock.now(),
            mrc=Decimal("3000"),
            nrc=Decimal("500"),
            ready_for_service=date(2026, 11, 1),
        )
        return service.id


def _lines(db: Database, service: int) -> list[tuple[str | None, Decimal, int]]:
    with db.transaction() as s:
        rows = s.execute(
            select(InvoiceLine.charge_kind, InvoiceLine.price_amount, InvoiceLine.invoice_id)
            .where(InvoiceLine.service_id == service)
            .order_by(InvoiceLine.id)
        )
        return [(kind, amount, invoice) for kind, amount, invoice in rows]


def _runs(db: Database) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(BillingRun)).scalar_one())


def test_a_run_bills_the_month_once_and_says_what_it_did(
    app: Flask, db: Database, service_id: int
) -> None:
    result = run(app, "billing", "run", "--period", "2026-11")
    assert result.exit_code == 0, result.output
    # One run per issuer.
    assert "of 2026-11 for AZT: finished" in result.output
    assert "of 2026-11 for KTC: finished" in result.output
    assert "1 service(s) seen, 2 charge(s) billed, 1 invoice(s) made or added to, 0 issued" in (
        result.output
    )
    assert "total USD 3,500.00" in result.output
    billed = _lines(db, service_id)
    assert sorted((kind, amount) for kind, amount, _ in billed) == [
        ("mrc", Decimal("3000.00")),
        ("nrc", Decimal("500.00")),
    ]
    with db.transaction() as s:
        assert s.get(Invoice, billed[0][2]).status == "draft"  # type: ignore[union-attr]

    again = run(app, "billing", "run", "--period", "2026-11")
    assert again.exit_code == 0, again.output
    assert "0 charge(s) billed, 0 invoice(s)" in again.output
    assert "total" not in again.output
    assert _lines(db, service_id) == billed


def test_a_run_for_the_other_issuer_bills_nothing_of_this_one(
    app: Flask, db: Database, service_id: int
) -> None:
    result = run(app, "billing", "run", "--period", "2026-11", "--issuer", "ktc")
    assert result.exit_code == 0, result.output
    assert "for KTC: finished" in result.output
    assert "0 service(s) seen" in result.output
    assert _lines(db, service_id) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "'2026-13' is not a billing month; write it as YYYY-MM"),
        (["--period", "November"], "is not a billing month"),
        (["--period", "2027-01"], "2027-01 is too far ahead: the latest month that can be billed"),
        (["--period", "2026-11", "--issuer", "XYZ"], "'XYZ' is not an issuer"),
    ],
    ids=["month-13", "words", "too-far-ahead", "unknown-issuer"],
)
def test_bad_input_exits_1_with_the_reason_and_bills_nothing(
    app: Flask, db: Database, service_id: int, args: list[str], message: str
) -> None:
    result = run(app, "billing", "run", *args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Error:" in result.output
    assert _lines(db, service_id) == []
    assert _runs(db) == 0


def test_issue_numbers_the_drafts_and_the_pdf_command_writes_their_bytes(
    app: Flask, db: Database, service_id: int, tmp_path: Path
) -> None:
    result = run(app, "billing", "run", "--period", "2026-11", "--issuer", "AZT", "--issue")
    assert result.exit_code == 0, result.output
    assert "1 invoice(s) made or added to, 1 issued" in result.output
    invoice_id = _lines(db, service_id)[0][2]
    with db.transaction() as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None
        assert (invoice.status, invoice.number) == ("issued", "AZT-INV-2026-000001")
        stored, digest = bytes(invoice.pdf or b""), invoice.pdf_sha256

    target = tmp_path / "invoice.pdf"
    written = run(app, "invoices", "pdf", "AZT-INV-2026-000001", "--output", str(target))
    assert written.exit_code == 0, written.output
    assert target.read_bytes() == stored
    assert stored.startswith(b"%PDF")
    assert hashlib.sha256(stored).hexdigest() == digest
    assert digest in written.output

    missing = run(app, "invoices", "pdf", "AZT-INV-2026-000002", "--output", str(tmp_path / "x"))
    assert missing.exit_code == 1
    assert "AZT-INV-2026-000002 not found" in missing.output
    assert not (tmp_path / "x").exists()


def test_invoices_render_writes_the_months_stored_pdfs_and_checks_them(
    app: Flask, db: Database, service_id: int, tmp_path: Path
) -> None:
    assert run(app, "billing", "run", "--period", "2026-11", "--issue").exit_code == 0
    folder = tmp_path / "pdfs"
    result = run(app, "invoices", "render", "--period", "2026-11", "--output", str(folder))
    assert result.exit_code == 0, result.output
    written = folder / "AZT-INV-2026-000001.pdf"
    with db.transaction() as s:
        stored = s.execute(select(Invoice.pdf_sha256)).scalar_one()
    assert hashlib.sha256(written.read_bytes()).hexdigest() == stored
    assert "1 PDFs written" in result.output
    other = run(
        app,
        "invoices",
        "render",
        "--period",
        "2026-11",
        "--issuer",
        "KTC",
        "--output",
        str(tmp_path / "ktc"),
    )
    assert other.exit_code == 0 and "0 PDFs written" in other.output
    with db.transaction() as s:  # a tampered PDF is reported
        s.execute(Invoice.__table__.update().values(pdf=b"%PDF-1.7 tampered"))
    tampered = run(app, "invoices", "render", "--period", "2026-11", "--output", str(folder))
    assert tampered.exit_code == 1 and "AZT-INV-2026-000001" in tampered.output
    bad = run(app, "invoices", "render", "--period", "2026-13", "--output", str(folder))
    assert bad.exit_code == 1 and "YYYY-MM" in bad.output


def test_on_postgres_a_run_is_queued_and_a_second_request_answers_it(
    app: Flask, db: Database, service_id: int, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("on SQLite the run happens in the command")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["billing", "run", "--period", "2026-11", "--issuer", "AZT"])
    assert first.exit_code == 0, first.output
    assert "billing run 1 of 2026-11 for AZT: queued; a worker runs it: flask worker" in (
        first.output
    )
    second = runner.invoke(args=["billing", "run", "--period", "2026-11", "--issuer", "AZT"])
    assert second.exit_code == 0, second.output
    assert "billing run 1 of 2026-11 for AZT: already queued" in second.output
    with _worker(app):
        waited = runner.invoke(
            args=["billing", "run", "--period", "2026-11", "--issuer", "AZT", "--wait"]
        )
    assert waited.exit_code == 0, waited.output
    assert "billing run 1 of 2026-11 for AZT: already queued" in waited.output
    assert "billing run 1 of 2026-11 for AZT: finished" in waited.output
    assert "2 charge(s) billed, 1 invoice(s) made or added to" in waited.output
    assert _runs(db) == 1


def test_resume_carries_on_a_failed_run_of_the_month(
    app: Flask, db: Database, service_id: int, clock: FrozenClock
) -> None:
    with db.transaction() as s:  # a run that failed before it billed anything
        s.add(
            BillingRun(
                period_start=date(2026, 11, 1),
                issuer_party_id=s.execute(select(Party.id).where(Party.code == "AZT")).scalar_one(),
                state="failed",
                phase="billing",
                issue=True,
                started_at=clock.now(),
                started_by="test",
                error="OperationalError: server closed the connection",
            )
        )
    result = run(app, "billing", "run", "--period", "2026-11", "--issuer", "AZT", "--resume")
    assert result.exit_code == 0, result.output
    assert "billing run 1 of 2026-11 for AZT: finished" in result.output
    assert "1 invoice(s) made or added to, 1 issued" in result.output
    assert _runs(db) == 1
