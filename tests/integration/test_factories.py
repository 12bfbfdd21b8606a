"""tests/factories.py builds what it promises, on a bare platform and on top of the demo."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.clock import FrozenClock
from billing.db import Database
from billing.sales.lifecycle import get_service
from billing.sales.models import Quote, Service
from billing.sales.quotes import LineRequest
from tests import factories
from tests.helpers import login

pytestmark = pytest.mark.parametrize("seed", ["reference", "demo"])


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_an_active_service_with_a_given_mrc_and_ready_for_service_date(
    db: Database, clock: FrozenClock
) -> None:
    ready = date(2026, 11, 17)  # eight days before the clock's today
    with db.transaction() as s:
        first = factories.active_service(
            s, now=clock.now(), mrc=Decimal("12000.00"), ready_for_service=ready
        ).circuit_id
        second = factories.active_service(
            s, now=clock.now(), mrc=Decimal("6000.00"), ready_for_service=ready
        ).circuit_id
    with db.transaction() as s:
        service = get_service(s, first)
        assert (service.state, service.ready_for_service_date) == ("active", ready)
        assert service.mrc == Decimal("12000.00") == service.quote_line.mrc
        assert service.contract.signed_at.date() <= ready
        assert [(e.from_state, e.to_state) for e in service.events] == [
            (None, "pending"),
            ("pending", "active"),
        ]
        assert get_service(s, second).mrc == Decimal("6000.00")
        assert get_service(s, second).customer_id != service.customer_id


def test_a_price_set_for_one_service_leaves_the_other_list_prices_as_they_were(
    db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        before = factories.quote(s, now=clock.now(), lines=[LineRequest("WL10G")])
        factories.active_service(s, now=clock.now(), product="WL100G", mrc=Decimal("1.00"))
        after = factories.quote(s, now=clock.now(), lines=[LineRequest("WL10G")])
        assert after.lines[0].mrc == before.lines[0].mrc is not None


def test_factories_leave_the_commit_to_the_test(db: Database, clock: FrozenClock) -> None:
    services = _count(db, Service)
    with pytest.raises(RuntimeError), db.transaction() as s:
        factories.active_service(s, now=clock.now())
        raise RuntimeError("the test changes its mind")
    assert _count(db, Service) == services and _count(db, Quote) == 0


def test_a_staff_user_logs_in_and_sells_for_their_party(
    db: Database, clock: FrozenClock, client: FlaskClient
) -> None:
    with db.transaction() as s:
        user = factories.staff_user(s, now=clock.now(), party="KTC")
        seller = factories.seller_of(user)
        ktc_customer = factories.customer(s, now=clock.now(), owner="KTC", currency="KZT")
        azt_customer = factories.customer(s, now=clock.now(), owner="AZT")
    assert seller.may_sell_for(ktc_customer.owner_party_id)
    assert not seller.may_sell_for(azt_customer.owner_party_id)
    login(client, user.email)
    assert client.get(f"/customers/{ktc_customer.id}").status_code == 200
