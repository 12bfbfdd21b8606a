"""Month-end as jobs (SPEC 12, issue 15): a run is one issuer's month, billed then issued in
chunks by jobs; on PostgreSQL by workers, on SQLite in-process. Small worlds: chunks of 2."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from billing.calendar import billing_period
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import DomainError
from billing.invoicing.issuing import document_of
from billing.invoicing.models import BillingRun, Invoice, InvoiceLine
from billing.invoicing.rendering import render_in_process, render_invoice
from billing.invoicing.runs import run_progress
from billing.jobs.month_end import cancel_run, month_end_step, request_run, resume_run
from billing.jobs.queue import run_worker
from billing.parties.customers import Seller
from billing.payments.issuing import issue_invoice
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
NOVEMBER = billing_period(date(2026, 11, 1))
ADMIN = Seller("test: finance", None)
CUSTOMERS = 5


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture
def world(app: Flask, db: Database, clock: FrozenClock) -> list[int]:
    """Five AZT customers, one service each ready since 1 November (1,000 + 100 x i a month);
    chunks of 2 customers and 2 drafts."""
    app.config["MONTH_END_BILL_CHUNK"] = 2
    app.config["MONTH_END_ISSUE_CHUNK"] = 2
    ids = []
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        for i in range(CUSTOMERS):
            service = factories.active_service(
                s,
                now=clock.now(),
                mrc=Decimal(1000 + 100 * i),
                nrc=Decimal("0"),
                ready_for_service=date(2026, 11, 1),
            )
            ids.append(service.customer_id)
    return ids


def _request(app: Flask, db: Database, clock: FrozenClock, issue: bool = True) -> list[int]:
    with app.app_context(), db.transaction() as s:
        answers = request_run(
            s, period=NOVEMBER, issuer_code="AZT", issue=issue, actor=ADMIN, now=clock.now()
        )
    return [a.run_id for a in answers]


def _work(app: Flask, backend: str) -> None:
    if backend == "postgres":
        run_worker(app, wait=False)


def _invoices(db: Database) -> list[tuple[str | None, str, str, Decimal]]:
    with db.transaction() as s:
        rows = s.execute(
            select(
                Invoice.number, Invoice.status, Invoice.currency, func.sum(InvoiceLine.price_amount)
            )
            .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
            .group_by(Invoice.id)
            .order_by(Invoice.id)
        )
        return [(n, st, c, Decimal(t)) for n, st, c, t in rows]


def _charge_keys_once(db: Database) -> None:
    with db.transaction() as s:
        rows = s.execute(
            select(
                InvoiceLine.service_id,
                InvoiceLine.charge_kind,
                InvoiceLine.charge_period_start,
                func.count(),
            ).group_by(
                InvoiceLine.service_id, InvoiceLine.charge_kind, InvoiceLine.charge_period_start
            )
        ).all()
    assert rows and all(count == 1 for *_, count in rows)


def _gapless(numbers: list[str | None]) -> None:
    assert all(n is not None for n in numbers)
    sequence = [int(str(n).rsplit("-", 1)[-1]) for n in numbers]
    assert sequence == list(range(1, len(sequence) + 1)), numbers


def test_a_month_is_billed_and_issued_in_chunks_with_the_same_invoices_on_both_databases(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: list[int]
) -> None:
    (run_id,) = _request(app, db, clock)
    _work(app, backend)
    invoices = _invoices(db)
    # The same five invoices, numbers and totals on SQLite (in-process) and PostgreSQL (worker).
    assert [(st, c, t) for _, st, c, t in invoices] == [
        ("issued", "USD", Decimal(1000 + 100 * i)) for i in range(CUSTOMERS)
    ]
    _gapless([n for n, *_ in invoices])
    _charge_keys_once(db)
    with app.app_context(), db.transaction() as s:
        progress = run_progress(s, run_id, clock.now())
    assert (progress.state, progress.issuer, progress.period) == ("finished", "AZT", NOVEMBER)
    assert (progress.customers_total, progress.customers_done) == (CUSTOMERS, CUSTOMERS)
    assert (progress.charges, progress.drafts, progress.issued) == (CUSTOMERS, CUSTOMERS, CUSTOMERS)
    assert not progress.abandoned
    assert [str(t) for t in progress.totals] == ["USD 6,000.00"]
    with db.transaction() as s:
        run = s.get(BillingRun, run_id)
        assert run is not None and run.issuing_chunks == 3  # 5 drafts, 2 per chunk
        assert run.series_hold_max_ms >= 0


@pytest.mark.postgres
def test_a_second_request_for_a_month_queued_is_that_run(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: list[int]
) -> None:
    if backend != "postgres":
        pytest.skip("on SQLite a run ends before its request returns")
    with app.app_context(), db.transaction() as s:
        first = request_run(
            s, period=NOVEMBER, issuer_code="AZT", issue=True, actor=ADMIN, now=clock.now()
        )
    with app.app_context(), db.transaction() as s:
        second = request_run(
            s, period=NOVEMBER, issuer_code="AZT", issue=False, actor=ADMIN, now=clock.now()
        )
    assert [(r.run_id, r.already) for r in second] == [(first[0].run_id, True)]
    assert second[0].state == "queued"
    with app.app_context(), db.transaction() as s:  # the first asked for no issuing
        s.get(BillingRun, first[0].run_id).issue = False  # type: ignore[union-attr]
    with app.app_context(), db.transaction() as s:
        third = request_run(
            s, period=NOVEMBER, issuer_code="AZT", issue=True, actor=ADMIN, now=clock.now()
        )
    assert [(r.run_id, r.already) for r in third] == [(first[0].run_id, True)]
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(BillingRun)).scalar_one() == 1
        # One job waits for the month (the queueing lock).
        jobs = s.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'month_end_step'")
        ).scalar_one()
        assert jobs == 1
    run_worker(app, wait=False)
    assert [st for _, st, *_ in _invoices(db)] == ["issued"] * CUSTOMERS


def test_finance_staff_of_one_party_may_not_run_another_s_month(
    app: Flask, db: Database, clock: FrozenClock, world: list[int]
) -> None:
    with app.app_context(), db.transaction() as s:
        azt = factories.party_seller(s, "AZT")
        with pytest.raises(DomainError):
            request_run(
                s, period=NOVEMBER, issuer_code="KTC", issue=False, actor=azt, now=clock.now()
            )
        with pytest.raises(DomainError):
            request_run(
                s, period=NOVEMBER, issuer_code=None, issue=False, actor=azt, now=clock.now()
            )


@pytest.mark.postgres
def test_a_run_whose_job_is_gone_is_abandoned_after_the_lease_and_resume_finishes_it(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: list[int]
) -> None:
    if backend != "postgres":
        pytest.skip("jobs are queued on PostgreSQL")
    (run_id,) = _request(app, db, clock)
    with db.transaction() as s:
        s.execute(text("DELETE FROM procrastinate_jobs WHERE task_name = 'month_end_step'"))
    with app.app_context(), db.transaction() as s:
        assert not run_progress(s, run_id, clock.now()).abandoned  # within the lease
        later = clock.now() + timedelta(seconds=301)
        assert run_progress(s, run_id, later).abandoned
    clock.advance(timedelta(seconds=301))
    with app.app_context(), db.transaction() as s:
        resume_run(s, run_id, actor=ADMIN, now=clock.now())
        resume_run(s, run_id, actor=ADMIN, now=clock.now())  # idempotent: one job
    run_worker(app, wait=False)
    with app.app_context(), db.transaction() as s:
        progress = run_progress(s, run_id, clock.now())
    assert (progress.state, progress.issued, progress.abandoned) == ("finished", CUSTOMERS, False)
    _gapless([n for n, *_ in _invoices(db)])


def test_a_cancelled_run_stops_between_chunks_and_running_the_month_again_finishes_it(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: list[int]
) -> None:
    app.config["MONTH_END_ISSUE_CHUNK"] = 2
    with app.app_context():
        with db.transaction() as s:
            (answer,) = request_run(
                s, period=NOVEMBER, issuer_code="AZT", issue=True, actor=ADMIN, now=clock.now()
            )
            if backend == "sqlite":
                # On SQLite the run would end as this commits: ask it to stop before its first
                # chunk's commit is seen, i.e. cancel in the same unit of work.
                cancel_run(s, answer.run_id, actor=ADMIN, now=clock.now())
        if backend == "postgres":
            with db.transaction() as s:
                s.execute(text("DELETE FROM procrastinate_jobs WHERE task_name = 'month_end_step'"))
            month_end_step(run_id=answer.run_id)  # one chunk: 2 customers billed
            with db.transaction() as s:
                cancel_run(s, answer.run_id, actor=ADMIN, now=clock.now())
            run_worker(app, wait=False)
        with db.transaction() as s:
            progress = run_progress(s, answer.run_id, clock.now())
    assert progress.state == "cancelled"
    billed = 2 if backend == "postgres" else 0
    assert (progress.customers_done, progress.issued) == (billed, 0)
    assert len(_invoices(db)) == billed
    (again,) = _request(app, db, clock)
    _work(app, backend)
    invoices = _invoices(db)
    assert [st for _, st, *_ in invoices] == ["issued"] * CUSTOMERS
    _gapless([n for n, *_ in invoices])
    _charge_keys_once(db)
    assert again != answer.run_id


def test_a_rerun_with_issue_issues_the_drafts_an_earlier_run_of_the_month_left(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: list[int]
) -> None:
    _request(app, db, clock, issue=False)
    _work(app, backend)
    assert [st for _, st, *_ in _invoices(db)] == ["draft"] * CUSTOMERS
    (run_id,) = _request(app, db, clock, issue=True)
    _work(app, backend)
    assert [st for _, st, *_ in _invoices(db)] == ["issued"] * CUSTOMERS
    with app.app_context(), db.transaction() as s:
        progress = run_progress(s, run_id, clock.now())
    assert (progress.charges, progress.issued) == (0, CUSTOMERS)


def _worker_process(app: Flask, *, concurrency: int = 1) -> subprocess.Popen[bytes]:
    """A real worker (`run_worker`) in a process of its own, chunks of 2, quick stall detection."""
    code = (
        "from billing import create_app; from billing.jobs import run_worker;"
        "app = create_app({'MONTH_END_BILL_CHUNK': 2, 'MONTH_END_ISSUE_CHUNK': 2});"
        f"run_worker(app, concurrency={concurrency})"
    )
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "BILLING_ENV": "test",
        "SECRET_KEY": "test-secret",
        "JOB_HEARTBEAT_SECONDS": "0.5",
        "JOB_STALLED_SECONDS": "2",
    }
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_until(db: Database, sql: str, expected: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with db.transaction() as s:
            if int(s.execute(text(sql)).scalar_one()) == expected:
                return
        time.sleep(0.2)
    raise AssertionError(f"{sql!r} never reached {expected}")


def _failed_jobs(db: Database) -> int:
    with db.transaction() as s:
        return int(
            s.execute(
                text("SELECT count(*) FROM procrastinate_jobs WHERE status::text = 'failed'")
            ).scalar_one()
        )


def _pdfs_match(db: Database) -> None:
    with db.transaction() as s:
        for invoice in s.execute(select(Invoice).where(Invoice.status != "draft")).scalars():
            assert invoice.pdf is not None, invoice.number
            assert hashlib.sha256(bytes(invoice.pdf)).hexdigest() == invoice.pdf_sha256
            assert hashlib.sha256(render_invoice(document_of(invoice))).hexdigest() == (
                invoice.pdf_sha256
            )


@pytest.mark.postgres
def test_three_runs_two_workers_and_fifty_issue_clicks_at_once_never_fail(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: list[int]
) -> None:
    """The deadlock scenario of issue 15: 3 requests for the month with issue, 2 workers and 50
    Issue clicks on the month's drafts, all at once: no error, every charge once, numbers 1..N."""
    if backend != "postgres":
        pytest.skip("workers run on PostgreSQL")
    _request(app, db, clock, issue=False)  # the drafts the clicks issue
    run_worker(app, wait=False)
    with db.transaction() as s:
        drafts = list(s.execute(select(Invoice.id).order_by(Invoice.id)).scalars())
    assert len(drafts) == CUSTOMERS
    # More services for the month, so the runs bill too while the clicks issue.
    with db.transaction() as s:
        for i in range(4):
            factories.active_service(
                s,
                now=clock.now(),
                mrc=Decimal(2000 + i),
                nrc=Decimal("0"),
                ready_for_service=date(2026, 11, 1),
            )
    errors: list[BaseException] = []
    refused: list[str] = []
    start = threading.Barrier(3 + 5)

    def request() -> None:
        try:
            start.wait(10)
            _request(app, db, clock, issue=True)
        except BaseException as exc:  # noqa: BLE001 - counted
            errors.append(exc)

    def clicks(offset: int) -> None:
        start.wait(10)
        for n in range(10):
            invoice_id = drafts[(offset + n) % len(drafts)]
            try:
                with app.app_context(), db.transaction() as s:
                    issue_invoice(
                        s, invoice_id, actor=ADMIN, now=clock.now(), render=render_in_process
                    )
            except DomainError as exc:  # "not a draft": a message on the page
                refused.append(exc.message)
            except BaseException as exc:  # noqa: BLE001 - counted
                errors.append(exc)

    workers = [_worker_process(app), _worker_process(app)]
    try:
        threads = [threading.Thread(target=request) for _ in range(3)]
        threads += [threading.Thread(target=clicks, args=(i,)) for i in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        _wait_until(db, "SELECT count(*) FROM billing_runs WHERE state IN ('queued', 'running')", 0)
        _wait_until(
            db,
            "SELECT count(*) FROM invoices WHERE status <> 'draft' AND pdf_sha256 IS NULL",
            0,
        )
    finally:
        for worker in workers:
            _stop(worker)
    assert errors == []
    assert _failed_jobs(db) == 0
    assert len(refused) >= 50 - CUSTOMERS  # each draft is issued once: the other clicks are told
    invoices = _invoices(db)
    assert [st for _, st, *_ in invoices] == ["issued"] * (CUSTOMERS + 4)
    with db.transaction() as s:
        numbers = list(
            s.execute(select(Invoice.number).order_by(Invoice.issued_at, Invoice.number)).scalars()
        )
        # The three requests are one run unless one came after the run had ended.
        assert s.execute(select(func.count()).select_from(BillingRun)).scalar_one() in (2, 3, 4)
    _gapless(sorted(numbers))
    _charge_keys_once(db)


@pytest.mark.postgres
def test_a_worker_killed_during_a_chunk_then_another_worker_the_month_converges(
    app: Flask, db: Database, clock: FrozenClock, backend: str, world: list[int]
) -> None:
    if backend != "postgres":
        pytest.skip("workers run on PostgreSQL")
    # The first worker is killed while a chunk of the run is locked (a chunk's customers are
    # held by this test's transaction, so the worker is inside the chunk when it dies).
    (run_id,) = _request(app, db, clock)
    with db.transaction() as s:
        s.execute(text("SELECT id FROM customers WHERE id = :id FOR UPDATE"), {"id": world[0]})
        first = _worker_process(app)
        try:
            _wait_until(
                db,
                "SELECT count(*) FROM procrastinate_jobs WHERE status::text = 'doing'"
                " AND task_name = 'month_end_step'",
                1,
            )
            time.sleep(0.5)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
    time.sleep(2.5)  # the dead worker's heartbeat grows stale
    second = _worker_process(app)
    try:
        _wait_until(db, "SELECT count(*) FROM billing_runs WHERE state = 'finished'", 1)
        _wait_until(
            db,
            "SELECT count(*) FROM invoices WHERE status <> 'draft' AND pdf_sha256 IS NULL",
            0,
        )
    finally:
        _stop(second)
    invoices = _invoices(db)
    assert [st for _, st, *_ in invoices] == ["issued"] * CUSTOMERS
    _gapless([n for n, *_ in invoices])
    _charge_keys_once(db)
    _pdfs_match(db)
