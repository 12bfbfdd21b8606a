"""Customers, the price book, quotes, contracts and services (SPEC 3)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, Stamped, UTCDateTime
from billing.inventory.models import Product, Route, SpectrumReservation
from billing.parties.models import Customer, Party

PURCHASE_ORDER_LENGTH = 64


class PriceBookVersion(Base):
    """A set of list prices in force from `effective_from` until the next version."""

    __tablename__ = "price_book_versions"
    __table_args__ = (
        CheckConstraint(
            "max_discount_percent >= 0 AND max_discount_percent <= 100", name="discount_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    effective_from: Mapped[date] = mapped_column(Date, unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    max_discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("15"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")

    entries: Mapped[list[PriceBookEntry]] = relationship(
        back_populates="version", order_by="PriceBookEntry.id", cascade="all, delete-orphan"
    )


class PriceBookEntry(Base):
    """List prices (USD) for a product × protection × model × term band.

    `unit` says what one price buys: a circuit, or one 12.5 GHz slot (spectrum products).
    """

    __tablename__ = "price_book_entries"
    __table_args__ = (
        UniqueConstraint(
            "version_id",
            "product_id",
            "protection",
            "model",
            "term_min_months",
            name="uq_price_book_entries_band",
        ),
        CheckConstraint("model IN ('lease', 'iru')", name="model_valid"),
        CheckConstraint("protection IN ('unprotected', 'protected')", name="protection_valid"),
        CheckConstraint("unit IN ('circuit', 'slot')", name="unit_valid"),
        CheckConstraint("term_min_months <= term_max_months", name="band_ordered"),
        CheckConstraint(
            "(model = 'lease' AND mrc IS NOT NULL AND nrc IS NOT NULL) OR "
            "(model = 'iru' AND iru_fee IS NOT NULL AND om_rate_percent IS NOT NULL)",
            name="prices_for_model",
        ),
        CheckConstraint(
            "early_termination_percent >= 0 AND early_termination_percent <= 100",
            name="early_termination_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("price_book_versions.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    protection: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(8))
    term_min_months: Mapped[int] = mapped_column(Integer)
    term_max_months: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(8), default="circuit")
    mrc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    nrc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    iru_fee: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    om_rate_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    # What a lease ended before its term owes: this percent of the remaining months' MRC (SPEC 3).
    early_termination_percent: Mapped[Decimal] = mapped_column(
        Numeric(6, 3), default=Decimal(100), server_default="100"
    )

    version: Mapped[PriceBookVersion] = relationship(back_populates="entries")
    product: Mapped[Product] = relationship()


class QuoteState(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    CANCELLED = "cancelled"


class Quote(Stamped, Base):
    """An offer to a customer; it holds the spectrum it needs until `valid_until`.

    'Expired' is not stored: an open quote past `valid_until` is expired, at once.
    """

    __tablename__ = "quotes"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'accepted', 'cancelled')", name="state_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    price_book_version_id: Mapped[int] = mapped_column(ForeignKey("price_book_versions.id"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    state: Mapped[str] = mapped_column(String(12), default=QuoteState.OPEN.value)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship()
    party: Mapped[Party] = relationship()
    price_book_version: Mapped[PriceBookVersion] = relationship()
    lines: Mapped[list[QuoteLine]] = relationship(
        back_populates="quote", order_by="QuoteLine.position", cascade="all, delete-orphan"
    )
    contract: Mapped[Contract | None] = relationship(back_populates="quote", uselist=False)

    def status(self, now: datetime) -> str:
        if self.state == QuoteState.OPEN and self.valid_until <= now:
            return "expired"
        return self.state


class QuoteLine(Base):
    """One product line of a quote, with the prices copied from the price book at quoting time."""

    __tablename__ = "quote_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("discount_percent >= 0 AND discount_percent <= 100", name="discount_range"),
        CheckConstraint("model IN ('lease', 'iru')", name="model_valid"),
        CheckConstraint("term_months > 0", name="term_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"))
    protection: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(8))
    term_months: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    width_ghz: Mapped[Decimal] = mapped_column(Numeric(8, 3))
    width_slots: Mapped[int] = mapped_column(Integer)
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    price_book_entry_id: Mapped[int] = mapped_column(ForeignKey("price_book_entries.id"))
    # Per unit (one circuit), list and net of discount; NULL where the model has no such charge.
    list_mrc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    list_nrc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    list_iru_fee: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    mrc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    nrc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    iru_fee: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    om_rate_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    early_termination_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))  # leases

    quote: Mapped[Quote] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
    route: Mapped[Route] = relationship()
    holds: Mapped[list[QuoteHold]] = relationship(
        back_populates="line", order_by="QuoteHold.unit", cascade="all, delete-orphan"
    )


class QuoteHold(Base):
    """The spectrum one unit of a quote line holds."""

    __tablename__ = "quote_holds"
    __table_args__ = (UniqueConstraint("quote_line_id", "unit", name="uq_quote_holds_line_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_line_id: Mapped[int] = mapped_column(ForeignKey("quote_lines.id"))
    unit: Mapped[int] = mapped_column(Integer)
    reservation_id: Mapped[int] = mapped_column(ForeignKey("spectrum_reservations.id"), unique=True)

    line: Mapped[QuoteLine] = relationship(back_populates="holds")
    reservation: Mapped[SpectrumReservation] = relationship()


class Contract(Stamped, Base):
    """What an accepted quote becomes. One quote, at most one contract: the database says so."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")
    # The customer's own reference, given on accept; printed on the contract and its invoices.
    purchase_order: Mapped[str | None] = mapped_column(String(PURCHASE_ORDER_LENGTH))

    quote: Mapped[Quote] = relationship(back_populates="contract")
    customer: Mapped[Customer] = relationship()
    party: Mapped[Party] = relationship()
    services: Mapped[list[Service]] = relationship(back_populates="contract", order_by="Service.id")
    # The IRU fee's payment plan (SPEC 3); none means 100% at ready-for-service.
    instalments: Mapped[list[ContractInstalment]] = relationship(
        back_populates="contract",
        order_by="ContractInstalment.position",
        cascade="all, delete-orphan",
    )


class ContractInstalment(Base):
    """One part of a contract's IRU fee: a percent, due on a date or months after RFS."""

    __tablename__ = "contract_instalments"
    __table_args__ = (
        UniqueConstraint("contract_id", "position"),
        CheckConstraint("percent > 0 AND percent <= 100", name="percent_range"),
        CheckConstraint("(due_date IS NULL) <> (months_after_rfs IS NULL)", name="due_one_way"),
        CheckConstraint("months_after_rfs IS NULL OR months_after_rfs >= 0", name="months_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    due_date: Mapped[date | None] = mapped_column(Date)
    months_after_rfs: Mapped[int | None] = mapped_column(Integer)

    contract: Mapped[Contract] = relationship(back_populates="instalments")


class ServiceState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Service(Stamped, Base):
    """One unit sold: a circuit with its id, its spectrum and the prices of its contract."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'active', 'suspended', 'terminated')", name="state_valid"
        ),
        CheckConstraint(
            "end_date IS NULL OR ready_for_service_date IS NULL OR end_date >= ready_for_service_date",
            name="dates_ordered",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    circuit_id: Mapped[str] = mapped_column(String(32), unique=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    quote_line_id: Mapped[int] = mapped_column(ForeignKey("quote_lines.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    reservation_id: Mapped[int] = mapped_column(ForeignKey("spectrum_reservations.id"), unique=True)
    protection: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(8))
    term_months: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    mrc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    nrc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    iru_fee: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    om_rate_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    early_termination_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))  # leases
    state: Mapped[str] = mapped_column(String(12), default=ServiceState.PENDING.value)
    ready_for_service_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    contract: Mapped[Contract] = relationship(back_populates="services")
    customer: Mapped[Customer] = relationship()
    product: Mapped[Product] = relationship()
    quote_line: Mapped[QuoteLine] = relationship()
    reservation: Mapped[SpectrumReservation] = relationship()
    events: Mapped[list[ServiceEvent]] = relationship(
        back_populates="service", order_by="ServiceEvent.id"
    )
    early_termination: Mapped[EarlyTerminationCharge | None] = relationship(
        back_populates="service", uselist=False
    )


class ServiceEvent(Base):
    """Every transition of a service, kept for its history page."""

    __tablename__ = "service_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    effective_date: Mapped[date | None] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")

    service: Mapped[Service] = relationship(back_populates="events")


class EarlyTerminationCharge(Base):
    """What a lease ended before its term owes (SPEC 3), recorded at termination for billing.

    An administrator may waive it, with a reason; a waived charge is kept, never deleted.
    """

    __tablename__ = "early_termination_charges"
    __table_args__ = (
        CheckConstraint("months_remaining > 0", name="months_positive"),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        CheckConstraint(
            "waived_at IS NULL OR (waive_reason IS NOT NULL AND waive_reason <> '' "
            "AND waived_by IS NOT NULL)",
            name="waiver_has_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), unique=True)
    end_date: Mapped[date] = mapped_column(Date)
    term_end_date: Mapped[date] = mapped_column(Date)
    months_remaining: Mapped[int] = mapped_column(Integer)
    mrc: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    rate_percent: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    waived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    waived_by: Mapped[str | None] = mapped_column(String(200))
    waive_reason: Mapped[str | None] = mapped_column(Text)

    service: Mapped[Service] = relationship(back_populates="early_termination")
