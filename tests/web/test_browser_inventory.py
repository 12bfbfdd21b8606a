"""The spectrum pages in a real browser (Debian's Chromium): log in, check, hold, see, allocate."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser


def log_in(page: Page, email: str = "sales@azertelecom.az") -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Spectrum map")).to_be_visible()


def check(page: Page, protection: str, product: str) -> None:
    page.get_by_role("button", name="Sales").click()
    page.get_by_role("link", name="Availability", exact=True).click()
    query = page.locator("form.query")
    query.get_by_label("Route").select_option(label="Main route (Aktau – Siyazan)")
    query.get_by_label("Protection").select_option(protection)
    query.get_by_label("Product").select_option(product)
    query.get_by_role("button", name="Check").click()


def test_sales_holds_spectrum_sees_it_on_the_map_and_releases_it(page: Page) -> None:
    log_in(page)
    maps = page.locator("svg.spectrum")
    expect(maps).to_have_count(8)
    shown = {(m.get_attribute("data-segment"), m.get_attribute("data-pair")) for m in maps.all()}
    assert shown == {(s, str(n)) for s in ("S1", "S2") for n in range(1, 5)}
    expect(page.locator("svg.spectrum rect.slot-hold")).to_have_count(0)

    check(page, "unprotected", "WL400G")
    expect(page.locator("#suggestion")).to_contain_text("main route fiber pair 1, slots 0–5")
    hold_form = page.locator("#hold-form")
    hold_form.get_by_label("Customer").select_option(label="Silk Route Carrier GmbH")
    hold_form.get_by_role("button", name="Hold").click()

    expect(page.locator(".flash.success")).to_contain_text(
        "Reservation 1 holds S1 fiber pair 1 slots 0–5"
    )
    row = page.locator("#reservation-1")
    expect(row).to_contain_text("WL400G")
    expect(row).to_contain_text("Silk Route Carrier GmbH")
    expect(row).to_contain_text("held")
    # The query stays as it was, and the next first fit moved past the hold.
    expect(page.locator("#suggestion")).to_contain_text("main route fiber pair 1, slots 6–11")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    held = page.locator('svg.spectrum[data-segment="S1"][data-pair="1"] rect.slot-hold')
    expect(held).to_have_count(1)
    expect(held.locator("title")).to_contain_text("slots 0–5")
    expect(held.locator("title")).to_contain_text("Silk Route Carrier GmbH")
    expect(page.locator('svg.spectrum[data-segment="S2"] rect')).to_have_count(0)

    # A hold is never allocated by hand: it is released, extended or quoted; releasing asks.
    page.get_by_role("button", name="Sales").click()
    page.get_by_role("link", name="Availability", exact=True).click()
    row = page.locator("#reservation-1")
    expect(row.get_by_role("button", name="Allocate")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Release").click()
    expect(row).to_contain_text("held")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Release").click()
    expect(page.locator(".flash.success")).to_contain_text("Reservation 1 released.")
    expect(page.locator("#reservation-1")).to_contain_text("released")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    s1 = page.locator('svg.spectrum[data-segment="S1"][data-pair="1"]')
    expect(s1.locator("rect")).to_have_count(0)


def test_a_protected_hold_shows_on_both_routes(page: Page) -> None:
    log_in(page)
    check(page, "protected", "WL100G")
    expect(page.locator("#suggestion")).to_contain_text(
        "main route fiber pair 1, slots 0–3; reserve route fiber pair 1, slots 0–3"
    )
    page.locator("#hold-form").get_by_role("button", name="Hold").click()
    expect(page.locator(".flash.success")).to_contain_text(
        "S1 fiber pair 1 slots 0–3, S2 fiber pair 1 slots 0–3"
    )

    page.get_by_role("link", name="Dashboard", exact=True).click()
    for segment in ("S1", "S2"):
        held = page.locator(f'svg.spectrum[data-segment="{segment}"][data-pair="1"] rect.slot-hold')
        expect(held).to_have_count(1)
        expect(held.locator("title")).to_contain_text("slots 0–3")
