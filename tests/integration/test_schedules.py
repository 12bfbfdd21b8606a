"""Schedules (SPEC 12): month-end per issuer and the FX import from a URL run by themselves at
their issuer-local slot, once, on PostgreSQL through the queue and on SQLite in-process
(`flask schedule run-due`), with a moved clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import BillingRun, FxRateRecord
from billing.jobs.queue import run_worker
from billing.jobs.schedule import dispatch
from billing.parties.models import Party
from billing.scheduling.models import FX_IMPORT, MONTH_END, REMINDERS, JobFailure, Schedule
from billing.scheduling.services import ScheduleChange, update_schedule
from tests import factories

FX = Path(__file__).resolve().parents[1] / "fixtures" / "fx"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class FxServer:
    """A local HTTP server: the sample files, or a 500, or garbage, as the test says."""

    def __init__(self) -> None:
        self.mode = "file"
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                name = self.path.strip("/")
                if owner.mode == "500":
                    self.send_error(500, "Internal Server Error")
                    return
                body = (
                    b"<html>this is not a rates file"
                    if owner.mode == "garbage"
                    else (FX / name).read_bytes()
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fx_server() -> Iterator[FxServer]:
    server = FxServer()
    yield server
    server.close()


def _schedule(db: Database, kind: str, *, party: str = "", source: str = "") -> int:
    with db.transaction() as session:
        stmt = select(Schedule.id).where(Schedule.kind == kind)
        if party:
            stmt = stmt.join(Party, Party.id == Schedule.party_id).where(Party.code == party)
        if source:
            stmt = stmt.where(Schedule.source == source)
        return int(session.execute(stmt).scalar_one())


def drain(app: Flask) -> None:
    """Run the queue until it is empty, in a thread of its own: Playwright's sync API (a browser
    test earlier in this process) leaves an event loop running in the main thread, where
    asyncio.run refuses to start."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                run_worker(app, wait=False)
        except BaseException as error:  # handed to the test
            failure.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _switch_on(db: Database, clock: FrozenClock, schedule_id: int, change: ScheduleChange) -> None:
    with db.transaction() as session:
        update_schedule(
            session, schedule_id, change, actor="test", now=clock.now(), allow_loopback_http=True
        )


def _run_due(app: Flask, backend: str, clock: FrozenClock) -> list[str]:
    """What cron (SQLite) or the worker's minute (PostgreSQL) does at the clock's time."""
    with app.app_context():
        said = dispatch(clock.now())
    if backend == "postgres":
        drain(app)
    return said


def _row(db: Database, schedule_id: int) -> Schedule:
    with db.transaction() as session:
        row = session.get(Schedule, schedule_id)
        assert row is not None
        session.expunge(row)
        return row


def _runs(db: Database) -> list[tuple[str, str, str]]:
    with db.transaction() as session:
        return [
            (code, start.isoformat(), state)
            for code, start, state in session.execute(
                select(Party.code, BillingRun.period_start, BillingRun.state)
                .join(Party, Party.id == BillingRun.issuer_party_id)
                .order_by(BillingRun.id)
            )
        ]


def _rates(db: Database) -> int:
    with db.transaction() as session:
        return int(session.execute(select(func.count(FxRateRecord.id))).scalar_one())


def test_every_schedule_is_off_until_an_admin_switches_it_on(
    app: Flask, db: Database, backend: str, clock: FrozenClock
) -> None:
    with db.transaction() as session:
        rows = session.scalars(select(Schedule).order_by(Schedule.id)).all()
        kinds = sorted((s.kind, s.party.code if s.party else s.source) for s in rows)
        assert kinds == [
            (FX_IMPORT, "cbar"),
            (FX_IMPORT, "nbk"),
            (MONTH_END, "AZT"),
            (MONTH_END, "KTC"),
            (REMINDERS, "AZT"),
            (REMINDERS, "KTC"),
        ]
        reminders = [s for s in rows if s.kind == REMINDERS]
        assert {(s.day_of_month, s.local_time) for s in reminders} == {(None, time(9))}
        month_end = [s for s in rows if s.kind == MONTH_END]
        assert {(s.day_of_month, s.local_time) for s in month_end} == {(1, time(6))}
        assert not any(s.enabled for s in rows)
    # A month later, nothing has run by itself.
    clock.set(utc(2026, 12, 1, 12, 0))
    assert _run_due(app, backend, clock) == []
    assert _runs(db) == []


def test_month_end_runs_at_the_issuers_local_six_oclock_bills_the_closed_month_once(
    app: Flask, db: Database, backend: str, clock: FrozenClock
) -> None:
    with db.transaction() as session:
        for owner in ("AZT", "KTC"):
            factories.active_service(
                session,
                now=clock.now(),
                mrc=Decimal("1000"),
                nrc=Decimal("0"),
                ready_for_service=date(2026, 11, 1),
                owner=owner,
            )
    azt = _schedule(db, MONTH_END, party="AZT")
    ktc = _schedule(db, MONTH_END, party="KTC")
    _switch_on(db, clock, azt, ScheduleChange(True, time(6), day_of_month=1, issue=True))
    _switch_on(db, clock, ktc, ScheduleChange(True, time(6), day_of_month=1))
    # Switched on on 25 November: the 1 November slot has passed and is not run now.
    assert _run_due(app, backend, clock) == []

    # 06:00 in Almaty (UTC+5) is 01:00 UTC; in Baku (UTC+4) 02:00 UTC.
    clock.set(utc(2026, 12, 1, 0, 59))
    assert _run_due(app, backend, clock) == []
    clock.set(utc(2026, 12, 1, 1, 30))
    said = _run_due(app, backend, clock)
    assert said == [f"month-end 2026-11 of KTC: run {_runs_ids(db)[0]} queued (drafts only)"]
    assert _runs(db) == [("KTC", "2026-11-01", "finished")]

    clock.set(utc(2026, 12, 1, 2, 0))
    _run_due(app, backend, clock)
    assert _runs(db) == [("KTC", "2026-11-01", "finished"), ("AZT", "2026-11-01", "finished")]
    assert _row(db, azt).last_ok is True
    assert "2026-11 of AZT" in _row(db, azt).last_result
    assert "with issue" in _row(db, azt).last_result
    with db.transaction() as session:
        issued = session.execute(
            text(
                "SELECT count(*) FROM invoices i JOIN parties p ON p.id = i.issuer_party_id "
                "WHERE p.code = :code AND i.status = 'issued'"
            ),
            {"code": "AZT"},
        ).scalar_one()
        ktc_invoices = (
            session.execute(
                text(
                    "SELECT i.status FROM invoices i JOIN parties p ON p.id = i.issuer_party_id "
                    "WHERE p.code = 'KTC'"
                )
            )
            .scalars()
            .all()
        )
    assert issued > 0, "the AZT schedule issues"
    assert ktc_invoices and set(ktc_invoices) == {"draft"}, "the KTC schedule is draft only"

    # Later the same day, and the next day: nothing runs again.
    for at in (utc(2026, 12, 1, 23, 0), utc(2026, 12, 2, 3, 0)):
        clock.set(at)
        assert _run_due(app, backend, clock) == []
    assert len(_runs(db)) == 2


def _runs_ids(db: Database) -> list[int]:
    with db.transaction() as session:
        return list(session.scalars(select(BillingRun.id).order_by(BillingRun.id)))


def test_a_slot_missed_while_nothing_ran_runs_once_when_work_resumes(
    app: Flask, db: Database, backend: str, clock: FrozenClock
) -> None:
    azt = _schedule(db, MONTH_END, party="AZT")
    _switch_on(db, clock, azt, ScheduleChange(True, time(6), day_of_month=1))
    # Nothing ran on 1 December; the dispatcher is back on the 3rd.
    clock.set(utc(2026, 12, 3, 9, 0))
    assert len(_run_due(app, backend, clock)) == 1
    assert _run_due(app, backend, clock) == []
    assert _runs(db) == [("AZT", "2026-11-01", "finished")]


def test_two_dispatchers_at_once_hand_a_slot_to_the_queue_once(
    app: Flask, db: Database, backend: str, clock: FrozenClock
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time: there is no race to have")
    azt = _schedule(db, MONTH_END, party="AZT")
    _switch_on(db, clock, azt, ScheduleChange(True, time(6), day_of_month=1))
    clock.set(utc(2026, 12, 1, 2, 30))
    said: list[list[str]] = []
    barrier = threading.Barrier(4)

    def dispatcher() -> None:
        with app.app_context():
            barrier.wait()
            said.append(dispatch(clock.now()))

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(s) for s in said) == [0, 0, 0, 1]
    drain(app)
    assert _runs(db) == [("AZT", "2026-11-01", "finished")]


def test_the_fx_import_fetches_the_file_from_its_url_and_stores_the_rates(
    app: Flask, db: Database, backend: str, clock: FrozenClock, fx_server: FxServer
) -> None:
    cbar = _schedule(db, FX_IMPORT, source="cbar")
    url = fx_server.url("cbar-2026-11-24.xml")
    _switch_on(db, clock, cbar, ScheduleChange(True, time(10), url=url))
    before = _rates(db)
    # 10:00 in Baku is 06:00 UTC.
    clock.set(utc(2026, 11, 26, 6, 1))
    said = _run_due(app, backend, clock)
    assert said == ["fx import cbar of slot 2026-11-26T06:00:00+00:00: queued"]
    assert _rates(db) > before
    row = _row(db, cbar)
    assert row.last_ok is True
    assert row.last_result.startswith("CBAR rates of 2026-11-24:")
    assert "added" in row.last_result


@pytest.mark.parametrize("mode", ["500", "garbage"])
def test_an_fx_file_that_cannot_be_fetched_or_read_stores_nothing_and_says_why(
    app: Flask,
    db: Database,
    backend: str,
    clock: FrozenClock,
    fx_server: FxServer,
    mode: str,
) -> None:
    fx_server.mode = mode
    nbk = _schedule(db, FX_IMPORT, source="nbk")
    _switch_on(db, clock, nbk, ScheduleChange(True, time(10), url=fx_server.url("nbk.xml")))
    before = _rates(db)
    clock.set(utc(2026, 11, 26, 5, 0))  # 10:00 in Almaty
    _run_due(app, backend, clock)
    assert _rates(db) == before
    row = _row(db, nbk)
    assert row.last_ok is False
    if mode == "500":
        assert "answered 500" in row.last_result
    else:
        assert row.last_result and "\n" not in row.last_result
    if backend == "postgres":
        with db.transaction() as session:
            status, attempts = session.execute(
                text(
                    "SELECT status::text, attempts FROM procrastinate_jobs "
                    "WHERE task_name = 'import_fx_from_url'"
                )
            ).one()
            failure = session.scalars(select(JobFailure)).one()
        # Failed once, waiting to be tried again.
        assert (status, attempts) == ("todo", 1)
        assert failure.task_name == "import_fx_from_url"
        assert failure.error == row.last_result


def test_an_fx_url_must_be_https_or_this_machine(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    from billing.errors import InvalidRequestError

    cbar = _schedule(db, FX_IMPORT, source="cbar")
    for url in ("http://example.com/rates.xml", "ftp://127.0.0.1/x", "file:///etc/passwd"):
        with pytest.raises(InvalidRequestError) as refused:
            _switch_on(db, clock, cbar, ScheduleChange(True, time(10), url=url))
        assert "url" in refused.value.errors
    with db.transaction() as session:
        with pytest.raises(InvalidRequestError):
            update_schedule(
                session,
                cbar,
                ScheduleChange(True, time(10), url="http://127.0.0.1:8000/cbar.xml"),
                actor="test",
                now=clock.now(),
                allow_loopback_http=False,  # production
            )
    assert _row(db, cbar).enabled is False


def test_flask_schedule_run_due_runs_what_is_due_in_process(
    app: Flask, db: Database, backend: str, clock: FrozenClock, fx_server: FxServer
) -> None:
    cbar = _schedule(db, FX_IMPORT, source="cbar")
    url = fx_server.url("cbar-2026-11-24.xml")
    _switch_on(db, clock, cbar, ScheduleChange(True, time(10), url=url))
    runner = app.test_cli_runner()
    clock.set(utc(2026, 11, 26, 5, 59))
    result = runner.invoke(args=["schedule", "run-due"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "0 schedule(s) due"
    clock.set(utc(2026, 11, 26, 6, 0))
    result = runner.invoke(args=["schedule", "run-due"])
    assert result.exit_code == 0, result.output
    assert "fx import cbar" in result.output and "1 schedule(s) due" in result.output
    if backend == "postgres":
        drain(app)
    assert _row(db, cbar).last_ok is True
    assert runner.invoke(args=["schedule", "run-due"]).output.strip() == "0 schedule(s) due"
