"""Draft tools (issue 17): the PDF preview marked DRAFT, the expected due date, a one-off line
added with a reason, the terms an issued invoice froze, and the list of drafts with estimated
totals from which several are issued at once."""

from __future__ import annotations

import io
import re

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from billing.access.services import create_portal_login
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import Invoice, InvoiceLine
from billing.jobs.queue import run_worker
from billing.mail.services import add_contact
from billing.parties.customers import Seller
from billing.sequences import Sequence
from tests.helpers import FAST_HASH, PASSWORD, csrf_token, login
from tests.web.test_invoice_pages import (
    AZT_FINANCE,
    KTC_FINANCE,
    LIST,
    bill,
    issue,
    page_of,
    post,
    snapshot,
)


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_a_draft_previews_as_a_draft_pdf_and_shows_its_expected_due_date(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft = bill(db, clock, mrc="3000", nrc="500")
    login(client, AZT_FINANCE)
    html = page_of(client, draft.invoice_id)
    # Issued today (2026-11-25 in Baku) on the customer's 30 days.
    assert re.search(r'id="expected-due">2026-12-25 ', html)
    assert 'id="preview-pdf"' in html
    with db.transaction() as s:
        counters = list(s.execute(select(Sequence.name, Sequence.value)))

    response = client.get(f"{LIST}/{draft.invoice_id}/preview.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text = _text(response.data)
    assert "Invoice DRAFT — not yet numbered" in text and "DRAFT" in text
    assert "Due date: 2026-12-25" in text and "3,500.00" in text
    assert "Payment terms: 30 days net" in text
    with db.transaction() as s:
        assert list(s.execute(select(Sequence.name, Sequence.value))) == counters
        invoice = s.get_one(Invoice, draft.invoice_id)
        assert invoice.is_draft and invoice.pdf_sha256 is None and invoice.number is None

    # Any finance user may look at it; once issued there is no preview, only the PDF.
    login(client, KTC_FINANCE)
    assert client.get(f"{LIST}/{draft.invoice_id}/preview.pdf").status_code == 200
    number = issue(db, clock, draft.invoice_id)
    login(client, AZT_FINANCE)
    html = page_of(client, draft.invoice_id)
    assert 'id="preview-pdf"' not in html and 'id="expected-due"' not in html
    assert '<dd id="payment-terms">30 days net</dd>' in html
    assert '<dd id="account-currency">USD</dd>' in html
    assert re.search(r'<dd id="contract-numbers">[^<]+</dd>', html)
    refused = client.get(f"{LIST}/{draft.invoice_id}/preview.pdf")
    assert refused.status_code == 409 and number in refused.text
    issued = _text(client.get(f"{LIST}/{draft.invoice_id}/pdf").data)
    assert "DRAFT" not in issued and f"Invoice {number}" in issued


def test_a_draft_that_cannot_be_priced_offers_no_preview(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft = bill(db, clock, currency="KZT")
    login(client, AZT_FINANCE)
    assert 'id="preview-pdf"' not in page_of(client, draft.invoice_id)
    response = client.get(f"{LIST}/{draft.invoice_id}/preview.pdf")
    assert response.status_code == 422 and "USD/KZT" in response.text


def test_finance_adds_a_one_off_line_with_a_reason(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft = bill(db, clock, mrc="3000", nrc="0")
    login(client, AZT_FINANCE)
    url = f"{LIST}/{draft.invoice_id}/lines"
    html = page_of(client, draft.invoice_id)
    assert 'id="add-line"' in html and "none: kept whole by the issuer" in html
    service = re.search(r'<option value="(\d+)">TCF-[^<]+\(contract ', html)
    assert service is not None

    before = snapshot(db, draft.invoice_id)
    refused = post(
        client,
        url,
        draft.invoice_id,
        {
            "one-off-description": "Site survey",
            "one-off-quantity": "2",
            "one-off-unit_price": "12.345",
            "one-off-service_id": "0",
            "one-off-reason": "",
        },
    )
    assert refused.status_code == 422 and snapshot(db, draft.invoice_id) == before
    # Each bad field says why, where the error summary finds it.
    assert refused.text.count('class="field-error"') == 2
    assert 'value="Site survey"' in refused.text

    added = post(
        client,
        url,
        draft.invoice_id,
        {
            "one-off-description": "Site survey",
            "one-off-quantity": "2",
            "one-off-unit_price": "450",
            "one-off-service_id": service.group(1),
            "one-off-reason": "survey agreed with the customer",
        },
    )
    assert added.status_code == 302 and "#line-" in added.headers["Location"]
    html = page_of(client, draft.invoice_id)
    assert "Site survey" in html and "one-off: survey agreed with the customer" in html
    assert "$900.00" in html and "$3,900.00" in html  # the line, and the estimated total
    with db.transaction() as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "invoice_line.add")
        ).scalar_one()
        assert entry.after["reason"] == "survey agreed with the customer"  # type: ignore[index]

    # A one-off line deleted is gone: no run bills it again.
    with db.transaction() as s:
        added_id = s.execute(
            select(InvoiceLine.id).where(
                InvoiceLine.invoice_id == draft.invoice_id, InvoiceLine.charge_kind.is_(None)
            )
        ).scalar_one()
    deleted = post(client, f"{url}/{added_id}/delete", draft.invoice_id)
    assert deleted.status_code == 302
    assert "The one-off line was deleted." in page_of(client, draft.invoice_id)

    # Another party's finance has no form, and the service refuses them.
    login(client, KTC_FINANCE)
    assert 'id="add-line"' not in page_of(client, draft.invoice_id)
    other = post(
        client,
        url,
        draft.invoice_id,
        {
            "one-off-description": "x",
            "one-off-quantity": "1",
            "one-off-unit_price": "1",
            "one-off-service_id": "0",
            "one-off-reason": "r",
        },
    )
    assert other.status_code == 403


def test_finance_issues_selected_drafts_through_the_queue_after_a_question(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    first = bill(db, clock, mrc="3000", nrc="500")
    second = bill(db, clock, mrc="1000", nrc="0")
    kzt = bill(db, clock, currency="KZT")  # no USD/KZT rate: cannot be issued
    login(client, AZT_FINANCE)
    html = client.get(f"{LIST}?status=draft").text
    totals = re.search(r'<p id="draft-totals">(.*?)</p>', html, re.S)
    assert totals is not None
    assert "$4,500.00" in totals.group(1) and "1 draft cannot be issued yet" in totals.group(1)
    assert "≈ $3,500.00" in html and "cannot be issued yet: no USD/KZT" in html
    row = html.split(f'<tr id="invoice-{first.invoice_id}">', 1)[1].split("</tr>", 1)[0]
    assert '2026-12-25</span><br><span class="muted small">expected' in row
    assert f'aria-label="Select the draft for {first.customer}"' in html
    assert 'id="select-page"' in html and " checked" not in html.split('<table id="invoices">')[1]
    selected = client.get(f"{LIST}?status=draft&select=page").text
    assert selected.count('name="invoice_id"') == selected.count(" checked>") == 3
    # Without the draft filter there is nothing to select.
    assert 'name="invoice_id"' not in client.get(LIST).text

    ids = [first.invoice_id, second.invoice_id, kzt.invoice_id]
    token = csrf_token(html)
    question = client.post(f"{LIST}/issue-selected", data={"csrf_token": token, "invoice_id": ids})
    assert question.status_code == 200
    assert "Issue 2 invoices for $4,500.00?" in question.text
    assert 'id="bulk-not-ready"' in question.text and "USD/KZT" in question.text
    with db.transaction() as s:
        assert s.execute(select(Invoice.id).where(Invoice.number.is_not(None))).first() is None

    done = client.post(
        f"{LIST}/issue-selected/confirm",
        data={"csrf_token": csrf_token(question.text), "invoice_id": ids},
    )
    assert done.status_code == 302 and "/finance/bulk-issues/" in done.headers["Location"]
    if backend == "postgres":
        run_worker(app, wait=False)
    page = client.get(done.headers["Location"]).text
    assert 'id="bulk-done" class="num">3 of 3' in page
    assert 'id="bulk-issued" class="num">2' in page
    assert f"{kzt.invoice_id}: draft for {kzt.customer} not issued" in page
    assert "AZT-INV-2026-000001" in page and "AZT-INV-2026-000002" in page

    # A selection of an issued invoice is refused with a message, and nothing more is issued.
    again = client.post(
        f"{LIST}/issue-selected",
        data={"csrf_token": token, "invoice_id": [first.invoice_id]},
        follow_redirects=True,
    )
    assert "Nothing was issued" in again.text and "issued already" in again.text
    bad = client.post(
        f"{LIST}/issue-selected",
        data={"csrf_token": token, "invoice_id": ["x"]},
        follow_redirects=True,
    )
    assert bad.status_code == 200 and "the selection was not understood" in bad.text
    # Hostile selections are refused with a message on both steps, and nothing is written.
    before = snapshot(db, second.invoice_id)
    for url in (f"{LIST}/issue-selected", f"{LIST}/issue-selected/confirm"):
        for ids in ([], ["99999999999"], ["-1"], ["1e3"], ["99999"], ["1"] * 201):
            refused = client.post(url, data={"csrf_token": token, "invoice_id": ids})
            assert refused.status_code == 302, (url, ids)
            assert "/finance/invoices?status=draft" in refused.headers["Location"]
        # NUL is refused at the edge, as in every form (billing/input_guard.py).
        nul = client.post(url, data={"csrf_token": token, "invoice_id": ["\x00"]})
        assert nul.status_code == 400
        many = [str(i) for i in range(1, 202)]
        refused = client.post(url, data={"csrf_token": token, "invoice_id": many})
        assert refused.status_code == 302
        assert client.post(url, data={"invoice_id": [str(second.invoice_id)]}).status_code == 400
    assert snapshot(db, second.invoice_id) == before


def test_the_portal_invoice_shows_the_terms_frozen_at_issue(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft = bill(db, clock, mrc="3000", nrc="0")
    with db.transaction() as s:
        add_contact(
            s,
            draft.customer_id,
            {"name": "Anna Payables", "email": "ap@terms.example", "documents": ["invoices"]},
            editor=Seller("tests", None),
            now=clock.now(),
        )
        create_portal_login(
            s,
            customer_id=draft.customer_id,
            email="ops@terms.example",
            name="Ops",
            password=PASSWORD,
            actor="tests",
            now=clock.now(),
            hash_method=FAST_HASH,
        )
    number = issue(db, clock, draft.invoice_id)
    login(client, "ops@terms.example")
    html = client.get(f"/portal/invoices/{number}").text
    assert '<dd id="payment-terms">30 days net</dd>' in html
    assert '<dd id="billing-contact">Anna Payables &lt;ap@terms.example&gt;</dd>' in html
    assert '<dd id="account-currency">USD</dd>' in html
    assert re.search(r'<dd id="contract-numbers">[^<]+</dd>', html)
