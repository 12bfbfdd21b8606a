"""Factur-X 1.0 (EN 16931 profile): what turns an invoice's PDF/A-3b into a Factur-X invoice.

The CII XML (billing.invoicing.cii) is embedded as `factur-x.xml`, an associated file of the
document, and the XMP metadata names it with the Factur-X properties and the PDF/A extension
schema that declares them (a PDF/A-3 reader refuses properties of an undeclared schema).
"""

from __future__ import annotations

from datetime import date

from billing.pdf import EmbeddedFile

FILENAME = "factur-x.xml"
# Factur-X 1.0's XMP namespace (its spelling, mixed case and trailing "#", is the specification's).
NAMESPACE = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
CONFORMANCE_LEVEL = "EN 16931"
# The XML is the invoice's structured twin of what the page shows (EN 16931 and up allow
# "Alternative"; MINIMUM and BASIC WL would need "Data").
RELATIONSHIP = "Alternative"

_PROPERTIES = (
    ("DocumentFileName", "The name of the embedded XML invoice file"),
    ("DocumentType", "The type of the hybrid document: INVOICE"),
    ("Version", "The version of the Factur-X XML schema"),
    ("ConformanceLevel", "The conformance level of the embedded Factur-X data"),
)

_RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'

XMP = (
    f'<rdf:Description rdf:about="" {_RDF} xmlns:fx="{NAMESPACE}">'
    "<fx:DocumentType>INVOICE</fx:DocumentType>"
    f"<fx:DocumentFileName>{FILENAME}</fx:DocumentFileName>"
    "<fx:Version>1.0</fx:Version>"
    f"<fx:ConformanceLevel>{CONFORMANCE_LEVEL}</fx:ConformanceLevel>"
    "</rdf:Description>"
    f'<rdf:Description rdf:about="" {_RDF}'
    ' xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"'
    ' xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"'
    ' xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
    '<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">'
    "<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>"
    f"<pdfaSchema:namespaceURI>{NAMESPACE}</pdfaSchema:namespaceURI>"
    "<pdfaSchema:prefix>fx</pdfaSchema:prefix>"
    "<pdfaSchema:property><rdf:Seq>"
    + "".join(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{name}</pdfaProperty:name>"
        "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{description}</pdfaProperty:description>"
        "</rdf:li>"
        for name, description in _PROPERTIES
    )
    + "</rdf:Seq></pdfaSchema:property>"
    "</rdf:li></rdf:Bag></pdfaExtension:schemas>"
    "</rdf:Description>"
).encode()


def factur_x_file(xml: bytes, issue_date: date) -> EmbeddedFile:
    """`xml` (a CII invoice) as the Factur-X attachment, dated the invoice's issue date so that
    the same invoice gives the same PDF bytes."""
    return EmbeddedFile(
        name=FILENAME,
        content=xml,
        relationship=RELATIONSHIP,
        description="Factur-X invoice (CII, EN 16931)",
        dated=issue_date,
        xmp=XMP,
    )
