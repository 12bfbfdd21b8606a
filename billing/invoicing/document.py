"""What an issued invoice or credit note says (SPEC 4), as plain values for its PDF.

Issuing maps the stored invoice to an `InvoiceDocument` once; the PDF is rendered from it and
stored. Nothing here reads the database or Flask: the document is everything the PDF shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from billing.calendar import Period
from billing.invoicing.wording import ENGLISH, invoice_language, rate_source_words
from billing.money import Money

if TYPE_CHECKING:
    from billing.invoicing.einvoice import EInvoice


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def title(self) -> str:  # type: ignore[override]  # the document's heading, not str.title
        return "Invoice" if self is DocumentKind.INVOICE else "Credit note"

    @property
    def series(self) -> str:
        """The number's document-type part: AZT-INV-2026-000001, KTC-CN-2026-000007."""
        return "INV" if self is DocumentKind.INVOICE else "CN"


@dataclass(frozen=True, slots=True)
class PartyDetails:
    """A party to the document as its legal details read on the day it was issued."""

    name: str
    address: str
    country: str
    tax_id: str
    bank_details: str = ""
    # The address in fields and the identifiers e-invoices need (SPEC 14), as at issue.
    street: str = ""
    city: str = ""
    postal_code: str = ""
    vat_id: str = ""
    iban: str = ""
    bic: str = ""


@dataclass(frozen=True, slots=True)
class DocumentLine:
    circuit_id: str
    description: str
    period: Period | None
    quantity: Decimal
    unit_price: Money
    amount: Money
    tax_rate_percent: Decimal


@dataclass(frozen=True, slots=True)
class DocumentTax:
    """Tax of one rate: its base (the sum of the lines at that rate), the tax, the legal notes
    (in English, and in the document's language where the rules have them)."""

    rate_percent: Decimal
    base: Money
    tax: Money
    legal_notes: tuple[str, ...]
    # The VAT category (UNCL5305) and exemption reason of the rule, frozen at issue (SPEC 14).
    category_code: str = "S"
    exemption_reason_code: str = ""
    exemption_reason: str = ""
    local_legal_notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FxNote:
    """The exchange rate used: `rate` units of `quote` for one `base`, as published on `on`."""

    base: str
    quote: str
    rate: Decimal
    on: date
    source: str

    def __str__(self) -> str:
        return self.words(ENGLISH)

    def words(self, language: str) -> str:
        """ "1 USD = 512.34 KZT (National Bank of Kazakhstan official rate of 2026-11-30)"; in
        another language the source reads in it and in English."""
        rate = (
            f"{self.rate:f}".rstrip("0").rstrip(".") if "." in f"{self.rate:f}" else str(self.rate)
        )
        source = source_words(self.source, self.on)
        if invoice_language(language) != ENGLISH:
            source = f"{rate_source_words(self.source, self.on, language)} / {source}"
        return f"1 {self.base} = {rate} {self.quote} ({source})"


def source_words(source: str, on: date) -> str:
    """`cbar` on 2026-12-05 reads "Central Bank of Azerbaijan official rate of 2026-12-05"; a
    rate crossed through a third currency (`cbar cross`) and one entered by hand say so."""
    return rate_source_words(source, on, ENGLISH)


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    kind: DocumentKind
    number: str
    issue_date: date
    due_date: date | None
    issuer: PartyDetails
    customer: PartyDetails
    currency: str
    lines: tuple[DocumentLine, ...]
    taxes: tuple[DocumentTax, ...]
    subtotal: Money
    tax_total: Money
    total: Money
    amount_due: Money
    period: Period | None = None
    purchase_orders: tuple[str, ...] = ()
    fx: FxNote | None = None
    # Where the invoice currency is not the issuer's own, the VAT in the issuer's currency too.
    tax_local: Money | None = None
    tax_local_fx: FxNote | None = None
    credited_invoice_number: str | None = None
    reason: str | None = None
    pay_link: str | None = None
    notes: tuple[str, ...] = field(default=())
    # The account as it stood at issue (issue 17): terms, contracts, contact and currency.
    payment_terms_days: int | None = None
    contract_numbers: tuple[str, ...] = ()
    billing_contact: BillingContactNote | None = None
    account_currency: str | None = None
    # A draft's preview: the same document, marked DRAFT on every page, with no number yet.
    draft: bool = False
    # The customer's invoice language when it was issued (SPEC 14): every label prints in it
    # beside English; "en" prints English alone.
    language: str = ENGLISH
    # The e-invoice of an issued document (SPEC 14): its PDF is Factur-X, with this as CII XML
    # inside. None for a draft's preview, which stays a plain PDF.
    e_invoice: EInvoice | None = None

    @property
    def payment_terms(self) -> str | None:
        """ "30 days net"; "due on receipt" for zero days."""
        if self.payment_terms_days is None:
            return None
        if self.payment_terms_days == 0:
            return "due on receipt"
        days = "day" if self.payment_terms_days == 1 else "days"
        return f"{self.payment_terms_days} {days} net"


DRAFT_NUMBER = "DRAFT — not yet numbered"


@dataclass(frozen=True, slots=True)
class BillingContactNote:
    """Who at the customer receives the invoices: "Name <email>"."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email
