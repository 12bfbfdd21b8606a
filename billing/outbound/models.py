"""Customers' webhook endpoints and the deliveries of events to them (SPEC 13).

An endpoint's signing secret is stored as it is (not hashed, not encrypted): every delivery is
signed with it, so it must be recoverable. It is shown to the customer once, in the answer that
creates the endpoint, and never logged, listed or audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, UTCDateTime
from billing.events import Event

ENABLED = "enabled"
DISABLED = "disabled"

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"

URL_LENGTH = 2048


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("status IN ('enabled', 'disabled')", name="status"),
        Index("ix_webhook_endpoints_customer", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # we_…
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    events: Mapped[list[str]] = mapped_column(JSON)
    # Kept as it is: it signs every delivery (see the module's docstring).
    secret: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default=ENABLED)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The start of the current run of failed attempts (None after a success).
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in self.events


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_once_per_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # whd_…
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the current series of attempts began (a replay starts a new one): retries stop 3 days on.
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_response_code: Mapped[int | None] = mapped_column()
    last_response_body: Mapped[str | None] = mapped_column(Text)  # the first 1 KB, as text
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    endpoint: Mapped[WebhookEndpoint] = relationship()
    event: Mapped[Event] = relationship()


def state_of(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint (never its secret)."""
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
    }
