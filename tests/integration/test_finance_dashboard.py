"""The finance dashboard's figures (SPEC 10) on a worked example, on both databases: receivables
by age, cash collected this month, billed per month (a credit note, an empty month), days sales
outstanding, runs waiting and disputes open; each for one party and for every party.

The world is written as rows with round amounts, so that every figure can be worked out by hand
below; the issuing path itself is tested elsewhere (the browser test bills through it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.calendar import Period
from billing.db import Database
from billing.invoicing.models import BillingRun, Invoice
from billing.money import Money
from billing.parties.models import Party
from billing.payments.models import Payment
from billing.reports.dashboard import (
    billed_per_month,
    cash_collected,
    days_sales_outstanding,
    disputes_count,
    drafts_waiting,
    dso_per_currency,
    last_months,
    open_disputes,
    receivables_by_age,
    runs_waiting,
)
from tests import factories

TODAY = date(2026, 11, 25)  # the clock's day (09:00 UTC) in Baku and in Almaty


@pytest.fixture
def seed() -> str:
    return "reference"


@dataclass(frozen=True)
class World:
    azt: int
    ktc: int
    disputed: int  # invoice A
    waiting_run: int  # AZT's finished run with a draft left
    running_run: int  # KTC's run still running


def _party(s: Session, code: str) -> Party:
    return s.execute(select(Party).where(Party.code == code)).scalar_one()


def _document(
    s: Session,
    *,
    number: str | None,
    issuer: Party,
    customer_id: int,
    currency: str,
    issued: date | None,
    due: date | None,
    subtotal: str,
    tax: str = "0",
    credited: str = "0",
    paid: str = "0",
    status: str = "issued",
    kind: str = "invoice",
    credits: Invoice | None = None,
    run_id: int | None = None,
    at: datetime,
) -> Invoice:
    total = Decimal(subtotal) + Decimal(tax)
    invoice = Invoice(
        kind=kind,
        number=number,
        status=status,
        issuer_party_id=issuer.id,
        customer_id=customer_id,
        currency=currency,
        period_start=(issued or TODAY).replace(day=1),
        billing_run_id=run_id,
        issue_date=issued,
        due_date=due,
        subtotal=Decimal(subtotal),
        tax_total=Decimal(tax),
        total=total,
        credited_total=Decimal(credited),
        paid_total=Decimal(paid),
        credited_invoice_id=credits.id if credits else None,
        created_at=at,
    )
    s.add(invoice)
    s.flush()
    return invoice


def _payment(
    s: Session, issuer: Party, customer_id: int, amount: str, currency: str, on: date, at: datetime
) -> None:
    s.add(
        Payment(
            customer_id=customer_id,
            issuer_party_id=issuer.id,
            amount=Decimal(amount),
            currency=currency,
            value_date=on,
            reference=f"ref {amount}",
            method="bank_transfer",
            created_at=at,
            created_by="tests",
        )
    )


def _run(s: Session, issuer: Party, state: str, at: datetime) -> int:
    run = BillingRun(
        period_start=date(2026, 11, 1),
        issuer_party_id=issuer.id,
        state=state,
        phase="done" if state == "finished" else "billing",
        started_at=at,
        finished_at=at if state == "finished" else None,
        started_by="tests",
    )
    s.add(run)
    s.flush()
    return run.id


def build_world(db: Database, at: datetime) -> World:
    """AZT in USD: A (due 20 Nov, 600 of 1,000 still owed: 1–30 days late, disputed), B (2,000
    issued 1 Sep, due 1 Oct, 500 credited by a credit note of 15 Oct: 1,500 owed, 31–60 days
    late), C (300 + 54 tax issued 20 Nov, due 20 Dec: current); AZT in EUR: E (700 in March,
    paid). KTC in USD: D (800 issued 1 July, due 31 July: 90+ days late).
    Payments: AZT USD 400 on 12 Nov (counted), 50 on 30 Oct (last month), 99 flagged in
    November (not counted); KTC USD 250 on 2 Nov.
    Runs: AZT's finished run with a draft waiting, AZT's finished run with nothing left, KTC's
    running run."""
    with db.transaction() as s:
        azt, ktc = _party(s, "AZT"), _party(s, "KTC")
        customer = factories.customer(s, now=at, owner="AZT").id
        kz_customer = factories.customer(s, now=at, owner="KTC").id
        waiting = _run(s, azt, "finished", at)
        _run(s, azt, "finished", at)
        running = _run(s, ktc, "running", at)
        a = _document(
            s, number="AZT-INV-2026-000003", issuer=azt, customer_id=customer, currency="USD",
            issued=date(2026, 11, 10), due=date(2026, 11, 20), subtotal="1000", paid="400", at=at,
            status="partially_paid",
        )  # fmt: skip
        a.disputed_at = at - timedelta(days=2)
        a.dispute_reason = "The circuit was down for a week"
        b = _document(
            s, number="AZT-INV-2026-000001", issuer=azt, customer_id=customer, currency="USD",
            issued=date(2026, 9, 1), due=date(2026, 10, 1), subtotal="2000", credited="500",
            at=at,
        )  # fmt: skip
        _document(
            s, number="AZT-CN-2026-000001", issuer=azt, customer_id=customer, currency="USD",
            issued=date(2026, 10, 15), due=None, subtotal="-500", kind="credit_note", credits=b,
            at=at,
        )  # fmt: skip
        _document(
            s, number="AZT-INV-2026-000004", issuer=azt, customer_id=customer, currency="USD",
            issued=date(2026, 11, 20), due=date(2026, 12, 20), subtotal="300", tax="54", at=at,
        )  # fmt: skip
        _document(
            s, number="AZT-INV-2026-000002", issuer=azt, customer_id=customer, currency="EUR",
            issued=date(2026, 3, 5), due=date(2026, 4, 4), subtotal="700", paid="700",
            status="paid", at=at,
        )  # fmt: skip
        _document(
            s, number=None, issuer=azt, customer_id=customer, currency="USD", issued=None,
            due=None, subtotal="999", status="draft", run_id=waiting, at=at,
        )  # fmt: skip
        _document(
            s, number="KTC-INV-2026-000001", issuer=ktc, customer_id=kz_customer,
            currency="USD", issued=date(2026, 7, 1), due=date(2026, 7, 31), subtotal="800",
            at=at,
        )  # fmt: skip
        _payment(s, azt, customer, "400", "USD", date(2026, 11, 12), at)
        _payment(s, azt, customer, "50", "USD", date(2026, 10, 30), at)
        s.add(
            Payment(
                customer_id=customer, issuer_party_id=azt.id, amount=Decimal(99), currency="USD",
                value_date=date(2026, 11, 13), method="stripe", state="flagged",
                flag_reason="another currency", created_at=at, created_by="tests",
            )
        )  # fmt: skip
        _payment(s, ktc, kz_customer, "250", "USD", date(2026, 11, 2), at)
        return World(azt.id, ktc.id, a.id, waiting, running)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_days_sales_outstanding_on_a_worked_example() -> None:
    # 2,454 owed against 2,854 billed in 90 days: 2,454 / 2,854 × 90 = 77.386… days.
    assert days_sales_outstanding(usd("2454"), usd("2854")) == Decimal("77.4")
    assert days_sales_outstanding(usd("0"), usd("1000")) == Decimal("0.0")
    # Owed twice what was billed in the window: twice the window.
    assert days_sales_outstanding(usd("200"), usd("100"), 30) == Decimal("60.0")
    assert days_sales_outstanding(usd("500"), usd("0")) is None
    assert days_sales_outstanding(usd("500"), usd("-20")) is None


def test_twelve_months_end_with_this_one() -> None:
    months = last_months(TODAY)
    assert len(months) == 12
    assert months[0] == Period(date(2025, 12, 1), date(2025, 12, 31))
    assert months[-1] == Period(date(2026, 11, 1), date(2026, 11, 30))
    assert last_months(date(2026, 3, 31), 2)[0] == Period(date(2026, 2, 1), date(2026, 2, 28))


def test_figures_for_one_party_and_for_every_party(app: Flask, db: Database) -> None:
    at = app.extensions["billing.clock"].now()
    world = build_world(db, at)
    with db.transaction() as s:
        # Receivables by age: AZT's USD 354 current, 600 1–30 days late, 1,500 31–60.
        (azt_usd,) = receivables_by_age(s, TODAY, party_id=world.azt)
        assert azt_usd.currency == "USD"
        assert azt_usd.buckets == {
            "current": Decimal("354.00"),
            "1–30": Decimal("600.00"),
            "31–60": Decimal("1500.00"),
            "61–90": Decimal(0),
            "90+": Decimal(0),
        }
        (every_usd,) = receivables_by_age(s, TODAY, party_id=None)
        assert every_usd.buckets["90+"] == Decimal("800.00")
        assert every_usd.total == Decimal("3254.00")

        # Cash collected in November: AZT's one recorded USD 400 (October's and the flagged
        # one left out); for an administrator KTC's 250 as well.
        (mine,) = cash_collected(s, at, party_id=world.azt)
        assert (mine.party, mine.amount, mine.payments) == ("AZT", usd("400.00"), 1)
        assert mine.month == Period(date(2026, 11, 1), date(2026, 11, 30))
        every = cash_collected(s, at, party_id=None)
        assert [(c.party, c.amount) for c in every] == [
            ("AZT", usd("400.00")),
            ("KTC", usd("250.00")),
        ]

        # Billed per month, before tax, less credit notes: AZT USD Sep 2,000, Oct -500 (the
        # credit note), Nov 1,300; August and every other month 0. EUR 700 in March.
        months = last_months(TODAY)
        series = billed_per_month(s, months, party_id=world.azt)
        assert [(x.party, x.currency) for x in series] == [("AZT", "EUR"), ("AZT", "USD")]
        eur, dollars = series
        by_month = {m.start.month: a.amount for m, a in zip(months, dollars.amounts, strict=True)}
        assert by_month == {
            **dict.fromkeys(range(1, 13), Decimal("0.00")),
            9: Decimal("2000.00"),
            10: Decimal("-500.00"),
            11: Decimal("1300.00"),
        }
        assert eur.amounts[3] == Money(Decimal("700.00"), "EUR")  # March 2026
        assert sum(a.amount for a in eur.amounts) == Decimal("700.00")
        every_series = billed_per_month(s, months, party_id=None)
        # Every party gets a series in each currency anyone billed in: KTC's EUR is all zeros.
        assert [(x.party, x.currency) for x in every_series] == [
            ("AZT", "EUR"),
            ("KTC", "EUR"),
            ("AZT", "USD"),
            ("KTC", "USD"),
        ]
        assert every_series[3].amounts[7].amount == Decimal("800.00")  # July 2026
        assert all(a.amount == 0 for a in every_series[1].amounts)

        # DSO: AZT owes 2,454 USD; issued in the 90 days to 25 Nov (from 28 Aug): B 2,000, the
        # credit note -500, A 1,000, C 354 = 2,854 with tax → 77.4 days. KTC's July invoice is
        # outside the window: every party's 3,254 / 2,854 × 90 = 102.6.
        (dso,) = dso_per_currency(s, TODAY, party_id=world.azt)
        assert (dso.currency, dso.owed, dso.billed, dso.days) == (
            "USD",
            usd("2454.00"),
            usd("2854.00"),
            Decimal("77.4"),
        )
        (every_dso,) = dso_per_currency(s, TODAY, party_id=None)
        assert every_dso.days == Decimal("102.6")
        # KTC alone: 800 owed, nothing billed in the window: no figure rather than a division.
        (ktc_dso,) = dso_per_currency(s, TODAY, party_id=world.ktc)
        assert (ktc_dso.owed, ktc_dso.billed, ktc_dso.days) == (usd("800.00"), usd("0"), None)

        # Runs waiting: AZT's finished run with its draft; KTC's running run for KTC and admins.
        assert [(w.run.id, w.drafts) for w in runs_waiting(s, party_id=world.azt)] == [
            (world.waiting_run, 1)
        ]
        assert [(w.run.id, w.drafts) for w in runs_waiting(s, party_id=None)] == [
            (world.running_run, 0),
            (world.waiting_run, 1),
        ]
        assert [w.run.id for w in runs_waiting(s, party_id=world.ktc)] == [world.running_run]
        assert drafts_waiting(s, party_id=world.azt) == 1
        assert drafts_waiting(s, party_id=world.ktc) == 0

        # Disputes open: A, AZT's.
        assert [i.id for i in open_disputes(s, party_id=world.azt)] == [world.disputed]
        assert open_disputes(s, party_id=world.ktc) == []
        assert disputes_count(s, party_id=None) == 1


def test_an_empty_platform_has_empty_figures(app: Flask, db: Database) -> None:
    at = app.extensions["billing.clock"].now()
    with db.transaction() as s:
        assert receivables_by_age(s, TODAY, party_id=None) == []
        assert cash_collected(s, at, party_id=None) == []
        assert billed_per_month(s, last_months(TODAY), party_id=None) == []
        assert dso_per_currency(s, TODAY, party_id=None) == []
        assert runs_waiting(s, party_id=None) == []
        assert open_disputes(s, party_id=None) == []
