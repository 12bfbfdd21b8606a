"""Read side of sales: one loader per aggregate (quotes, contracts, services, price-book versions),
and what the reports ask of contracts, services and the spectrum they carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session, selectinload

from billing.db import order_by_choice, text_match
from billing.errors import N_, NotFoundError
from billing.inventory.models import (
    Allocation,
    AllocationState,
    FiberPair,
    ReservationKind,
    Segment,
    SpectrumReservation,
)
from billing.parties.models import Customer
from billing.sales.models import (
    Contract,
    PriceBookEntry,
    PriceBookVersion,
    Quote,
    QuoteHold,
    QuoteLine,
    QuoteState,
    Service,
    ServiceState,
)

# --- Quotes -------------------------------------------------------------------------------------

# Everything a quote page, its PDF and the API show: lines, the spectrum each unit holds (pairs,
# segments, routes), the customer, the seller and the contract. A few queries, whatever the count.
_QUOTE_SHOWN = (
    selectinload(Quote.lines)
    .selectinload(QuoteLine.holds)
    .selectinload(QuoteHold.reservation)
    .selectinload(SpectrumReservation.allocations)
    .selectinload(Allocation.fiber_pair)
    .selectinload(FiberPair.segment)
    .selectinload(Segment.route),
    selectinload(Quote.lines).selectinload(QuoteLine.product),
    selectinload(Quote.lines).selectinload(QuoteLine.route),
    selectinload(Quote.customer).selectinload(Customer.owner_party),
    selectinload(Quote.party),
    selectinload(Quote.contract),
)
# A quote locked to be changed: its spectrum is read after the pairs are locked, not with it.
_QUOTE_LOCKED = (
    selectinload(Quote.lines).selectinload(QuoteLine.holds).selectinload(QuoteHold.reservation),
    selectinload(Quote.lines).selectinload(QuoteLine.product),
    selectinload(Quote.customer),
    selectinload(Quote.party),
)


QUOTE_SORTS: dict[str, tuple[Any, ...]] = {
    "created": (Quote.id,),
    "number": (Quote.number, Quote.id),
    "customer": (Customer.legal_name, Quote.id),
    "valid_until": (Quote.valid_until, Quote.id),
}
QUOTE_DEFAULT_SORT = "-created"


def quote_listing(
    *,
    customer_id: int | None = None,
    status: str = "",
    at: datetime | None = None,
    number: str = "",
    q: str = "",
    sort: str = "",
) -> Select[Quote]:
    """Quotes, newest first (or by one of QUOTE_SORTS), with all they show; one customer's when
    `customer_id` is given, only those with `status` (open, expired, accepted, cancelled) at
    `at` when given, only the one numbered `number` when given, and those whose number or
    customer's name contains `q` when given."""
    stmt = select(Quote).options(*_QUOTE_SHOWN).order_by(Quote.id.desc())
    if q or sort.removeprefix("-") == "customer":
        stmt = stmt.join(Customer, Customer.id == Quote.customer_id)
    if q:
        stmt = stmt.where(text_match(q, Quote.number, Customer.legal_name))
    if sort:
        stmt = order_by_choice(stmt, sort, QUOTE_SORTS, QUOTE_DEFAULT_SORT)
    if customer_id is not None:
        stmt = stmt.where(Quote.customer_id == customer_id)
    if number:
        stmt = stmt.where(Quote.number == number)
    is_open = Quote.state == QuoteState.OPEN.value
    if status == "open" and at is not None:
        stmt = stmt.where(is_open, Quote.valid_until > at)
    elif status == "expired" and at is not None:
        stmt = stmt.where(is_open, Quote.valid_until <= at)
    elif status in (QuoteState.ACCEPTED, QuoteState.CANCELLED):
        stmt = stmt.where(Quote.state == status)
    return stmt


def list_quotes(session: Session, *, customer_id: int | None = None, limit: int) -> list[Quote]:
    """The newest `limit` quotes (of one customer when given)."""
    return list(session.execute(quote_listing(customer_id=customer_id).limit(limit)).scalars())


def get_quote(
    session: Session, quote_id: int, *, customer_id: int | None = None, lock: bool = False
) -> Quote:
    """A quote with all it shows; scoped to one customer when `customer_id` is given (another's
    answers 404). `lock` takes its row for an update (accept, cancel)."""
    stmt = select(Quote).where(Quote.id == quote_id)
    if customer_id is not None:
        stmt = stmt.where(Quote.customer_id == customer_id)
    if lock:
        stmt = stmt.options(*_QUOTE_LOCKED).with_for_update(of=Quote)
    else:
        stmt = stmt.options(*_QUOTE_SHOWN)
    quote = session.execute(stmt).scalar_one_or_none()
    if quote is None:
        raise NotFoundError(N_("no quote %(quote)s"), quote=quote_id)
    return quote


# --- Contracts ----------------------------------------------------------------------------------


def get_contract(session: Session, contract_id: int) -> Contract:
    """A contract with its services, customer, seller and quote."""
    contract = session.execute(
        select(Contract)
        .where(Contract.id == contract_id)
        .options(
            selectinload(Contract.services).selectinload(Service.product),
            selectinload(Contract.customer),
            selectinload(Contract.party),
            selectinload(Contract.quote),
        )
    ).scalar_one_or_none()
    if contract is None:
        raise NotFoundError(N_("no contract %(contract)s"), contract=contract_id)
    return contract


# Everything a contract shows through the API: its quote and each service as its own page does.
_CONTRACT_SHOWN = (
    selectinload(Contract.quote),
    selectinload(Contract.services).selectinload(Service.product),
    selectinload(Contract.services)
    .selectinload(Service.reservation)
    .selectinload(SpectrumReservation.allocations)
    .selectinload(Allocation.fiber_pair)
    .selectinload(FiberPair.segment)
    .selectinload(Segment.route),
    selectinload(Contract.services).selectinload(Service.events),
)


def contract_listing(*, customer_id: int) -> Select[Contract]:
    """One customer's contracts, newest first, with their quote and services."""
    return (
        select(Contract)
        .where(Contract.customer_id == customer_id)
        .options(*_CONTRACT_SHOWN)
        .order_by(Contract.id.desc())
    )


def get_customer_contract(session: Session, number: str, *, customer_id: int) -> Contract:
    """One customer's contract by its number; another customer's answers 404."""
    contract = session.execute(
        contract_listing(customer_id=customer_id).where(Contract.number == number)
    ).scalar_one_or_none()
    if contract is None:
        raise NotFoundError(N_("no contract %(contract)s"), contract=number)
    return contract


CONTRACT_SORTS: dict[str, tuple[Any, ...]] = {
    "signed": (Contract.signed_at, Contract.id),
    "number": (Contract.number,),
    "customer": (Customer.legal_name, Contract.id),
}
CONTRACT_DEFAULT_SORT = "-signed"


def contracts_listing(
    *, customer_id: int | None = None, q: str = "", sort: str = CONTRACT_DEFAULT_SORT
) -> Select[Contract]:
    """Contracts, newest signed first (or by one of CONTRACT_SORTS), with their customer, party,
    quote and services; one customer's when `customer_id` is given, and those whose number or
    customer's name contains `q`."""
    stmt = (
        select(Contract)
        .join(Customer, Customer.id == Contract.customer_id)
        .options(
            selectinload(Contract.customer),
            selectinload(Contract.party),
            selectinload(Contract.quote),
            selectinload(Contract.services),
        )
    )
    if customer_id is not None:
        stmt = stmt.where(Contract.customer_id == customer_id)
    if q:
        stmt = stmt.where(text_match(q, Contract.number, Customer.legal_name))
    return order_by_choice(stmt, sort, CONTRACT_SORTS, CONTRACT_DEFAULT_SORT)


def customer_contracts(session: Session, customer_id: int) -> list[Contract]:
    """A customer's contracts with their services, newest first."""
    return list(
        session.execute(
            select(Contract)
            .where(Contract.customer_id == customer_id)
            .options(selectinload(Contract.services))
            .order_by(Contract.id.desc())
        ).scalars()
    )


# --- Services -----------------------------------------------------------------------------------


SERVICE_SORTS: dict[str, tuple[Any, ...]] = {
    "created": (Service.id,),
    "circuit": (Service.circuit_id,),
    "customer": (Customer.legal_name, Service.id),
    "state": (Service.state, Service.id),
    "ready_for_service": (Service.ready_for_service_date, Service.id),
}
SERVICE_DEFAULT_SORT = "-created"


def service_listing(
    *, customer_id: int | None = None, state: str = "", q: str = "", sort: str = ""
) -> Select[Service]:
    """Services, newest first (or by one of SERVICE_SORTS), with their product, customer,
    contract, spectrum (pairs, segments, routes) and history; one customer's when `customer_id`
    is given, in `state` when it is one, and those whose circuit id or customer's name contains
    `q` when given."""
    stmt = (
        select(Service)
        .options(
            selectinload(Service.product),
            selectinload(Service.customer),
            selectinload(Service.contract).selectinload(Contract.party),
            selectinload(Service.reservation)
            .selectinload(SpectrumReservation.allocations)
            .selectinload(Allocation.fiber_pair)
            .selectinload(FiberPair.segment)
            .selectinload(Segment.route),
            selectinload(Service.events),
            selectinload(Service.early_termination),
        )
        .order_by(Service.id.desc())
    )
    if customer_id is not None:
        stmt = stmt.where(Service.customer_id == customer_id)
    if state in set(ServiceState):
        stmt = stmt.where(Service.state == state)
    if q or sort.removeprefix("-") == "customer":
        stmt = stmt.join(Customer, Customer.id == Service.customer_id)
    if q:
        stmt = stmt.where(text_match(q, Service.circuit_id, Customer.legal_name))
    if sort:
        stmt = order_by_choice(stmt, sort, SERVICE_SORTS, SERVICE_DEFAULT_SORT)
    return stmt


def get_service(session: Session, circuit_id: str, *, customer_id: int | None = None) -> Service:
    service = session.execute(
        service_listing(customer_id=customer_id).where(Service.circuit_id == circuit_id)
    ).scalar_one_or_none()
    if service is None:
        raise NotFoundError(N_("no service %(circuit)s"), circuit=circuit_id)
    return service


# --- Price books --------------------------------------------------------------------------------


PRICE_BOOK_SORTS: dict[str, tuple[Any, ...]] = {
    "effective_from": (PriceBookVersion.effective_from, PriceBookVersion.id),
    "name": (PriceBookVersion.name, PriceBookVersion.id),
    "created": (PriceBookVersion.id,),
}
PRICE_BOOK_DEFAULT_SORT = "-effective_from"


def price_book_version_listing(*, q: str = "", sort: str = "") -> Select[PriceBookVersion]:
    """Price-book versions with their entries, latest start first (or one of PRICE_BOOK_SORTS);
    those whose name or author contains `q` when given."""
    stmt = select(PriceBookVersion).options(
        selectinload(PriceBookVersion.entries).selectinload(PriceBookEntry.product)
    )
    if q:
        stmt = stmt.where(text_match(q, PriceBookVersion.name, PriceBookVersion.created_by))
    return order_by_choice(stmt, sort, PRICE_BOOK_SORTS, PRICE_BOOK_DEFAULT_SORT)


def get_price_book_version(session: Session, version_id: int) -> PriceBookVersion:
    """A price-book version with its entries and their products."""
    version = session.execute(
        select(PriceBookVersion)
        .where(PriceBookVersion.id == version_id)
        .options(selectinload(PriceBookVersion.entries).selectinload(PriceBookEntry.product))
    ).scalar_one_or_none()
    if version is None:
        raise NotFoundError(N_("no price book version %(version)s"), version=version_id)
    return version


def price_book_entries(
    session: Session, version_id: int, product_ids: list[int]
) -> list[PriceBookEntry]:
    """The entries of one version for these products."""
    return list(
        session.execute(
            select(PriceBookEntry).where(
                PriceBookEntry.version_id == version_id,
                PriceBookEntry.product_id.in_(product_ids),
            )
        ).scalars()
    )


# --- Revenue assurance --------------------------------------------------------------------------

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
