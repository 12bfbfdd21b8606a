"""A service's life: pending → active → suspended ⇄ active → terminated. Every step recorded."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.audit import record
from billing.calendar import local_date
from billing.errors import ConflictError, InvalidRequestError, NotFoundError, PermissionDeniedError
from billing.inventory.models import Allocation, SpectrumReservation
from billing.inventory.services import release_reservation
from billing.parties.customers import Seller
from billing.sales.models import Contract, Service, ServiceEvent, ServiceState

ALLOWED: dict[str, dict[str, str]] = {
    # from state: {action: to state}
    ServiceState.PENDING: {"activate": ServiceState.ACTIVE, "terminate": ServiceState.TERMINATED},
    ServiceState.ACTIVE: {"suspend": ServiceState.SUSPENDED, "terminate": ServiceState.TERMINATED},
    ServiceState.SUSPENDED: {"resume": ServiceState.ACTIVE, "terminate": ServiceState.TERMINATED},
    ServiceState.TERMINATED: {},
}


def actions_for(state: str) -> list[str]:
    return list(ALLOWED.get(state, {}))


def service_query(*, customer_id: int | None = None) -> Any:
    stmt = (
        select(Service)
        .options(
            selectinload(Service.product),
            selectinload(Service.customer),
            selectinload(Service.contract).selectinload(Contract.party),
            selectinload(Service.reservation)
            .selectinload(SpectrumReservation.allocations)
            .selectinload(Allocation.fiber_pair),
            selectinload(Service.events),
        )
        .order_by(Service.id.desc())
    )
    if customer_id is not None:
        stmt = stmt.where(Service.customer_id == customer_id)
    return stmt


def get_service(session: Session, circuit_id: str, *, customer_id: int | None = None) -> Service:
    service: Service | None = session.execute(
        service_query(customer_id=customer_id).where(Service.circuit_id == circuit_id)
    ).scalar_one_or_none()
    if service is None:
        raise NotFoundError(f"no service {circuit_id}")
    return service


def service_today(service: Service, now: datetime) -> date:
    """Its seller's business date (SPEC 3): in Baku it may be tomorrow already."""
    return local_date(now, service.contract.party.time_zone)


def transition_service(
    session: Session,
    circuit_id: str,
    action: str,
    *,
    effective_date: date | None,
    seller: Seller,
    now: datetime,
    note: str = "",
) -> Service:
    service = get_service(session, circuit_id)
    if not seller.may_sell_for(service.contract.party_id):
        raise PermissionDeniedError(
            f"{circuit_id} is sold by {service.contract.party.code}: read-only for you"
        )
    to_state = ALLOWED.get(service.state, {}).get(action)
    if to_state is None:
        raise ConflictError(
            f"a {service.state} service cannot {action}",
            {"action": [f"allowed: {', '.join(actions_for(service.state)) or 'none'}"]},
        )
    today = service_today(service, now)
    signed_on = local_date(service.contract.signed_at, service.contract.party.time_zone)
    if action in ("activate", "terminate"):
        if effective_date is None:
            raise InvalidRequestError(
                "give the date", {"effective_date": ["required to " + action]}
            )
        if effective_date > today:
            raise InvalidRequestError(
                "the date cannot be in the future", {"effective_date": ["today or earlier"]}
            )
        if effective_date < signed_on:
            raise InvalidRequestError(
                "the date cannot be before the contract was signed",
                {"effective_date": [f"on or after {signed_on}"]},
            )
    if (
        action == "terminate"
        and service.ready_for_service_date
        and effective_date is not None
        and effective_date < service.ready_for_service_date
    ):
        raise InvalidRequestError(
            "a service cannot end before its ready-for-service date",
            {"effective_date": [f"on or after {service.ready_for_service_date}"]},
        )
    before = {"state": service.state}
    if action == "activate":
        service.ready_for_service_date = effective_date
    if action == "terminate":
        service.end_date = effective_date
        release_reservation(session, service.reservation_id, actor=seller.label, now=now)
    service.events.append(
        ServiceEvent(
            at=now,
            from_state=service.state,
            to_state=to_state,
            effective_date=effective_date,
            actor=seller.label,
            note=note,
        )
    )
    service.state = to_state
    session.flush()
    record(
        session,
        actor=seller.label,
        action=f"service.{action}",
        entity_type="service",
        entity_id=service.circuit_id,
        now=now,
        before=before,
        after={"state": to_state, "effective_date": effective_date, "note": note},
    )
    return service
