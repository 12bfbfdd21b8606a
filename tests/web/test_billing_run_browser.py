"""A billing run followed in a real browser (Debian's Chromium) on PostgreSQL: finance asks for
the month from the page, a worker bills and issues it in chunks while the run's page is open, and
the page reaches "finished" by itself, without a reload; axe checks the page while the run waits
for its worker and when it has finished, at 1280 px and at 390 px (no sideways scroll)."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import BillingRun, Invoice
from billing.jobs.queue import run_worker
from tests import factories
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
CUSTOMERS = 4


def _violations(page: Page, width: int) -> list[str]:
    page.set_viewport_size({"width": width, "height": 900})
    result = Axe().run(page, options=WCAG_AA)
    assert result.response["passes"], "axe checked nothing"
    found = [f"{width}px {v['id']}: {v['help']}" for v in result.response["violations"]]
    if width <= 390:
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            found.append(f"{width}px: the page scrolls sideways ({scroll} px)")
    return found


def test_the_run_page_follows_a_worker_to_finished_without_a_reload(
    app: Flask, backend: str, page: Page, clock: FrozenClock, db: Database
) -> None:
    if backend != "postgres":
        pytest.skip("a worker process runs the queue on PostgreSQL; SQLite runs it in-process")
    app.config["MONTH_END_BILL_CHUNK"] = 1  # one customer per job: the counts move in steps
    app.config["MONTH_END_ISSUE_CHUNK"] = 1
    with db.transaction() as s:
        for n in range(CUSTOMERS):
            customer = factories.customer(s, now=clock.now(), owner="AZT", country="DE")
            customer.legal_name = f"Browser Run Carrier {n}"
            factories.active_service(
                s,
                now=clock.now(),
                customer=customer,
                mrc=Decimal("3000"),
                nrc=Decimal("500"),
                ready_for_service=date(2026, 11, 1),
            )

    page.goto("/login")
    page.get_by_label("Email").fill("finance@azertelecom.az")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/finance/billing-runs")
    page.get_by_label("Month").fill("2026-11")
    page.get_by_label("Issue the drafts too").check()
    page.get_by_role("button", name="Run billing").click()
    # The run asks first, saying how many invoices it would make and for how much.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Run billing for 2026-11 and issue the invoices?"
    )
    expect(page.locator("#estimate-summary")).to_have_text(
        f"{CUSTOMERS} invoices for ${CUSTOMERS * 3500:,}.00 (AZT)."
    )
    asked = _violations(page, 1280) + _violations(page, 390)
    page.set_viewport_size({"width": 1280, "height": 900})
    # Starting the run queues its jobs before the answer: on a loaded machine that can take
    # longer than a page's usual 5 s, so the click waits for its navigation longer.
    page.get_by_role("button", name=f"Run billing and issue {CUSTOMERS} invoices").click(
        timeout=20_000
    )
    page.wait_for_url("**/finance/billing-runs/*", timeout=20_000)
    run_url = page.url

    # No worker yet: the run waits, the page says so and offers Cancel and Refresh.
    expect(page.locator(".flash.success")).to_contain_text(
        "Billing run of 2026-11 for AZT requested."
    )
    expect(page.locator("#run-state")).to_have_text("queued")
    expect(page.locator("#run-charges")).to_have_text("0")
    expect(page.get_by_role("button", name="Cancel the run")).to_be_visible()
    expect(page.get_by_role("link", name="Refresh")).to_be_visible()
    problems = asked + _violations(page, 1280) + _violations(page, 390)
    page.set_viewport_size({"width": 1280, "height": 900})
    # A mark only this document carries: were the page reloaded, it would be gone.
    page.evaluate("window.__sameDocument = true")

    worker_error: list[BaseException] = []

    def work() -> None:
        try:
            run_worker(app, wait=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            worker_error.append(exc)

    worker = threading.Thread(target=work, name="month-end-worker", daemon=True)
    worker.start()
    expect(page.locator("#run-state")).to_have_text("finished", timeout=60_000)
    worker.join(timeout=60)
    assert not worker.is_alive() and worker_error == []

    assert page.url == run_url
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    expect(page.locator("#run-phase")).to_have_text("Done")
    expect(page.locator("[aria-live=polite]")).to_contain_text("Done")
    expect(page.locator("#run-customers")).to_have_text(f"{CUSTOMERS} of {CUSTOMERS}")
    expect(page.locator("#run-charges")).to_have_text(str(2 * CUSTOMERS))
    expect(page.locator("#run-issued")).to_have_text(str(CUSTOMERS))
    expect(page.locator("#run-rendered")).to_have_text(str(CUSTOMERS))
    expect(page.locator("#run-totals")).to_have_text("$14,000.00")
    expect(page.locator("#run-invoice-links a")).to_have_count(CUSTOMERS)
    expect(page.locator("#run-invoice-links")).to_contain_text("AZT-INV-2026-000001")
    expect(page.get_by_role("button", name="Cancel the run")).to_be_hidden()
    expect(page.locator("#run-refresh")).to_be_hidden()
    problems += _violations(page, 1280) + _violations(page, 390)
    assert problems == []

    with db.transaction() as s:
        run: Any = s.execute(select(BillingRun)).scalar_one()
        assert run.state == "finished"
        issued = s.execute(
            select(func.count(Invoice.id)).where(Invoice.status == "issued")
        ).scalar_one()
        assert issued == CUSTOMERS
