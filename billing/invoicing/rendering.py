"""The PDF of an issued invoice or credit note (SPEC 4), from its `InvoiceDocument`.

Rendering reads nothing but the document: the same document gives the same bytes, so the stored
PDF's SHA-256 can be checked by rendering again. One PDF takes tens of milliseconds of one core
(WeasyPrint is single-threaded). A request or a command that issues one document renders it in
its own process (`render_in_process`); a batch is rendered by render jobs (billing.jobs.documents),
in parallel by starting more workers. `render_invoices` spreads a batch over forked processes: the
bench measures with it; no request, job or command uses it (a forked child would outlive a killed
parent inside its transaction, holding its locks).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from billing.calendar import Period
from billing.invoicing.cii import cii_xml
from billing.invoicing.document import InvoiceDocument
from billing.invoicing.factur_x import factur_x_file
from billing.invoicing.wording import ENGLISH, country_name, invoice_language, label, page_counter
from billing.money import Money, format_money
from billing.pdf import PDF_ASSETS, render_pdf_a3, render_pdf_styled, stylesheet
from billing.text import decimal_text

TEMPLATE = "invoice.html"
STYLESHEET = "invoice.css"


def _period(period: Period | None) -> str:
    return f"{period.start.isoformat()} – {period.end.isoformat()}" if period else "—"


def _quantity(value: Decimal) -> str:
    return decimal_text(value)


def _money(value: Money) -> str:
    return format_money(value)


def _money_code(value: Money) -> str:
    return format_money(value, with_code=True)


_env = Environment(loader=FileSystemLoader(PDF_ASSETS), autoescape=True, undefined=StrictUndefined)
_env.filters.update(period=_period, quantity=_quantity, money=_money, money_code=_money_code)


def _terms(document: InvoiceDocument, language: str) -> str | None:
    """ "30 days net", "due on receipt", in the document's language beside English."""
    days = document.payment_terms_days
    if days is None:
        return None
    if days == 0:
        return label("terms_on_receipt", language)
    return label("terms_day" if days == 1 else "terms_days", language, days=days)


def invoice_html(document: InvoiceDocument) -> str:
    """The HTML the PDF is rendered from; its styles are in `invoice.css`, applied apart.

    Every label reads through `L` (billing.invoicing.wording): English alone for an English
    document, the document's language first and English beside it for any other."""
    language = invoice_language(document.language)

    def words(key: str, sep: str = " / ", **values: object) -> str:
        return label(key, language, sep=sep, **values)

    return _env.get_template(TEMPLATE).render(
        doc=document,
        L=words,
        lang=language,
        bilingual=language != ENGLISH,
        country=lambda code: country_name(code, language),
        terms=_terms(document, language),
        fx_words=lambda fx: fx.words(language),
        page_counter=page_counter(language),
    )


def render_invoice(document: InvoiceDocument) -> bytes:
    """The PDF of `document`: A4, DejaVu Sans (Latin, Cyrillic and Azerbaijani letters), "Page X
    of Y" in the footer. An issued document's is a Factur-X PDF (SPEC 14): PDF/A-3b with its CII
    XML embedded; a draft's preview (no e-invoice) is a plain PDF."""
    html = invoice_html(document)
    if document.e_invoice is None or document.draft:
        return render_pdf_styled(html, STYLESHEET)
    xml = cii_xml(document.e_invoice)
    return render_pdf_a3(html, STYLESHEET, factur_x_file(xml, document.issue_date))


def render_in_process(documents: Sequence[InvoiceDocument]) -> list[bytes]:
    """The PDFs of `documents`, one after the other in this process (never a child process)."""
    return [render_invoice(document) for document in documents]


def render_invoices(
    documents: Sequence[InvoiceDocument], workers: int | None = None
) -> list[bytes]:
    """The PDFs of `documents`, in their order, rendered by `workers` forked processes (by
    default one per core). With one worker, or one document, they are rendered in this process.
    For the bench and tests only (see the module's note).
    """
    count = min(workers or os.cpu_count() or 1, len(documents))
    if count <= 1:
        return [render_invoice(document) for document in documents]
    # Forked workers inherit the imported WeasyPrint, the template and the parsed stylesheet.
    stylesheet(STYLESHEET)
    context = multiprocessing.get_context("fork")
    chunksize = max(1, len(documents) // (count * 8))
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        return list(pool.map(render_invoice, documents, chunksize=chunksize))
