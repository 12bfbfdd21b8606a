"""E-invoices on the finance pages (SPEC 14): the staff download of the UBL XML, and the legal
invoice reference of the national clearance systems entered by the issuer's finance (CSRF,
audited, issued documents only, the other party refused)."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.models import Invoice
from tests.helpers import login
from tests.web.test_invoice_pages import (
    AZT_FINANCE,
    KTC_FINANCE,
    LIST,
    SYSTEM,
    bill,
    page_of,
    post,
    snapshot,
)

SCHEMA = Path(__file__).parent.parent / "fixtures" / "ubl" / "maindoc" / "UBL-Invoice-2.1.xsd"


def fake_render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF {d.number}".encode() for d in documents]


def issue(db: Database, clock: FrozenClock, invoice_id: int) -> str:
    with db.transaction() as s:
        number = issue_invoice(s, invoice_id, actor=SYSTEM, now=clock.now(), render=fake_render)
        assert number.number
        return number.number


def _legal(db: Database, invoice_id: int) -> tuple[str, str]:
    with db.transaction() as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice.legal_reference, invoice.legal_reference_status


def test_finance_downloads_an_issued_invoice_as_ubl_and_a_draft_has_none(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft, issued = bill(db, clock), bill(db, clock)
    number = issue(db, clock, issued.invoice_id)
    login(client, AZT_FINANCE)
    html = page_of(client, issued.invoice_id)
    assert f'href="{LIST}/{issued.invoice_id}/ubl.xml"' in html
    assert "Download UBL XML" in html
    response = client.get(f"{LIST}/{issued.invoice_id}/ubl.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert f'attachment; filename="{number}.xml"' == response.headers["Content-Disposition"]
    tree = etree.fromstring(response.data)
    etree.XMLSchema(etree.parse(str(SCHEMA))).assertValid(tree)
    assert tree.findtext("{*}ID") == number
    assert "ubl.xml" not in page_of(client, draft.invoice_id)
    assert client.get(f"{LIST}/{draft.invoice_id}/ubl.xml").status_code == 404


def test_the_issuers_finance_records_the_legal_reference_audited(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    issued = bill(db, clock)
    issue(db, clock, issued.invoice_id)
    login(client, AZT_FINANCE)
    assert 'id="legal-reference"' in page_of(client, issued.invoice_id)
    url = f"{LIST}/{issued.invoice_id}/legal-reference"
    response = post(
        client, url, issued.invoice_id, {"reference": " EQ-2026-0012345 ", "status": "accepted"}
    )
    assert response.status_code == 302
    assert _legal(db, issued.invoice_id) == ("EQ-2026-0012345", "accepted")
    html = page_of(client, issued.invoice_id)
    assert "EQ-2026-0012345" in html
    with db.transaction() as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "invoice.legal_reference")
        ).scalar_one()
        assert entry.entity_id == str(issued.invoice_id)
    xml = client.get(f"{LIST}/{issued.invoice_id}/ubl.xml").data
    assert b"Legal invoice reference: EQ-2026-0012345" in xml


def test_a_bad_legal_reference_is_a_form_message_and_nothing_is_stored(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    issued = bill(db, clock)
    issue(db, clock, issued.invoice_id)
    login(client, AZT_FINANCE)
    url = f"{LIST}/{issued.invoice_id}/legal-reference"
    before = snapshot(db, issued.invoice_id)
    for data, message in (
        ({"reference": "", "status": "accepted"}, "has the number the authority gave it"),
        ({"reference": "x" * 65, "status": "submitted"}, "64"),
        ({"reference": "ok", "status": "lost"}, "Not a valid choice"),
    ):
        response = post(client, url, issued.invoice_id, data)
        assert response.status_code == 422, data
        assert message in response.text, data
        assert _legal(db, issued.invoice_id) == ("", "not_submitted")
    # Without its CSRF token the form changes nothing.
    assert client.post(url, data={"reference": "X", "status": "submitted"}).status_code == 400
    assert snapshot(db, issued.invoice_id) == before


def test_the_other_partys_finance_cannot_record_it_and_a_draft_has_none(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft, issued = bill(db, clock), bill(db, clock)
    issue(db, clock, issued.invoice_id)
    login(client, KTC_FINANCE)
    assert 'id="save-legal-reference"' not in page_of(client, issued.invoice_id)
    before = snapshot(db, issued.invoice_id)
    response = post(
        client,
        f"{LIST}/{issued.invoice_id}/legal-reference",
        issued.invoice_id,
        {"reference": "ESF-1", "status": "submitted"},
    )
    assert response.status_code == 403
    assert "only AZT" in response.text
    assert snapshot(db, issued.invoice_id) == before
    login(client, AZT_FINANCE)
    response = post(
        client,
        f"{LIST}/{draft.invoice_id}/legal-reference",
        draft.invoice_id,
        {"reference": "ESF-1", "status": "submitted"},
    )
    assert response.status_code == 409
    assert _legal(db, draft.invoice_id) == ("", "not_submitted")
