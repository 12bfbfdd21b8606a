"""Draft tools in the browser at 1280 and 390 px with axe (issue 17): the drafts list with its
estimates and selection, the bulk issue's question and progress, and a draft's page whose one-off
line failed (the error summary at the top) and then succeeded."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Page, expect

from billing.clock import FrozenClock
from billing.db import Database
from billing.jobs.queue import run_worker
from tests.helpers import PASSWORD
from tests.web.test_accessibility import WCAG_AA
from tests.web.test_invoice_pages import AZT_FINANCE, bill


@pytest.mark.browser
def test_drafts_are_estimated_selected_issued_and_given_one_off_lines(
    app: Flask, page: Page, db: Database, clock: FrozenClock, backend: str
) -> None:
    first = bill(db, clock, mrc="3000", nrc="500")
    bill(db, clock, mrc="1000", nrc="0")
    kzt = bill(db, clock, currency="KZT")
    problems: list[str] = []

    def check(where: str) -> None:
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            result: Any = Axe().run(page, options=WCAG_AA)
            assert result.response["passes"], "axe checked nothing"
            problems.extend(f"{where} {width}px {v['id']}" for v in result.response["violations"])
            if page.evaluate("document.documentElement.scrollWidth") > width:
                problems.append(f"{where} {width}px scrolls sideways")
        page.set_viewport_size({"width": 1280, "height": 900})

    page.goto("/login")
    page.get_by_label("Email").fill(AZT_FINANCE)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)

    # A draft's page: a one-off line without a reason fails where the eye is, then is added.
    page.goto(f"/finance/invoices/{first.invoice_id}")
    expect(page.locator("#expected-due")).to_contain_text("2026-12-25")
    form = page.locator("#add-line")
    form.get_by_label("Description").fill("Site survey")
    form.get_by_label("Unit price").fill("250")
    form.get_by_role("button", name="Add the line").click()
    expect(page.get_by_text("There is a problem")).to_be_visible()
    check("one-off refused")
    form = page.locator("#add-line")
    form.get_by_label("Reason for adding it").fill("agreed on site")
    form.get_by_role("button", name="Add the line").click()
    expect(page.locator("#invoice-lines")).to_contain_text("one-off: agreed on site")
    expect(page.locator("#totals")).to_contain_text("$3,750.00")

    # The drafts: estimates, their totals, select the page, the question, then the progress.
    page.goto("/finance/invoices?status=draft")
    expect(page.locator("#draft-totals")).to_contain_text("$4,750.00")
    expect(page.locator("#draft-totals")).to_contain_text("1 draft cannot be issued yet")
    check("drafts list")
    page.get_by_role("link", name="Select all on this page").click()
    expect(page.get_by_label(f"Select the draft for {kzt.customer}")).to_be_checked()
    page.get_by_role("button", name="Issue the selected drafts…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Issue 2 invoices for $4,750.00?")
    expect(page.locator("#bulk-not-ready")).to_be_visible()
    check("question")
    page.get_by_role("button", name="Issue 2 invoices").click()
    page.wait_for_url(lambda url: "/finance/bulk-issues/" in url)
    if backend == "postgres":
        # Queued until a worker takes it: the page follows it by itself.
        expect(page.locator("#bulk-state")).to_have_text("waiting for a worker")
        run_worker(app, wait=False)
    expect(page.locator("#bulk-done")).to_have_text("3 of 3")
    expect(page.locator("#bulk-issued")).to_have_text("2")
    expect(page.locator("#bulk-left")).to_contain_text("USD/KZT")
    check("progress")
    assert problems == []
