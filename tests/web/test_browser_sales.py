"""Quote to active service in a real browser (Debian's Chromium), as AZT sales would do it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import func, select

from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.models import Allocation
from billing.sales.models import Contract
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser


def log_in(page: Page, email: str = "sales@azertelecom.az") -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Spectrum map")).to_be_visible()


def test_a_protected_100g_lease_from_quote_to_active_service(
    page: Page, clock: FrozenClock, db: Database
) -> None:
    log_in(page)
    page.get_by_role("button", name="Sales").click()
    page.get_by_role("link", name="Quotes", exact=True).click()
    page.get_by_role("link", name="New quote").click()

    page.get_by_label(re.compile("^Customer")).select_option(label="Silk Route Carrier GmbH (AZT)")
    page.get_by_label("Line 1 Route", exact=True).select_option(
        label="Main route (Aktau – Siyazan)"
    )
    page.get_by_label("Line 1 Protection", exact=True).select_option("protected")
    page.get_by_label("Line 1 Product", exact=True).select_option(label="100G wavelength")
    page.get_by_label("Line 1 Model", exact=True).select_option(label="Lease")
    page.get_by_label("Line 1 Term (months)", exact=True).fill("12")
    page.get_by_role("button", name="Preview prices and availability").click()

    preview = page.locator("#quote-preview")
    expect(preview).to_contain_text("Available: 1 of 1 unit fits")
    expect(preview).to_contain_text("Unit 1: first fit main FP1 slots 0–3 + reserve FP1 slots 0–3")
    mrc = preview.locator("tr.charge", has_text="MRC")
    expect(mrc).to_contain_text("10,800.00")  # 6,000 × 1.8 for 1+1 protection, 12 months
    expect(preview.locator('[data-total="monthly"]')).to_have_text("$10,800.00")
    expect(preview.locator('[data-total="one-time"]')).to_have_text("$9,000.00")
    # Previewing held nothing: the builder still says what saving will do.
    expect(preview).to_contain_text("Saving holds the first free spectrum")

    page.get_by_role("button", name="Save quote and hold spectrum").click()
    expect(page).to_have_url(re.compile(r"/quotes/\d+$"))
    expect(page.locator(".flash.success")).to_contain_text(
        "Quote Q-2026-000001 saved. Its spectrum is held until 2026-12-09 09:00 UTC."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Quote Q-2026-000001 open")
    unit = page.locator('tr[data-unit="1"]')
    expect(unit).to_contain_text("S1 fiber pair 1 · slots 0–3")
    expect(unit).to_contain_text("S2 fiber pair 1 · slots 0–3")
    expect(unit.locator(".badge.hold")).to_have_count(2)

    # Accepting asks first; dismissing the question changes nothing.
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Accept: sign contract").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Quote Q-2026-000001 open")
    assert asked == [
        "Accept Q-2026-000001 for Silk Route Carrier GmbH? "
        "This signs a contract and allocates its spectrum."
    ]
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Contract)).scalar_one() == 0
        assert set(s.execute(select(Allocation.state)).scalars()) == {"hold"}

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Accept: sign contract").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contract C-2026-000001")
    expect(page.locator(".flash.success")).to_contain_text("TCF-WL-000001")

    page.get_by_role("link", name="TCF-WL-000001").click()
    expect(page.locator("#service-state")).to_have_text("pending")
    today = clock.now().date().isoformat()
    activate = page.locator("#activate-form")
    activate.get_by_label("Ready for service").fill(today)
    activate.get_by_role("button", name="Activate").click()

    expect(page.locator(".flash.success")).to_have_text("TCF-WL-000001 is now active.")
    expect(page.locator("#service-state")).to_have_text("active")
    expect(page.locator("#rfs-date")).to_have_text(today)
    history = page.locator("#history li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text(
        f"activated service TCF-WL-000001 with effect from {today}"
    )
    expect(history.nth(1)).to_contain_text("making contract C-2026-000001")
    expect(page.locator("#suspend-form")).to_be_visible()  # the next step is on offer
