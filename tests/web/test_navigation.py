"""The staff navigation, the skip link and the form error summary in a real browser (SPEC 10).

Sales see the Sales menu, finance the Sales and Finance menus (they keep customers' billing
contacts and read services), operations the Operations menu, administrators every menu; each menu is a
disclosure (a button with aria-expanded and aria-controls) that opens by keyboard and closes on
Escape, focus back on its button. On a phone one "Menu" button shows the groups, and the header
does not scroll sideways. A form that fails puts "There is a problem" at the top of the content,
with a link to each bad field, and moves the focus there.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, expect

from billing.invoicing.runs import parse_period, run_billing
from billing.parties.customers import Seller
from tests import factories
from tests.helpers import PASSWORD, login
from tests.web.test_accessibility import WCAG_AA

ROLES = {
    "sales@azertelecom.az": ("Sales", ["Sales"], "Quotes", "/quotes"),
    "finance@azertelecom.az": ("Finance", ["Sales", "Finance"], "Invoices", "/finance/invoices"),
    "admin@azertelecom.az": (
        "Admin",
        ["Sales", "Finance", "Admin", "Operations"],
        "Jobs",
        "/admin/jobs",
    ),
    # Operations land on the outages, in their one menu (SPEC 7).
    "noc@azertelecom.az": ("Operations", ["Operations"], "Outages", "/operations/outages"),
}
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _page(browser: Browser, live_server: str, width: str) -> Page:
    context = browser.new_context(base_url=live_server, viewport=WIDTHS[width])
    context.set_default_timeout(5_000)
    return context.new_page()


def _log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)  # home: map or dashboard


def _tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching selector has the focus."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("e => e === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def _violations(page: Page) -> list[str]:
    result: Any = Axe().run(page, options=WCAG_AA)
    assert result.response["passes"], "axe checked nothing"
    return [f"{v['id']}: {v['help']}" for v in result.response["violations"]]


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.browser
@pytest.mark.parametrize("email", list(ROLES))
@pytest.mark.parametrize("width", list(WIDTHS))
def test_menus_by_keyboard_only(browser: Browser, live_server: str, email: str, width: str) -> None:
    group, groups, link, href = ROLES[email]
    page = _page(browser, live_server, width)
    try:
        _log_in(page, email)
        nav = page.get_by_role("navigation", name="Main")
        toggles = nav.locator("button[data-disclosure=group]")
        # Finance land on their dashboard, in the Finance menu: its button says so too.
        expect(toggles).to_have_text([re.compile(rf"^{g}( \(current section\))?$") for g in groups])
        # Closed menus: their links are not shown until a menu opens.
        expect(nav.get_by_role("link", name=link, exact=True)).to_be_hidden()
        assert _violations(page) == []

        # The skip link is the first thing Tab reaches, and it leads to the content.
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_visible()
        page.keyboard.press("Enter")
        expect(page.locator("main#content")).to_be_focused()

        page.goto("/")
        menu = page.get_by_role("button", name="Menu")
        if width == "phone":
            expect(menu).to_be_visible()
            expect(menu).to_have_attribute("aria-expanded", "false")
            expect(toggles.first).to_be_hidden()
            _no_sideways_scroll(page)
            _tab_to(page, "button.nav-menu-toggle")
            page.keyboard.press("Enter")
            expect(menu).to_have_attribute("aria-expanded", "true")
            expect(toggles.first).to_be_visible()
            _no_sideways_scroll(page)
        else:
            expect(menu).to_be_hidden()

        button = nav.get_by_role("button", name=group)
        _tab_to(page, f"#nav-{group.lower()}-toggle")
        expect(button).to_have_attribute("aria-expanded", "false")
        page.keyboard.press("Enter")
        expect(button).to_have_attribute("aria-expanded", "true")
        controlled = button.get_attribute("aria-controls")
        target = page.locator(f"#{controlled}").get_by_role("link", name=link, exact=True)
        expect(target).to_be_visible()
        assert _violations(page) == []
        if width == "phone":
            _no_sideways_scroll(page)

        # Escape closes the menu and gives the focus back to its button.
        page.keyboard.press("Tab")
        page.keyboard.press("Escape")
        expect(button).to_have_attribute("aria-expanded", "false")
        expect(button).to_be_focused()
        expect(target).to_be_hidden()

        # Open again, Tab to the link, follow it: the page is marked current, its group too.
        page.keyboard.press("Enter")
        _tab_to(page, f"#{controlled} a[href='{href}']")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{href}")
        current = page.locator(f"#main-nav a[href='{href}']")
        expect(current).to_have_attribute("aria-current", "page")
        expect(page.locator(f"#nav-{group.lower()}-toggle")).to_have_class("nav-toggle current")
        expect(page.locator(f"#nav-{group.lower()}-toggle")).to_contain_text("current section")
        if width == "phone":
            _no_sideways_scroll(page)
    finally:
        page.context.close()


@pytest.mark.browser
def test_every_link_is_reachable_without_javascript(browser: Browser, live_server: str) -> None:
    context = browser.new_context(
        base_url=live_server, viewport=WIDTHS["phone"], java_script_enabled=False
    )
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        _log_in(page, "admin@azertelecom.az")
        nav = page.get_by_role("navigation", name="Main")
        for name in ("Customers", "Invoices", "Outbox", "Reminders", "Schedules", "Jobs"):
            expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name="Mail settings", exact=True)).to_be_visible()
        _no_sideways_scroll(page)
    finally:
        context.close()


def _summary_has_focus_and_links(page: Page, fields: list[str]) -> None:
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_have_attribute("tabindex", "-1")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary).to_be_focused()
    hrefs = summary.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [f"#{f}" for f in fields]
    for field in fields:
        assert page.locator(f"#{field}").count() == 1
    # The summary sits at the top of the content, in view without scrolling.
    assert page.evaluate("window.scrollY") < 400
    summary.locator("a").first.click()
    expect(page.locator(f"#{fields[0]}")).to_be_focused()


@pytest.mark.browser
@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_failed_customer_form_says_so_at_the_top(
    browser: Browser, live_server: str, width: str
) -> None:
    page = _page(browser, live_server, width)
    try:
        _log_in(page, "sales@azertelecom.az")
        page.goto("/customers/new")
        page.get_by_role("button", name="Create customer").click()
        _summary_has_focus_and_links(page, ["legal_name", "country"])
        assert _violations(page) == []
    finally:
        page.context.close()


@pytest.fixture
def draft(app: Flask) -> int:
    db = app.extensions["billing.db"]
    clock = app.extensions["billing.clock"]
    with db.transaction() as session:
        factories.active_service(session, now=clock.now(), ready_for_service=date(2026, 11, 1))
    summary = run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=Seller("tests", None),
        clock=clock.now,
    )
    return summary.invoice_ids[0]


@pytest.mark.browser
@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_draft_line_saved_without_a_reason_says_so_at_the_top(
    browser: Browser, live_server: str, draft: int, width: str
) -> None:
    page = _page(browser, live_server, width)
    try:
        _log_in(page, "finance@azertelecom.az")
        page.goto(f"/finance/invoices/{draft}")
        line = page.locator(".draft-line").first
        line.get_by_role("button", name="Save line 1").click()
        field = line.get_by_label("Reason for the change")
        field_id = field.get_attribute("id")
        assert field_id
        _summary_has_focus_and_links(page, [field_id])
        assert _violations(page) == []
    finally:
        page.context.close()


@pytest.mark.browser
def test_an_open_menu_closes_when_the_focus_or_a_click_leaves_it(page: Page) -> None:
    _log_in(page, "admin@azertelecom.az")
    sales = page.locator("#nav-sales-toggle")
    finance = page.locator("#nav-finance-toggle")
    sales.click()
    expect(sales).to_have_attribute("aria-expanded", "true")
    finance.click()  # one menu open at a time
    expect(sales).to_have_attribute("aria-expanded", "false")
    expect(finance).to_have_attribute("aria-expanded", "true")
    page.locator("main h1").first.click()
    expect(finance).to_have_attribute("aria-expanded", "false")
    finance.focus()
    page.keyboard.press("Enter")
    expect(finance).to_have_attribute("aria-expanded", "true")
    page.locator("header .who ~ form button").focus()  # Log out, outside the navigation
    expect(finance).to_have_attribute("aria-expanded", "false")


def test_one_link_is_the_current_page_contracts_apart_from_services(client: FlaskClient) -> None:
    login(client, "sales@azertelecom.az")
    for url, current in (
        ("/contracts", "Contracts"),
        ("/services", "Services"),
        ("/quotes", "Quotes"),
    ):
        text = client.get(url).text
        marked = [
            part.split(">", 1)[1].split("<", 1)[0] for part in text.split('aria-current="page"')[1:]
        ]
        assert marked == [current], url
