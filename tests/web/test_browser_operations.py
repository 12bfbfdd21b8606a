"""Operations' pages and a service's availability in the browser at 1280 and 390 px with axe
(issue 18): the outages list, the outage form refused (the error summary at the top) and then
recorded, and the staff service page's Availability with finance waiving a month after the
question."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from billing.clock import FrozenClock
from billing.db import Database
from billing.sla.outages import record_outage
from tests.helpers import PASSWORD
from tests.web.test_accessibility import WCAG_AA
from tests.web.test_operations_pages import FINANCE, NOC, _service_with_a_bad_october


def _log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.browser
def test_outages_and_a_services_availability_at_both_widths(
    page: Page, db: Database, clock: FrozenClock
) -> None:
    circuit, _ = _service_with_a_bad_october(db, clock)
    with db.transaction() as s:
        record_outage(
            s,
            {"segment": "S2", "start": "2026-11-25T07:30Z", "cause": "Power", "ticket": "INC-NOW"},
            actor="noc@example.test",
            now=clock.now(),
        )
    problems: list[str] = []

    def check(where: str) -> None:
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            result: Any = Axe().run(page, options=WCAG_AA)
            assert result.response["passes"], "axe checked nothing"
            problems.extend(
                f"{where} {width}px {v['id']} {[n['target'] for n in v['nodes']]}"
                for v in result.response["violations"]
            )
            if page.evaluate("document.documentElement.scrollWidth") > width:
                problems.append(f"{where} {width}px scrolls sideways")
        page.set_viewport_size({"width": 1280, "height": 900})

    _log_in(page, NOC)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Outages")
    expect(page.locator("#outages")).to_contain_text("ongoing")
    expect(page.locator("#outages")).to_contain_text("224")
    check("outages list")

    # The form: no cause, so it fails where the eye is; then it is recorded.
    page.get_by_role("link", name="Record an outage").click()
    form = page.locator("#outage-form")
    form.locator("#segment").select_option("S1")
    form.locator("#start").fill("2026-11-24T13:05")
    form.locator("#zone").select_option("Asia/Almaty")
    form.locator("#ticket").fill("INC-ALA")
    form.get_by_role("button", name="Record the outage").click()
    expect(page.get_by_text("There is a problem")).to_be_visible()
    check("outage form refused")
    page.locator("#cause").fill("Splice failure")
    page.locator("#outage-form").get_by_role("button", name="Record the outage").click()
    expect(page.locator("#outages")).to_contain_text("INC-ALA")
    expect(page.locator("#outages")).to_contain_text("2026-11-24 08:05")  # 13:05 in Almaty

    # Finance on the service page: the months, and a waive after the question.
    page.get_by_role("button", name="Log out").click()
    _log_in(page, FINANCE)
    page.goto(f"/services/{circuit}")
    months = page.locator("#availability-months")
    expect(months).to_contain_text("October 2026")
    expect(months.locator("#sla-2026-10")).to_contain_text("99.49%")
    expect(months.locator("#sla-2026-10")).to_contain_text("-$600.00")
    check("service availability")
    page.get_by_text("Waive or grant the October 2026 credit").click()
    waive = page.locator("#waive-2026-10-form")
    waive.locator("#waive-2026-10-reason").fill("Planned works agreed")
    waive.get_by_role("button", name="Waive…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Waive the October 2026 credit")
    check("waive question")
    page.get_by_role("button", name="Waive the October 2026 credit").click()
    expect(page.locator("#sla-2026-10")).to_contain_text("waived")
    expect(page.locator("#sla-2026-10")).to_contain_text("Planned works agreed")
    check("service waived")
    assert problems == []
