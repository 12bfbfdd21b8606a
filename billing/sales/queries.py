"""Read side of sales: what the reports ask of contracts, services and the spectrum they carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from billing.inventory.models import (
    Allocation,
    AllocationState,
    FiberPair,
    ReservationKind,
    SpectrumReservation,
)
from billing.sales.models import Service, ServiceState

BILLABLE_STATES = (
    ServiceState.PENDING.value,
    ServiceState.ACTIVE.value,
    ServiceState.SUSPENDED.value,
)


@dataclass(frozen=True)
class UnbilledAllocation:
    """Spectrum allocated now that no billable service carries (SPEC 2, revenue assurance)."""

    reservation_id: int
    kind: str
    reason: str | None
    customer: str | None
    product: str | None
    route: str
    protection: str
    spectrum: tuple[str, ...]  # "S1 FP2 slots 0–3", one per segment and fiber pair
    created_at: datetime
    created_by: str
    service: str | None  # the circuit id of a terminated service that still holds it

    @property
    def own_use(self) -> bool:
        return self.kind == ReservationKind.OWN_USE


def unbilled_allocations(session: Session) -> list[UnbilledAllocation]:
    """Every live allocation without a billable service: a pending, active or suspended service
    carrying its reservation. Apart from own use the list must be empty."""
    allocated = exists().where(
        Allocation.reservation_id == SpectrumReservation.id,
        Allocation.state == AllocationState.ALLOCATED.value,
    )
    billed = exists().where(
        Service.reservation_id == SpectrumReservation.id,
        Service.state.in_(BILLABLE_STATES),
    )
    reservations = session.execute(
        select(SpectrumReservation)
        .where(allocated, ~billed)
        .options(
            selectinload(SpectrumReservation.allocations)
            .selectinload(Allocation.fiber_pair)
            .selectinload(FiberPair.segment),
            selectinload(SpectrumReservation.customer),
            selectinload(SpectrumReservation.product),
            selectinload(SpectrumReservation.route),
        )
        .order_by(SpectrumReservation.id)
    ).scalars()
    rows = list(reservations)
    circuits: dict[int, str] = {
        rid: circuit
        for rid, circuit in session.execute(
            select(Service.reservation_id, Service.circuit_id).where(
                Service.reservation_id.in_([r.id for r in rows])
            )
        )
    }
    return [
        UnbilledAllocation(
            reservation_id=r.id,
            kind=r.kind,
            reason=r.reason,
            customer=r.customer.legal_name if r.customer else None,
            product=r.product.code if r.product else None,
            route=r.route.code,
            protection=r.protection,
            spectrum=tuple(
                f"{a.fiber_pair.segment.code} FP{a.fiber_pair.number} "
                f"slots {a.first_slot}–{a.end_slot - 1}"
                for a in r.allocations
                if a.state == AllocationState.ALLOCATED
            ),
            created_at=r.created_at,
            created_by=r.created_by,
            service=circuits.get(r.id),
        )
        for r in rows
    ]
