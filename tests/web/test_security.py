"""SPEC 8 security: headers on every response, the production secret key, in a real browser too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from billing import create_app
from tests.helpers import PASSWORD, login

STRONG_KEY = "k" * 32


def assert_security_headers(response: object, *, hsts: bool = False) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers.get("Content-Security-Policy", "")
    directives = dict(
        (part.split(" ", 1) + [""])[:2] for part in (p.strip() for p in csp.split(";")) if part
    )
    assert directives.get("default-src") == "'self'", csp
    assert directives.get("script-src") == "'self'", csp  # no inline script, nothing off-site
    assert directives.get("frame-ancestors") == "'none'", csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy")
    assert ("Strict-Transport-Security" in headers) is hsts


@pytest.mark.parametrize(
    "url",
    [
        "/login",  # a page
        "/",  # a redirect to the login
        "/static/app.css",  # a static file
        "/no-such-page",  # an error page
        "/api/v1/routes",  # the API, refusing a missing key
        "/api/v1/openapi.json",
        "/api/v1/docs",
        "/api/v1/docs/assets/swagger-ui-bundle.js",
        "/healthz",
    ],
)
def test_every_response_carries_the_security_headers(client: FlaskClient, url: str) -> None:
    with client.get(url) as response:  # closed: a static file is streamed from disk
        assert_security_headers(response)


def test_pages_of_a_logged_in_user_and_form_errors_carry_them_too(client: FlaskClient) -> None:
    assert_security_headers(client.post("/login", data={}))  # 400, the form refused
    login(client, "admin@azertelecom.az")
    for url in ("/", "/availability", "/admin/users", "/admin/audit"):
        response = client.get(url)
        assert response.status_code == 200
        assert_security_headers(response)


def test_hsts_in_production_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    production = create_app(
        {"DATABASE_URL": url, "BILLING_ENV": "production", "SECRET_KEY": STRONG_KEY}
    )
    assert_security_headers(production.test_client().get("/healthz"), hsts=True)
    production.extensions["billing.db"].dispose()
    development = create_app({"DATABASE_URL": url, "BILLING_ENV": "development"})
    assert_security_headers(development.test_client().get("/healthz"), hsts=False)
    development.extensions["billing.db"].dispose()


@pytest.mark.parametrize("key", ["x", "k" * 31, "é" * 15])
def test_production_refuses_a_short_secret_key(tmp_path: Path, key: str) -> None:
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
                "BILLING_ENV": "production",
                "SECRET_KEY": key,
            }
        )


def test_templates_carry_no_inline_script_or_style() -> None:
    """CSP refuses them in the browser; catch them before a page breaks."""
    templates = Path(__file__).resolve().parents[2] / "templates"
    offending = []
    for path in templates.rglob("*.html"):
        if path.parent.name == "pdf":  # rendered by WeasyPrint, never served to a browser
            continue
        text = path.read_text()
        for pattern in (
            r"<script(?![^>]*\bsrc=)[^>]*>",
            r"\son[a-z]+\s*=",
            r"\sstyle\s*=",
            r"<style",
        ):
            offending += [f"{path.name}: {m}" for m in re.findall(pattern, text)]
    assert offending == []


# --- in a real browser ----------------------------------------------------------------------


def csp_violations(page: Page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda m: found.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return found


@pytest.mark.browser
def test_pages_run_under_the_policy_without_a_violation(page: Page) -> None:
    violations = csp_violations(page)
    page.goto("/login")
    page.get_by_label("Email").fill("admin@azertelecom.az")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Spectrum map")).to_be_visible()
    # The axis, the usage bars and the legend's colours are drawn without inline styles.
    tick = page.locator("svg.spectrum-axis text.thz").first
    expect(tick).to_contain_text("THz")
    expect(page.locator("svg.spectrum-axis").first.locator("text.thz")).to_have_count(7)
    bar = page.locator(".usage svg.bar").first
    assert bar.bounding_box()["width"] > 50  # type: ignore[index]
    for url in ("/availability", "/quotes", "/services", "/customers", "/admin/users"):
        page.goto(url)
    assert violations == []


@pytest.mark.browser
def test_api_docs_work_under_the_policy(page: Page) -> None:
    violations = csp_violations(page)
    page.goto("/api/v1/docs")
    expect(page.get_by_text("Trans-Caspian Fiber wholesale API").first).to_be_visible()
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert violations == []


@pytest.mark.browser
def test_no_page_of_the_platform_can_be_framed(page: Page, live_server: str) -> None:
    page.set_content(f'<iframe id="f" src="{live_server}/login"></iframe>')
    frame = page.frame_locator("#f")
    expect(frame.get_by_role("button", name="Log in")).to_have_count(0)
