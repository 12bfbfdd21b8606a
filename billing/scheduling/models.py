"""Schedules and the last error of each failed job (SPEC 12)."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, UTCDateTime
from billing.parties.models import Party

MONTH_END = "month_end"
FX_IMPORT = "fx_import"
# Payment reminders of one issuer (SPEC 13), daily in its local morning.
REMINDERS = "reminders"
KINDS = (MONTH_END, FX_IMPORT, REMINDERS)


class Schedule(Base):
    """Periodic work an admin switches on: month-end of one issuer (monthly, on a day at a local
    time), the FX import of one central bank's file from a URL (daily at a local time), or the
    payment reminders of one issuer (daily at a local time)."""

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("kind IN ('month_end', 'fx_import', 'reminders')", name="kind_valid"),
        CheckConstraint(
            "kind <> 'reminders' OR party_id IS NOT NULL", name="reminders_have_issuer"
        ),
        CheckConstraint(
            "kind <> 'month_end' OR (party_id IS NOT NULL AND day_of_month BETWEEN 1 AND 28)",
            name="month_end_has_issuer_and_day",
        ),
        CheckConstraint(
            "kind <> 'fx_import' OR source IN ('cbar', 'nbk')", name="fx_import_has_source"
        ),
        UniqueConstraint("kind", "party_id", name="uq_schedules_kind_party"),
        UniqueConstraint("kind", "source", name="uq_schedules_kind_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    source: Mapped[str | None] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text, default="")
    day_of_month: Mapped[int | None] = mapped_column(Integer)
    local_time: Mapped[time] = mapped_column(Time)
    # Month-end: issue the drafts too, or leave them for finance to issue.
    issue: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The slot (UTC) last handed to the queue: a slot at or before it never runs again.
    last_slot: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_result: Mapped[str] = mapped_column(Text, default="")

    party: Mapped[Party | None] = relationship()


class JobFailure(Base):
    """The last error of a job that failed (Procrastinate keeps the status, not the reason)."""

    __tablename__ = "job_failures"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    task_name: Mapped[str] = mapped_column(String(128))
    error: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
