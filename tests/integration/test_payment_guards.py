"""Payments closed against misuse (SPEC 6, issue 14), on both databases: the ledger invariant
per customer and currency, allocations that name anything but an open invoice of the customer,
and Stripe events that are early, late, oversized or malformed."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError
from billing.invoicing.models import Invoice
from billing.money import Money
from billing.parties.models import Party
from billing.payments.models import Payment, Refund
from billing.payments.queries import LedgerCheck, ledger_balance
from billing.payments.services import apply_credit_balance, record_bank_payment, record_refund
from tests.integration.test_payments import ADMIN as ADMIN
from tests.integration.test_payments import WEBHOOK, World, _counts, _invoice, _minor, _pay
from tests.integration.test_payments import hooks as hooks  # noqa: F401 - a fixture
from tests.integration.test_payments import seed as seed  # noqa: F401 - the module's own world
from tests.integration.test_payments import world as world  # noqa: F401 - a fixture
from tests.stripe_fakes import charge_refunded, checkout_completed, event, signed


def _ledger(db: Database, world: World, customer: int | None = None) -> LedgerCheck:
    with db.transaction() as s:
        return ledger_balance(s, customer or world.customer, world.issuer, "USD")


def _audits(db: Database) -> int:
    with db.transaction() as s:
        return s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


# --- The ledger: received = applied + credit + refunded ---


def test_the_ledger_balances_through_payment_overpayment_credit_and_refund(
    app: Flask, db: Database, clock: FrozenClock, world: World
) -> None:
    assert _ledger(db, world) == LedgerCheck(*(usd("0"),) * 7)
    total = _invoice(db, world.october).total
    done = _pay(db, clock, world, str(total + Decimal("700.00")))
    ledger = _ledger(db, world)
    assert (ledger.received, ledger.applied, ledger.credit, ledger.refunded) == (
        usd(str(total + 700)),
        usd(str(total)),
        usd("700"),
        usd("0"),
    )
    assert ledger.balanced, ledger.problems
    with db.transaction() as s:
        record_refund(
            s,
            payment_id=done.payment.id,
            amount=usd("900.00"),
            reason="customer asked",
            actor=ADMIN,
            now=clock.now(),
        )
    ledger = _ledger(db, world)
    assert (ledger.applied, ledger.credit, ledger.refunded) == (
        usd(str(total - 200)),
        usd("0"),
        usd("900"),
    )
    assert ledger.balanced, ledger.problems
    _pay(db, clock, world, "500.00")
    with db.transaction() as s:
        apply_credit_balance(
            s,
            customer_id=world.customer,
            issuer_id=world.issuer,
            currency="USD",
            actor=ADMIN,
            now=clock.now(),
        )
    ledger = _ledger(db, world)
    assert (ledger.received, ledger.credit) == (usd(str(total + 1200)), usd("300"))
    assert ledger.balanced, ledger.problems
    # Another customer's ledger is its own.
    assert _ledger(db, world, world.other_customer).received == usd("0")


def test_the_ledger_names_money_that_went_nowhere(
    db: Database, clock: FrozenClock, world: World
) -> None:
    """The check can fail: a payment row whose applied total was bumped without an application
    (money vanished), and an invoice paid beyond what it owes, are both reported."""
    done = _pay(db, clock, world, "100.00", applications={})  # all credit balance
    with db.transaction() as s:
        payment = s.get(Payment, done.payment.id)
        assert payment is not None
        payment.applied_total = Decimal("100.00")
    ledger = _ledger(db, world)
    assert not ledger.balanced
    assert "received 100.00 but applied 0" in ledger.problems[0]
    with db.transaction() as s:
        invoice = s.get(Invoice, world.october)
        assert invoice is not None
        invoice.credited_total = invoice.total
        invoice.paid_total = Decimal("100.00")
        invoice.status = "credited"
    problems = _ledger(db, world).problems
    assert any("100.00 paid beyond what invoices owe" in p for p in problems), problems


# --- Allocations: anything but an open invoice of the customer refuses the payment whole ---


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("others", "another customer's invoice"),
        ("unknown", "no invoice 999999"),
        ("draft", "not an open invoice (it is draft)"),
        ("paid", "not an open invoice (it is paid)"),
        ("other issuer", "was issued by another party"),
        ("other currency", "is in USD; the payment is in EUR"),
    ],
)
def test_an_allocation_to_anything_but_an_open_invoice_writes_nothing_at_all(
    db: Database, clock: FrozenClock, world: World, target: str, message: str
) -> None:
    invoice_id = {"others": world.others, "unknown": 999999, "draft": world.november_draft}.get(
        target, world.october
    )
    if target == "paid":
        _pay(db, clock, world, str(_invoice(db, world.october).total))
    before = _counts(db), _audits(db)
    issuer = world.issuer
    if target == "other issuer":
        with db.transaction() as s:
            issuer = s.execute(select(Party.id).where(Party.code == "KTC")).scalar_one()
    with pytest.raises(InvalidRequestError, match=re.escape(message)) as refused:
        with db.transaction() as s:
            record_bank_payment(
                s,
                customer_id=world.customer,
                issuer_id=issuer,
                amount=Money(Decimal("10.00"), "EUR" if target == "other currency" else "USD"),
                value_date=date(2026, 11, 2),
                reference="REF",
                # An allocation to a good open invoice beside it is refused with it.
                applications={invoice_id: Decimal("5.00"), world.october: Decimal("1.00")}
                if target in ("others", "unknown", "draft")
                else {invoice_id: Decimal("5.00")},
                actor=ADMIN,
                now=clock.now(),
            )
    assert f"invoice_{invoice_id}" in refused.value.errors  # the reason is the allocation's
    assert (_counts(db), _audits(db)) == before


# --- Stripe: refunds beyond their payment, future timestamps, malformed events, value dates ---


def _hook(hooks: FlaskClient, body: bytes, **signing: Any) -> Any:
    return hooks.post(WEBHOOK, data=body, headers=signed(body, **signing))


def _stripe_payment(db: Database) -> Payment:
    with db.transaction() as s:
        return s.execute(select(Payment)).scalar_one()


def test_a_refund_beyond_its_payment_arriving_first_never_blocks_the_payment(
    db: Database, hooks: FlaskClient, world: World
) -> None:
    minor = _minor(db, world.october)
    refund = charge_refunded("evt_r", "pi_big", minor + 5000)
    paid = checkout_completed("evt_p", world.october_number, minor, intent="pi_big")
    assert "pending" in _hook(hooks, refund).get_json()["message"]
    first, retry = _hook(hooks, paid), _hook(hooks, paid)
    assert (first.status_code, retry.status_code) == (200, 200), first.text
    assert "flagged" in first.get_json()["message"]
    payment = _stripe_payment(db)
    assert payment.state == "flagged" and "more than was paid" in (payment.flag_reason or "")
    assert payment.amount == Decimal(minor) / 100 and payment.applied_total == 0
    with db.transaction() as s:
        (kept,) = s.execute(select(Refund)).scalars().all()
        assert (kept.state, kept.payment_id, kept.amount) == (
            "flagged",
            payment.id,
            Decimal(minor + 5000) / 100,
        )
    assert _invoice(db, world.october).status == "issued"  # nothing applied until reviewed
    ledger = _ledger(db, world)
    assert ledger.held == Money(payment.amount, "USD") and ledger.balanced, ledger.problems
    # Finance sees it in the flagged review list.
    assert _counts(db) == (1, 0, 1, 2)


def test_a_refund_beyond_its_payment_arriving_after_it_is_kept_and_flagged(
    db: Database, hooks: FlaskClient, world: World
) -> None:
    minor = _minor(db, world.october)
    paid = checkout_completed("evt_p", world.october_number, minor, intent="pi_after")
    assert _hook(hooks, paid).status_code == 200
    refund = charge_refunded("evt_r", "pi_after", minor + 100)
    response = _hook(hooks, refund)
    assert response.status_code == 200, response.text
    assert "flagged" in response.get_json()["message"]
    assert _hook(hooks, refund).status_code == 200  # Stripe's retry: a duplicate
    payment = _stripe_payment(db)
    assert (payment.state, payment.refunded_total) == ("flagged", Decimal(0))
    with db.transaction() as s:
        (kept,) = s.execute(select(Refund)).scalars().all()
        assert (kept.state, kept.payment_id) == ("flagged", payment.id)
    assert _invoice(db, world.october).status == "paid"
    assert _ledger(db, world).balanced


def test_refunds_before_their_payment_that_fit_it_are_applied_when_it_arrives(
    db: Database, hooks: FlaskClient, world: World
) -> None:
    minor = _minor(db, world.october)
    for body in (
        charge_refunded("evt_r1", "pi_fit", 3000),
        charge_refunded("evt_r2", "pi_fit", 5000),  # cumulative: 20.00 more
        checkout_completed("evt_p", world.october_number, minor, intent="pi_fit"),
    ):
        assert _hook(hooks, body).status_code == 200
    payment = _stripe_payment(db)
    assert (payment.state, payment.refunded_total) == ("recorded", Decimal("50.00"))
    assert _invoice(db, world.october).amount_due == Decimal("50.00")
    ledger = _ledger(db, world)
    assert ledger.refunded == usd("50") and ledger.balanced, ledger.problems


@pytest.mark.parametrize(("ahead", "status"), [(301, 400), (3600, 400), (200, 200)])
def test_a_signature_from_the_future_beyond_the_tolerance_is_refused(
    db: Database, hooks: FlaskClient, world: World, ahead: int, status: int
) -> None:
    body = checkout_completed("evt_future", world.october_number, _minor(db, world.october))
    response = _hook(hooks, body, at=int(time.time()) + ahead)
    assert response.status_code == status, response.text
    assert _counts(db) == ((0, 0, 0, 0) if status == 400 else (1, 1, 0, 1))


def _paid_object(number: str, minor: Any, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "cs_m",
        "object": "checkout.session",
        "payment_intent": "pi_m",
        "payment_status": "paid",
        "amount_total": minor,
        "currency": "usd",
        "metadata": {"invoice_number": number},
    }
    obj.update(changes)
    return {k: v for k, v in obj.items() if v is not _DROP}


_DROP = object()


def _malformed(kind: str, number: str, others: str, minor: int) -> bytes:
    def paid(**changes: Any) -> bytes:
        return event("evt_m", "checkout.session.completed", _paid_object(number, minor, **changes))

    def whole(value: Any) -> bytes:
        return json.dumps(value).encode()

    base = {"id": "evt_m", "object": "event", "type": "checkout.session.completed"}
    obj = _paid_object(number, minor)
    return {
        "no data.object": whole({**base, "data": {}}),
        "no data": whole(base),
        "object not a dict": whole({**base, "data": {"object": [obj]}}),
        "amount as string": paid(amount_total=str(minor)),
        "amount as float": paid(amount_total=minor + 0.5),
        "amount negative": paid(amount_total=-minor),
        "amount zero": paid(amount_total=0),
        "amount huge": paid(amount_total=10**30),
        "amount NaN": paid(amount_total=float("nan")),
        "amount true": paid(amount_total=True),
        "currency unknown": paid(currency="xyz"),
        "currency not text": paid(currency=840),
        "currency of 3 decimals": paid(currency="kwd"),
        "no metadata": paid(metadata=_DROP),
        "metadata without invoice": paid(metadata={"order": "1"}),
        "invoice number not text": paid(metadata={"invoice_number": 12345}),
        "invoice number out of range": paid(metadata={"invoice_number": "9" * 5000}),
        "unknown invoice": paid(metadata={"invoice_number": "AZT-INV-2099-999999"}),
        "two invoices named": paid(client_reference_id=others),
        "no payment intent": paid(payment_intent=_DROP),
        "payment intent not text": paid(payment_intent={"id": "pi_m"}),
        "no payment status": paid(payment_status=_DROP),
        "event id missing": whole({**base, "id": None, "data": {"object": obj}}),
        "event id not text": whole({**base, "id": 7, "data": {"object": obj}}),
        "type missing": whole({"id": "evt_m", "data": {"object": obj}}),
        "created as string": whole({**base, "created": "1764900000", "data": {"object": obj}}),
        "JSON not an object": whole([base]),
        "JSON a string": whole("evt_m"),
        "deep nesting": b"[" * 50_000 + b"]" * 50_000,
        "not UTF-8": b'{"id": "evt_\xff\xfe", "type": "charge.refunded"}',
        "not JSON": b"{id: evt_m}",
        "refund amount as string": event(
            "evt_m",
            "charge.refunded",
            {"payment_intent": "pi_m", "amount_refunded": "100", "currency": "usd"},
        ),
        "refund without intent": event(
            "evt_m", "charge.refunded", {"amount_refunded": 100, "currency": "usd"}
        ),
    }[kind]


MALFORMED = [
    "no data.object",
    "no data",
    "object not a dict",
    "amount as string",
    "amount as float",
    "amount negative",
    "amount zero",
    "amount huge",
    "amount NaN",
    "amount true",
    "currency unknown",
    "currency not text",
    "currency of 3 decimals",
    "no metadata",
    "metadata without invoice",
    "invoice number not text",
    "invoice number out of range",
    "unknown invoice",
    "two invoices named",
    "no payment intent",
    "payment intent not text",
    "no payment status",
    "event id missing",
    "event id not text",
    "type missing",
    "created as string",
    "JSON not an object",
    "JSON a string",
    "deep nesting",
    "not UTF-8",
    "not JSON",
    "refund amount as string",
    "refund without intent",
]


@pytest.mark.parametrize("kind", MALFORMED)
def test_a_signed_but_malformed_event_is_a_400_with_nothing_written(
    db: Database, hooks: FlaskClient, world: World, kind: str
) -> None:
    others = _invoice(db, world.others).number or ""
    body = _malformed(kind, world.october_number, others, _minor(db, world.october))
    before = _counts(db), _audits(db)
    response = _hook(hooks, body)
    assert response.status_code == 400, response.text
    assert (_counts(db), _audits(db)) == before
    assert _invoice(db, world.october).paid_total == 0


def test_an_event_naming_another_customers_invoice_for_a_recorded_payment_is_refused(
    db: Database, hooks: FlaskClient, world: World
) -> None:
    minor = _minor(db, world.october)
    assert _hook(hooks, checkout_completed("evt_1", world.october_number, minor)).status_code == 200
    others = _invoice(db, world.others).number or ""
    before = _counts(db), _audits(db)
    response = _hook(hooks, checkout_completed("evt_2", others, minor))  # the same intent pi_1
    assert response.status_code == 400, response.text
    assert (_counts(db), _audits(db)) == before
    assert _invoice(db, world.others).paid_total == 0


def test_a_stripe_payment_is_dated_the_issuers_business_day(
    db: Database, clock: FrozenClock, hooks: FlaskClient, world: World
) -> None:
    """21:30 UTC on 30 November is already 1 December in Baku (UTC+4), AZT's business day."""
    clock.set(datetime(2026, 11, 30, 21, 30, tzinfo=UTC))
    body = checkout_completed("evt_late", world.october_number, _minor(db, world.october))
    assert _hook(hooks, body).status_code == 200
    assert _stripe_payment(db).value_date == date(2026, 12, 1)


def test_one_form_key_posted_for_two_customers_at_once_records_one_payment(
    db: Database, clock: FrozenClock, world: World
) -> None:
    """The second insert waits on the UNIQUE key (PostgreSQL) or the write lock (SQLite) while
    the first is uncommitted, then finds the first's payment and refuses: no second payment, no
    500. (Different customers, so the customer lock does not serialise them first.)"""
    key = "k" * 32
    inserted, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def pay(customer: int, hold: bool) -> None:
        try:
            with db.transaction() as s:
                record_bank_payment(
                    s,
                    customer_id=customer,
                    issuer_id=world.issuer,
                    amount=usd("10.00"),
                    value_date=date(2026, 11, 2),
                    reference="REF",
                    applications={},
                    actor=ADMIN,
                    now=clock.now(),
                    idempotency_key=key,
                )
                if hold:
                    inserted.set()
                    release.wait(10)
            outcome.append(customer)
        except InvalidRequestError as error:
            outcome.append(error.message)

    first = threading.Thread(target=pay, args=(world.customer, True))
    first.start()
    assert inserted.wait(10)
    second = threading.Thread(target=pay, args=(world.other_customer, False))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first to end
    release.set()
    first.join(10)
    second.join(10)
    # The two threads append as they end; the second may wake before the first appends.
    assert len(outcome) == 2
    assert set(outcome) == {
        world.customer,
        "this form was used for another payment; open the form again",
    }
    assert _counts(db)[0] == 1
