"""Spectrum allocation through the service layer, on both databases (SPEC 2)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError, NotFoundError
from billing.inventory.models import Allocation, SpectrumReservation
from billing.inventory.queries import availability
from billing.inventory.services import (
    SpectrumConflictError,
    SpectrumRequest,
    confirm_reservation,
    release_reservation,
    reserve_spectrum,
)


def _hold(
    db: Database, clock: FrozenClock, req: SpectrumRequest, days: int = 14
) -> SpectrumReservation:
    with db.transaction() as s:
        res = reserve_spectrum(
            s, req, hold_until=clock.now() + timedelta(days=days), actor="test", now=clock.now()
        )
        return res


def _slots(db: Database) -> list[tuple[str, int, int, str]]:
    with db.transaction() as s:
        rows = s.execute(select(Allocation).order_by(Allocation.id)).scalars().all()
        return [(a.fiber_pair.segment.code, a.first_slot, a.end_slot, a.state) for a in rows]


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_first_fit_takes_the_lowest_free_slots(db: Database, clock: FrozenClock) -> None:
    _hold(db, clock, SpectrumRequest("main", "unprotected", "WL100G"))
    _hold(db, clock, SpectrumRequest("main", "unprotected", "WL400G"))
    assert _slots(db) == [("S1", 0, 4, "hold"), ("S1", 4, 10, "hold")]


def test_a_taken_range_answers_conflict_naming_the_next_free_alternative(
    db: Database, clock: FrozenClock
) -> None:
    _hold(db, clock, SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=1, first_slot=0))
    with pytest.raises(SpectrumConflictError) as caught:
        _hold(
            db, clock, SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=1, first_slot=2)
        )
    alternative = caught.value.errors["alternative"]
    assert alternative == [{"route": "main", "fiber_pair": 1, "first_slot": 4, "last_slot": 7}]
    assert caught.value.status == 409
    assert _count(db, SpectrumReservation) == 1


def test_protected_request_takes_the_same_width_on_both_routes(
    db: Database, clock: FrozenClock
) -> None:
    _hold(db, clock, SpectrumRequest("main", "protected", "WL800G"))
    assert _slots(db) == [("S1", 0, 12, "hold"), ("S2", 0, 12, "hold")]


def test_protected_request_whose_reserve_side_conflicts_holds_nothing_on_main(
    db: Database, clock: FrozenClock
) -> None:
    # Fill every reserve pair completely: a protected request can find no fit on S2.
    for pair in range(1, 5):
        _hold(db, clock, SpectrumRequest("reserve", "unprotected", "FIBER_PAIR", fiber_pair=pair))
    before = _slots(db)
    with pytest.raises(SpectrumConflictError):
        _hold(db, clock, SpectrumRequest("main", "protected", "WL100G"))
    assert _slots(db) == before
    assert not [row for row in _slots(db) if row[0] == "S1"]


def test_an_expired_hold_is_free_at_once_and_can_be_taken(db: Database, clock: FrozenClock) -> None:
    first = _hold(db, clock, SpectrumRequest("main", "unprotected", "WL100G"), days=1)
    clock.advance(timedelta(days=1, seconds=1))
    with db.transaction() as s:
        av = availability(
            s,
            route="main",
            protection="unprotected",
            product="WL100G",
            width_ghz=None,
            now=clock.now(),
        )
        assert av.pairs[0].free == [(0, 384)]
        assert av.suggestion is not None and av.suggestion[0].first_slot == 0
    second = _hold(db, clock, SpectrumRequest("main", "unprotected", "WL100G", first_slot=0))
    assert second.id != first.id
    assert _slots(db) == [("S1", 0, 4, "expired"), ("S1", 0, 4, "hold")]
    with db.transaction() as s, pytest.raises(Exception, match="no longer held"):
        confirm_reservation(s, first.id, actor="test", now=clock.now())


def test_confirm_and_release(db: Database, clock: FrozenClock) -> None:
    res = _hold(db, clock, SpectrumRequest("main", "protected", "WL100G"))
    with db.transaction() as s:
        confirm_reservation(s, res.id, actor="test", now=clock.now())
    assert {row[3] for row in _slots(db)} == {"allocated"}
    with db.transaction() as s:
        release_reservation(s, res.id, actor="test", now=clock.now())
    assert {row[3] for row in _slots(db)} == {"released"}
    again = _hold(db, clock, SpectrumRequest("main", "protected", "WL100G", first_slot=0))
    assert again.allocations[0].first_slot == 0


@pytest.mark.parametrize(
    ("req", "error"),
    [
        (SpectrumRequest("main", "unprotected", "WL100G", first_slot=382), InvalidRequestError),
        (SpectrumRequest("main", "unprotected", "WL100G", first_slot=-1), InvalidRequestError),
        (
            SpectrumRequest("main", "unprotected", "SPECTRUM", width_ghz=Decimal("30")),
            InvalidRequestError,
        ),
        (
            SpectrumRequest("main", "unprotected", "SPECTRUM", width_ghz=Decimal("0")),
            InvalidRequestError,
        ),
        (SpectrumRequest("main", "unprotected", "SPECTRUM", width_ghz=None), InvalidRequestError),
        (
            SpectrumRequest("main", "unprotected", "SPECTRUM", width_ghz=Decimal("4812.5")),
            InvalidRequestError,
        ),
        (SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=9), InvalidRequestError),
        (SpectrumRequest("atlantis", "unprotected", "WL100G"), NotFoundError),
        (SpectrumRequest("main", "unprotected", "WL9000G"), NotFoundError),
        (SpectrumRequest("main", "half", "WL100G"), InvalidRequestError),
        (SpectrumRequest("reserve", "protected", "WL100G"), InvalidRequestError),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(
    db: Database, clock: FrozenClock, req: SpectrumRequest, error: type[Exception]
) -> None:
    with pytest.raises(error):
        _hold(db, clock, req)
    assert _count(db, Allocation) == 0
    assert _count(db, SpectrumReservation) == 0


def test_a_hold_must_expire_in_the_future(db: Database, clock: FrozenClock) -> None:
    with pytest.raises(InvalidRequestError), db.transaction() as s:
        reserve_spectrum(
            s,
            SpectrumRequest("main", "unprotected", "WL100G"),
            hold_until=clock.now(),
            actor="t",
            now=clock.now(),
        )


def test_the_database_itself_refuses_overlapping_live_allocations(
    db: Database, clock: FrozenClock
) -> None:
    res = _hold(db, clock, SpectrumRequest("main", "unprotected", "WL100G"))
    alloc = res.allocations[0]
    with pytest.raises((IntegrityError, DBAPIError)), db.transaction() as s:
        s.execute(
            text(
                "INSERT INTO allocations (reservation_id, fiber_pair_id, first_slot, end_slot, "
                "state, created_at) VALUES (:r, :fp, 2, 6, 'allocated', :now)"
            ),
            {"r": res.id, "fp": alloc.fiber_pair_id, "now": clock.now().replace(tzinfo=None)},
        )
    # A released range may be reused, and a range next to a live one may be taken.
    with db.transaction() as s:
        s.execute(
            text(
                "INSERT INTO allocations (reservation_id, fiber_pair_id, first_slot, end_slot, "
                "state, created_at) VALUES (:r, :fp, 4, 8, 'allocated', :now)"
            ),
            {"r": res.id, "fp": alloc.fiber_pair_id, "now": clock.now().replace(tzinfo=None)},
        )
    assert _count(db, Allocation) == 2


def test_the_audit_log_records_each_change_and_refuses_edits(
    db: Database, clock: FrozenClock
) -> None:
    from billing.audit import AuditEntry

    res = _hold(db, clock, SpectrumRequest("main", "unprotected", "WL100G"))
    with db.transaction() as s:
        confirm_reservation(s, res.id, actor="alice", now=clock.now())
    with db.transaction() as s:
        actions = s.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.entity_type == "spectrum_reservation")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(a) for a in actions] == [("spectrum.hold", "test"), ("spectrum.confirm", "alice")]
    with pytest.raises(DBAPIError), db.transaction() as s:
        s.execute(text("UPDATE audit_log SET actor = 'mallory'"))
    with pytest.raises(DBAPIError), db.transaction() as s:
        s.execute(text("DELETE FROM audit_log"))
