"""HTML to PDF with WeasyPrint: quotes now, invoices later. No Flask, no database."""

from __future__ import annotations

from weasyprint import HTML


def render_pdf(html: str, base_url: str | None = None) -> bytes:
    """The PDF of a complete HTML document; `base_url` resolves its relative links and images.

    Rendering is CPU-bound and single-threaded: render many documents in separate processes.
    """
    pdf: bytes = HTML(string=html, base_url=base_url).write_pdf()
    return pdf
