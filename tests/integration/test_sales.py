"""Quotes, contracts and services through the service layer (SPEC 3)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import ConflictError, InvalidRequestError, NotFoundError, PermissionDeniedError
from billing.inventory.models import Allocation
from billing.inventory.services import SpectrumConflictError, SpectrumRequest, reserve_spectrum
from billing.parties.customers import Seller, create_customer, update_customer
from billing.sales.lifecycle import get_service, transition_service
from billing.sales.models import Contract, PriceBookEntry, Quote, Service
from billing.sales.pricebook import create_version
from billing.sales.quotes import LineRequest, accept_quote, cancel_quote, create_quote
from tests.helpers import customer_id, fill_main_route_but_one_100g

AZT = Seller("sales@azertelecom.az (sales, AZT)", 1)
KTC = Seller("sales@kazakhtelecom.kz (sales, KTC)", 2)
SILK = "Silk Route Carrier GmbH"  # an AZT customer
CASPIAN = "Caspian Transit LLP"  # a KTC customer


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _quote(
    db: Database,
    clock: FrozenClock,
    *lines: LineRequest,
    customer: str = SILK,
    seller: Seller = AZT,
) -> Quote:
    with db.transaction() as s:
        return create_quote(
            s,
            customer_id=customer_id(db, customer),
            lines=list(lines),
            seller=seller,
            now=clock.now(),
        )


def test_a_quote_copies_list_prices_applies_the_discount_and_holds_spectrum(
    db: Database, clock: FrozenClock
) -> None:
    q = _quote(
        db,
        clock,
        LineRequest(
            "WL100G",
            protection="protected",
            term_months=36,
            quantity=2,
            discount_percent=Decimal("10"),
        ),
    )
    line = q.lines[0]
    assert line.list_mrc == Decimal("8640.00")  # 4,800 × 1.8 protected, 36-month band
    assert line.mrc == Decimal("7776.00")  # less 10%
    assert line.list_nrc == Decimal("9000.00") and line.nrc == Decimal("8100.00")
    assert q.number == "Q-2026-000001"
    assert q.valid_until == clock.now() + timedelta(days=14)
    with db.transaction() as s:
        live = s.execute(select(Allocation).where(Allocation.state == "hold")).scalars().all()
        assert len(live) == 4  # 2 units × (S1 + S2)
        assert {a.hold_expires_at for a in live} == {q.valid_until}


def test_spectrum_products_are_priced_per_slot(db: Database, clock: FrozenClock) -> None:
    q = _quote(db, clock, LineRequest("SPECTRUM", width_ghz=Decimal("37.5"), term_months=12))
    assert q.lines[0].width_slots == 3
    assert q.lines[0].mrc == Decimal("4500.00")


def test_accepting_makes_a_contract_and_one_pending_service_per_unit(
    db: Database, clock: FrozenClock
) -> None:
    q = _quote(
        db,
        clock,
        LineRequest("WL100G", quantity=2),
        LineRequest("SPECTRUM", width_ghz=Decimal("50")),
        LineRequest("FIBER_PAIR", model="iru", term_months=180),
    )
    with db.transaction() as s:
        contract = accept_quote(s, q.id, seller=AZT, now=clock.now())
        circuits = [sv.circuit_id for sv in contract.services]
    assert circuits == ["TCF-WL-000001", "TCF-WL-000002", "TCF-SP-000001", "TCF-FP-000001"]
    with db.transaction() as s:
        assert {a.state for a in s.execute(select(Allocation)).scalars()} == {"allocated"}
        service = get_service(s, "TCF-FP-000001")
        assert service.iru_fee == Decimal("30000000.00") and service.om_rate_percent == Decimal("4")
        assert [e.to_state for e in service.events] == ["pending"]
    with db.transaction() as s, pytest.raises(ConflictError, match="already accepted"):
        accept_quote(s, q.id, seller=AZT, now=clock.now())
    assert _count(db, Contract) == 1


def test_an_expired_quote_cannot_be_accepted_and_its_spectrum_is_free(
    db: Database, clock: FrozenClock
) -> None:
    q = _quote(db, clock, LineRequest("WL100G"))
    clock.advance(timedelta(days=14, seconds=1))
    with db.transaction() as s, pytest.raises(ConflictError, match="expired"):
        accept_quote(s, q.id, seller=AZT, now=clock.now())
    with db.transaction() as s:
        taken = reserve_spectrum(
            s,
            SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=1, first_slot=0),
            hold_until=None,
            actor="t",
            now=clock.now(),
        )
        assert taken.allocations[0].first_slot == 0
    assert _count(db, Contract) == 0 and _count(db, Service) == 0


def test_a_price_book_change_after_quoting_changes_neither_quote_nor_contract(
    db: Database, clock: FrozenClock
) -> None:
    q = _quote(db, clock, LineRequest("WL100G", term_months=12))
    with db.transaction() as s:
        version = create_version(
            s,
            name="2027",
            effective_from=clock.now().date(),
            max_discount_percent=Decimal("15"),
            entries=[],
            actor="admin",
            now=clock.now(),
            copy_from=q.price_book_version_id,
        )
        for entry in version.entries:
            if entry.mrc is not None:
                entry.mrc *= 2
        s.flush()
    with db.transaction() as s:
        contract = accept_quote(s, q.id, seller=AZT, now=clock.now())
        assert contract.services[0].mrc == Decimal("6000.00")
        assert s.get(Quote, q.id).lines[0].mrc == Decimal("6000.00")  # type: ignore[union-attr]
    later = _quote(db, clock, LineRequest("WL100G", term_months=12))
    assert later.lines[0].mrc == Decimal("12000.00")
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(PriceBookEntry)).scalar_one() > 0


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (LineRequest("WL100G", term_months=11), "term_months"),
        (LineRequest("WL100G", term_months=61), "term_months"),
        (LineRequest("WL100G", model="iru", term_months=108), "term_months"),
        (LineRequest("WL100G", model="iru", term_months=312), "term_months"),
        (LineRequest("WL100G", model="iru", term_months=150), "term_months"),
        (LineRequest("WL100G", discount_percent=Decimal("15.01")), "discount_percent"),
        (LineRequest("WL100G", discount_percent=Decimal("-1")), "discount_percent"),
        (LineRequest("WL100G", quantity=0), "quantity"),
        (LineRequest("FIBER_PAIR", model="lease", term_months=24), "model"),
        (LineRequest("WL100G", model="rent"), "model"),
    ],
)
def test_bad_lines_are_refused_and_write_nothing(
    db: Database, clock: FrozenClock, line: LineRequest, field: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        _quote(db, clock, line)
    assert field in caught.value.errors["lines"]["0"]  # the error names its line
    assert _count(db, Quote) == 0 and _count(db, Allocation) == 0


def test_unknown_product_is_not_found(db: Database, clock: FrozenClock) -> None:
    with pytest.raises(NotFoundError):
        _quote(db, clock, LineRequest("WL1T"))
    assert _count(db, Quote) == 0


def test_a_quote_that_cannot_hold_every_unit_holds_nothing(
    db: Database, clock: FrozenClock
) -> None:
    fill_main_route_but_one_100g(db, clock)
    before = _count(db, Allocation)
    with pytest.raises(SpectrumConflictError):
        _quote(db, clock, LineRequest("WL100G", quantity=2))
    assert _count(db, Allocation) == before and _count(db, Quote) == 0
    _quote(db, clock, LineRequest("WL100G", quantity=1))


def test_parties_sell_only_to_their_own_customers(db: Database, clock: FrozenClock) -> None:
    with pytest.raises(PermissionDeniedError):
        _quote(db, clock, LineRequest("WL100G"), customer=SILK, seller=KTC)
    with db.transaction() as s, pytest.raises(PermissionDeniedError):
        update_customer(s, customer_id(db, SILK), {"tax_id": "X"}, seller=KTC, now=clock.now())
    with db.transaction() as s:
        c = update_customer(
            s, customer_id(db, CASPIAN), {"payment_terms_days": 45}, seller=KTC, now=clock.now()
        )
        assert c.payment_terms_days == 45


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"country": "az"}, "country"),
        ({"billing_currency": "GBP"}, "billing_currency"),
        ({"billing_currency": "ZZZ"}, "billing_currency"),
        ({"payment_terms_days": 400}, "payment_terms_days"),
        ({"legal_name": " "}, "legal_name"),
    ],
)
def test_invalid_customers_are_refused(
    db: Database, clock: FrozenClock, values: dict, field: str
) -> None:
    base = {"legal_name": "Gulf Bridge Ltd", "country": "AE", "owner_party": "AZT"}
    with db.transaction() as s, pytest.raises(InvalidRequestError) as caught:
        create_customer(s, {**base, **values}, seller=AZT, now=clock.now())
    assert field in caught.value.errors


def test_service_lifecycle_records_every_step_and_frees_spectrum_at_the_end(
    db: Database, clock: FrozenClock
) -> None:
    q = _quote(db, clock, LineRequest("WL100G", protection="protected"))
    with db.transaction() as s:
        accept_quote(s, q.id, seller=AZT, now=clock.now())
    today = clock.now().date()
    steps = [("activate", today), ("suspend", None), ("resume", None), ("terminate", today)]
    for action, day in steps:
        with db.transaction() as s:
            transition_service(
                s, "TCF-WL-000001", action, effective_date=day, seller=AZT, now=clock.now()
            )
    with db.transaction() as s:
        sv = get_service(s, "TCF-WL-000001")
        assert [(e.from_state, e.to_state) for e in sv.events] == [
            (None, "pending"),
            ("pending", "active"),
            ("active", "suspended"),
            ("suspended", "active"),
            ("active", "terminated"),
        ]
        assert sv.ready_for_service_date == today and sv.end_date == today
        assert {a.state for a in s.execute(select(Allocation)).scalars()} == {"released"}
        audit = (
            s.execute(select(AuditEntry.action).where(AuditEntry.entity_type == "service"))
            .scalars()
            .all()
        )
        assert audit == [
            "service.activate",
            "service.suspend",
            "service.resume",
            "service.terminate",
        ]
    with db.transaction() as s, pytest.raises(ConflictError):
        transition_service(
            s, "TCF-WL-000001", "activate", effective_date=today, seller=AZT, now=clock.now()
        )


def test_lifecycle_dates_and_parties_are_checked(db: Database, clock: FrozenClock) -> None:
    q = _quote(db, clock, LineRequest("WL100G"))
    with db.transaction() as s:
        accept_quote(s, q.id, seller=AZT, now=clock.now())
    today = clock.now().date()
    for day in (None, today + timedelta(days=1), date(2020, 1, 1)):
        with db.transaction() as s, pytest.raises(InvalidRequestError):
            transition_service(
                s, "TCF-WL-000001", "activate", effective_date=day, seller=AZT, now=clock.now()
            )
    with db.transaction() as s, pytest.raises(PermissionDeniedError):
        transition_service(
            s, "TCF-WL-000001", "activate", effective_date=today, seller=KTC, now=clock.now()
        )


def test_cancelling_a_quote_frees_its_spectrum(db: Database, clock: FrozenClock) -> None:
    q = _quote(db, clock, LineRequest("WL400G"))
    with db.transaction() as s:
        cancel_quote(s, q.id, seller=AZT, now=clock.now())
    with db.transaction() as s:
        assert {a.state for a in s.execute(select(Allocation)).scalars()} == {"released"}
        with pytest.raises(ConflictError):
            accept_quote(s, q.id, seller=AZT, now=clock.now())


def test_sold_or_quoted_spectrum_cannot_be_released_or_allocated_by_hand(
    db: Database, clock: FrozenClock
) -> None:
    from billing.sales.spectrum import allocate_manual_hold, release_manual_reservation

    quoted = _quote(db, clock, LineRequest("WL100G"))
    sold = _quote(db, clock, LineRequest("WL100G"))
    with db.transaction() as s:
        accept_quote(s, sold.id, seller=AZT, now=clock.now())
        quoted_res = s.get(Quote, quoted.id).lines[0].holds[0].reservation_id  # type: ignore[union-attr]
        sold_res = get_service(s, "TCF-WL-000001").reservation_id
    for fn, rid, owner in (
        (release_manual_reservation, sold_res, "TCF-WL-000001"),
        (release_manual_reservation, quoted_res, quoted.number),
        (allocate_manual_hold, quoted_res, quoted.number),
    ):
        with db.transaction() as s, pytest.raises(ConflictError, match=owner):
            fn(s, rid, actor="t", now=clock.now())
    with db.transaction() as s:
        states = {a.reservation_id: a.state for a in s.execute(select(Allocation)).scalars()}
    assert states == {quoted_res: "hold", sold_res: "allocated"}
    manual = None
    with db.transaction() as s:
        manual = reserve_spectrum(
            s,
            SpectrumRequest("main", "unprotected", "WL10G"),
            hold_until=clock.now() + timedelta(days=1),
            actor="t",
            now=clock.now(),
        ).id
    with db.transaction() as s:
        allocate_manual_hold(s, manual, actor="t", now=clock.now())
        release_manual_reservation(s, manual, actor="t", now=clock.now())


def test_every_sales_state_change_leaves_an_audit_entry(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        c = create_customer(
            s,
            {"legal_name": "Gulf Bridge Ltd", "country": "AE", "owner_party": "AZT"},
            seller=AZT,
            now=clock.now(),
        )
        update_customer(s, c.id, {"payment_terms_days": 45}, seller=AZT, now=clock.now())
    kept = _quote(db, clock, LineRequest("WL100G"), customer="Gulf Bridge Ltd")
    dropped = _quote(db, clock, LineRequest("WL10G"), customer="Gulf Bridge Ltd")
    with db.transaction() as s:
        accept_quote(s, kept.id, seller=AZT, now=clock.now())
        cancel_quote(s, dropped.id, seller=AZT, now=clock.now())
        transition_service(
            s,
            "TCF-WL-000001",
            "activate",
            effective_date=clock.now().date(),
            seller=AZT,
            now=clock.now(),
        )
    with db.transaction() as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.actor, AuditEntry.before, AuditEntry.after)
            .where(AuditEntry.entity_type.in_(["customer", "quote", "service"]))
            .order_by(AuditEntry.id)
        ).all()
    assert [r.action for r in rows] == [
        "customer.create",
        "customer.update",
        "quote.create",
        "quote.create",
        "quote.accept",
        "quote.cancel",
        "service.activate",
    ]
    assert {r.actor for r in rows} == {AZT.label}
    update = rows[1]
    assert update.before["payment_terms_days"] == 30 and update.after["payment_terms_days"] == 45
    assert rows[4].after["services"] == ["TCF-WL-000001"]
