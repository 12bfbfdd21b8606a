"""Every page meets WCAG 2.1 AA as axe-core checks it, and none scrolls sideways at 390 px.

axe-core is the engine browsers' accessibility tools use; axe-playwright-python ships its script,
so nothing is downloaded. The pages are the real ones, served by the live app, logged in as an
administrator (who sees every button and form).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from billing.invoicing.issuing import issue_invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.money import Money
from billing.parties.customers import Seller
from billing.payments.services import record_bank_payment
from billing.settlement.services import build_statement
from tests import factories
from tests.helpers import PASSWORD

PAGES = [
    "/login",
    "/",
    "/availability?route=main&protection=unprotected&product=WL100G",
    "/customers",
    "/customers/new",
    "/quotes",
    "/quotes/new",
    "/services",
    "/pricebook",
    "/admin/users",
    "/admin/api-keys",
    "/admin/audit",
    "/admin/agreement",
    "/reports/revenue-assurance",
    "/reports/segments",
    "/finance/fx-rates",
    "/finance/invoices",
    "/finance/billing-runs",
    "/finance/tax-rules",
    "/finance/payments",
    "/finance/payments/new",
    "/finance/credit-balances",
    "/finance/receivables",
    "/finance/settlements",
    "/finance/revenue-recognition?period=2026-11",
]
# The first of each kind of detail page, found by following the list's first link.
DETAILS = {"/customers": "/customers/", "/quotes": "/quotes/", "/services": "/services/"}
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture(autouse=True)
def _a_service(app: Flask) -> list[str]:
    """An active service with its contract, so that every kind of detail page has one to show,
    and an IRU: its contract's pages (the contract and its payment plan) are returned."""
    db = app.extensions["billing.db"]
    now = app.extensions["billing.clock"].now()
    with db.transaction() as session:
        factories.active_service(session, now=now)
        iru = factories.active_service(session, now=now, model="iru", term_months=120)
        return [
            f"/contracts/{iru.contract_id}",
            f"/finance/contracts/{iru.contract_id}/payment-plan",
        ]


@pytest.fixture
def invoice_pages(app: Flask, _a_service: list[str]) -> list[str]:
    """A draft invoice and an issued one (with its credit-note form), billed by a run; and the
    IRU contract's pages."""
    db = app.extensions["billing.db"]
    clock = app.extensions["billing.clock"]
    with db.transaction() as session:
        for _ in range(2):
            factories.active_service(session, now=clock.now(), ready_for_service=date(2026, 11, 1))
    seller = Seller("tests", None)
    summary = run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=seller,
        clock=clock.now,
    )
    draft, issued = summary.invoice_ids[:2]
    with db.transaction() as session:
        # Built before the invoice is issued: provisional and stale, listing what it misses.
        stale = build_statement(session, "2026-11", "collected", actor=seller, now=clock.now()).id
    with db.transaction() as session:
        invoice = issue_invoice(
            session, issued, actor=seller, now=clock.now(), render=render_invoices
        )
        # Part paid, with credit left: the invoice's payments, the payment's refund form.
        paid = record_bank_payment(
            session,
            customer_id=invoice.customer_id,
            issuer_id=invoice.issuer_party_id,
            amount=Money(invoice.amount_due + 10, invoice.currency),
            value_date=clock.now().date(),
            reference="axe",
            applications={invoice.id: Decimal("100.00")},
            actor=seller,
            now=clock.now(),
        ).payment.id
        customer_id = invoice.customer_id
        statement = build_statement(
            session, "2026-11", "invoiced", actor=seller, now=clock.now()
        ).id
    return [
        f"/finance/settlements/{statement}",
        f"/finance/settlements/{stale}",
        f"/finance/invoices/{draft}",
        f"/finance/invoices/{issued}",
        f"/finance/payments/{paid}",
        f"/finance/customers/{customer_id}/payments/new",
        f"/admin/customers/{customer_id}/portal-logins",
        *_a_service,
    ]


def _log_in(page: Page) -> None:
    page.goto("/login")
    page.fill("input[name=email]", "admin@azertelecom.az")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)  # home: map or dashboard


def _all_pages(page: Page, extra: list[str]) -> list[str]:
    paths = [*PAGES, *extra]
    for listing, prefix in DETAILS.items():
        page.goto(listing)
        link = page.locator(f"main a[href^='{prefix}']").first
        href = link.get_attribute("href")
        assert href, f"{listing} links to no {prefix}…"
        paths.append(href)
    return paths


def _violations(result: Any) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result.response["violations"]
    ]


@pytest.mark.browser
def test_every_page_meets_wcag_21_aa(page: Page, invoice_pages: list[str]) -> None:
    axe = Axe()
    _log_in(page)
    found: dict[str, list[str]] = {}
    for path in _all_pages(page, invoice_pages):
        page.goto(path)
        result = axe.run(page, options=WCAG_AA)
        assert result.response["passes"], f"axe checked nothing on {path}"
        problems = _violations(result)
        if problems:
            found[path] = problems
    assert found == {}


@pytest.mark.browser
def test_no_page_scrolls_sideways_on_a_phone(
    browser: Browser, live_server: str, invoice_pages: list[str]
) -> None:
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        _log_in(page)
        widths = {}
        for path in _all_pages(page, invoice_pages):
            page.goto(path)
            widths[path] = page.evaluate("document.documentElement.scrollWidth")
        assert {p: w for p, w in widths.items() if w > 390} == {}
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("language", ["ru", "az", "kk"])
def test_every_page_in_each_language_meets_wcag_21_aa_on_a_phone(
    browser: Browser, live_server: str, invoice_pages: list[str], language: str
) -> None:
    """SPEC 14: every page above, in Russian, Azerbaijani and Kazakh (longer words, other
    scripts) at 390 px: in its language (lang on <html>), no WCAG 2.1 AA violation, and nothing
    scrolls sideways."""
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    context.set_default_timeout(5_000)
    page = context.new_page()
    axe = Axe()
    try:
        _log_in(page)
        page.locator("#ui-language").select_option(language)
        page.locator(".lang-form button").click()
        expect(page.locator("html")).to_have_attribute("lang", language)
        found: dict[str, list[str]] = {}
        for path in _all_pages(page, invoice_pages):
            page.goto(path)
            problems = [] if path == "/login" else _in_language(page, language)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > 390:
                problems.append(f"scrolls sideways ({scroll} px)")
            result = axe.run(page, options=WCAG_AA)
            assert result.response["passes"], f"axe checked nothing on {path}"
            problems += _violations(result)
            if problems:
                found[path] = problems
        assert found == {}
    finally:
        context.close()


def _in_language(page: Page, language: str) -> list[str]:
    lang = page.locator("html").get_attribute("lang")
    return [] if lang == language else [f"reads in {lang!r}"]
