"""UBL 2.1 e-invoices with Peppol BIS Billing 3.0 content (SPEC 14), on both databases: a
standard-rated invoice, a reverse-charge one and a credit note, each valid against the official
OASIS UBL 2.1 schemas (tests/fixtures/ubl, see its NOTICE.md), with the amounts of the invoice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import ConflictError
from billing.invoicing.einvoice import NotAnEInvoiceError, einvoice_data
from billing.invoicing.issuing import credit_invoice, issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.queries import get_invoice
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.services import add_tax_rule, record_fx_rate
from billing.invoicing.ubl import CUSTOMIZATION_ID, ubl_xml
from billing.parties.customers import Seller, update_customer
from billing.parties.models import Party
from tests import factories

SCHEMAS = Path(__file__).parent.parent / "fixtures" / "ubl" / "maindoc"
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}
ADMIN = Seller("admin@example.test (admin)", None)


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture(scope="module")
def invoice_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "UBL-Invoice-2.1.xsd")))


@pytest.fixture(scope="module")
def credit_note_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "UBL-CreditNote-2.1.xsd")))


def fake_render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF {d.number}".encode() for d in documents]


def at(clock: FrozenClock, *args: int) -> datetime:
    clock.set(datetime(*args, tzinfo=UTC))  # type: ignore[misc]
    return clock.now()


def _azt(s: Session) -> Party:
    return s.execute(select(Party).where(Party.code == "AZT")).scalar_one()


@pytest.fixture
def world(db: Database, clock: FrozenClock) -> dict[str, int]:
    """AZT with its address, VAT id and account; an Azerbaijani customer (VAT 18 %, S) and a
    German one under a reverse-charge rule (AE), each with one leased circuit billed for
    November 2026 and issued."""
    now = at(clock, 2026, 10, 1, 8)
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
        azt = _azt(s)
        azt.street, azt.city, azt.postal_code = "Bakikhanov str. 38", "Baku", "AZ1065"
        azt.vat_id, azt.iban, azt.bic = (
            "AZ1400057421",
            "AZ62AIIB38060019440020411200",
            "AIIBAZ2X",
        )
        add_tax_rule(
            s,
            issuer=azt,
            customer_country="DE",
            rate_percent=Decimal(0),
            name="VAT reverse charge",
            legal_note="Reverse charge: the customer accounts for the VAT",
            effective_from=None,
            effective_to=None,
            actor=ADMIN,
            now=now,
            category_code="AE",
            exemption_reason_code="VATEX-EU-AE",
            exemption_reason="Reverse charge",
        )
        local = factories.customer(
            s,
            now=now,
            country="AZ",
            street="Neftchilar ave. 153",
            city="Baku",
            postal_code="AZ1010",
            vat_id="az 1700767721",
            tax_id="1700767721",
        )
        german = factories.customer(
            s,
            now=now,
            country="DE",
            street="Kaiserstrasse 10",
            city="Frankfurt am Main",
            postal_code="60311",
            vat_id="DE811907980",
        )
        for customer in (local, german):
            factories.active_service(
                s, now=now, customer=customer, mrc=Decimal("5600.00"), nrc=Decimal(0)
            )
        ids = {"local": local.id, "german": german.id}
    at(clock, 2026, 12, 1, 9)
    with db.transaction() as s:
        # The VAT of a USD invoice is shown in AZN too.
        record_fx_rate(
            s,
            base="USD",
            quote="AZN",
            rate=Decimal("1.7"),
            on=date(2026, 11, 30),
            actor="finance",
            now=clock.now(),
        )
    summary = run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=ADMIN,
        clock=clock.now,
    )
    with db.transaction() as s:
        for invoice_id in summary.invoice_ids:
            invoice = s.get(Invoice, invoice_id)
            assert invoice is not None
            key = "local" if invoice.customer_id == ids["local"] else "german"
            issued = issue_invoice(s, invoice_id, actor=ADMIN, now=clock.now(), render=fake_render)
            ids[f"{key}_invoice"] = issued.id
    return ids


def _xml(db: Database, invoice_id: int) -> tuple[bytes, Invoice]:
    with db.transaction() as s:
        invoice = get_invoice(s, invoice_id)
        return ubl_xml(einvoice_data(invoice)), invoice


def _texts(tree: etree._Element, path: str) -> list[str]:
    return [str(e.text) for e in tree.findall(path, NS)]


def test_a_standard_rated_invoice_is_valid_ubl_with_the_invoices_amounts(
    db: Database, world: dict[str, int], invoice_schema: etree.XMLSchema
) -> None:
    xml, invoice = _xml(db, world["local_invoice"])
    tree = etree.fromstring(xml)
    invoice_schema.assertValid(tree)
    assert tree.tag == "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"
    assert _texts(tree, "cbc:CustomizationID") == [CUSTOMIZATION_ID]
    assert _texts(tree, "cbc:ID") == [invoice.number]
    assert _texts(tree, "cbc:InvoiceTypeCode") == ["380"]
    assert _texts(tree, "cbc:DocumentCurrencyCode") == ["USD"]
    assert _texts(tree, "cbc:IssueDate") == [str(invoice.issue_date)]
    assert _texts(tree, "cbc:DueDate") == [str(invoice.due_date)]
    # No PO on the contract: the contract number is the buyer reference.
    assert _texts(tree, "cbc:BuyerReference") == [invoice.contract_numbers]
    seller = "cac:AccountingSupplierParty/cac:Party/"
    assert _texts(tree, seller + "cac:PartyTaxScheme/cbc:CompanyID") == ["AZ1400057421"]
    assert _texts(tree, seller + "cac:PostalAddress/cbc:CityName") == ["Baku"]
    assert _texts(tree, seller + "cac:PostalAddress/cac:Country/cbc:IdentificationCode") == ["AZ"]
    buyer = "cac:AccountingCustomerParty/cac:Party/"
    assert _texts(tree, buyer + "cac:PartyTaxScheme/cbc:CompanyID") == ["AZ1700767721"]
    assert _texts(tree, buyer + "cac:PostalAddress/cbc:StreetName") == ["Neftchilar ave. 153"]
    assert _texts(tree, buyer + "cac:PostalAddress/cbc:PostalZone") == ["AZ1010"]
    # Not a SEPA account: a plain credit transfer to AZT's IBAN.
    assert _texts(tree, "cac:PaymentMeans/cbc:PaymentMeansCode") == ["30"]
    assert _texts(tree, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID") == [
        "AZ62AIIB38060019440020411200"
    ]
    assert _texts(
        tree, "cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"
    ) == ["AIIBAZ2X"]
    assert _texts(tree, "cac:TaxTotal/cbc:TaxAmount") == [f"{invoice.tax_total:.2f}"]
    assert _texts(tree, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID") == ["S"]
    assert _texts(tree, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent") == ["18"]
    # October and November, a month of service each, 18 % on 2 × 5,600.00.
    assert (invoice.subtotal, invoice.tax_total) == (Decimal("11200.00"), Decimal("2016.00"))
    totals = "cac:LegalMonetaryTotal/cbc:"
    assert _texts(tree, totals + "LineExtensionAmount") == [f"{invoice.subtotal:.2f}"]
    assert _texts(tree, totals + "TaxExclusiveAmount") == [f"{invoice.subtotal:.2f}"]
    assert _texts(tree, totals + "TaxInclusiveAmount") == [f"{invoice.total:.2f}"]
    assert _texts(tree, totals + "PayableAmount") == ["13216.00"]
    line_amounts = [Decimal(t) for t in _texts(tree, "cac:InvoiceLine/cbc:LineExtensionAmount")]
    assert sum(line_amounts) == invoice.subtotal
    quantities = tree.findall("cac:InvoiceLine/cbc:InvoicedQuantity", NS)
    assert [q.get("unitCode") for q in quantities] == ["MON", "MON"]
    assert {a.get("currencyID") for a in tree.iter(f"{{{NS['cbc']}}}TaxAmount")} == {"USD"}


def test_a_reverse_charge_invoice_states_its_category_and_exemption_reason(
    db: Database, world: dict[str, int], invoice_schema: etree.XMLSchema
) -> None:
    xml, invoice = _xml(db, world["german_invoice"])
    tree = etree.fromstring(xml)
    invoice_schema.assertValid(tree)
    category = "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/"
    assert _texts(tree, category + "cbc:ID") == ["AE"]
    assert _texts(tree, category + "cbc:Percent") == ["0"]
    assert _texts(tree, category + "cbc:TaxExemptionReasonCode") == ["VATEX-EU-AE"]
    assert _texts(tree, category + "cbc:TaxExemptionReason") == ["Reverse charge"]
    assert _texts(tree, "cac:TaxTotal/cbc:TaxAmount") == ["0.00"]
    assert _texts(tree, "cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:ID") == [
        "AE",
        "AE",
    ]
    assert _texts(tree, "cac:LegalMonetaryTotal/cbc:PayableAmount") == [f"{invoice.total:.2f}"]
    assert _texts(
        tree, "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"
    ) == ["DE811907980"]


def test_a_credit_note_is_a_ubl_credit_note_with_positive_amounts_and_its_invoice(
    db: Database,
    world: dict[str, int],
    clock: FrozenClock,
    credit_note_schema: etree.XMLSchema,
) -> None:
    at(clock, 2026, 12, 3, 10)
    with db.transaction() as s:
        invoice = get_invoice(s, world["local_invoice"])
        line_id = invoice.lines[0].id
        note = credit_invoice(
            s,
            invoice.id,
            amounts={line_id: Decimal("1000.00")},
            reason="Outage credit agreed",
            actor=ADMIN,
            now=clock.now(),
            render=fake_render,
        )
        note_id, number = note.id, invoice.number
    xml, note = _xml(db, note_id)
    tree = etree.fromstring(xml)
    credit_note_schema.assertValid(tree)
    assert tree.tag == "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"
    assert _texts(tree, "cbc:CreditNoteTypeCode") == ["381"]
    assert _texts(tree, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") == [number]
    assert _texts(tree, "cac:CreditNoteLine/cbc:LineExtensionAmount") == ["1000.00"]
    assert _texts(tree, "cac:CreditNoteLine/cbc:CreditedQuantity") == ["1"]
    assert tree.find("cac:CreditNoteLine/cbc:CreditedQuantity", NS).get("unitCode") == "C62"
    assert _texts(tree, "cac:TaxTotal/cbc:TaxAmount") == ["180.00"]
    assert _texts(tree, "cac:LegalMonetaryTotal/cbc:PayableAmount") == [f"{-note.total:.2f}"]
    assert note.total == Decimal("-1180.00")


def test_the_ubl_keeps_the_buyers_details_of_the_issue_day(
    db: Database, world: dict[str, int], clock: FrozenClock
) -> None:
    """A customer's address edited after issue leaves the issued e-invoice as it was."""
    with db.transaction() as s:
        update_customer(
            s,
            world["local"],
            {"street": "Moved 1", "city": "Ganja", "vat_id": "AZ9999999999"},
            seller=ADMIN,
            now=clock.now(),
        )
    xml, _ = _xml(db, world["local_invoice"])
    tree = etree.fromstring(xml)
    buyer = "cac:AccountingCustomerParty/cac:Party/"
    assert _texts(tree, buyer + "cac:PostalAddress/cbc:CityName") == ["Baku"]
    assert _texts(tree, buyer + "cac:PartyTaxScheme/cbc:CompanyID") == ["AZ1700767721"]


def test_a_draft_is_no_e_invoice(db: Database, world: dict[str, int], clock: FrozenClock) -> None:
    with db.transaction() as s:
        draft = Invoice(
            kind="invoice",
            status="draft",
            issuer_party_id=_azt(s).id,
            customer_id=world["local"],
            currency="EUR",
            period_start=date(2026, 12, 1),
            created_at=clock.now(),
        )
        s.add(draft)
        s.flush()
        with pytest.raises(NotAnEInvoiceError) as caught:
            einvoice_data(draft)
        assert isinstance(caught.value, ConflictError)
