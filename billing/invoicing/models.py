"""Stored invoicing data (SPEC 4): exchange rates, tax rules, billing runs, invoices and credit
notes with their lines and taxes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship
from sqlalchemy.orm.util import identity_key

from billing.agreement.models import AgreementVersion
from billing.db import Base, Stamped, UTCDateTime
from billing.errors import N_, ConflictError
from billing.money import Money
from billing.parties.models import Customer, Party

FX_SOURCES = ("manual", "cbar", "nbk")
RATE_PLACES = 8
RATE_DIGITS = 18
# UNCL5305 VAT categories (EN 16931): standard, zero rated, exempt, reverse charge, intra-EU,
# export outside the EU, outside the scope of VAT.
TAX_CATEGORIES = ("S", "Z", "E", "AE", "K", "G", "O")
TAX_CATEGORY_VALID = "category_code IN ('S', 'Z', 'E', 'AE', 'K', 'G', 'O')"
LEGAL_REFERENCE_STATUSES = ("not_submitted", "submitted", "accepted", "rejected")


class FxRateRecord(Base):
    """`rate` units of `quote` per one unit of `base` on `rate_date`, as `source` gave it."""

    __tablename__ = "fx_rates"
    __table_args__ = (
        UniqueConstraint("base", "quote", "rate_date", "source"),
        CheckConstraint("rate > 0", name="rate_positive"),
        CheckConstraint("source IN ('manual', 'cbar', 'nbk')", name="source_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base: Mapped[str] = mapped_column(String(3))
    quote: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(Numeric(RATE_DIGITS, RATE_PLACES))
    rate_date: Mapped[date] = mapped_column(Date, index=True)
    source: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")


class TaxRuleRecord(Base):
    """A stored tax rule (SPEC 4): the rate of an issuer's supplies to customers in a country
    ('elsewhere' for every country without its own rule) over a range of supply dates."""

    __tablename__ = "tax_rules"
    __table_args__ = (
        CheckConstraint("rate_percent >= 0 AND rate_percent <= 100", name="rate_range"),
        CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from",
            name="dates_ordered",
        ),
        CheckConstraint(TAX_CATEGORY_VALID, name="category_valid"),
        # EN 16931 (BR-S-5, BR-Z-5, BR-AE-5, BR-O-5 ...): only standard rated (S) has a rate.
        CheckConstraint("(category_code = 'S') = (rate_percent > 0)", name="category_rate"),
        # An exemption reason for every category but S and Z, and none there (BR-*-10).
        CheckConstraint(
            "category_code IN ('S', 'Z') OR exemption_reason_code <> '' OR exemption_reason <> ''",
            name="exemption_given",
        ),
        CheckConstraint(
            "category_code NOT IN ('S', 'Z')"
            " OR (exemption_reason_code = '' AND exemption_reason = '')",
            name="exemption_only_where_exempt",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    customer_country: Mapped[str] = mapped_column(String(9))
    rate_percent: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    name: Mapped[str] = mapped_column(String(100))
    legal_note: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    # The VAT category (UNCL5305) e-invoices state, and why a supply bears no VAT (a VATEX code
    # such as VATEX-EU-AE, and the words).
    category_code: Mapped[str] = mapped_column(String(2), default="S", server_default="S")
    exemption_reason_code: Mapped[str] = mapped_column(String(32), default="", server_default="")
    exemption_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")

    issuer: Mapped[Party] = relationship()
    # The legal note in the invoice languages other than English (SPEC 14), printed beside it.
    notes: Mapped[list[TaxRuleNote]] = relationship(
        order_by="TaxRuleNote.language", cascade="all, delete-orphan", passive_deletes=True
    )


class TaxRuleNote(Base):
    """A tax rule's legal note in one invoice language other than English."""

    __tablename__ = "tax_rule_notes"
    __table_args__ = (
        UniqueConstraint("tax_rule_id", "language"),
        CheckConstraint("language IN ('ru', 'az', 'kk')", name="language_valid"),
        CheckConstraint("note <> ''", name="note_given"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tax_rule_id: Mapped[int] = mapped_column(ForeignKey("tax_rules.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(2))
    note: Mapped[str] = mapped_column(Text)


ACTIVE_RUN = "state IN ('queued', 'running')"


class BillingRun(Base):
    """One billing run of a month, for one issuer or all, and what it did."""

    __tablename__ = "billing_runs"
    __table_args__ = (
        CheckConstraint(
            "state IN ('queued', 'running', 'finished', 'failed', 'cancelled')",
            name="state_valid",
        ),
        CheckConstraint("phase IN ('billing', 'issuing', 'done')", name="phase_valid"),
        # One run of an issuer's month queued or running at a time (SPEC 12): a second request
        # answers the first.
        Index(
            "uq_billing_runs_active_month",
            "issuer_party_id",
            "period_start",
            unique=True,
            postgresql_where=text(ACTIVE_RUN),
            sqlite_where=text(ACTIVE_RUN),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, index=True)
    issuer_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    state: Mapped[str] = mapped_column(String(10), default="running")
    issue: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_by: Mapped[str] = mapped_column(String(200))
    services_seen: Mapped[int] = mapped_column(Integer, default=0)
    charges_billed: Mapped[int] = mapped_column(Integer, default=0)
    invoices_touched: Mapped[int] = mapped_column(Integer, default=0)
    invoices_issued: Mapped[int] = mapped_column(Integer, default=0)
    # What the run left out and why, one line each ("WL-AKT-0001: no tax rule ...").
    skipped: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    # Month-end as jobs (SPEC 12): where the run stands, its heartbeat (one per chunk), who asked
    # it to stop, and how long an issuing chunk held the number series at most.
    phase: Mapped[str] = mapped_column(String(10), default="billing", server_default="done")
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_requested_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    customers_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    customers_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Issuing goes through the month's drafts in id order: the last id it has been past.
    issued_through_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    series_hold_max_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    issuing_chunks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    issuer: Mapped[Party | None] = relationship()

    @property
    def skipped_lines(self) -> list[str]:
        return [line for line in self.skipped.splitlines() if line]


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CREDITED = "credited"


OPEN_STATUSES = (InvoiceStatus.ISSUED.value, InvoiceStatus.PARTIALLY_PAID.value)
AMOUNT = Numeric(16, 2)


class Invoice(Stamped, Base):
    """An invoice or a credit note (SPEC 4). A draft has no number and may change; an issued one
    is frozen: its content, its snapshot of both parties' details and its stored PDF."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind_valid"),
        CheckConstraint(
            "status IN ('draft', 'issued', 'partially_paid', 'paid', 'credited')",
            name="status_valid",
        ),
        CheckConstraint("(status = 'draft') = (number IS NULL)", name="number_iff_issued"),
        # An issued document is dated; its PDF may be rendered later by a job (SPEC 12), and
        # until then both the PDF and its SHA-256 are NULL ("PDF being prepared").
        CheckConstraint("status = 'draft' OR issue_date IS NOT NULL", name="issued_complete"),
        CheckConstraint("(pdf IS NULL) = (pdf_sha256 IS NULL)", name="pdf_with_sha256"),
        CheckConstraint(
            "(kind = 'credit_note') = (credited_invoice_id IS NOT NULL)",
            name="credit_note_has_invoice",
        ),
        CheckConstraint("fx_rate IS NULL OR fx_rate > 0", name="fx_rate_positive"),
        CheckConstraint(
            "legal_reference_status IN ('not_submitted', 'submitted', 'accepted', 'rejected')",
            name="legal_reference_status_valid",
        ),
        CheckConstraint("language IN ('en', 'ru', 'az', 'kk')", name="language_valid"),
        Index(
            "ix_invoices_open_draft",
            "customer_id",
            "issuer_party_id",
            "currency",
            unique=True,
            postgresql_where=text("status = 'draft'"),
            sqlite_where=text("status = 'draft'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), default="invoice")
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=InvoiceStatus.DRAFT.value, index=True)
    issuer_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    # The billing month whose run made it (for a credit note, that of its invoice).
    period_start: Mapped[date] = mapped_column(Date, index=True)
    billing_run_id: Mapped[int | None] = mapped_column(ForeignKey("billing_runs.id"))
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    subtotal: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal(0))
    tax_total: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal(0))
    total: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal(0))
    credited_total: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal(0))
    paid_total: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal(0))
    # The rate that converted the lines' prices into the invoice currency, as used at issue.
    fx_base: Mapped[str | None] = mapped_column(String(3))
    fx_rate: Mapped[Decimal | None] = mapped_column(Numeric(24, 12))
    fx_rate_date: Mapped[date | None] = mapped_column(Date)
    fx_source: Mapped[str | None] = mapped_column(String(16))
    # The VAT in the issuer's own currency, where the invoice is in another one.
    tax_local: Mapped[Decimal | None] = mapped_column(AMOUNT)
    tax_local_currency: Mapped[str | None] = mapped_column(String(3))
    tax_local_rate: Mapped[Decimal | None] = mapped_column(Numeric(24, 12))
    tax_local_rate_date: Mapped[date | None] = mapped_column(Date)
    tax_local_source: Mapped[str | None] = mapped_column(String(16))
    purchase_orders: Mapped[str] = mapped_column(Text, default="")
    # What the PDF says of the account, frozen at issue (issue 17): the customer's payment terms,
    # the contracts its lines bill (one number a line), the first billing contact receiving
    # invoices and the customer's billing currency. NULL on drafts, and where an invoice issued
    # before they were recorded cannot tell (no contract behind its lines, no contact then).
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    contract_numbers: Mapped[str | None] = mapped_column(Text)
    billing_contact_name: Mapped[str | None] = mapped_column(String(200))
    billing_contact_email: Mapped[str | None] = mapped_column(String(200))
    account_currency: Mapped[str | None] = mapped_column(String(3))
    # Both parties as they were on the issue date (a later address change leaves it alone).
    issuer_details: Mapped[str] = mapped_column(Text, default="")
    customer_details: Mapped[str] = mapped_column(Text, default="")
    credited_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_by: Mapped[str | None] = mapped_column(String(200))
    # Flagged as disputed by finance (SPEC 5): withheld from settlement until resolved.
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    # The national clearance systems' number (SPEC 14: EVHF/e-Qaimə for AZT, IS ESF for KTC),
    # assigned by the tax authority after issue and entered by the issuer's finance by hand
    # until a connector exists, and where its submission stands.
    legal_reference: Mapped[str] = mapped_column(String(64), default="", server_default="")
    legal_reference_status: Mapped[str] = mapped_column(
        String(16), default="not_submitted", server_default="not_submitted"
    )
    # The customer's invoice language, frozen at issue (SPEC 14): its labels and legal notes
    # print in it beside English. A draft takes the customer's language when it is issued.
    language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")

    issuer: Mapped[Party] = relationship()
    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice",
        order_by="InvoiceLine.position",
        cascade="all, delete-orphan",
        foreign_keys="InvoiceLine.invoice_id",
    )
    taxes: Mapped[list[InvoiceTax]] = relationship(
        back_populates="invoice",
        order_by="InvoiceTax.rate_percent.desc()",
        cascade="all, delete-orphan",
    )
    credited_invoice: Mapped[Invoice | None] = relationship(
        remote_side="Invoice.id", foreign_keys=[credited_invoice_id]
    )

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT.value

    @property
    def pdf_pending(self) -> bool:
        """Issued, numbered, but its PDF not rendered yet (a render job stores it, SPEC 12):
        staff see it as "PDF being prepared"; customers do not see it at all yet."""
        return not self.is_draft and self.pdf_sha256 is None

    @property
    def shown_to_customer(self) -> bool:
        """Issued and with its stored PDF: what the API and the portal show (SPEC 12)."""
        return not self.is_draft and self.pdf_sha256 is not None

    @property
    def is_credit_note(self) -> bool:
        return self.kind == "credit_note"

    @property
    def amount_due(self) -> Decimal:
        return self.amount_due_money.amount

    # The stored amounts as Money in the document's currency: what services add up.
    @property
    def subtotal_money(self) -> Money:
        return Money(self.subtotal, self.currency)

    @property
    def tax_total_money(self) -> Money:
        return Money(self.tax_total, self.currency)

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)

    @property
    def credited_money(self) -> Money:
        return Money(self.credited_total, self.currency)

    @property
    def paid_money(self) -> Money:
        return Money(self.paid_total, self.currency)

    @property
    def amount_due_money(self) -> Money:
        if self.is_credit_note or self.is_draft:
            return Money.zero(self.currency)
        return self.total_money - self.credited_money - self.paid_money

    def is_overdue(self, on: date) -> bool:
        return (
            self.status in OPEN_STATUSES
            and self.due_date is not None
            and self.due_date < on
            and self.amount_due > 0
        )


class InvoiceLine(Base):
    """One charge on an invoice, or its reversal on a credit note.

    An invoice line made by a run carries its charge key (service, kind, period start), unique
    across all invoices: the database itself refuses to bill a charge twice. A credit-note line
    carries no key; it names the line it reverses.
    """

    __tablename__ = "invoice_lines"
    __table_args__ = (
        UniqueConstraint(
            "service_id", "charge_kind", "charge_period_start", name="uq_invoice_lines_charge_key"
        ),
        CheckConstraint(
            "(charge_kind IS NULL) = (charge_period_start IS NULL)", name="charge_key_whole"
        ),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # SPEC 5: a stored split is whole and adds up exactly to its line, in cents (compared
        # as whole numbers: SQLite keeps NUMERIC as binary floating point).
        CheckConstraint(
            "split_version_id IS NULL OR (amount IS NOT NULL"
            " AND first_party_id IS NOT NULL AND first_party_amount IS NOT NULL"
            " AND second_party_id IS NOT NULL AND second_party_amount IS NOT NULL"
            " AND ROUND(first_party_amount * 100) + ROUND(second_party_amount * 100)"
            " = ROUND(amount * 100))",
            name="split_adds_up",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"), index=True)
    circuit_id: Mapped[str] = mapped_column(String(32), default="")
    charge_kind: Mapped[str | None] = mapped_column(String(20))
    charge_period_start: Mapped[date | None] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal(1))
    # The charge in the currency of the service's prices, as the run computed it.
    price_amount: Mapped[Decimal] = mapped_column(AMOUNT)
    price_currency: Mapped[str] = mapped_column(String(3))
    # In the invoice currency: set at issue (converted at the issue date's rate) and frozen then.
    amount: Mapped[Decimal | None] = mapped_column(AMOUNT)
    tax_rate_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    tax_rule_id: Mapped[int | None] = mapped_column(ForeignKey("tax_rules.id"))
    credited_line_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_lines.id"), index=True)
    edited_note: Mapped[str] = mapped_column(Text, default="")
    # The unit of `quantity` (UN/ECE Recommendation 20): MON a month of service, ANN a year of
    # O&M, C62 one (a one-off charge, a credit).
    unit_code: Mapped[str] = mapped_column(String(3), default="MON", server_default="MON")
    # The revenue split between the two parties (SPEC 5), stored at issue with the agreement
    # version used and the path's segment weights (JSON: segment code -> km share).
    split_version_id: Mapped[int | None] = mapped_column(ForeignKey("agreement_versions.id"))
    first_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    first_party_amount: Mapped[Decimal | None] = mapped_column(AMOUNT)
    second_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    second_party_amount: Mapped[Decimal | None] = mapped_column(AMOUNT)
    split_weights: Mapped[str | None] = mapped_column(Text)

    invoice: Mapped[Invoice] = relationship(back_populates="lines", foreign_keys=[invoice_id])
    split_version: Mapped[AgreementVersion | None] = relationship()
    first_party: Mapped[Party | None] = relationship(foreign_keys=[first_party_id])
    second_party: Mapped[Party | None] = relationship(foreign_keys=[second_party_id])
    credited_line: Mapped[InvoiceLine | None] = relationship(
        remote_side="InvoiceLine.id", foreign_keys=[credited_line_id]
    )

    @property
    def price_money(self) -> Money:
        """The charge in the currency of the service's prices."""
        return Money(self.price_amount, self.price_currency)

    @property
    def amount_money(self) -> Money:
        """The line in the invoice currency (zero while a draft's line is not yet converted)."""
        return Money(self.amount or Decimal(0), self.invoice.currency)


class InvoiceTax(Base):
    """The tax of one rate on an issued invoice or credit note, computed once on its lines' sum."""

    __tablename__ = "invoice_taxes"
    __table_args__ = (
        UniqueConstraint("invoice_id", "rate_percent"),
        CheckConstraint(TAX_CATEGORY_VALID, name="category_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    rate_percent: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    base: Mapped[Decimal] = mapped_column(AMOUNT)
    tax: Mapped[Decimal] = mapped_column(AMOUNT)
    names: Mapped[str] = mapped_column(Text, default="")
    legal_notes: Mapped[str] = mapped_column(Text, default="")
    # The tax category of the rule used, as it was at issue (SPEC 14).
    category_code: Mapped[str] = mapped_column(String(2), default="S", server_default="S")
    exemption_reason_code: Mapped[str] = mapped_column(String(32), default="", server_default="")
    exemption_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The rules' legal notes in the invoice's language, as printed beside the English ones.
    local_legal_notes: Mapped[str] = mapped_column(Text, default="", server_default="")

    invoice: Mapped[Invoice] = relationship(back_populates="taxes")


class InvoiceDispute(Base):
    """One dispute of an issued invoice: opened with a reason, later resolved."""

    __tablename__ = "invoice_disputes"
    __table_args__ = (
        CheckConstraint(
            "(resolved_at IS NULL) = (resolution IS NULL)", name="resolved_with_resolution"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(Text)

    invoice: Mapped[Invoice] = relationship()


class BulkIssue(Base):
    """Drafts finance selected to issue together (issue 17), issued by jobs one draft per unit of
    work in id order: where it stands, what was issued and what could not be, and why."""

    __tablename__ = "bulk_issues"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'finished')", name="state_valid"),
        CheckConstraint("done >= 0 AND issued >= 0 AND issued <= done", name="counts_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(200))
    # Whom the jobs issue as: the requester's party (NULL for an administrator).
    actor_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    state: Mapped[str] = mapped_column(String(10), default="queued")
    # The selected drafts' ids, ascending; the jobs have gone past every id up to done_through_id.
    invoice_ids: Mapped[list[int]] = mapped_column(JSON)
    done_through_id: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    # One line per selected draft not issued: "<id>: <reason>".
    left: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def total(self) -> int:
        return len(self.invoice_ids)

    @property
    def left_lines(self) -> list[str]:
        return [line for line in self.left.splitlines() if line]

    @property
    def remaining_ids(self) -> list[int]:
        return [i for i in self.invoice_ids if i > self.done_through_id]


class FrozenInvoiceError(ConflictError):
    """An issued invoice or credit note is never changed: a credit note corrects it."""


# What may still change on an issued document: where it stands and what was paid or credited,
# and so when it last changed (billing.db.Stamped).
# The legal reference is the tax authority's, assigned after issue (SPEC 14).
_MOVABLE = frozenset(
    {
        "status",
        "credited_total",
        "paid_total",
        "disputed_at",
        "dispute_reason",
        "legal_reference",
        "legal_reference_status",
        "updated_at",
    }
)


def _issued_before(invoice: Invoice) -> bool:
    history = inspect(invoice).attrs.status.history
    was = history.deleted[0] if history.deleted else invoice.status
    return bool(was != InvoiceStatus.DRAFT.value)


@event.listens_for(Invoice, "before_update")
def _refuse_changing_an_issued_invoice(_mapper: Any, _connection: Any, invoice: Invoice) -> None:
    if not _issued_before(invoice):
        return
    state = inspect(invoice)
    changed = [
        attr.key
        for attr in state.mapper.column_attrs
        if attr.key not in _MOVABLE and state.attrs[attr.key].history.has_changes()
    ]
    if changed:
        raise FrozenInvoiceError(
            N_("%(number)s is issued: %(fields)s cannot change"),
            number=invoice.number,
            fields=", ".join(sorted(changed)),
        )


@event.listens_for(Invoice, "before_delete")
def _refuse_deleting_an_issued_invoice(_mapper: Any, _connection: Any, invoice: Invoice) -> None:
    if _issued_before(invoice):
        raise FrozenInvoiceError(
            N_("%(number)s is issued: it is never deleted"), number=invoice.number
        )


@event.listens_for(InvoiceLine, "before_update")
@event.listens_for(InvoiceLine, "before_delete")
def _refuse_changing_an_issued_line(_mapper: Any, connection: Any, line: InvoiceLine) -> None:
    # The services lock the invoice (and refresh it) before touching its lines, so a loaded
    # draft is a draft; otherwise the database says what the invoice is.
    invoice = line.__dict__.get("invoice")
    session = object_session(line)
    if invoice is None and session is not None:
        invoice = session.identity_map.get(identity_key(Invoice, line.invoice_id))
    if isinstance(invoice, Invoice) and not _issued_before(invoice):
        return
    status = connection.execute(
        select(Invoice.status).where(Invoice.id == line.invoice_id)
    ).scalar_one_or_none()
    if status is not None and status != InvoiceStatus.DRAFT.value:
        raise FrozenInvoiceError(N_("the lines of an issued invoice never change"))
