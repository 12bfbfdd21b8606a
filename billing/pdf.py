"""HTML to PDF with WeasyPrint: quotes, invoices and credit notes (PDF/A-3b with their e-invoice
embedded). No Flask, no database."""

from __future__ import annotations

import gc
import io
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

# WeasyPrint warns at import when the optional HarfBuzz subset library is missing; it then subsets
# fonts with fontTools, which is slower but correct. That must cost speed, never a crash or a red
# test suite (warnings are errors there), so the one warning is taken here and reported once, by
# name, through `missing_system_libraries`.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    from weasyprint import CSS, HTML, Attachment
    from weasyprint.css import ColorProfile
    from weasyprint.pdf.metadata import DocumentMetadata
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


@dataclass(frozen=True, slots=True)
class EmbeddedFile:
    """A file a PDF/A-3b carries as an associated file (ISO 19005-3): `relationship` is its
    /AFRelationship (Data, Alternative, Source, Supplement); `dated` is written as its creation and
    modification date, so the same file gives the same bytes; `xmp` are `rdf:Description` elements
    (each declaring its namespaces) added to the document's XMP metadata, e.g. the extension schema
    and the properties a reader of the attachment looks for."""

    name: str
    content: bytes
    relationship: str
    description: str
    dated: date
    xmp: bytes = b""


class _MetadataWithExtensions(DocumentMetadata):  # type: ignore[misc]  # WeasyPrint is untyped
    """WeasyPrint's XMP metadata with more `rdf:Description`s inside its one `rdf:RDF`.

    WeasyPrint's own `xmp_metadata` list adds a second `rdf:RDF` after the first; XMP readers
    (validators among them) look for the properties in the first, so they are put there.
    """

    extensions: bytes = b""

    def generate_rdf_metadata(self, variant: Any, version: Any, conformance: Any) -> bytes:
        rdf: bytes = super().generate_rdf_metadata(variant, version, conformance)
        end = b"</rdf:RDF>"
        if not rdf.endswith(end):
            raise RuntimeError("WeasyPrint's XMP metadata no longer ends with </rdf:RDF>")
        return rdf[: -len(end)] + self.extensions + end


def render_pdf_a3(html: str, stylesheet_name: str, embedded: EmbeddedFile) -> bytes:
    """The PDF/A-3b of a complete HTML document styled like `render_pdf_styled`, carrying
    `embedded` as an associated file and its XMP properties.

    Byte-stable like `render_pdf_styled`: no document dates; the file identifier is derived from
    the content (WeasyPrint's default for PDF/A); the attachment's dates are `embedded.dated`.
    """
    sheet = stylesheet(stylesheet_name)
    moment = datetime.combine(embedded.dated, time())
    attachment = Attachment(
        string=embedded.content,
        name=embedded.name,
        description=embedded.description,
        created=moment,
        modified=moment,
        relationship=embedded.relationship,
    )
    with _collector_paused():
        document = HTML(string=html, base_url=f"{PDF_ASSETS}/").render(
            stylesheets=[sheet], font_config=_font_config()
        )
        metadata = _MetadataWithExtensions(**vars(document.metadata))
        metadata.extensions = embedded.xmp
        document.metadata = metadata
        document.color_profiles[_OUTPUT_INTENT] = _srgb_profile()
        document.output_intent = _OUTPUT_INTENT
        pdf: bytes = document.write_pdf(
            pdf_variant="pdf/a-3b",
            output_intent=_OUTPUT_INTENT,
            attachments=[attachment],
            finisher=_associated_once,
        )
    return pdf


# PDF/A's output intent: WeasyPrint's own sRGB profile, loaded once per process. Left to
# WeasyPrint (output_intent "srgb"), every render opens the profile's file and never closes it,
# and writes the profile as LittleCMS re-serialises it, stamped with the current time: the same
# invoice rendered a second later would differ. The file's own bytes are embedded instead.
_OUTPUT_INTENT = "srgb-profile"


class _FileColorProfile(ColorProfile):  # type: ignore[misc]  # WeasyPrint is untyped
    def __init__(self, icc: bytes, name: str) -> None:
        super().__init__(io.BytesIO(icc), name, "relative-colorimetric", (["r"], ["g"], ["b"]))
        self._icc = icc

    @property
    def content(self) -> bytes:
        return self._icc


@cache
def _srgb_profile() -> ColorProfile:
    icc = resources.files("weasyprint.pdf").joinpath("sRGB2014.icc").read_bytes()
    return _FileColorProfile(icc, "sRGB2014.icc")


def _associated_once(document: Any, pdf: Any) -> None:
    """WeasyPrint 70 lists an attachment twice in the catalog's /AF (once from the embedded files'
    names, once as a file specification): each associated file once, in order."""
    associated = pdf.catalog.get("AF")
    if associated is not None:
        unique = list(dict.fromkeys(associated))
        associated.clear()
        associated.extend(unique)
