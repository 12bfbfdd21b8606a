"""HTML to PDF with WeasyPrint: quotes now, invoices later. No Flask, no database."""

from __future__ import annotations

import gc
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

# WeasyPrint warns at import when the optional HarfBuzz subset library is missing; it then subsets
# fonts with fontTools, which is slower but correct. That must cost speed, never a crash or a red
# test suite (warnings are errors there), so the one warning is taken here and reported once, by
# name, through `missing_system_libraries`.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    from weasyprint import CSS, HTML
    from weasyprint.text import ffi as _weasyprint_ffi
    from weasyprint.text.fonts import FontConfiguration

# Stylesheets, fonts and images that PDF templates refer to by relative links.
PDF_ASSETS = Path(__file__).resolve().parent.parent / "templates" / "pdf"

log = logging.getLogger(__name__)


def missing_system_libraries() -> list[str]:
    """Debian packages that would make PDFs faster and are not installed."""
    return [] if _weasyprint_ffi.harfbuzz_subset is not None else ["libharfbuzz-subset0"]


_warned = False


def warn_about_missing_libraries() -> None:
    """Log, once per process, each missing library that slows PDFs down."""
    global _warned
    if _warned:
        return
    _warned = True
    for package in missing_system_libraries():
        log.warning(
            "PDF rendering runs without the HarfBuzz subset library: it works, about 3x slower. "
            "Install the system package %s (apt-get install %s).",
            package,
            package,
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for one render.

    A render builds tens of thousands of boxes that all stay alive until it ends, so the collector
    keeps promoting them and rescanning them: a third of a 60-line invoice's time with it running
    (bench/pdf_lines.py). Nothing a render leaves behind is lost: the collector runs again as soon
    as it is re-enabled. Left alone if something else already paused it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def render_pdf(html: str, base_url: str | None = None) -> bytes:
    """The PDF of a complete HTML document; relative links resolve against `base_url`, by default
    the PDF templates' folder.

    Rendering is CPU-bound and single-threaded: render many documents in separate processes.
    """
    with _collector_paused():
        pdf: bytes = HTML(string=html, base_url=base_url or f"{PDF_ASSETS}/").write_pdf()
    return pdf


@cache
def _font_config() -> FontConfiguration:
    return FontConfiguration()


@cache
def stylesheet(name: str) -> CSS:
    """The stylesheet `name` of the PDF templates' folder, parsed once per process."""
    return CSS(filename=str(PDF_ASSETS / name), font_config=_font_config())


def render_pdf_styled(html: str, stylesheet_name: str) -> bytes:
    """The PDF of a complete HTML document styled by the cached stylesheet `stylesheet_name`.

    The same HTML gives the same bytes: WeasyPrint writes no creation or modification date unless
    the document's `<meta>` names one, and derives the file identifier from the content.
    """
    sheet = stylesheet(stylesheet_name)
    with _collector_paused():
        pdf: bytes = HTML(string=html, base_url=f"{PDF_ASSETS}/").write_pdf(
            stylesheets=[sheet], font_config=_font_config()
        )
    return pdf
