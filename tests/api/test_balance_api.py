"""GET /balance and the portal: a customer's credit balance, per currency and per issuer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient

from billing.access.services import create_portal_login, get_party
from billing.clock import FrozenClock
from billing.db import Database
from billing.money import Money
from billing.payments.services import record_bank_payment
from tests import factories
from tests.conftest import PASSWORD
from tests.helpers import FAST_HASH, api_error, bearer, customer_id, login, make_api_key

BALANCE = "/api/v1/balance"
SILK = "Silk Route Carrier GmbH"


def _pay(db: Database, clock: FrozenClock, customer: int, issuer: str, amount: Money) -> None:
    """A bank transfer with no open invoice to take it: all of it is credit."""
    with db.transaction() as s:
        record_bank_payment(
            s,
            customer_id=customer,
            issuer_id=get_party(s, issuer).id,
            amount=amount,
            value_date=date(2026, 11, 24),
            reference=f"transfer {issuer} {amount}",
            applications=None,
            actor=factories.party_seller(s, issuer),
            now=clock.now(),
        )


def test_a_customer_without_credit_has_an_empty_balance(app: Flask, client: FlaskClient) -> None:
    key = bearer(make_api_key(app, customer_id(app.extensions["billing.db"], SILK)))
    response = client.get(BALANCE, headers=key)
    assert response.status_code == 200
    assert response.get_json() == {"credit": [], "by_issuer": []}


def test_the_balance_is_per_currency_and_per_issuer_and_the_callers_own(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    silk = customer_id(db, SILK)
    _pay(db, clock, silk, "AZT", Money(Decimal("500.00"), "USD"))
    _pay(db, clock, silk, "KTC", Money(Decimal("250.50"), "USD"))
    _pay(db, clock, silk, "AZT", Money(Decimal("80.00"), "EUR"))
    other = customer_id(db, "Anatolia Backbone A.S.")
    _pay(db, clock, other, "AZT", Money(Decimal("999.00"), "USD"))
    body = client.get(BALANCE, headers=bearer(make_api_key(app, silk))).get_json()
    assert body["credit"] == [
        {"amount": "80.00", "currency": "EUR"},
        {"amount": "750.50", "currency": "USD"},
    ]
    assert body["by_issuer"] == [
        {"issuer": "AZT", "credit": {"amount": "80.00", "currency": "EUR"}},
        {"issuer": "AZT", "credit": {"amount": "500.00", "currency": "USD"}},
        {"issuer": "KTC", "credit": {"amount": "250.50", "currency": "USD"}},
    ]
    theirs = client.get(BALANCE, headers=bearer(make_api_key(app, other))).get_json()
    assert theirs["credit"] == [{"amount": "999.00", "currency": "USD"}]


def test_the_balance_needs_a_key_and_takes_no_parameters(app: Flask, client: FlaskClient) -> None:
    api_error(client.get(BALANCE), 401)
    key = bearer(make_api_key(app, customer_id(app.extensions["billing.db"], SILK)))
    assert api_error(client.get(f"{BALANCE}?currency=USD", headers=key), 400)["type"] == (
        "unknown_parameter"
    )
    assert client.post(BALANCE, headers=key).status_code == 405


def test_the_portal_shows_the_credit_balance(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    silk = customer_id(db, SILK)
    with db.transaction() as s:
        create_portal_login(
            s,
            customer_id=silk,
            email="ops@silk-portal.example",
            name="Silk Ops",
            password=PASSWORD,
            actor="tests",
            now=clock.now(),
            hash_method=FAST_HASH,
        )
    login(client, "ops@silk-portal.example")
    assert "No credit balance." in client.get("/portal/").text
    _pay(db, clock, silk, "KTC", Money(Decimal("1250.50"), "USD"))
    home = client.get("/portal/").text
    section = home[home.index('id="credit-balance"') :]
    section = section[: section.index("</section>")]
    assert "KTC" in section and "1,250.50" in section and "$1,250.50" in section
