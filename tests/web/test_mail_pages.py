"""Email pages (SPEC 13): billing contacts kept on the customer's page by its owning party and
read in the portal; the outbox and each mail; the delivery log and resend on a document; the
mail settings page (never the password) with a test email."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from billing.access.services import create_portal_login
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.jobs.queue import run_worker
from billing.mail.documents import queue_test_mail
from billing.mail.models import BillingContact, Mail
from billing.mail.services import Recipient
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.settlement.services import approve_statement, build_statement
from tests import factories
from tests.helpers import FAST_HASH, PASSWORD, csrf_token, customer_id, login, post_form
from tests.web.test_accessibility import WCAG_AA

SILK = "Silk Route Carrier GmbH"  # an AZT customer of the demo
ANATOLIA = "Anatolia Backbone A.S."  # another AZT customer
KTC_SALES = "sales@kazakhtelecom.kz"
KTC_FINANCE = "finance@kazakhtelecom.kz"
AZT_FINANCE = "finance@azertelecom.az"
ADMIN = "admin@azertelecom.az"


def _run_jobs(app: Flask, backend: str) -> None:
    """On PostgreSQL a worker sends what the requests queued (on SQLite it ran in-process)."""
    if backend == "postgres":
        run_worker(app, wait=False)


def _contacts(db: Database, customer: int) -> list[tuple[str, str, str, list[str]]]:
    with db.transaction() as s:
        return [
            (c.name, c.email, c.language, c.documents)
            for c in s.execute(
                select(BillingContact)
                .where(BillingContact.customer_id == customer)
                .order_by(BillingContact.id)
            ).scalars()
        ]


def _contact_form(**values: object) -> dict[str, object]:
    return {
        "name": "Ana Accounts",
        "email": "ap@silkroute.example",
        "language": "ru",
        "invoices": "y",
        "credit_notes": "y",
        **values,
    }


def test_the_owning_partys_staff_keep_a_customers_billing_contacts(
    client: FlaskClient, db: Database
) -> None:
    silk = customer_id(db, SILK)
    # The demo seed made the contact email the first contact.
    assert _contacts(db, silk) == [
        (
            f"{SILK} accounts",
            "noc@silkroute.example",
            "en",
            ["invoices", "credit_notes", "reminders"],
        )
    ]
    login(client, AZT_FINANCE)
    page = client.get(f"/customers/{silk}")
    assert "Billing contacts" in page.text and "noc@silkroute.example" in page.text
    new = f"/customers/{silk}/contacts/new"
    for bad, field_message in (
        ({"email": "not-an-address"}, "not an email address"),
        ({"email": "a@b.example\r\nBcc: x@evil.example"}, "control characters"),
        ({"name": "Ana\r\nBcc: x@evil.example"}, "control characters"),
        ({"name": "x" * 201}, "200"),
        ({"email": "noc@silkroute.example"}, "already a contact"),
        ({"language": "de"}, "Not a valid choice"),
    ):
        refused = post_form(client, new, new, _contact_form(**bad))
        assert refused.status_code == 422, bad
        assert field_message in refused.text, (bad, refused.text)
    added = post_form(client, new, new, _contact_form())
    assert added.status_code == 302
    assert _contacts(db, silk)[1] == (
        "Ana Accounts",
        "ap@silkroute.example",
        "ru",
        ["invoices", "credit_notes"],
    )
    with db.transaction() as s:
        contact_id = s.execute(
            select(BillingContact.id).where(BillingContact.email == "ap@silkroute.example")
        ).scalar_one()
    edit = f"/customers/{silk}/contacts/{contact_id}/edit"
    assert "Ana Accounts" in client.get(edit).text
    edited = post_form(client, edit, edit, _contact_form(name="Ana Payables", reminders="y"))
    assert edited.status_code == 302
    assert _contacts(db, silk)[1][0] == "Ana Payables"
    assert _contacts(db, silk)[1][3] == ["invoices", "credit_notes", "reminders"]
    page_url = f"/customers/{silk}"
    removed = post_form(client, f"/customers/{silk}/contacts/{contact_id}/remove", page_url, {})
    assert removed.status_code == 302
    assert [c[1] for c in _contacts(db, silk)] == ["noc@silkroute.example"]
    with db.transaction() as s:
        actions = list(
            s.execute(
                select(AuditEntry.action)
                .where(AuditEntry.entity_id == str(contact_id))
                .where(AuditEntry.entity_type == "billing_contact")
                .order_by(AuditEntry.id)
            ).scalars()
        )
    assert actions == ["billing_contact.create", "billing_contact.update", "billing_contact.delete"]


@pytest.mark.parametrize("who", [KTC_SALES, KTC_FINANCE])
def test_the_other_partys_staff_cannot_change_the_contacts(
    client: FlaskClient, db: Database, who: str
) -> None:
    silk = customer_id(db, SILK)
    with db.transaction() as s:
        (contact,) = s.execute(
            select(BillingContact.id).where(BillingContact.customer_id == silk)
        ).scalars()
    login(client, who)
    page = client.get(f"/customers/{silk}")
    assert "noc@silkroute.example" in page.text
    assert f"/customers/{silk}/contacts/new" not in page.text
    assert client.get(f"/customers/{silk}/contacts/new").status_code == 403
    token = csrf_token(page.text)
    for url, data in (
        (f"/customers/{silk}/contacts/new", _contact_form()),
        (f"/customers/{silk}/contacts/{contact}/edit", _contact_form()),
        (f"/customers/{silk}/contacts/{contact}/remove", {}),
    ):
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 403
    # A contact of another customer is not found under this one.
    anatolia = customer_id(db, ANATOLIA)
    login(client, AZT_FINANCE)
    assert client.get(f"/customers/{anatolia}/contacts/{contact}/edit").status_code == 404
    assert len(_contacts(db, silk)) == 1


def test_the_portal_shows_the_customers_own_contacts_only(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    silk = customer_id(db, SILK)
    with db.transaction() as s:
        create_portal_login(
            s,
            customer_id=silk,
            email="ops@silk-portal.example",
            name="Silk Ops",
            password=PASSWORD,
            actor="tests",
            now=clock.now(),
            hash_method=FAST_HASH,
        )
    login(client, "ops@silk-portal.example")
    home = client.get("/portal/")
    assert home.status_code == 200
    assert "Billing contacts" in home.text and "noc@silkroute.example" in home.text
    assert "wholesale@anatolia.example" not in home.text
    # Staff pages stay closed to a portal login.
    assert client.get(f"/customers/{silk}/contacts/new").status_code == 403
    assert client.get("/mail").status_code == 403


def test_the_mail_settings_never_show_the_password_and_send_a_test_email(
    app: Flask, client: FlaskClient, db: Database, backend: str
) -> None:
    app.config["SMTP_URL"] = "smtp://mailer:hunter2-secret@127.0.0.1:1"
    login(client, AZT_FINANCE)
    settings = client.get("/mail/settings")
    assert settings.status_code == 200
    assert "127.0.0.1" in settings.text and "mailer" in settings.text
    assert "hunter2" not in settings.text
    assert "AzerTelecom Billing &lt;billing@azertelecom.example&gt;" in settings.text
    assert "Send test email" not in settings.text  # finance reads; an admin sends
    # The navigation marks the page it is on, not its neighbour in the same area.
    assert 'href="/mail/settings" aria-current="page"' not in settings.text  # finance: no link
    assert 'href="/mail" aria-current="page"' not in settings.text
    assert 'href="/mail" aria-current="page"' in client.get("/mail").text
    forbidden = post_form(client, "/mail/settings/test", "/mail/settings", {"party": "AZT"})
    assert forbidden.status_code == 403

    app.config["SMTP_URL"] = ""
    login(client, ADMIN)
    page = "/mail/settings"
    refused = post_form(client, "/mail/settings/test", page, {"party": "KTC", "email": "x@"})
    assert refused.status_code == 422 and "not an email address" in refused.text
    sent = post_form(
        client,
        "/mail/settings/test",
        page,
        {"party": "KTC", "name": "Desk", "email": "desk@example.com"},
    )
    assert sent.status_code == 302
    _run_jobs(app, backend)
    with db.transaction() as s:
        (mail,) = s.execute(select(Mail)).scalars()
        assert (mail.kind, mail.status, mail.answer) == ("test", "sent", "outbox (no SMTP_URL)")
        assert mail.recipients == [{"name": "Desk", "email": "desk@example.com"}]
        audit = s.execute(
            select(AuditEntry.action).where(AuditEntry.entity_type == "mail")
        ).scalar_one()
        assert audit == "mail.test"
    assert sent.headers["Location"].endswith(f"/mail/{mail.public_id}")
    outbox = client.get("/mail?status=sent&kind=test&q=Test+email")
    assert outbox.status_code == 200 and mail.public_id in outbox.text
    assert mail.public_id not in client.get("/mail?status=failed").text
    assert client.get("/mail?sort=-bogus&page=abc&status=nope").status_code == 200
    shown = client.get(f"/mail/{mail.public_id}")
    assert "Kazakhtelecom Billing &lt;billing@kazakhtelecom.example&gt;" in shown.text
    assert "Desk &lt;desk@example.com&gt;" in shown.text
    assert 'sandbox src="/mail/' in shown.text
    html = client.get(f"/mail/{mail.public_id}/html")
    assert html.mimetype == "text/html"
    assert html.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert client.get(f"/mail/{mail.public_id}/attachment").status_code == 404
    assert client.get("/mail/mail_nope").status_code == 404
    assert client.get("/mail/" + "x" * 500).status_code == 404
    # Resent: a new mail, the same words.
    again = post_form(client, f"/mail/{mail.public_id}/resend", f"/mail/{mail.public_id}", {})
    assert again.status_code == 302
    with db.transaction() as s:
        assert s.execute(select(Mail.subject).order_by(Mail.id)).scalars().all() == [
            mail.subject,
            mail.subject,
        ]
    login(client, "sales@azertelecom.az")
    assert client.get("/mail").status_code == 403


def test_an_invoice_page_shows_its_delivery_log_and_emails_it_again(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    app.config["SMTP_URL"] = ""
    system = Seller("tests", None)
    anatolia = customer_id(db, ANATOLIA)
    with db.transaction() as s:
        factories.active_service(
            s,
            now=clock.now(),
            customer=s.get(factories.Customer, anatolia),
            mrc=Decimal("2000"),
            ready_for_service=date(2026, 11, 1),
        )
    with app.app_context():  # the issued invoice's mail is sent in-process on SQLite
        summary = run_billing(
            db.transaction,
            period=parse_period("2026-11"),
            issuer_code="AZT",
            actor=system,
            clock=clock.now,
        )
        with db.transaction() as s:
            draft = s.execute(
                select(Invoice.id).where(
                    Invoice.customer_id == anatolia, Invoice.id.in_(summary.invoice_ids)
                )
            ).scalar_one()
            invoice = issue_invoice(s, draft, actor=system, now=clock.now(), render=render_invoices)
            invoice_id, number = invoice.id, invoice.number
    _run_jobs(app, backend)
    login(client, AZT_FINANCE)
    url = f"/finance/invoices/{invoice_id}"
    page = client.get(url)
    assert "Email delivery" in page.text
    sent_before = page.text.count("outbox (no SMTP_URL)")
    again = post_form(client, f"{url}/email", url, {})
    assert again.status_code == 302
    _run_jobs(app, backend)
    page = client.get(url)
    assert page.text.count("outbox (no SMTP_URL)") == sent_before + 1
    with db.transaction() as s:
        mails = list(s.execute(select(Mail).where(Mail.invoice_id == invoice_id)).scalars())
        assert mails[-1].subject == f"Invoice {number} from AzerTelecom"
        assert mails[-1].recipients == [
            {"name": f"{ANATOLIA} accounts", "email": "wholesale@anatolia.example"}
        ]
    # The other party's finance reads the log but cannot email AZT's invoice.
    login(client, KTC_FINANCE)
    refused = post_form(client, f"{url}/email", url, {})
    assert refused.status_code == 403


def test_an_approved_statement_shows_its_delivery_log_and_emails_it_again(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    app.config["SMTP_URL"] = ""
    clock.set(datetime(2026, 12, 1, 6, tzinfo=UTC))  # November has ended in both calendars
    with app.app_context(), db.transaction() as s:
        system = Seller("tests", None)
        sid = build_statement(s, "2026-11", "invoiced", actor=system, now=clock.now()).id
        for party in ("KTC", "AZT"):
            approve_statement(s, sid, actor=factories.party_seller(s, party), now=clock.now())
    _run_jobs(app, backend)

    def mails() -> list[tuple[str, str, list[str]]]:
        with db.transaction() as s:
            return [
                (m.kind, m.status, [r["email"] for r in m.recipients])
                for m in s.execute(
                    select(Mail).where(Mail.statement_id == sid).order_by(Mail.id)
                ).scalars()
            ]

    # Each party's approval tells the other party's finance users.
    assert mails() == [
        ("statement", "sent", [AZT_FINANCE]),
        ("statement", "sent", [KTC_FINANCE]),
    ]
    login(client, AZT_FINANCE)
    url = f"/finance/settlements/{sid}"
    page = client.get(url)
    assert "Email delivery" in page.text and page.text.count("outbox (no SMTP_URL)") == 2
    sent = post_form(client, f"{url}/email", url, {})
    assert sent.status_code == 302
    _run_jobs(app, backend)
    # Sent again from the asking user's party (AZT) to the other's finance users.
    assert mails()[2] == ("statement", "sent", [KTC_FINANCE])
    with db.transaction() as s:
        public_id = s.execute(select(Mail.public_id).order_by(Mail.id.desc())).scalars().first()
    assert public_id is not None and public_id in client.get(url).text
    attachment = client.get(f"/mail/{public_id}/attachment")
    assert attachment.status_code == 200 and attachment.data.startswith(b"%PDF")
    assert attachment.headers["Content-Disposition"].endswith('"settlement-2026-11-invoiced.pdf"')


@pytest.mark.browser
def test_the_mail_pages_pass_axe_fit_a_phone_and_ask_before_removing_a_contact(
    app: Flask, browser: Browser, live_server: str, db: Database, clock: FrozenClock
) -> None:
    silk = customer_id(db, SILK)
    with app.app_context(), db.transaction() as s:
        azt = s.execute(select(Party).where(Party.code == "AZT")).scalar_one()
        mail = queue_test_mail(
            s, azt.id, Recipient("Desk", "desk@example.com"), actor="tests", now=clock.now()
        )
    paths = [
        f"/customers/{silk}",
        f"/customers/{silk}/contacts/new",
        "/mail",
        f"/mail/{mail.public_id}",
        "/mail/settings",
    ]
    for width in (1280, 390):
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": 844}
        )
        context.set_default_timeout(5_000)
        page: Page = context.new_page()
        try:
            page.goto("/login")
            page.fill("input[name=email]", ADMIN)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)  # home: map or dashboard
            for path in paths:
                page.goto(path)
                if width == 390:
                    assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
                else:
                    result = Axe().run(page, options=WCAG_AA)
                    assert result.response["passes"], path
                    assert [v["id"] for v in result.response["violations"]] == [], path
            if width == 1280:
                page.goto(f"/customers/{silk}")
                remove = page.get_by_role("button", name="Remove noc@silkroute.example")
                page.once("dialog", lambda dialog: dialog.dismiss())
                remove.click()
                assert len(_contacts(db, silk)) == 1  # dismissed: nothing removed
                page.once("dialog", lambda dialog: dialog.accept())
                remove.click()
                page.wait_for_url(f"**/customers/{silk}#contacts")
                assert _contacts(db, silk) == []
                assert "No billing contacts" in page.locator("#contacts").inner_text()
        finally:
            context.close()
