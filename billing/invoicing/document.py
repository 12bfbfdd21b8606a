"""What an issued invoice or credit note says (SPEC 4), as plain values for its PDF.

Issuing maps the stored invoice to an `InvoiceDocument` once; the PDF is rendered from it and
stored. Nothing here reads the database or Flask: the document is everything the PDF shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from billing.calendar import Period
from billing.money import Money


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
    """Tax of one rate: its base (the sum of the lines at that rate), the tax, the legal notes."""

    rate_percent: Decimal
    base: Money
    tax: Money
    legal_notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FxNote:
    """The exchange rate used: `rate` units of `quote` for one `base`, as published on `on`."""

    base: str
    quote: str
    rate: Decimal
    on: date
    source: str

    def __str__(self) -> str:
        rate = (
            f"{self.rate:f}".rstrip("0").rstrip(".") if "." in f"{self.rate:f}" else str(self.rate)
        )
        return f"1 {self.base} = {rate} {self.quote} ({self.source.upper()}, {self.on.isoformat()})"


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
