"""Payments closed against misuse (SPEC 6, issue 14), on both databases: the ledger invariant
per customer and currency, allocations that name anything but an open invoice of the customer,
and Stripe events that are early, late, oversized or malformed."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError
from billing.invoicing.models import Invoice
from billing.money import Money
from billing.parties.models import Party
from billing.payments.models import Payment
from billing.payments.queries import LedgerCheck, ledger_balance
from billing.payments.services import apply_credit_balance, record_bank_payment, record_refund
from tests.integration.test_payments import ADMIN as ADMIN
from tests.integration.test_payments import World, _counts, _invoice, _pay
from tests.integration.test_payments import seed as seed  # noqa: F401 - the module's own world
from tests.integration.test_payments import world as world  # noqa: F401 - a fixture


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
