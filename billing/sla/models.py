"""Outages per segment, the SLA policies (targets and credit tiers per protection class, by
date), and finance's decisions on a service's month (a credit waived, or one granted by hand)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, Stamped, UTCDateTime
from billing.inventory.models import Segment
from billing.sales.models import Service

CAUSE_LENGTH = 200
TICKET_LENGTH = 64
PROTECTIONS = ("unprotected", "protected")


class Outage(Stamped, Base):
    """A segment down from `starts_at` to `ends_at` (None: still down), whole minutes in UTC.
    One per (segment, ticket): importing a ticket again updates it."""

    __tablename__ = "outages"
    __table_args__ = (
        UniqueConstraint("segment_id", "ticket", name="uq_outage_segment_ticket"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="outage_ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    cause: Mapped[str] = mapped_column(String(CAUSE_LENGTH))
    ticket: Mapped[str] = mapped_column(String(TICKET_LENGTH))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))

    segment: Mapped[Segment] = relationship()


class SlaPolicy(Base):
    """The availability a protection class is promised from `effective_from` on, and the credit
    tiers below it."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        UniqueConstraint("protection", "effective_from", name="uq_sla_policy_class_date"),
        CheckConstraint("protection IN ('unprotected', 'protected')", name="sla_protection"),
        CheckConstraint("target_percent > 0 AND target_percent <= 100", name="sla_target_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    protection: Mapped[str] = mapped_column(String(16))
    effective_from: Mapped[date] = mapped_column(Date)
    target_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))

    tiers: Mapped[list[SlaTier]] = relationship(
        back_populates="policy", order_by="SlaTier.below_percent.desc()", cascade="all"
    )


class SlaTier(Base):
    """Availability below `below_percent` earns `credit_percent` of the month's charge; of the
    tiers a month falls under, the largest credit applies."""

    __tablename__ = "sla_tiers"
    __table_args__ = (
        UniqueConstraint("policy_id", "below_percent", name="uq_sla_tier"),
        CheckConstraint("below_percent > 0 AND below_percent <= 100", name="sla_tier_below"),
        CheckConstraint("credit_percent > 0 AND credit_percent <= 100", name="sla_tier_credit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"), index=True)
    below_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    credit_percent: Mapped[Decimal] = mapped_column(Numeric(6, 3))

    policy: Mapped[SlaPolicy] = relationship(back_populates="tiers")


class SlaDecision(Base):
    """Finance's word on a service's month, with the reason: `waive` (no credit, whatever the
    availability) or `grant` (this percentage of the month's charge, whatever the
    availability). Taken before the month's credit is billed; one per service and month."""

    __tablename__ = "sla_decisions"
    __table_args__ = (
        UniqueConstraint("service_id", "period_start", name="uq_sla_decision"),
        CheckConstraint("kind IN ('waive', 'grant')", name="sla_decision_kind"),
        CheckConstraint(
            "(kind = 'grant') = (credit_percent IS NOT NULL)", name="sla_grant_has_percent"
        ),
        CheckConstraint(
            "credit_percent IS NULL OR (credit_percent > 0 AND credit_percent <= 100)",
            name="sla_decision_percent",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8))
    credit_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str] = mapped_column(String(200))


class ChronicFailure(Base):
    """A service below its target three closed months running (SPEC 7), from `first_month` to
    `last_month` (the third): recorded once per run of such months, on the service and its
    contract. It gives the customer the right to terminate the service without the
    early-termination charge."""

    __tablename__ = "chronic_failures"
    __table_args__ = (
        UniqueConstraint("service_id", "first_month", name="uq_chronic_failure"),
        CheckConstraint("last_month > first_month", name="chronic_months_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    first_month: Mapped[date] = mapped_column(Date)
    last_month: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(200))

    service: Mapped[Service] = relationship()
