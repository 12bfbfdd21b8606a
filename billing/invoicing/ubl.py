"""An issued invoice or credit note as UBL 2.1 XML with Peppol BIS Billing 3.0 content (SPEC 14).

Formats `einvoice.EInvoice` only: what the document says is read there, once, for UBL and
Factur-X alike. Element order follows the UBL 2.1 schemas (a sequence: order matters), which the
tests check the output against. Amounts carry the currency's minor units.
"""

from __future__ import annotations

from decimal import Decimal
from xml.etree import ElementTree as ET  # noqa: S405 - writing only, never parsing

from billing.invoicing.einvoice import EInvoice, ELine, EParty, ETax
from billing.money import Money, minor_unit

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
MEDIA_TYPE = "application/xml"

ET.register_namespace("cbc", CBC)
ET.register_namespace("cac", CAC)


def ubl_filename(data: EInvoice) -> str:
    return f"{data.number}.xml"


def ubl_xml(data: EInvoice) -> bytes:
    """The UBL 2.1 document (`Invoice` or `CreditNote`), UTF-8 with an XML declaration."""
    credit = data.is_credit_note
    # The document's own namespace as the default one (every child is cbc: or cac:), as UBL
    # documents are written; ElementTree would otherwise call it ns0.
    root = ET.Element(_root_name(data), {"xmlns": CREDIT_NOTE_NS if credit else INVOICE_NS})
    _basic(root, "CustomizationID", CUSTOMIZATION_ID)
    _basic(root, "ProfileID", PROFILE_ID)
    _basic(root, "ID", data.number)
    _basic(root, "IssueDate", data.issue_date.isoformat())
    if not credit and data.due_date is not None:
        _basic(root, "DueDate", data.due_date.isoformat())
    _basic(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", data.type_code)
    if credit and data.reason:
        _basic(root, "Note", data.reason)
    if data.legal_reference:
        _basic(root, "Note", f"Legal invoice reference: {data.legal_reference}")
    _basic(root, "DocumentCurrencyCode", data.currency)
    _basic(root, "BuyerReference", data.buyer_reference)
    if data.period is not None:
        period = _aggregate(root, "InvoicePeriod")
        _basic(period, "StartDate", data.period.start.isoformat())
        _basic(period, "EndDate", data.period.end.isoformat())
    if data.purchase_orders:
        _basic(_aggregate(root, "OrderReference"), "ID", data.purchase_orders[0])
    if data.credited_number:
        reference = _aggregate(_aggregate(root, "BillingReference"), "InvoiceDocumentReference")
        _basic(reference, "ID", data.credited_number)
        if data.credited_issue_date is not None:
            _basic(reference, "IssueDate", data.credited_issue_date.isoformat())
    if data.contract_numbers:
        _basic(_aggregate(root, "ContractDocumentReference"), "ID", data.contract_numbers[0])
    _party(_aggregate(root, "AccountingSupplierParty"), data.seller)
    _party(_aggregate(root, "AccountingCustomerParty"), data.buyer)
    if data.payment_means is not None:
        means = _aggregate(root, "PaymentMeans")
        _basic(means, "PaymentMeansCode", data.payment_means.code)
        _basic(means, "PaymentID", data.payment_means.remittance)
        account = _aggregate(means, "PayeeFinancialAccount")
        _basic(account, "ID", data.payment_means.iban)
        _basic(account, "Name", data.payment_means.account_name)
        if data.payment_means.bic:
            branch = _aggregate(account, "FinancialInstitutionBranch")
            _basic(branch, "ID", data.payment_means.bic)
    if data.payment_terms:
        _basic(_aggregate(root, "PaymentTerms"), "Note", data.payment_terms)
    tax_total = _aggregate(root, "TaxTotal")
    _amount(tax_total, "TaxAmount", data.tax_total)
    for tax in data.taxes:
        _subtotal(tax_total, tax)
    totals = _aggregate(root, "LegalMonetaryTotal")
    _amount(totals, "LineExtensionAmount", data.line_total)
    _amount(totals, "TaxExclusiveAmount", data.line_total)
    _amount(totals, "TaxInclusiveAmount", data.total)
    _amount(totals, "PayableAmount", data.payable)
    for line in data.lines:
        _line(root, line, data.currency, credit)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _root_name(data: EInvoice) -> str:
    return "CreditNote" if data.is_credit_note else "Invoice"


def _basic(parent: ET.Element, name: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CBC}}}{name}", attributes)
    element.text = text
    return element


def _aggregate(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{CAC}}}{name}")


def _amount(parent: ET.Element, name: str, money: Money) -> None:
    _basic(parent, name, _minor(money), currencyID=money.currency)


def _minor(money: Money) -> str:
    """The amount with the currency's minor units: 5600.00 USD, 1500 JPY."""
    return f"{money.rounded().amount:.{minor_unit(money.currency)}f}"


def _number(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text if text != "-0" else "0"


def _party(parent: ET.Element, party: EParty) -> None:
    element = _aggregate(parent, "Party")
    if party.email:
        _basic(element, "EndpointID", party.email, schemeID="EM")
    _basic(_aggregate(element, "PartyName"), "Name", party.name)
    address = _aggregate(element, "PostalAddress")
    street = party.street or _first_line(party.address)
    if street:
        _basic(address, "StreetName", street)
    if party.city:
        _basic(address, "CityName", party.city)
    if party.postal_code:
        _basic(address, "PostalZone", party.postal_code)
    _basic(_aggregate(address, "Country"), "IdentificationCode", party.country)
    if party.vat_id:
        scheme = _aggregate(element, "PartyTaxScheme")
        _basic(scheme, "CompanyID", party.vat_id)
        _basic(_aggregate(scheme, "TaxScheme"), "ID", "VAT")
    legal = _aggregate(element, "PartyLegalEntity")
    _basic(legal, "RegistrationName", party.name)
    if party.tax_id:
        _basic(legal, "CompanyID", party.tax_id)


def _first_line(address: str) -> str:
    return next((line.strip() for line in address.splitlines() if line.strip()), "")


def _category(parent: ET.Element, name: str, code: str, rate: Decimal) -> ET.Element:
    category = _aggregate(parent, name)
    _basic(category, "ID", code)
    # Peppol: the rate is stated for every category but "not subject to VAT" (O).
    if code != "O":
        _basic(category, "Percent", _number(rate))
    return category


def _subtotal(parent: ET.Element, tax: ETax) -> None:
    subtotal = _aggregate(parent, "TaxSubtotal")
    _amount(subtotal, "TaxableAmount", tax.base)
    _amount(subtotal, "TaxAmount", tax.tax)
    category = _category(subtotal, "TaxCategory", tax.category_code, tax.rate_percent)
    if tax.exemption_reason_code:
        _basic(category, "TaxExemptionReasonCode", tax.exemption_reason_code)
    if tax.exemption_reason:
        _basic(category, "TaxExemptionReason", tax.exemption_reason)
    _basic(_aggregate(category, "TaxScheme"), "ID", "VAT")


def _line(root: ET.Element, line: ELine, currency: str, credit: bool) -> None:
    element = _aggregate(root, "CreditNoteLine" if credit else "InvoiceLine")
    _basic(element, "ID", line.line_id)
    _basic(
        element,
        "CreditedQuantity" if credit else "InvoicedQuantity",
        _number(line.quantity),
        unitCode=line.unit_code,
    )
    _amount(element, "LineExtensionAmount", line.net_amount)
    period = _aggregate(element, "InvoicePeriod")
    _basic(period, "StartDate", line.period.start.isoformat())
    _basic(period, "EndDate", line.period.end.isoformat())
    item = _aggregate(element, "Item")
    _basic(item, "Name", line.name[:200] or "Service")
    if line.circuit_id:
        _basic(_aggregate(item, "SellersItemIdentification"), "ID", line.circuit_id)
    category = _category(item, "ClassifiedTaxCategory", line.category_code, line.rate_percent)
    _basic(_aggregate(category, "TaxScheme"), "ID", "VAT")
    price = _aggregate(element, "Price")
    _basic(price, "PriceAmount", _number(line.unit_price), currencyID=currency)
