"""What a structured e-invoice says (SPEC 14): the data UBL 2.1 (Peppol BIS Billing 3.0) and
Factur-X (CII, EN 16931) both write, read once from an issued invoice or credit note.

Everything comes from the frozen document: its stored amounts, its taxes with the category of the
rule used, its lines with their units, and both parties' details as they were on the issue day
(`issuer_details`, `customer_details`): editing a customer's address later changes no e-invoice.
Pure values out; the XML writers (`ubl.py`, the Factur-X one) only format them.

Signs: a credit note is stored with negative amounts; e-invoices state it with positive ones
under its own type (UBL CreditNote, CII type code 381), so every amount here is as the document
reads: positive for both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.calendar import Period
from billing.errors import N_, ConflictError
from billing.invoicing.document import DocumentKind, PartyDetails
from billing.invoicing.issuing import stored_details
from billing.invoicing.models import Invoice, InvoiceLine, InvoiceTax
from billing.money import Money, total

# UNCL4461 payment means: 58 SEPA credit transfer, 30 credit transfer (any other account).
SEPA_CREDIT_TRANSFER = "58"
CREDIT_TRANSFER = "30"
# IBAN country codes of the SEPA scheme (EPC list), where code 58 applies to a euro payment.
SEPA_COUNTRIES = frozenset(
    "AD AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL "
    "PT RO SE SI SK SM VA".split()
)
# UNCL1001 document type codes.
INVOICE_TYPE = "380"
CREDIT_NOTE_TYPE = "381"


class NotAnEInvoiceError(ConflictError):
    """A draft has no number, no frozen content: it is no e-invoice yet."""


@dataclass(frozen=True, slots=True)
class EParty:
    """Seller or buyer as on the issue day. `tax_id` is the national registration (legal
    entity id), `vat_id` the VAT identifier with its country prefix; empty when not known."""

    name: str
    street: str
    city: str
    postal_code: str
    country: str
    vat_id: str
    tax_id: str
    # The one-text address (what the PDF prints), for a reader that needs no split.
    address: str
    # The buyer's invoice mailbox at issue (its first billing contact), else empty.
    email: str = ""


@dataclass(frozen=True, slots=True)
class ELine:
    """One line. `net_amount` = quantity × `unit_price`, as stored (rounded to the minor unit;
    a negative line has a negative quantity, its price is never negative);
    `unit_code` UN/ECE Rec. 20 (MON, ANN, C62); the VAT category and rate of its tax."""

    line_id: str
    name: str
    circuit_id: str
    period: Period
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    net_amount: Money
    category_code: str
    rate_percent: Decimal


@dataclass(frozen=True, slots=True)
class ETax:
    """The VAT breakdown of one category and rate (EN 16931 BG-23)."""

    category_code: str
    rate_percent: Decimal
    base: Money
    tax: Money
    exemption_reason_code: str
    exemption_reason: str


@dataclass(frozen=True, slots=True)
class EPaymentMeans:
    """How to pay: UNCL4461 code, the issuer's IBAN and BIC, the remittance reference."""

    code: str
    iban: str
    bic: str
    account_name: str
    remittance: str


@dataclass(frozen=True, slots=True)
class EInvoice:
    """An issued invoice or credit note as e-invoices state it (see the module docstring)."""

    kind: DocumentKind
    number: str
    issue_date: date
    due_date: date | None
    currency: str
    seller: EParty
    buyer: EParty
    # BT-10: the customer's purchase order(s), else the contract number(s), else the number.
    buyer_reference: str
    purchase_orders: tuple[str, ...]
    contract_numbers: tuple[str, ...]
    lines: tuple[ELine, ...]
    taxes: tuple[ETax, ...]
    line_total: Money
    tax_total: Money
    total: Money
    payable: Money
    payment_means: EPaymentMeans | None
    payment_terms: str
    period: Period | None
    # A credit note's invoice (BillingReference / BT-25, BT-26).
    credited_number: str | None
    credited_issue_date: date | None
    reason: str
    # The national clearance systems' number and status at the time the XML is made.
    legal_reference: str
    legal_reference_status: str

    @property
    def type_code(self) -> str:
        return INVOICE_TYPE if self.kind is DocumentKind.INVOICE else CREDIT_NOTE_TYPE

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE


def einvoice_data(invoice: Invoice, *, number: str | None = None) -> EInvoice:
    """The issued `invoice` (or credit note) as e-invoice data.

    Reads only the invoice row, its lines, its taxes and, for a credit note, the credited invoice
    (relationships loaded on access): no session argument, no query of today's parties or
    customers. Raises NotAnEInvoiceError for a draft. `number` is for the issuing path itself,
    which renders the Factur-X PDF of a document written and numbered but not yet marked issued.
    """
    if number is None and invoice.is_draft:
        raise NotAnEInvoiceError(N_("a draft is not an e-invoice: issue it first"))
    number = number or invoice.number
    if number is None or invoice.issue_date is None:
        raise NotAnEInvoiceError(N_("a draft is not an e-invoice: issue it first"))
    currency = invoice.currency
    sign = -1 if invoice.is_credit_note else 1
    seller = _party(stored_details(invoice.issuer_details))
    buyer = _party(stored_details(invoice.customer_details), invoice.billing_contact_email or "")
    by_rate = {t.rate_percent: t for t in invoice.taxes}
    lines = tuple(_line(line, sign, currency, by_rate) for line in invoice.lines)
    taxes = tuple(
        ETax(
            category_code=t.category_code,
            rate_percent=t.rate_percent,
            base=Money(sign * t.base, currency),
            tax=Money(sign * t.tax, currency),
            exemption_reason_code=t.exemption_reason_code,
            exemption_reason=t.exemption_reason,
        )
        for t in sorted(invoice.taxes, key=lambda t: (-t.rate_percent, t.category_code))
    )
    purchase_orders = tuple(p for p in invoice.purchase_orders.split("\n") if p)
    contracts = tuple(c for c in (invoice.contract_numbers or "").split("\n") if c)
    line_total = total((line.net_amount for line in lines), currency)
    tax_total = Money(sign * invoice.tax_total, currency)
    document_total = Money(sign * invoice.total, currency)
    credited = invoice.credited_invoice
    return EInvoice(
        kind=DocumentKind(invoice.kind),
        number=number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=currency,
        seller=seller,
        buyer=buyer,
        buyer_reference=", ".join(purchase_orders or contracts) or number,
        purchase_orders=purchase_orders,
        contract_numbers=contracts,
        lines=lines,
        taxes=taxes,
        line_total=line_total,
        tax_total=tax_total,
        total=document_total,
        payable=document_total,
        payment_means=_payment_means(stored_details(invoice.issuer_details), invoice, number),
        payment_terms=_terms(invoice.payment_terms_days),
        period=Period(
            min(line.period_start for line in invoice.lines),
            max(line.period_end for line in invoice.lines),
        )
        if invoice.lines
        else None,
        credited_number=None if credited is None else credited.number,
        credited_issue_date=None if credited is None else credited.issue_date,
        reason=invoice.reason,
        legal_reference=invoice.legal_reference,
        legal_reference_status=invoice.legal_reference_status,
    )


def _party(details: PartyDetails, email: str = "") -> EParty:
    return EParty(
        name=details.name,
        street=details.street,
        city=details.city,
        postal_code=details.postal_code,
        country=details.country,
        vat_id=details.vat_id,
        tax_id=details.tax_id,
        address=details.address,
        email=email,
    )


def _line(line: InvoiceLine, sign: int, currency: str, by_rate: dict[Decimal, InvoiceTax]) -> ELine:
    amount = sign * (line.amount or Decimal(0))
    # A price is never negative (EN 16931 BR-27): a credit on an invoice (an SLA credit, say)
    # is a negative quantity at a positive price.
    quantity = line.quantity if amount >= 0 else -line.quantity
    return ELine(
        line_id=str(line.position),
        name=line.description,
        circuit_id=line.circuit_id,
        period=Period(line.period_start, line.period_end),
        quantity=quantity,
        unit_code=line.unit_code,
        unit_price=_unit_price(amount, quantity),
        net_amount=Money(amount, currency),
        category_code=_category_of(by_rate, line.tax_rate_percent),
        rate_percent=line.tax_rate_percent or Decimal(0),
    )


def _unit_price(amount: Decimal, quantity: Decimal) -> Decimal:
    if quantity in (1, -1):
        return amount * quantity
    # One-off lines are rounded from quantity × price: four places give the price back.
    return (amount / quantity).quantize(Decimal("0.0001")).normalize()


def _category_of(by_rate: dict[Decimal, InvoiceTax], rate: Decimal | None) -> str:
    tax = by_rate.get(rate if rate is not None else Decimal(0))
    if tax is None:  # a line at a rate with no tax row: none is issued so
        return "S" if rate else "O"
    return tax.category_code


def _payment_means(issuer: PartyDetails, invoice: Invoice, number: str) -> EPaymentMeans | None:
    if not issuer.iban:
        return None
    sepa = invoice.currency == "EUR" and issuer.iban[:2] in SEPA_COUNTRIES
    return EPaymentMeans(
        code=SEPA_CREDIT_TRANSFER if sepa else CREDIT_TRANSFER,
        iban=issuer.iban,
        bic=issuer.bic,
        account_name=issuer.name,
        remittance=number,
    )


def _terms(days: int | None) -> str:
    if days is None:
        return ""
    if days == 0:
        return "Due on receipt"
    return f"{days} days net"
