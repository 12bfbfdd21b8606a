"""Drafts issued together (issue 17): estimated totals per currency, the selection's checks, and
the bulk issue's jobs: each draft issued once through the issuing path, numbered in id order, a
draft that cannot be issued reported and the others issued, and a job run again doing nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError
from billing.invoicing.bulk import (
    estimate_drafts,
    request_bulk_issue,
    selected_drafts,
    totals_by_currency,
)
from billing.invoicing.models import BulkIssue, Invoice
from billing.invoicing.runs import parse_period, run_billing
from billing.jobs.issuing import defer_bulk_issue, issue_selected_drafts
from billing.jobs.queue import run_worker
from billing.money import Money
from billing.parties.customers import Seller
from tests import factories

ADMIN = Seller("admin@example.test (admin)", None)


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture
def drafts(db: Database, clock: FrozenClock) -> list[int]:
    """Four November drafts of AZT: three in USD (1,000, 1,100, 1,300) and one in KZT that has no
    USD/KZT rate, so it cannot be issued."""
    clock.set(datetime(2026, 12, 1, 8, tzinfo=UTC))
    customers = []
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        for i, currency in enumerate(("USD", "USD", "KZT", "USD")):
            customer = factories.customer(s, now=clock.now(), currency=currency)
            factories.active_service(
                s,
                now=clock.now(),
                mrc=Decimal(1000 + 100 * i),
                nrc=Decimal(0),
                customer=customer,
                ready_for_service=date(2026, 11, 1),
            )
            customers.append(customer.id)
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=ADMIN,
        clock=clock.now,
    )
    with db.transaction() as s:
        by_customer = {c: i for c, i in s.execute(select(Invoice.customer_id, Invoice.id))}
    return [by_customer[c] for c in customers]


def test_drafts_are_estimated_and_totalled_per_currency(
    db: Database, clock: FrozenClock, drafts: list[int]
) -> None:
    with db.transaction() as s:
        invoices = [s.get_one(Invoice, i) for i in drafts]
        estimates = estimate_drafts(s, invoices, clock.now())
    assert [estimates[i].pricing is not None for i in drafts] == [True, True, False, True]
    assert "USD/KZT" in estimates[drafts[2]].problem
    usd = estimates[drafts[0]].pricing
    assert usd is not None and usd.total == Money(Decimal("1000.00"), "USD")
    assert totals_by_currency(estimates.values()) == [Money(Decimal("3400.00"), "USD")]


def test_a_selection_must_be_drafts_the_actor_may_issue(
    db: Database, clock: FrozenClock, drafts: list[int]
) -> None:
    with db.transaction() as s:
        ktc = factories.party_seller(s, "KTC")
        with pytest.raises(InvalidRequestError, match="only its finance staff"):
            selected_drafts(s, drafts, ktc)
        with pytest.raises(InvalidRequestError, match="no draft"):
            selected_drafts(s, [], ADMIN)
        assert [i.id for i in selected_drafts(s, [drafts[1], drafts[0], drafts[1]], ADMIN)] == [
            drafts[0],
            drafts[1],
        ]


def _work(app: Flask, backend: str) -> None:
    if backend == "postgres":
        run_worker(app, wait=False)


def test_a_bulk_issue_issues_each_draft_once_and_reports_the_one_it_cannot(
    app: Flask, db: Database, clock: FrozenClock, backend: str, drafts: list[int]
) -> None:
    with app.app_context():
        with db.transaction() as s:
            bulk_id = request_bulk_issue(s, drafts, actor=ADMIN, now=clock.now()).id
            defer_bulk_issue(s, bulk_id)
        _work(app, backend)
        with db.transaction() as s:
            bulk = s.get_one(BulkIssue, bulk_id)
            assert (bulk.state, bulk.done, bulk.issued, bulk.total) == ("finished", 4, 3, 4)
            (left,) = bulk.left_lines
            assert left.startswith(f"{drafts[2]}: ") and "USD/KZT" in left
            numbers = [s.get_one(Invoice, i).number for i in drafts]
        assert numbers == [
            "AZT-INV-2026-000001",
            "AZT-INV-2026-000002",
            None,
            "AZT-INV-2026-000003",
        ]
        # Run again (a retried job): nothing changes.
        issue_selected_drafts(bulk_id=bulk_id)
        with db.transaction() as s:
            again = s.get_one(BulkIssue, bulk_id)
            assert (again.done, again.issued, again.left) == (4, 3, bulk.left)
            assert [s.get_one(Invoice, i).number for i in drafts] == numbers
            # The issued ones got their PDFs from the render jobs.
            assert all(s.get_one(Invoice, i).pdf_sha256 for i in drafts if i != drafts[2])


def test_a_draft_issued_meanwhile_is_reported_not_issued_twice(
    app: Flask, db: Database, clock: FrozenClock, backend: str, drafts: list[int]
) -> None:
    from billing.invoicing.rendering import render_invoices
    from billing.payments.issuing import issue_invoice

    with app.app_context():
        with db.transaction() as s:
            bulk_id = request_bulk_issue(s, [drafts[0], drafts[1]], actor=ADMIN, now=clock.now()).id
        with db.transaction() as s:
            issue_invoice(s, drafts[0], actor=ADMIN, now=clock.now(), render=render_invoices)
        issue_selected_drafts(bulk_id=bulk_id)
        _work(app, backend)
        with db.transaction() as s:
            bulk = s.get_one(BulkIssue, bulk_id)
            assert (bulk.state, bulk.issued) == ("finished", 1)
            assert bulk.left_lines == [f"{drafts[0]}: issued already as AZT-INV-2026-000001"]
            assert s.get_one(Invoice, drafts[1]).number == "AZT-INV-2026-000002"


def test_drafts_that_fail_are_reported_each_on_its_own(
    app: Flask, db: Database, clock: FrozenClock, drafts: list[int]
) -> None:
    """A failure other than "cannot be issued yet" (here: the requester's party no longer may
    issue the first draft) is that draft's alone."""
    with app.app_context():
        with db.transaction() as s:
            bulk = request_bulk_issue(s, [drafts[0], drafts[1]], actor=ADMIN, now=clock.now())
            bulk_id = bulk.id
        with db.transaction() as s:
            ktc = factories.party_seller(s, "KTC")
            s.get_one(BulkIssue, bulk_id).actor_party_id = ktc.party_id
        # Issued as KTC: both AZT drafts are refused, each on its own, and nothing is numbered.
        issue_selected_drafts(bulk_id=bulk_id)
        with db.transaction() as s:
            done = s.get_one(BulkIssue, bulk_id)
            assert (done.state, done.done, done.issued) == ("finished", 2, 0)
            assert [line.split(": ", 1)[0] for line in done.left_lines] == [
                str(drafts[0]),
                str(drafts[1]),
            ]
            assert all("failed: only AZT's finance staff" in line for line in done.left_lines)
            assert all(s.get_one(Invoice, i).is_draft for i in drafts[:2])
