"""The write path of spectrum: hold, allocate, confirm, release (SPEC 2).

The no-overlap invariant is kept by the database (exclusion constraint on PostgreSQL, trigger under
SQLite's single writer). This module only decides *which* slots to ask for, and when the database
says another request got there first it asks for the next fit, so free capacity is never refused
because of a race.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.audit import record
from billing.errors import N_, ConflictError, InvalidRequestError, Text
from billing.inventory.models import (
    Allocation,
    AllocationState,
    FiberPair,
    ReservationKind,
    SpectrumReservation,
)
from billing.inventory.queries import (
    find_fit,
    get_product,
    pair_usage,
    paths_for,
    reservation_with_allocations,
    width_in_slots,
)
from billing.inventory.spectrum import PathFit

MAX_ATTEMPTS = 64


class SpectrumConflictError(ConflictError):
    type = "spectrum_taken"

    def __init__(self, message: str, alternative: list[PathFit] | None) -> None:
        errors: dict[str, object] = {"alternative": _fit_json(alternative) if alternative else None}
        super().__init__(message, errors)
        self.alternative = alternative


def _fit_json(fits: list[PathFit]) -> list[dict[str, object]]:
    return [
        {
            "route": f.route_code,
            "fiber_pair": f.fiber_pair_number,
            "first_slot": f.first_slot,
            "last_slot": f.end_slot - 1,
        }
        for f in fits
    ]


@dataclass(frozen=True)
class SpectrumRequest:
    route: str
    protection: str
    product: str
    width_ghz: Decimal | None = None
    fiber_pair: int | None = None  # pin to a fiber pair number (first path)
    first_slot: int | None = None  # pin to a first slot (first path)


def _is_overlap(error: IntegrityError) -> bool:
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    return sqlstate == "23P01" or "spectrum_overlap" in str(orig)


def lock_fiber_pairs(session: Session, pair_ids: Iterable[int]) -> None:
    """Take the fiber pairs a write will touch, in ascending id, before it reads their spectrum.

    Every change to allocations bumps its pair's revision row (a trigger), which locks that row
    until commit. Locking all of a write's pairs first, always in the same order, means two
    writers queue instead of deadlocking, and a writer computes its fit from spectrum nobody else
    can change under it. The exclusion constraint stays the guarantee against overlap.
    SQLite needs nothing here: its writers already hold the database's single write lock.
    """
    ids = sorted(set(pair_ids))
    if ids and session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(FiberPair.id)
            .where(FiberPair.id.in_(ids))
            .order_by(FiberPair.id)
            .with_for_update()
        ).all()


def lock_reservation_pairs(session: Session, reservation_ids: Iterable[int]) -> None:
    """Lock every fiber pair these reservations occupy (see lock_fiber_pairs)."""
    ids = list(reservation_ids)
    if ids:
        lock_fiber_pairs(
            session,
            session.execute(
                select(Allocation.fiber_pair_id).where(Allocation.reservation_id.in_(ids))
            ).scalars(),
        )


def expire_stale_holds(session: Session, pair_ids: list[int], *, now: datetime) -> list[int]:
    """Record as expired the holds past their expiry on these pairs; returns their reservations.

    Readers already treat them as free; this makes the stored state say so before a write.
    """
    stale = select(Allocation.id, Allocation.reservation_id, Allocation.fiber_pair_id).where(
        Allocation.fiber_pair_id.in_(pair_ids),
        Allocation.state == AllocationState.HOLD.value,
        Allocation.hold_expires_at <= now,
    )
    rows = session.execute(stale).all()
    if not rows:
        return []
    # One pair at a time, in ascending id: every writer locks pairs (their revision rows) in
    # the same order, so two writers can never wait on each other in a cycle.
    for pair_id in sorted({r.fiber_pair_id for r in rows}):
        session.execute(
            update(Allocation)
            .where(
                Allocation.id.in_([r.id for r in rows if r.fiber_pair_id == pair_id]),
                Allocation.state == AllocationState.HOLD.value,
            )
            .values(state=AllocationState.EXPIRED.value, ended_at=now)
            .execution_options(synchronize_session=False)
        )
    reservations = sorted({r.reservation_id for r in rows})
    for rid in reservations:
        record(
            session,
            actor="system",
            action="spectrum.expired",
            entity_type="spectrum_reservation",
            entity_id=rid,
            now=now,
            before={"state": "hold"},
            after={"state": "expired"},
        )
    return reservations


def reserve_spectrum(
    session: Session,
    request: SpectrumRequest,
    *,
    hold_until: datetime | None,
    customer_id: int | None = None,
    purpose: str = "",
    kind: ReservationKind = ReservationKind.SALE,
    reason: str | None = None,
    actor: str,
    now: datetime,
) -> SpectrumReservation:
    """Hold spectrum on every segment of the path until `hold_until`; or, for the operators' own
    use (no hold), allocate it.

    Sold spectrum is only ever held here: it becomes allocated when a contract is signed
    (`confirm_reservation`, called by accepting a quote). All or nothing: a protected request
    either gets both routes or neither.
    """
    if kind == ReservationKind.SALE and hold_until is None:
        raise InvalidRequestError(
            N_("spectrum for a customer is held, and allocated only by accepting a quote")
        )
    if kind == ReservationKind.OWN_USE and (hold_until, customer_id) != (None, None):
        raise InvalidRequestError(N_("own use is allocated at once and has no customer"))
    if kind == ReservationKind.OWN_USE and not (reason or "").strip():
        raise InvalidRequestError(N_("own use needs a reason"), {"reason": [N_("required")]})
    if hold_until is not None and hold_until <= now:
        raise InvalidRequestError(
            N_("a hold must expire in the future"), {"hold_until": [N_("must be in the future")]}
        )
    if request.first_slot is not None and request.first_slot < 0:
        raise InvalidRequestError(
            N_("first slot must be 0 or more"), {"first_slot": [N_("must be 0 or more")]}
        )
    paths = paths_for(session, request.route, request.protection)
    product = get_product(session, request.product)
    if product.kind == "fiber_pair" and request.first_slot not in (None, 0):
        raise InvalidRequestError(N_("a fiber pair always starts at slot 0"))
    segments = [s for r in paths for s in r.segments]
    pairs = [fp for s in segments for fp in s.fiber_pairs]
    if request.fiber_pair is not None and request.fiber_pair not in {
        fp.number for fp in paths[0].segments[0].fiber_pairs
    }:
        raise InvalidRequestError(
            N_("route %(route)s has no fiber pair %(pair)s"),
            {
                "fiber_pair": [
                    Text(N_("no fiber pair %(pair)s on this route"), pair=request.fiber_pair)
                ]
            },
            route=repr(request.route),
            pair=request.fiber_pair,
        )
    width = width_in_slots(product, request.width_ghz, pairs)
    if request.first_slot is not None and request.first_slot + width > min(
        fp.slot_count for fp in pairs
    ):
        raise InvalidRequestError(
            N_("the requested slots run past the end of the band"),
            {
                "first_slot": [
                    Text(
                        N_("slots %(first)s…%(last)s are outside the band"),
                        first=request.first_slot,
                        last=request.first_slot + width - 1,
                    )
                ]
            },
        )
    pinned = request.first_slot is not None
    lock_fiber_pairs(session, [fp.id for fp in pairs])
    expire_stale_holds(session, [fp.id for fp in pairs], now=now)

    for _attempt in range(MAX_ATTEMPTS):
        usage = pair_usage(session, segments, now)
        fits = find_fit(paths, usage, width, pair=request.fiber_pair, first_slot=request.first_slot)
        if fits is None:
            alternative = find_fit(paths, usage, width) if pinned or request.fiber_pair else None
            raise SpectrumConflictError(
                _not_free(request, width, other_fit=bool(alternative)), alternative
            )
        try:
            with session.begin_nested():
                reservation = _insert(
                    session,
                    request,
                    paths,
                    fits,
                    product.id,
                    width,
                    hold_until,
                    customer_id,
                    purpose,
                    actor,
                    now,
                    kind,
                    reason,
                )
        except IntegrityError as error:
            if not _is_overlap(error):
                raise
            if pinned:
                usage = pair_usage(session, segments, now)
                raise SpectrumConflictError(
                    N_("another request took these slots a moment ago"),
                    find_fit(paths, usage, width),
                ) from error
            continue  # someone took this fit first: try the next one
        record(
            session,
            actor=actor,
            action="spectrum.hold" if hold_until else f"spectrum.{kind}",
            entity_type="spectrum_reservation",
            entity_id=reservation.id,
            now=now,
            after={
                "route": request.route,
                "protection": request.protection,
                "product": product.code,
                "width_slots": width,
                "customer_id": customer_id,
                "hold_until": hold_until,
                "kind": kind.value,
                "reason": reason,
                "allocations": _fit_json(fits),
            },
        )
        return reservation
    raise ConflictError(N_("spectrum is too contended right now; try again"))


def _not_free(request: SpectrumRequest, width: int, *, other_fit: bool) -> Text:
    """Why no fit was found: the pinned slots, or `width` free slots anywhere, are taken on some
    segment of the path (and whether another fit is free)."""
    where = {"route": request.route, "protection": request.protection}
    if request.first_slot is not None:
        first, last = request.first_slot, request.first_slot + width - 1
        if other_fit:
            return Text(
                N_(
                    "slots %(first)s…%(last)s are not free on every segment of route %(route)s "
                    "(%(protection)s)"
                ),
                first=first,
                last=last,
                **where,
            )
        return Text(
            N_(
                "slots %(first)s…%(last)s are not free on every segment of route %(route)s "
                "(%(protection)s); no other fit is free either"
            ),
            first=first,
            last=last,
            **where,
        )
    if other_fit:
        return Text(
            N_(
                "%(count)s free slots are not free on every segment of route %(route)s "
                "(%(protection)s)"
            ),
            count=width,
            **where,
        )
    return Text(
        N_(
            "%(count)s free slots are not free on every segment of route %(route)s "
            "(%(protection)s); no other fit is free either"
        ),
        count=width,
        **where,
    )


def _insert(
    session: Session,
    request: SpectrumRequest,
    paths: list,  # type: ignore[type-arg]
    fits: list[PathFit],
    product_id: int,
    width: int,
    hold_until: datetime | None,
    customer_id: int | None,
    purpose: str,
    actor: str,
    now: datetime,
    kind: ReservationKind,
    reason: str | None,
) -> SpectrumReservation:
    reservation = SpectrumReservation(
        route_id=paths[0].id,
        protection=request.protection,
        product_id=product_id,
        width_slots=width,
        customer_id=customer_id,
        purpose=purpose,
        kind=kind.value,
        reason=reason,
        created_at=now,
        created_by=actor,
    )
    session.add(reservation)
    placed = sorted(
        (
            (next(fp for fp in seg.fiber_pairs if fp.number == fit.fiber_pair_number), fit)
            for route, fit in zip(paths, fits, strict=True)
            for seg in route.segments
        ),
        key=lambda item: item[0].id,
    )
    for pair, fit in placed:
        session.add(
            Allocation(
                reservation=reservation,
                fiber_pair_id=pair.id,
                first_slot=fit.first_slot,
                end_slot=fit.end_slot,
                state=AllocationState.HOLD.value if hold_until else AllocationState.ALLOCATED.value,
                hold_expires_at=hold_until,
                created_at=now,
                allocated_at=None if hold_until else now,
            )
        )
    session.flush()
    return reservation


def confirm_reservation(
    session: Session, reservation_id: int, *, actor: str, now: datetime
) -> SpectrumReservation:
    """Turn a live hold into an allocation. An expired hold cannot be confirmed."""
    lock_reservation_pairs(session, [reservation_id])
    res = reservation_with_allocations(session, reservation_id)
    states = {a.state for a in res.allocations}
    if states == {AllocationState.ALLOCATED.value}:
        return res
    if any(not a.is_live(now) for a in res.allocations):
        raise ConflictError(
            N_("spectrum reservation %(reservation)s is no longer held (expired or released)"),
            reservation=res.id,
        )
    for alloc in res.allocations:
        alloc.state = AllocationState.ALLOCATED.value
        alloc.hold_expires_at = None
        alloc.allocated_at = now
    session.flush()
    record(
        session,
        actor=actor,
        action="spectrum.confirm",
        entity_type="spectrum_reservation",
        entity_id=res.id,
        now=now,
        before={"state": "hold"},
        after={"state": "allocated"},
    )
    return res


def extend_hold(
    session: Session, reservation_id: int, *, until: datetime, actor: str, now: datetime
) -> SpectrumReservation:
    """Keep a live hold until `until` instead (later than it runs now)."""
    lock_reservation_pairs(session, [reservation_id])
    res = reservation_with_allocations(session, reservation_id)
    if not res.allocations or any(
        a.state != AllocationState.HOLD or not a.is_live(now) for a in res.allocations
    ):
        raise ConflictError(
            N_("spectrum reservation %(reservation)s is not a live hold"), reservation=res.id
        )
    was = min(a.hold_expires_at for a in res.allocations if a.hold_expires_at is not None)
    if until <= was:
        time = f"{was:%Y-%m-%d %H:%M}"
        raise InvalidRequestError(
            N_("the hold already runs until %(time)s UTC"),
            {"hold_days": [Text(N_("an extension ends after %(time)s UTC"), time=time)]},
            time=time,
        )
    for alloc in res.allocations:
        alloc.hold_expires_at = until
    session.flush()
    record(
        session,
        actor=actor,
        action="spectrum.extend",
        entity_type="spectrum_reservation",
        entity_id=res.id,
        now=now,
        before={"hold_until": was},
        after={"hold_until": until},
    )
    return res


def release_reservation(
    session: Session, reservation_id: int, *, actor: str, now: datetime
) -> SpectrumReservation:
    lock_reservation_pairs(session, [reservation_id])
    res = reservation_with_allocations(session, reservation_id)
    live = [a for a in res.allocations if a.is_live(now)]
    if not live:
        raise ConflictError(
            N_("spectrum reservation %(reservation)s holds no spectrum"), reservation=res.id
        )
    before = sorted({a.state for a in live})
    for alloc in live:
        alloc.state = AllocationState.RELEASED.value
        alloc.ended_at = now
    session.flush()
    record(
        session,
        actor=actor,
        action="spectrum.release",
        entity_type="spectrum_reservation",
        entity_id=res.id,
        now=now,
        before={"state": before},
        after={"state": "released"},
    )
    return res


def default_hold_until(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)
