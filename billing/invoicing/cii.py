"""The UN/CEFACT Cross Industry Invoice (CII D16B, as Factur-X 1.0 uses it) of an issued invoice
or credit note, EN 16931 profile: the XML embedded in its Factur-X PDF (billing.invoicing.factur_x).

Built from `EInvoice` (billing.invoicing.einvoice), the data UBL is written from too: values in,
bytes out, no session. The elements follow the order the CII schema requires. Amounts are
written to the currency's minor unit (Money.rounded), positive on a credit note (type 381), as
`EInvoice` gives them. Only what is frozen at issue goes in: the legal reference of the national
clearance systems, entered later, is not in the stored PDF's XML.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from billing.invoicing.einvoice import EInvoice, ELine, EParty, ETax
from billing.money import Money
from billing.text import decimal_text

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NAMESPACES = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
for _prefix, _uri in NAMESPACES.items():
    register_namespace(_prefix, _uri)

# BT-24: the specification identifier of EN 16931 itself (Factur-X's EN 16931 profile).
GUIDELINE = "urn:cen.eu:en16931:2017"
VAT = "VAT"
DATE_FORMAT = "102"  # UNTDID 2379: CCYYMMDD


def cii_xml(invoice: EInvoice) -> bytes:
    """The CII XML of `invoice`, UTF-8 with an XML declaration; the same data, the same bytes."""
    root = Element(f"{{{RSM}}}CrossIndustryInvoice")
    context = _sub(root, "rsm:ExchangedDocumentContext")
    _sub(_sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE)
    _document(_sub(root, "rsm:ExchangedDocument"), invoice)
    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for line in invoice.lines:
        _line(_sub(transaction, "ram:IncludedSupplyChainTradeLineItem"), line, invoice.currency)
    _agreement(_sub(transaction, "ram:ApplicableHeaderTradeAgreement"), invoice)
    _sub(transaction, "ram:ApplicableHeaderTradeDelivery")
    _settlement(_sub(transaction, "ram:ApplicableHeaderTradeSettlement"), invoice)
    xml: bytes = tostring(root, encoding="UTF-8", xml_declaration=True)
    return xml


def _sub(parent: Element, tag: str, text: str | None = None, **attributes: str) -> Element:
    prefix, _, name = tag.partition(":")
    element = SubElement(parent, f"{{{NAMESPACES[prefix]}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _date(parent: Element, tag: str, day: date, *, qualified: bool = False) -> None:
    kind = "qdt:DateTimeString" if qualified else "udt:DateTimeString"
    _sub(_sub(parent, tag), kind, day.strftime("%Y%m%d"), format=DATE_FORMAT)


def _amount(money: Money) -> str:
    return f"{money.rounded().amount:f}"


def _decimal(value: Decimal) -> str:
    return decimal_text(value).replace(",", "")


def _document(document: Element, invoice: EInvoice) -> None:
    _sub(document, "ram:ID", invoice.number)
    _sub(document, "ram:TypeCode", invoice.type_code)
    _date(document, "ram:IssueDateTime", invoice.issue_date)
    if invoice.reason:
        _sub(_sub(document, "ram:IncludedNote"), "ram:Content", invoice.reason)


def _line(item: Element, line: ELine, currency: str) -> None:
    _sub(_sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.line_id)
    product = _sub(item, "ram:SpecifiedTradeProduct")
    if line.circuit_id:
        _sub(product, "ram:SellerAssignedID", line.circuit_id)
    _sub(product, "ram:Name", line.name or line.circuit_id or "Service")
    agreement = _sub(item, "ram:SpecifiedLineTradeAgreement")
    price = _sub(agreement, "ram:NetPriceProductTradePrice")
    _sub(price, "ram:ChargeAmount", _decimal(line.unit_price))
    delivery = _sub(item, "ram:SpecifiedLineTradeDelivery")
    _sub(delivery, "ram:BilledQuantity", _decimal(line.quantity), unitCode=line.unit_code)
    settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:TypeCode", VAT)
    _sub(tax, "ram:CategoryCode", line.category_code)
    if line.category_code != "O":  # BR-O-5: no rate outside the scope of VAT
        _sub(tax, "ram:RateApplicablePercent", _decimal(line.rate_percent))
    period = _sub(settlement, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", line.period.start)
    _date(period, "ram:EndDateTime", line.period.end)
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", _amount(line.net_amount))


def _party(parent: Element, tag: str, party: EParty) -> None:
    element = _sub(parent, tag)
    _sub(element, "ram:Name", party.name)
    address = _sub(element, "ram:PostalTradeAddress")
    if party.postal_code:
        _sub(address, "ram:PostcodeCode", party.postal_code)
    # BT-35/BT-50: the street; a party recorded before the split fields has its one-text
    # address's first line there.
    street = party.street or party.address.split("\n", 1)[0].strip()
    if street:
        _sub(address, "ram:LineOne", street)
    if party.city:
        _sub(address, "ram:CityName", party.city)
    _sub(address, "ram:CountryID", party.country)
    if party.email:
        communication = _sub(element, "ram:URIUniversalCommunication")
        _sub(communication, "ram:URIID", party.email, schemeID="EM")
    if party.vat_id:
        registration = _sub(element, "ram:SpecifiedTaxRegistration")
        _sub(registration, "ram:ID", party.vat_id, schemeID="VA")
    elif party.tax_id:
        registration = _sub(element, "ram:SpecifiedTaxRegistration")
        _sub(registration, "ram:ID", party.tax_id, schemeID="FC")


def _agreement(agreement: Element, invoice: EInvoice) -> None:
    _sub(agreement, "ram:BuyerReference", invoice.buyer_reference)
    _party(agreement, "ram:SellerTradeParty", invoice.seller)
    _party(agreement, "ram:BuyerTradeParty", invoice.buyer)
    if invoice.purchase_orders:
        order = _sub(agreement, "ram:BuyerOrderReferencedDocument")
        _sub(order, "ram:IssuerAssignedID", ", ".join(invoice.purchase_orders))
    if invoice.contract_numbers:
        contract = _sub(agreement, "ram:ContractReferencedDocument")
        _sub(contract, "ram:IssuerAssignedID", ", ".join(invoice.contract_numbers))


def _tax(settlement: Element, tax: ETax) -> None:
    element = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(element, "ram:CalculatedAmount", _amount(tax.tax))
    _sub(element, "ram:TypeCode", VAT)
    if tax.exemption_reason and tax.category_code not in ("S", "Z"):
        _sub(element, "ram:ExemptionReason", tax.exemption_reason)
    _sub(element, "ram:BasisAmount", _amount(tax.base))
    _sub(element, "ram:CategoryCode", tax.category_code)
    if tax.exemption_reason_code and tax.category_code not in ("S", "Z"):
        _sub(element, "ram:ExemptionReasonCode", tax.exemption_reason_code)
    if tax.category_code != "O":
        _sub(element, "ram:RateApplicablePercent", _decimal(tax.rate_percent))


def _settlement(settlement: Element, invoice: EInvoice) -> None:
    means = invoice.payment_means
    if means is not None and means.remittance:
        _sub(settlement, "ram:PaymentReference", means.remittance)
    _sub(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    if means is not None and not invoice.is_credit_note:
        payment = _sub(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _sub(payment, "ram:TypeCode", means.code)
        account = _sub(payment, "ram:PayeePartyCreditorFinancialAccount")
        _sub(account, "ram:IBANID", means.iban)
        if means.account_name:
            _sub(account, "ram:AccountName", means.account_name)
        if means.bic:
            bank = _sub(payment, "ram:PayeeSpecifiedCreditorFinancialInstitution")
            _sub(bank, "ram:BICID", means.bic)
    for tax in invoice.taxes:
        _tax(settlement, tax)
    if invoice.period is not None:
        period = _sub(settlement, "ram:BillingSpecifiedPeriod")
        _date(period, "ram:StartDateTime", invoice.period.start)
        _date(period, "ram:EndDateTime", invoice.period.end)
    if not invoice.is_credit_note and (invoice.payment_terms or invoice.due_date):
        terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
        if invoice.payment_terms:
            _sub(terms, "ram:Description", invoice.payment_terms)
        if invoice.due_date is not None:
            _date(terms, "ram:DueDateDateTime", invoice.due_date)
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", _amount(invoice.line_total))
    _sub(summation, "ram:TaxBasisTotalAmount", _amount(invoice.line_total))
    _sub(summation, "ram:TaxTotalAmount", _amount(invoice.tax_total), currencyID=invoice.currency)
    _sub(summation, "ram:GrandTotalAmount", _amount(invoice.total))
    _sub(summation, "ram:DuePayableAmount", _amount(invoice.payable))
    if invoice.credited_number:
        reference = _sub(settlement, "ram:InvoiceReferencedDocument")
        _sub(reference, "ram:IssuerAssignedID", invoice.credited_number)
        if invoice.credited_issue_date is not None:
            _date(
                reference,
                "ram:FormattedIssueDateTime",
                invoice.credited_issue_date,
                qualified=True,
            )
