"""Hand-made spectrum reservations (the availability page), kept apart from sold spectrum.

A reservation held by a quote or carried by a service changes only through that quote or service
(accept, cancel, terminate): releasing it by hand would leave a live service without its spectrum,
and allocating it by hand would skip the contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.errors import ConflictError
from billing.inventory.models import SpectrumReservation
from billing.inventory.services import confirm_reservation, release_reservation
from billing.sales.models import Quote, QuoteHold, QuoteLine, Service


def owners(session: Session, reservation_ids: Iterable[int]) -> dict[int, str]:
    """For each reservation held by a quote or a service: that quote's number or circuit id."""
    ids = list(reservation_ids)
    if not ids:
        return {}
    found: dict[int, str] = {}
    for rid, number in session.execute(
        select(QuoteHold.reservation_id, Quote.number)
        .join(QuoteLine, QuoteLine.id == QuoteHold.quote_line_id)
        .join(Quote, Quote.id == QuoteLine.quote_id)
        .where(QuoteHold.reservation_id.in_(ids))
    ):
        found[rid] = number
    for rid, circuit in session.execute(
        select(Service.reservation_id, Service.circuit_id).where(Service.reservation_id.in_(ids))
    ):
        found[rid] = circuit  # a service outranks the quote it came from
    return found


def _check_unowned(session: Session, reservation_id: int, verb: str) -> None:
    owner = owners(session, [reservation_id]).get(reservation_id)
    if owner is not None:
        how = "terminate the service" if owner.startswith("TCF-") else "accept or cancel the quote"
        raise ConflictError(f"reservation {reservation_id} belongs to {owner}: {how} to {verb} it")


def allocate_manual_hold(
    session: Session, reservation_id: int, *, actor: str, now: datetime
) -> SpectrumReservation:
    _check_unowned(session, reservation_id, "allocate")
    return confirm_reservation(session, reservation_id, actor=actor, now=now)


def release_manual_reservation(
    session: Session, reservation_id: int, *, actor: str, now: datetime
) -> SpectrumReservation:
    _check_unowned(session, reservation_id, "release")
    return release_reservation(session, reservation_id, actor=actor, now=now)
