"""The invoice and credit-note PDF (SPEC 4): what it shows, read back with pypdf, and that it is
the same bytes every time."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.calendar import Period
from billing.invoicing.document import (
    DRAFT_NUMBER,
    BillingContactNote,
    DocumentKind,
    DocumentLine,
    DocumentTax,
    FxNote,
    InvoiceDocument,
    PartyDetails,
    source_words,
)
from billing.invoicing.rendering import render_invoice, render_invoices
from billing.money import Money, format_money
from billing.pdf import missing_system_libraries
from tests.conftest import missing

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))

AZT = PartyDetails(
    name="AzerTelecom Transit LLC",
    address="12 Neftchilar Avenue\nBaku AZ1000",
    country="AZ",
    tax_id="1403567891",
    bank_details="Kapital Bank OJSC, Baku\nIBAN AZ21NABZ00000000137010001944\nSWIFT AIIBAZ2X",
)
KTC = PartyDetails(
    name="KazTransCom JSC",
    address="100 Dostyk Avenue\nAlmaty 050000",
    country="KZ",
    tax_id="BIN 990140001234",
    bank_details="Halyk Bank JSC\nIBAN KZ86601A861001234567",
)
CUSTOMER = PartyDetails(
    name="Caspian Carrier GmbH",
    address="Friedrichstrasse 50\n10117 Berlin",
    country="DE",
    tax_id="DE811907980",
)
KZ_CUSTOMER = PartyDetails(
    name="Steppe Networks LLP",
    address="5 Kabanbay Batyr Avenue\nAstana 010000",
    country="KZ",
    tax_id="BIN 180840012345",
)


def usd(amount: str, currency: str = "USD") -> Money:
    return Money(Decimal(amount), currency)


def line(n: int, amount: str, rate: str = "0", currency: str = "USD") -> DocumentLine:
    return DocumentLine(
        circuit_id=f"CKT-{n:05d}",
        description=f"Wavelength 100G Baku–Tbilisi, route {n}",
        period=NOVEMBER,
        quantity=Decimal(1),
        unit_price=usd(amount, currency),
        amount=usd(amount, currency),
        tax_rate_percent=Decimal(rate),
    )


def five_line_invoice(number: str = "AZT-INV-2026-000001") -> InvoiceDocument:
    lines = (
        line(1, "12500.00", "18"),
        line(2, "8400.00", "18"),
        line(3, "3100.50", "18"),
        line(4, "9999.99", "0"),
        line(5, "450.00", "0"),
    )
    return InvoiceDocument(
        kind=DocumentKind.INVOICE,
        number=number,
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        issuer=AZT,
        customer=CUSTOMER,
        currency="USD",
        lines=lines,
        taxes=(
            DocumentTax(Decimal("18"), usd("24000.50"), usd("4320.09"), ()),
            DocumentTax(
                Decimal("0"), usd("10449.99"), usd("0.00"), ("Export of services — VAT 0%",)
            ),
        ),
        subtotal=usd("34450.49"),
        tax_total=usd("4320.09"),
        total=usd("38770.58"),
        amount_due=usd("38770.58"),
        period=NOVEMBER,
        purchase_orders=("PO-77120", "PO-77121"),
        payment_terms_days=30,
        contract_numbers=("C-2026-0012", "C-2026-0019"),
        billing_contact=BillingContactNote("Anna Weber", "ap@caspian.example"),
        account_currency="USD",
        pay_link="https://pay.example.test/i/AZT-INV-2026-000001",
    )


def kzt_invoice() -> InvoiceDocument:
    fx = FxNote("USD", "KZT", Decimal("512.3400"), date(2026, 11, 30), "nbk")
    return InvoiceDocument(
        kind=DocumentKind.INVOICE,
        number="KTC-INV-2026-000042",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 16),
        issuer=KTC,
        customer=KZ_CUSTOMER,
        currency="KZT",
        lines=(line(7, "2561700.00", "16", "KZT"),),
        taxes=(DocumentTax(Decimal("16"), usd("2561700.00", "KZT"), usd("409872.00", "KZT"), ()),),
        subtotal=usd("2561700.00", "KZT"),
        tax_total=usd("409872.00", "KZT"),
        total=usd("2971572.00", "KZT"),
        amount_due=usd("2971572.00", "KZT"),
        period=NOVEMBER,
        fx=fx,
        tax_local=usd("409872.00", "KZT"),
        tax_local_fx=fx,
    )


def long_invoice(count: int = 60) -> InvoiceDocument:
    lines = tuple(line(n, f"{1000 + n}.25") for n in range(1, count + 1))
    subtotal = sum((item.amount for item in lines), usd("0"))
    return InvoiceDocument(
        kind=DocumentKind.INVOICE,
        number="AZT-INV-2026-000060",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        issuer=AZT,
        customer=CUSTOMER,
        currency="USD",
        lines=lines,
        taxes=(DocumentTax(Decimal("0"), subtotal, usd("0"), ("Export of services — VAT 0%",)),),
        subtotal=subtotal,
        tax_total=usd("0"),
        total=subtotal,
        amount_due=subtotal,
        period=NOVEMBER,
    )


def credit_note() -> InvoiceDocument:
    return InvoiceDocument(
        kind=DocumentKind.CREDIT_NOTE,
        number="AZT-CN-2026-000007",
        issue_date=date(2026, 12, 5),
        due_date=None,
        issuer=AZT,
        customer=CUSTOMER,
        currency="USD",
        lines=(line(3, "1033.50", "18"),),
        taxes=(DocumentTax(Decimal("18"), usd("1033.50"), usd("186.03"), ()),),
        subtotal=usd("1033.50"),
        tax_total=usd("186.03"),
        total=usd("1219.53"),
        amount_due=usd("1219.53"),
        credited_invoice_number="AZT-INV-2026-000001",
        reason="Outage of 10 days on CKT-00003 (SLA credit)",
    )


def pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    # Extraction may split a line anywhere; compare on words separated by single spaces.
    return len(reader.pages), " ".join(text.split())


def test_five_line_invoice_shows_parties_dates_lines_taxes_and_payment() -> None:
    pages, text = pdf_text(render_invoice(five_line_invoice()))

    assert pages == 1
    for expected in (
        "Invoice AZT-INV-2026-000001",
        "Issue date: 2026-12-01",
        "Due date: 2026-12-31",
        "Billing period: 2026-11-01 – 2026-11-30",
        "AzerTelecom Transit LLC",
        "12 Neftchilar Avenue",
        "Baku AZ1000",
        "Azerbaijan (AZ)",
        "Tax id: 1403567891",
        "Caspian Carrier GmbH",
        "Friedrichstrasse 50",
        "Germany (DE)",
        "Tax id: DE811907980",
        "Your POs: PO-77120, PO-77121",
        "Payment terms: 30 days net",
        "Contracts: C-2026-0012, C-2026-0019",
        "Billing contact: Anna Weber <ap@caspian.example>",
        "Account currency: USD",
        "Subtotal 34,450.49",
        "VAT 18% on 24,000.50 4,320.09",
        "VAT 0% on 10,449.99 0.00",
        "Export of services — VAT 0%",
        "Total USD 38,770.58",
        "Amount due USD 38,770.58",
        "IBAN AZ21NABZ00000000137010001944",
        "https://pay.example.test/i/AZT-INV-2026-000001",
    ):
        assert expected in text, expected
    for n, amount in ((1, "12,500.00"), (2, "8,400.00"), (3, "3,100.50"), (4, "9,999.99")):
        assert f"CKT-0000{n}" in text
        assert f"{amount} {amount}" in text  # unit price, then amount
    assert "Exchange rate" not in text
    assert "Credit note" not in text


def test_kzt_invoice_shows_the_fx_rate_and_the_vat_in_local_currency() -> None:
    _, text = pdf_text(render_invoice(kzt_invoice()))

    of = "National Bank of Kazakhstan official rate of 2026-11-30"
    assert f"Exchange rate used: 1 USD = 512.34 KZT ({of})" in " ".join(text.split())
    assert f"VAT in KZT: KZT 409,872.00 at 1 USD = 512.34 KZT ({of})" in " ".join(text.split())
    assert "NBK," not in text
    assert "VAT 16% on 2,561,700.00 409,872.00" in text
    assert "KazTransCom JSC" in text and "Tax id: BIN 990140001234" in text
    assert "Steppe Networks LLP" in text and "Kazakhstan (KZ)" in text
    for absent in ("Your PO", "Contract", "Billing contact", "Payment terms", "Account currency"):
        assert absent not in text


def test_sixty_lines_break_across_pages_with_every_line_and_page_numbers() -> None:
    document = long_invoice()
    pages, text = pdf_text(render_invoice(document))

    assert pages >= 2
    for item in document.lines:
        assert item.circuit_id in text
    assert text.index("CKT-00059") < text.index("CKT-00060") < text.index("Subtotal")
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Subtotal 61,845.00" in text


def page_texts(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


COLUMNS = "Circuit Description Service period Qty Unit price Amount"


def test_sixty_lines_each_whole_on_one_page_under_the_column_headers() -> None:
    document = long_invoice()
    pages = page_texts(render_invoice(document))

    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert "Invoice AZT-INV-2026-000060" in text  # the document on every page's footer
        if "CKT-" in text:
            # A reader of any page with lines knows what the columns are.
            assert text.count(COLUMNS) == 1, number
            assert text.index(COLUMNS) < text.index("CKT-")
    for item in document.lines:
        money = format_money(item.amount)
        row = f"{item.circuit_id} {item.description} 2026-11-01 – 2026-11-30 1 {money} {money}"
        # Each line once, on one page, its cells in order: no line splits across pages.
        assert sum(row in text for text in pages) == 1, item.circuit_id
    assert sum(text.count("CKT-") for text in pages) == len(document.lines)


def test_one_po_one_contract_and_terms_due_on_receipt_read_in_the_singular() -> None:
    document = replace(
        five_line_invoice(),
        purchase_orders=("4500012345",),
        contract_numbers=("C-2026-0012",),
        payment_terms_days=0,
        billing_contact=BillingContactNote("", "ap@caspian.example"),
    )
    _, text = pdf_text(render_invoice(document))

    assert "Your PO: 4500012345" in text
    assert "Contract: C-2026-0012" in text
    assert "Payment terms: due on receipt" in text
    assert "Billing contact: ap@caspian.example" in text


def test_a_draft_preview_is_marked_draft_on_every_page_and_has_no_number() -> None:
    document = replace(long_invoice(), number=DRAFT_NUMBER, draft=True)
    pages = page_texts(render_invoice(document))

    assert len(pages) >= 2
    for text in pages:
        assert "DRAFT" in text
        assert "Invoice DRAFT — not yet numbered" in text  # the footer names it on every page
    assert "not issued, not numbered, not payable" in pages[0]
    assert "AZT-INV" not in " ".join(pages)
    # The same document issued carries no mark.
    assert "DRAFT" not in " ".join(page_texts(render_invoice(long_invoice())))


def test_credit_note_names_the_credited_invoice_and_the_reason() -> None:
    _, text = pdf_text(render_invoice(credit_note()))

    assert "Credit note AZT-CN-2026-000007" in text
    assert "Credit note for invoice AZT-INV-2026-000001" in text
    assert "Reason: Outage of 10 days on CKT-00003 (SLA credit)" in text
    assert "Amount credited USD 1,219.53" in text
    assert "Due date" not in text
    assert "Payment instructions" not in text


def byte_identical_renders() -> None:
    """Rendering the same document twice gives the same bytes with HarfBuzz's subsetter; the
    fontTools fallback (no libharfbuzz-subset0) writes fonts that depend on what the process
    rendered before. Stored PDFs are served as stored either way."""
    if missing_system_libraries():
        missing("byte-identical re-rendering needs libharfbuzz-subset0")


@pytest.mark.parametrize("build", [five_line_invoice, kzt_invoice, credit_note, long_invoice])
def test_the_same_document_renders_to_the_same_bytes(build: object) -> None:
    assert callable(build)
    byte_identical_renders()
    first = render_invoice(build())
    assert first.startswith(b"%PDF-")
    assert render_invoice(build()) == first
    metadata = PdfReader(io.BytesIO(first)).metadata
    assert metadata is not None
    assert metadata.creation_date is None and metadata.modification_date is None


def test_a_different_document_renders_to_different_bytes() -> None:
    assert render_invoice(five_line_invoice("AZT-INV-2026-000002")) != render_invoice(
        five_line_invoice()
    )


def test_render_invoices_returns_the_pdfs_in_input_order() -> None:
    byte_identical_renders()
    documents = [kzt_invoice(), five_line_invoice(), credit_note()]

    batch = render_invoices(documents, workers=2)

    assert batch == [render_invoice(document) for document in documents]
    assert render_invoices(documents, workers=1) == batch
    assert render_invoices([]) == []


def test_the_rate_source_reads_in_words_never_as_a_code() -> None:
    on = date(2026, 12, 5)
    assert source_words("cbar", on) == "Central Bank of Azerbaijan official rate of 2026-12-05"
    assert source_words("manual", on) == "rate entered by finance for 2026-12-05"
    assert source_words("nbk cross", on) == (
        "cross rate from National Bank of Kazakhstan official rates of 2026-12-05"
    )
    assert source_words("manual cross", on) == "rate entered by finance for 2026-12-05"
