"""No spectrum without a contract (SPEC 2): manual holds and own use, holds kept to their party,
and the revenue-assurance report; on both databases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import ConflictError, InvalidRequestError, PermissionDeniedError
from billing.inventory.models import (
    Allocation,
    SpectrumReservation,
)
from billing.inventory.queries import all_segments, get_route, pair_usage
from billing.inventory.services import SpectrumRequest, confirm_reservation, reserve_spectrum
from billing.parties.customers import Seller
from billing.sales.lifecycle import transition_service
from billing.sales.queries import unbilled_allocations
from billing.sales.quotes import LineRequest, accept_quote, cancel_quote
from billing.sales.spectrum import (
    extend_manual_hold,
    hold_for_customer,
    quote_from_hold,
    release_manual_reservation,
    reserve_own_use,
)
from tests import factories

ADMIN = Seller("admin@tcf.example (admin)", None)
W100 = SpectrumRequest("main", "unprotected", "WL100G")


@pytest.fixture
def seed() -> str:
    return "reference"


def _sellers(db: Database) -> tuple[Seller, Seller]:
    with db.transaction() as s:
        return factories.party_seller(s, "AZT"), factories.party_seller(s, "KTC")


def _customer(db: Database, clock: FrozenClock, owner: str = "AZT") -> int:
    with db.transaction() as s:
        return factories.customer(s, now=clock.now(), owner=owner).id


def _spectrum(db: Database) -> list[tuple[int, str, object]]:
    with db.transaction() as s:
        return [
            (a.reservation_id, a.state, a.hold_expires_at)
            for a in s.execute(select(Allocation).order_by(Allocation.id)).scalars()
        ]


def _hold(db: Database, clock: FrozenClock, customer: int, seller: Seller, days: int = 7) -> int:
    with db.transaction() as s:
        return hold_for_customer(
            s, W100, customer_id=customer, days=days, seller=seller, now=clock.now()
        ).id


def test_spectrum_for_a_customer_is_never_allocated_without_a_contract(
    db: Database, clock: FrozenClock
) -> None:
    customer = _customer(db, clock)
    with db.transaction() as s, pytest.raises(InvalidRequestError, match="accepting a quote"):
        reserve_spectrum(s, W100, hold_until=None, customer_id=customer, actor="t", now=clock.now())
    assert _spectrum(db) == []


def test_a_manual_hold_can_be_extended_within_bounds_then_released(
    db: Database, clock: FrozenClock
) -> None:
    azt, _ = _sellers(db)
    rid = _hold(db, clock, _customer(db, clock), azt, days=7)
    for days in (0, 91, 3):  # out of bounds, and earlier than the hold runs already
        with db.transaction() as s, pytest.raises(InvalidRequestError):
            extend_manual_hold(s, rid, days=days, seller=azt, now=clock.now())
    with db.transaction() as s:
        extend_manual_hold(s, rid, days=30, seller=azt, now=clock.now())
    assert {exp for _, _, exp in _spectrum(db)} == {clock.now() + timedelta(days=30)}
    with db.transaction() as s:
        release_manual_reservation(s, rid, seller=azt, now=clock.now())
    assert {state for _, state, _ in _spectrum(db)} == {"released"}
    with db.transaction() as s:
        actions = s.execute(
            select(AuditEntry.action).where(AuditEntry.entity_type == "spectrum_reservation")
        ).scalars()
        assert list(actions) == ["spectrum.hold", "spectrum.extend", "spectrum.release"]


def test_a_manual_hold_becomes_a_quote_on_that_very_spectrum_and_a_contract_allocates_it(
    db: Database, clock: FrozenClock
) -> None:
    azt, _ = _sellers(db)
    customer = _customer(db, clock)
    with db.transaction() as s:
        factories.price_book_version(s, now=clock.now())
        held = hold_for_customer(
            s,
            SpectrumRequest("main", "protected", "SPECTRUM", width_ghz=Decimal("75")),
            customer_id=customer,
            days=2,
            seller=azt,
            now=clock.now(),
        )
        rid = held.id
    before = _spectrum(db)
    with db.transaction() as s:
        quote = quote_from_hold(
            s, rid, model="lease", term_months=24, valid_days=20, seller=azt, now=clock.now()
        )
        line = quote.lines[0]
        assert [h.reservation_id for h in line.holds] == [rid]
        assert (line.product.code, line.protection, line.width_slots) == (
            "SPECTRUM",
            "protected",
            6,
        )
        assert line.width_ghz == Decimal("75") and line.term_months == 24
        assert quote.customer_id == customer
        quote_id, valid_until = quote.id, quote.valid_until
    after = _spectrum(db)
    # The same allocations, now held as long as the quote is valid: no new spectrum was taken.
    assert [(r, st) for r, st, _ in after] == [(r, st) for r, st, _ in before]
    assert {exp for _, _, exp in after} == {valid_until}
    with db.transaction() as s:
        contract = accept_quote(s, quote_id, seller=azt, now=clock.now())
        assert contract.services[0].reservation_id == rid
    assert {st for _, st, _ in _spectrum(db)} == {"allocated"}
    with db.transaction() as s, pytest.raises(ConflictError):
        quote_from_hold(s, rid, model="lease", term_months=12, seller=azt, now=clock.now())


def test_only_the_holding_partys_staff_and_admins_touch_a_hold(
    db: Database, clock: FrozenClock
) -> None:
    azt, ktc = _sellers(db)
    azt_customer = _customer(db, clock, "AZT")
    rid = _hold(db, clock, azt_customer, azt)
    with db.transaction() as s:
        factories.price_book_version(s, now=clock.now())
    before = _spectrum(db)
    refused = [
        lambda s: release_manual_reservation(s, rid, seller=ktc, now=clock.now()),
        lambda s: extend_manual_hold(s, rid, days=30, seller=ktc, now=clock.now()),
        lambda s: quote_from_hold(
            s, rid, model="lease", term_months=12, seller=ktc, now=clock.now()
        ),
        lambda s: hold_for_customer(
            s, W100, customer_id=azt_customer, days=7, seller=ktc, now=clock.now()
        ),
    ]
    for attempt in refused:
        with db.transaction() as s, pytest.raises(PermissionDeniedError):
            attempt(s)
    assert _spectrum(db) == before
    with db.transaction() as s:
        extend_manual_hold(s, rid, days=10, seller=ADMIN, now=clock.now())
        release_manual_reservation(s, rid, seller=ADMIN, now=clock.now())
    assert {st for _, st, _ in _spectrum(db)} == {"released"}


def test_own_use_is_an_admins_with_a_reason_and_shows_apart(
    db: Database, clock: FrozenClock
) -> None:
    azt, _ = _sellers(db)
    for seller, reason in ((azt, "OTDR test"), (ADMIN, "  "), (ADMIN, "x\x00"), (ADMIN, "y" * 501)):
        with db.transaction() as s, pytest.raises((PermissionDeniedError, InvalidRequestError)):
            reserve_own_use(s, W100, reason=reason, seller=seller, now=clock.now())
    assert _spectrum(db) == []
    with db.transaction() as s:
        own = reserve_own_use(
            s, W100, reason="restoration drill, ticket 4711", seller=ADMIN, now=clock.now()
        )
        assert (own.kind, own.customer_id) == ("own_use", None)
        rid = own.id
    assert [st for _, st, _ in _spectrum(db)] == ["allocated"]
    with db.transaction() as s:
        usage = pair_usage(s, all_segments(s), clock.now())
        occupants = [o for u in usage for o in u.occupants]
        assert [(o.own_use, o.state, o.customer) for o in occupants] == [(True, "allocated", None)]
    with db.transaction() as s, pytest.raises(PermissionDeniedError):
        release_manual_reservation(s, rid, seller=azt, now=clock.now())
    with db.transaction() as s:
        release_manual_reservation(s, rid, seller=ADMIN, now=clock.now())
    assert [st for _, st, _ in _spectrum(db)] == ["released"]


@pytest.mark.parametrize(
    "values",
    [
        {"kind": "own_use", "reason": None},
        {"kind": "own_use", "reason": ""},
        {"kind": "own_use", "reason": "test", "customer": True},
        {"kind": "lent"},
    ],
)
def test_the_database_refuses_own_use_without_a_reason_or_with_a_customer(
    db: Database, clock: FrozenClock, values: dict[str, object]
) -> None:
    customer = _customer(db, clock)
    with db.transaction() as s:
        route_id = get_route(s, "main").id
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(
            SpectrumReservation(
                route_id=route_id,
                protection="unprotected",
                width_slots=4,
                customer_id=customer if values.get("customer") else None,
                kind=values["kind"],
                reason=values.get("reason"),
                created_at=clock.now(),
            )
        )
        s.flush()


def test_revenue_assurance_lists_exactly_the_own_use_after_a_day_of_sales(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    azt, _ = _sellers(db)
    with db.transaction() as s:
        kept = factories.contract(s, now=clock.now())
        ended = factories.contract(
            s, now=clock.now(), lines=[LineRequest("WL10G", model="iru", term_months=120)]
        )
        open_quote = factories.quote(s, now=clock.now())
        dropped = factories.quote(s, now=clock.now())
        cancel_quote(s, dropped.id, seller=azt, now=clock.now())
        second = factories.quote(s, now=clock.now(), lines=[LineRequest("WL400G", quantity=2)])
        accept_quote(s, second.id, seller=azt, now=clock.now())
        own = reserve_own_use(s, W100, reason="OTDR measurements", seller=ADMIN, now=clock.now())
        spare = reserve_own_use(s, W100, reason="restoration spare", seller=ADMIN, now=clock.now())
        circuit = ended.services[0].circuit_id
        kept_circuit = kept.services[0].circuit_id
        assert open_quote.state == "open"
    today = clock.now().date()
    with db.transaction() as s:
        transition_service(
            s, circuit, "activate", effective_date=today, seller=azt, now=clock.now()
        )
        transition_service(
            s, circuit, "terminate", effective_date=today, seller=azt, now=clock.now()
        )
        transition_service(
            s, kept_circuit, "activate", effective_date=today, seller=azt, now=clock.now()
        )
    manual = _hold(db, clock, _customer(db, clock), azt)
    with db.transaction() as s:
        rows = unbilled_allocations(s)
        assert [(r.reservation_id, r.kind, r.reason) for r in rows] == [
            (own.id, "own_use", "OTDR measurements"),
            (spare.id, "own_use", "restoration spare"),
        ]
        assert rows[0].spectrum and all("slots" in part for part in rows[0].spectrum)
    result = app.test_cli_runner().invoke(args=["reports", "revenue-assurance"])
    assert result.exit_code == 0, result.output
    assert "OTDR measurements" in result.output
    assert "2 own use, 0 not billed" in result.output

    # Spectrum allocated past a contract (as the removed "Allocate" button did) is caught.
    with db.transaction() as s:
        confirm_reservation(s, manual, actor="someone", now=clock.now())
    with db.transaction() as s:
        rows = unbilled_allocations(s)
        assert [(r.reservation_id, r.own_use) for r in rows][-1] == (manual, False)
    result = app.test_cli_runner().invoke(args=["reports", "revenue-assurance"])
    assert result.exit_code == 1
    assert f"reservation {manual}" in result.output and "NOT BILLED" in result.output
