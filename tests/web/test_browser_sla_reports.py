"""Availability and the segment report in a real browser at 1280 and 390 px, with axe (WCAG 2.1
AA) on each state: the portal's service page with its months and the billed credit, the SLA
statements it links to, the operators' segment report, with a bad range put in the error
summary, and the statement's month chosen on a customer's page; nothing scrolls sideways on a
phone."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from billing.clock import FrozenClock
from billing.db import Database
from tests.helpers import PASSWORD
from tests.web.test_accessibility import WCAG_AA
from tests.web.test_sla_statements import EMAIL, _world

pytestmark = pytest.mark.browser
WIDTHS = (1280, 390)


@pytest.fixture
def seed() -> str:
    return "reference"


def _violations(page: Page, width: int) -> list[str]:
    result: Any = Axe().run(page, options=WCAG_AA)
    assert result.response["passes"], "axe checked nothing"
    found = [f"{width}px {page.url} {v['id']}: {v['help']}" for v in result.response["violations"]]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        found.append(f"{width}px {page.url}: the page scrolls sideways ({scroll} px)")
    return found


def _log_in(browser: Browser, live_server: str, width: int, email: str) -> Page:
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": 900})
    context.set_default_timeout(5_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    return page


@pytest.mark.parametrize("width", WIDTHS)
def test_availability_in_the_portal_and_the_segment_report(
    browser: Browser, live_server: str, db: Database, clock: FrozenClock, width: int
) -> None:
    world = _world(db, clock)
    page = _log_in(browser, live_server, width, EMAIL)
    try:
        page.goto(f"/portal/services/{world.circuit}")
        section = page.locator("#availability")
        expect(section.get_by_role("heading", level=2)).to_have_text("Availability")
        october = page.locator("#sla-2026-10")
        expect(october).to_contain_text("99.49%")
        expect(october).to_contain_text("below target")
        expect(october.get_by_role("link", name=world.invoice)).to_be_visible()
        problems = _violations(page, width)
        section.get_by_role("link", name="SLA statements").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("SLA statements")
        expect(page.get_by_role("link", name="October 2026 as PDF")).to_be_visible()
        problems += _violations(page, width)
    finally:
        page.context.close()

    page = _log_in(browser, live_server, width, "noc@azertelecom.az")
    try:
        page.goto("/reports/segments")
        expect(page.get_by_role("heading", level=1)).to_have_text("Segment report")
        expect(page.locator("#segment-S1")).to_contain_text("Oct 2026: 224 min")
        problems += _violations(page, width)
        page.get_by_label("First month (YYYY-MM)").fill("2026-13")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#error-summary")).to_be_focused()
        expect(page.locator("#error-summary")).to_contain_text("YYYY-MM")
        problems += _violations(page, width)
    finally:
        page.context.close()

    # Finance of the customer's party choose a month for its statement on the customer page.
    page = _log_in(browser, live_server, width, "finance@azertelecom.az")
    try:
        page.goto(f"/customers/{world.customer_id}")
        form = page.locator("#sla-statement-form")
        form.get_by_label("Month").select_option("2026-10")
        expect(form.get_by_role("button", name="Download CSV")).to_be_visible()
        problems += _violations(page, width)
        with page.expect_download() as download:
            form.get_by_role("button", name="Download PDF").click()
        assert download.value.suggested_filename.endswith("-2026-10.pdf")
        assert problems == []
    finally:
        page.context.close()
