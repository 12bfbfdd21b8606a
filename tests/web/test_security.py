"""SPEC 8 security: headers on every response, the production secret key, in a real browser too."""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect
from sqlalchemy import select

from billing import create_app
from billing.access.models import User
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from tests.helpers import PASSWORD, csrf_token, login, post_form

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
        # Rendered by WeasyPrint (pdf), or email bodies (mail: mail clients want inline styles;
        # the outbox frames one under a CSP of its own): never served under the app's CSP.
        if path.parent.name in ("pdf", "mail"):
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


# --- sessions ---------------------------------------------------------------------------------

ADMIN = "admin@azertelecom.az"
SALES = "sales@azertelecom.az"


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def client_with(app: Flask, cookie: str) -> FlaskClient:
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def is_logged_out(response: Any) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def actions(db: Database) -> list[str]:
    with db.transaction() as s:
        return list(s.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


def user(db: Database, email: str) -> User:
    with db.transaction() as s:
        return s.execute(select(User).where(User.email == email)).scalar_one()


def test_a_session_cookie_copied_before_logout_is_refused_after_it(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    login(client, ADMIN)
    copied = session_cookie(client)
    assert client_with(app, copied).get("/admin/users").status_code == 200  # the copy works...
    response = post_form(client, "/logout", "/", {})
    assert is_logged_out(response)
    assert is_logged_out(client_with(app, copied).get("/admin/users"))  # ...and then no more
    assert is_logged_out(client.get("/"))
    assert actions(db)[-1] == "user.logout"
    login(client, ADMIN)  # a new login works as before
    assert client.get("/admin/users").status_code == 200


def test_logout_needs_a_post_with_the_csrf_token(client: FlaskClient) -> None:
    login(client, ADMIN)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/admin/users").status_code == 200  # still logged in


def test_an_idle_session_ends(client: FlaskClient, clock: FrozenClock) -> None:
    login(client, SALES)
    for _ in range(3):  # in use: 3 × 20 minutes is longer than the idle limit, but never idle
        clock.advance(timedelta(minutes=20))
        assert client.get("/").status_code == 200
    clock.advance(timedelta(minutes=31))
    response = client.get("/")
    assert is_logged_out(response)
    assert "without use" in client.get(response.headers["Location"]).text
    assert is_logged_out(client.get("/"))


def test_the_idle_limit_is_a_setting(app: Flask, client: FlaskClient, clock: FrozenClock) -> None:
    app.config["SESSION_IDLE_SECONDS"] = 120
    login(client, SALES)
    clock.advance(timedelta(minutes=3))
    assert is_logged_out(client.get("/"))


# --- login throttling -------------------------------------------------------------------------


def try_login(client: FlaskClient, email: str, password: str = "wrong-password") -> Any:  # noqa: S107
    token = csrf_token(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def shown_message(html: str) -> list[str]:
    return re.findall(r'<span class="field-error"[^>]*>([^<]*)</span>', html)


def test_more_than_ten_wrong_passwords_for_an_account_answer_429(
    client: FlaskClient, db: Database
) -> None:
    for _ in range(10):
        assert try_login(client, SALES).status_code == 401
    response = try_login(client, SALES, PASSWORD)  # even the right password waits now
    assert response.status_code == 429
    assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60 + 1
    assert "Too many failed logins" in response.text
    assert_security_headers(response)
    assert try_login(client, SALES.upper()).status_code == 429  # the same account
    assert is_logged_out(client.get("/"))
    assert actions(db).count("user.login_throttled") == 1  # once per window, not per attempt
    # Another account from the same address is not locked out by this one.
    login(client, ADMIN)


def test_known_and_unknown_accounts_are_throttled_alike(client: FlaskClient) -> None:
    answers = {}
    for email in (SALES, "nobody@example.com"):
        for _ in range(10):
            wrong = try_login(client, email)
            assert wrong.status_code == 401
        throttled = try_login(client, email)
        assert throttled.status_code == 429
        answers[email] = (shown_message(wrong.text), shown_message(throttled.text))
    assert answers[SALES] == answers["nobody@example.com"]


def test_wrong_passwords_are_throttled_per_client_address(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "5 per 15 minutes"
    for n in range(5):
        assert try_login(client, f"user{n}@example.com").status_code == 401
    response = try_login(client, ADMIN, PASSWORD)
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    with db.transaction() as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "user.login_throttled")
        ).scalar_one()
        assert entry.after is not None and entry.after["address"] == "127.0.0.1"
    # Another address is not held back.
    other = app.test_client()
    token = csrf_token(other.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.7"}).text)
    response = other.post(
        "/login",
        data={"email": ADMIN, "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert response.status_code == 302


def test_right_passwords_are_not_counted(client: FlaskClient) -> None:
    for _ in range(12):
        login(client, SALES)
        post_form(client, "/logout", "/", {})


# --- administering users ----------------------------------------------------------------------


def test_the_new_user_form_defaults_to_the_least_privilege(client: FlaskClient) -> None:
    login(client, ADMIN)
    html = client.get("/admin/users").text
    selected = re.search(r'<select[^>]*name="role".*?</select>', html, re.S)
    assert selected is not None
    assert re.search(
        r'<option selected value="sales">|<option value="sales" selected>', selected.group(0)
    )
    assert 'value="admin" selected' not in selected.group(0)


def test_deactivation_asks_first_then_ends_the_users_sessions(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    sales = app.test_client()
    login(sales, SALES)
    victim = user(db, SALES)
    login(client, ADMIN)
    page = client.get(f"/admin/users/{victim.id}/deactivate")  # the confirmation, nothing done
    assert page.status_code == 200
    assert f"Deactivate {SALES}?" in page.text
    assert user(db, SALES).active and sales.get("/").status_code == 200

    # Without the form's CSRF token nothing changes.
    assert client.post(f"/admin/users/{victim.id}/deactivate").status_code == 400
    assert user(db, SALES).active

    response = client.post(
        f"/admin/users/{victim.id}/deactivate", data={"csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 302
    assert not user(db, SALES).active
    assert is_logged_out(sales.get("/"))  # the open session ended
    assert try_login(app.test_client(), SALES, PASSWORD).status_code == 401
    assert "user.deactivate" in actions(db)

    post_form(client, f"/admin/users/{victim.id}/reactivate", "/admin/users", {})
    assert user(db, SALES).active
    assert "user.reactivate" in actions(db)
    login(sales, SALES)


def test_an_admin_cannot_deactivate_themselves(client: FlaskClient, db: Database) -> None:
    login(client, ADMIN)
    me = user(db, ADMIN)
    response = post_form(client, f"/admin/users/{me.id}/deactivate", "/admin/users", {})
    assert response.status_code == 302
    assert user(db, ADMIN).active
    assert client.get("/admin/users").status_code == 200


def test_a_password_reset_ends_the_users_sessions(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    sales = app.test_client()
    login(sales, SALES)
    victim = user(db, SALES)
    login(client, ADMIN)
    url = f"/admin/users/{victim.id}/password"
    short = post_form(client, url, url, {"password": "short"})
    assert short.status_code == 422
    response = post_form(client, url, url, {"password": "a-new-password-2026"})
    assert response.status_code == 302
    assert is_logged_out(sales.get("/"))
    assert try_login(app.test_client(), SALES, PASSWORD).status_code == 401
    assert try_login(app.test_client(), SALES, "a-new-password-2026").status_code == 302
    assert actions(db)[-2:] == ["user.password_reset", "user.login"]
    with db.transaction() as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "user.password_reset")
        ).scalar_one()
        assert "hash" not in str(entry.before) + str(entry.after)


def test_an_admin_who_changes_their_own_password_stays_logged_in(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    login(client, ADMIN)
    copied = session_cookie(client)
    url = f"/admin/users/{user(db, ADMIN).id}/password"
    post_form(client, url, url, {"password": "a-new-password-2026"})
    assert client.get("/admin/users").status_code == 200
    assert is_logged_out(client_with(app, copied).get("/admin/users"))


@pytest.mark.parametrize("email", [SALES, "finance@kazakhtelecom.kz"])
def test_only_admins_administer_users(client: FlaskClient, db: Database, email: str) -> None:
    login(client, email)
    target = user(db, ADMIN)
    assert client.get(f"/admin/users/{target.id}/deactivate").status_code == 403
    token = csrf_token(client.get("/", follow_redirects=True).text)
    for action in ("deactivate", "password"):
        response = client.post(
            f"/admin/users/{target.id}/{action}",
            data={"csrf_token": token, "password": "a-new-password-2026"},
        )
        assert response.status_code == 403
    assert user(db, ADMIN).active


# --- logs -------------------------------------------------------------------------------------

SECRET_HASH = "scrypt:32768:8:1$Zx8Tq1$" + "ab" * 32
SECRET_KEY_HASH = "cd" * 32
SECRET_API_KEY = "tcf_" + "Q" * 43


def test_a_server_error_logs_no_hash_key_cookie_or_sql_parameter(
    app: Flask, client: FlaskClient
) -> None:
    """A database error whose statement carries secrets: the 500 is logged, the secrets not."""
    from sqlalchemy import text

    from billing.extensions import session
    from billing.logs import JsonFormatter

    @app.get("/boom")
    def boom() -> str:
        session().execute(
            text("SELECT no_such_column FROM users WHERE password_hash = :h AND email = :k"),
            {"h": SECRET_HASH, "k": SECRET_KEY_HASH},
        )
        return "unreachable"

    app.config["PROPAGATE_EXCEPTIONS"] = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("billing")
    logger.addHandler(handler)
    try:
        login(client, ADMIN)
        cookie = session_cookie(client)
        response = client.get("/boom", headers={"Authorization": f"Bearer {SECRET_API_KEY}"})
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 500
    logged = stream.getvalue()
    assert "no_such_column" in logged  # the error itself is there to debug
    for secret in (SECRET_HASH, SECRET_KEY_HASH, SECRET_API_KEY, cookie, "[parameters:"):
        assert secret not in logged
    assert "'" + SECRET_HASH[:20] not in logged


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("[parameters: ('scrypt:1$a$b', 'x@y.az')]", "[parameters: redacted]"),
        ("password_hash='pbkdf2:sha256:1000$salt$beef'", "[password hash redacted]"),
        ("Authorization: Bearer tcf_abcdefghijklmnop", "[API key redacted]"),
        ("Cookie: session=eyJfdXNlcl9pZCI6.abc.def; other=1", "session=[redacted]"),
        ("DETAIL:  Key (key_hash)=(" + "e" * 64 + ") already exists.", "Key (key_hash)=(redacted)"),
        (
            "DETAIL:  Failing row contains (1, secret@x.az, hash).",
            "Failing row contains (redacted)",
        ),
        ("STRIPE_SECRET_KEY=sk_live_51Habcdefghijklmnop", "[Stripe key redacted]"),
        ("api_key='rk_test_51Habcdefghijklmnop'", "[Stripe key redacted]"),
        ("STRIPE_WEBHOOK_SECRET=whsec_abcdefghijklmnop", "[Stripe key redacted]"),
        ("Stripe-Signature: t=1764150000,v1=abc123,v0=def", "Stripe-Signature: [redacted]"),
    ],
)
def test_log_redaction(line: str, kept: str) -> None:
    from billing.logs import redact

    assert kept in redact(line)
    assert redact(line) != line
