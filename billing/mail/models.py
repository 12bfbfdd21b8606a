"""Billing contacts, the mails composed for them and every attempt to deliver each (SPEC 13)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, UTCDateTime

LANGUAGES = ("en", "ru", "az", "kk")
# What a customer's contact may ask for (statements go to the other party's finance users).
DOCUMENTS = ("invoices", "credit_notes", "reminders")
KINDS = ("invoice", "credit_note", "statement", "reminder", "test", "webhook_disabled")
STATUSES = ("queued", "sent", "failed")
OUTCOMES = ("sent", "retry", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class BillingContact(Base):
    """Someone at a customer who receives its documents by email."""

    __tablename__ = "billing_contacts"
    __table_args__ = (
        UniqueConstraint("customer_id", "email", name="uq_billing_contacts_customer_email"),
        CheckConstraint(_in("language", LANGUAGES), name="language_valid"),
        CheckConstraint("email <> ''", name="email_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="en")
    invoices: Mapped[bool] = mapped_column(Boolean, default=True)
    credit_notes: Mapped[bool] = mapped_column(Boolean, default=True)
    reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def documents(self) -> list[str]:
        return [document for document in DOCUMENTS if getattr(self, document)]


class Mail(Base):
    """One email as composed: who it goes to, what it says and the document it carries (the
    attachment is read from the document when it is sent, never copied here)."""

    __tablename__ = "mails"
    __table_args__ = (
        CheckConstraint(_in("kind", KINDS), name="kind_valid"),
        CheckConstraint(_in("status", STATUSES), name="status_valid"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent_at_iff_sent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    # The sender: its MAIL_FROM setting is the From address.
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    statement_id: Mapped[int | None] = mapped_column(
        ForeignKey("settlement_statements.id"), index=True
    )
    # [{"name": ..., "email": ...}, ...]
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    list_unsubscribe: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    # The server's answer to the message once sent, or why it failed.
    answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    attempts: Mapped[list[MailAttempt]] = relationship(
        order_by="MailAttempt.id", back_populates="mail"
    )

    @property
    def to_text(self) -> str:
        return ", ".join(f"{r['name']} <{r['email']}>" for r in self.recipients)


class MailAttempt(Base):
    """One try at handing a mail to the SMTP server, and what came of it."""

    __tablename__ = "mail_attempts"
    __table_args__ = (CheckConstraint(_in("outcome", OUTCOMES), name="outcome_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("mails.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(10))
    # The server's answer, or the error that stopped the attempt.
    detail: Mapped[str] = mapped_column(Text, default="")

    mail: Mapped[Mail] = relationship(back_populates="attempts")
