"""`flask seed demo` (and so `make run`) works on any date: the demo price book and agreement
take effect on 1 January 2026 or of the year it is, or when the year of history it adds begins,
whichever is earliest (billing/seed.py, billing/seed_history.py). The history is believable
(SPEC 10): about 30 customers, twelve months of runs and invoices, payments on time, late and
missing, a credit note, a dispute, settled statements and one waiting; seeding again adds
nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select

from billing.access.models import User
from billing.agreement.models import AgreementVersion
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import Invoice, InvoiceLine
from billing.parties.models import Customer
from billing.payments.models import Payment, PaymentApplication
from billing.sales.models import PriceBookVersion, Service
from billing.settlement.models import SettlementStatement
from billing.sla.models import Outage
from tests.integration.test_cli import row_counts


@pytest.fixture
def seed() -> str:
    return "reference"  # an empty platform: the command seeds it


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def _versions(db: Database) -> tuple[date, date]:
    with db.transaction() as s:
        (book,) = s.execute(select(PriceBookVersion)).scalars()
        (agreement,) = s.execute(select(AgreementVersion)).scalars()
        return book.effective_from, agreement.effective_from


def test_seed_demo_without_history_works_on_any_date(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    clock.set(datetime(2027, 3, 10, 8, tzinfo=UTC))
    result = run(app, "seed", "demo", "--no-history")
    assert result.exit_code == 0, result.output
    assert _versions(db) == (date(2026, 1, 1), date(2026, 1, 1))
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Customer)).scalar_one() == 3
        assert s.execute(select(Invoice.id)).first() is None


def test_seed_demo_builds_a_believable_year_on_any_date(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    clock.set(datetime(2025, 6, 15, 8, tzinfo=UTC))
    result = run(app, "seed", "demo")
    assert result.exit_code == 0, result.output
    assert "demo history from 2024-06: 30 customers" in result.output
    assert "demo portal login: portal@silkroute.example" in result.output
    # The history begins in June 2024: the prices and the agreement are in effect from then.
    assert _versions(db) == (date(2024, 6, 1), date(2024, 6, 1))
    with db.transaction() as s:
        customers = s.scalars(select(Customer)).all()
        assert len(customers) == 30
        assert {c.country for c in customers} >= {"AZ", "KZ", "DE", "LT", "TR", "UZ", "CN", "SG"}
        assert s.execute(select(func.count()).select_from(Service)).scalar_one() >= 40
        invoices = s.scalars(select(Invoice).where(Invoice.kind == "invoice")).all()
        # Every invoice billed was issued, numbered and rendered; twelve months of them.
        assert all(i.number and i.pdf and i.pdf.startswith(b"%PDF") for i in invoices)
        assert {i.issue_date.replace(day=1) for i in invoices if i.issue_date} == {
            date(2024 + (6 + k) // 12, (6 + k) % 12 + 1, 1) for k in range(12)
        }
        assert {i.currency for i in invoices} == {"USD", "EUR", "AZN", "KZT"}
        assert {i.issuer.code for i in invoices} == {"AZT", "KTC"}
        # Payments on time, late and partial; invoices still open, some long overdue.
        late = s.execute(
            select(func.count())
            .select_from(PaymentApplication)
            .join(Payment, Payment.id == PaymentApplication.payment_id)
            .join(Invoice, Invoice.id == PaymentApplication.invoice_id)
            .where(Payment.value_date > Invoice.due_date)
        ).scalar_one()
        assert late >= 10
        statuses = {i.status for i in invoices}
        assert {"paid", "partially_paid", "issued"} <= statuses
        today = date(2025, 6, 15)
        overdue = [i for i in invoices if i.status != "paid" and i.due_date and i.due_date < today]
        assert any((today - i.due_date).days > 90 for i in overdue if i.due_date)
        assert len([i for i in invoices if i.disputed_at is not None]) == 1
        notes = s.scalars(select(Invoice).where(Invoice.kind == "credit_note")).all()
        assert len(notes) == 1 and notes[0].number
        # May's statement is approved by both, to be settled on the 20th.
        states = [
            st.state
            for st in s.scalars(
                select(SettlementStatement).order_by(SettlementStatement.period_start)
            )
        ]
        assert states == ["settled"] * 11 + ["approved"]
        # People did it: the audit log names the demo's sales and finance users.
        actors = set(s.scalars(select(AuditEntry.actor).distinct()))
        assert {"sales@azertelecom.az", "finance@kazakhtelecom.kz"} <= actors
        # A customer's portal login, and the year's outages with the credits they earned.
        portal = s.scalars(select(User).where(User.email == "portal@silkroute.example")).one()
        assert portal.customer is not None
        assert portal.customer.legal_name == "Silk Route Carrier GmbH"
        assert s.execute(select(func.count()).select_from(Outage)).scalar_one() >= 5
        credits = s.scalars(
            select(InvoiceLine).where(InvoiceLine.charge_kind == "sla_credit")
        ).all()
        assert credits and all(line.price_amount < 0 for line in credits)
        before = row_counts(s)
    again = run(app, "seed", "demo")
    assert again.exit_code == 0, again.output
    assert "demo history left as it is" in again.output
    with db.transaction() as s:
        assert row_counts(s) == before
