"""Keyboard-only runs (issue 17, "Done when"): finance issues a draft invoice and records a bank
payment applied to an invoice with Tab, Shift+Tab, Enter, Space, the arrow keys and typing only,
never a click. Every control the focus lands on shows it (an outline), and the end state is
checked in the database."""

from __future__ import annotations

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
from billing.payments.models import Payment, PaymentApplication
from tests import factories
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser
FINANCE = "finance@azertelecom.az"
TAB_LIMIT = 120

# What the focused element shows: an outline of some width (the stylesheet's or the browser's
# focus ring), never none.
FOCUS_SHOWN = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const shown = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  return shown ? '' : (e.outerHTML || e.tagName).slice(0, 120);
}"""


class Keyboard:
    """Tab through a page, checking at every stop that the focus shows."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.stops = 0

    def shows_focus(self) -> None:
        hidden = self.page.evaluate(FOCUS_SHOWN)
        assert hidden == "", f"the focus does not show on {hidden}"
        self.stops += 1

    def tab_to(self, selector: str, *, back: bool = False) -> None:
        target = self.page.locator(selector)
        for _ in range(TAB_LIMIT):
            self.page.keyboard.press("Shift+Tab" if back else "Tab")
            if self.page.evaluate("() => document.activeElement === document.body"):
                continue  # past the last control: the next Tab starts again at the top
            self.shows_focus()
            if target.evaluate("e => e === document.activeElement"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    def type_into(self, selector: str, text: str) -> None:
        self.tab_to(selector)
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(text)

    def log_in(self, email: str) -> None:
        self.page.goto("/login")
        self.type_into("input[name=email]", email)
        self.type_into("input[name=password]", PASSWORD)
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(lambda url: "/login" not in url)

    def follow_menu(self, group: str, href: str) -> None:
        """Open a menu of the main navigation and follow one of its links."""
        self.tab_to(f"#nav-{group}-toggle")
        self.page.keyboard.press("Enter")
        self.tab_to(f"#nav-{group} a[href='{href}']")
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(f"**{href}")


def _draft(db: Database, clock: FrozenClock) -> tuple[int, str]:
    """A November draft of AZT for a customer named for the test."""
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now(), legal_name="Keyboard Draft Carrier")
        factories.active_service(
            s,
            now=clock.now(),
            customer=customer,
            mrc=Decimal("3000"),
            ready_for_service=date(2026, 11, 1),
        )
        name = customer.legal_name
    summary = run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=Seller("tests", None),
        clock=clock.now,
    )
    return summary.invoice_ids[0], name


def test_finance_issues_a_draft_by_keyboard_only(
    page: Page, db: Database, clock: FrozenClock
) -> None:
    draft_id, customer = _draft(db, clock)
    keys = Keyboard(page)
    keys.log_in(FINANCE)
    keys.follow_menu("finance", "/finance/invoices")

    # The list, searched for the customer by typing; the draft's link followed.
    keys.type_into("input[name=q]", customer)
    page.keyboard.press("Enter")
    page.wait_for_url("**q=*")
    keys.tab_to(f"a[href='/finance/invoices/{draft_id}']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/finance/invoices/{draft_id}")

    # Issue asks first (confirm.js): the browser's question is answered OK, as Enter does.
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    keys.tab_to("#issue-invoice")
    page.keyboard.press("Enter")
    expect(page.locator(".flash.success")).to_be_visible()
    assert asked and asked[0].startswith(f"Issue this invoice to {customer}?")
    assert keys.stops > 5
    with db.transaction() as s:
        issued = s.get(Invoice, draft_id)
        assert issued is not None and issued.status == "issued" and issued.number
        number = issued.number
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)


def test_finance_records_a_bank_payment_and_applies_it_by_keyboard_only(
    page: Page, db: Database, clock: FrozenClock
) -> None:
    invoice = factories.bill_and_issue(db, clock, _customer_with_service(db, clock))
    keys = Keyboard(page)
    keys.log_in(FINANCE)
    keys.follow_menu("finance", "/finance/payments")
    keys.tab_to("a[href='/finance/payments/new']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/finance/payments/new")

    # The customer chosen in the list by typing its name, then on to the form.
    keys.tab_to("select[name=customer_id]")
    page.keyboard.type("Keyboard Payment")
    keys.tab_to("button[type=submit]:has-text('Next')")
    page.keyboard.press("Enter")
    page.wait_for_url("**/payments/new")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Bank transfer from Keyboard Payment Carrier"
    )

    keys.type_into("input[name=amount]", "1000.00")
    keys.type_into("input[name=reference]", "KEYBOARD-WIRE-7")
    keys.type_into(f"input[name=invoice_{invoice.id}]", "1000.00")
    # Back up one field and forward again: Shift+Tab works as well.
    keys.tab_to("input[name=reference]", back=True)
    keys.tab_to("button[type=submit]:has-text('Record the payment')")
    page.keyboard.press("Space")
    page.wait_for_url("**/finance/payments/*")
    expect(page.locator(".flash.success")).to_be_visible()
    with db.transaction() as s:
        payment = s.scalars(select(Payment).where(Payment.reference == "KEYBOARD-WIRE-7")).one()
        assert (payment.amount, payment.currency) == (Decimal("1000.00"), "USD")
        applied = s.scalars(
            select(PaymentApplication).where(PaymentApplication.payment_id == payment.id)
        ).one()
        assert (applied.invoice_id, applied.amount) == (invoice.id, Decimal("1000.00"))
        paid = s.get(Invoice, invoice.id)
        assert paid is not None and paid.status == "partially_paid"


def _customer_with_service(db: Database, clock: FrozenClock) -> int:
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now(), legal_name="Keyboard Payment Carrier")
        factories.active_service(
            s,
            now=clock.now(),
            customer=customer,
            mrc=Decimal("3000"),
            ready_for_service=date(2026, 11, 1),
        )
        return customer.id
