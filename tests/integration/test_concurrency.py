"""Concurrent requests for the same spectrum: exactly one wins, none double-sells.

On PostgreSQL the exclusion constraint decides; on SQLite the serialised write path does.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.models import Allocation
from billing.inventory.services import SpectrumConflictError, SpectrumRequest, reserve_spectrum

WORKERS = 20


def _race(db: Database, clock: FrozenClock, requests: list[SpectrumRequest]) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    barrier = threading.Barrier(len(requests))
    lock = threading.Lock()

    def worker(req: SpectrumRequest) -> None:
        session = db.session()  # each worker: its own connection and transaction
        try:
            barrier.wait()
            reserve_spectrum(
                session,
                req,
                hold_until=clock.now() + timedelta(days=1),
                actor="race",
                now=clock.now(),
            )
            session.commit()
            result = "won"
        except SpectrumConflictError:
            session.rollback()
            result = "conflict"
        finally:
            session.close()
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=worker, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def _live(db: Database) -> list[tuple[int, int, int]]:
    with db.transaction() as s:
        rows = s.execute(
            select(Allocation.fiber_pair_id, Allocation.first_slot, Allocation.end_slot)
            .where(Allocation.state.in_(["hold", "allocated"]))
            .order_by(Allocation.first_slot)
        ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _assert_no_overlap(rows: list[tuple[int, int, int]]) -> None:
    by_pair: dict[int, list[tuple[int, int]]] = {}
    for fp, a, b in rows:
        for x, y in by_pair.get(fp, []):
            assert b <= x or y <= a, f"overlap {a}-{b} and {x}-{y} on pair {fp}"
        by_pair.setdefault(fp, []).append((a, b))


def test_twenty_workers_same_four_slots_exactly_one_wins(db: Database, clock: FrozenClock) -> None:
    req = SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=1, first_slot=0)
    outcomes = _race(db, clock, [req] * WORKERS)
    assert outcomes == Counter(won=1, conflict=WORKERS - 1)
    assert len(_live(db)) == 1


def test_twenty_workers_overlapping_unequal_ranges_never_overlap(
    db: Database, clock: FrozenClock
) -> None:
    # Widths 4, 6 and 12 slots, all starting within the first 4 slots of S1 pair 1.
    products = ["WL100G", "WL400G", "WL800G"]
    reqs = [
        SpectrumRequest("main", "unprotected", products[i % 3], fiber_pair=1, first_slot=i % 4)
        for i in range(WORKERS)
    ]
    outcomes = _race(db, clock, reqs)
    assert outcomes["won"] == 1 and outcomes["conflict"] == WORKERS - 1
    live = _live(db)
    assert len(live) == 1
    _assert_no_overlap(live)


def test_twenty_first_fit_requests_all_succeed_on_disjoint_slots(
    db: Database, clock: FrozenClock
) -> None:
    req = SpectrumRequest("main", "protected", "WL100G")
    outcomes = _race(db, clock, [req] * WORKERS)
    assert outcomes == Counter(won=WORKERS)  # free capacity is never refused because of a race
    live = _live(db)
    assert len(live) == 2 * WORKERS
    _assert_no_overlap(live)
