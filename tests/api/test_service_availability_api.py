"""GET /api/v1/services/{circuit_id}/availability (SPEC 7, 9): a circuit's availability in a month
of its issuer's calendar and the credit it earns, as billed once billed; another customer's
circuit is not found, a bad month is refused in the one error shape."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from billing.clock import FrozenClock
from billing.db import Database
from billing.sla.outages import record_outage
from billing.sla.services import seed_sla_policies
from tests import factories
from tests.factories import bill_and_issue
from tests.helpers import api_error, bearer, make_api_key, new_customer_key


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture
def world(app: Flask, db: Database, clock: FrozenClock) -> tuple[str, int, dict[str, str]]:
    """A lease of 6,000 a month in service since 1 October, 224 minutes down in October."""
    now = clock.now()
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
        seed_sla_policies(s, effective_from=date(2026, 1, 1), now=now)
        service = factories.active_service(
            s, now=now, mrc=Decimal("6000"), nrc=Decimal("0"), ready_for_service=date(2026, 10, 1)
        )
        record_outage(
            s,
            {
                "segment": "S1",
                "start": datetime(2026, 10, 20, 6, 0, tzinfo=UTC).isoformat(),
                "end": datetime(2026, 10, 20, 9, 44, tzinfo=UTC).isoformat(),
                "cause": "Fiber cut",
                "ticket": "INC-1",
            },
            actor="noc@example.test",
            now=now,
        )
        circuit, customer = service.circuit_id, service.customer_id
    return circuit, customer, bearer(make_api_key(app, customer))


def _url(circuit: str, period: str | None = None) -> str:
    url = f"/api/v1/services/{circuit}/availability"
    return url if period is None else f"{url}?period={period}"


def test_a_month_below_target_answers_its_credit_and_once_billed_the_invoice(
    client: FlaskClient,
    db: Database,
    clock: FrozenClock,
    world: tuple[str, int, dict[str, str]],
) -> None:
    circuit, customer, key = world
    october = client.get(_url(circuit, "2026-10"), headers=key)
    assert october.status_code == 200, october.text
    expected = {
        "period": "2026-10",
        "minutes": 31 * 24 * 60,
        "down_minutes": 224,
        "availability": "99.4982",  # 99.49820788...: truncated, never rounded up
        "availability_shown": "99.49",
        "target": "99.5",
        "credit": {"amount": "-600.00", "currency": "USD"},  # 10 % of the MRC
        "credit_billed_on": None,
        "closed": True,
    }
    assert october.get_json() == expected

    invoice = bill_and_issue(db, clock, customer, "2026-10")
    billed = client.get(_url(circuit, "2026-10"), headers=key).get_json()
    assert billed == {**expected, "credit_billed_on": invoice.number}


def test_the_running_month_without_outages_is_100_so_far_with_no_credit(
    client: FlaskClient, world: tuple[str, int, dict[str, str]]
) -> None:
    circuit, _, key = world
    response = client.get(_url(circuit), headers=key)  # by default the month running in Baku
    assert response.status_code == 200, response.text
    assert response.get_json() == {
        "period": "2026-11",
        # From 1 November 00:00 in Baku (31 October 20:00 UTC) to now, 25 November 09:00 UTC.
        "minutes": 24 * 24 * 60 + 13 * 60,
        "down_minutes": 0,
        "availability": "100.0000",
        "availability_shown": "100.00",
        "target": "99.5",
        "credit": None,
        "credit_billed_on": None,
        "closed": False,
    }
    assert client.get(_url(circuit, "2026-11"), headers=key).get_json() == response.get_json()


def test_another_customers_circuit_is_not_found_and_no_key_is_401(
    app: Flask, client: FlaskClient, world: tuple[str, int, dict[str, str]]
) -> None:
    circuit, _, key = world
    other = bearer(new_customer_key(app))
    body = api_error(client.get(_url(circuit, "2026-10"), headers=other), 404)
    assert circuit in body["message"]
    api_error(client.get(_url("TCF-WL-999999", "2026-10"), headers=key), 404)
    api_error(client.get(_url("not a circuit"), headers=key), 404)
    response = client.get(_url(circuit, "2026-10"))
    api_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-13", "YYYY-MM"),
        ("26-10", "YYYY-MM"),
        ("2026-1", "YYYY-MM"),
        ("octobre", "YYYY-MM"),
        ("", "YYYY-MM"),
        ("2026-12", "2026-11 or an earlier month"),  # not begun in Baku
        ("2026-09", "2026-10 or a later month"),  # before the contract, signed on 1 October
        ("1999-12", "YYYY-MM"),
    ],
)
def test_a_bad_period_is_refused_in_the_one_error_shape(
    client: FlaskClient, world: tuple[str, int, dict[str, str]], period: str, message: str
) -> None:
    circuit, _, key = world
    body = api_error(client.get(_url(circuit, period), headers=key), 422)
    assert message in body["errors"]["period"][0]


def test_an_unknown_parameter_is_400(
    client: FlaskClient, world: tuple[str, int, dict[str, str]]
) -> None:
    circuit, _, key = world
    body = api_error(client.get(f"{_url(circuit)}?month=2026-10", headers=key), 400)
    assert "month" in body["errors"]


def test_a_month_before_service_began_answers_no_availability(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    """Signed in October, ready for service only next month: October counts no minute."""
    with db.transaction() as s:
        seed_sla_policies(s, effective_from=date(2026, 1, 1), now=clock.now())
        service = factories.active_service(
            s,
            now=clock.now(),
            ready_for_service=date(2026, 12, 1),
            signed_at=datetime(2026, 10, 5, tzinfo=UTC),
        )
        circuit, customer = service.circuit_id, service.customer_id
    key = bearer(make_api_key(app, customer))
    body = client.get(_url(circuit, "2026-10"), headers=key).get_json()
    assert body["minutes"] == body["down_minutes"] == 0
    assert body["availability"] is None and body["availability_shown"] is None
    assert body["credit"] is None and body["closed"] is True
