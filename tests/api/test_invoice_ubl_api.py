"""GET /api/v1/invoices/{number} with `Accept: application/xml`: the UBL 2.1 e-invoice (SPEC 14),
chosen by content negotiation; JSON stays the default; 406 in the one error shape for an Accept
it cannot serve; another customer's document and a draft are not found, as for the PDF."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import credit_invoice, issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.queries import get_invoice
from tests import factories
from tests.api.test_invoice_api import ADMIN, INVOICES, World, _of, _run, seed  # noqa: F401
from tests.helpers import api_error, bearer, make_api_key

SCHEMAS = Path(__file__).parent.parent / "fixtures" / "ubl" / "maindoc"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
XML = {"Accept": "application/xml"}


def fake_render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF {d.number}".encode() for d in documents]


def _issue(db: Database, clock: FrozenClock, invoice_id: int) -> str:
    with db.transaction() as s:
        invoice = issue_invoice(s, invoice_id, actor=ADMIN, now=clock.now(), render=fake_render)
        assert invoice.number is not None
        return invoice.number


@pytest.fixture
def docs(app: Flask, db: Database, clock: FrozenClock) -> World:
    """test_invoice_api's world (its PDFs faked: the XML is what is tested here): customer A's
    October invoice partly credited, its November invoice and December draft; B's October one."""
    clock.set(datetime(2026, 10, 1, 9, tzinfo=UTC))
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        mine = factories.active_service(
            s, now=clock.now(), mrc=Decimal("3000"), ready_for_service=date(2026, 10, 1)
        )
        theirs = factories.active_service(
            s, now=clock.now(), mrc=Decimal("1000"), ready_for_service=date(2026, 10, 1)
        )
        a, b = mine.customer_id, theirs.customer_id
    october_ids = _run(db, clock, "2026-10")
    clock.set(datetime(2026, 10, 2, 9, tzinfo=UTC))
    october = _issue(db, clock, _of(db, october_ids, a))
    others = _issue(db, clock, _of(db, october_ids, b))
    clock.set(datetime(2026, 11, 25, 9, tzinfo=UTC))
    november = _issue(db, clock, _of(db, _run(db, clock, "2026-11"), a))
    draft_id = _of(db, _run(db, clock, "2026-12"), a)
    with db.transaction() as s:
        invoice = s.execute(select(Invoice).where(Invoice.number == october)).scalar_one()
        note = credit_invoice(
            s,
            invoice.id,
            amounts={invoice.lines[0].id: Decimal("100")},
            reason="goodwill",
            actor=ADMIN,
            now=clock.now(),
            render=fake_render,
        )
        assert note.number is not None
        credit_note = note.number
    return World(
        bearer(make_api_key(app, a)),
        bearer(make_api_key(app, b)),
        october,
        november,
        credit_note,
        others,
        draft_id,
    )


def _get(client: FlaskClient, docs: World, number: str, accept: str | None) -> Any:
    headers = dict(docs.key)
    if accept is not None:
        headers["Accept"] = accept
    return client.get(f"{INVOICES}/{number}", headers=headers)


def test_an_invoice_as_ubl_is_valid_and_says_what_the_json_says(
    client: FlaskClient, docs: World
) -> None:
    as_json = client.get(f"{INVOICES}/{docs.november}", headers=docs.key).get_json()
    response = client.get(f"{INVOICES}/{docs.november}", headers={**docs.key, **XML})
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/xml"
    assert "Accept" in response.headers["Vary"]
    assert f'filename="{docs.november}.xml"' in response.headers["Content-Disposition"]
    tree = etree.fromstring(response.data)
    etree.XMLSchema(etree.parse(str(SCHEMAS / "UBL-Invoice-2.1.xsd"))).assertValid(tree)
    assert tree.findtext(f"{CBC}ID") == docs.november
    assert tree.findtext(f"{CBC}IssueDate") == as_json["issue_date"]
    total = tree.find(".//{*}LegalMonetaryTotal")
    assert total is not None
    assert total.findtext(f"{CBC}PayableAmount") == as_json["total"]["amount"]
    assert total.findtext(f"{CBC}TaxExclusiveAmount") == as_json["subtotal"]["amount"]
    assert tree.findtext(f"{{*}}TaxTotal/{CBC}TaxAmount") == as_json["tax"]["amount"]


def test_a_credit_note_as_ubl_is_a_valid_credit_note(client: FlaskClient, docs: World) -> None:
    response = _get(client, docs, docs.credit_note, "application/xml")
    assert response.status_code == 200
    tree = etree.fromstring(response.data)
    etree.XMLSchema(etree.parse(str(SCHEMAS / "UBL-CreditNote-2.1.xsd"))).assertValid(tree)
    assert tree.findtext(f"{CBC}CreditNoteTypeCode") == "381"
    assert tree.findtext(f".//{{*}}InvoiceDocumentReference/{CBC}ID") == docs.october


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("application/*", "application/json"),
        ("application/xml;q=0.9, application/json", "application/json"),
        ("application/json;q=0.1, application/xml", "application/xml"),
        ("text/html, application/xml;q=0.5", "application/xml"),
    ],
)
def test_json_stays_the_default_and_xml_comes_when_preferred(
    client: FlaskClient, docs: World, accept: str | None, mimetype: str
) -> None:
    response = _get(client, docs, docs.november, accept)
    assert response.status_code == 200
    assert response.mimetype == mimetype


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "application/pdf",
        "application/xml;q=0, application/json;q=0",
        "image/*",
        "x" * 5000,
        ";;;,,,q=abc",
        "application/xml;q=NaN",
        "\u00e9/\u00e9",
    ],
)
def test_an_accept_it_cannot_serve_answers_406_in_the_one_error_shape(
    client: FlaskClient, docs: World, accept: str
) -> None:
    body = api_error(_get(client, docs, docs.november, accept), 406)
    assert body["type"] == "not_acceptable"


def test_another_customers_invoice_and_a_draft_are_not_found_as_xml(
    client: FlaskClient, db: Database, docs: World
) -> None:
    api_error(_get(client, docs, docs.others, "application/xml"), 404)
    with db.transaction() as s:
        assert get_invoice(s, docs.draft_id).is_draft
    for ref in (str(docs.draft_id), "AZT-INV-2026-999999"):
        api_error(_get(client, docs, ref, "application/xml"), 404)
