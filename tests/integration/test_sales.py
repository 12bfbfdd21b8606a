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
from billing.inventory.models import Allocation, ReservationKind
from billing.inventory.services import SpectrumConflictError, SpectrumRequest, reserve_spectrum
from billing.parties.customers import Seller, create_customer, update_customer
from billing.parties.models import Customer
from billing.sales.lifecycle import get_service, transition_service
from billing.sales.models import Contract, PriceBookEntry, Quote, Service
from billing.sales.pricebook import create_version
from billing.sales.quotes import LineRequest, accept_quote, cancel_quote, create_quote
from tests import factories
from tests.factories import Price
from tests.helpers import fill_main_route_but_one_100g

# The list prices these tests quote from (USD, per circuit; per 12.5 GHz slot for spectrum).
PRICES = [
    Price("WL10G", mrc=Decimal("1800.00"), nrc=Decimal("2500.00")),
    Price("WL100G", terms=(12, 35), mrc=Decimal("6000.00"), nrc=Decimal("5000.00")),
    Price("WL100G", "lease", "protected", (12, 35), Decimal("10800.00"), Decimal("9000.00")),
    Price("WL100G", "lease", "protected", (36, 60), Decimal("8640.00"), Decimal("9000.00")),
    Price("WL400G", mrc=Decimal("14000.00"), nrc=Decimal("9000.00")),
    Price("SPECTRUM", mrc=Decimal("1500.00"), nrc=Decimal("1000.00")),
    Price("FIBER_PAIR", "iru", iru_fee=Decimal("30000000.00"), om_rate_percent=Decimal("4")),
]


@pytest.fixture
def seed() -> str:
    return "reference"  # no demo customers, prices or users: each test makes its own


@pytest.fixture(autouse=True)
def price_book(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        factories.price_book_version(
            s, now=clock.now(), prices=PRICES, effective_from=date(2026, 1, 1)
        )


def _seller(db: Database, clock: FrozenClock, party: str) -> Seller:
    with db.transaction() as s:
        return factories.seller_of(factories.staff_user(s, now=clock.now(), party=party))


@pytest.fixture
def azt(db: Database, clock: FrozenClock) -> Seller:
    return _seller(db, clock, "AZT")


@pytest.fixture
def ktc(db: Database, clock: FrozenClock) -> Seller:
    return _seller(db, clock, "KTC")


@pytest.fixture
def silk(db: Database, clock: FrozenClock) -> Customer:
    """An AZT customer."""
    with db.transaction() as s:
        return factories.customer(s, now=clock.now(), owner="AZT", legal_name="Silk Route GmbH")


@pytest.fixture
def caspian(db: Database, clock: FrozenClock) -> Customer:
    """A KTC customer."""
    with db.transaction() as s:
        return factories.customer(s, now=clock.now(), owner="KTC", currency="KZT", country="KZ")


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _quote(
    db: Database, clock: FrozenClock, *lines: LineRequest, customer: Customer, seller: Seller
) -> Quote:
    with db.transaction() as s:
        return create_quote(
            s, customer_id=customer.id, lines=list(lines), seller=seller, now=clock.now()
        )


def test_a_quote_copies_list_prices_applies_the_discount_and_holds_spectrum(
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller
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
        customer=silk,
        seller=azt,
    )
    line = q.lines[0]
    assert line.list_mrc == Decimal("8640.00")  # protected, 36-month band
    assert line.mrc == Decimal("7776.00")  # less 10%
    assert line.list_nrc == Decimal("9000.00") and line.nrc == Decimal("8100.00")
    assert q.number == "Q-2026-000001"
    assert q.valid_until == clock.now() + timedelta(days=14)
    with db.transaction() as s:
        live = s.execute(select(Allocation).where(Allocation.state == "hold")).scalars().all()
        assert len(live) == 4  # 2 units × (S1 + S2)
        assert {a.hold_expires_at for a in live} == {q.valid_until}


def test_spectrum_products_are_priced_per_slot(
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller
) -> None:
    q = _quote(
        db,
        clock,
        LineRequest("SPECTRUM", width_ghz=Decimal("37.5"), term_months=12),
        customer=silk,
        seller=azt,
    )
    assert q.lines[0].width_slots == 3
    assert q.lines[0].mrc == Decimal("4500.00")


def test_accepting_makes_a_contract_and_one_pending_service_per_unit(
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller
) -> None:
    q = _quote(
        db,
        clock,
        LineRequest("WL100G", quantity=2),
        LineRequest("SPECTRUM", width_ghz=Decimal("50")),
        LineRequest("FIBER_PAIR", model="iru", term_months=180),
        customer=silk,
        seller=azt,
    )
    with db.transaction() as s:
        contract = accept_quote(s, q.id, seller=azt, now=clock.now())
        circuits = [sv.circuit_id for sv in contract.services]
    # Circuit ids count per prefix, from 1 on a platform that has sold nothing yet.
    assert circuits == ["TCF-WL-000001", "TCF-WL-000002", "TCF-SP-000001", "TCF-FP-000001"]
    with db.transaction() as s:
        assert {a.state for a in s.execute(select(Allocation)).scalars()} == {"allocated"}
        service = get_service(s, circuits[3])
        assert service.iru_fee == Decimal("30000000.00") and service.om_rate_percent == Decimal("4")
        assert [e.to_state for e in service.events] == ["pending"]
    with db.transaction() as s, pytest.raises(ConflictError, match="already accepted"):
        accept_quote(s, q.id, seller=azt, now=clock.now())
    assert _count(db, Contract) == 1


def test_an_expired_quote_cannot_be_accepted_and_its_spectrum_is_free(
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller
) -> None:
    q = _quote(db, clock, LineRequest("WL100G"), customer=silk, seller=azt)
    clock.advance(timedelta(days=14, seconds=1))
    with db.transaction() as s, pytest.raises(ConflictError, match="expired"):
        accept_quote(s, q.id, seller=azt, now=clock.now())
    with db.transaction() as s:
        taken = reserve_spectrum(
            s,
            SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=1, first_slot=0),
            hold_until=None,
            kind=ReservationKind.OWN_USE,
            reason="restoration test",
            actor="t",
            now=clock.now(),
        )
        assert taken.allocations[0].first_slot == 0
    assert _count(db, Contract) == 0 and _count(db, Service) == 0


def test_a_price_book_change_after_quoting_changes_neither_quote_nor_contract(
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller
) -> None:
    q = _quote(db, clock, LineRequest("WL100G", term_months=12), customer=silk, seller=azt)
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
        contract = accept_quote(s, q.id, seller=azt, now=clock.now())
        assert contract.services[0].mrc == Decimal("6000.00")
        assert s.get(Quote, q.id).lines[0].mrc == Decimal("6000.00")  # type: ignore[union-attr]
    later = _quote(db, clock, LineRequest("WL100G", term_months=12), customer=silk, seller=azt)
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
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller, line: LineRequest, field: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        _quote(db, clock, line, customer=silk, seller=azt)
    assert field in caught.value.errors["lines"]["0"]  # the error names its line
    assert _count(db, Quote) == 0 and _count(db, Allocation) == 0


def test_unknown_product_is_not_found(
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller
) -> None:
    with pytest.raises(NotFoundError):
        _quote(db, clock, LineRequest("WL1T"), customer=silk, seller=azt)
    assert _count(db, Quote) == 0


def test_a_quote_that_cannot_hold_every_unit_holds_nothing(
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller
) -> None:
    fill_main_route_but_one_100g(db, clock)
    before = _count(db, Allocation)
    with pytest.raises(SpectrumConflictError):
        _quote(db, clock, LineRequest("WL100G", quantity=2), customer=silk, seller=azt)
    assert _count(db, Allocation) == before and _count(db, Quote) == 0
    _quote(db, clock, LineRequest("WL100G", quantity=1), customer=silk, seller=azt)


def test_parties_sell_only_to_their_own_customers(
    db: Database, clock: FrozenClock, silk: Customer, caspian: Customer, ktc: Seller
) -> None:
    with pytest.raises(PermissionDeniedError):
        _quote(db, clock, LineRequest("WL100G"), customer=silk, seller=ktc)
    with db.transaction() as s, pytest.raises(PermissionDeniedError):
        update_customer(s, silk.id, {"tax_id": "X"}, seller=ktc, now=clock.now())
    with db.transaction() as s:
        c = update_customer(s, caspian.id, {"payment_terms_days": 45}, seller=ktc, now=clock.now())
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
    db: Database, clock: FrozenClock, azt: Seller, values: dict, field: str
) -> None:
    base = {"legal_name": "Gulf Bridge Ltd", "country": "AE", "owner_party": "AZT"}
    with db.transaction() as s, pytest.raises(InvalidRequestError) as caught:
        create_customer(s, {**base, **values}, seller=azt, now=clock.now())
    assert field in caught.value.errors


def test_service_lifecycle_records_every_step_and_frees_spectrum_at_the_end(
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller
) -> None:
    q = _quote(db, clock, LineRequest("WL100G", protection="protected"), customer=silk, seller=azt)
    with db.transaction() as s:
        circuit = accept_quote(s, q.id, seller=azt, now=clock.now()).services[0].circuit_id
    today = clock.now().date()
    steps = [("activate", today), ("suspend", None), ("resume", None), ("terminate", today)]
    for action, day in steps:
        with db.transaction() as s:
            transition_service(s, circuit, action, effective_date=day, seller=azt, now=clock.now())
    with db.transaction() as s:
        sv = get_service(s, circuit)
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
            "service.early_termination_charge",  # a 12-month lease ended on its first day
        ]
    with db.transaction() as s, pytest.raises(ConflictError):
        transition_service(
            s, circuit, "activate", effective_date=today, seller=azt, now=clock.now()
        )


def test_lifecycle_dates_and_parties_are_checked(
    db: Database, clock: FrozenClock, azt: Seller, ktc: Seller
) -> None:
    with db.transaction() as s:
        circuit = factories.contract(s, now=clock.now()).services[0].circuit_id
    today = clock.now().date()
    # No date; before the contract was signed; more than 90 days back; over a year ahead.
    for day in (None, today - timedelta(days=1), date(2020, 1, 1), today + timedelta(days=400)):
        with db.transaction() as s, pytest.raises(InvalidRequestError):
            transition_service(
                s, circuit, "activate", effective_date=day, seller=azt, now=clock.now(), note="n"
            )
    with db.transaction() as s, pytest.raises(PermissionDeniedError):
        transition_service(
            s, circuit, "activate", effective_date=today, seller=ktc, now=clock.now()
        )
    with db.transaction() as s:
        assert get_service(s, circuit).state == "pending"
        transition_service(
            s, circuit, "activate", effective_date=today, seller=azt, now=clock.now()
        )


def test_cancelling_a_quote_frees_its_spectrum(
    db: Database, clock: FrozenClock, silk: Customer, azt: Seller
) -> None:
    q = _quote(db, clock, LineRequest("WL400G"), customer=silk, seller=azt)
    with db.transaction() as s:
        cancel_quote(s, q.id, seller=azt, now=clock.now())
    with db.transaction() as s:
        assert {a.state for a in s.execute(select(Allocation)).scalars()} == {"released"}
        with pytest.raises(ConflictError):
            accept_quote(s, q.id, seller=azt, now=clock.now())


def test_sold_or_quoted_spectrum_cannot_be_released_or_extended_by_hand(
    db: Database, clock: FrozenClock, azt: Seller
) -> None:
    from billing.sales.spectrum import extend_manual_hold, release_manual_reservation

    with db.transaction() as s:
        quoted = factories.quote(s, now=clock.now())
        sold = factories.contract(s, now=clock.now()).services[0]
        quoted_res = quoted.lines[0].holds[0].reservation_id
        sold_res, circuit = sold.reservation_id, sold.circuit_id
    for rid, owner in ((sold_res, circuit), (quoted_res, quoted.number)):
        with db.transaction() as s, pytest.raises(ConflictError, match=owner):
            release_manual_reservation(s, rid, seller=azt, now=clock.now())
        with db.transaction() as s, pytest.raises(ConflictError, match=owner):
            extend_manual_hold(s, rid, days=30, seller=azt, now=clock.now())
    with db.transaction() as s:
        states = {a.reservation_id: a.state for a in s.execute(select(Allocation)).scalars()}
    assert states == {quoted_res: "hold", sold_res: "allocated"}


def test_every_sales_state_change_leaves_an_audit_entry(
    db: Database, clock: FrozenClock, azt: Seller
) -> None:
    with db.transaction() as s:
        c = create_customer(
            s,
            {"legal_name": "Gulf Bridge Ltd", "country": "AE", "owner_party": "AZT"},
            seller=azt,
            now=clock.now(),
        )
        update_customer(s, c.id, {"payment_terms_days": 45}, seller=azt, now=clock.now())
    kept = _quote(db, clock, LineRequest("WL100G"), customer=c, seller=azt)
    dropped = _quote(db, clock, LineRequest("WL10G"), customer=c, seller=azt)
    with db.transaction() as s:
        circuit = accept_quote(s, kept.id, seller=azt, now=clock.now()).services[0].circuit_id
        cancel_quote(s, dropped.id, seller=azt, now=clock.now())
        transition_service(
            s, circuit, "activate", effective_date=clock.now().date(), seller=azt, now=clock.now()
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
    assert {r.actor for r in rows} == {azt.label}
    update = rows[1]
    assert update.before["payment_terms_days"] == 30 and update.after["payment_terms_days"] == 45
    assert rows[4].after["services"] == [circuit]
