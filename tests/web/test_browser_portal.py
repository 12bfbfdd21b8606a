"""The customer portal in a real browser (Debian's Chromium): a customer's staff log in, see their
invoices (and not another customer's), download a PDF; the portal pages meet WCAG 2.1 AA."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select

from billing.access.services import create_portal_login
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.parties.customers import Seller
from tests import factories
from tests.helpers import FAST_HASH, PASSWORD
from tests.web.test_accessibility import WCAG_AA

pytestmark = pytest.mark.browser
SYSTEM = Seller("tests", None)


def _issued_invoices(db: Database, clock: FrozenClock) -> tuple[str, str]:
    """Two customers' November invoices, issued; the first customer gets a portal login."""
    with db.transaction() as s:
        mine = factories.customer(s, now=clock.now(), legal_name="Portal Browser Carrier")
        theirs = factories.customer(s, now=clock.now())
        for customer in (mine, theirs):
            factories.active_service(
                s,
                now=clock.now(),
                customer=customer,
                mrc=Decimal("2000"),
                ready_for_service=date(2026, 11, 1),
            )
        create_portal_login(
            s,
            customer_id=mine.id,
            email="ops@portal-carrier.example",
            name="Portal Ops",
            password=PASSWORD,
            actor="tests",
            now=clock.now(),
            hash_method=FAST_HASH,
        )
        ids = (mine.id, theirs.id)
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=SYSTEM,
        clock=clock.now,
    )
    numbers = []
    with db.transaction() as s:
        for customer_id in ids:
            draft = s.execute(
                select(Invoice.id).where(Invoice.customer_id == customer_id)
            ).scalar_one()
            invoice = issue_invoice(s, draft, actor=SYSTEM, now=clock.now(), render=render_invoices)
            assert invoice.number is not None
            numbers.append(invoice.number)
    return numbers[0], numbers[1]


def test_a_portal_user_logs_in_sees_the_invoices_and_downloads_a_pdf(
    page: Page, clock: FrozenClock, db: Database
) -> None:
    mine, theirs = _issued_invoices(db, clock)
    page.goto("/login")
    page.get_by_label("Email").fill("ops@portal-carrier.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Portal Browser Carrier")
    invoices = page.locator("#portal-invoices")
    expect(invoices).to_contain_text(mine)
    expect(invoices).not_to_contain_text(theirs)
    expect(page.get_by_role("button", name="Pay")).to_have_count(0)  # no Stripe key here

    with page.expect_download() as download:
        page.get_by_role("link", name=f"PDF {mine}").click()
    saved = download.value
    assert saved.suggested_filename == f"{mine}.pdf"
    with open(saved.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    page.get_by_role("link", name=mine, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(mine)
    expect(page.locator("#amount-due")).to_contain_text("$")
    assert page.request.get(f"/portal/invoices/{theirs}").status == 404
    assert page.request.get("/finance/invoices").status == 403


def test_the_portal_pages_meet_wcag_21_aa(page: Page, clock: FrozenClock, db: Database) -> None:
    mine, _ = _issued_invoices(db, clock)
    page.goto("/login")
    page.get_by_label("Email").fill("ops@portal-carrier.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    axe = Axe()
    found = {}
    for path in ("/portal/", f"/portal/invoices/{mine}"):
        page.goto(path)
        result = axe.run(page, options=WCAG_AA)
        assert result.response["passes"], path
        problems = [v["id"] for v in result.response["violations"]]
        if problems:
            found[path] = problems
    assert found == {}
