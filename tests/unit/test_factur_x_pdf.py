"""A PDF/A-3b with an embedded file (billing.pdf.render_pdf_a3), as Factur-X invoices use it: the
same input gives the same bytes, a second later too, and the file is associated once."""

from __future__ import annotations

import io
import time
from datetime import date

from pypdf import PdfReader

from billing.invoicing.factur_x import XMP, factur_x_file
from billing.invoicing.rendering import STYLESHEET, invoice_html
from billing.pdf import missing_system_libraries, render_pdf_a3
from tests.conftest import missing
from tests.unit.test_invoice_pdf import five_line_invoice

XML = b'<?xml version="1.0" encoding="UTF-8"?><invoice number="AZT-INV-2026-000001"/>'


def test_the_same_document_gives_the_same_bytes_a_second_later() -> None:
    """Nothing in the file is stamped with the time it was written: not the document, not the
    attachment, not the output intent's colour profile (LittleCMS stamps a profile it writes)."""
    if missing_system_libraries():
        missing("byte-identical re-rendering needs libharfbuzz-subset0")
    html = invoice_html(five_line_invoice())
    first = render_pdf_a3(html, STYLESHEET, factur_x_file(XML, date(2026, 12, 1)))
    time.sleep(1.1)
    assert render_pdf_a3(html, STYLESHEET, factur_x_file(XML, date(2026, 12, 1))) == first
    other_day = render_pdf_a3(html, STYLESHEET, factur_x_file(XML, date(2026, 12, 2)))
    assert other_day != first


def test_the_file_is_associated_once_with_its_dates_and_the_xmp_in_one_rdf() -> None:
    pdf = render_pdf_a3(
        invoice_html(five_line_invoice()), STYLESHEET, factur_x_file(XML, date(2026, 12, 1))
    )
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    (spec,) = [ref.get_object() for ref in root["/AF"]]
    assert spec["/UF"] == "factur-x.xml" and spec["/AFRelationship"] == "/Alternative"
    stream = spec["/EF"]["/F"].get_object()
    assert stream["/Params"]["/ModDate"] == "D:20261201000000Z"
    assert stream.get_data() == XML
    assert reader.attachments == {"factur-x.xml": [XML]}
    metadata = root["/Metadata"].get_object().get_data()
    assert metadata.count(b"<rdf:RDF") == 1 and XMP in metadata
    assert reader.metadata is not None and reader.metadata.creation_date is None
