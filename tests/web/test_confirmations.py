"""Irreversible steps ask first (issue 17, "Navigation and forms"): a refund, a suspension or a
termination, and a billing run, which says before it starts how many invoices it would make and
for how much. The question is a page of its own (no script needed); without the confirmation
nothing changes, with it the step is taken."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import BillingRun, Invoice
from billing.money import Money
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.payments.models import Payment, Refund
from billing.payments.services import record_bank_payment
from billing.sales.models import Service
from tests import factories
from tests.helpers import PASSWORD, csrf_token, login, post_form
from tests.web.test_accessibility import WCAG_AA
from tests.web.test_billing_run_pages import finish, lease

AZT_FINANCE = "finance@azertelecom.az"
AZT_SALES = "sales@azertelecom.az"
RUNS = "/finance/billing-runs"


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _state(db: Database, circuit: str) -> str:
    with db.transaction() as s:
        return s.scalars(select(Service.state).where(Service.circuit_id == circuit)).one()


def test_a_suspension_and_a_termination_ask_first(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        circuit = factories.active_service(s, now=clock.now()).circuit_id
    login(client, AZT_SALES)
    page = client.get(f"/services/{circuit}").text
    assert "Suspend…" in page and "Terminate…" in page

    asked = post_form(
        client, f"/services/{circuit}/suspend", f"/services/{circuit}", {"note": "unpaid"}
    )
    assert asked.status_code == 200
    assert f'Suspend <span class="mono">{circuit}</span>?' in asked.text
    assert 'name="confirmed" value="yes"' in asked.text and "unpaid" in asked.text
    assert _state(db, circuit) == "active"  # asking changed nothing
    confirmed = client.post(
        f"/services/{circuit}/suspend",
        data={"csrf_token": csrf_token(asked.text), "note": "unpaid", "confirmed": "yes"},
    )
    assert confirmed.status_code == 302 and _state(db, circuit) == "suspended"

    today = clock.now().date().isoformat()
    fields = {"effective_date": today, "note": "customer left"}
    asked = post_form(client, f"/services/{circuit}/terminate", f"/services/{circuit}", fields)
    assert asked.status_code == 200 and "cannot be undone" in asked.text
    assert f'name="effective_date" value="{today}"' in asked.text
    assert _state(db, circuit) == "suspended"
    # A forged confirmation value is no confirmation.
    post_form(
        client,
        f"/services/{circuit}/terminate",
        f"/services/{circuit}",
        {**fields, "confirmed": "1"},
    )
    assert _state(db, circuit) == "suspended"
    confirmed = client.post(
        f"/services/{circuit}/terminate",
        data={"csrf_token": csrf_token(asked.text), **fields, "confirmed": "yes"},
    )
    assert confirmed.status_code == 302 and _state(db, circuit) == "terminated"


def test_a_refund_asks_first_saying_where_the_money_comes_from(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now(), legal_name="Refund Carrier")
        azt = s.scalars(select(Party).where(Party.code == "AZT")).one()
        payment = record_bank_payment(
            s,
            customer_id=customer.id,
            issuer_id=azt.id,
            amount=Money(Decimal("500.00"), "USD"),
            value_date=date(2026, 12, 1),
            reference="WIRE-REFUND-1",
            applications=None,
            actor=Seller("tests", None),
            now=clock.now(),
        )
        payment_id = payment.payment.id
    login(client, AZT_FINANCE)
    page_url = f"/finance/payments/{payment_id}"
    assert "Record a refund…" in client.get(page_url).text
    fields = {"amount": "120.00", "reason": "overpaid by mistake"}
    asked = post_form(client, f"{page_url}/refund", page_url, fields)
    assert asked.status_code == 200
    assert "Refund $120.00 to Refund Carrier?" in asked.text
    assert "From the credit balance</dt><dd>$120.00" in asked.text
    assert _count(db, Refund) == 0
    # A bad amount is a message on the payment's page, never a question.
    bad = post_form(client, f"{page_url}/refund", page_url, {**fields, "amount": "abc"})
    assert bad.status_code == 422 and _count(db, Refund) == 0
    done = client.post(
        f"{page_url}/refund",
        data={"csrf_token": csrf_token(asked.text), **fields, "confirmed": "yes"},
    )
    assert done.status_code == 302
    with db.transaction() as s:
        refund = s.scalars(select(Refund)).one()
        assert (refund.amount, refund.reason) == (Decimal("120.00"), "overpaid by mistake")
        refunded = s.get(Payment, payment_id)
        assert refunded is not None and refunded.refunded_total == Decimal("120.00")


def test_a_billing_run_says_how_many_invoices_for_how_much_before_it_starts(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    lease(db, clock)
    lease(db, clock)
    login(client, AZT_FINANCE)
    fields = {"period": "2026-11", "issuer": "AZT", "issue": "y"}
    asked = post_form(client, RUNS, RUNS, fields)
    assert asked.status_code == 200
    assert "Run billing for 2026-11 and issue the invoices?" in asked.text
    # Each lease: 21 of 30 days of 3,000 (2,100.00) and the 500.00 installation.
    assert "<b>2 invoices</b> for $5,200.00 (AZT)." in asked.text
    assert _count(db, BillingRun) == 0 and _count(db, Invoice) == 0  # asking wrote nothing

    # A month too far ahead is refused on the form, before any question.
    ahead = post_form(client, RUNS, RUNS, {**fields, "period": "2027-06"})
    assert ahead.status_code == 422 and "too far ahead" in ahead.text

    started = client.post(
        RUNS, data={"csrf_token": csrf_token(asked.text), **fields, "confirmed": "yes"}
    )
    assert started.status_code == 303
    finish(app, backend)
    with db.transaction() as s:
        invoices = list(s.scalars(select(Invoice)))
        assert len(invoices) == 2 and {i.status for i in invoices} == {"issued"}
        assert sum((i.subtotal for i in invoices), Decimal(0)) == Decimal("5200.00")


@pytest.mark.browser
def test_the_questions_meet_wcag_21_aa_at_both_widths(
    page: Page, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        service = factories.active_service(s, now=clock.now())
        circuit, customer_id = service.circuit_id, service.customer_id
        azt = s.scalars(select(Party).where(Party.code == "AZT")).one()
        payment_id = record_bank_payment(
            s,
            customer_id=customer_id,
            issuer_id=azt.id,
            amount=Money(Decimal("800.00"), "USD"),
            value_date=date(2026, 12, 1),
            reference="WIRE-ASKED-1",
            applications=None,
            actor=Seller("tests", None),
            now=clock.now(),
        ).payment.id
    problems: list[str] = []

    def check() -> None:
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            result: Any = Axe().run(page, options=WCAG_AA)
            assert result.response["passes"], "axe checked nothing"
            problems.extend(f"{width}px {v['id']}" for v in result.response["violations"])
            if page.evaluate("document.documentElement.scrollWidth") > width:
                problems.append(f"{width}px scrolls sideways")
        page.set_viewport_size({"width": 1280, "height": 900})

    def log_in(email: str) -> None:
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login" not in url)

    log_in(AZT_SALES)
    page.goto(f"/services/{circuit}")
    page.locator("#suspend-form").get_by_label("Note").fill("unpaid")
    page.get_by_role("button", name="Suspend…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Suspend {circuit}?")
    check()
    page.get_by_role("button", name=f"Suspend {circuit}").click()
    expect(page.locator("#service-state")).to_have_text("suspended")
    page.get_by_role("button", name="Log out").click()

    log_in(AZT_FINANCE)
    page.goto(f"/finance/payments/{payment_id}")
    page.get_by_label("Amount to refund").fill("100.00")
    page.get_by_label("Reason").fill("asked back")
    page.get_by_role("button", name="Record a refund…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refund $100.00")
    check()
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("#credit-left")).to_contain_text("800.00")  # cancelled: nothing refunded
    assert problems == []
