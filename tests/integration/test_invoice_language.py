"""Each customer's invoice language (SPEC 14): a Kazakh customer's invoice from KTC prints
Russian (or Kazakh) beside English, with the tax rule's legal note in both; the language is
frozen at issue, a credit note prints in its invoice's, and English-only customers get no
second language. Real PDFs, read back as text; both databases."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError
from billing.invoicing.issuing import credit_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.services import record_fx_rate
from billing.parties.customers import Seller, update_customer
from billing.parties.models import Customer
from tests import factories

CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def pdf_text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _kazakh_customer(db: Database, clock: FrozenClock, **values: object) -> int:
    with db.transaction() as s:
        customer = factories.customer(
            s, now=clock.now(), owner="KTC", country="KZ", currency="USD", **values
        )
        # KTC shows the VAT in tenge too: the day's USD/KZT rate.
        record_fx_rate(
            s,
            base="USD",
            quote="KZT",
            rate=Decimal("512.34"),
            on=date(2026, 11, 25),
            actor="tests",
            now=clock.now(),
        )
        factories.active_service(
            s,
            now=clock.now(),
            customer=customer,
            mrc=Decimal("2000"),
            ready_for_service=date(2026, 11, 1),
        )
        return customer.id


def test_a_kazakh_customer_gets_russian_beside_english_with_both_legal_notes(
    db: Database, clock: FrozenClock
) -> None:
    customer_id = _kazakh_customer(db, clock)
    with db.transaction() as s:
        assert s.get(Customer, customer_id).invoice_language == "ru"  # its country's default
    invoice = factories.bill_and_issue(db, clock, customer_id, issuer="KTC")
    assert invoice.language == "ru"
    text = pdf_text(invoice.pdf or b"")
    assert "Kazakhstan VAT at 16%" in text
    assert "НДС Республики Казахстан по ставке 16%" in text
    assert "Invoice" in text and CYRILLIC.search(text)


def test_the_language_is_frozen_at_issue_and_a_credit_note_prints_in_its_invoices(
    db: Database, clock: FrozenClock
) -> None:
    customer_id = _kazakh_customer(db, clock, invoice_language="kk")
    invoice = factories.bill_and_issue(db, clock, customer_id, issuer="KTC")
    stored = invoice.pdf
    assert invoice.language == "kk"
    assert "Қазақстан Республикасының ҚҚС 16% мөлшерлемесі бойынша" in pdf_text(stored or b"")
    with db.transaction() as s:
        update_customer(
            s,
            customer_id,
            {"invoice_language": "en"},
            seller=Seller("tests", None),
            now=clock.now(),
        )
    with db.transaction() as s:
        again = s.get(Invoice, invoice.id)
        assert again is not None and again.language == "kk" and again.pdf == stored
        note = credit_invoice(
            s,
            invoice.id,
            amounts=None,
            reason="Outage credit",
            actor=Seller("tests", None),
            now=clock.now(),
            render=render_invoices,
        )
        assert note.language == "kk"
        assert "Қазақстан Республикасының ҚҚС" in pdf_text(note.pdf or b"")
        changes = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "customer.update",
                AuditEntry.entity_id == str(customer_id),
            )
        ).all()
        assert any((c.after or {}).get("invoice_language") == "en" for c in changes)


def test_an_english_only_customer_gets_no_second_language(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now(), country="DE")
        assert customer.invoice_language == "en"
        factories.active_service(
            s, now=clock.now(), customer=customer, ready_for_service=date(2026, 11, 1)
        )
        customer_id = customer.id
    invoice = factories.bill_and_issue(db, clock, customer_id)
    text = pdf_text(invoice.pdf or b"")
    assert invoice.language == "en"
    assert "Export of services" in text
    assert not CYRILLIC.search(text) and "ƏDV" not in text


def test_an_unknown_invoice_language_is_refused(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s, pytest.raises(InvalidRequestError) as refused:
        factories.customer(s, now=clock.now(), invoice_language="fr")
    assert "invoice_language" in refused.value.errors
