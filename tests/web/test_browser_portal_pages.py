"""The portal's pages in a real browser at 1280 and 390 px, with axe (WCAG 2.1 AA) on each: the
portal menu (one Menu button on a phone), invoices with the bank details, an invoice's lines,
payments, services, a service, contracts, a contract, billing contacts, a contact's form and
the question before removing one; nothing scrolls sideways on a phone."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from billing.clock import FrozenClock
from billing.db import Database
from tests.helpers import PASSWORD
from tests.web.test_accessibility import WCAG_AA
from tests.web.test_portal_pages import EMAIL, build_world

pytestmark = pytest.mark.browser
WIDTHS = (1280, 390)


def _violations(page: Page, width: int) -> list[str]:
    result: Any = Axe().run(page, options=WCAG_AA)
    assert result.response["passes"], "axe checked nothing"
    found = [f"{width}px {page.url} {v['id']}: {v['help']}" for v in result.response["violations"]]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        found.append(f"{width}px {page.url}: the page scrolls sideways ({scroll} px)")
    return found


@pytest.mark.parametrize("width", WIDTHS)
def test_a_customer_walks_the_portal_at_both_widths(
    browser: Browser, live_server: str, db: Database, clock: FrozenClock, width: int
) -> None:
    world = build_world(db, clock)
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": 900})
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Portal Pages Carrier")
        expect(page.locator("#bank-details")).to_contain_text("IBAN AZ62AIIB38060019440020411200")
        nav = page.get_by_role("navigation", name="Main")
        menu = nav.get_by_role("button", name="Menu")
        page.wait_for_load_state("domcontentloaded")  # nav.js has set the menu up
        if width == 390:
            expect(menu).to_be_visible()
            expect(nav.get_by_role("link", name="Services")).to_be_hidden()
            menu.click()
            expect(menu).to_have_attribute("aria-expanded", "true")
        else:
            expect(menu).to_be_hidden()
        expect(nav.get_by_role("link", name="Invoices")).to_have_attribute("aria-current", "page")
        problems = _violations(page, width)

        nav.get_by_role("link", name="Services").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Services")
        expect(page.locator("#portal-services")).to_contain_text(world.service)
        problems += _violations(page, width)
        page.get_by_role("link", name=world.service).click()
        expect(page.locator("#active-since")).to_have_text("2026-11-01")
        problems += _violations(page, width)

        for path, heading in (
            (f"/portal/invoices/{world.invoice}", world.invoice),
            ("/portal/payments", "Payments"),
            ("/portal/contracts", "Contracts"),
            (f"/portal/contracts/{world.contract}", world.contract),
            ("/portal/contacts", "Billing contacts"),
            ("/portal/contacts/new", "New billing contact"),
            (f"/portal/contacts/{world.contact_id}/remove", "Remove billing contact"),
        ):
            page.goto(path)
            expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
            problems += _violations(page, width)
        expect(page.get_by_role("button", name="Remove")).to_be_visible()

        # A failed contact form: the summary at the top, then a good one saved.
        page.goto("/portal/contacts/new")
        page.get_by_role("button", name="Add contact").click()
        expect(page.locator("#error-summary")).to_be_focused()
        problems += _violations(page, width)
        page.get_by_label("Name").fill("Treasury")
        page.get_by_label("Email").fill(f"treasury{width}@portal-pages.example")
        page.get_by_role("button", name="Add contact").click()
        expect(page.locator("#portal-contacts")).to_contain_text(
            f"treasury{width}@portal-pages.example"
        )
        assert page.request.get(f"/portal/services/{world.their_service}").status == 404
        assert problems == []
    finally:
        context.close()


# The button that adds a billing contact, in each language (its failed form is checked too).
ADD_CONTACT = {"ru": "Добавить контакт", "az": "Əlaqə əlavə et", "kk": "Байланыс қосу"}


@pytest.mark.parametrize("language", ["ru", "az", "kk"])
def test_the_portal_in_each_language_meets_wcag_21_aa_on_a_phone(
    browser: Browser, live_server: str, db: Database, clock: FrozenClock, language: str
) -> None:
    """SPEC 14: every portal page in Russian, Azerbaijani and Kazakh at 390 px, and a refused
    contact form with its error summary: in its language, no axe violation, no sideways scroll."""
    world = build_world(db, clock)
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 900})
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.locator("#email").fill(EMAIL)
        page.locator("#password").fill(PASSWORD)
        page.locator("main button[type=submit]").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Portal Pages Carrier")
        page.locator("#ui-language").select_option(language)
        page.locator(".lang-form button").click()
        expect(page.locator("html")).to_have_attribute("lang", language)
        problems: list[str] = []
        for path in (
            "/portal/",
            "/portal/services",
            f"/portal/invoices/{world.invoice}",
            "/portal/payments",
            "/portal/contracts",
            f"/portal/contracts/{world.contract}",
            "/portal/contacts",
            "/portal/contacts/new",
            f"/portal/contacts/{world.contact_id}/remove",
            "/portal/webhooks",
        ):
            page.goto(path)
            expect(page.locator("html")).to_have_attribute("lang", language)
            problems += _violations(page, 390)
        page.goto("/portal/contacts/new")
        page.get_by_role("button", name=ADD_CONTACT[language]).click()
        expect(page.locator("#error-summary")).to_be_focused()
        problems += _violations(page, 390)
        assert problems == []
    finally:
        context.close()
