"""Payments on both databases (SPEC 6, issue 10): bank transfers applied to invoices, partial and
over-payment, the credit balance applied to the next invoice, refunds, bad input that writes
nothing, and Stripe webhooks recorded exactly once whatever Stripe retries or reorders."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError, PermissionDeniedError
from billing.invoicing import issuing as documents
from billing.invoicing.models import Invoice
from billing.invoicing.queries import get_invoice
from billing.invoicing.runs import parse_period, run_billing
from billing.money import Money
from billing.parties.customers import Seller
from billing.payments.issuing import issue_invoice
from billing.payments.models import Payment, PaymentApplication, Refund, StripeEvent
from billing.payments.queries import ageing_bucket, credit_balances
from billing.payments.services import (
    apply_credit_balance,
    record_bank_payment,
    record_refund,
)
from tests import factories
from tests.stripe_fakes import WEBHOOK_SECRET, charge_refunded, checkout_completed, event, signed

ADMIN = Seller("admin", None)
WEBHOOK = "/stripe/webhook"


@pytest.fixture
def seed() -> str:
    return "reference"


def fake_render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF-1.7 {d.number}".encode() for d in documents]


@dataclass(frozen=True)
class World:
    customer: int
    other_customer: int
    issuer: int  # AZT
    october: int  # A's October invoice (3000 MRC + 500 NRC, plus VAT if any), issued 2 October
    october_number: str
    others: int  # B's October invoice
    november_draft: int  # A's November draft, issued by a test when it needs a next invoice


def _issue(db: Database, clock: FrozenClock, invoice_id: int) -> Invoice:
    with db.transaction() as s:
        return issue_invoice(s, invoice_id, actor=ADMIN, now=clock.now(), render=fake_render)


def _of(db: Database, ids: tuple[int, ...], customer: int) -> int:
    with db.transaction() as s:
        (found,) = [i for i in ids if get_invoice(s, i).customer_id == customer]
        return found


@pytest.fixture
def world(app: Flask, db: Database, clock: FrozenClock) -> World:
    clock.set(datetime(2026, 10, 1, 9, tzinfo=UTC))
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        mine = factories.active_service(
            s,
            now=clock.now(),
            mrc=Decimal("3000"),
            nrc=Decimal("500"),
            ready_for_service=date(2026, 10, 1),
        )
        theirs = factories.active_service(
            s, now=clock.now(), mrc=Decimal("1000"), ready_for_service=date(2026, 10, 1)
        )
        a, b = mine.customer_id, theirs.customer_id
        issuer = mine.contract.party_id

    def run(month: str) -> tuple[int, ...]:
        return run_billing(
            db.transaction,
            period=parse_period(month),
            issuer_code=None,
            actor=ADMIN,
            clock=clock.now,
        ).invoice_ids

    october_ids = run("2026-10")
    clock.set(datetime(2026, 10, 2, 9, tzinfo=UTC))
    october = _issue(db, clock, _of(db, october_ids, a))
    others = _issue(db, clock, _of(db, october_ids, b))
    clock.set(datetime(2026, 11, 2, 9, tzinfo=UTC))
    november = _of(db, run("2026-11"), a)
    assert october.number is not None
    return World(a, b, issuer, october.id, october.number, others.id, november)


def _invoice(db: Database, invoice_id: int) -> Invoice:
    with db.transaction() as s:
        return get_invoice(s, invoice_id)


def _counts(db: Database) -> tuple[int, ...]:
    with db.transaction() as s:
        return tuple(
            s.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Payment, PaymentApplication, Refund, StripeEvent)
        )


def _pay(
    db: Database,
    clock: FrozenClock,
    world: World,
    amount: str,
    currency: str = "USD",
    applications: dict[int, Decimal] | None = None,
    customer: int | None = None,
    actor: Seller = ADMIN,
):  # type: ignore[no-untyped-def]
    with db.transaction() as s:
        return record_bank_payment(
            s,
            customer_id=customer or world.customer,
            issuer_id=world.issuer,
            amount=Money(Decimal(amount), currency),
            value_date=date(2026, 11, 2),
            reference="BANK-REF-1",
            applications=applications,
            actor=actor,
            now=clock.now(),
        )


# --- Bank transfers ---


def test_a_partial_payment_then_the_rest_moves_the_invoice_to_partially_paid_then_paid(
    db: Database, clock: FrozenClock, world: World
) -> None:
    total = _invoice(db, world.october).total
    _pay(db, clock, world, "1000.00", applications={world.october: Decimal("1000.00")})
    invoice = _invoice(db, world.october)
    assert (invoice.status, invoice.paid_total) == ("partially_paid", Decimal("1000.00"))
    assert invoice.amount_due == total - Decimal("1000.00")
    assert factories.events_recorded(db, "invoice.paid") == []
    _pay(db, clock, world, str(total - Decimal("1000.00")))  # applied oldest first
    invoice = _invoice(db, world.october)
    assert (invoice.status, invoice.amount_due) == ("paid", Decimal(0))
    # Announced once (SPEC 13), after the invoice itself was.
    paid = ("invoice.paid", str(world.october))
    assert factories.events_recorded(db, "invoice.paid") == [paid]
    assert ("invoice.issued", str(world.october)) in factories.events_recorded(db, "invoice.")
    with db.transaction() as s:
        actions = s.execute(select(AuditEntry.action).where(AuditEntry.action.like("payment.%")))
        assert sorted(actions.scalars()) == sorted(["payment.apply", "payment.record"] * 2)


def test_an_overpayment_becomes_credit_balance_and_pays_the_next_invoice(
    db: Database, clock: FrozenClock, world: World
) -> None:
    total = _invoice(db, world.october).total
    done = _pay(db, clock, world, str(total + Decimal("2500.00")))
    assert done.applied == Money(total, "USD")
    assert done.credit == Money(Decimal("2500.00"), "USD")
    assert _invoice(db, world.october).status == "paid"
    with db.transaction() as s:
        (balance,) = credit_balances(s)
        assert (balance.customer_id, balance.balance) == (
            world.customer,
            Money(Decimal("2500.00"), "USD"),
        )
    with db.transaction() as s:  # the document alone (credit that arises later is applied so)
        november = documents.issue_invoice(
            s, world.november_draft, actor=ADMIN, now=clock.now(), render=fake_render
        )
    assert november.amount_due == Decimal("3000.00") + november.tax_total
    with db.transaction() as s:
        applied = apply_credit_balance(
            s,
            customer_id=world.customer,
            issuer_id=world.issuer,
            currency="USD",
            invoice_id=november.id,
            actor=ADMIN,
            now=clock.now(),
        )
    assert applied == Money(Decimal("2500.00"), "USD")
    november = _invoice(db, november.id)
    assert (november.status, november.paid_total) == ("partially_paid", Decimal("2500.00"))
    with db.transaction() as s:
        assert credit_balances(s) == []


def test_issuing_the_next_invoice_takes_the_credit_balance_by_itself(
    db: Database, clock: FrozenClock, world: World
) -> None:
    total = _invoice(db, world.october).total
    _pay(db, clock, world, str(total + Decimal("2500.00")))
    with db.transaction() as s:
        november = issue_invoice(
            s, world.november_draft, actor=ADMIN, now=clock.now(), render=fake_render
        )
        assert (november.status, november.paid_total) == ("partially_paid", Decimal("2500.00"))
    with db.transaction() as s:
        assert credit_balances(s) == []
        actions = s.execute(select(AuditEntry.action).where(AuditEntry.action == "payment.apply"))
        assert len(actions.all()) == 2  # October by the transfer, November from the credit


def test_a_refund_takes_from_credit_first_then_reopens_the_invoice(
    db: Database, clock: FrozenClock, world: World
) -> None:
    total = _invoice(db, world.october).total
    done = _pay(db, clock, world, str(total + Decimal("100.00")))
    with db.transaction() as s:
        record_refund(
            s,
            payment_id=done.payment.id,
            amount=Money(Decimal("300.00"), "USD"),
            reason="customer asked",
            actor=ADMIN,
            now=clock.now(),
        )
    invoice = _invoice(db, world.october)
    assert (invoice.status, invoice.amount_due) == ("partially_paid", Decimal("200.00"))
    with db.transaction() as s:
        assert credit_balances(s) == []
        payment = s.get(Payment, done.payment.id)
        assert payment is not None
        assert (payment.refunded_total, payment.applied_total) == (Decimal("300.00"), total - 200)
    with pytest.raises(InvalidRequestError, match="at most"), db.transaction() as s:
        record_refund(
            s,
            payment_id=done.payment.id,
            amount=Money(total, "USD"),
            reason="too much",
            actor=ADMIN,
            now=clock.now(),
        )


@pytest.mark.parametrize(
    ("amount", "currency", "target", "message"),
    [
        ("100.00", "EUR", "october", "is in USD; the payment is in EUR"),
        ("-5.00", "USD", "october", "above zero"),
        ("0", "USD", "october", "above zero"),
        ("100.00", "USD", "unknown", "no invoice 999999"),
        ("100.00", "USD", "others", "another customer's invoice"),
        ("100.00", "USD", "too much", "cannot be applied"),
        ("100.001", "USD", "october", "not an amount in USD"),
    ],
)
def test_bad_payments_are_refused_clearly_and_write_nothing(
    db: Database,
    clock: FrozenClock,
    world: World,
    amount: str,
    currency: str,
    target: str,
    message: str,
) -> None:
    invoice_id = {
        "october": world.october,
        "unknown": 999999,
        "others": world.others,
        "too much": world.october,
    }[target]
    applied = Decimal("99999.00") if target == "too much" else Decimal(amount)
    before = _counts(db)
    with pytest.raises(InvalidRequestError, match=message):
        _pay(db, clock, world, amount, currency, applications={invoice_id: applied})
    assert _counts(db) == before
    assert _invoice(db, world.october).paid_total == 0


def test_only_the_issuers_staff_record_its_payments(
    db: Database, clock: FrozenClock, world: World
) -> None:
    with db.transaction() as s:
        ktc = factories.party_seller(s, "KTC")
    before = _counts(db)
    with pytest.raises(PermissionDeniedError):
        _pay(db, clock, world, "10.00", actor=ktc)
    assert _counts(db) == before


def test_the_database_refuses_applying_more_than_a_payment(
    db: Database, clock: FrozenClock, world: World
) -> None:
    done = _pay(db, clock, world, "10.00")
    with pytest.raises(Exception, match="(?i)check|constraint"), db.transaction() as s:
        payment = s.get(Payment, done.payment.id)
        assert payment is not None
        payment.applied_total = Decimal("11.00")
        s.flush()


def test_ageing_buckets() -> None:
    due = date(2026, 10, 10)
    assert [
        ageing_bucket(due, due + timedelta(days=d)) for d in (0, 1, 30, 31, 60, 61, 90, 91)
    ] == ["current", "1–30", "1–30", "31–60", "31–60", "61–90", "61–90", "90+"]


# --- Stripe webhooks ---


@pytest.fixture
def hooks(app: Flask) -> FlaskClient:
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    return app.test_client()


def _minor(db: Database, invoice_id: int) -> int:
    invoice = _invoice(db, invoice_id)
    return Money(invoice.amount_due, invoice.currency).minor


def test_a_valid_checkout_event_marks_the_invoice_paid_and_the_same_event_twice_pays_once(
    db: Database, hooks: FlaskClient, world: World
) -> None:
    body = checkout_completed("evt_1", world.october_number, _minor(db, world.october))
    first = hooks.post(WEBHOOK, data=body, headers=signed(body))
    again = hooks.post(WEBHOOK, data=body, headers=signed(body))
    assert (first.status_code, again.status_code) == (200, 200), first.text
    assert "duplicate" in again.get_json()["message"]
    invoice = _invoice(db, world.october)
    assert (invoice.status, invoice.amount_due) == ("paid", Decimal(0))
    assert _counts(db) == (1, 1, 0, 1)
    # Stripe's payment_intent.succeeded for the same payment records nothing more.
    succeeded = event(
        "evt_2",
        "payment_intent.succeeded",
        {
            "id": "pi_1",
            "amount_received": _minor(db, world.october) or 1,
            "currency": "usd",
            "metadata": {"invoice_number": world.october_number},
        },
    )
    assert hooks.post(WEBHOOK, data=succeeded, headers=signed(succeeded)).status_code == 200
    assert _counts(db) == (1, 1, 0, 2)


@pytest.mark.parametrize("how", ["wrong secret", "stale", "tampered", "missing"])
def test_a_bad_or_stale_signature_answers_400_and_records_nothing(
    db: Database, hooks: FlaskClient, world: World, how: str
) -> None:
    body = checkout_completed("evt_bad", world.october_number, _minor(db, world.october))
    headers = {
        "wrong secret": signed(body, secret="whsec_other"),
        "stale": signed(body, at=int(time.time()) - 301),
        "tampered": signed(body.replace(b"evt_bad", b"evt_bax")),
        "missing": {"Content-Type": "application/json"},
    }[how]
    response = hooks.post(WEBHOOK, data=body, headers=headers)
    assert response.status_code == 400
    assert _counts(db) == (0, 0, 0, 0)
    assert _invoice(db, world.october).status == "issued"


def test_a_payment_in_another_currency_or_amount_is_kept_and_flagged_not_applied(
    db: Database, hooks: FlaskClient, world: World
) -> None:
    wrong_currency = checkout_completed("evt_c", world.october_number, 1000, "eur", intent="pi_c")
    short = checkout_completed("evt_s", world.october_number, 1000, "usd", intent="pi_s")
    for body in (wrong_currency, short):
        assert hooks.post(WEBHOOK, data=body, headers=signed(body)).status_code == 200
    with db.transaction() as s:
        payments = s.execute(select(Payment).order_by(Payment.id)).scalars().all()
        assert [(p.state, p.currency, p.amount) for p in payments] == [
            ("flagged", "EUR", Decimal("10.00")),
            ("flagged", "USD", Decimal("10.00")),
        ]
        assert "is in USD" in (payments[0].flag_reason or "")
        assert credit_balances(s) == []  # flagged: no credit until finance accepts it
    assert _invoice(db, world.october).paid_total == 0


def test_a_refund_arriving_before_its_payment_waits_and_both_end_consistent(
    db: Database, hooks: FlaskClient, world: World
) -> None:
    minor = _minor(db, world.october)
    refund = charge_refunded("evt_r", "pi_9", 5000)
    paid = checkout_completed("evt_p", world.october_number, minor, intent="pi_9")
    assert (
        "pending" in hooks.post(WEBHOOK, data=refund, headers=signed(refund)).get_json()["message"]
    )
    with db.transaction() as s:
        (pending,) = s.execute(select(Refund)).scalars().all()
        assert (pending.state, pending.payment_id) == ("pending", None)
    assert hooks.post(WEBHOOK, data=paid, headers=signed(paid)).status_code == 200
    # The same refund event again, and Stripe's next one with the same cumulative amount.
    again = charge_refunded("evt_r2", "pi_9", 5000)
    for body in (refund, again):
        assert hooks.post(WEBHOOK, data=body, headers=signed(body)).status_code == 200
    invoice = _invoice(db, world.october)
    assert (invoice.status, invoice.amount_due) == ("partially_paid", Decimal("50.00"))
    with db.transaction() as s:
        (applied,) = s.execute(select(Refund)).scalars().all()
        payment = s.execute(select(Payment)).scalar_one()
        assert (applied.state, applied.payment_id, applied.amount) == (
            "applied",
            payment.id,
            Decimal("50.00"),
        )
        assert payment.refunded_total == Decimal("50.00")


def test_a_refund_after_its_payment_reopens_the_invoice(
    db: Database, hooks: FlaskClient, world: World
) -> None:
    minor = _minor(db, world.october)
    paid = checkout_completed("evt_p", world.october_number, minor, intent="pi_7")
    refund = charge_refunded("evt_r", "pi_7", minor)
    for body in (paid, refund):
        assert hooks.post(WEBHOOK, data=body, headers=signed(body)).status_code == 200
    invoice = _invoice(db, world.october)
    assert (invoice.status, invoice.paid_total) == ("issued", Decimal(0))


def test_the_same_event_delivered_10_times_at_once_records_one_payment(
    app: Flask, db: Database, world: World
) -> None:
    """On PostgreSQL the unique event id decides between concurrent transactions; SQLite
    serialises the writes, and the same test holds."""
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    body = checkout_completed("evt_race", world.october_number, _minor(db, world.october))
    start = threading.Barrier(10)
    statuses: list[int] = []

    def deliver() -> None:
        client = app.test_client()
        start.wait()
        statuses.append(client.post(WEBHOOK, data=body, headers=signed(body)).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 10
    assert _counts(db) == (1, 1, 0, 1)
    assert _invoice(db, world.october).status == "paid"
