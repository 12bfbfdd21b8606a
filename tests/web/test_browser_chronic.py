"""Chronic failure where people see it (SPEC 7), in Chromium at 1280 and 390 px with axe: the
flagged service's page says the customer may end it without the early-termination charge, its
contract page records the right, and the finance dashboard lists it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.sla_credits import check_chronic_failures
from billing.sla.outages import record_outage
from tests import factories
from tests.helpers import PASSWORD
from tests.web.test_accessibility import WCAG_AA


def _flagged(db: Database, clock: FrozenClock) -> tuple[str, int]:
    now = clock.now()  # 2026-11-25; the demo seed has the SLA policies
    with db.transaction() as s:
        service = factories.active_service(
            s,
            now=datetime(2026, 6, 1, 8, tzinfo=UTC),
            mrc=Decimal("1000"),
            nrc=Decimal("0"),
            term_months=24,
            ready_for_service=date(2026, 6, 1),
        )
        for month in (8, 9, 10):
            record_outage(
                s,
                {
                    "segment": "S1",
                    "start": f"2026-{month:02d}-10T06:00Z",
                    "end": f"2026-{month:02d}-10T11:00Z",
                    "cause": "Fiber cut",
                    "ticket": f"INC-{month}",
                },
                actor="noc@azertelecom.az",
                now=now,
            )
        check_chronic_failures(s, now=now, actor="tests")
        return service.circuit_id, service.contract_id


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_a_chronically_failing_service_is_flagged_on_its_pages_and_the_dashboard(
    browser: Browser, live_server: str, app: Flask, clock: FrozenClock, width: int
) -> None:
    db: Database = app.extensions["billing.db"]
    circuit, contract_id = _flagged(db, clock)
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": 844})
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=email]", "finance@azertelecom.az")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        for path, selector, words in (
            (f"/services/{circuit}", "#chronic-failure", "without the early-termination charge"),
            (f"/contracts/{contract_id}", "#chronic-rights", circuit),
            ("/finance", "#chronic", circuit),
        ):
            page.goto(path)
            note = page.locator(selector)
            assert note.is_visible(), path
            assert words in note.inner_text(), path
            assert "August 2026" in note.inner_text() or "Aug 2026" in note.inner_text()
            result = Axe().run(page, options=WCAG_AA)
            assert result.response["violations"] == [], (path, result.response["violations"])
            assert page.evaluate("document.documentElement.scrollWidth") <= width, path
    finally:
        context.close()
