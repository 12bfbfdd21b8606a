"""A draft invoice issued in a real browser (Debian's Chromium), as AZT finance would do it."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import select

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import Invoice
from billing.invoicing.runs import parse_period, run_billing
from billing.parties.customers import Seller
from tests import factories
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser


def test_finance_issues_a_draft_and_downloads_its_pdf(
    page: Page, clock: FrozenClock, db: Database
) -> None:
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now())
        customer.legal_name = "Caspian Browser Carrier"
        factories.active_service(
            s,
            now=clock.now(),
            customer=customer,
            mrc=Decimal("3000"),
            nrc=Decimal("500"),
            ready_for_service=date(2026, 11, 1),
        )
        customer_id = customer.id
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=Seller("tests", None),
        clock=clock.now,
    )
    with db.transaction() as s:
        invoice_id = s.execute(
            select(Invoice.id).where(Invoice.customer_id == customer_id)
        ).scalar_one()

    page.goto("/login")
    page.get_by_label("Email").fill("finance@azertelecom.az")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Finance").click()
    page.get_by_role("link", name="Invoices", exact=True).click()
    page.get_by_label("Search").fill("Caspian Browser")
    page.get_by_role("button", name="Filter").click()
    page.locator(f"#invoice-{invoice_id}").get_by_role("link", name="Draft").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft invoice")
    expect(page.locator("#totals")).to_contain_text("$3,500.00")

    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Issue", exact=True).click()
    expect(page.locator(".flash.success")).to_contain_text(
        re.compile(r"Invoice AZT-INV-2026-\d{6} issued")
    )
    assert questions and "Issue this invoice to Caspian Browser Carrier" in questions[0]
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(re.compile(r"AZT-INV-2026-\d{6}"))
    number = re.search(r"AZT-INV-2026-\d{6}", heading.inner_text())
    assert number

    href = page.get_by_role("link", name="Download PDF").get_attribute("href")
    assert href == f"/finance/invoices/{invoice_id}/pdf"
    response = page.request.get(href)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    assert f'filename="{number.group(0)}.pdf"' in response.headers["content-disposition"]
