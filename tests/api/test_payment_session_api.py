"""POST /api/v1/invoices/{number}/payment-session (SPEC 6 and 9): a Stripe Checkout Session for
what is due, through the real stripe library and a fake HTTP client behind it (no network)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.queries import get_invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.money import Money
from billing.parties.customers import Seller
from tests import factories
from tests.helpers import api_error, bearer, make_api_key
from tests.stripe_fakes import SECRET_KEY, FakeStripeHttp

ADMIN = Seller("admin", None)


@pytest.fixture
def seed() -> str:
    return "reference"


@dataclass(frozen=True)
class World:
    key: dict[str, str]
    other_key: dict[str, str]
    number: str  # the first customer's issued invoice
    due: Money
    others: str  # the other customer's


def issued_invoices(db: Database, clock: FrozenClock) -> tuple[int, int, str, Money, str]:
    """Two customers of AZT, each with an October invoice issued on 2 October:
    (customer, other customer, number, amount due, other's number)."""
    clock.set(datetime(2026, 10, 1, 9, tzinfo=UTC))
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        mine = factories.active_service(
            s, now=clock.now(), mrc=Decimal("3000"), ready_for_service=date(2026, 10, 1)
        )
        theirs = factories.active_service(
            s, now=clock.now(), mrc=Decimal("1000"), ready_for_service=date(2026, 10, 1)
        )
        a, b = mine.customer_id, theirs.customer_id
    ids = run_billing(
        db.transaction,
        period=parse_period("2026-10"),
        issuer_code=None,
        actor=ADMIN,
        clock=clock.now,
    ).invoice_ids
    clock.set(datetime(2026, 10, 2, 9, tzinfo=UTC))
    numbers: dict[int, tuple[str, Money]] = {}
    with db.transaction() as s:
        for invoice_id in ids:
            invoice = issue_invoice(
                s, invoice_id, actor=ADMIN, now=clock.now(), render=render_invoices
            )
            assert invoice.number is not None
            numbers[invoice.customer_id] = (
                invoice.number,
                Money(invoice.amount_due, invoice.currency),
            )
            assert get_invoice(s, invoice_id).status == "issued"
    return a, b, numbers[a][0], numbers[a][1], numbers[b][0]


@pytest.fixture
def world(app: Flask, db: Database, clock: FrozenClock) -> World:
    a, b, number, due, others = issued_invoices(db, clock)
    return World(bearer(make_api_key(app, a)), bearer(make_api_key(app, b)), number, due, others)


@pytest.fixture
def fake(app: Flask) -> FakeStripeHttp:
    http = FakeStripeHttp()
    app.config["STRIPE_SECRET_KEY"] = SECRET_KEY
    app.extensions["billing.stripe_http"] = http
    return http


def _url(number: str) -> str:
    return f"/api/v1/invoices/{number}/payment-session"


def test_the_session_asks_stripe_for_the_amount_due_and_asking_twice_gives_the_same(
    client: FlaskClient, world: World, fake: FakeStripeHttp
) -> None:
    first = client.post(_url(world.number), headers=world.key)
    again = client.post(_url(world.number), headers=world.key)
    assert (first.status_code, again.status_code) == (200, 200), first.text
    body = first.get_json()
    assert body == again.get_json()
    assert body["url"].startswith("https://checkout.stripe.com/")
    assert body["id"] == "cs_test_1" and body["expires_at"].startswith("2027-01-15")
    sent = fake.requests[0]
    assert sent["url"] == "https://api.stripe.com/v1/checkout/sessions"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    form = sent["form"]
    assert form["line_items[0][price_data][unit_amount]"] == str(world.due.minor)
    assert world.due.minor == int(world.due.amount * 100) and world.due.minor > 0
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["metadata[invoice_number]"] == world.number
    assert form["payment_intent_data[metadata][invoice_number]"] == world.number
    assert form["payment_method_types[0]"] == "card"
    assert form["success_url"].endswith(f"/portal/invoices/{world.number}?paid=1")
    key = sent["headers"]["Idempotency-Key"]
    assert key == f"checkout-{world.number}-{world.due.minor}-USD"
    assert fake.requests[1]["headers"]["Idempotency-Key"] == key


def test_an_idempotency_key_replays_the_first_answer_without_asking_stripe_again(
    client: FlaskClient, world: World, fake: FakeStripeHttp
) -> None:
    headers = {**world.key, "Idempotency-Key": "pay-once"}
    first = client.post(_url(world.number), headers=headers)
    again = client.post(_url(world.number), headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    assert len(fake.requests) == 1


def test_without_a_stripe_key_card_payment_is_off_409(client: FlaskClient, world: World) -> None:
    error = api_error(client.post(_url(world.number), headers=world.key), 409)
    assert "card payment is not available" in error["message"]


def test_another_customers_invoice_is_not_found(
    client: FlaskClient, world: World, fake: FakeStripeHttp
) -> None:
    api_error(client.post(_url(world.others), headers=world.key), 404)
    api_error(client.post(_url("AZT-INV-2026-999999"), headers=world.key), 404)
    assert fake.requests == []
