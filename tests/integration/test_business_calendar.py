"""Business dates are the selling party's local dates (SPEC 3), through the service layer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError
from billing.parties.customers import Seller
from billing.sales.lifecycle import get_service, transition_service
from billing.sales.pricebook import create_version, version_on
from billing.sales.quotes import LineRequest, accept_quote, create_quote
from tests.helpers import customer_id

AZT = Seller("sales@azertelecom.az (sales, AZT)", 1)
KTC = Seller("sales@kazakhtelecom.kz (sales, KTC)", 2)
EVENING = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)  # 01:30 on 1 December in Baku


def _ordered_service(db: Database, clock: FrozenClock, customer: str, seller: Seller) -> str:
    """A contract signed now for one 100G wavelength; returns its circuit id."""
    with db.transaction() as s:
        quote = create_quote(
            s,
            customer_id=customer_id(db, customer),
            lines=[LineRequest("WL100G")],
            seller=seller,
            now=clock.now(),
        )
        contract = accept_quote(s, quote.id, seller=seller, now=clock.now())
        return contract.services[0].circuit_id


@pytest.mark.parametrize(
    ("customer", "seller"),
    [("Silk Route Carrier GmbH", AZT), ("Caspian Transit LLP", KTC)],
    ids=["Baku", "Almaty"],
)
def test_a_service_made_ready_that_evening_starts_on_1_december(
    db: Database, clock: FrozenClock, customer: str, seller: Seller
) -> None:
    clock.set(EVENING)
    circuit = _ordered_service(db, clock, customer, seller)
    with db.transaction() as s:
        # Signed at 21:30 UTC on 30 November: already 1 December where the seller is, so 30
        # November is not today (the contract's day, or a plain back-dating), and 1 December is.
        with pytest.raises(InvalidRequestError) as caught:
            transition_service(
                s,
                circuit,
                "activate",
                effective_date=date(2026, 11, 30),
                seller=seller,
                now=clock.now(),
            )
        assert "2026-12-01" in str(caught.value.errors)  # the seller's today, named
    with db.transaction() as s:
        transition_service(
            s, circuit, "activate", effective_date=date(2026, 12, 1), seller=seller, now=clock.now()
        )
    with db.transaction() as s:
        service = get_service(s, circuit)
        assert service.state == "active"
        assert service.ready_for_service_date == date(2026, 12, 1)


def test_a_quote_that_evening_takes_the_prices_in_force_on_the_sellers_date(
    db: Database, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    with db.transaction() as s:
        current = version_on(s, date(2026, 11, 30))
        december = create_version(
            s,
            name="December 2026",
            effective_from=date(2026, 12, 1),
            max_discount_percent=Decimal("15"),
            entries=[],
            actor="admin",
            now=clock.now(),
            copy_from=current.id,
            change_percent=Decimal("10"),
        )
        december_id = december.id
    clock.set(EVENING)
    with db.transaction() as s:
        quote = create_quote(
            s,
            customer_id=customer_id(db, "Silk Route Carrier GmbH"),
            lines=[LineRequest("WL100G", term_months=12)],
            seller=AZT,
            now=clock.now(),
        )
        # Still 30 November in UTC, but 1 December in Baku: December's list prices, 10% up.
        assert quote.price_book_version_id == december_id
        assert quote.lines[0].list_mrc == Decimal("6600.00")  # 6,000 + 10%


def test_a_version_cannot_start_on_a_day_a_seller_has_already_left(
    db: Database, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    with db.transaction() as s, pytest.raises(InvalidRequestError):
        create_version(
            s,
            name="Too late",
            effective_from=date(2026, 11, 30),  # today in UTC, yesterday in Baku and Almaty
            max_discount_percent=Decimal("15"),
            entries=[],
            actor="admin",
            now=clock.now(),
        )
