"""The UI in Russian, Azerbaijani and Kazakh in a real browser (Debian's Chromium, SPEC 14): a
user switches language with the header's picker (by keyboard), the finance dashboard, the invoice
list and the portal read in that language at 1280 and 390 px, axe finds no WCAG 2.1 AA violation,
nothing scrolls sideways, and the choice survives logout and login."""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from billing.clock import FrozenClock
from billing.db import Database
from tests.helpers import PASSWORD
from tests.web.test_accessibility import WCAG_AA
from tests.web.test_portal_pages import EMAIL as PORTAL_EMAIL
from tests.web.test_portal_pages import build_world

pytestmark = pytest.mark.browser
FINANCE = "finance@azertelecom.az"
WIDTHS = (1280, 390)
# Words each language's pages must show, and which only that language writes.
WORDS = {
    "ru": {
        "/finance": "Финансовая панель",
        "/finance/invoices": "Счета",
        "/portal/": "Кредитовый остаток",
    },
    "az": {
        "/finance": "Maliyyə paneli",
        "/finance/invoices": "Fakturalar",
        "/portal/": "Kredit qalığı",
    },
    "kk": {
        "/finance": "Қаржы тақтасы",
        "/finance/invoices": "Шот-фактуралар",
        "/portal/": "Кредиттік қалдық",
    },
}
TOTALS = {"ru": "Итоги", "az": "Yekunlar", "kk": "Қорытынды"}
LOG_OUT = {"ru": "Выйти", "az": "Çıxış", "kk": "Шығу", "en": "Log out"}
LOG_IN = {"ru": "Войти", "az": "Daxil ol", "kk": "Кіру", "en": "Log in"}


def _violations(result: Any) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result.response["violations"]
    ]


def _log_in(page: Page, email: str, language: str = "en") -> None:
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=LOG_IN[language], exact=True).click()
    expect(page.locator("main")).to_be_visible()


def _switch_by_keyboard(page: Page, language: str) -> None:
    """Tab to the picker, choose the language with the keyboard, press the button."""
    picker = page.locator("#ui-language")
    picker.focus()
    picker.select_option(language)
    page.keyboard.press("Tab")
    expect(page.locator(".lang-form button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", language)


def _check(page: Page, path: str, language: str, words: str) -> list[str]:
    """The page in `language`: its words, lang attribute, axe, and no sideways scroll."""
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("lang", language)
    text = page.locator("body").inner_text()
    assert words in text, (language, path)
    width = page.viewport_size["width"] if page.viewport_size else 0
    scroll = page.evaluate("document.documentElement.scrollWidth")
    problems = [f"{path} at {width}px scrolls sideways ({scroll}px)"] if scroll > width else []
    result = Axe().run(page, options=WCAG_AA)
    assert result.response["passes"], f"axe checked nothing on {path}"
    problems += [f"{path} {language} {width}px: {v}" for v in _violations(result)]
    return problems


def test_staff_pages_in_each_language_pass_axe_and_fit_a_phone(
    browser: Browser, live_server: str, db: Database, clock: FrozenClock
) -> None:
    build_world(db, clock)  # issued invoices, so the list and the dashboard hold amounts
    problems: list[str] = []
    for width in WIDTHS:
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": 900}
        )
        context.set_default_timeout(5_000)
        page = context.new_page()
        try:
            _log_in(page, FINANCE)
            for language, pages in WORDS.items():
                page.goto("/finance")
                _switch_by_keyboard(page, language)
                for path, words in pages.items():
                    if not path.startswith("/portal"):
                        problems += _check(page, path, language, words)
                # An issued invoice's page, reached from the list.
                href = page.locator("#invoices tbody a").first.get_attribute("href")
                assert href, "the invoice list links to no invoice"
                problems += _check(page, href, language, TOTALS[language])
        finally:
            context.close()
    assert problems == []


def test_portal_pages_in_each_language_pass_axe_and_fit_a_phone(
    browser: Browser, live_server: str, db: Database, clock: FrozenClock
) -> None:
    build_world(db, clock)
    problems: list[str] = []
    for width in WIDTHS:
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": 900}
        )
        context.set_default_timeout(5_000)
        page = context.new_page()
        try:
            _log_in(page, PORTAL_EMAIL)
            for language, pages in WORDS.items():
                page.goto("/portal/")
                _switch_by_keyboard(page, language)
                problems += _check(page, "/portal/", language, pages["/portal/"])
        finally:
            context.close()
    assert problems == []


def test_the_choice_survives_logout_and_login(page: Page) -> None:
    page.set_extra_http_headers({"Accept-Language": "en-US,en;q=0.9"})
    _log_in(page, FINANCE)
    page.goto("/finance")
    _switch_by_keyboard(page, "kk")
    expect(page.locator("#ui-language")).to_have_value("kk")
    page.get_by_role("button", name=LOG_OUT["kk"]).click()
    # Logged out: the login page follows the browser (English) again.
    expect(page.locator("html")).to_have_attribute("lang", "en")
    _log_in(page, FINANCE)
    page.goto("/finance")
    expect(page.locator("html")).to_have_attribute("lang", "kk")
    expect(page.locator("h1").first).to_contain_text("Қаржы тақтасы")


def test_a_visitor_switches_the_login_page_by_keyboard(page: Page) -> None:
    page.set_extra_http_headers({"Accept-Language": "ru-RU,ru;q=0.9"})
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("h1")).to_have_text("Войти")
    _switch_by_keyboard(page, "az")
    expect(page.locator("h1")).to_have_text("Daxil ol")
    expect(page.get_by_label(re.compile("^Dil"))).to_have_value("az")
