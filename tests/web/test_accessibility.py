"""Every page meets WCAG 2.1 AA as axe-core checks it, and none scrolls sideways at 390 px.

axe-core is the engine browsers' accessibility tools use; axe-playwright-python ships its script,
so nothing is downloaded. The pages are the real ones, served by the live app, logged in as an
administrator (who sees every button and form).
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page

from tests import factories
from tests.helpers import PASSWORD

PAGES = [
    "/login",
    "/",
    "/availability?route=main&protection=unprotected&product=WL100G",
    "/customers",
    "/customers/new",
    "/quotes",
    "/quotes/new",
    "/services",
    "/pricebook",
    "/admin/users",
    "/admin/api-keys",
    "/admin/audit",
    "/reports/revenue-assurance",
    "/finance/fx-rates",
]
# The first of each kind of detail page, found by following the list's first link.
DETAILS = {"/customers": "/customers/", "/quotes": "/quotes/", "/services": "/services/"}
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture(autouse=True)
def _a_service(app: Flask) -> None:
    """An active service with its contract, so that every kind of detail page has one to show."""
    db = app.extensions["billing.db"]
    with db.transaction() as session:
        factories.active_service(session, now=app.extensions["billing.clock"].now())


def _log_in(page: Page) -> None:
    page.goto("/login")
    page.fill("input[name=email]", "admin@azertelecom.az")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def _all_pages(page: Page) -> list[str]:
    paths = list(PAGES)
    for listing, prefix in DETAILS.items():
        page.goto(listing)
        link = page.locator(f"main a[href^='{prefix}']").first
        href = link.get_attribute("href")
        assert href, f"{listing} links to no {prefix}…"
        paths.append(href)
    return paths


def _violations(result: Any) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result.response["violations"]
    ]


@pytest.mark.browser
def test_every_page_meets_wcag_21_aa(page: Page) -> None:
    axe = Axe()
    _log_in(page)
    found: dict[str, list[str]] = {}
    for path in _all_pages(page):
        page.goto(path)
        result = axe.run(page, options=WCAG_AA)
        assert result.response["passes"], f"axe checked nothing on {path}"
        problems = _violations(result)
        if problems:
            found[path] = problems
    assert found == {}


@pytest.mark.browser
def test_no_page_scrolls_sideways_on_a_phone(browser: Browser, live_server: str) -> None:
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        _log_in(page)
        widths = {}
        for path in _all_pages(page):
            page.goto(path)
            widths[path] = page.evaluate("document.documentElement.scrollWidth")
        assert {p: w for p, w in widths.items() if w > 390} == {}
    finally:
        context.close()
