"""Reminder pages (SPEC 13): each issuer's steps kept by its own finance staff, bad input told on
the form, the steps an invoice reached on its page and the last one on the receivables, and the
public unsubscribe page; axe and a 390 px phone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from billing.calendar import zone
from billing.clock import FrozenClock
from billing.db import Database
from billing.jobs.reminders import run_pass
from billing.mail.models import BillingContact
from billing.mail.services import add_contact
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.reminders.models import ReminderStep
from billing.reminders.services import unsubscribe_token
from billing.scheduling.models import REMINDERS, Schedule
from tests import factories
from tests.helpers import PASSWORD, login, post_form
from tests.web.test_accessibility import WCAG_AA

AZT_FINANCE = "finance@azertelecom.az"
KTC_FINANCE = "finance@kazakhtelecom.kz"
ADMIN = "admin@azertelecom.az"
SYSTEM = Seller("tests", None)


def _steps(db: Database, code: str) -> list[tuple[int, str, bool]]:
    with db.transaction() as s:
        rows = s.execute(
            select(ReminderStep.offset_days, ReminderStep.subject, ReminderStep.active)
            .join(Party, Party.id == ReminderStep.party_id)
            .where(Party.code == code)
            .order_by(ReminderStep.offset_days)
        )
        return [(o, subject, active) for o, subject, active in rows]


def _step_id(db: Database, code: str, offset: int) -> int:
    with db.transaction() as s:
        return s.scalars(
            select(ReminderStep.id)
            .join(Party, Party.id == ReminderStep.party_id)
            .where(Party.code == code, ReminderStep.offset_days == offset)
        ).one()


def _party_id(db: Database, code: str) -> int:
    with db.transaction() as s:
        return s.scalars(select(Party.id).where(Party.code == code)).one()


def test_finance_keeps_its_own_issuers_steps_and_bad_input_is_told_on_the_form(
    client: FlaskClient, db: Database
) -> None:
    assert [o for o, _, _ in _steps(db, "AZT")] == [-3, 1, 7, 21]
    login(client, AZT_FINANCE)
    page = client.get("/reminders")
    assert page.status_code == 200
    assert "Azer" in page.text and "(KTC)" not in page.text
    azt = _party_id(db, "AZT")
    added = post_form(
        client,
        f"/reminders/{azt}/steps",
        "/reminders",
        {
            f"new{azt}-offset_days": "14",
            f"new{azt}-subject": "Invoice {number}: two weeks overdue",
            f"new{azt}-body": "Dear {customer}, {amount_due} is {days} days late.",
            f"new{azt}-active": "y",
        },
    )
    assert added.status_code == 303
    assert (14, "Invoice {number}: two weeks overdue", True) in _steps(db, "AZT")
    for values, field, message in (
        ({"subject": "Pay {amount}"}, "subject", "unknown placeholder {amount}"),
        ({"body": "Due {due_date:>99999999}"}, "body", "placeholders take no format"),
        ({"body": "Open { brace"}, "body", "unbalanced braces"),
        ({"offset_days": "7"}, "offset_days", "Another step falls on that day already"),
        ({"offset_days": "1e9"}, "offset_days", ""),
        ({"offset_days": "-31"}, "offset_days", ""),
        ({"subject": ""}, "subject", ""),
    ):
        data = {
            f"new{azt}-offset_days": "30",
            f"new{azt}-subject": "Reminder {number}",
            f"new{azt}-body": "Text",
            **{f"new{azt}-{k}": v for k, v in values.items()},
        }
        refused = post_form(client, f"/reminders/{azt}/steps", "/reminders", data)
        assert refused.status_code in (400, 409, 422), (values, refused.status_code)
        # The message sits on the field it is about.
        assert f'name="new{azt}-{field}"' in refused.text, values
        marked = refused.text.split(f'name="new{azt}-{field}"')[1].split("</label>")[0]
        assert 'class="field-error"' in marked, values
        assert message.lower() in marked.lower(), (values, message)
    # A NUL is refused before any form sees it (the app's input guard).
    nul = {f"new{azt}-offset_days": "30", f"new{azt}-subject": "nul \x00", f"new{azt}-body": "x"}
    assert post_form(client, f"/reminders/{azt}/steps", "/reminders", nul).status_code == 400
    assert [o for o, _, _ in _steps(db, "AZT")] == [-3, 1, 7, 14, 21]
    # KTC's steps are KTC's: not shown, not editable, not removable by AZT's finance (404).
    ktc_step = _step_id(db, "KTC", 7)
    for url in (f"/reminders/steps/{ktc_step}", f"/reminders/steps/{ktc_step}/remove"):
        assert post_form(client, url, "/reminders", {}).status_code == 404
    assert (
        post_form(client, f"/reminders/{_party_id(db, 'KTC')}/steps", "/reminders", {}).status_code
        == 404
    )
    # Switching a step off, then removing one.
    step = _step_id(db, "AZT", 14)
    edited = post_form(
        client,
        f"/reminders/steps/{step}",
        "/reminders",
        {
            f"step{step}-offset_days": "14",
            f"step{step}-subject": "Two weeks",
            f"step{step}-body": "Late.",
        },
    )
    assert edited.status_code == 303
    assert (14, "Two weeks", False) in _steps(db, "AZT")
    assert post_form(client, f"/reminders/steps/{step}/remove", "/reminders", {}).status_code == 303
    assert 14 not in [o for o, _, _ in _steps(db, "AZT")]
    # Without a CSRF token, nothing.
    assert client.post(f"/reminders/steps/{_step_id(db, 'AZT', 21)}/remove").status_code == 400


def test_sales_may_not_see_the_steps(client: FlaskClient) -> None:
    login(client, "sales@azertelecom.az")
    assert client.get("/reminders").status_code in (302, 403)


def _overdue_invoice(app: Flask, db: Database, clock: FrozenClock) -> tuple[int, str]:
    """An open AZT invoice of a customer whose contact wants reminders, after the pass of its
    first overdue morning."""
    with db.transaction() as s:
        silk = factories.customer(s, now=clock.now(), legal_name="Reminded Carrier")
        add_contact(
            s,
            silk.id,
            {"name": "Ana Accounts", "email": "ap@reminded.example"},
            editor=SYSTEM,
            now=clock.now(),
        )
        factories.active_service(
            s,
            now=clock.now(),
            customer=silk,
            mrc=Decimal("2000"),
            ready_for_service=date(2026, 11, 1),
        )
    with app.app_context():
        invoice = factories.bill_and_issue(db, clock, silk.id)
    assert invoice.due_date is not None and invoice.number
    with db.transaction() as s:
        contacts = s.scalars(
            select(BillingContact).where(BillingContact.customer_id == invoice.customer_id)
        ).all()
        assert contacts and any(c.reminders for c in contacts)
    morning = datetime.combine(
        invoice.due_date + timedelta(days=1), time(9), tzinfo=zone("Asia/Baku")
    ).astimezone(UTC)
    ids = (invoice.id, invoice.number, invoice.issuer_party_id)
    clock.set(morning)
    with app.app_context():
        assert run_pass(ids[2]).sent >= 1
    return ids[0], ids[1]


def test_the_invoice_shows_its_reminders_and_the_receivables_the_last_one(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    invoice_id, number = _overdue_invoice(app, db, clock)
    login(client, AZT_FINANCE)
    page = client.get(f"/finance/invoices/{invoice_id}")
    assert page.status_code == 200
    section = page.text.split('id="reminders"')[1].split("</section>")[0]
    assert "1 day overdue" in section and "sent" in section
    receivables = client.get(f"/finance/receivables?q={number}")
    row = receivables.text.split(f'id="receivable-{invoice_id}"')[1].split("</tr>")[0]
    assert "1 day overdue" in row


@pytest.mark.browser
def test_the_reminder_pages_pass_axe_fit_a_phone_and_ask_before_removing_a_step(
    app: Flask, browser: Browser, live_server: str, db: Database, clock: FrozenClock
) -> None:
    invoice_id, _ = _overdue_invoice(app, db, clock)
    with db.transaction() as s:
        contact = s.scalars(select(BillingContact).order_by(BillingContact.id)).first()
        assert contact is not None
        unsubscribe = (
            f"/unsubscribe/{contact.id}/{unsubscribe_token(app.config['SECRET_KEY'], contact)}"
        )
    paths = [
        "/reminders",
        f"/finance/invoices/{invoice_id}",
        "/finance/receivables",
        "/admin/schedules",
    ]
    for width in (1280, 390):
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": 844}
        )
        context.set_default_timeout(5_000)
        page: Page = context.new_page()
        try:
            page.goto(unsubscribe)  # public: no login
            for visit in ([unsubscribe], paths):
                if visit is paths:
                    page.goto("/login")
                    page.fill("input[name=email]", ADMIN)
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_url(lambda url: "/login" not in url)  # home: map or dashboard
                for path in visit:
                    page.goto(path)
                    if width == 390:
                        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
                    else:
                        result = Axe().run(page, options=WCAG_AA)
                        assert [v["id"] for v in result.response["violations"]] == [], path
            if width == 1280:
                page.goto("/reminders")
                remove = page.get_by_role("button", name="Remove the step 21 days overdue of KTC")
                page.once("dialog", lambda dialog: dialog.dismiss())
                remove.click()
                assert 21 in [o for o, _, _ in _steps(db, "KTC")]
                page.once("dialog", lambda dialog: dialog.accept())
                remove.click()
                page.wait_for_url("**/reminders")
                assert 21 not in [o for o, _, _ in _steps(db, "KTC")]
        finally:
            context.close()


def test_an_admin_switches_an_issuers_reminders_on_at_a_local_time(
    client: FlaskClient, db: Database
) -> None:
    with db.transaction() as s:
        schedule = s.scalars(
            select(Schedule)
            .join(Party, Party.id == Schedule.party_id)
            .where(Schedule.kind == REMINDERS, Party.code == "KTC")
        ).one()
        schedule_id, enabled = schedule.id, schedule.enabled
    assert not enabled
    login(client, ADMIN)
    prefix = f"s{schedule_id}"
    saved = post_form(
        client,
        f"/admin/schedules/{schedule_id}",
        "/admin/schedules",
        {f"{prefix}-enabled": "y", f"{prefix}-local_time": "08:30"},
    )
    assert saved.status_code in (302, 303)
    with db.transaction() as s:
        schedule = s.get(Schedule, schedule_id)
        assert schedule is not None
        assert (schedule.enabled, schedule.local_time) == (True, time(8, 30))
    page = client.get("/admin/schedules").text
    section = page.split(f'id="schedule-{schedule_id}"')[1].split("</section>")[0]
    assert "Payment reminders of KTC" in section and "Asia/Almaty" in section
    assert "File URL" not in section and "Day of month" not in section
