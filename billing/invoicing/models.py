"""Stored invoicing data: exchange rates as published or entered (SPEC 4)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime

FX_SOURCES = ("manual", "cbar", "nbk")
RATE_PLACES = 8
RATE_DIGITS = 18


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
