"""The finance dashboard's page (SPEC 10): finance land on it after logging in and see their own
party's figures, each panel linking to the list it sums (filtered that way); administrators reach
it from the Finance menu and see every party; sales cannot open it and keep the spectrum map.
In a browser at 1280 and 390 px it meets WCAG 2.1 AA and never scrolls sideways."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import unquote

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect

from billing.db import Database
from billing.web.dashboard import bar_chart
from tests.helpers import PASSWORD, login
from tests.integration.test_finance_dashboard import TODAY, build_world
from tests.web.test_accessibility import WCAG_AA

AZT_FINANCE = "finance@azertelecom.az"
KTC_FINANCE = "finance@kazakhtelecom.kz"
ADMIN = "admin@azertelecom.az"
SALES = "sales@azertelecom.az"


def _links(html: str) -> list[str]:
    return [unquote(unescape(h)) for h in re.findall(r'href="([^"]+)"', html)]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_finance_land_on_their_dashboard_and_see_their_party(
    app: Flask, db: Database, client: FlaskClient
) -> None:
    build_world(db, app.extensions["billing.clock"].now())
    login(client, AZT_FINANCE)
    home = client.get("/")
    assert home.status_code == 302 and home.location.endswith("/finance")
    page = client.get("/finance")
    assert page.status_code == 200
    text, links = _text(page.text), _links(page.text)
    assert "Figures of the invoices and payments AZT issued and received" in text
    # Receivables by age, each bucket linking to the receivables filtered that way.
    assert "/finance/receivables?issuer=AZT&currency=USD&age=31–60" in links
    assert "1,500.00" in text and "2,454.00" in text
    # Cash collected in November, linking to the payments of the month.
    assert "/finance/payments?issuer=AZT&currency=USD&month=2026-11" in links
    assert "$400.00" in text
    # The chart and its table: a net negative October, and zero months.
    assert 'role="img"' in page.text and 'aria-labelledby="billed-USD-title' in page.text
    assert "October 2026 -500.00" in text and "August 2026 0.00" in text
    # DSO, defined on the page.
    assert "DSO = open receivables ÷ invoice totals" in text and "77.4 days" in text
    # A run with a draft left, and the disputed invoice, each linked.
    assert any(re.fullmatch(r"/finance/billing-runs/\d+", link) for link in links)
    assert "1 draft waiting to be issued" in text
    assert "AZT-INV-2026-000003" in text and "The circuit was down for a week" in text
    # KTC's receivables and cash are not AZT's: no 90+ receivable, no KTC payment...
    own = _text(page.text.split('id="billed-per-month"')[0])
    assert "800.00" not in own and "250.00" not in text
    # ... but the billing per month shows both operators side by side (KTC's July).
    assert "July 2026 0.00 800.00" in text
    # The map stays one link away.
    assert client.get("/?view=map").status_code == 200


def test_the_lists_the_panels_link_to_are_filtered_that_way(
    app: Flask, db: Database, client: FlaskClient
) -> None:
    build_world(db, app.extensions["billing.clock"].now())
    login(client, AZT_FINANCE)
    late = client.get("/finance/receivables?issuer=AZT&currency=USD&age=31–60")
    assert late.status_code == 200
    numbers = re.findall(r"AZT-INV-2026-\d+", late.text.split('id="receivables"')[1])
    assert numbers == ["AZT-INV-2026-000001"]
    csv = client.get("/finance/receivables?issuer=AZT&currency=USD&age=31–60&format=csv")
    assert csv.text.count("AZT-INV-") == 1
    month = client.get("/finance/payments?issuer=AZT&currency=USD&month=2026-11")
    rows = month.text.split('id="payments"')[1]
    assert "400.00" in rows and "50.00" not in rows and "250.00" not in rows
    # Bad filters are dropped with a message, never a 500.
    for url in (
        "/finance/receivables?age=nonsense&currency=XXX&issuer=ZZZ",
        "/finance/payments?month=2026-13&currency=usd",
        "/finance/payments?month=-1",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "was ignored" in response.text, url


def test_administrators_see_every_party_and_reach_it_from_the_menu(
    app: Flask, db: Database, client: FlaskClient
) -> None:
    build_world(db, app.extensions["billing.clock"].now())
    login(client, ADMIN)
    home = client.get("/")
    assert home.status_code == 200 and "Spectrum map" in home.text
    assert 'href="/finance">Finance dashboard</a>' in home.text
    text = _text(client.get("/finance").text)
    assert "Figures of every issuing party" in text
    assert "800.00" in text and "$250.00" in text and "102.6 days" in text


def test_sales_cannot_open_it_and_keep_the_map(client: FlaskClient) -> None:
    login(client, SALES)
    assert client.get("/finance").status_code == 403
    home = client.get("/")
    assert home.status_code == 200 and "Spectrum map" in home.text
    assert "Finance dashboard" not in home.text


def test_every_panel_says_something_when_empty(client: FlaskClient) -> None:
    login(client, KTC_FINANCE)
    text = _text(client.get("/finance").text)
    for message in (
        "Nothing is owed",
        "No payment has been received this month yet.",
        "Nothing was issued in these twelve months.",
        "Nothing is owed and nothing was billed in the last 90 days.",
        "No billing run is running",
        "No invoice is in dispute.",
    ):
        assert message in text


def test_bar_heights_follow_the_amounts() -> None:
    from billing.money import Money
    from billing.reports.dashboard import BilledSeries, last_months

    months = last_months(TODAY, 3)
    dollars = [Money(a, "USD") for a in ("100", "-50", "0")]
    chart = bar_chart("USD", [BilledSeries("AZT", "USD", tuple(dollars))], months)
    high, low, empty = chart.bars
    # 150 of span over 180 units: 100 is 120 high above the baseline, -50 is 60 below it.
    assert (high.height, low.height, empty.height) == (120, 60, 0)
    assert high.y + high.height == chart.baseline == low.y
    assert "AZT, September 2026: USD 100.00" in high.title


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_the_dashboard_in_a_browser(
    browser: Browser, live_server: str, app: Flask, db: Database, width: int
) -> None:
    build_world(db, app.extensions["billing.clock"].now())
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": 844})
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=email]", AZT_FINANCE)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/finance")  # finance land on their dashboard
        expect(page.get_by_role("heading", level=1)).to_contain_text("Finance dashboard")
        expect(page.get_by_role("img", name=re.compile("Billed per month in USD"))).to_be_visible()
        expect(page.locator("#billed-USD-table")).to_be_visible()
        result: Any = Axe().run(page, options=WCAG_AA)
        assert result.response["passes"]
        assert result.response["violations"] == [], result.response["violations"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # A bucket leads to the receivables filtered that way.
        page.locator("#ageing-by-currency a", has_text="1,500.00").click()
        page.wait_for_url(re.compile(r"/finance/receivables\?.*age="))
        expect(page.locator("#receivables tbody tr")).to_have_count(1)
    finally:
        context.close()
