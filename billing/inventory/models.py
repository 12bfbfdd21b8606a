"""Reference data of the cable system (SPEC 1) and spectrum allocations (SPEC 2)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, UTCDateTime
from billing.parties.models import Customer


class LandingStation(Base):
    __tablename__ = "landing_stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))


class Route(Base):
    """A path across the sea made of segments in order; `protection_route` carries the 1+1 twin."""

    __tablename__ = "routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    protection_route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"))

    protection_route: Mapped[Route | None] = relationship(remote_side=[id])
    segments: Mapped[list[Segment]] = relationship(
        back_populates="route", order_by="Segment.route_position"
    )


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (
        CheckConstraint("length_km > 0", name="length_positive"),
        UniqueConstraint("route_id", "route_position", name="uq_segments_route_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    a_station_id: Mapped[int] = mapped_column(ForeignKey("landing_stations.id"))
    b_station_id: Mapped[int] = mapped_column(ForeignKey("landing_stations.id"))
    length_km: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"))
    route_position: Mapped[int] = mapped_column(Integer, default=1)

    route: Mapped[Route] = relationship(back_populates="segments")
    a_station: Mapped[LandingStation] = relationship(foreign_keys=[a_station_id])
    b_station: Mapped[LandingStation] = relationship(foreign_keys=[b_station_id])
    fiber_pairs: Mapped[list[FiberPair]] = relationship(
        back_populates="segment", order_by="FiberPair.number"
    )


class FiberPair(Base):
    """One fiber pair of a segment and its flexible grid (ITU-T G.694.1)."""

    __tablename__ = "fiber_pairs"
    __table_args__ = (
        UniqueConstraint("segment_id", "number", name="uq_fiber_pairs_segment_number"),
        CheckConstraint("slot_count > 0", name="slot_count_positive"),
        CheckConstraint("slot_width_ghz > 0", name="slot_width_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    number: Mapped[int] = mapped_column(Integer)
    band_start_thz: Mapped[Decimal] = mapped_column(Numeric(10, 5))
    slot_width_ghz: Mapped[Decimal] = mapped_column(Numeric(8, 3))
    slot_count: Mapped[int] = mapped_column(Integer)
    # Bumped by a trigger on every change to this pair's allocations: readers that cache what
    # they computed from the pair compare it to know whether the spectrum has moved since.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    segment: Mapped[Segment] = relationship(back_populates="fiber_pairs")

    def slot_start_thz(self, slot: int) -> Decimal:
        return self.band_start_thz + self.slot_width_ghz * slot / 1000


class ProductKind(enum.StrEnum):
    WAVELENGTH = "wavelength"
    SPECTRUM = "spectrum"
    FIBER_PAIR = "fiber_pair"


class Product(Base):
    """What is sold and how much spectrum it occupies on every segment of its path."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("kind IN ('wavelength', 'spectrum', 'fiber_pair')", name="kind_valid"),
        CheckConstraint(
            "(kind = 'wavelength' AND width_ghz IS NOT NULL) OR kind <> 'wavelength'",
            name="wavelength_has_width",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    width_ghz: Mapped[Decimal | None] = mapped_column(Numeric(8, 3))
    circuit_prefix: Mapped[str] = mapped_column(String(4))
    lease_allowed: Mapped[bool] = mapped_column(default=True)
    iru_allowed: Mapped[bool] = mapped_column(default=True)
    listing_order: Mapped[int] = mapped_column(Integer, default=0)


class AllocationState(enum.StrEnum):
    HOLD = "hold"
    ALLOCATED = "allocated"
    RELEASED = "released"
    EXPIRED = "expired"  # a hold whose expiry passed; recorded by the next write on its pair


LIVE_STATES = (AllocationState.HOLD.value, AllocationState.ALLOCATED.value)


class ReservationKind(enum.StrEnum):
    SALE = "sale"  # held for a customer (a quote or a manual hold); allocated by a contract
    OWN_USE = "own_use"  # the operators' own testing, restoration, maintenance: no customer


OWN_USE_REASON_MAX = 500


class SpectrumReservation(Base):
    """One request for spectrum: one allocation per segment of each path it rides."""

    __tablename__ = "spectrum_reservations"
    __table_args__ = (
        CheckConstraint("protection IN ('unprotected', 'protected')", name="protection_valid"),
        CheckConstraint("width_slots > 0", name="width_positive"),
        CheckConstraint("kind IN ('sale', 'own_use')", name="kind_valid"),
        CheckConstraint(
            "kind <> 'own_use' OR (reason IS NOT NULL AND reason <> '' AND customer_id IS NULL)",
            name="own_use_reason_no_customer",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"))
    protection: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    width_slots: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    purpose: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(
        String(16), default=ReservationKind.SALE.value, server_default=ReservationKind.SALE.value
    )
    reason: Mapped[str | None] = mapped_column(Text)  # why the operators use it (own use)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")

    route: Mapped[Route] = relationship()
    product: Mapped[Product | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    allocations: Mapped[list[Allocation]] = relationship(
        back_populates="reservation", order_by="Allocation.id"
    )


class Allocation(Base):
    """A half-open slot range [first_slot, end_slot) on one fiber pair.

    No two live allocations (hold, allocated) overlap on a fiber pair: PostgreSQL enforces it with
    an exclusion constraint, SQLite with a trigger under its single writer (see the migrations).
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("first_slot >= 0", name="first_slot_nonnegative"),
        CheckConstraint("end_slot > first_slot", name="range_not_empty"),
        CheckConstraint(
            "state IN ('hold', 'allocated', 'released', 'expired')", name="state_valid"
        ),
        CheckConstraint("state <> 'hold' OR hold_expires_at IS NOT NULL", name="hold_has_expiry"),
        Index("ix_allocations_pair_live", "fiber_pair_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservation_id: Mapped[int] = mapped_column(ForeignKey("spectrum_reservations.id"))
    fiber_pair_id: Mapped[int] = mapped_column(ForeignKey("fiber_pairs.id"))
    first_slot: Mapped[int] = mapped_column(Integer)
    end_slot: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12))
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reservation: Mapped[SpectrumReservation] = relationship(back_populates="allocations")
    fiber_pair: Mapped[FiberPair] = relationship()

    @property
    def last_slot(self) -> int:
        return self.end_slot - 1

    def is_live(self, now: datetime) -> bool:
        if self.state == AllocationState.ALLOCATED:
            return True
        return (
            self.state == AllocationState.HOLD
            and self.hold_expires_at is not None
            and self.hold_expires_at > now
        )
