"""Stored agreement versions: who owns what share of each segment, and the seller's commission."""

from __future__ import annotations

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

from billing.db import Base, UTCDateTime
from billing.inventory.models import Segment
from billing.parties.models import Party

# The kinds of charge a run bills (billing.invoicing.charges.ChargeKind, which sits above us).
CHARGE_KINDS = ("mrc", "mrc_credit", "nrc", "iru_fee", "om", "early_termination")
DEFAULT_COMMISSION_KINDS = ("mrc", "mrc_credit", "iru_fee", "early_termination")
DEFAULT_WHOLE_KINDS = ("nrc",)
DEFAULT_SETTLEMENT_TERMS_DAYS = 30


def kinds_text(kinds: tuple[str, ...] | list[str]) -> str:
    return ",".join(k for k in CHARGE_KINDS if k in kinds)


class AgreementVersion(Base):
    """The agreement from `effective_from` until the next version. Segments are weighted by
    their length in km; each segment's part goes to its owners by their shares."""

    __tablename__ = "agreement_versions"
    __table_args__ = (
        CheckConstraint(
            "commission_percent >= 0 AND commission_percent <= 100", name="commission_range"
        ),
        CheckConstraint(
            "settlement_terms_days >= 0 AND settlement_terms_days <= 365",
            name="settlement_terms_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    effective_from: Mapped[date] = mapped_column(Date, unique=True)
    commission_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    # Comma-separated charge kinds: those the seller's commission comes off, those it keeps whole.
    commission_kinds: Mapped[str] = mapped_column(
        Text, default=kinds_text(list(DEFAULT_COMMISSION_KINDS))
    )
    whole_kinds: Mapped[str] = mapped_column(Text, default=kinds_text(list(DEFAULT_WHOLE_KINDS)))
    # The net of a month's settlement is due this many days after the month's end.
    settlement_terms_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_SETTLEMENT_TERMS_DAYS, server_default="30"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")

    shares: Mapped[list[AgreementShare]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="AgreementShare.id"
    )

    @property
    def commission_kind_list(self) -> tuple[str, ...]:
        return tuple(k for k in self.commission_kinds.split(",") if k)

    @property
    def whole_kind_list(self) -> tuple[str, ...]:
        return tuple(k for k in self.whole_kinds.split(",") if k)


class AgreementShare(Base):
    """One party's ownership share of one segment under one version."""

    __tablename__ = "agreement_shares"
    __table_args__ = (
        UniqueConstraint("version_id", "segment_id", "party_id"),
        CheckConstraint("share_percent >= 0 AND share_percent <= 100", name="share_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("agreement_versions.id", ondelete="CASCADE"), index=True
    )
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    share_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))

    version: Mapped[AgreementVersion] = relationship(back_populates="shares")
    segment: Mapped[Segment] = relationship()
    party: Mapped[Party] = relationship()
