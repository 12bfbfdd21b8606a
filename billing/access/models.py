"""Who may do what: staff users, customers' API keys, idempotent requests."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, UTCDateTime
from billing.parties.models import Customer, Party


class Role(enum.StrEnum):
    ADMIN = "admin"
    SALES = "sales"
    FINANCE = "finance"
    # Operations (SPEC 7): record outages of the cable's segments, of either party.
    NOC = "noc"
    # A customer's staff on the portal (/portal/...): scoped to one customer, no party.
    CUSTOMER = "customer"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'sales', 'finance', 'noc', 'customer')", name="role_valid"
        ),
        CheckConstraint(
            "(role = 'customer') = (customer_id IS NOT NULL AND party_id IS NULL)",
            name="customer_login_scoped",
        ),
        CheckConstraint(
            "language IS NULL OR language IN ('en', 'ru', 'az', 'kk')", name="ui_language_valid"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    # Staff belong to a party; a portal login (role customer) to one customer instead.
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What a staff session carries instead of the id: a new token ends every session made with
    # the old one (logout, password change, deactivation).
    session_token: Mapped[str] = mapped_column(
        String(64), unique=True, default=lambda: new_session_token()
    )

    # The UI language the user chose (SPEC 14): en, ru, az or kk; none follows the browser.
    language: Mapped[str | None] = mapped_column(String(2), default=None)

    # Typed as always there: only staff code reads it, and staff always have a party.
    party: Mapped[Party] = relationship()
    customer: Mapped[Customer | None] = relationship()

    @property
    def is_portal(self) -> bool:
        return self.role == Role.CUSTOMER.value

    @property
    def label(self) -> str:
        if self.customer is not None:
            return f"{self.email} (portal, {self.customer.legal_name})"
        return f"{self.email} ({self.role}, {self.party.code})"

    # The interface Flask-Login expects of a user (duck-typed: no web import down here).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return self.session_token


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class ApiKey(Base):
    """A customer's API key. Only its SHA-256 is stored; the key is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship()


class IdempotencyRecord(Base):
    """A POST made with an Idempotency-Key, and the response to replay for it.

    Unique per customer and key; the row is written in the same transaction as the work, so two
    concurrent requests with one key cannot both do it.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("customer_id", "key", name="uq_idempotency_keys_customer_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column()
    response_body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
