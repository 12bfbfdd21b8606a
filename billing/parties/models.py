"""The operators of the line (SPEC 1) and the wholesale carriers they sell to (SPEC 3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from billing.calendar import zone
from billing.db import Base, UTCDateTime

# The languages an invoice prints in beside English (SPEC 14); "en" prints English alone.
INVOICE_LANGUAGES = ("en", "ru", "az", "kk")


def default_invoice_language(country: str) -> str:
    """A new customer's invoice language: Azerbaijani beside English for an Azerbaijani
    customer, Russian for a Kazakh one (Kazakh is a choice), English alone elsewhere."""
    return {"AZ": "az", "KZ": "ru"}.get(country, "en")


class Party(Base):
    """An operator of the line and a party to the cooperation agreement."""

    __tablename__ = "parties"
    __table_args__ = (CheckConstraint("time_zone <> ''", name="time_zone_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    local_currency: Mapped[str] = mapped_column(String(3))
    document_prefix: Mapped[str] = mapped_column(String(8), unique=True)
    address: Mapped[str] = mapped_column(Text, default="")
    tax_id: Mapped[str] = mapped_column(String(64), default="")
    bank_details: Mapped[str] = mapped_column(Text, default="")
    # The address in the fields e-invoices need (SPEC 14), the VAT id with its country prefix
    # ("AZ1700767721") and the account customers pay into.
    street: Mapped[str] = mapped_column(String(200), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    vat_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    iban: Mapped[str] = mapped_column(String(34), default="", server_default="")
    bic: Mapped[str] = mapped_column(String(11), default="", server_default="")
    listing_order: Mapped[int] = mapped_column(Integer, default=0)
    # Its business calendar (SPEC 3): "today", billing periods and due dates are local dates here.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")

    @validates("time_zone")
    def _known_zone(self, _key: str, value: str) -> str:
        zone(value)
        return value


class Customer(Base):
    """A wholesale carrier; its account-owner party sells to it and invoices it."""

    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("payment_terms_days BETWEEN 0 AND 365", name="payment_terms_range"),
        CheckConstraint("billing_currency IN ('USD', 'AZN', 'KZT', 'EUR')", name="currency_valid"),
        CheckConstraint(
            "invoice_language IN ('en', 'ru', 'az', 'kk')", name="invoice_language_valid"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    tax_id: Mapped[str] = mapped_column(String(64), default="")
    billing_address: Mapped[str] = mapped_column(Text, default="")
    # The billing address in the fields e-invoices need (SPEC 14) and the VAT id with its
    # country prefix ("DE811907980").
    street: Mapped[str] = mapped_column(String(200), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    vat_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    billing_currency: Mapped[str] = mapped_column(String(3), default="USD")
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    owner_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(64), default="")
    # The language its invoices print in beside English (SPEC 14); "en" prints English alone.
    invoice_language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    owner_party: Mapped[Party] = relationship()
