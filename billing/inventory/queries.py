"""Read side of the inventory: paths, live allocations, availability and utilisation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload, selectinload

from billing.errors import N_, InvalidRequestError, NotFoundError, Text
from billing.inventory.models import (
    Allocation,
    AllocationState,
    FiberPair,
    Product,
    ProductKind,
    ReservationKind,
    Route,
    Segment,
    SpectrumReservation,
)
from billing.inventory.spectrum import PairKey, PathFit, SlotRange, fit_on_path, free_ranges
from billing.parties.models import Customer

PROTECTIONS = ("unprotected", "protected")


def live_condition(now: datetime):  # type: ignore[no-untyped-def]
    """SQL for 'this allocation occupies its slots now': allocated, or a hold not yet expired."""
    return or_(
        Allocation.state == AllocationState.ALLOCATED.value,
        and_(Allocation.state == AllocationState.HOLD.value, Allocation.hold_expires_at > now),
    )


def route_listing() -> Select[Route]:
    """Routes by code, with their segments (stations, fiber pairs) and their 1+1 twins."""
    return (
        select(Route)
        .options(
            selectinload(Route.segments).selectinload(Segment.fiber_pairs),
            selectinload(Route.segments).selectinload(Segment.a_station),
            selectinload(Route.segments).selectinload(Segment.b_station),
            selectinload(Route.protection_route),
        )
        .order_by(Route.code)
    )


def route_choices(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every route; those with a 1+1 twin (the main routes) first, the usual
    choice."""
    stmt = select(Route.code, Route.name).order_by(Route.protection_route_id.is_(None), Route.id)
    return [(code, name) for code, name in session.execute(stmt)]


def get_route(session: Session, code: str) -> Route:
    """A route with its segments and fiber pairs, and its 1+1 twin's: one query."""
    twin = aliased(Route)
    route = (
        session.execute(
            select(Route)
            .where(Route.code == code)
            .outerjoin(twin, Route.protection_route)
            .options(
                joinedload(Route.segments).joinedload(Segment.fiber_pairs),
                contains_eager(Route.protection_route.of_type(twin))
                .joinedload(twin.segments)
                .joinedload(Segment.fiber_pairs),
            )
        )
        .unique()
        .scalar_one_or_none()
    )
    if route is None:
        raise NotFoundError(
            N_("unknown route %(code)s"),
            {"route": [Text(N_("no route %(code)s"), code=repr(code))]},
            code=repr(code),
        )
    return route


def paths_for(session: Session, route_code: str, protection: str) -> list[Route]:
    """The routes a request rides: the route itself, plus its 1+1 twin when protected."""
    if protection not in PROTECTIONS:
        raise InvalidRequestError(
            N_("protection must be one of %(choices)s"),
            {"protection": [Text(N_("unknown protection %(value)s"), value=repr(protection))]},
            choices=", ".join(PROTECTIONS),
        )
    route = get_route(session, route_code)
    if not route.segments:
        raise InvalidRequestError(N_("route %(route)s has no segments"), route=repr(route_code))
    if protection == "unprotected":
        return [route]
    if route.protection_route_id is None:
        raise InvalidRequestError(
            N_("route %(route)s has no protection route, so it cannot carry a protected service"),
            {"protection": [N_("no protection route for this route")]},
            route=repr(route_code),
        )
    if route.protection_route is None or not route.protection_route.segments:
        raise InvalidRequestError(
            N_("the protection route of %(route)s has no segments"), route=repr(route_code)
        )
    return [route, route.protection_route]


def get_product(session: Session, code: str) -> Product:
    product = session.execute(select(Product).where(Product.code == code)).scalar_one_or_none()
    if product is None:
        raise NotFoundError(
            N_("unknown product %(code)s"),
            {"product": [Text(N_("no product %(code)s"), code=repr(code))]},
            code=repr(code),
        )
    return product


def product_listing() -> Select[Product]:
    """Products in their listing order."""
    return select(Product).order_by(Product.listing_order, Product.id)


def list_products(session: Session) -> list[Product]:
    return list(session.execute(product_listing()).scalars())


def width_in_slots(product: Product, width_ghz: Decimal | None, pairs: Sequence[FiberPair]) -> int:
    """How many slots a product occupies on every pair of its path."""
    slot_widths = {p.slot_width_ghz for p in pairs}
    if len(slot_widths) != 1:
        raise InvalidRequestError(N_("the path mixes grids of different slot widths"))
    slot_ghz = slot_widths.pop()
    if product.kind == ProductKind.FIBER_PAIR:
        if width_ghz is not None:
            raise InvalidRequestError(
                N_("a fiber pair is the whole pair: give no width"),
                {"width_ghz": [N_("not allowed for a fiber pair")]},
            )
        return min(p.slot_count for p in pairs)
    if product.kind == ProductKind.WAVELENGTH:
        ghz = product.width_ghz
        if width_ghz is not None and width_ghz != ghz:
            raise InvalidRequestError(
                N_("%(product)s always occupies %(ghz)s GHz"),
                {
                    "width_ghz": [
                        Text(
                            N_("%(product)s has a fixed width of %(ghz)s GHz"),
                            product=product.code,
                            ghz=f"{ghz}",
                        )
                    ]
                },
                product=product.code,
                ghz=f"{ghz}",
            )
    else:
        if width_ghz is None:
            raise InvalidRequestError(
                N_("a spectrum product needs a width in GHz"),
                {"width_ghz": [N_("required for spectrum")]},
            )
        ghz = width_ghz
    assert ghz is not None  # noqa: S101 - guaranteed by the products table's CHECK
    if ghz <= 0 or ghz % slot_ghz != 0:
        slot = f"{slot_ghz.normalize():f}"
        raise InvalidRequestError(
            N_("width must be a positive multiple of %(slot)s GHz"),
            {
                "width_ghz": [
                    Text(
                        N_("%(ghz)s GHz is not a positive multiple of %(slot)s GHz"),
                        ghz=f"{ghz}",
                        slot=slot,
                    )
                ]
            },
            slot=slot,
        )
    slots = int(ghz / slot_ghz)
    if slots > min(p.slot_count for p in pairs):
        raise InvalidRequestError(
            N_("%(ghz)s GHz is wider than the band"),
            {"width_ghz": [N_("wider than the fiber pair's band")]},
            ghz=f"{ghz}",
        )
    return slots


@dataclass(frozen=True)
class Occupant:
    allocation_id: int
    reservation_id: int
    first_slot: int
    end_slot: int
    state: str
    customer: str | None
    hold_expires_at: datetime | None
    own_use: bool = False  # the operators' own (testing, restoration): not sold


def occupancy(
    session: Session, pair_ids: Sequence[int], now: datetime
) -> dict[int, list[Occupant]]:
    # Plain columns, not entities: a busy band is hundreds of rows per fiber pair, and building
    # ORM objects for them was most of the time an availability request took.
    stmt = (
        select(
            Allocation.fiber_pair_id,
            Allocation.id,
            Allocation.reservation_id,
            Allocation.first_slot,
            Allocation.end_slot,
            Allocation.state,
            Customer.legal_name,
            Allocation.hold_expires_at,
            SpectrumReservation.kind,
        )
        .join(SpectrumReservation, Allocation.reservation_id == SpectrumReservation.id)
        .outerjoin(Customer, Customer.id == SpectrumReservation.customer_id)
        .where(Allocation.fiber_pair_id.in_(pair_ids), live_condition(now))
        .order_by(Allocation.first_slot)
    )
    result: dict[int, list[Occupant]] = defaultdict(list)
    for pair_id, alloc_id, res_id, first, end, state, customer, expires, kind in session.execute(
        stmt
    ):
        result[pair_id].append(
            Occupant(
                alloc_id,
                res_id,
                first,
                end,
                state,
                customer,
                expires,
                own_use=kind == ReservationKind.OWN_USE,
            )
        )
    return result


@dataclass
class PairUsage:
    segment_code: str
    segment_id: int
    fiber_pair_id: int
    fiber_pair_number: int
    slot_count: int
    band_start_thz: Decimal
    slot_width_ghz: Decimal
    occupants: list[Occupant] = field(default_factory=list)

    @property
    def allocated_slots(self) -> int:
        return sum(o.end_slot - o.first_slot for o in self.occupants if o.state == "allocated")

    @property
    def own_use_slots(self) -> int:
        """Of the allocated slots, those the operators use themselves."""
        return sum(o.end_slot - o.first_slot for o in self.occupants if o.own_use)

    @property
    def held_slots(self) -> int:
        return sum(o.end_slot - o.first_slot for o in self.occupants if o.state == "hold")

    @property
    def free_slots(self) -> int:
        return self.slot_count - self.allocated_slots - self.held_slots

    def percent(self, slots: int) -> Decimal:
        return (Decimal(100) * slots / self.slot_count).quantize(Decimal("0.1"))

    @property
    def free(self) -> list[SlotRange]:
        return free_ranges(self.slot_count, [(o.first_slot, o.end_slot) for o in self.occupants])

    def thz(self, slot: int) -> Decimal:
        return self.band_start_thz + self.slot_width_ghz * slot / 1000


def pair_usage(session: Session, segments: Sequence[Segment], now: datetime) -> list[PairUsage]:
    pairs = [(seg, fp) for seg in segments for fp in seg.fiber_pairs]
    occ = occupancy(session, [fp.id for _, fp in pairs], now)
    return [
        PairUsage(
            seg.code,
            seg.id,
            fp.id,
            fp.number,
            fp.slot_count,
            fp.band_start_thz,
            fp.slot_width_ghz,
            occ.get(fp.id, []),
        )
        for seg, fp in pairs
    ]


def all_segments(session: Session) -> list[Segment]:
    stmt = (
        select(Segment)
        .options(
            selectinload(Segment.fiber_pairs),
            selectinload(Segment.a_station),
            selectinload(Segment.b_station),
            selectinload(Segment.route),
        )
        .order_by(Segment.code)
    )
    return list(session.execute(stmt).scalars())


@dataclass
class Availability:
    route: str
    protection: str
    product: str
    width_slots: int
    width_ghz: Decimal
    paths: list[str]
    pairs: list[PairUsage]
    suggestion: list[PathFit] | None


def find_fit(
    paths: Sequence[Route],
    usage: Sequence[PairUsage],
    width: int,
    *,
    pair: int | None = None,
    first_slot: int | None = None,
) -> list[PathFit] | None:
    """A fit on every path, or None. Pins (pair, first slot) apply to the first path only."""
    slot_count = {PairKey(u.segment_id, u.fiber_pair_number): u.slot_count for u in usage}
    taken = {
        PairKey(u.segment_id, u.fiber_pair_number): [
            (o.first_slot, o.end_slot) for o in u.occupants
        ]
        for u in usage
    }
    fits: list[PathFit] = []
    for index, route in enumerate(paths):
        seg_ids = [s.id for s in route.segments]
        numbers = sorted({fp.number for s in route.segments for fp in s.fiber_pairs})
        fit = fit_on_path(
            route.code,
            seg_ids,
            numbers,
            slot_count,
            taken,
            width,
            pair=pair if index == 0 else None,
            first_slot=first_slot if index == 0 else None,
        )
        if fit is None:
            return None
        fits.append(fit)
    return fits


def availability(
    session: Session,
    *,
    route: str,
    protection: str,
    product: str,
    width_ghz: Decimal | None,
    now: datetime,
) -> Availability:
    paths = paths_for(session, route, protection)
    prod = get_product(session, product)
    segments = [s for r in paths for s in r.segments]
    pairs = [fp for s in segments for fp in s.fiber_pairs]
    if not pairs:
        raise InvalidRequestError(N_("route %(route)s has no fiber pairs"), route=repr(route))
    width = width_in_slots(prod, width_ghz, pairs)
    usage = pair_usage(session, segments, now)
    return Availability(
        route=route,
        protection=protection,
        product=prod.code,
        width_slots=width,
        width_ghz=width * pairs[0].slot_width_ghz,
        paths=[r.code for r in paths],
        pairs=usage,
        suggestion=find_fit(paths, usage, width),
    )


def reservation_with_allocations(session: Session, reservation_id: int) -> SpectrumReservation:
    res = session.execute(
        select(SpectrumReservation)
        .where(SpectrumReservation.id == reservation_id)
        .options(
            selectinload(SpectrumReservation.allocations)
            .selectinload(Allocation.fiber_pair)
            .selectinload(FiberPair.segment)
        )
    ).scalar_one_or_none()
    if res is None:
        raise NotFoundError(
            N_("no spectrum reservation %(reservation)s"), reservation=reservation_id
        )
    return res


def recent_reservations(
    session: Session, now: datetime, limit: int = 50
) -> list[SpectrumReservation]:
    stmt = (
        select(SpectrumReservation)
        .options(
            selectinload(SpectrumReservation.allocations)
            .selectinload(Allocation.fiber_pair)
            .selectinload(FiberPair.segment),
            selectinload(SpectrumReservation.product),
            selectinload(SpectrumReservation.route),
        )
        .order_by(SpectrumReservation.id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


@dataclass(frozen=True)
class SpectrumAsk:
    route: str
    protection: str
    product: str
    width_ghz: Decimal | None
    units: int


def plan_units(
    session: Session, asks: Sequence[SpectrumAsk], *, now: datetime
) -> list[tuple[Availability, list[list[PathFit]]]]:
    """Where each unit of each ask would go if all were held now, in order: later asks see the
    units placed before them. Holds nothing; a quote being built is previewed with it."""
    planned: dict[PairKey, list[Occupant]] = defaultdict(list)
    plans: list[tuple[Availability, list[list[PathFit]]]] = []
    for ask in asks:
        result = availability(
            session,
            route=ask.route,
            protection=ask.protection,
            product=ask.product,
            width_ghz=ask.width_ghz,
            now=now,
        )
        paths = paths_for(session, ask.route, ask.protection)
        by_key = {PairKey(u.segment_id, u.fiber_pair_number): u for u in result.pairs}
        for key, usage in by_key.items():
            usage.occupants.extend(planned[key])
        fits: list[list[PathFit]] = []
        for _unit in range(ask.units):
            fit = find_fit(paths, result.pairs, result.width_slots)
            if fit is None:
                break
            fits.append(fit)
            for route, path_fit in zip(paths, fit, strict=True):
                for segment in route.segments:
                    key = PairKey(segment.id, path_fit.fiber_pair_number)
                    held = Occupant(
                        0, 0, path_fit.first_slot, path_fit.end_slot, "hold", None, None
                    )
                    planned[key].append(held)
                    if key in by_key:
                        by_key[key].occupants.append(held)
        plans.append((result, fits))
    return plans


def _path_revision_stmt(protected: bool) -> Select[int, int]:
    code: Any = bindparam("route_code")
    routes = [select(Route.id).where(Route.code == code).scalar_subquery()]
    if protected:
        routes.append(select(Route.protection_route_id).where(Route.code == code).scalar_subquery())
    return (
        select(FiberPair.id.label("fiber_pair_id"), FiberPair.revision.label("revision"))
        .join(Segment, Segment.id == FiberPair.segment_id)
        .where(or_(*(Segment.route_id == r for r in routes)))
    )


# Built once: the availability API runs one on every request.
_PATH_REVISION = {False: _path_revision_stmt(False), True: _path_revision_stmt(True)}


def path_revision_select(protection: str) -> Select[int, int]:
    """The (fiber_pair_id, revision) rows of every pair a request on a route can ride, unordered,
    with the route's code left as the bound parameter `route_code`. The same statement object
    each time, so a statement built around it (the API key check) can be built once too."""
    return _PATH_REVISION[protection == "protected"]


def path_revision_of(rows: Iterable[Sequence[Any]]) -> tuple[tuple[int, int], ...]:
    """The path's revision from its (fiber_pair_id, revision) rows, in pair order; rows of None
    (an outer join that found no pair) are left out."""
    return tuple(sorted((int(p), int(r)) for p, r in rows if p is not None and r is not None))


def path_revision(
    session: Session, route_code: str, protection: str
) -> tuple[tuple[int, int], ...]:
    """The (fiber pair, revision) of every pair a request on this route can ride: one query.

    Any change to the spectrum of those pairs, or a pair added to them, changes the answer.
    """
    rows = session.execute(path_revision_select(protection), {"route_code": route_code}).all()
    return path_revision_of(rows)


def fresh_until(av: Availability) -> datetime | None:
    """When the answer goes stale by itself: the first of the holds it counted expires."""
    expiries = [o.hold_expires_at for u in av.pairs for o in u.occupants if o.hold_expires_at]
    return min(expiries) if expiries else None
