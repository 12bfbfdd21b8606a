"""The Schedules and Jobs pages (SPEC 12): admins only; a schedule edited, audited and shown with
its next slot; on PostgreSQL every job run with its failure and a Retry button that works."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page
from sqlalchemy import select, text

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.jobs import defer
from billing.jobs.schedule import import_fx_from_url
from billing.parties.models import Party
from billing.scheduling.models import FX_IMPORT, MONTH_END, Schedule
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login, post_form
from tests.integration.test_schedules import FxServer, drain

ADMIN = "admin@azertelecom.az"
SCHEDULES = "/admin/schedules"
JOBS = "/admin/jobs"
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture
def fx_server() -> Any:
    server = FxServer()
    yield server
    server.close()


def _id(db: Database, kind: str, key: str) -> int:
    with db.transaction() as session:
        stmt = select(Schedule.id).where(Schedule.kind == kind)
        if kind == MONTH_END:
            stmt = stmt.join(Party, Party.id == Schedule.party_id).where(Party.code == key)
        else:
            stmt = stmt.where(Schedule.source == key)
        return int(session.execute(stmt).scalar_one())


def _form(schedule_id: int, **values: str) -> dict[str, str]:
    return {f"s{schedule_id}-{name}": value for name, value in values.items()}


def _audit(db: Database, action: str) -> list[AuditEntry]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


@pytest.mark.parametrize(
    "email", ["finance@azertelecom.az", "sales@azertelecom.az", "finance@kazakhtelecom.kz"]
)
def test_only_admins_see_schedules_and_jobs(client: FlaskClient, email: str) -> None:
    login(client, email)
    for path in (SCHEDULES, JOBS):
        assert client.get(path).status_code == 403
    assert client.post(f"{SCHEDULES}/1", data={}).status_code in {400, 403}


def test_an_admin_switches_month_end_on_and_sees_when_it_runs_next(
    client: FlaskClient, db: Database
) -> None:
    login(client, ADMIN)
    page = client.get(SCHEDULES)
    assert page.status_code == 200
    # Month-end and reminders of each issuer, both FX imports: all off.
    assert page.text.count('<span class="badge revoked">off</span>') == 6
    assert "Bills the previous month" in page.text
    assert "Payment reminders of AZT" in page.text
    azt = _id(db, MONTH_END, "AZT")
    response = post_form(
        client,
        f"{SCHEDULES}/{azt}",
        SCHEDULES,
        _form(azt, enabled="y", day_of_month="1", local_time="06:00", mode="with issue"),
    )
    assert response.status_code == 302
    page = client.get(SCHEDULES)
    section = page.text.split(f'id="schedule-{azt}"')[1].split("</section>")[0]
    assert '<span class="badge active">on</span>' in section
    # The clock stands at 2026-11-25: 1 December 06:00 in Baku is 02:00 UTC; it bills November.
    assert "2026-12-01 02:00 UTC" in section
    assert "the next run bills 2026-11" in section
    (entry,) = _audit(db, "schedule.change")
    assert entry.actor.startswith(ADMIN) or ADMIN in entry.actor
    assert entry.before == {**entry.before, "enabled": False}
    assert entry.after == {**entry.after, "enabled": True, "issue": True, "local_time": "06:00"}


@pytest.mark.parametrize(
    ("kind", "key", "values", "message"),
    [
        (MONTH_END, "AZT", {"day_of_month": "31", "local_time": "06:00"}, "between 1 and 28"),
        (MONTH_END, "KTC", {"day_of_month": "1", "local_time": "25:99"}, "Not a valid time"),
        (FX_IMPORT, "cbar", {"local_time": "10:00", "url": "http://example.com/r.xml"}, "https"),
        (FX_IMPORT, "nbk", {"local_time": "10:00", "url": ""}, "before switching"),
    ],
)
def test_a_refused_schedule_says_why_and_changes_nothing(
    client: FlaskClient, db: Database, kind: str, key: str, values: dict[str, str], message: str
) -> None:
    login(client, ADMIN)
    schedule_id = _id(db, kind, key)
    response = post_form(
        client, f"{SCHEDULES}/{schedule_id}", SCHEDULES, _form(schedule_id, enabled="y", **values)
    )
    assert response.status_code == 422
    assert message in response.text
    assert _audit(db, "schedule.change") == []
    with db.transaction() as session:
        assert session.get(Schedule, schedule_id).enabled is False  # type: ignore[union-attr]


def test_a_schedule_form_without_its_csrf_token_is_refused(
    client: FlaskClient, db: Database
) -> None:
    login(client, ADMIN)
    azt = _id(db, MONTH_END, "AZT")
    response = client.post(
        f"{SCHEDULES}/{azt}", data=_form(azt, enabled="y", day_of_month="1", local_time="06:00")
    )
    assert response.status_code in {400, 422}
    assert _audit(db, "schedule.change") == []


def test_the_jobs_page_lists_runs_or_says_they_run_in_process(
    client: FlaskClient, backend: str
) -> None:
    login(client, ADMIN)
    for query in ("", "?status=nonsense&task=nothing&page=-4&q=%27%3B--"):
        page = client.get(JOBS + query)
        assert page.status_code == 200
    if backend == "sqlite":
        assert "Jobs run in-process on this database" in page.text
        assert "Month-end of AZT" in page.text
    else:
        assert '<table id="jobs">' in page.text


def _fail_until_failed(app: Flask, db: Database) -> int:
    """Run the queue, bringing each retry forward, until the FX job has used its attempts."""
    for _ in range(6):
        drain(app)
        with db.transaction() as session:
            job_id, status = session.execute(
                text(
                    "SELECT id, status::text FROM procrastinate_jobs "
                    "WHERE task_name = 'import_fx_from_url'"
                )
            ).one()
            if status == "failed":
                return int(job_id)
            session.execute(
                text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = :id"),
                {"id": job_id},
            )
    raise AssertionError("the job never failed for good")


def test_a_failed_job_shows_its_reason_and_retry_runs_it_again(
    app: Flask, client: FlaskClient, db: Database, backend: str, fx_server: FxServer
) -> None:
    if backend != "postgres":
        pytest.skip("the queue and its retries are PostgreSQL's")
    fx_server.mode = "500"
    cbar = _id(db, FX_IMPORT, "cbar")
    with db.transaction() as session:
        row = session.get(Schedule, cbar)
        assert row is not None
        row.url = fx_server.url("cbar-2026-11-24.xml")
    with app.app_context(), db.transaction() as session:
        defer(session, import_fx_from_url, schedule_id=cbar, slot="2026-11-25T06:00:00+00:00")
    job_id = _fail_until_failed(app, db)

    login(client, ADMIN)
    page = client.get(JOBS)
    row_html = page.text.split(f'id="job-{job_id}"')[1].split("</tr>")[0]
    assert "FX import from URL" in row_html and "failed" in row_html
    assert "answered 500" in row_html
    assert f"Retry job {job_id}" in row_html
    assert client.get(f"{JOBS}?status=succeeded").text.count(f'id="job-{job_id}"') == 0

    fx_server.mode = "file"
    response = client.post(f"{JOBS}/{job_id}/retry", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    (entry,) = _audit(db, "job.retry")
    assert entry.entity_id == str(job_id)
    drain(app)
    page = client.get(f"{JOBS}?q={job_id}")
    row_html = page.text.split(f'id="job-{job_id}"')[1].split("</tr>")[0]
    assert "succeeded" in row_html and "Retry" not in row_html
    with db.transaction() as session:
        assert session.get(Schedule, cbar).last_ok is True  # type: ignore[union-attr]

    # A job that is not failed any more is not retried: a message, not an error.
    again = client.post(f"{JOBS}/{job_id}/retry", data={"csrf_token": csrf_token(page.text)})
    assert again.status_code == 302
    assert "nothing to retry" in client.get(JOBS).text
    assert len(_audit(db, "job.retry")) == 1
    assert client.post(f"{JOBS}/{job_id}/retry", data={}).status_code in {302, 303, 400}


@pytest.mark.browser
def test_schedules_and_jobs_pages_pass_axe_and_fit_a_phone(
    browser: Browser, live_server: str, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    for width in (1280, 390):
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": 844}
        )
        context.set_default_timeout(5_000)
        page: Page = context.new_page()
        try:
            page.goto("/login")
            page.fill("input[name=email]", ADMIN)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)  # home: map or dashboard
            for path in (SCHEDULES, JOBS):
                page.goto(path)
                if width == 390:
                    assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
                else:
                    result = Axe().run(page, options=WCAG_AA)
                    assert result.response["passes"]
                    assert [v["id"] for v in result.response["violations"]] == [], path
        finally:
            context.close()
