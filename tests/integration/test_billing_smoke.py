"""Billing end to end through the services: run, re-run, issue, credit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.calendar import Period
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import credit_invoice, issue_invoice
from billing.invoicing.queries import get_invoice
from billing.invoicing.runs import parse_period, run_billing
from billing.parties.customers import Seller
from tests import factories


@pytest.fixture
def seed() -> str:
    return "reference"


ADMIN = Seller("admin", None)


def fake_render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF {d.number}".encode() for d in documents]


def test_smoke(db: Database, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 11, 10, 9, tzinfo=UTC))
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        svc = factories.active_service(
            s, now=clock.now(), mrc=Decimal("3000"), nrc=Decimal("500"),
            ready_for_service=date(2026, 11, 10),
        )
        sid = svc.id
    summary = run_billing(
        db.transaction, period=parse_period("2026-11"), issuer_code=None, actor=ADMIN,
        clock=clock.now,
    )
    print(summary)
    assert summary.charges == 2
    again = run_billing(
        db.transaction, period=parse_period("2026-11"), issuer_code=None, actor=ADMIN,
        clock=clock.now,
    )
    assert again.charges == 0
    with db.transaction() as s:
        inv = issue_invoice(s, summary.invoice_ids[0], actor=ADMIN, now=clock.now(), render=fake_render)
        print(inv.number, inv.total, inv.due_date, [(l.description, l.amount) for l in inv.lines])
        assert inv.number == "AZT-INV-2026-000001"
    with db.transaction() as s:
        note = credit_invoice(s, summary.invoice_ids[0], amounts=None, reason="test", actor=ADMIN, now=clock.now(), render=fake_render)
        print(note.number, note.total)
    with db.transaction() as s:
        inv = get_invoice(s, summary.invoice_ids[0])
        print(inv.status, inv.amount_due)
        assert sid
