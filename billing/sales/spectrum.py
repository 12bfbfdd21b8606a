"""Hand-made spectrum reservations (the availability page), kept apart from sold spectrum.

A manual hold is made in a customer's name and belongs to that customer's party: only its staff
(and administrators) may release it, extend it or turn it into a quote. It never becomes
allocated by hand: spectrum is allocated only by accepting a quote (SPEC 2). The operators' own
use (testing, restoration, maintenance) is allocated at once, with a reason and no customer, and
only by an administrator.

A reservation held by a quote or carried by a service changes only through that quote or service
(accept, cancel, terminate): releasing it by hand would leave a live service without its spectrum.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.errors import N_, ConflictError, InvalidRequestError, PermissionDeniedError, Text
from billing.inventory.models import OWN_USE_REASON_MAX, ReservationKind, SpectrumReservation
from billing.inventory.queries import reservation_with_allocations
from billing.inventory.services import (
    SpectrumRequest,
    extend_hold,
    release_reservation,
    reserve_spectrum,
)
from billing.parties.customers import Seller, get_customer
from billing.sales.models import Quote, QuoteHold, QuoteLine, Service
from billing.sales.quotes import DEFAULT_VALID_DAYS, LineRequest, create_quote
from billing.validation import InvalidValueError, clean_reason

MIN_HOLD_DAYS = 1
MAX_HOLD_DAYS = 90

# Why a manual reservation may not be touched, by what was asked of it (`_manual`'s verb): held by
# a service or a quote (belongs to %(owner)s), or another party's, own use, internal.
_BELONGS_TO_SERVICE = {
    "extend": N_(
        "reservation %(reservation)s belongs to %(owner)s: terminate the service to extend it"
    ),
    "release": N_(
        "reservation %(reservation)s belongs to %(owner)s: terminate the service to release it"
    ),
    "quote": N_(
        "reservation %(reservation)s belongs to %(owner)s: terminate the service to quote it"
    ),
}
_BELONGS_TO_QUOTE = {
    "extend": N_(
        "reservation %(reservation)s belongs to %(owner)s: accept or cancel the quote to extend it"
    ),
    "release": N_(
        "reservation %(reservation)s belongs to %(owner)s: accept or cancel the quote to release it"
    ),
    "quote": N_(
        "reservation %(reservation)s belongs to %(owner)s: accept or cancel the quote to quote it"
    ),
}
_OWN_USE = {
    "extend": N_("reservation %(reservation)s is the operators' own use: you may not extend it"),
    "release": N_("reservation %(reservation)s is the operators' own use: you may not release it"),
    "quote": N_("reservation %(reservation)s is the operators' own use: you may not quote it"),
}
_PARTYS = {
    "extend": N_("reservation %(reservation)s is %(party)s's: you may not extend it"),
    "release": N_("reservation %(reservation)s is %(party)s's: you may not release it"),
    "quote": N_("reservation %(reservation)s is %(party)s's: you may not quote it"),
}
_INTERNAL = {
    "extend": N_("reservation %(reservation)s is an internal reservation: you may not extend it"),
    "release": N_("reservation %(reservation)s is an internal reservation: you may not release it"),
    "quote": N_("reservation %(reservation)s is an internal reservation: you may not quote it"),
}


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


def holding_party(reservation: SpectrumReservation) -> int | None:
    """The party whose staff may touch a manual reservation: its customer's owner party. None
    for own use and for a reservation without a customer: administrators only."""
    if reservation.kind == ReservationKind.OWN_USE or reservation.customer is None:
        return None
    return reservation.customer.owner_party_id


def may_manage(seller: Seller, reservation: SpectrumReservation) -> bool:
    """Whether `seller` may release, extend or quote this manual reservation."""
    party = holding_party(reservation)
    return seller.is_admin or (party is not None and seller.may_sell_for(party))


def _manual(
    session: Session,
    reservation_id: int,
    seller: Seller,
    verb: Literal["extend", "release", "quote"],
) -> SpectrumReservation:
    """The manual reservation `seller` may `verb`: not a quote's or a service's, and theirs."""
    reservation = reservation_with_allocations(session, reservation_id)
    owner = owners(session, [reservation_id]).get(reservation_id)
    if owner is not None:
        belongs = _BELONGS_TO_SERVICE if owner.startswith("TCF-") else _BELONGS_TO_QUOTE
        raise ConflictError(belongs[verb], reservation=reservation_id, owner=owner)
    if not may_manage(seller, reservation):
        if reservation.kind == ReservationKind.OWN_USE:
            raise PermissionDeniedError(_OWN_USE[verb], reservation=reservation_id)
        if reservation.customer is not None:
            raise PermissionDeniedError(
                _PARTYS[verb],
                reservation=reservation_id,
                party=reservation.customer.owner_party.code,
            )
        raise PermissionDeniedError(_INTERNAL[verb], reservation=reservation_id)
    return reservation


def _hold_until(days: int, now: datetime) -> datetime:
    if not MIN_HOLD_DAYS <= days <= MAX_HOLD_DAYS:
        raise InvalidRequestError(
            N_("a hold lasts %(min)s to %(max)s days"),
            {"hold_days": [Text(N_("%(min)s to %(max)s"), min=MIN_HOLD_DAYS, max=MAX_HOLD_DAYS)]},
            min=MIN_HOLD_DAYS,
            max=MAX_HOLD_DAYS,
        )
    return now + timedelta(days=days)


def hold_for_customer(
    session: Session,
    request: SpectrumRequest,
    *,
    customer_id: int,
    days: int,
    seller: Seller,
    now: datetime,
) -> SpectrumReservation:
    """Hold spectrum in a customer's name for `days`: the customer's own party's staff only."""
    hold_until = _hold_until(days, now)
    customer = get_customer(session, customer_id)
    if not seller.may_sell_for(customer.owner_party_id):
        raise PermissionDeniedError(
            N_("%(customer)s is a %(party)s customer: you cannot hold spectrum in its name"),
            {"customer_id": [N_("another party's customer")]},
            customer=customer.legal_name,
            party=customer.owner_party.code,
        )
    return reserve_spectrum(
        session,
        request,
        hold_until=hold_until,
        customer_id=customer.id,
        purpose="hold from availability page",
        actor=seller.label,
        now=now,
    )


def extend_manual_hold(
    session: Session, reservation_id: int, *, days: int, seller: Seller, now: datetime
) -> SpectrumReservation:
    """Hold a manual hold until `days` from now (later than it runs now)."""
    until = _hold_until(days, now)
    _manual(session, reservation_id, seller, "extend")
    return extend_hold(session, reservation_id, until=until, actor=seller.label, now=now)


def release_manual_reservation(
    session: Session, reservation_id: int, *, seller: Seller, now: datetime
) -> SpectrumReservation:
    _manual(session, reservation_id, seller, "release")
    return release_reservation(session, reservation_id, actor=seller.label, now=now)


def reserve_own_use(
    session: Session, request: SpectrumRequest, *, reason: str, seller: Seller, now: datetime
) -> SpectrumReservation:
    """Allocate spectrum for the operators' own use: an administrator, saying why."""
    if not seller.is_admin:
        raise PermissionDeniedError(N_("only an administrator may reserve spectrum for own use"))
    try:
        why = clean_reason(reason, max_length=OWN_USE_REASON_MAX)
    except InvalidValueError as error:
        problem = Text(error.template, **error.values)
        raise InvalidRequestError(
            N_("the reason %(problem)s"), {"reason": [problem]}, problem=problem
        ) from None
    return reserve_spectrum(
        session,
        request,
        hold_until=None,
        kind=ReservationKind.OWN_USE,
        reason=why,
        purpose="own use",
        actor=seller.label,
        now=now,
    )


def quote_from_hold(
    session: Session,
    reservation_id: int,
    *,
    model: str,
    term_months: int,
    discount_percent: Decimal = Decimal(0),
    valid_days: int = DEFAULT_VALID_DAYS,
    notes: str = "",
    seller: Seller,
    now: datetime,
) -> Quote:
    """Turn a manual hold into a quote for its customer that holds that very spectrum."""
    hold = _manual(session, reservation_id, seller, "quote")
    if hold.customer_id is None or hold.product is None:
        raise ConflictError(
            N_("reservation %(reservation)s has no customer to quote"), reservation=reservation_id
        )
    if not hold.allocations or not all(
        a.state == "hold" and a.is_live(now) for a in hold.allocations
    ):
        raise ConflictError(
            N_("reservation %(reservation)s is not a live hold"), reservation=reservation_id
        )
    slot_ghz = hold.allocations[0].fiber_pair.slot_width_ghz
    line = LineRequest(
        product=hold.product.code,
        route=hold.route.code,
        protection=hold.protection,
        model=model,
        term_months=term_months,
        quantity=1,
        discount_percent=discount_percent,
        width_ghz=hold.width_slots * slot_ghz if hold.product.kind == "spectrum" else None,
    )
    return create_quote(
        session,
        customer_id=hold.customer_id,
        lines=[line],
        seller=seller,
        now=now,
        valid_days=valid_days,
        notes=notes,
        take_over=hold,
    )
